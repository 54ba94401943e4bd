// The cluster daemon: one long-running process per embedded cluster, in the host namespace, started
// by `cnilab up` and stopped by `cnilab down`. It holds the control-plane store, serves its API on a
// unix socket, and runs the pod runtime (and, with the cnilab CNI, supervises the node agents).
// Started as: node daemon.js --cnilab-cluster=NAME   (the flag is also the sweep marker)
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { release } from 'node:os';
import { paths } from './names.js';
import { ObjectStore } from './store.js';
import { startControlServer } from './server.js';
import type { ClusterSpec } from './spec.js';
import type { KubeObject } from './objects.js';
import { PodRuntime } from '../providers/netns/runtime.js';
import { AgentSupervisor } from '../providers/netns/agents.js';
import { startServiceControllers } from './services/index.js';
import { ControllerManager } from './controllers/index.js';
import { KubeApi } from './kube/api.js';
import { execHandler } from './kube/exec.js';
import { startKubeHttps } from './kube/https.js';
import { logHandler } from './kube/logs.js';
import { kubeconfigYaml, makeCredentials } from './kube/pki.js';

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

async function main(): Promise<void> {
  const arg = process.argv.find((a) => a.startsWith('--cnilab-cluster='));
  if (!arg) throw new Error('usage: daemon.js --cnilab-cluster=NAME');
  const cluster = arg.split('=')[1]!;
  const spec = JSON.parse(readFileSync(paths.state(cluster), 'utf8')) as ClusterSpec;
  writeFileSync(paths.daemonPid(cluster), `${process.pid}\n`);

  const store = new ObjectStore();
  store.apply(
    [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default', labels: { 'kubernetes.io/metadata.name': 'default' } }, status: { phase: 'Active' } },
      ...nodeObjects(spec),
    ] as KubeObject[],
    { internal: true },
  );
  startServiceControllers(store, spec, log);
  const runtime = new PodRuntime(spec, store, { log });
  const agents = spec.cni === 'cnilab' ? new AgentSupervisor(spec, { log }) : undefined;
  const controllers = new ControllerManager(store, log);
  controllers.start();
  // The Kubernetes API: on the control socket, and on HTTPS at a loopback port for kubectl. The
  // kubeconfig is written before the socket answers, so a finished `up` always has one.
  const kube = new KubeApi(store, {
    streams: { exec: execHandler(cluster), log: logHandler((ns, pod, container) => runtime.containerLog(ns, pod, container)) },
  });
  const creds = await makeCredentials(paths.kubeDir(cluster), cluster);
  const https = await startKubeHttps(kube, creds);
  const server_ = `https://127.0.0.1:${(https.address() as AddressInfo).port}`;
  writeFileSync(paths.kubeconfig(cluster), kubeconfigYaml(cluster, server_, creds.caPem, creds.token), { mode: 0o600 });

  let stopping = false;
  const shutdown = async (why: string) => {
    if (stopping) return;
    stopping = true;
    log(`shutting down (${why})`);
    await runtime.stop(true).catch((e) => log(`runtime stop: ${e}`));
    await agents?.stop().catch((e) => log(`agents stop: ${e}`));
    controllers.stop();
    https.closeAllConnections();
    https.close();
    server.closeAllConnections?.();
    server.close();
    process.exit(0);
  };
  const server = await startControlServer(paths.controlSocket(cluster), store, spec, {
    onShutdown: () => void shutdown('api'),
    log,
    kube,
    extra: (req, url) => (req.method === 'GET' && url.pathname === '/v1/agents' ? Promise.resolve(agents?.status() ?? []) : undefined),
  });
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  await waitForFile(paths.networkReady(cluster), 60_000);
  if (agents) await agents.start();
  runtime.start();
  log(`cluster ${cluster} control plane listening on ${paths.controlSocket(cluster)}`);
}

main().catch((err) => {
  log(`fatal: ${err?.stack ?? err}`);
  process.exit(1);
});
