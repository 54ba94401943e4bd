import { describe, expect, it } from 'vitest';
import { InvalidInputList } from '../errors.js';
import { validateObject, type CiliumNetworkPolicy } from './objects.js';

const cnp = (spec: unknown, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'cilium.io/v2',
  kind: 'CiliumNetworkPolicy',
  metadata: { name: 'c', namespace: 'x' },
  spec,
  ...extra,
});
const sel = { matchLabels: { pod: 'a' } };

function problems(obj: unknown): string[] {
  try {
    validateObject(obj, 'f.yaml: document 1');
  } catch (e) {
    if (e instanceof InvalidInputList) return e.problems.map((p) => p.message);
    throw e;
  }
  return [];
}

describe('CiliumNetworkPolicy validation', () => {
  it('accepts the whole supported subset', () => {
    const spec = {
      description: 'every feature at once',
      endpointSelector: { matchLabels: { 'k8s:pod': 'a' }, matchExpressions: [{ key: 'k8s:io.kubernetes.pod.namespace', operator: 'In', values: ['x'] }] },
      ingress: [
        { fromEndpoints: [{ matchLabels: { 'any:pod': 'b', 'k8s:io.kubernetes.pod.namespace': 'y' } }, {}], toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }, { port: 81 }] }] },
        { fromEntities: ['world', 'host', 'remote-node', 'cluster', 'all'] },
        { fromCIDR: ['198.18.0.0/24', '10.0.0.1/32'] },
        { fromCIDRSet: [{ cidr: '198.18.0.0/24', except: ['198.18.0.250/32'] }], toPorts: [{ ports: [{ port: '80', endPort: 90, protocol: 'ANY' }] }] },
        {},
      ],
      ingressDeny: [{ fromEndpoints: [sel], toPorts: [{ ports: [{ port: 'serve-80-tcp', protocol: 'TCP' }] }] }],
      egress: [{ toEndpoints: [{}] }, { toEntities: ['world'] }, { toCIDR: ['1.1.1.1/32'] }, { toCIDRSet: [{ cidr: '1.0.0.0/8', except: ['1.0.0.1/32'] }] }, { toPorts: [{ ports: [{ port: '0', protocol: 'UDP' }] }] }],
      egressDeny: [{ toEntities: ['host'] }],
    };
    expect(problems(cnp(spec))).toEqual([]);
    expect(problems(cnp(undefined, { specs: [spec, { endpointSelector: {} }] }))).toEqual([]);
    expect((validateObject(cnp(spec), 'w') as CiliumNetworkPolicy).spec!.ingress).toHaveLength(5);
  });

  it.each([
    // [spec, exact problem after "f.yaml: document 1: "]
    [{ endpointSelector: {}, ingres: [] }, 'spec.ingres: unknown field'],
    [{ endpointSelector: { matchLabel: { pod: 'a' } } }, 'spec.endpointSelector.matchLabel: unknown field'],
    [{ endpointSelector: {}, ingress: [{ fromEndpoint: [sel] }] }, 'spec.ingress[0].fromEndpoint: unknown field'],
    [{ endpointSelector: {}, egress: [{ fromEndpoints: [sel] }] }, 'spec.egress[0].fromEndpoints: unknown field'],
    [{ endpointSelector: {}, ingress: [{ toPorts: [{ ports: [{ port: '80', proto: 'TCP' }] }] }] }, 'spec.ingress[0].toPorts[0].ports[0].proto: unknown field'],
    [{ ingress: [] }, 'spec.endpointSelector: required'],
    [{ endpointSelector: { matchExpressions: [{ key: 'pod', operator: 'Equals', values: ['a'] }] } }, 'spec.endpointSelector.matchExpressions[0].operator: expected one of In, NotIn, Exists, DoesNotExist, got "Equals"'],
    [{ endpointSelector: {}, ingress: [{ fromEndpoints: [{ matchExpressions: [{ key: 'pod', operator: 'in', values: ['a'] }] }] }] }, 'spec.ingress[0].fromEndpoints[0].matchExpressions[0].operator: expected one of In, NotIn, Exists, DoesNotExist, got "in"'],
    [{ endpointSelector: {}, egress: [{ toEndpoints: [{ matchExpressions: [{ key: 'pod', operator: 'NotIn' }] }] }] }, 'spec.egress[0].toEndpoints[0].matchExpressions[0].values: at least one value is required with operator NotIn'],
    [{ endpointSelector: {}, egress: [{ toCIDR: ['10.0.0/8'] }] }, 'spec.egress[0].toCIDR[0]: expected a CIDR like 10.0.0.0/16, got "10.0.0/8"'],
    [{ endpointSelector: {}, egress: [{ toCIDR: ['10.0.0.1'] }] }, 'spec.egress[0].toCIDR[0]: expected a CIDR like 10.0.0.0/16, got "10.0.0.1"'],
    [{ endpointSelector: {}, ingress: [{ fromCIDR: ['300.0.0.0/8'] }] }, 'spec.ingress[0].fromCIDR[0]: expected a CIDR like 10.0.0.0/16, got "300.0.0.0/8"'],
    [{ endpointSelector: {}, egress: [{ toCIDRSet: [{ cidr: '10.0.0.0/33' }] }] }, 'spec.egress[0].toCIDRSet[0].cidr: expected a CIDR like 10.0.0.0/16, got "10.0.0.0/33"'],
    [{ endpointSelector: {}, egress: [{ toCIDRSet: [{ cidr: '10.0.0.0/8', except: ['10.1.0.0/x'] }] }] }, 'spec.egress[0].toCIDRSet[0].except[0]: expected a CIDR like 10.0.0.0/16, got "10.1.0.0/x"'],
    [{ endpointSelector: {}, egress: [{ toCIDRSet: [{ cidr: '10.0.0.0/8', except: ['11.0.0.0/16'] }] }] }, 'spec.egress[0].toCIDRSet[0].except[0]: 11.0.0.0/16 is not inside cidr 10.0.0.0/8 (except must carve a strict subset out of it)'],
    [{ endpointSelector: {}, egress: [{ toCIDRSet: [{ except: ['10.0.0.0/16'] }] }] }, 'spec.egress[0].toCIDRSet[0].cidr: required'],
    [{ endpointSelector: {}, ingress: [{ toPorts: [{ ports: [{ port: '65536' }] }] }] }, 'spec.ingress[0].toPorts[0].ports[0].port: expected an integer 0..65535, got 65536'],
    [{ endpointSelector: {}, ingress: [{ toPorts: [{ ports: [{ port: -1 }] }] }] }, 'spec.ingress[0].toPorts[0].ports[0].port: expected an integer 0..65535, got -1'],
    [{ endpointSelector: {}, ingress: [{ toPorts: [{ ports: [{ port: '80', endPort: 70 }] }] }] }, 'spec.ingress[0].toPorts[0].ports[0].endPort: must be at least port (80), got 70'],
    [{ endpointSelector: {}, ingress: [{ toPorts: [{ ports: [{ port: '80', endPort: 70000 }] }] }] }, 'spec.ingress[0].toPorts[0].ports[0].endPort: expected an integer 1..65535, got 70000'],
    [{ endpointSelector: {}, ingress: [{ toPorts: [{ ports: [{ port: 'http', endPort: 90 }] }] }] }, 'spec.ingress[0].toPorts[0].ports[0].endPort: requires a numeric port (a range starts at port), got the named port "http"'],
    [{ endpointSelector: {}, ingress: [{ toPorts: [{ ports: [{ port: '0', endPort: 90 }] }] }] }, 'spec.ingress[0].toPorts[0].ports[0].endPort: requires a port other than 0 (port 0 already means every port)'],
    [{ endpointSelector: {}, ingress: [{ toPorts: [{ ports: [{ port: '80', protocol: 'ICMP' }] }] }] }, 'spec.ingress[0].toPorts[0].ports[0].protocol: expected one of TCP, UDP, SCTP, ANY, got "ICMP"'],
    [{ endpointSelector: {}, ingress: [{ toPorts: [{ ports: [{ port: 'Bad_Name' }] }] }] }, 'spec.ingress[0].toPorts[0].ports[0].port: expected a port name (at most 15 lower-case letters, digits and \'-\', with at least one letter), got "Bad_Name"'],
    [{ endpointSelector: {}, ingress: [{ toPorts: [{ ports: [] }] }] }, 'spec.ingress[0].toPorts[0].ports: at least one port is required'],
    [{ endpointSelector: {}, ingress: [{ toPorts: [{}] }] }, 'spec.ingress[0].toPorts[0].ports: required'],
    [{ endpointSelector: {}, egress: [{ toEntities: ['internet'] }] }, 'spec.egress[0].toEntities[0]: expected one of world, host, remote-node, cluster, all, got "internet"'],
    [{ endpointSelector: {}, egress: [{ toEntities: ['kube-apiserver'] }] }, 'spec.egress[0].toEntities[0]: entity "kube-apiserver" is not supported by cnilab (needs an API server endpoint)'],
    [{ endpointSelector: {}, egress: [{ toFQDNs: [{ matchName: 'example.com' }] }] }, 'spec.egress[0].toFQDNs: not supported by cnilab (a DNS proxy)'],
    [{ endpointSelector: {}, ingress: [{ toPorts: [{ ports: [{ port: '80' }], rules: { http: [{}] } }] }] }, 'spec.ingress[0].toPorts[0].rules: not supported by cnilab (L7 rules need a proxy)'],
    [{ endpointSelector: {}, enableDefaultDeny: { ingress: false } }, 'spec.enableDefaultDeny: not supported by cnilab (default-deny overrides; a rule with ingress or egress sections always enables default deny in that direction)'],
    [{ endpointSelector: {}, ingress: [{ fromEndpoints: [sel], fromCIDR: ['10.0.0.0/8'] }] }, 'spec.ingress[0].fromCIDR: cannot be combined with fromEndpoints in one rule (Cilium rejects it too); write two rules'],
    [{ endpointSelector: { matchLabels: { 'k8s:bad key': 'a' } } }, 'spec.endpointSelector.matchLabels["k8s:bad key"]: invalid label key "bad key": the name must be 1..63 letters, digits, \'-\', \'_\' or \'.\', starting and ending alphanumeric'],
    [{ endpointSelector: {}, ingress: 'all' }, 'spec.ingress: expected a list, got "all"'],
  ])('rejects %j', (spec, message) => {
    expect(problems(cnp(spec))).toEqual([`f.yaml: document 1: ${message}`]);
  });

  it('reports every problem of a policy at once, across specs', () => {
    const out = problems(cnp(undefined, { specs: [{ endpointSelector: {}, egress: [{ toCIDR: ['x'] }] }, { ingressDeny: [{ fromEntities: ['mars'] }] }] }));
    expect(out).toEqual([
      'f.yaml: document 1: specs[0].egress[0].toCIDR[0]: expected a CIDR like 10.0.0.0/16, got "x"',
      'f.yaml: document 1: specs[1].ingressDeny[0].fromEntities[0]: expected one of world, host, remote-node, cluster, all, got "mars"',
      'f.yaml: document 1: specs[1].endpointSelector: required',
    ]);
  });
});
