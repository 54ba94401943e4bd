// The faults workload, shared by every fault scenario: a client pod on the first node, a "peer" server
// on the second node (traffic that must stay unaffected) and a "victim" server on the last node (the
// node the faults hit). Pods are pinned with spec.nodeName so which path a fault cuts is known, not
// guessed. The servers are agnhost netexec (TCP 8080), so probes get a real TCP answer.
import type { ClusterSpec } from '../../harness/cluster/spec.js';
import type { ResolvedPod, ScenarioContext } from '../framework/model.js';
import { netexecPod as netexecPodOf } from '../framework/pods.js';

export const FAULTS_NAMESPACE = 'cnilab-faults';
export const FAULT_TCP_PORT = 8080;

export type Role = 'client' | 'peer' | 'victim';

export interface FaultNodes {
  client: string;
  peer: string;
  victim: string;
}

/** Which node plays which role: client on the first node, peer on the second, victim on the last.
 *  On a 2-node cluster the peer and the victim share node2 (then "unaffected" means node-local). */
export function faultNodes(spec: Pick<ClusterSpec, 'nodes'>): FaultNodes {
  const names = spec.nodes.map((n) => n.name);
  if (names.length < 2) throw new Error(`the faults workload needs 2 nodes, the cluster has ${names.length}`);
  return { client: names[0]!, peer: names[1]!, victim: names[names.length - 1]! };
}

export const podName = (role: Role) => `fault-${role}`;

export function netexecPod(name: string, node: string, role: string): Record<string, unknown> {
  return netexecPodOf({ name, namespace: FAULTS_NAMESPACE, node, labels: { app: 'cnilab-faults', 'cnilab.dev/role': role }, httpPort: FAULT_TCP_PORT });
}

export function faultsObjects(spec: ClusterSpec): unknown[] {
  const n = faultNodes(spec);
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: FAULTS_NAMESPACE, labels: { 'kubernetes.io/metadata.name': FAULTS_NAMESPACE } } },
    netexecPod(podName('client'), n.client, 'client'),
    netexecPod(podName('peer'), n.peer, 'peer'),
    netexecPod(podName('victim'), n.victim, 'victim'),
  ];
}

export interface FaultPods {
  nodes: FaultNodes;
  client: ResolvedPod;
  peer: ResolvedPod;
  victim: ResolvedPod;
}

export function faultPods(ctx: Pick<ScenarioContext, 'spec' | 'pods'>): FaultPods {
  const get = (role: Role) => {
    const p = ctx.pods.get(`${FAULTS_NAMESPACE}/${podName(role)}`);
    if (!p) throw new Error(`faults pod ${FAULTS_NAMESPACE}/${podName(role)} is not Running`);
    return p;
  };
  return { nodes: faultNodes(ctx.spec), client: get('client'), peer: get('peer'), victim: get('victim') };
}
