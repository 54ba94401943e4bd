// The helper pod that stands for a node on a real cluster: privileged, in the node's network
// namespace (hostNetwork) and process table (hostPID), pinned to the node, tolerating every taint, running a shell that waits.
// Commands "on the node" (ip, tcpdump) are exec'd in it; captures stream back over exec's stdout.
export const HELPER_NAMESPACE = 'cnilab-system';
/** An image with tcpdump, iproute2 and ping; any image with those works (`helperImage`). */
export const DEFAULT_HELPER_IMAGE = 'docker.io/nicolaka/netshoot:v0.13';

export const helperPodName = (node: string) => `cnilab-node-${node}`.slice(0, 63).replace(/-+$/, '');

export function helperPod(node: string, image = DEFAULT_HELPER_IMAGE): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: helperPodName(node), namespace: HELPER_NAMESPACE, labels: { 'app.kubernetes.io/name': 'cnilab-node-helper', 'app.kubernetes.io/managed-by': 'cnilab' } },
    spec: {
      nodeName: node,
      hostNetwork: true,
      // The node's processes: the faults suite signals the CNI agent and bird (kubeconfig/faults.ts).
      hostPID: true,
      dnsPolicy: 'ClusterFirstWithHostNet',
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 1,
      tolerations: [{ operator: 'Exists' }],
      containers: [
        {
          name: 'helper',
          image,
          command: ['sleep', 'infinity'],
          securityContext: { privileged: true, capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } },
        },
      ],
    },
  };
}
