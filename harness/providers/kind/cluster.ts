// A kind cluster for cnilab: the cluster config (no default CNI, no kube-proxy: cnilab's agent is
// both), created and deleted with the kind CLI, images loaded into the nodes with `kind load`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { ClusterSpec } from '../../cluster/spec.js';
import { run } from '../../exec/run.js';

/** kind's cluster config (kind.x-k8s.io/v1alpha4) for a cnilab spec. */
export function kindClusterConfig(spec: ClusterSpec): Record<string, unknown> {
  return {
    kind: 'Cluster',
    apiVersion: 'kind.x-k8s.io/v1alpha4',
    name: spec.name,
    networking: {
      // cnilab installs the CNI (its agent DaemonSet) and replaces kube-proxy (kubeProxyReplacement).
      disableDefaultCNI: true,
      kubeProxyMode: 'none',
      podSubnet: spec.podSubnet,
      serviceSubnet: spec.serviceSubnet,
    },
    nodes: spec.nodes.map((n, i) => ({
      role: i === 0 ? 'control-plane' : 'worker',
      labels: { 'cnilab.dev/node': n.name, ...(n.labels ?? {}) },
    })),
  };
}

export async function createKindCluster(spec: ClusterSpec, opts: { image?: string; timeoutMs?: number } = {}): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'cnilab-kind-'));
  try {
    const config = join(dir, 'kind.yaml');
    writeFileSync(config, stringify(kindClusterConfig(spec)));
    const kubeconfig = join(dir, 'kubeconfig');
    await run(['kind', 'create', 'cluster', '--name', spec.name, '--config', config, '--kubeconfig', kubeconfig, '--wait', '0s', ...(opts.image ? ['--image', opts.image] : [])], { timeoutMs: opts.timeoutMs ?? 300_000 });
    return (await run(['kind', 'get', 'kubeconfig', '--name', spec.name])).stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Put local images into every node's containerd (no registry involved). */
export async function loadImages(cluster: string, images: string[]): Promise<void> {
  for (const image of images) await run(['kind', 'load', 'docker-image', image, '--name', cluster], { timeoutMs: 300_000 });
}

export async function deleteKindCluster(cluster: string): Promise<void> {
  await run(['kind', 'delete', 'cluster', '--name', cluster], { allowFailure: true, timeoutMs: 120_000 });
}
