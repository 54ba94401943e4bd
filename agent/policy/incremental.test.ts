// The incremental engine against itself from scratch: random sequences of policy, pod, label and
// namespace changes (fast-check); after every step each endpoint's maintained policy must equal its
// policy recomputed from nothing, and the stream of changes handed to the controller, applied to a
// mirror, must reproduce it exactly.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { PolicyWorld } from '../testing/policy-world.js';
import { entryKey } from './endpoint-entries.js';
import type { PolicyEntry } from './types.js';

const sel = fc.constantFrom('{}', '{matchLabels: {pod: a}}', '{matchLabels: {pod: b}}', '{matchExpressions: [{key: pod, operator: NotIn, values: [c]}]}', '{matchLabels: {app: x}}');
const nsSel = fc.constantFrom('{}', '{matchLabels: {ns: x}}', '{matchLabels: {team: blue}}');
const peer = fc.oneof(
  sel.map((s) => `{podSelector: ${s}}`),
  fc.tuple(nsSel, sel).map(([n, s]) => `{namespaceSelector: ${n}, podSelector: ${s}}`),
  nsSel.map((n) => `{namespaceSelector: ${n}}`),
  fc.constantFrom('{ipBlock: {cidr: 198.19.0.0/29, except: [198.19.0.2/32]}}', '{ipBlock: {cidr: 203.0.113.0/24}}'),
);
const port = fc.constantFrom('{port: 80}', '{protocol: UDP, port: 81}', '{port: serve-81-tcp}', '{port: 80, endPort: 90}', '{}');
const rule = fc.record({ peers: fc.option(fc.array(peer, { maxLength: 2 }), { nil: undefined }), ports: fc.option(fc.array(port, { maxLength: 2 }), { nil: undefined }) });
const policy = fc.record({
  ns: fc.constantFrom('x', 'y'),
  name: fc.constantFrom('p1', 'p2', 'p3'),
  subject: sel,
  ingress: fc.option(fc.array(rule, { maxLength: 2 }), { nil: undefined }),
  egress: fc.option(fc.array(rule, { maxLength: 2 }), { nil: undefined }),
});
const yamlRules = (rs: Array<{ peers?: string[]; ports?: string[] }>, field: string) =>
  `[${rs.map((r) => `{${[r.peers ? `${field}: [${r.peers.join(', ')}]` : '', r.ports ? `ports: [${r.ports.join(', ')}]` : ''].filter(Boolean).join(', ')}}`).join(', ')}]`;

const op = fc.oneof(
  policy.map((p) => ({ kind: 'apply' as const, p })),
  fc.record({ kind: fc.constant('delete' as const), ns: fc.constantFrom('x', 'y'), name: fc.constantFrom('p1', 'p2', 'p3') }),
  fc.record({ kind: fc.constant('label' as const), pod: fc.constantFrom('x/a', 'x/b', 'y/a', 'y/c'), labels: fc.constantFrom({ pod: 'a' }, { pod: 'b' }, { app: 'x' }, { pod: 'c', app: 'x' }) }),
  fc.record({ kind: fc.constant('ns' as const), ns: fc.constantFrom('x', 'y'), team: fc.constantFrom('blue', 'red') }),
  fc.record({ kind: fc.constant('addpod' as const), n: fc.integer({ min: 0, max: 3 }) }),
  fc.record({ kind: fc.constant('delpod' as const), pod: fc.constantFrom('x/a', 'y/b', 'x/n0', 'y/n1') }),
);

describe('incremental policy engine', () => {
  it('equals a recomputation from scratch after any sequence of changes, and its change stream adds up', () => {
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 25 }), (ops) => {
        const w = new PolicyWorld();
        for (const ns of ['x', 'y']) {
          w.addNamespace(ns, { ns });
          for (const pod of ['a', 'b', 'c']) w.addPod(ns, pod, { pod });
        }
        const mirror = new Map<number, Map<string, PolicyEntry>>();
        const drain = () => {
          for (const c of w.engine.takeChanges()) {
            const m = mirror.get(c.endpointId) ?? new Map<string, PolicyEntry>();
            for (const e of c.remove) expect(m.delete(entryKey(e))).toBe(true);
            for (const e of c.add) {
              expect(m.has(entryKey(e))).toBe(false);
              m.set(entryKey(e), e);
            }
            mirror.set(c.endpointId, m);
          }
        };
        drain();
        for (const o of ops) {
          if (o.kind === 'apply') {
            const { ns, name, subject, ingress, egress } = o.p;
            const types = [ingress ? 'Ingress' : '', egress ? 'Egress' : ''].filter(Boolean);
            w.apply(
              `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n  podSelector: ${subject}\n` +
                `  policyTypes: [${types.join(', ') || 'Ingress'}]\n` +
                (ingress ? `  ingress: ${yamlRules(ingress, 'from')}\n` : '') +
                (egress ? `  egress: ${yamlRules(egress, 'to')}\n` : ''),
            );
          } else if (o.kind === 'delete') w.remove('NetworkPolicy', o.ns, o.name);
          else if (o.kind === 'label' && w.pods.has(o.pod)) w.labelPod(o.pod, o.labels);
          else if (o.kind === 'ns') w.addNamespace(o.ns, { ns: o.ns, team: o.team });
          else if (o.kind === 'addpod' && !w.pods.has(`${o.n % 2 ? 'y' : 'x'}/n${o.n}`)) {
            w.addPod(o.n % 2 ? 'y' : 'x', `n${o.n}`, { app: 'x' }, { ports: [{ name: 'serve-81-tcp', containerPort: 8000 + o.n }] });
          } else if (o.kind === 'delpod' && w.pods.has(o.pod)) w.deletePod(o.pod);
          drain();
          for (const p of w.pods.values()) {
            const inc = w.engine.compute(p.endpointId);
            expect(inc).toEqual(w.engine.computeFromScratch(p.endpointId));
            const m = mirror.get(p.endpointId) ?? new Map();
            expect([...m.keys()].sort()).toEqual(inc.entries.map(entryKey).sort());
          }
          expect(w.engine.inconsistencies).toBe(0);
        }
      }),
      { numRuns: 150 },
    );
  });
});
