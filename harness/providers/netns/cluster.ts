// Creating and destroying an embedded cluster: the `netns` provider's create/destroy.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { ConflictError, WaitTimeoutError } from '../../errors.js';
import type { ClusterSpec } from '../../cluster/spec.js';
import { paths, processMarker } from '../../cluster/names.js';
import { ControlPlaneClient } from '../../cluster/client.js';
import { distJs } from '../../paths.js';
import { addHostGwRoutes, addKernelVxlan, createUnderlay } from './network.js';
import { listNetns, sweep, type Leftovers } from './sweep.js';
import { preflight } from './preflight.js';
import { startRouteReflector } from './bgp.js';
import { measureConvergence } from './bgp-convergence.js';
import { stopClusterContainerds } from '../../cri/containerd.js';

export interface CreateOptions {
  onProgress?: (msg: string) => void;
  /** Keep what was created when creation fails (for debugging). */
  retain?: boolean;
  /** How long to wait for the daemon and the agents. */
  timeoutMs?: number;
  /** Extra environment for the daemon and what it starts (the agents read CNILAB_BPF_OBJECT: the
   *  datapath object to load, which is how an A/B run gives two clusters two datapaths). */
  env?: Record<string, string>;
}

export function clusterExists(name: string): boolean {
  return existsSync(paths.runDir(name)) || listNetns(name).length > 0;
}

async function waitHealthy(client: ControlPlaneClient, timeoutMs: number, logFile: string, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    signal.throwIfAborted();
    try {
      await client.healthz(1000);
      return;
    } catch {
      if (Date.now() > deadline) throw new WaitTimeoutError(`the cluster daemon to answer on ${client.socketPath}`, timeoutMs, `see ${logFile}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** Start the control plane (its supervisor, which runs the daemon) detached from the CLI, logging to
 *  the cluster's run directory. */
function spawnDaemon(spec: ClusterSpec, env?: Record<string, string>): void {
  const log = openSync(paths.daemonLog(spec.name), 'a');
  const child = spawn(process.execPath, [distJs('harness/cluster/supervisor'), processMarker(spec.name)], {
    detached: true,
    ...(env ? { env: { ...process.env, ...env } } : {}),
    stdio: ['ignore', log, log],
  });
  child.unref();
  closeSync(log);
}

/**
 * Creations in flight in this process. Tearing a cluster down while it is being created (Ctrl-C)
 * must first stop the creation and wait for its current step: the `ip` commands of a step run in
 * their own process groups and would otherwise finish after the sweep and leave namespaces behind.
 */
const creating = new Map<string, { abort: AbortController; done: Promise<unknown> }>();

export async function createCluster(spec: ClusterSpec, opts: CreateOptions = {}): Promise<ControlPlaneClient> {
  const abort = new AbortController();
  const done = createSteps(spec, opts, abort.signal);
  creating.set(spec.name, { abort, done });
  try {
    return await done;
  } finally {
    creating.delete(spec.name);
  }
}

async function createSteps(spec: ClusterSpec, opts: CreateOptions, signal: AbortSignal): Promise<ControlPlaneClient> {
  const progress = (msg: string) => {
    // Every step reports progress before it starts: the natural place to stop when asked to.
    signal.throwIfAborted();
    opts.onProgress?.(msg);
  };
  const timeoutMs = opts.timeoutMs ?? 30_000;
  await preflight(spec);
  if (clusterExists(spec.name)) {
    throw new ConflictError(`cluster "${spec.name}" already exists; remove it with \`cnilab down --name ${spec.name}\` or pick another --name`);
  }
  try {
    mkdirSync(paths.runDir(spec.name), { recursive: true });
    for (const node of spec.nodes) mkdirSync(paths.nodeDir(spec.name, node.name), { recursive: true });
    writeFileSync(paths.state(spec.name), JSON.stringify(spec, null, 2));
    // The daemon needs only the spec to start serving; it boots (Node start-up, module loading)
    // while the network is being built. Agents are started by it only after `network-ready` exists.
    progress('starting the control plane');
    spawnDaemon(spec, opts.env);
    progress(`creating ${spec.nodes.length} node namespaces and the underlay ${spec.underlaySubnet}`);
    await createUnderlay(spec);
    if (spec.cni !== 'cnilab' && spec.routing === 'native') await addHostGwRoutes(spec);
    if (spec.cni === 'kernel' && spec.routing === 'tunnel') await addKernelVxlan(spec);
    // Native routing with cnilab: the fabric's route reflector, which every node's bird peers with.
    const bgp = spec.cni === 'cnilab' && spec.routing === 'native';
    if (bgp) {
      progress('starting the BGP route reflector in the fabric');
      await startRouteReflector(spec);
    }
    signal.throwIfAborted();
    writeFileSync(paths.networkReady(spec.name), `${new Date().toISOString()}\n`);
    const client = new ControlPlaneClient(paths.controlSocket(spec.name), spec.name);
    await waitHealthy(client, timeoutMs, paths.daemonLog(spec.name), signal);
    if (spec.cni === 'cnilab') {
      progress('waiting for the node agents');
      const agentsStarted = performance.now();
      await waitAgents(client, spec, timeoutMs, signal);
      if (bgp) {
        const conv = await measureConvergence(spec, { timeoutMs, since: agentsStarted });
        writeFileSync(paths.bgpConvergence(spec.name), JSON.stringify({ ...conv, measuredAt: new Date().toISOString() }, null, 2));
        progress(`BGP converged in ${Math.round(conv.ms)} ms after the agents started: every node routes every other pod CIDR`);
      }
    }
    return client;
  } catch (err) {
    if (!opts.retain) await sweep(spec.name);
    throw err;
  }
}

async function waitAgents(client: ControlPlaneClient, spec: ClusterSpec, timeoutMs: number, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    signal.throwIfAborted();
    const agents = await client.getPath<Array<{ node: string; socket: boolean }>>('/v1/agents');
    if (agents.length === spec.nodes.length && agents.every((a) => a.socket)) return;
    if (Date.now() > deadline) {
      const missing = agents.filter((a) => !a.socket).map((a) => a.node);
      throw new WaitTimeoutError(`the agents of nodes ${missing.join(', ')} to serve their API`, timeoutMs, `see ${paths.daemonLog(spec.name)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Stop the daemon politely, then remove everything of the cluster. */
export async function destroyCluster(name: string): Promise<Leftovers> {
  const inFlight = creating.get(name);
  if (inFlight) {
    inFlight.abort.abort();
    await inFlight.done.catch(() => undefined);
  }
  // Nodes running containerd (harness/cri) are drained first, while their agents still answer DELs.
  await stopClusterContainerds(name).catch(() => undefined);
  const client = new ControlPlaneClient(paths.controlSocket(name), name);
  try {
    await client.shutdown();
    const deadline = Date.now() + 3000;
    while (existsSync(paths.daemonPid(name)) && Date.now() < deadline) {
      try {
        await client.healthz(200);
        await new Promise((r) => setTimeout(r, 30));
      } catch {
        break;
      }
    }
  } catch {
    /* not running: the sweep finds what is left */
  }
  return sweep(name);
}
