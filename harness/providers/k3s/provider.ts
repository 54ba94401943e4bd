// K3s behind the provider interface: testcontainers' K3s module starts a K3s server container with
// flannel, network policy, kube-proxy, servicelb and traefik off; cnilab applies its chart (the agent
// DaemonSet, its CNI plugin installed by the init step) and drives the cluster through its kubeconfig.
// One server node: K3s agents (more nodes) would be more containers joined to it — not done.
import { run } from '../../exec/run.js';
import type { ClusterSpec } from '../../cluster/spec.js';
import { KubeconfigBackedProvider } from '../common/kubeconfig-backed.js';
import { startK3s, type StartedK3s } from './cluster.js';
import { preflight } from './preflight.js';

export class K3sProvider extends KubeconfigBackedProvider {
  readonly kind = 'k3s' as const;
  private server?: StartedK3s;

  async create(spec: ClusterSpec, opts: { onProgress?: (msg: string) => void } = {}): Promise<void> {
    await preflight();
    opts.onProgress?.(`starting a K3s server for "${spec.name}" (no flannel, network policy, kube-proxy, servicelb, traefik)`);
    this.server = await startK3s(spec);
    this.saveKubeconfig(spec, this.server.kubeconfig);
    await this.applyChart(spec, opts.onProgress);
  }
  /** The server started in this process, or (from `cnilab down`) the container labelled with the cluster. */
  async destroy(): Promise<void> {
    if (this.server) return this.server.stop();
    const ids = (await run(['docker', 'ps', '-aq', '--filter', `label=cnilab.dev/cluster=${this.cluster}`], { allowFailure: true })).stdout.split('\n').filter(Boolean);
    if (ids.length) await run(['docker', 'rm', '-f', '-v', ...ids], { allowFailure: true, timeoutMs: 60_000 });
  }
}
