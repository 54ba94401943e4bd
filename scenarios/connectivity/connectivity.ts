// The connectivity scenario: every ordered pod pair over ICMP, TCP and UDP (same node and across
// nodes), pod→node and node→pod, path MTU with DF across nodes, the pods' own link configuration,
// and a negative control proving that a probe can fail in this run.
import type { ProbeProtocol } from '../../harness/traffic/probe.js';
import type { ProbeStep, ResolvedPod, Scenario, ScenarioContext, Step } from '../framework/model.js';
import { checkArpByDatapath, checkNoPermanentNeighbours, checkPodMtus } from './pod-config.js';
import { checkConnectionFlows, checkTtl } from './forwarding.js';
import { checkDeletedPodForgotten, checkIdentitiesAndIpcache, checkUnassignedAddressDropped } from './datapath-state.js';
import { CONN_NODES, NODE_TCP_PORT, POD_TCP_PORT, POD_UDP_PORT, UNSERVED_PORT, connNodes, connPods, connectivityObjects } from './workload.js';

/** IPv4 + ICMP headers: ping -s N sends an IP packet of N + 28 bytes. */
const IP_ICMP_HEADERS = 28;
/** The brief's fixed-size DF probe: an IP packet of exactly 1400 bytes fits every sane pod MTU. */
export const DF_PACKET_BYTES = 1400;
const PROBE_TIMEOUT_MS = 1500;

const PROTOCOL_PORTS: Array<[ProbeProtocol, number | undefined]> = [
  ['icmp', undefined],
  ['tcp', POD_TCP_PORT],
  ['udp', POD_UDP_PORT],
];

/** Who must answer: the server names itself (tcp/udp: its hostname, the pod or node name); an ICMP
 *  echo reply must come from the address probed. */
function answeredBy(protocol: ProbeProtocol, name: string, ip: string): string {
  return protocol === 'icmp' ? ip : name;
}

function pathOf(a: string, b: string): string {
  return a === b ? 'same-node' : 'cross-node';
}

function podPairSteps(pods: ResolvedPod[]): ProbeStep[] {
  const steps: ProbeStep[] = [];
  for (const src of pods) {
    for (const dst of pods) {
      if (src === dst) continue;
      const path = pathOf(src.node, dst.node);
      for (const [protocol, port] of PROTOCOL_PORTS) {
        steps.push({
          kind: 'probe',
          id: `pod-pod/${protocol}/${src.name}/${dst.name}`,
          name: `${protocol} ${src.key} → ${dst.key} (${path})`,
          from: { pod: src.key },
          to: { pod: dst.key },
          protocol,
          port,
          timeoutMs: PROBE_TIMEOUT_MS,
          expect: { outcome: 'ok', responder: answeredBy(protocol, dst.name, dst.ip) },
          tags: { kind: 'pod-pod', matrix: 'pod-pod', path, fromNode: src.node, toNode: dst.node },
        });
      }
    }
  }
  return steps;
}

/** First pod of each node, in node order: the representatives for node-level checks. */
function firstPodPerNode(pods: ResolvedPod[], nodes: string[]): ResolvedPod[] {
  return nodes.map((n) => pods.find((p) => p.node === n)!);
}

function podNodeSteps(pods: ResolvedPod[], nodes: string[], ipOf: (node: string) => string): ProbeStep[] {
  const steps: ProbeStep[] = [];
  for (const pod of pods) {
    const own = pod.node;
    const other = nodes[(nodes.indexOf(own) + 1) % nodes.length]!;
    for (const node of [own, other]) {
      const path = node === own ? 'own-node' : 'other-node';
      for (const [protocol, port] of [['icmp', undefined], ['tcp', NODE_TCP_PORT]] as Array<[ProbeProtocol, number | undefined]>) {
        steps.push({
          kind: 'probe',
          id: `pod-node/${protocol}/${pod.name}/${node}`,
          name: `${protocol} ${pod.key} → node ${node} (${path})`,
          from: { pod: pod.key },
          to: { node },
          protocol,
          port,
          timeoutMs: PROBE_TIMEOUT_MS,
          expect: { outcome: 'ok', responder: answeredBy(protocol, node, ipOf(node)) },
          tags: { kind: 'pod-node', path, fromNode: own, toNode: node },
        });
      }
    }
  }
  return steps;
}

function nodePodSteps(pods: ResolvedPod[], nodes: string[]): ProbeStep[] {
  const reps = firstPodPerNode(pods, nodes);
  const steps: ProbeStep[] = [];
  nodes.forEach((node, i) => {
    for (const target of [reps[i]!, reps[(i + 1) % nodes.length]!]) {
      const path = target.node === node ? 'local-pod' : 'remote-pod';
      for (const [protocol, port] of [['icmp', undefined], ['tcp', POD_TCP_PORT]] as Array<[ProbeProtocol, number | undefined]>) {
        steps.push({
          kind: 'probe',
          id: `node-pod/${protocol}/${node}/${target.name}`,
          name: `${protocol} node ${node} → ${target.key} (${path})`,
          from: { node },
          to: { pod: target.key },
          protocol,
          port,
          timeoutMs: PROBE_TIMEOUT_MS,
          expect: { outcome: 'ok', responder: answeredBy(protocol, target.name, target.ip) },
          tags: { kind: 'node-pod', path, fromNode: node, toNode: target.node },
        });
      }
    }
  });
  return steps;
}

