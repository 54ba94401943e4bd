// The cluster daemon: one long-running process per embedded cluster, in the host namespace, run by
// its supervisor (supervisor.ts, which `cnilab up` starts and which restarts it if it dies) and
// stopped by `cnilab down`. It holds the control-plane store, serves its API on a
// unix socket, and runs the pod runtime (and, with the cnilab CNI, supervises the node agents).
// Started as: node daemon.js --cnilab-cluster=NAME   (the flag is also the sweep marker)
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { release } from 'node:os';
import { paths } from './names.js';
import { ObjectStore } from './store.js';
import { startControlServer } from './server.js';
import type { ClusterSpec } from './spec.js';
import type { KubeObject } from './objects.js';
import { PodRuntime } from '../providers/netns/runtime.js';
import { AgentSupervisor } from '../providers/netns/agents.js';
import { startRelayServer } from '../relay/server.js';
import { startServiceControllers } from './services/index.js';
import { WorkloadSupervisor } from '../providers/netns/workloads.js';
import { killAll, listProcesses } from '../providers/netns/sweep.js';
import { CorruptSnapshotError, readSnapshot, StorePersistence } from './persist.js';
import { EXIT_UNRECOVERABLE } from './supervisor.js';
import { distJs } from '../paths.js';
import { ControllerManager } from './controllers/index.js';
import { KubeApi } from './kube/api.js';
import { execHandler } from './kube/exec.js';
import { startKubeHttps } from './kube/https.js';
import { logHandler } from './kube/logs.js';
import { kubeconfigYaml, makeCredentials } from './kube/pki.js';
import { agentConfigYaml, FABRIC_API_PORT, fabricApiUrl } from './agent-config.js';
import { createListeningSocketIn } from '../traffic/netns.js';
import { netnsNames } from './names.js';

function log(msg: string): void {
  process.stdout.write(`${new Date().toISOString()} ${msg}\n`);
}

export function nodeObjects(spec: ClusterSpec): KubeObject[] {
  return spec.nodes.map((n) => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: n.name, labels: n.labels },
    spec: { podCIDR: n.podCidr, podCIDRs: [n.podCidr] },
    status: {
      addresses: [
        { type: 'InternalIP', address: n.underlayIp },
        { type: 'Hostname', address: n.name },
      ],
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'the node agent runs in the node namespace' }],
      nodeInfo: { kubeletVersion: 'v1.32.0-cnilab', containerRuntimeVersion: 'cnilab://embedded', operatingSystem: 'linux', architecture: process.arch === 'x64' ? 'amd64' : process.arch, osImage: 'cnilab network namespace', kernelVersion: release() },
    },
  })) as KubeObject[];
}

