// How long native routing takes to converge, and to forget a dead node, seen from the outside: each
// node's bird over its control socket (unix sockets are reachable from the host netns) and each node's
// kernel table (`ip -n NODE route show proto bird`). Converged means every session Established and every
// node routing every other node's pod CIDR via that node's underlay address.
import { run } from '../../exec/run.js';
import { WaitTimeoutError } from '../../errors.js';
import type { ClusterSpec, NodeSpec } from '../../cluster/spec.js';
import { netnsNames, paths } from '../../cluster/names.js';
import { birdc, isEstablished, parseShowProtocols, sleep, type BgpSession } from './bgp.js';

export interface ConvergenceOptions {
  timeoutMs: number;
  pollMs?: number;
  /** performance.now() to measure from (e.g. when the speakers were started); default: the call. */
  since?: number;
  /** Where each node's bird socket and netns are; default the cluster's. Tests pass their own. */
  birdSocketOf?: (node: NodeSpec) => string;
  netnsOf?: (node: NodeSpec) => string;
  /** How a node's `proto bird` routes are read; default `ip -j route show proto bird` in its netns.
   *  Replaceable so a test can feed the failure modes (ip failing, garbage output). */
  routesOf?: (netns: string) => Promise<KernelRoute[]>;
  /** How a node's BGP sessions are read; default birdc on its socket (birdSocketOf). A provider reads
   *  them through its node access instead (scenarios/faults). Throws when bird does not answer. */
  sessionsOf?: (node: NodeSpec) => Promise<BgpSession[]>;
}

export interface KernelRoute {
  dst: string;
  gateway?: string;
  dev?: string;
}

export interface ConvergenceResult {
  ms: number;
  sessions: Record<string, Array<Pick<BgpSession, 'name' | 'state' | 'info'>>>;
  /** Per node, the `proto bird` routes in its main table as "DST via GW". */
  routes: Record<string, string[]>;
  /** The same, structured; undefined where the table could not be read. */
  kernelRoutes: Record<string, KernelRoute[] | undefined>;
}

const socketOf = (spec: ClusterSpec, o: Pick<ConvergenceOptions, 'birdSocketOf'>) => (n: NodeSpec) =>
  o.birdSocketOf ? o.birdSocketOf(n) : `${paths.nodeDir(spec.name, n.name)}/bird.ctl`;
const nsOf = (spec: ClusterSpec, o: Pick<ConvergenceOptions, 'netnsOf'>) => (n: NodeSpec) =>
  o.netnsOf ? o.netnsOf(n) : netnsNames.node(spec.name, n.name);

/** `proto bird` routes of a namespace's main table. Throws when the table cannot be read: an `ip` that
 *  failed has not shown "no route", and a withdrawal must never be concluded from it. */
export async function birdKernelRoutes(netns: string): Promise<KernelRoute[]> {
  const res = await run(['ip', '-j', '-n', netns, 'route', 'show', 'proto', 'bird'], { timeoutMs: 5000, allowFailure: true });
  if (res.code !== 0) throw new Error(`cannot read ${netns}'s routes: ip exited ${res.code}${res.timedOut ? ' (timed out)' : ''}: ${res.stderr.trim()}`);
  return parseIpRoutesJson(res.stdout, netns);
}

/** `ip -j route` output; an empty table prints "[]" (or nothing). Anything else is unreadable. */
export function parseIpRoutesJson(text: string, netns = 'netns'): KernelRoute[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text.trim() || '[]');
  } catch {
    throw new Error(`cannot read ${netns}'s routes: ip printed no JSON: ${text.slice(0, 80)}`);
  }
  if (!Array.isArray(raw) || raw.some((r) => typeof (r as { dst?: unknown })?.dst !== 'string')) {
    throw new Error(`cannot read ${netns}'s routes: unexpected ip output ${text.slice(0, 80)}`);
  }
  return (raw as Array<{ dst: string; gateway?: string; dev?: string }>).map((r) => ({ dst: r.dst, gateway: r.gateway, dev: r.dev }));
}

/** Why a snapshot is not converged (empty when it is): every node's sessions Established and every
 *  other node's pod CIDR routed via that node's underlay address. A node whose table could not be read
 *  (routes undefined) is not converged. Pure, so the judgement is unit-tested. */
export function convergenceGaps(
  nodes: readonly Pick<NodeSpec, 'name' | 'podCidr' | 'underlayIp'>[],
  snapshot: ReadonlyArray<{ node: string; sessions: Array<Pick<BgpSession, 'state' | 'info'> & Partial<BgpSession>>; routes: KernelRoute[] | undefined; error?: string }>,
): string[] {
  const missing: string[] = [];
  for (const { node, sessions, routes, error } of snapshot) {
    // Sessions here are BGP ones already (sessionsOf filters them); results keep no `proto`.
    if (sessions.length === 0 || !sessions.every((s) => isEstablished({ proto: 'BGP', ...s } as BgpSession))) {
      missing.push(`${node}: session ${sessions.map((s) => s.info || s.state).join(',') || 'none'}`);
    }
    if (routes === undefined) {
      missing.push(`${node}: routes unreadable${error ? ` (${error})` : ''}`);
      continue;
    }
    for (const other of nodes) {
      if (other.name === node) continue;
      if (!routes.some((r) => r.dst === other.podCidr && r.gateway === other.underlayIp)) missing.push(`${node}: no ${other.podCidr} via ${other.underlayIp}`);
    }
  }
  return missing;
}

