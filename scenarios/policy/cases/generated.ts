// Generated cases in the spirit of Cyclonus: one base policy on namespace x varied along its
// dimensions — direction (ingress, egress), target (all pods, one pod, an expression), peer (all, a
// pod, a namespace, all namespaces, pod AND namespace, the own namespace, ipBlock with except), port
// (all, numbered TCP, numbered UDP, named, named UDP, a range, the empty port, every UDP port, SCTP
// beside TCP) — plus action sequences: update, delete, a pod or a namespace relabelled into a selector,
// a second policy added. Deterministic: the same list every time, each varying a few dimensions at
// once so that ~50 cases cover every value of every dimension in both directions.
import { FULL_MATRIX, networkPolicy as np, type CaseStep, type PolicyCase } from './types.js';

type Direction = 'ingress' | 'egress';
type Named<T> = { name: string; value: T };

const TARGETS: Named<Record<string, unknown>>[] = [
  { name: 'all', value: {} },
  { name: 'pod-a', value: { matchLabels: { pod: 'a' } } },
  { name: 'not-c', value: { matchExpressions: [{ key: 'pod', operator: 'NotIn', values: ['c'] }] } },
];

const PEERS: Named<Record<string, unknown>[] | undefined>[] = [
  { name: 'any', value: undefined },
  { name: 'pod-b', value: [{ podSelector: { matchLabels: { pod: 'b' } } }] },
  { name: 'ns-y', value: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] },
  { name: 'all-ns', value: [{ namespaceSelector: {} }] },
  { name: 'ns-y-and-pod-b', value: [{ namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: { matchLabels: { pod: 'b' } } }] },
  { name: 'own-ns', value: [{ podSelector: {} }] },
  { name: 'cidr-except', value: [{ ipBlock: { cidr: '${podCidr:x/b}', except: ['${cidr:y/b}'] } }] },
  { name: 'all-but-node3', value: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['${podCidr:z/c}'] } }] },
];

const PORTS: Named<Record<string, unknown>[] | undefined>[] = [
  { name: 'all', value: undefined },
  { name: 'tcp-80', value: [{ port: 80, protocol: 'TCP' }] },
  { name: 'udp-81', value: [{ port: 81, protocol: 'UDP' }] },
  { name: 'named-81-tcp', value: [{ port: 'serve-81-tcp' }] },
  { name: 'named-80-udp', value: [{ port: 'serve-80-udp', protocol: 'UDP' }] },
  { name: 'range-80-81', value: [{ port: 80, endPort: 81, protocol: 'TCP' }] },
  { name: 'empty', value: [{}] },
  { name: 'all-udp', value: [{ protocol: 'UDP' }] },
  { name: 'sctp-80-tcp-81', value: [{ port: 80, protocol: 'SCTP' }, { port: 81, protocol: 'TCP' }] },
];

function policy(name: string, dir: Direction, target: Record<string, unknown>, peers?: Record<string, unknown>[], ports?: Record<string, unknown>[]): Record<string, unknown> {
  const rule: Record<string, unknown> = {};
  if (peers) rule[dir === 'ingress' ? 'from' : 'to'] = peers;
  if (ports) rule.ports = ports;
  return np('x', name, { podSelector: target, policyTypes: [dir === 'ingress' ? 'Ingress' : 'Egress'], [dir]: [rule] });
}

function gen(name: string, description: string, steps: CaseStep[]): PolicyCase {
  return { name: `gen-${name}`, description, source: 'generated', tags: ['generated'], steps };
}
const once = (p: Record<string, unknown>[]): CaseStep[] => [{ actions: [{ apply: p }], probe: FULL_MATRIX }];