/** `up` builds the network while the daemon boots; nothing may use it before it is complete. */
async function waitForFile(path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${path} (the network of the cluster)`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * A restarted daemon (the supervisor passes --restart=N): the store comes back from its snapshot, and
 * the agents of the crashed daemon are replaced (they restore from their state files and pinned
 * maps; forwarding never stops). A snapshot that cannot be trusted is moved aside and the daemon
 * exits EXIT_UNRECOVERABLE: the supervisor then reports the cluster broken instead of looping.
 */
async function resume(cluster: string, store: ObjectStore): Promise<void> {
  let snap;
  try {
    snap = readSnapshot(paths.storeSnapshot(cluster));
  } catch (e) {
    if (!(e instanceof CorruptSnapshotError)) throw e;
    const aside = `${e.file}.corrupt-${Date.now()}`;
    renameSync(e.file, aside);
    log(`fatal: the persisted store is corrupt (${e.message}); moved to ${aside}`);
    process.exit(EXIT_UNRECOVERABLE);
  }
  if (snap) store.restore(snap);
  log(`resuming: ${snap ? `${snap.objects.length} objects at resourceVersion ${snap.resourceVersion}` : 'no persisted store (crashed before the first write)'}`);
  const agents = listProcesses([], cluster).filter((p) => p.cmd.includes(distJs('agent/main')));
  await killAll(agents.map((p) => p.pid), 1000);
}

async function main(): Promise<void> {
  const arg = process.argv.find((a) => a.startsWith('--cnilab-cluster='));
  if (!arg) throw new Error('usage: daemon.js --cnilab-cluster=NAME [--restart=N]');
  const cluster = arg.split('=')[1]!;
  const restart = Number(process.argv.find((a) => a.startsWith('--restart='))?.split('=')[1] ?? 0);
  const spec = JSON.parse(readFileSync(paths.state(cluster), 'utf8')) as ClusterSpec;
  writeFileSync(paths.daemonPid(cluster), `${process.pid}\n`);

  const store = new ObjectStore();
  if (restart) await resume(cluster, store);
  store.apply(
    [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default', labels: { 'kubernetes.io/metadata.name': 'default' } }, status: { phase: 'Active' } },
      ...nodeObjects(spec),
    ] as KubeObject[],
    { internal: true },
  );
  startServiceControllers(store, spec, log);
  const persistence = new StorePersistence(store, paths.storeSnapshot(cluster));
  persistence.start();
  // Pod servers live in one workload process per node, started now so they boot while `up` builds
  // the network; the daemon only supervises them.
  const workloads = new WorkloadSupervisor(cluster, log);
  for (const n of spec.nodes) workloads.node(n.name).prestart();
  const runtime = new PodRuntime(spec, store, { log, workloads });
  const agents = spec.cni === 'cnilab' ? new AgentSupervisor(spec, { log }) : undefined;
  const controllers = new ControllerManager(store, log);
  controllers.start();
  // The Kubernetes API: on the control socket, and on HTTPS at a loopback port for kubectl. The
  // kubeconfig is written before the socket answers, so a finished `up` always has one.
  const kube = new KubeApi(store, {
    streams: { exec: execHandler(cluster), log: logHandler((ns, pod, container) => runtime.containerLog(ns, pod, container)) },
  });
  const creds = await makeCredentials(paths.kubeDir(cluster), cluster, [spec.underlayGateway]);
  const https = await startKubeHttps(kube, creds);
  const server_ = `https://127.0.0.1:${(https.address() as AddressInfo).port}`;
  writeFileSync(paths.kubeconfig(cluster), kubeconfigYaml(cluster, server_, creds.caPem, creds.token), { mode: 0o600 });

  let fabricHttps: Awaited<ReturnType<typeof startKubeHttps>> | undefined;
  let relay: Server | undefined;
  let stopping = false;
  const shutdown = async (why: string) => {
    if (stopping) return;
    stopping = true;
    log(`shutting down (${why})`);
    await runtime.stop(true).catch((e) => log(`runtime stop: ${e}`));
    await agents?.stop().catch((e) => log(`agents stop: ${e}`));
    persistence.stop();
    controllers.stop();
    https.closeAllConnections();
    https.close();
    fabricHttps?.closeAllConnections();
    fabricHttps?.close();
    server.closeAllConnections?.();
    relay?.close();
    relay?.closeAllConnections();
    server.close();
    process.exit(0);
  };
  const server = await startControlServer(paths.controlSocket(cluster), store, spec, {
    onShutdown: () => void shutdown('api'),
    log,
    kube,
    extra: (req, url) => {
      if (req.method !== 'GET') return undefined;
      if (url.pathname === '/v1/agents') return Promise.resolve(agents?.status() ?? []);
      if (url.pathname === '/v1/workloads') return Promise.resolve(workloads.status());
      return undefined;
    },
  });
  // The flow relay: every node's observer behind one socket (Hubble Relay's place in the cluster).
  relay = agents
    ? await startRelayServer(paths.relaySocket(cluster), () => spec.nodes.map((n) => ({ name: n.name, socket: paths.agentSocket(cluster, n.name) })), log)
    : undefined;
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  await waitForFile(paths.networkReady(cluster), 60_000);
  if (agents) {
    // The agents' way to the API: the same HTTPS API on the underlay's gateway in the fabric namespace,
    // a kubeconfig for it, and each agent's config file.
    const fd = createListeningSocketIn(netnsNames.fabric(cluster), { proto: 'tcp', host: spec.underlayGateway, port: FABRIC_API_PORT });
    fabricHttps = await startKubeHttps(kube, creds, 0, { fd });
    writeFileSync(paths.agentKubeconfig(cluster), kubeconfigYaml(cluster, fabricApiUrl(spec), creds.caPem, creds.token), { mode: 0o600 });
    for (const n of spec.nodes) {
      mkdirSync(paths.nodeDir(cluster, n.name), { recursive: true });
      writeFileSync(paths.agentConfig(cluster, n.name), agentConfigYaml(spec, n), { mode: 0o600 });
    }
    await agents.start();
  }
  if (restart) await runtime.recover(`the cluster daemon restarted (restart ${restart})`);
  runtime.start();
  log(`cluster ${cluster} control plane listening on ${paths.controlSocket(cluster)}${restart ? ` (restart ${restart})` : ''}`);
}

main().catch((err) => {
  log(`fatal: ${err?.stack ?? err}`);
  process.exit(1);
});