async function sessionsOf(read: () => Promise<BgpSession[]>): Promise<BgpSession[]> {
  try {
    return (await read()).filter((s) => s.proto === 'BGP');
  } catch {
    return []; // bird not (yet, or no longer) answering: not converged
  }
}

const fmt = (r: KernelRoute) => (r.gateway ? `${r.dst} via ${r.gateway}` : r.dst);

/** Poll until the cluster's BGP has converged; WaitTimeoutError (with the last state) otherwise. */
export async function measureConvergence(spec: ClusterSpec, opts: ConvergenceOptions): Promise<ConvergenceResult> {
  const t0 = opts.since ?? performance.now();
  const deadline = performance.now() + opts.timeoutMs;
  const sock = socketOf(spec, opts);
  const ns = nsOf(spec, opts);
  const routesOf = opts.routesOf ?? birdKernelRoutes;
  for (;;) {
    const snapshot = await Promise.all(
      spec.nodes.map(async (n) => {
        const read = await routesOf(ns(n)).then(
          (routes) => ({ routes, error: undefined }),
          (e: Error) => ({ routes: undefined, error: e.message }),
        );
        const sessions = await sessionsOf(opts.sessionsOf ? () => opts.sessionsOf!(n) : async () => parseShowProtocols(await birdc(sock(n), ['show', 'protocols'], 2000)));
        return { node: n.name, sessions, ...read };
      }),
    );
    const ms = Math.round(performance.now() - t0);
    const missing = convergenceGaps(spec.nodes, snapshot);
    const result: ConvergenceResult = {
      ms,
      sessions: Object.fromEntries(snapshot.map((s) => [s.node, s.sessions.map(({ name, state, info }) => ({ name, state, info }))])),
      routes: Object.fromEntries(snapshot.map((s) => [s.node, s.routes ? s.routes.map(fmt) : [`unreadable: ${s.error}`]])),
      kernelRoutes: Object.fromEntries(snapshot.map((s) => [s.node, s.routes])),
    };
    if (missing.length === 0) return result;
    if (performance.now() > deadline) {
      throw new WaitTimeoutError(`BGP convergence of cluster ${spec.name}`, opts.timeoutMs, missing.join('\n'));
    }
    await sleep(opts.pollMs ?? 50);
  }
}

/** A withdrawal wait that ran out; `unreadable` when no table still held the route but some could not
 *  be read at all: the evidence is missing, not contrary (the check reports it as unavailable). */
export class WithdrawalUnknownError extends WaitTimeoutError {
  constructor(what: string, timeoutMs: number, detail: string, readonly unreadable: boolean) {
    super(what, timeoutMs, detail);
  }
}

/** Milliseconds (from `since`, default the call) until no other node routes deadNode's pod CIDR. */
export async function waitWithdrawn(
  spec: ClusterSpec,
  deadNode: string,
  timeoutMs: number,
  opts: Omit<ConvergenceOptions, 'timeoutMs' | 'birdSocketOf' | 'sessionsOf'> = {},
): Promise<number> {
  const t0 = opts.since ?? performance.now();
  const deadline = performance.now() + timeoutMs;
  const dead = spec.nodes.find((n) => n.name === deadNode);
  if (!dead) throw new WaitTimeoutError(`node ${deadNode} (not in the spec)`, 0);
  const ns = nsOf(spec, opts);
  const others = spec.nodes.filter((n) => n.name !== deadNode);
  const routesOf = opts.routesOf ?? birdKernelRoutes;
  for (;;) {
    // Withdrawn only where the table was read and holds no route: an unreadable table proves nothing.
    const holding: string[] = [];
    const unreadable: string[] = [];
    await Promise.all(
      others.map(async (n) => {
        try {
          if ((await routesOf(ns(n))).some((r) => r.dst === dead.podCidr)) holding.push(n.name);
        } catch (e) {
          unreadable.push(`${n.name} (${(e as Error).message})`);
        }
      }),
    );
    if (holding.length === 0 && unreadable.length === 0) return Math.round(performance.now() - t0);
    if (performance.now() > deadline) {
      const why = [holding.length ? `still routed by ${holding.sort().join(', ')}` : '', unreadable.length ? `routes unreadable on ${unreadable.sort().join(', ')}` : ''];
      throw new WithdrawalUnknownError(`withdrawal of ${deadNode}'s ${dead.podCidr}`, timeoutMs, why.filter(Boolean).join('; '), holding.length === 0);
    }
    await sleep(opts.pollMs ?? 25);
  }
}
