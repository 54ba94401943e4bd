// Property tests of policy validation at `cnilab apply`: no input crashes the parser (only the
// InvalidInputList that becomes exit 2 may come out), and every rejection names a field — the one
// that was broken or a field around it, never an anonymous "something is wrong".
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidInputList } from '../errors.js';
import { formatPath, parseManifests, validateObject } from './objects.js';

const WHERE = 'p.yaml: document 1';

const NETPOL = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'np', namespace: 'x', labels: { team: 'a' } },
  spec: {
    podSelector: { matchLabels: { pod: 'a' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['web'] }] },
    policyTypes: ['Ingress', 'Egress'],
    ingress: [
      { from: [{ podSelector: { matchLabels: { pod: 'b' } }, namespaceSelector: { matchLabels: { ns: 'y' } } }, { ipBlock: { cidr: '10.0.0.0/16', except: ['10.0.1.0/24'] } }], ports: [{ protocol: 'TCP', port: 80, endPort: 90 }, { port: 'serve-81-udp', protocol: 'UDP' }] },
    ],
    egress: [{ to: [{ namespaceSelector: {} }], ports: [{ port: 53, protocol: 'UDP' }] }],
  },
};

const CNP = {
  apiVersion: 'cilium.io/v2',
  kind: 'CiliumNetworkPolicy',
  metadata: { name: 'cnp', namespace: 'x' },
  spec: {
    endpointSelector: { matchLabels: { 'k8s:pod': 'a' } },
    ingress: [
      { fromEndpoints: [{ matchLabels: { 'k8s:io.kubernetes.pod.namespace': 'y' } }], toPorts: [{ ports: [{ port: '80', endPort: 81, protocol: 'TCP' }] }] },
      { fromEntities: ['world', 'host'] },
    ],
    ingressDeny: [{ fromCIDRSet: [{ cidr: '198.18.0.0/24', except: ['198.18.0.250/32'] }] }],
    egress: [{ toCIDR: ['1.1.1.1/32'] }, { toEndpoints: [{ matchExpressions: [{ key: 'pod', operator: 'NotIn', values: ['c'] }] }] }],
    egressDeny: [{ toPorts: [{ ports: [{ port: 'serve-80-tcp' }] }] }],
  },
};

type Path = (string | number)[];

/** Every path to a value inside `v` (objects and arrays included), root excluded. */
function paths(v: unknown, at: Path = []): Path[] {
  if (Array.isArray(v)) return v.flatMap((x, i) => [[...at, i], ...paths(x, [...at, i])]);
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => [[...at, k], ...paths(x, [...at, k])]);
  return [];
}

function setAt(root: unknown, path: Path, value: unknown): unknown {
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let cur = copy;
  for (const k of path.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>;
  cur[path[path.length - 1]!] = value;
  return copy;
}

/** Values a careless or hostile author might put anywhere. */
const garbage = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom('', 'In', 'in', 'ANY', 'TCP', 'world', '10.0.0.0/8', '10.0.0/8', '::/0', '1.2.3.4/40', 'serve-80-tcp', 'Bad_Name', '-1', '65536', '0', 'constructor', '__proto__'),
  fc.constantFrom(0, -1, 65535, 65536, 1.5, Number.MAX_SAFE_INTEGER, null, true, [], {}, [{}], { matchLabels: 1 }),
);

/** Run validation and return the problems; anything but InvalidInputList escaping is a crash. */
function validate(obj: unknown): string[] {
  try {
    validateObject(obj, WHERE);
    return [];
  } catch (e) {
    if (e instanceof InvalidInputList) return e.problems.map((p) => p.field);
    throw e;
  }
}

/** The field names the broken spot, something inside it, or a field beside it under the same parent. */
function namesNear(field: string, broken: Path): boolean {
  const parent = broken.slice(0, -1);
  if (parent.length === 0) return field.length > `${WHERE}: `.length;
  const prefix = `${WHERE}: ${formatPath(parent)}`;
  return field === prefix || field.startsWith(`${prefix}.`) || field.startsWith(`${prefix}[`);
}

describe('policy validation properties', () => {
  it('the templates are valid', () => {
    expect(validate(NETPOL)).toEqual([]);
    expect(validate(CNP)).toEqual([]);
  });

  for (const [kind, template] of [['NetworkPolicy', NETPOL], ['CiliumNetworkPolicy', CNP]] as const) {
    it(`${kind}: a value replaced anywhere never crashes, and every rejection names a field near it`, () => {
      const all = paths(template).filter((p) => p[0] !== 'apiVersion' && p[0] !== 'kind');
      fc.assert(
        fc.property(fc.constantFrom(...all), garbage, (path, value) => {
          const fields = validate(setAt(template, path, value));
          for (const f of fields) {
            expect(f.startsWith(`${WHERE}: `), f).toBe(true);
            expect(namesNear(f, path), `${f} for a change at ${formatPath(path)}`).toBe(true);
          }
        }),
        { numRuns: 1500 },
      );
    });

    it(`${kind}: an unknown key added to any mapping is rejected by name`, () => {
      const maps = paths(template).filter((p) => {
        let v: unknown = template;
        for (const k of p) v = (v as Record<string | number, unknown>)[k];
        return v !== null && typeof v === 'object' && !Array.isArray(v) && !['metadata', 'labels', 'matchLabels'].includes(String(p[p.length - 1]));
      });
      fc.assert(
        fc.property(fc.constantFrom(...maps.filter((p) => p[0] === 'spec')), fc.constantFrom('matchLabel', 'fromEndpoint', 'ports2', 'x', 'portt', 'except_'), (path, key) => {
          const fields = validate(setAt(template, [...path, key], 1));
          expect(fields).toContain(`${WHERE}: ${formatPath([...path, key])}`);
        }),
        { numRuns: 300 },
      );
    });

    it(`${kind}: any spec at all never crashes the parser`, () => {
      fc.assert(
        fc.property(fc.anything({ maxDepth: 4 }), (spec) => {
          for (const f of validate({ ...template, spec })) expect(f.startsWith(`${WHERE}: spec`) || f.startsWith(`${WHERE}: metadata`), f).toBe(true);
        }),
        { numRuns: 500 },
      );
    });
  }

  it('parseManifests on arbitrary text only ever reports input problems, each with a location', () => {
    const yamlish = fc.oneof(
      fc.string(),
      fc.array(fc.constantFrom('kind: CiliumNetworkPolicy\n', 'apiVersion: cilium.io/v2\n', 'metadata: {name: a}\n', 'spec:\n', '  endpointSelector: {}\n', '  egress: [{toCIDR: [x]}]\n', '---\n', '- 1\n', ': :\n', '  &a [*a]\n', 'kind: List\nitems: 3\n'), { maxLength: 12 }).map((l) => l.join('')),
    );
    fc.assert(
      fc.property(yamlish, (text) => {
        try {
          parseManifests(text, 'p.yaml');
        } catch (e) {
          expect(e).toBeInstanceOf(InvalidInputList);
          for (const p of (e as InvalidInputList).problems) expect(p.field).toMatch(/^p\.yaml: document \d+/);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
