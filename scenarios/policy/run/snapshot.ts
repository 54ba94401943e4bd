// The oracle's view of the cluster, read through the provider's API right before probing: namespaces with
// their labels, running pods with labels, addresses, nodes and container ports, the nodes' addresses,
// the external hosts, and every NetworkPolicy and CiliumNetworkPolicy as stored.
import type { Provider } from '../../../harness/providers/common/provider.js';
import type { ClusterSpec } from '../../../harness/cluster/spec.js';
import type { CiliumNetworkPolicy, Container, NetworkPolicy } from '../../../harness/cluster/objects.js';
import type { OracleCluster, OracleExternal, OraclePod } from '../oracle/model.js';

export async function clusterSnapshot(spec: ClusterSpec, provider: Provider, externals: OracleExternal[]): Promise<OracleCluster> {
  const [namespaces, pods, networkPolicies, ciliumPolicies] = (await Promise.all(['Namespace', 'Pod', 'NetworkPolicy', 'CiliumNetworkPolicy'].map((k) => provider.list(k)))).map((l) => l.items);
  const running: OraclePod[] = [];
  for (const p of pods) {
    const status = (p.status ?? {}) as { phase?: string; podIP?: string };
    const podSpec = p.spec as { nodeName?: string; containers?: Container[] };
    if (status.phase !== 'Running' || !status.podIP || !podSpec.nodeName) continue;
    running.push({
      namespace: p.metadata.namespace ?? 'default',
      name: p.metadata.name,
      labels: p.metadata.labels ?? {},
      ip: status.podIP,
      node: podSpec.nodeName,
      ports: (podSpec.containers ?? []).flatMap((c) => (c.ports ?? []).map((port) => ({ name: port.name, port: port.containerPort, protocol: port.protocol ?? 'TCP' }))),
    });
  }
  return {
    namespaces: namespaces.map((n) => ({ name: n.metadata.name, labels: n.metadata.labels ?? {} })),
    pods: running,
    nodes: spec.nodes.map((n) => ({ name: n.name, ips: [n.underlayIp, n.podGateway] })),
    externals,
    networkPolicies: networkPolicies as unknown as NetworkPolicy[],
    ciliumPolicies: ciliumPolicies as unknown as CiliumNetworkPolicy[],
  };
}