export function generatedCases(): PolicyCase[] {
  const out: PolicyCase[] = [];
  for (const dir of ['ingress', 'egress'] as const) {
    // Every peer, on pod a, with a port that rotates through the port values.
    PEERS.forEach((peer, i) => {
      const port = PORTS[(i * 3) % PORTS.length]!;
      out.push(gen(`${dir}-peer-${peer.name}-port-${port.name}`, `${dir} of x/a from/to peer ${peer.name} on ports ${port.name}`, once([policy('gen', dir, TARGETS[1]!.value, peer.value, port.value)])));
    });
    // Every port value, with targets and peers rotating.
    PORTS.slice(1).forEach((port, i) => {
      const target = TARGETS[i % TARGETS.length]!;
      const peer = PEERS[(i + 2) % PEERS.length]!;
      out.push(gen(`${dir}-port-${port.name}-target-${target.name}-peer-${peer.name}`, `${dir} of ${target.name} in x, peer ${peer.name}, ports ${port.name}`, once([policy('gen', dir, target.value, peer.value, port.value)])));
    });
    // Every target, isolated with no rule at all.
    for (const target of TARGETS) {
      out.push(gen(`${dir}-deny-all-target-${target.name}`, `${dir} deny-all on ${target.name} in x`, once([np('x', 'gen-deny', { podSelector: target.value, policyTypes: [dir === 'ingress' ? 'Ingress' : 'Egress'] })])));
    }
    const base = (ports?: Record<string, unknown>[], peers = PEERS[2]!.value) => policy('gen', dir, TARGETS[1]!.value, peers, ports);
    out.push(gen(`${dir}-update-ports`, `${dir} policy updated from TCP 80 to UDP 81`, [
      { description: 'TCP 80', actions: [{ apply: [base(PORTS[1]!.value)] }], probe: FULL_MATRIX },
      { description: 'updated to UDP 81', actions: [{ apply: [base(PORTS[2]!.value)] }], probe: FULL_MATRIX },
    ]));
    out.push(gen(`${dir}-delete`, `${dir} policy created, then deleted`, [
      { description: 'created', actions: [{ apply: [base(PORTS[5]!.value)] }], probe: FULL_MATRIX },
      { description: 'deleted', actions: [{ delete: [{ kind: 'NetworkPolicy', namespace: 'x', name: 'gen' }] }], probe: FULL_MATRIX },
    ]));
    out.push(gen(`${dir}-pod-joins-peer`, `x/c relabelled pod=b joins the peer pod=b`, [
      { description: 'peer pod=b', actions: [{ apply: [base(undefined, PEERS[1]!.value)] }], probe: FULL_MATRIX },
      { description: 'x/c relabelled pod=b', actions: [{ setPodLabels: { pod: 'x/c', labels: { pod: 'b' } } }], probe: FULL_MATRIX },
    ]));
    out.push(gen(`${dir}-pod-joins-target`, `x/b relabelled pod=a becomes a target`, [
      { description: 'target pod=a', actions: [{ apply: [base(PORTS[3]!.value)] }], probe: FULL_MATRIX },
      { description: 'x/b relabelled pod=a', actions: [{ setPodLabels: { pod: 'x/b', labels: { pod: 'a' } } }], probe: FULL_MATRIX },
    ]));
    out.push(gen(`${dir}-namespace-joins-peer`, `namespace z relabelled ns=y joins the peer`, [
      { description: 'peer ns=y', actions: [{ apply: [base(PORTS[6]!.value)] }], probe: FULL_MATRIX },
      { description: 'namespace z relabelled ns=y', actions: [{ setNamespaceLabels: { namespace: 'z', labels: { ns: 'y' } } }], probe: FULL_MATRIX },
    ]));
    out.push(gen(`${dir}-second-policy-added`, `a second ${dir} policy adds to the first`, [
      { description: 'peer ns=y on TCP 80', actions: [{ apply: [base(PORTS[1]!.value)] }], probe: FULL_MATRIX },
      { description: 'plus peer pod=b on all ports', actions: [{ apply: [policy('gen-2', dir, TARGETS[1]!.value, PEERS[1]!.value)] }], probe: FULL_MATRIX },
    ]));
  }
  return out;
}
