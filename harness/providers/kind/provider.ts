// kind behind the provider interface: kind makes the cluster (nodes are Docker containers running
// containerd, so pods are started by containerd through CRI and their network by cnilab's CNI
// plugin); cnilab loads its agent image into the nodes, applies its chart (the agent DaemonSet), and
// from then on drives the cluster as any cluster from a kubeconfig.
import type { ClusterSpec } from '../../cluster/spec.js';
import { KubeconfigBackedProvider } from '../common/kubeconfig-backed.js';
import { createKindCluster, deleteKindCluster, loadImages } from './cluster.js';
import { preflight } from './preflight.js';

/** The agent image the chart names by default (deploy/Dockerfile builds it). */
export const AGENT_IMAGE = 'localhost/cnilab/agent:0.1.0';

export class KindProvider extends KubeconfigBackedProvider {
  readonly kind = 'kind' as const;

  async create(spec: ClusterSpec, opts: { onProgress?: (msg: string) => void } = {}): Promise<void> {
    await preflight();
    opts.onProgress?.(`creating kind cluster "${spec.name}" (${spec.nodes.length} nodes, no default CNI, no kube-proxy)`);
    this.saveKubeconfig(spec, await createKindCluster(spec));
    opts.onProgress?.(`loading ${AGENT_IMAGE} into the nodes`);
    await loadImages(spec.name, [AGENT_IMAGE]);
    await this.applyChart(spec, opts.onProgress);
  }
  async destroy(): Promise<void> {
    await deleteKindCluster(this.cluster);
  }
}
