// 25 cases in the image of the Kubernetes netpol e2e suite (test/e2e/network/netpol), on its x/y/z ×
// a/b/c model. Upstream probes most cases on one port; here every step probes the full matrix: 81
// pairs × TCP/UDP × 80/81. Expectations come from the oracle, not from these definitions.
import { FULL_MATRIX, networkPolicy as np, simpleCase, type PolicyCase } from './types.js';

const podA = { matchLabels: { pod: 'a' } };
const podB = { matchLabels: { pod: 'b' } };
const nsY = { matchLabels: { ns: 'y' } };
const up = (name: string, description: string, policies: Record<string, unknown>[]) => simpleCase('upstream', name, description, policies);

export const UPSTREAM_CASES: PolicyCase[] = [
  up('default-deny-ingress', "should support a 'default-deny-ingress' policy", [np('x', 'deny-ingress', { podSelector: {}, policyTypes: ['Ingress'] })]),
  up('default-deny-all', "should support a 'default-deny-all' policy", [np('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })]),
  up('allow-from-pod-selector', 'should enforce policy to allow traffic from pods within server namespace based on PodSelector', [
    np('x', 'x-a-allows-x-b', { podSelector: podA, ingress: [{ from: [{ podSelector: podB }] }] }),
  ]),
  up('allow-from-all-namespaces', 'should enforce policy to allow ingress traffic from pods in all namespaces', [
    np('x', 'allow-all-ns', { podSelector: podA, ingress: [{ from: [{ namespaceSelector: {} }] }] }),
  ]),
  up('allow-from-namespace-by-name', 'should enforce policy to allow traffic based on NamespaceSelector with MatchLabels using default ns label', [
    np('x', 'allow-y', { podSelector: podA, ingress: [{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'y' } } }] }] }),
  ]),
  up('pod-selector-match-expressions', 'should enforce policy based on PodSelector with MatchExpressions', [
    np('x', 'expr', { podSelector: podA, ingress: [{ from: [{ podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['b'] }] } }] }] }),
  ]),
  up('namespace-selector-match-expressions', 'should enforce policy based on NamespaceSelector with MatchExpressions', [
    np('x', 'ns-expr', { podSelector: podA, ingress: [{ from: [{ namespaceSelector: { matchExpressions: [{ key: 'ns', operator: 'In', values: ['y'] }] } }] }] }),
  ]),
  up('pod-or-namespace-selector', 'should enforce policy based on PodSelector or NamespaceSelector', [
    np('x', 'or', { podSelector: podA, ingress: [{ from: [{ namespaceSelector: nsY }, { podSelector: podB }] }] }),
  ]),
  up('pod-and-namespace-selector', 'should enforce policy based on PodSelector and NamespaceSelector', [
    np('x', 'and', { podSelector: podA, ingress: [{ from: [{ namespaceSelector: { matchExpressions: [{ key: 'ns', operator: 'NotIn', values: ['x'] }] }, podSelector: podB }] }] }),
  ]),
  up('multiple-pod-and-namespace-selectors', 'should enforce policy based on Multiple PodSelectors and NamespaceSelectors', [
    np('x', 'multi', {
      podSelector: podA,
      ingress: [{ from: [{ namespaceSelector: { matchExpressions: [{ key: 'ns', operator: 'NotIn', values: ['x'] }] }, podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['b', 'c'] }] } }] }],
    }),
  ]),
  up('deny-from-other-namespaces', 'should deny ingress from pods on other namespaces', [np('x', 'same-ns-only', { podSelector: {}, ingress: [{ from: [{ podSelector: {} }] }] })]),
  up('ports-tcp-81-from-namespace', 'should enforce policy based on Ports', [
    np('x', 'p81', { podSelector: podA, ingress: [{ from: [{ namespaceSelector: nsY }], ports: [{ port: 81, protocol: 'TCP' }] }] }),
  ]),
  up('stacked-policies-overlapping-selectors', 'should enforce multiple, stacked policies with overlapping podSelectors', [
    np('x', 'p80', { podSelector: podA, ingress: [{ from: [{ namespaceSelector: nsY }], ports: [{ port: 80, protocol: 'TCP' }] }] }),
    np('x', 'p81', { podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['a', 'b'] }] }, ingress: [{ from: [{ namespaceSelector: nsY }], ports: [{ port: 81, protocol: 'TCP' }] }] }),
  ]),
  up('allow-all', 'should support allow-all policy', [np('x', 'allow-all', { podSelector: {}, ingress: [{}] })]),
  up('named-port-ingress', 'should allow ingress access on one named port', [np('x', 'named', { podSelector: podA, ingress: [{ ports: [{ port: 'serve-81-tcp' }] }] })]),
  up('named-port-from-namespace', 'should allow ingress access from namespace on one named port', [
    np('x', 'named-ns', { podSelector: podA, ingress: [{ from: [{ namespaceSelector: nsY }], ports: [{ port: 'serve-80-tcp', protocol: 'TCP' }] }] }),
  ]),
  up('named-port-egress', 'should allow egress access on one named port', [
    np('x', 'named-egress', { podSelector: podA, policyTypes: ['Egress'], egress: [{ ports: [{ port: 'serve-80-tcp', protocol: 'TCP' }] }] }),
  ]),
  {
    name: 'updated-policy',
    description: 'should enforce updated policy',
    source: 'upstream',
    tags: [],
    steps: [
      { description: 'allow TCP 80 from y', actions: [{ apply: [np('x', 'updated', { podSelector: podA, ingress: [{ from: [{ namespaceSelector: nsY }], ports: [{ port: 80 }] }] })] }], probe: FULL_MATRIX },
      { description: 'updated to TCP 81 from z', actions: [{ apply: [np('x', 'updated', { podSelector: podA, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'z' } } }], ports: [{ port: 81 }] }] })] }], probe: FULL_MATRIX },
    ],
  },
  {
    name: 'updated-namespace-labels',
    description: 'should allow ingress access from updated namespace',
    source: 'upstream',
    tags: [],
    steps: [
      { description: 'allow from namespaces labelled ns2=updated (none yet)', actions: [{ apply: [np('x', 'from-updated', { podSelector: podA, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns2: 'updated' } } }] }] })] }], probe: FULL_MATRIX },
      { description: 'namespace y labelled ns2=updated', actions: [{ setNamespaceLabels: { namespace: 'y', labels: { ns: 'y', ns2: 'updated' } } }], probe: FULL_MATRIX },
    ],
  },
  {
    name: 'updated-pod-labels',
    description: 'should allow ingress access from updated pod',
    source: 'upstream',
    tags: [],
    steps: [
      { description: 'allow from pods labelled pod=b2 (none yet)', actions: [{ apply: [np('x', 'from-b2', { podSelector: podA, ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b2' } } }] }] })] }], probe: FULL_MATRIX },
      { description: 'x/b relabelled pod=b2', actions: [{ setPodLabels: { pod: 'x/b', labels: { pod: 'b2' } } }], probe: FULL_MATRIX },
    ],
  },
  up('deny-egress-namespace', 'should deny egress from all pods in a namespace', [np('x', 'deny-egress', { podSelector: {}, policyTypes: ['Egress'] })]),
  up('ingress-and-egress-together', 'should work with Ingress, Egress specified together', [
    np('x', 'both', {
      podSelector: podA,
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ from: [{ namespaceSelector: nsY }] }],
      egress: [{ to: [{ namespaceSelector: { matchLabels: { ns: 'z' } } }] }],
    }),
  ]),
  up('egress-denied-on-client-side', 'should support denying of egress traffic on the client side (even if the server explicitly allows this traffic)', [
    np('x', 'deny-egress-a', { podSelector: podA, policyTypes: ['Egress'] }),
    np('y', 'allow-from-x-a', { podSelector: podB, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'x' } }, podSelector: podA }] }] }),
  ]),
  up('egress-except-clause', 'should enforce except clause while egress access to server in CIDR block', [
    np('x', 'cidr-except', { podSelector: podA, policyTypes: ['Egress'], egress: [{ to: [{ ipBlock: { cidr: '${podCidr:y/b}', except: ['${cidr:y/b}'] } }] }] }),
  ]),
  {
    name: 'stop-enforcing-after-delete',
    description: 'should stop enforcing policies after they are deleted',
    source: 'upstream',
    tags: [],
    steps: [
      { description: 'deny all in x', actions: [{ apply: [np('x', 'deny-all', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] })] }], probe: FULL_MATRIX },
      { description: 'policy deleted', actions: [{ delete: [{ kind: 'NetworkPolicy', namespace: 'x', name: 'deny-all' }] }], probe: FULL_MATRIX },
    ],
  },
];
