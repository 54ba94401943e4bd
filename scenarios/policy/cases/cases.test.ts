import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { InvalidInputList } from '../../../harness/errors.js';
import { builtInCaseProblems, buildPolicySuite, CASE_SETS, selectCases } from '../index.js';
import { caseFeatures } from './features.js';
import { generatedCases } from './generated.js';
import { resolvePlaceholders } from './placeholders.js';
import { UPSTREAM_CASES } from './upstream.js';
import { parseCasesFile } from './user.js';

const example = fileURLToPath(new URL('../examples/cases.yaml', import.meta.url));

function problems(text: string): string[] {
  try {
    parseCasesFile(text, 'c.yaml');
  } catch (e) {
    if (e instanceof InvalidInputList) return e.problems.map((p) => p.message);
    if (e instanceof Error && 'field' in e) return [e.message];
    throw e;
  }
  return [];
}

describe('built-in policy cases', () => {
  it('obey the rules user cases obey, with unique names', () => {
    expect(builtInCaseProblems()).toEqual([]);
    const all = selectCases();
    expect(new Set(all.map((c) => c.name)).size).toBe(all.length);
  });

  it('has 25 upstream-like cases, every one probing the full matrix', () => {
    expect(UPSTREAM_CASES).toHaveLength(25);
    for (const c of UPSTREAM_CASES) for (const s of c.steps) expect(s.probe).toEqual({ matrix: {} });
  });

  it('tags every case with the features it exercises; generated cases cover every dimension in both directions', () => {
    const tags = new Set(generatedCases().flatMap(caseFeatures));
    for (const t of ['ingress', 'egress', 'deny-all', 'target-all-pods', 'target-pod-selector', 'target-match-expressions', 'peer-any', 'peer-pods', 'peer-namespaces', 'peer-all-namespaces', 'peer-pods-and-namespaces', 'ip-block-except', 'port-all', 'port-numbered', 'port-named', 'port-range', 'protocol-udp', 'protocol-sctp', 'policy-update', 'policy-delete', 'pod-labels', 'namespace-labels', 'multiple-policies']) {
      expect(tags, t).toContain(t);
    }
    expect(caseFeatures(CASE_SETS['cni-bugs']().find((c) => c.name === 'bug-sctp-only-rule-isolates')!)).toEqual(expect.arrayContaining(['cni-bug', 'protocol-sctp', 'ingress']));
    expect(caseFeatures(CASE_SETS.cilium().find((c) => c.name === 'cilium-ingress-deny-overrides-allow')!)).toEqual(expect.arrayContaining(['ciliumnetworkpolicy', 'deny-rule', 'entity-all']));
  });

  it('builds one scenario per case, each with one check per step', () => {
    const suite = buildPolicySuite({ sets: ['upstream'] });
    expect(suite.scenarios.map((s) => s.name)).toEqual(UPSTREAM_CASES.map((c) => c.name));
    expect(typeof suite.prepare).toBe('function');
  });
});

