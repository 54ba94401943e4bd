import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { InvalidInputList } from '../errors.js';
import {
  matchLabelSelector,
  normalizeObject,
  objectKey,
  parseManifests,
  resolveKind,
  resolveNamedPort,
  validateObject,
  type LabelSelector,
  type NetworkPolicy,
  type Pod,
  type Service,
} from './objects.js';

const pod = (over: Record<string, unknown> = {}, spec: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'a', namespace: 'x', labels: { pod: 'a' }, ...over },
  spec: { containers: [{ name: 'c', image: 'agnhost', ports: [{ name: 'serve-80-tcp', containerPort: 80 }] }], ...spec },
});
const netpol = (spec: unknown) => ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'p', namespace: 'x' }, spec });

/** The messages of the problems validateObject (or parseManifests) reports. */
function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof InvalidInputList) return e.problems.map((p) => p.message);
    throw e;
  }
  throw new Error('expected InvalidInputList, nothing was thrown');
}
const invalid = (obj: unknown) => problems(() => validateObject(obj, 'f.yaml: document 1'));

describe('validateObject', () => {
  it('accepts good objects, keeps unknown Kubernetes fields and normalizes', () => {
    const p = validateObject(pod({}, { terminationGracePeriodSeconds: 0 }), 'w') as Pod;
    expect(p.spec.restartPolicy).toBe('Always');
    expect(p.spec.containers[0]!.ports![0]!.protocol).toBe('TCP');
    expect(p.spec.terminationGracePeriodSeconds).toBe(0);

    const noNs = validateObject(pod({ namespace: undefined }), 'w');
    expect(noNs.metadata.namespace).toBe('default');

    const ns = validateObject({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x', labels: { ns: 'x' } } }, 'w');
    expect(ns.metadata.labels).toEqual({ ns: 'x', 'kubernetes.io/metadata.name': 'x' });
    expect(ns.metadata.namespace).toBeUndefined();

    const svc = validateObject(
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 's', namespace: 'x' }, spec: { selector: { pod: 'a' }, ports: [{ port: 80 }] } },
      'w',
    ) as Service;
    expect(svc.spec).toMatchObject({ type: 'ClusterIP', ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }] });

    const np = validateObject(netpol({ egress: [{ ports: [{ port: 53, protocol: 'UDP' }, { port: 'serve-80-tcp' }] }] }), 'w') as NetworkPolicy;
    expect(np.spec.podSelector).toEqual({});
    expect(np.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(np.spec.egress![0]!.ports).toEqual([{ port: 53, protocol: 'UDP' }, { port: 'serve-80-tcp', protocol: 'TCP' }]);

    const cnp = {
      apiVersion: 'cilium.io/v2',
      kind: 'CiliumNetworkPolicy',
      metadata: { name: 'c', namespace: 'x' },
      spec: { endpointSelector: { matchLabels: { 'k8s:pod': 'a' } }, ingress: [{ fromEndpoints: [{ matchLabels: { 'any:pod': 'b' } }] }] },
    };
    expect(validateObject(cnp, 'w').metadata.namespace).toBe('x');
  });

  it('normalizeObject is idempotent and does not modify its input', () => {
    const raw = pod();
    const once = normalizeObject(raw as never);
    expect(normalizeObject(once)).toEqual(once);
    expect((raw.spec.containers[0]!.ports[0] as { protocol?: string }).protocol).toBeUndefined();
  });

  it.each([
    ['A_b', /metadata\.name: "A_b" is not a valid name/],
    ['../etc', /metadata\.name: "\.\.\/etc" is not a valid name/],
    ['a'.repeat(64), /metadata\.name: .* is 64 characters; at most 63/],
  ])('rejects pod name %s', (name, re) => {
    const msgs = invalid(pod({ name }));
    expect(msgs).toHaveLength(1);
    expect(msgs[0]).toMatch(/^f\.yaml: document 1: /);
    expect(msgs[0]).toMatch(re);
  });

  it('names the field of each problem, and reports them all at once', () => {
    expect(invalid(pod({}, { containers: undefined }))).toEqual(['f.yaml: document 1: spec.containers: required']);
    expect(invalid(pod({}, { containers: [] }))).toEqual(['f.yaml: document 1: spec.containers: at least one container is required']);
    expect(invalid(pod({}, { containers: [{ name: 'c' }] }))).toEqual(['f.yaml: document 1: spec.containers[0].image: required']);
    expect(invalid(pod({}, { containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 80 }, { containerPort: 'http' }] }] }))).toEqual([
      'f.yaml: document 1: spec.containers[0].ports[1].containerPort: expected an integer 1..65535, got "http"',
    ]);
    expect(invalid(pod({}, { containers: [{ name: 'c', image: 'i' }, { name: 'c', image: 'j' }] }))).toEqual([
      'f.yaml: document 1: spec.containers[1].name: duplicate container name "c"; names must be unique in a pod',
    ]);
    const many = invalid(pod({ name: 'Bad', labels: { 'pod!': 'a', ok: 'x y' } }, { containers: [{ name: 'c', image: 3, ports: [{ containerPort: 0, protocol: 'ICMP' }] }] }));
    expect(many).toHaveLength(6);
    expect(many.join('\n')).toMatch(/metadata\.labels\["pod!"\]: invalid label key/);
    expect(many.join('\n')).toMatch(/metadata\.labels\.ok: invalid label value "x y"/);
    expect(many.join('\n')).toMatch(/spec\.containers\[0\]\.ports\[0\]\.protocol: expected one of TCP, UDP, SCTP, got "ICMP"/);
    expect(invalid(pod({}, { containers: [{ name: 'c', image: 'i', ports: [{ name: 'serve_80', containerPort: 80 }] }] }))[0]).toMatch(
      /ports\[0\]\.name: expected a port name/,
    );
  });

  it('rejects unknown kinds, missing metadata and a namespaced Namespace', () => {
    expect(invalid({ apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'd' } })[0]).toMatch(/document 1: kind: unsupported kind "StatefulSet"; supported: Namespace, Pod/);
    expect(invalid({ ...pod(), kind: 'pod' })[0]).toMatch(/did you mean "Pod"/);
    expect(invalid({ apiVersion: 'v1', kind: 'Pod', spec: pod().spec })).toEqual(['f.yaml: document 1: metadata: required']);
    expect(invalid({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x', namespace: 'y' } })).toEqual([
      'f.yaml: document 1: metadata.namespace: a Namespace is cluster-scoped and cannot have a namespace',
    ]);
    expect(invalid({ ...pod(), apiVersion: 'v2' })).toEqual(['f.yaml: document 1: apiVersion: expected "v1" for a Pod, got "v2"']);
    expect(invalid('hello')[0]).toMatch(/\(top level\): expected a mapping/);
  });

  it('validates Services', () => {
    const svc = (spec: unknown) => ({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec });
    expect(invalid(svc({ ports: [] }))).toEqual(['f.yaml: document 1: spec.ports: a Service needs at least one port']);
    expect(invalid(svc({ ports: [{ port: 80 }, { port: 81, name: 'b' }] }))).toEqual(['f.yaml: document 1: spec.ports[0].name: required when a Service has more than one port']);
    expect(invalid(svc({ ports: [{ port: 80, nodePort: 30080 }] }))[0]).toMatch(/spec\.ports\[0\]\.nodePort: only allowed with type NodePort/);
    expect(invalid(svc({ type: 'NodePort', ports: [{ port: 80, nodePort: 80 }] }))[0]).toMatch(/nodePort: expected an integer 30000\.\.32767, got 80/);
    expect(invalid(svc({ type: 'LoadBalancer', ports: [{ port: 80 }] }))[0]).toMatch(/spec\.type: unsupported Service type "LoadBalancer" \(cnilab implements ClusterIP and NodePort\)/);
    expect(() => validateObject(svc({ clusterIP: 'None', ports: [{ port: 80, targetPort: 'serve-80-tcp' }] }), 'w')).not.toThrow();
  });

  it('validates NetworkPolicies', () => {
    expect(invalid(netpol({ podSelector: { matchExpressions: [{ key: 'pod', operator: 'Equals', values: ['a'] }] } }))).toEqual([
      'f.yaml: document 1: spec.podSelector.matchExpressions[0].operator: expected one of In, NotIn, Exists, DoesNotExist, got "Equals"',
    ]);
    expect(invalid(netpol({ podSelector: { matchExpressions: [{ key: 'pod', operator: 'In' }] } }))[0]).toMatch(/matchExpressions\[0\]\.values: at least one value/);
    expect(invalid(netpol({ podSelector: { matchExpressions: [{ key: 'pod', operator: 'Exists', values: ['a'] }] } }))[0]).toMatch(/values: must be empty/);
    expect(invalid(netpol({ ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/16', except: ['10.1.0.0/24'] } }] }] }))).toEqual([
      'f.yaml: document 1: spec.ingress[0].from[0].ipBlock.except[0]: 10.1.0.0/24 is not inside cidr 10.0.0.0/16 (except must carve a strict subset out of it)',
    ]);
    expect(invalid(netpol({ ingress: [{ from: [{ ipBlock: { cidr: '10.0.0/16' } }] }] }))[0]).toMatch(/ipBlock\.cidr: expected a CIDR/);
    expect(invalid(netpol({ egress: [{ ports: [{ endPort: 90 }] }] }))).toEqual(['f.yaml: document 1: spec.egress[0].ports[0].endPort: requires a numeric port (a range starts at port)']);
    expect(invalid(netpol({ egress: [{ ports: [{ port: 'http', endPort: 90 }] }] }))[0]).toMatch(/endPort: requires a numeric port/);
    expect(invalid(netpol({ egress: [{ ports: [{ port: 100, endPort: 90 }] }] }))[0]).toMatch(/endPort: must be at least port \(100\)/);
    expect(invalid(netpol({ ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8' }, podSelector: {} }] }] }))[0]).toMatch(/from\[0\]\.ipBlock: may not be combined/);
    expect(invalid(netpol({ ingress: [{ from: [{}] }] }))[0]).toMatch(/from\[0\]: a peer needs podSelector/);
    // A typo must not silently widen a policy.
    expect(invalid(netpol({ podSelector: { matchLabel: { pod: 'a' } } }))).toEqual(['f.yaml: document 1: spec.podSelector.matchLabel: unknown field']);
    expect(invalid(netpol({ policyTypes: ['Ingress', 'Ingress'] }))[0]).toMatch(/spec\.policyTypes: lists a policy type twice/);
    // Kubernetes accepts host bits in ipBlock.cidr, and IPv6 blocks.
    expect(() => validateObject(netpol({ ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.1/16', except: ['10.0.5.0/24'] } }, { ipBlock: { cidr: 'fd00::/64' } }] }] }), 'w')).not.toThrow();
  });

  it('validates CiliumNetworkPolicies shallowly', () => {
    const cnp = (rest: Record<string, unknown>) => ({ apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'c' }, ...rest });
    expect(invalid(cnp({}))).toEqual(['f.yaml: document 1: spec: required (or specs)']);
    expect(invalid(cnp({ spec: { ingress: [] } }))).toEqual(['f.yaml: document 1: spec.endpointSelector: required']);
    expect(invalid(cnp({ specs: [{ endpointSelector: {}, egress: ['x'] }] }))[0]).toMatch(/specs\[0\]\.egress\[0\]: expected a mapping, got "x"/);
  });
});

describe('parseManifests', () => {
  const goodNs = 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n';

  it('parses multi-document YAML, skipping empty documents and expanding Lists', () => {
    const text = `---\n${goodNs}---\n# only a comment\n---\napiVersion: v1\nkind: List\nitems:\n  - ${JSON.stringify(pod())}\n---\n`;
    const objs = parseManifests(text, 'f.yaml');
    expect(objs.map(objectKey)).toEqual(['Namespace//x', 'Pod/x/a']);
  });

  it('names source, document, object and field', () => {
    const bad = pod({}, { containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 80 }, { containerPort: 'http' }] }] });
    const text = `${goodNs}---\n---\n${JSON.stringify(bad)}\n`;
    expect(problems(() => parseManifests(text, 'xyz.yaml'))).toEqual([
      'xyz.yaml: document 3 (Pod x/a): spec.containers[0].ports[1].containerPort: expected an integer 1..65535, got "http"',
    ]);
  });

  it('reports malformed YAML with its line', () => {
    const msgs = problems(() => parseManifests(`${goodNs}---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n   bad: [\n`, 'f.yaml'));
    expect(msgs.length).toBeGreaterThan(0);
    expect(msgs[0]).toMatch(/^f\.yaml: document 2, line \d+, column \d+: not valid YAML: /);
    expect(problems(() => parseManifests('a: 1\na: 2\n', 'f.yaml'))[0]).toMatch(/document 1, line 2, column 1: not valid YAML: Map keys must be unique/);
  });

  it('reports a bad List item and every other problem, applying nothing', () => {
    const text = `apiVersion: v1\nkind: List\nitems:\n  - ${JSON.stringify(pod())}\n  - ${JSON.stringify(pod({ name: 'b' }, { containers: [{ name: 'c' }] }))}\n---\n- 1\n`;
    expect(problems(() => parseManifests(text, 'f.yaml'))).toEqual([
      'f.yaml: document 1 items[1] (Pod x/b): spec.containers[0].image: required',
      'f.yaml: document 2: (top level): expected a mapping with apiVersion, kind and metadata, got a list',
    ]);
  });

  it('rejects an object defined twice and drops user-written status', () => {
    const text = `${JSON.stringify({ ...pod(), status: { phase: 'Running' } })}\n---\n${JSON.stringify(pod())}\n`;
    expect(problems(() => parseManifests(text, 'f.yaml'))).toEqual(['f.yaml: document 2 (Pod x/a): metadata.name: Pod "a" is already defined in document 1']);
    expect(parseManifests(`${JSON.stringify({ ...pod(), status: { phase: 'Running' } })}\n`, 'f.yaml')[0]!.status).toBeUndefined();
  });

  it('accepts scenarios/manifests/xyz.yaml: 3 namespaces and 9 pods of 4 agnhost containers', () => {
    const file = fileURLToPath(new URL('../../scenarios/manifests/xyz.yaml', import.meta.url));
    const objs = parseManifests(readFileSync(file, 'utf8'), 'xyz.yaml');
    expect(objs).toHaveLength(12);
    expect(objs.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.labels)).toEqual(
      ['x', 'y', 'z'].map((n) => ({ 'kubernetes.io/metadata.name': n, ns: n })),
    );
    const pods = objs.filter((o): o is Pod => o.kind === 'Pod');
    expect(pods.map((p) => `${p.metadata.namespace}/${p.metadata.name}`)).toEqual(['x/a', 'x/b', 'x/c', 'y/a', 'y/b', 'y/c', 'z/a', 'z/b', 'z/c']);
    for (const p of pods) {
      expect(p.metadata.labels).toEqual({ pod: p.metadata.name });
      expect(p.spec.nodeName).toBeUndefined();
      expect(p.spec.containers.map((c) => c.name)).toEqual(['cont-80-tcp', 'cont-80-udp', 'cont-81-tcp', 'cont-81-udp']);
      expect(resolveNamedPort(p, 'serve-81-udp', 'UDP')).toBe(81);
      expect(resolveNamedPort(p, 'serve-81-udp', 'TCP')).toBeUndefined();
    }
    expect(pods[0]!.spec.containers[1]).toMatchObject({ command: ['/agnhost'], args: ['serve-hostname', '--udp', '--http=false', '--port', '80'], ports: [{ name: 'serve-80-udp', containerPort: 80, protocol: 'UDP' }] });
  });
});

describe('helpers', () => {
  it('matchLabelSelector follows Kubernetes semantics', () => {
    const labels = { pod: 'a', tier: 'web' };
    const m = (s: LabelSelector, l: Record<string, string> | undefined = labels) => matchLabelSelector(s, l);
    expect(m({})).toBe(true);
    expect(m({}, undefined)).toBe(true);
    expect(m({ matchLabels: { pod: 'a' } })).toBe(true);
    expect(m({ matchLabels: { pod: 'a', tier: 'db' } })).toBe(false);
    expect(m({ matchExpressions: [{ key: 'pod', operator: 'In', values: ['a', 'b'] }] })).toBe(true);
    expect(m({ matchExpressions: [{ key: 'ns', operator: 'In', values: ['a'] }] })).toBe(false);
    expect(m({ matchExpressions: [{ key: 'pod', operator: 'NotIn', values: ['b'] }] })).toBe(true);
    expect(m({ matchExpressions: [{ key: 'absent', operator: 'NotIn', values: ['b'] }] })).toBe(true);
    expect(m({ matchExpressions: [{ key: 'pod', operator: 'NotIn', values: ['a'] }] })).toBe(false);
    expect(m({ matchExpressions: [{ key: 'tier', operator: 'Exists' }] })).toBe(true);
    expect(m({ matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] })).toBe(false);
    expect(m({ matchExpressions: [{ key: 'constructor', operator: 'Exists' }] })).toBe(false);
    // matchLabels AND matchExpressions
    expect(m({ matchLabels: { pod: 'a' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['db'] }] })).toBe(false);
  });

  it('objectKey and resolveKind', () => {
    expect(objectKey({ kind: 'Pod', metadata: { name: 'a' } })).toBe('Pod/default/a');
    expect(objectKey({ kind: 'Namespace', metadata: { name: 'x' } })).toBe('Namespace//x');
    expect(['po', 'SVC', 'netpol', 'cnp', 'ns', 'pods'].map(resolveKind)).toEqual(['Pod', 'Service', 'NetworkPolicy', 'CiliumNetworkPolicy', 'Namespace', 'Pod']);
    expect(resolveKind('deployments')).toBeUndefined();
    expect(resolveKind('constructor')).toBeUndefined();
  });
});
