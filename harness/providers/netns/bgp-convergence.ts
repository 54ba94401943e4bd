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
}

const socketOf = (spec: ClusterSpec, o: Pick<ConvergenceOptions, 'birdSocketOf'>) => (n: NodeSpec) =>
  o.birdSocketOf ? o.birdSocketOf(n) : `${paths.nodeDir(spec.name, n.name)}/bird.ctl`;
const nsOf = (spec: ClusterSpec, o: Pick<ConvergenceOptions, 'netnsOf'>) => (n: NodeSpec) =>
  o.netnsOf ? o.netnsOf(n) : netnsNames.node(spec.name, n.name);

/** `proto bird` routes of a namespace's main table. */
export async function birdKernelRoutes(netns: string): Promise<KernelRoute[]> {
  const res = await run(['ip', '-j', '-n', netns, 'route', 'show', 'proto', 'bird'], { timeoutMs: 5000, allowFailure: true });
  if (res.code !== 0) return [];
  const raw = JSON.parse(res.stdout || '[]') as Array<{ dst: string; gateway?: string; dev?: string }>;
  return raw.map((r) => ({ dst: r.dst, gateway: r.gateway, dev: r.dev }));
}

async function sessionsOf(socket: string): Promise<BgpSession[]> {
  try {
    return parseShowProtocols(await birdc(socket, ['show', 'protocols'], 2000)).filter((s) => s.proto === 'BGP');
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
  for (;;) {
    const snapshot = await Promise.all(
      spec.nodes.map(async (n) => ({ node: n, sessions: await sessionsOf(sock(n)), routes: await birdKernelRoutes(ns(n)) })),
    );
    const ms = Math.round(performance.now() - t0);
    const missing: string[] = [];
    for (const { node, sessions, routes } of snapshot) {
      if (sessions.length === 0 || !sessions.every(isEstablished)) missing.push(`${node.name}: session ${sessions.map((s) => s.info || s.state).join(',') || 'none'}`);
      for (const other of spec.nodes) {
        if (other.name === node.name) continue;
        if (!routes.some((r) => r.dst === other.podCidr && r.gateway === other.underlayIp)) {
          missing.push(`${node.name}: no ${other.podCidr} via ${other.underlayIp}`);
        }
      }
    }
    const result: ConvergenceResult = {
      ms,
      sessions: Object.fromEntries(snapshot.map((s) => [s.node.name, s.sessions.map(({ name, state, info }) => ({ name, state, info }))])),
      routes: Object.fromEntries(snapshot.map((s) => [s.node.name, s.routes.map(fmt)])),
    };
    if (missing.length === 0) return result;
    if (performance.now() > deadline) {
      throw new WaitTimeoutError(`BGP convergence of cluster ${spec.name}`, opts.timeoutMs, missing.join('\n'));
    }
    await sleep(opts.pollMs ?? 50);
  }
}

/** Milliseconds (from `since`, default the call) until no other node routes deadNode's pod CIDR. */
export async function waitWithdrawn(
  spec: ClusterSpec,
  deadNode: string,
  timeoutMs: number,
  opts: Omit<ConvergenceOptions, 'timeoutMs' | 'birdSocketOf'> = {},
): Promise<number> {
  const t0 = opts.since ?? performance.now();
  const deadline = performance.now() + timeoutMs;
  const dead = spec.nodes.find((n) => n.name === deadNode);
  if (!dead) throw new WaitTimeoutError(`node ${deadNode} (not in the spec)`, 0);
  const ns = nsOf(spec, opts);
  const others = spec.nodes.filter((n) => n.name !== deadNode);
  for (;;) {
    const holding: string[] = [];
    await Promise.all(
      others.map(async (n) => {
        if ((await birdKernelRoutes(ns(n))).some((r) => r.dst === dead.podCidr)) holding.push(n.name);
      }),
    );
    if (holding.length === 0) return Math.round(performance.now() - t0);
    if (performance.now() > deadline) {
      throw new WaitTimeoutError(`withdrawal of ${deadNode}'s ${dead.podCidr}`, timeoutMs, `still routed by ${holding.sort().join(', ')}`);
    }
    await sleep(opts.pollMs ?? 25);
  }
}
