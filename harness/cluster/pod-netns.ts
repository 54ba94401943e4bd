// Where a pod's processes live on the embedded cluster: its own network namespace, or, for a
// `hostNetwork: true` pod, its node's (as kubelet runs such a pod in the host's namespaces; its hostname
// is then the node's too). One place, so exec, `cnilab exec` and the pod runtime agree.
import { netnsNames } from './names.js';

interface PodLike {
  metadata: { namespace?: string; name: string };
  spec?: unknown;
}

/** Whether the pod runs in its node's network namespace (and on which node), or undefined. */
export function hostNetworkNode(pod: PodLike): string | undefined {
  const spec = (pod.spec ?? {}) as { hostNetwork?: boolean; nodeName?: string };
  return spec.hostNetwork === true && spec.nodeName ? spec.nodeName : undefined;
}

/** The netns name (under /run/netns) a pod's commands run in. */
export function podNetnsName(cluster: string, pod: PodLike): string {
  const node = hostNetworkNode(pod);
  return node ? netnsNames.node(cluster, node) : netnsNames.pod(cluster, pod.metadata.namespace ?? 'default', pod.metadata.name);
}

/** The hostname a pod's processes see: the node's for a host-network pod, else the pod's name. */
export function podHostname(pod: PodLike): string {
  return hostNetworkNode(pod) ?? pod.metadata.name;
}
