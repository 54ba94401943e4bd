// kind behind the provider interface: kind makes the cluster (nodes are Docker containers running
// containerd, so pods are started by containerd through CRI and their network by cnilab's CNI
// plugin); cnilab loads its agent image into the nodes, applies its chart (the agent DaemonSet), and
// from then on drives the cluster as any cluster from a kubeconfig.
import { mkdirSync, writeFileSync } from 'node:fs';
import type { RunOptions, RunResult } from '../../exec/run.js';
import type { ClusterSpec } from '../../cluster/spec.js';
import { paths } from '../../cluster/names.js';
import { renderChart } from '../../deploy/chart.js';
import type { CaptureOptions, Provider, ProviderNode, ProviderPod } from '../common/provider.js';
import { KubeconfigProvider } from '../kubeconfig/provider.js';
import { createKindCluster, deleteKindCluster, loadImages } from './cluster.js';
import { preflight } from './preflight.js';

/** The agent image the chart names by default (deploy/Dockerfile builds it). */
export const AGENT_IMAGE = 'localhost/cnilab/agent:0.1.0';

/** The chart's values for a cluster spec: routing and the pod CIDR of the spec. */
export function chartValuesFor(spec: ClusterSpec): Record<string, string> {
  return {
    routingMode: spec.routing,
    'ipam.operator.clusterPoolIPv4PodCIDRList': `[${spec.podSubnet}]`,
    mtu: String(spec.mtu),
    ...(spec.routing === 'native' ? { 'bgp.peerAddress': spec.underlayGateway } : {}),
  };
}

export class KindProvider implements Provider {
  readonly kind = 'kind' as const;
  private kube?: KubeconfigProvider;

  constructor(readonly cluster: string) {}

  private api(): KubeconfigProvider {
    this.kube ??= new KubeconfigProvider(paths.kubeconfig(this.cluster));
    return this.kube;
  }

  async create(spec: ClusterSpec, opts: { onProgress?: (msg: string) => void } = {}): Promise<void> {
    await preflight();
    opts.onProgress?.(`creating kind cluster "${spec.name}" (${spec.nodes.length} nodes, no default CNI, no kube-proxy)`);
    const kubeconfig = await createKindCluster(spec);
    mkdirSync(paths.kubeDir(spec.name), { recursive: true });
    writeFileSync(paths.kubeconfig(spec.name), kubeconfig, { mode: 0o600 });
    opts.onProgress?.(`loading ${AGENT_IMAGE} into the nodes`);
    await loadImages(spec.name, [AGENT_IMAGE]);
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
  async destroy(): Promise<void> {
    await deleteKindCluster(this.cluster);
  }
}
