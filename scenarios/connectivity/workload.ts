// The connectivity workload: three netexec pods per node (TCP 8080, UDP 8081) in namespace
// cnilab-conn, pinned with spec.nodeName so "same node" and "across nodes" are known, not guessed;
// plus a host-network netexec pod per node (TCP 9080 in the node's own namespace, answering with the
// node's name as its hostname) so pod→node can be tested over TCP as well as ICMP. All of it is plain
// Kubernetes objects, so any provider can create it.
import type { ClusterSpec } from '../../harness/cluster/spec.js';
import type { ResolvedPod, ScenarioContext } from '../framework/model.js';
import { netexecPod } from '../framework/pods.js';

export const CONN_NAMESPACE = 'cnilab-conn';
export const POD_TCP_PORT = 8080;
export const POD_UDP_PORT = 8081;
/** Served in every node's netns while the scenario runs. Not 8080: a node may run its own servers. */
export const NODE_TCP_PORT = 9080;
/** The host-network server pod of a node. */
export function nodeServerPodName(node: string): string {
  return `conn-host-${node}`;
}

/** A port no pod serves: the negative control must be refused. */
export const UNSERVED_PORT = 9;
export const PODS_PER_NODE = 3;
export const CONN_NODES = 3;
const LETTERS = ['a', 'b', 'c', 'd', 'e', 'f'];

export function connPodName(node: string, i: number): string {
  return `conn-${node}-${LETTERS[i]}`;
}

/** The nodes the workload uses: the first CONN_NODES of the cluster. */
export function connNodes(spec: ClusterSpec): string[] {
  return spec.nodes.slice(0, CONN_NODES).map((n) => n.name);
}

export function connectivityObjects(spec: ClusterSpec): unknown[] {
  const objects: unknown[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: CONN_NAMESPACE, labels: { 'kubernetes.io/metadata.name': CONN_NAMESPACE } } },
  ];
  for (const node of connNodes(spec)) {
    for (let i = 0; i < PODS_PER_NODE; i++) {
      objects.push(
        netexecPod({
          name: connPodName(node, i),
          namespace: CONN_NAMESPACE,
          node,
          labels: { app: 'cnilab-conn', 'cnilab.dev/node': node },
          httpPort: POD_TCP_PORT,
          udpPort: POD_UDP_PORT,
        }),
      );
    }
    const server = netexecPod({ name: nodeServerPodName(node), namespace: CONN_NAMESPACE, node, labels: { app: 'cnilab-conn-host', 'cnilab.dev/node': node }, httpPort: NODE_TCP_PORT });
    (server.spec as Record<string, unknown>).hostNetwork = true;
    objects.push(server);
  }
  return objects;
}

/** The workload's pods in a stable order: by node (cluster order), then by name. */
export function connPods(ctx: ScenarioContext): ResolvedPod[] {
  const order = connNodes(ctx.spec);
  const wanted = new Set(order.flatMap((n) => Array.from({ length: PODS_PER_NODE }, (_, i) => `${CONN_NAMESPACE}/${connPodName(n, i)}`)));
  const pods = [...ctx.pods.values()].filter((p) => wanted.has(p.key));
  if (pods.length !== wanted.size) {
    const missing = [...wanted].filter((k) => !ctx.pods.has(k));
    throw new Error(`connectivity pods not Running: ${missing.join(', ')}`);
  }
  return pods.sort((a, b) => order.indexOf(a.node) - order.indexOf(b.node) || a.name.localeCompare(b.name));
}