describe('user cases (--cases FILE)', () => {
  it('parses the documented example', () => {
    const cases = parseCasesFile(readFileSync(example, 'utf8'), 'cases.yaml');
    expect(cases.map((c) => c.name)).toEqual(['y-only-from-x-on-tcp-80', 'clients-to-world-a-only']);
    expect(cases[0]!.steps.map((s) => s.actions.map((a) => Object.keys(a)[0]))).toEqual([['apply'], ['setNamespaceLabels'], ['delete']]);
    expect(cases[0]!.steps[1]!.probe).toEqual({ matrix: { ports: [80], protocols: ['TCP'] } });
    expect(cases[1]!.steps[0]!.probe).toEqual({ targets: { from: ['cilium-test/client'], to: ['external/world-a', 'external/world-b', 'cilium-test/echo-other-node', 'node/${node:0}'], ports: [8080], protocols: ['TCP'] } });
    expect(caseFeatures(cases[0]!)).toEqual(expect.arrayContaining(['team-policy', 'namespace-labels', 'policy-delete', 'multiple-policies']));
  });

  it.each([
    ['cases: []', 'c.yaml: cases: the file has no case'],
    ['cases: [{name: A, steps: [{}]}]', 'c.yaml: cases[0].name: expected a lower-case name of letters, digits and "-"'],
    ['cases: [{name: a, steps: [{aply: []}]}]', 'c.yaml: cases[0].steps[0].aply: unknown field'],
    ['cases: [{name: a, steps: []}]', 'c.yaml: cases[0].steps: a case needs at least one step'],
    ['cases: [{name: a, steps: [{probe: {ports: [0]}}]}]', 'c.yaml: cases[0].steps[0].probe.ports[0]: expected a port number 1..65535'],
    ['cases: [{name: a, steps: [{setPodLabels: {pod: x/q, labels: {}}}]}]', 'c.yaml: cases[0].steps[0].setPodLabels.pod: "x/q" is not a pod of the policy workload'],
    ['cases: [{name: a, steps: [{probe: {from: [x/a], to: [external/mars], ports: [80]}}]}]', 'c.yaml: cases[0].steps[0].probe.to[0]: "external/mars": the external hosts are world-a, world-b'],
    ['cases: [{name: a, steps: [{apply: [{apiVersion: v1, kind: Pod, metadata: {name: p}}]}]}]', 'c.yaml: cases[0].steps[0].apply[0].kind: a case applies NetworkPolicy or CiliumNetworkPolicy objects'],
    ['cases: [{name: a, steps: [{apply: [{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: p, namespace: q}, spec: {}}]}]}]', 'c.yaml: cases[0].steps[0].apply[0].metadata.namespace: expected one of the workload\'s namespaces x, y, z, cilium-test'],
    ['cases: [{name: a, steps: [{apply: [{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: p, namespace: x}, spec: {egress: [{ports: [{port: 90, endPort: 80}]}]}}]}]}]', 'c.yaml: cases[0].steps[0].apply[0]: spec.egress[0].ports[0].endPort: must be at least port (90), got 80'],
    ['cases: [{name: a, steps: [{apply: [{apiVersion: cilium.io/v2, kind: CiliumNetworkPolicy, metadata: {name: p, namespace: x}, spec: {endpointSelector: {}, egress: [{toCIDR: ["${ip:x/zz}/32"]}]}}]}]}]', 'c.yaml: cases[0].steps: ${ip:x/zz}: no such workload pod'],
    ['cases: [{name: a, steps: [{}]}, {name: a, steps: [{}]}]', 'c.yaml: cases[1].name: case "a" is defined twice'],
    ['cases: [{name: a, steps: [{}]]', 'c.yaml, line 1, column 30: not valid YAML: Flow map in block collection must be sufficiently indented and end with a }'],
  ])('rejects %s', (text, message) => {
    const out = problems(text);
    expect(out.length, out.join('\n')).toBeGreaterThan(0);
    expect(out.some((p) => p.startsWith(message)), out.join('\n')).toBe(true);
  });

  it('a user case may not reuse a built-in name', () => {
    const [c] = parseCasesFile('cases: [{name: default-deny-ingress, steps: [{}]}]', 'c.yaml');
    expect(() => selectCases({ cases: [c!] })).toThrow(/defined twice/);
  });
});

describe('placeholders', () => {
  it('resolve against the cluster, and an unknown reference is bad input naming where it is', () => {
    const lookup = { podIp: (k: string) => (k === 'y/b' ? '198.19.2.11' : undefined), podCidr: () => '198.19.2.0/24', node: (i: number) => ['node1', 'node2'][i], external: (n: string) => (n === 'world-a' ? '198.18.0.254' : undefined) };
    expect(resolvePlaceholders({ a: ['${cidr:y/b}', '${podCidr:y/b}', 'node/${node:1}', '${external:world-a}/30', 'plain'] }, lookup)).toEqual({ a: ['198.19.2.11/32', '198.19.2.0/24', 'node/node2', '198.18.0.254/30', 'plain'] });
    expect(() => resolvePlaceholders({ a: ['${ip:x/a}'] }, lookup, 'case c')).toThrow('case c.a[0]: ${ip:x/a} refers to nothing in this cluster');
  });
});
