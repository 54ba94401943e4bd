// The cluster daemon: one long-running process per embedded cluster, in the host namespace, started
// by `cnilab up` and stopped by `cnilab down`. It holds the control-plane store, serves its API on a
// unix socket, and runs the pod runtime (and, with the cnilab CNI, supervises the node agents).
// Started as: node daemon.js --cnilab-cluster=NAME   (the flag is also the sweep marker)
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { paths } from './names.js';
import { ObjectStore } from './store.js';
import { startControlServer } from './server.js';
import type { ClusterSpec } from './spec.js';
import type { KubeObject } from './objects.js';
import { PodRuntime } from '../providers/netns/runtime.js';
import { AgentSupervisor } from '../providers/netns/agents.js';
import { startServiceControllers } from './services/index.js';

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
      conditions: [{ type: 'Ready', status: 'True' }],
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
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default', labels: { 'kubernetes.io/metadata.name': 'default' } } },
      ...nodeObjects(spec),
    ] as KubeObject[],
    { internal: true },
  );
  startServiceControllers(store, spec, log);
  const runtime = new PodRuntime(spec, store, { log });
  const agents = spec.cni === 'cnilab' ? new AgentSupervisor(spec, { log }) : undefined;

  let stopping = false;
  const shutdown = async (why: string) => {
    if (stopping) return;
    stopping = true;
    log(`shutting down (${why})`);
    await runtime.stop(true).catch((e) => log(`runtime stop: ${e}`));
    await agents?.stop().catch((e) => log(`agents stop: ${e}`));
    server.close();
    process.exit(0);
  };
  const server = await startControlServer(paths.controlSocket(cluster), store, spec, {
    onShutdown: () => void shutdown('api'),
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
