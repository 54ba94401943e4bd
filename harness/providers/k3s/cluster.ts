// A K3s cluster for cnilab through testcontainers' K3s module: one privileged K3s server container
// started with everything cnilab replaces switched off — flannel (cnilab is the CNI), K3s's network
// policy controller (cnilab enforces policy), kube-proxy (kubeProxyReplacement), servicelb and traefik
// (the seed's K3s had them off too).
import type { ClusterSpec } from '../../cluster/spec.js';

export const K3S_IMAGE = 'rancher/k3s:v1.31.4-k3s1';

/** The K3s server's arguments for a cnilab spec. */
export function k3sServerArgs(spec: ClusterSpec): string[] {
  return [
    'server',
    '--flannel-backend=none',
    '--disable-network-policy',
    '--disable-kube-proxy',
    '--disable=servicelb',
    '--disable=traefik',
    `--cluster-cidr=${spec.podSubnet}`,
    `--service-cidr=${spec.serviceSubnet}`,
    `--node-name=${spec.nodes[0]!.name}`,
  ];
}

export interface StartedK3s {
  kubeconfig: string;
  stop(): Promise<void>;
}

/** Start the K3s server (testcontainers needs a Docker engine: preflight checks it first). */
export async function startK3s(spec: ClusterSpec, image = K3S_IMAGE): Promise<StartedK3s> {
  // Loaded here only: testcontainers probes for Docker when it is imported.
  const { K3sContainer } = await import('@testcontainers/k3s');
  const container = await new K3sContainer(image).withCommand(k3sServerArgs(spec)).withLabels({ 'cnilab.dev/cluster': spec.name }).start();
  return {
    kubeconfig: container.getKubeConfig(),
    stop: async () => {
      await container.stop();
    },
  };
}
