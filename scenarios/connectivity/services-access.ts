// How the services scenario reaches the cluster. Through the netns provider (the embedded cluster, the
// default): its exchanges are made in-process from sockets opened inside the pod's or node's network
// namespace, and it reads the agents' API (programmed frontends, drop counters, flows) and creates a
// host outside the cluster on the fabric. Through any other provider (kubeconfig): the same exchanges
// are made by `agnhost cnilab-svc-ask` exec'd in the client pod (node-side ones in a hostNetwork pod on
// the node), objects are read and deleted through the API, and what needs the embedded cluster's host
// says so (`hostOnly`), so its check reports "unavailable", never a pass.
import { shellQuote } from '../../harness/exec/run.js';
import { httpGet, httpGetAll, udpAsk, type ServiceAnswer } from '../../harness/traffic/service-probe.js';
import type { Provider } from '../../harness/providers/common/provider.js';
import { execThrough, providerOf } from '../framework/provider-access.js';
import type { ScenarioContext } from '../framework/model.js';

/** Where an exchange starts: a pod of the scenario's namespace, or a node. */
export type SvcFrom = { pod: string } | { node: string };

export interface SvcQuestion {
  protocol: 'tcp' | 'udp';
  host: string;
  port: number;
  /** tcp: the paths asked (several: pipelined over one connection). */
  paths?: string[];
  count: number;
  timeoutMs: number;
}

/** A batch of exchanges as the evidence names it: where, what, and the command that made it (or the
 *  pasteable equivalent of the in-process probes). */
export interface Asked {
  netns: string;
  protocol: 'tcp' | 'udp';
  host: string;
  port: number;
  path?: string;
  /** Set when a command really made the exchanges (exec through a provider). */
  command?: string;
}

/** The probe tool could not run or said nothing usable: no verdict on the network. */
export class SvcToolError extends Error {}

/** The hostNetwork pod standing for a node (the node-side client through a provider). */
export const nodeClientName = (node: string) => `svc-node-${node}`;

/** Whether the scenario goes through its in-process path (the embedded cluster's host). */
export function onEmbeddedHost(ctx: Pick<ScenarioContext, 'provider'>): boolean {
  return (ctx.provider?.kind ?? 'netns') === 'netns';
}

/** Why a check that needs the embedded cluster's host (its agents' API, its fabric) cannot run here, or
 *  undefined when it can. */
export function hostOnly(ctx: Pick<ScenarioContext, 'provider'>, what: string): string | undefined {
  return onEmbeddedHost(ctx) ? undefined : `needs ${what}, which the ${ctx.provider!.kind} provider does not reach`;
}

export function svcTarget(q: SvcQuestion): string {
  return q.protocol === 'udp' ? `udp:${q.host}:${q.port}` : `tcp:${q.host}:${q.port}${(q.paths ?? ['/']).join(',')}`;
}

/** The argv exec'd in the client pod. */
export function svcAskArgv(q: SvcQuestion): string[] {
  return ['agnhost', 'cnilab-svc-ask', `--count=${q.count}`, `--timeout=${q.timeoutMs}ms`, svcTarget(q)];
}

/** The answers of cnilab-svc-ask's output: exactly `count` JSON lines, or why not. */
export function parseSvcAnswers(stdout: string, count: number): ServiceAnswer[] | string {
  const lines = stdout.split('\n').filter((l) => l.trim());
  if (lines.length !== count) return `expected ${count} answer lines, got ${lines.length}`;
  const out: ServiceAnswer[] = [];
  for (const l of lines) {
    let a: ServiceAnswer;
    try {
      a = JSON.parse(l) as ServiceAnswer;
    } catch {
      return `not JSON: ${l.slice(0, 80)}`;
    }
    if (typeof a !== 'object' || a === null || typeof a.ok !== 'boolean' || typeof a.ms !== 'number') return `not an answer: ${l.slice(0, 80)}`;
    out.push(a);
  }
  return out;
}

async function askInProcess(netns: string, q: SvcQuestion): Promise<ServiceAnswer[]> {
  const out: ServiceAnswer[] = [];
  const paths = q.paths ?? ['/'];
  for (let i = 0; i < q.count; i++) {
    if (q.protocol === 'udp') out.push(await udpAsk(netns, q.host, q.port, 'hostname', q.timeoutMs));
    else if (paths.length === 1) out.push(await httpGet(netns, q.host, q.port, paths[0]!, q.timeoutMs));
    else out.push(await httpGetAll(netns, q.host, q.port, paths, q.timeoutMs));
  }
  return out;
}

async function askByExec(provider: Provider, namespace: string, pod: string, q: SvcQuestion): Promise<{ answers: ServiceAnswer[]; command: string }> {
  // Node.js start-up in the pod, then count exchanges of at most timeoutMs each.
  const r = await execThrough(provider, { pod: { namespace, name: pod } }, svcAskArgv(q), 15_000 + q.count * q.timeoutMs);
  const command = shellQuote(r.argv);
  if (r.code !== 0) throw new SvcToolError(`${command} exited with ${r.code}${r.timedOut ? ' (timed out)' : ''}: ${(r.stderr || r.stdout).trim().slice(0, 300)}`);
  const answers = parseSvcAnswers(r.stdout, q.count);
  if (typeof answers === 'string') throw new SvcToolError(`${command}: ${answers}`);
  return { answers, command };
}

/** Make `q.count` exchanges from `from`; returns the answers and how the evidence names them. */
export async function ask(ctx: ScenarioContext, namespace: string, from: SvcFrom, q: SvcQuestion): Promise<{ answers: ServiceAnswer[]; asked: Asked }> {
  const path = q.protocol === 'tcp' ? (q.paths ?? ['/']).join(',') : undefined;
  if (onEmbeddedHost(ctx)) {
    let netns: string;
    if ('pod' in from) {
      const p = ctx.pods.get(`${namespace}/${from.pod}`);
      if (!p) throw new Error(`pod ${namespace}/${from.pod} is not Running`);
      netns = p.netns;
    } else {
      const n = ctx.nodes.get(from.node);
      if (!n) throw new Error(`node ${from.node} is not in the cluster`);
      netns = n.netns;
    }
    const asked: Asked = { netns, protocol: q.protocol, host: q.host, port: q.port, ...(path ? { path } : {}) };
    return { answers: await askInProcess(netns, q), asked };
  }
  const pod = 'pod' in from ? from.pod : nodeClientName(from.node);
  const { answers, command } = await askByExec(providerOf(ctx), namespace, pod, q);
  return { answers, asked: { netns: `${namespace}/${pod}`, protocol: q.protocol, host: q.host, port: q.port, ...(path ? { path } : {}), command } };
}
