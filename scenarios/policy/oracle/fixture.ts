// The x/y/z × a/b/c model of the upstream netpol e2e suite as an oracle snapshot with fixed addresses,
// for tests that must not depend on a running cluster. Pods are spread over three nodes the way the
// scheduler spreads them; two hosts stand outside the cluster.
import type { CiliumNetworkPolicy, NetworkPolicy } from '../../../harness/cluster/objects.js';
import type { OracleCluster, OraclePod } from './model.js';

export const NAMESPACES = ['x', 'y', 'z'] as const;
export const POD_NAMES = ['a', 'b', 'c'] as const;
/** "x/a", "x/b", ... "z/c": the rows and columns of every truth table. */
export const PODS = NAMESPACES.flatMap((ns) => POD_NAMES.map((p) => `${ns}/${p}`));

export const XYZ_PORTS: OraclePod['ports'] = [
  { name: 'serve-80-tcp', port: 80, protocol: 'TCP' },
  { name: 'serve-80-udp', port: 80, protocol: 'UDP' },
  { name: 'serve-81-tcp', port: 81, protocol: 'TCP' },
  { name: 'serve-81-udp', port: 81, protocol: 'UDP' },
];

/** Pod a of every namespace on node1, b on node2, c on node3: x/a 198.19.1.10, y/b 198.19.2.11, z/c 198.19.3.12. */
export function xyzCluster(policies: { networkPolicies?: NetworkPolicy[]; ciliumPolicies?: CiliumNetworkPolicy[] } = {}): OracleCluster {
  return {
    namespaces: NAMESPACES.map((ns) => ({ name: ns, labels: { 'kubernetes.io/metadata.name': ns, ns } })),
    pods: NAMESPACES.flatMap((ns, n) =>
      POD_NAMES.map((p, i) => ({ namespace: ns, name: p, labels: { pod: p }, ip: `198.19.${i + 1}.${10 + n}`, node: `node${i + 1}`, ports: XYZ_PORTS })),
    ),
    nodes: [1, 2, 3].map((i) => ({ name: `node${i}`, ips: [`198.18.0.${10 + i}`, `198.19.${i}.1`] })),
    externals: [
      { name: 'world-a', ip: '198.18.0.250' },
      { name: 'world-b', ip: '198.18.0.251' },
    ],
    networkPolicies: policies.networkPolicies ?? [],
    ciliumPolicies: policies.ciliumPolicies ?? [],
  };
}

export function netpol(namespace: string, name: string, spec: NetworkPolicy['spec']): NetworkPolicy {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace }, spec };
}

export function cnp(namespace: string, name: string, spec: Record<string, unknown>): CiliumNetworkPolicy {
  return { apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name, namespace }, spec: spec as CiliumNetworkPolicy['spec'] };
}
