// K3s behind the provider interface: testcontainers' K3s module starts a K3s server container with
// flannel, network policy, kube-proxy, servicelb and traefik off; cnilab applies its chart (the agent
// DaemonSet, its CNI plugin installed by the init step) and drives the cluster through its kubeconfig.
// One server node: K3s agents (more nodes) would be more containers joined to it — not done.
import { mkdirSync, writeFileSync } from 'node:fs';
import { run, type RunOptions, type RunResult } from '../../exec/run.js';
import type { ClusterSpec } from '../../cluster/spec.js';
import { paths } from '../../cluster/names.js';
import { renderChart } from '../../deploy/chart.js';
import type { CaptureOptions, Provider, ProviderNode, ProviderPod } from '../common/provider.js';
import { KubeconfigProvider } from '../kubeconfig/provider.js';
import { chartValuesFor } from '../kind/provider.js';
import { startK3s, type StartedK3s } from './cluster.js';
import { preflight } from './preflight.js';

export class K3sProvider implements Provider {
  readonly kind = 'k3s' as const;
  private kube?: KubeconfigProvider;
  private server?: StartedK3s;

  constructor(readonly cluster: string) {}

  private api(): KubeconfigProvider {
    this.kube ??= new KubeconfigProvider(paths.kubeconfig(this.cluster));
    return this.kube;
  }

  async create(spec: ClusterSpec, opts: { onProgress?: (msg: string) => void } = {}): Promise<void> {
    await preflight();
    opts.onProgress?.(`starting a K3s server for "${spec.name}" (no flannel, network policy, kube-proxy, servicelb, traefik)`);
    this.server = await startK3s(spec);
    mkdirSync(paths.kubeDir(spec.name), { recursive: true });
    writeFileSync(paths.kubeconfig(spec.name), this.server.kubeconfig, { mode: 0o600 });
    opts.onProgress?.('applying the cnilab chart (agent DaemonSet)');
    await this.api().apply(renderChart({ set: chartValuesFor(spec) }).map((d) => d.object));
  }
  nodes(): Promise<ProviderNode[]> {
    return this.api().nodes();
  }
  execOnNode(node: string, argv: string[], opts?: RunOptions): Promise<RunResult> {
    return this.api().execOnNode(node, argv, opts);
  }
  execInPod(namespace: string, pod: string, argv: string[], opts?: RunOptions): Promise<RunResult> {
    return this.api().execInPod(namespace, pod, argv, opts);
  }
  apply(objects: unknown[]): Promise<unknown> {
    return this.api().apply(objects);
  }
  pods(namespace?: string): Promise<ProviderPod[]> {
    return this.api().pods(namespace);
  }
  waitPodsReady(namespace: string | undefined, timeoutMs: number): Promise<ProviderPod[]> {
    return this.api().waitPodsReady(namespace, timeoutMs);
  }
  capture(node: string, opts: CaptureOptions): Promise<Buffer> {
    return this.api().capture(node, opts);
  }
  cni(): Promise<string> {
    return this.api().cni();
  }
  collectLogs(dir: string): Promise<string[]> {
    return this.api().collectLogs(dir);
  }
  /** The server started in this process, or (from `cnilab down`) the container labelled with the cluster. */
  async destroy(): Promise<void> {
    if (this.server) return this.server.stop();
    const ids = (await run(['docker', 'ps', '-aq', '--filter', `label=cnilab.dev/cluster=${this.cluster}`], { allowFailure: true })).stdout.split('\n').filter(Boolean);
    if (ids.length) await run(['docker', 'rm', '-f', '-v', ...ids], { allowFailure: true, timeoutMs: 60_000 });
  }
}
