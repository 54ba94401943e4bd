// What the kind and K3s providers share: once their cluster exists (kind's containers, a K3s server)
// each keeps the cluster's kubeconfig where cnilab looks for it, applies the cnilab chart (the agent
// DaemonSet) and from then on drives the cluster as any cluster from a kubeconfig. Only making and
// removing the cluster differs, so that is all a subclass writes.
import { mkdirSync, writeFileSync } from 'node:fs';
import type { RunOptions, RunResult } from '../../exec/run.js';
import type { ClusterSpec } from '../../cluster/spec.js';
import { paths } from '../../cluster/names.js';
import { renderChart } from '../../deploy/chart.js';
import type { CaptureOptions, Provider, ProviderKind, ProviderNode, ProviderObject, ProviderPod, RunningCapture, StartCaptureOptions } from './provider.js';
import { KubeconfigProvider } from '../kubeconfig/provider.js';
import type { NodeFaults } from './faults.js';

/** The chart's values for a cluster spec: routing and the pod CIDR of the spec. */
export function chartValuesFor(spec: ClusterSpec): Record<string, string> {
  return {
    routingMode: spec.routing,
    'ipam.operator.clusterPoolIPv4PodCIDRList': `[${spec.podSubnet}]`,
    mtu: String(spec.mtu),
    ...(spec.routing === 'native' ? { 'bgp.peerAddress': spec.underlayGateway } : {}),
  };
}

export abstract class KubeconfigBackedProvider implements Provider {
  abstract readonly kind: ProviderKind;
  private kube?: KubeconfigProvider;

  constructor(readonly cluster: string) {}

  abstract create(spec: ClusterSpec, opts?: { onProgress?: (msg: string) => void }): Promise<void>;
  abstract destroy(): Promise<void>;

  protected api(): KubeconfigProvider {
    this.kube ??= new KubeconfigProvider(paths.kubeconfig(this.cluster));
    return this.kube;
  }

  /** Keeps the new cluster's kubeconfig (owner-only: it holds the admin credentials). */
  protected saveKubeconfig(spec: ClusterSpec, kubeconfig: string): void {
    mkdirSync(paths.kubeDir(spec.name), { recursive: true });
    writeFileSync(paths.kubeconfig(spec.name), kubeconfig, { mode: 0o600 });
  }

  /** Applies the cnilab chart (the agent DaemonSet, whose init step installs the CNI plugin). */
  protected async applyChart(spec: ClusterSpec, onProgress?: (msg: string) => void): Promise<void> {
    onProgress?.('applying the cnilab chart (agent DaemonSet)');
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
  list(kind: string, namespace?: string): Promise<{ items: ProviderObject[]; resourceVersion: string }> {
    return this.api().list(kind, namespace);
  }
  remove(kind: string, namespace: string | undefined, name: string): Promise<void> {
    return this.api().remove(kind, namespace, name);
  }
  mergePatch(kind: string, namespace: string | undefined, name: string, patch: unknown): Promise<ProviderObject> {
    return this.api().mergePatch(kind, namespace, name, patch);
  }
  waitPodsReady(namespace: string | undefined, timeoutMs: number): Promise<ProviderPod[]> {
    return this.api().waitPodsReady(namespace, timeoutMs);
  }
  capture(node: string, opts: CaptureOptions): Promise<Buffer> {
    return this.api().capture(node, opts);
  }
  startCapture(node: string, opts: StartCaptureOptions): Promise<RunningCapture> {
    return this.api().startCapture(node, opts);
  }
  nodeFaults(): NodeFaults {
    return this.api().nodeFaults();
  }
  cni(): Promise<string> {
    return this.api().cni();
  }
  collectLogs(dir: string): Promise<string[]> {
    return this.api().collectLogs(dir);
  }
}
