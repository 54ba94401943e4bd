// The NetworkPolicy corners CNIs have got wrong, each a case tagged "cni-bug" (REFERENCE.md):
// an empty port beside a numbered one, a port without protocol, UDP- or SCTP-only rules, named ports
// resolved on the wrong pod, endPort ignored, one direction taken for both, an allow-all policy
// shadowed by a narrower one.
import { CILIUM_ALT_PORT, CILIUM_NS, CILIUM_PORT } from '../workload.js';
import { FULL_MATRIX, networkPolicy as np, type PolicyCase } from './types.js';

const podA = { matchLabels: { pod: 'a' } };
const bug = (name: string, description: string, policies: Record<string, unknown>[], probe = FULL_MATRIX): PolicyCase => ({
  name,
  description,
  source: 'cni-bug',
  tags: ['cni-bug'],
  steps: [{ actions: [{ apply: policies }], probe }],
});

export const CNI_BUG_CASES: PolicyCase[] = [
  bug('bug-empty-port-allows-all-tcp', '`ports: [{}, {port: 80}]`: the empty port means every TCP port, so 81 is open too (and UDP is not)', [
    np('x', 'empty-port', { podSelector: podA, ingress: [{ ports: [{}, { port: 80 }] }] }),
  ]),
  bug('bug-port-without-protocol-is-tcp', 'a port without protocol means TCP only: UDP 80 stays closed', [np('x', 'no-proto', { podSelector: podA, ingress: [{ ports: [{ port: 80 }] }] })]),
  bug('bug-udp-only-rule-no-tcp', 'a UDP-only rule must not open TCP on the same port', [np('x', 'udp-only', { podSelector: podA, ingress: [{ ports: [{ port: 81, protocol: 'UDP' }] }] })]),
  bug('bug-sctp-only-rule-isolates', 'an SCTP-only rule opens neither TCP nor UDP, and still isolates the pod', [
    np('x', 'sctp-only', { podSelector: podA, ingress: [{ ports: [{ port: 80, protocol: 'SCTP' }] }] }),
  ]),
  bug(
    'bug-named-port-on-destination',
    'an egress named port resolves on each destination pod: "web" is 8080 on echo-same-node and 8081 on echo-other-node (and 8080 on the client itself)',
    [np(CILIUM_NS, 'client-to-web', { podSelector: { matchLabels: { kind: 'client' } }, policyTypes: ['Egress'], egress: [{ ports: [{ port: 'web', protocol: 'TCP' }] }] })],
    { targets: { from: [`${CILIUM_NS}/client`], to: [`${CILIUM_NS}/echo-same-node`, `${CILIUM_NS}/echo-other-node`], ports: [CILIUM_PORT, CILIUM_ALT_PORT], protocols: ['TCP'] } },
  ),
  bug('bug-endport-enforced', 'endPort makes a range: 81..85 opens TCP 81, not 80', [
    np('x', 'range', { podSelector: podA, policyTypes: ['Egress'], egress: [{ ports: [{ port: 81, endPort: 85, protocol: 'TCP' }] }] }),
  ]),
  bug('bug-egress-and-ingress-both-needed', 'x/a may only send to y/b, and y/b only accepts x/b: x/a → y/b is blocked at y/b\'s ingress', [
    np('x', 'a-to-yb', { podSelector: podA, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: { matchLabels: { pod: 'b' } } }] }] }),
    np('y', 'yb-from-xb', { podSelector: { matchLabels: { pod: 'b' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'x' } }, podSelector: { matchLabels: { pod: 'b' } } }] }] }),
  ]),
  bug('bug-allow-all-beside-narrower', 'an allow-all ingress policy beside a narrower one wins (policies are additive)', [
    np('x', 'narrow', { podSelector: podA, ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }], ports: [{ port: 81, protocol: 'TCP' }] }] }),
    np('x', 'allow-all', { podSelector: podA, ingress: [{}] }),
  ]),
  bug('bug-egress-allow-all-beside-narrower', 'an allow-all egress policy beside a narrower one wins', [
    np('x', 'narrow-egress', { podSelector: podA, policyTypes: ['Egress'], egress: [{ to: [{ podSelector: { matchLabels: { pod: 'b' } } }] }] }),
    np('x', 'allow-all-egress', { podSelector: podA, policyTypes: ['Egress'], egress: [{}] }),
  ]),
];
