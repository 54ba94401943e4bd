// Acting on a running cluster for the fault scenarios: finding and killing node agents, the node's
// bird, drop counters, and waits that return how long they took. Every wait has a deadline and says
// what it waited for.
import { existsSync } from 'node:fs';
import { AgentClient } from '../../agent/api/client.js';
import { netnsNames, paths } from '../../harness/cluster/names.js';
import type { ClusterSpec } from '../../harness/cluster/spec.js';
import { WaitTimeoutError } from '../../harness/errors.js';
import { birdFiles, runningBirdPid, startBird } from '../../harness/providers/netns/bgp.js';
import { listProcesses } from '../../harness/providers/netns/sweep.js';
import { probe, type ProbeOptions, type ProbeResult } from '../../harness/traffic/probe.js';
import { dropPackets } from './measure.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The node an agent process serves, from its argv (node dist/agent/main.js --cnilab-cluster=C --config=…/nodes/N/agent-config.yaml). */
export function agentNodeOf(cmd: string): string | undefined {
  const config = cmd.split(' ').find((a) => a.startsWith('--config='));
  return config?.match(/\/nodes\/([^/]+)\/agent-config\.yaml$/)?.[1];
}

/** The agent process of each node. */
export function agentPids(cluster: string, nodes: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of listProcesses([], cluster)) {
    if (!p.cmd.includes('agent/main.js')) continue;
    const node = agentNodeOf(p.cmd);
    if (node && nodes.includes(node)) out.set(node, p.pid);
  }
  return out;
}

/** SIGKILL the agents of `nodes`; returns the pids killed (the supervisor restarts them). */
export function killAgents(cluster: string, nodes: string[]): Map<string, number> {
  const pids = agentPids(cluster, nodes);
  const missing = nodes.filter((n) => !pids.has(n));
  if (missing.length) throw new Error(`no agent process found for ${missing.join(', ')} of cluster ${cluster}`);
  for (const pid of pids.values()) process.kill(pid, 'SIGKILL');
  return pids;
}

/** Milliseconds from `since` until every node runs an agent other than the killed one and it
 *  answers healthz ok. A restart that reuses the old pid cannot happen while the old one is a zombie
 *  or reaped within 200 ms, so a new pid is the evidence that a restart took place. */
export async function waitAgentsHealthy(cluster: string, killed: Map<string, number>, since: number, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  const nodes = [...killed.keys()];
  for (;;) {
    const now = agentPids(cluster, nodes);
    const pending: string[] = [];
    await Promise.all(
      nodes.map(async (n) => {
        const pid = now.get(n);
        if (pid === undefined || pid === killed.get(n)) return void pending.push(`${n}: not restarted`);
        const h = await new AgentClient(cluster, n).healthz(1000).catch((e: Error) => ({ ok: false, message: e.message }));
        if (!h.ok) pending.push(`${n}: ${h.message ?? 'not healthy'}`);
      }),
    );
    if (pending.length === 0) return Math.round(performance.now() - since);
    if (performance.now() > deadline) throw new WaitTimeoutError(`agents of ${nodes.join(', ')} to be healthy again`, timeoutMs, pending.sort().join('\n'));
    await sleep(50);
  }
}

export const nodeBirdFiles = (cluster: string, node: string) => birdFiles(paths.nodeDir(cluster, node));

/** Put a node's bird back whatever a fault did to it: continue a stopped one, start a dead one with
 *  the same conf/ctl/pid files the agent uses (the next agent adopts it). */
export async function ensureBirdRunning(spec: ClusterSpec, node: string): Promise<void> {
  const files = nodeBirdFiles(spec.name, node);
  const pid = runningBirdPid(files.pid);
  if (pid !== undefined) {
    process.kill(pid, 'SIGCONT');
    return;
  }
  if (!existsSync(files.conf)) throw new Error(`no ${files.conf}: the agent of ${node} never configured bird`);
  await startBird(files, netnsNames.node(spec.name, node));
}

/** Packets node's datapath dropped for `reason` so far. */
export async function dropCount(cluster: string, node: string, reason: number): Promise<bigint> {
  return dropPackets((await new AgentClient(cluster, node).maps()).drops, reason);
}

/** Probe until one succeeds; milliseconds from `since`. Throws (with the last failure) at the deadline. */
export async function waitProbeOk(o: ProbeOptions, since: number, timeoutMs: number): Promise<{ ms: number; last: ProbeResult }> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const r = await probe(o);
    if (r.ok) return { ms: Math.round(performance.now() - since), last: r };
    if (performance.now() > deadline) {
      throw new WaitTimeoutError(`${o.protocol} ${o.host}${o.port ? `:${o.port}` : ''} from ${o.netns} to answer`, timeoutMs, `${r.outcome}: ${`${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-2).join(' | ')}`);
    }
    await sleep(100);
  }
}