/** DF pings across nodes: a 1400-byte packet, and one of exactly the pod MTU (the largest that must fit). */
function mtuSteps(pods: ResolvedPod[], nodes: string[], podMtu: number): ProbeStep[] {
  const reps = firstPodPerNode(pods, nodes);
  const steps: ProbeStep[] = [];
  reps.forEach((src, i) => {
    const dst = reps[(i + 1) % reps.length]!;
    // A pod MTU of 0 is not known (a cluster from a kubeconfig, no --pod-mtu): its own check says so.
    for (const [label, bytes] of [['1400', DF_PACKET_BYTES], ...(podMtu > 0 ? [['pod-mtu', podMtu]] : [])] as Array<[string, number]>) {
      steps.push({
        kind: 'probe',
        id: `mtu/df-${label}/${src.name}/${dst.name}`,
        name: `ICMP ${bytes}-byte packet with DF ${src.key} → ${dst.key} (cross-node)`,
        from: { pod: src.key },
        to: { pod: dst.key },
        protocol: 'icmp',
        size: bytes - IP_ICMP_HEADERS,
        dontFragment: true,
        timeoutMs: PROBE_TIMEOUT_MS,
        expect: { outcome: 'ok', responder: dst.ip },
        tags: { kind: 'mtu', path: 'cross-node', fromNode: src.node, toNode: dst.node, packetBytes: String(bytes) },
      });
    }
  });
  return steps;
}

function negativeControl(pods: ResolvedPod[]): ProbeStep {
  const src = pods[0]!;
  const dst = pods.find((p) => p.node !== src.node) ?? pods[1]!;
  return {
    kind: 'probe',
    id: `control/tcp-unserved/${src.name}/${dst.name}`,
    name: `negative control: tcp ${src.key} → ${dst.key}:${UNSERVED_PORT} (nobody serves it) is refused`,
    from: { pod: src.key },
    to: { pod: dst.key },
    protocol: 'tcp',
    port: UNSERVED_PORT,
    timeoutMs: PROBE_TIMEOUT_MS,
    expect: { outcome: 'refused', exitCode: 1 },
    tags: { kind: 'control', path: pathOf(src.node, dst.node), fromNode: src.node, toNode: dst.node },
  };
}

export function connectivitySteps(ctx: ScenarioContext): Step[] {
  const pods = connPods(ctx);
  const nodes = connNodes(ctx.spec);
  return [
    negativeControl(pods),
    ...podPairSteps(pods),
    ...podNodeSteps(pods, nodes, (n) => ctx.nodes.get(n)!.underlayIp),
    ...nodePodSteps(pods, nodes),
    ...mtuSteps(pods, nodes, ctx.spec.podMtu),
    { kind: 'check', id: 'pod-mtu', name: 'pod eth0 MTU equals the cluster pod MTU', run: checkPodMtus },
    { kind: 'check', id: 'pod-neigh', name: 'pods have no static neighbour entries', run: checkNoPermanentNeighbours },
    // Only cnilab claims to answer ARP itself; the other CNIs rely on the kernel, as they should.
    ...(ctx.spec.cni === 'cnilab' ? [{ kind: 'check' as const, id: 'pod-arp', name: "the datapath, not the node's kernel, answers the pods' ARP", run: checkArpByDatapath }] : []),
    { kind: 'check', id: 'control/unassigned', name: 'an unassigned pod address on another node: nothing answers, the drop is seen', run: checkUnassignedAddressDropped },
    ...(ctx.spec.cni === 'cnilab'
      ? [
          { kind: 'check' as const, id: 'identity', name: 'identities per label set, ipcache consistent on every node', run: checkIdentitiesAndIpcache },
          { kind: 'check' as const, id: 'ttl', name: 'every routing node is a hop: reply TTLs', run: checkTtl },
          { kind: 'check' as const, id: 'flows', name: 'a connection leaves the flows Hubble would show', run: checkConnectionFlows },
          { kind: 'check' as const, id: 'pod-deleted', name: "a deleted pod's address leaves every endpoint map and ipcache", run: checkDeletedPodForgotten },
        ]
      : []),
  ];
}

export const connectivityScenario: Scenario = {
  name: 'pod-connectivity',
  suite: 'connectivity',
  description: 'pod↔pod (same node, across nodes; ICMP/TCP/UDP), pod↔node, path MTU, pod link config',
  topology: { nodes: CONN_NODES },
  setup: connectivityObjects,
  steps: connectivitySteps,
};
