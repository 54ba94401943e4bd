// Property tests of manifest parsing (Pods, Services, Namespaces, NetworkPolicies and
// CiliumNetworkPolicies, as YAML): any text gives either normalized objects that validate again
// unchanged, or an InvalidInputList whose every problem names the source, the document and a
// field. Never another exception (a crash of `cnilab apply` on a bad file is a bug).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { normalizeObject, parseManifests, validateObject, type KubeObject } from './objects.js';
import { InvalidInputError, InvalidInputList } from '../errors.js';

const label = fc.constantFrom('a', 'app', 'x-y', 'Bad Key', 'k8s.io/name', '', 'a'.repeat(64));
const value = fc.constantFrom('a', '', 'web', 'bad value', 'x'.repeat(64));
const labels = fc.dictionary(label, fc.oneof(value, fc.jsonValue()), { maxKeys: 3 });
const selector = fc.record(
  {
    matchLabels: fc.oneof(labels, fc.jsonValue()),
    matchExpressions: fc.array(fc.record({ key: label, operator: fc.constantFrom('In', 'NotIn', 'Exists', 'DoesNotExist', 'Maybe'), values: fc.array(value, { maxLength: 2 }) }, { requiredKeys: ['key', 'operator'] }), { maxLength: 2 }),
    matchLabel: fc.jsonValue(),
  },
  { requiredKeys: [] },
);
const port = fc.oneof(fc.integer({ min: -1, max: 70_000 }), fc.constantFrom('http', 'dns-tcp', 'x--y', 'TOOLONGPORTNAME99'));
const peer = fc.record({ podSelector: selector, namespaceSelector: selector, ipBlock: fc.record({ cidr: fc.constantFrom('10.0.0.0/8', '198.19.0.0/16', '1.2.3.4', 'fd00::/64', 'x'), except: fc.array(fc.constantFrom('10.1.0.0/16', '11.0.0.0/8', 'y'), { maxLength: 2 }) }, { requiredKeys: ['cidr'] }) }, { requiredKeys: [] });
const meta = fc.record({ name: fc.oneof(fc.constantFrom('a', 'b-1', 'Bad_Name', '', '../x', 'x'.repeat(64)), fc.jsonValue()), namespace: fc.constantFrom('default', 'x', 'Bad', undefined as unknown as string), labels, annotations: fc.oneof(fc.dictionary(label, fc.string({ maxLength: 5 }), { maxKeys: 2 }), fc.jsonValue()) }, { requiredKeys: ['name'] });
const container = fc.record({ name: fc.constantFrom('c', 'd', 'Bad'), image: fc.constantFrom('registry.k8s.io/e2e-test-images/agnhost:2.47', ''), args: fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }), ports: fc.array(fc.record({ containerPort: port, name: fc.constantFrom('http', 'x'), protocol: fc.constantFrom('TCP', 'UDP', 'SCTP', 'ICMP') }, { requiredKeys: ['containerPort'] }), { maxLength: 2 }) }, { requiredKeys: ['name', 'image'] });
const objectArb = fc.oneof(
  fc.record({ apiVersion: fc.constant('v1'), kind: fc.constant('Namespace'), metadata: meta }),
  fc.record({ apiVersion: fc.constantFrom('v1', 'apps/v1'), kind: fc.constant('Pod'), metadata: meta, spec: fc.record({ containers: fc.array(container, { maxLength: 3 }), nodeName: fc.constantFrom('node1', 'Bad'), restartPolicy: fc.constantFrom('Always', 'Sometimes') }, { requiredKeys: ['containers'] }), status: fc.jsonValue() }, { requiredKeys: ['apiVersion', 'kind', 'metadata'] }),
  fc.record({ apiVersion: fc.constant('v1'), kind: fc.constant('Service'), metadata: meta, spec: fc.record({ type: fc.constantFrom('ClusterIP', 'NodePort', 'LoadBalancer'), selector: labels, ports: fc.array(fc.record({ port, targetPort: port, nodePort: fc.integer({ min: 29_000, max: 33_000 }), name: fc.constantFrom('a', 'b') }, { requiredKeys: ['port'] }), { maxLength: 3 }), clusterIP: fc.constantFrom('None', '198.18.128.10', 'x') }, { requiredKeys: [] }) }),
  fc.record({ apiVersion: fc.constantFrom('networking.k8s.io/v1', 'v1'), kind: fc.constant('NetworkPolicy'), metadata: meta, spec: fc.record({ podSelector: selector, policyTypes: fc.array(fc.constantFrom('Ingress', 'Egress', 'Sideways'), { maxLength: 3 }), ingress: fc.array(fc.record({ from: fc.array(peer, { maxLength: 2 }), ports: fc.array(fc.record({ port, protocol: fc.constantFrom('TCP', 'UDP'), endPort: port }, { requiredKeys: [] }), { maxLength: 2 }) }, { requiredKeys: [] }), { maxLength: 2 }), egress: fc.array(fc.record({ to: fc.array(peer, { maxLength: 2 }) }, { requiredKeys: [] }), { maxLength: 2 }) }, { requiredKeys: [] }) }, { requiredKeys: ['apiVersion', 'kind', 'metadata'] }),
  fc.record({ apiVersion: fc.constantFrom('cilium.io/v2'), kind: fc.constant('CiliumNetworkPolicy'), metadata: meta, spec: fc.record({ endpointSelector: selector, ingress: fc.array(fc.record({ fromEndpoints: fc.array(selector, { maxLength: 2 }) }, { requiredKeys: [] }), { maxLength: 2 }), egressDeny: fc.jsonValue() }, { requiredKeys: [] }), specs: fc.jsonValue() }, { requiredKeys: ['apiVersion', 'kind', 'metadata'] }),
  fc.record({ apiVersion: fc.constant('v1'), kind: fc.constant('List'), items: fc.oneof(fc.array(fc.record({ apiVersion: fc.constant('v1'), kind: fc.constant('Namespace'), metadata: meta }), { maxLength: 3 }), fc.jsonValue()) }),
  fc.jsonValue(),
);
// Objects built from valid choices only (names unique per document index are not guaranteed, so
// duplicates are a source of errors too), so that the accepting side is exercised.
const vName = fc.constantFrom('a', 'b', 'web-1', 'x9');
const vLabels = fc.dictionary(fc.constantFrom('app', 'tier', 'k8s.io/name'), fc.constantFrom('a', 'web', ''), { maxKeys: 2 });
const vSelector = fc.record({ matchLabels: vLabels, matchExpressions: fc.array(fc.oneof(fc.record({ key: fc.constantFrom('app', 'tier'), operator: fc.constantFrom('In', 'NotIn'), values: fc.array(fc.constantFrom('a', 'web'), { minLength: 1, maxLength: 2 }) }), fc.record({ key: fc.constantFrom('app'), operator: fc.constantFrom('Exists', 'DoesNotExist') })), { maxLength: 2 }) }, { requiredKeys: [] });
const vMeta = fc.record({ name: vName, namespace: fc.constantFrom('default', 'x'), labels: vLabels }, { requiredKeys: ['name'] });
const validArb = fc.oneof(
  fc.record({ apiVersion: fc.constant('v1'), kind: fc.constant('Namespace'), metadata: fc.record({ name: vName, labels: vLabels }, { requiredKeys: ['name'] }) }),
  fc.record({ apiVersion: fc.constant('v1'), kind: fc.constant('Pod'), metadata: vMeta, spec: fc.record({ containers: fc.uniqueArray(fc.record({ name: fc.constantFrom('c', 'd', 'e'), image: fc.constant('registry.k8s.io/e2e-test-images/agnhost:2.47'), args: fc.array(fc.constantFrom('netexec', '--http-port=80', 'pause'), { maxLength: 2 }), ports: fc.uniqueArray(fc.record({ containerPort: fc.integer({ min: 1, max: 65535 }), name: fc.constantFrom('http', 'dns', 'metrics'), protocol: fc.constantFrom('TCP', 'UDP') }, { requiredKeys: ['containerPort'] }), { maxLength: 2, selector: (p) => p.name }) }, { requiredKeys: ['name', 'image'] }), { minLength: 1, maxLength: 3, selector: (c) => c.name }), restartPolicy: fc.constantFrom('Always', 'Never') }, { requiredKeys: ['containers'] }) }),
  fc.record({ apiVersion: fc.constant('v1'), kind: fc.constant('Service'), metadata: vMeta, spec: fc.record({ selector: vLabels, ports: fc.constant([{ port: 80 }]) }) }),
  fc.record({ apiVersion: fc.constant('networking.k8s.io/v1'), kind: fc.constant('NetworkPolicy'), metadata: vMeta, spec: fc.record({ podSelector: vSelector, ingress: fc.array(fc.record({ from: fc.array(fc.record({ podSelector: vSelector, namespaceSelector: vSelector }, { requiredKeys: ['podSelector'] }), { maxLength: 2 }), ports: fc.array(fc.record({ port: fc.integer({ min: 1, max: 65535 }), protocol: fc.constantFrom('TCP', 'UDP') }), { maxLength: 2 }) }, { requiredKeys: [] }), { maxLength: 2 }) }, { requiredKeys: [] }) }),
  fc.record({ apiVersion: fc.constant('cilium.io/v2'), kind: fc.constant('CiliumNetworkPolicy'), metadata: vMeta, spec: fc.record({ endpointSelector: vSelector, ingress: fc.array(fc.record({ fromEndpoints: fc.array(vSelector, { maxLength: 2 }) }), { maxLength: 2 }) }) }),
);
// A YAML stream: documents rendered from objects, plus raw text that is often not YAML at all.
const docArb = fc.oneof({ weight: 6, arbitrary: validArb.map((o) => stringify(o)) }, { weight: 4, arbitrary: objectArb.map((o) => stringify(o)) }, { weight: 1, arbitrary: fc.string({ maxLength: 60 }) }, { weight: 1, arbitrary: fc.constantFrom('a: [1, 2', '- - -', '{', 'kind: Pod\n  bad: indent', '*alias', '!!binary x', 'a: &a [*a]', '') });
const streamArb = fc.array(docArb, { minLength: 1, maxLength: 3 }).map((docs) => docs.join('\n---\n'));

function problems(e: unknown): InvalidInputError[] {
  if (e instanceof InvalidInputList) return e.problems;
  if (e instanceof InvalidInputError) return [e];
  throw e;
}

describe('manifest parsing properties', () => {
  it('any text: objects that validate again unchanged, or problems naming the file and document', () => {
    let accepted = 0;
    fc.assert(
      fc.property(streamArb, (text) => {
        let objs: KubeObject[];
        try {
          objs = parseManifests(text, 'm.yaml');
        } catch (e) {
          for (const p of problems(e)) {
            expect(p.field, p.message).toMatch(/^m\.yaml(: document \d+|$)/);
            expect(p.message.length).toBeGreaterThan(p.field.length + 2);
          }
          return;
        }
        if (objs.length) accepted++;
        for (const o of objs) {
          expect(o.status).toBeUndefined(); // users never set status
          expect(normalizeObject(o)).toEqual(o); // normalized: idempotent
          expect(validateObject(o, 'again')).toEqual(o); // and still valid
        }
      }),
      { numRuns: 500 },
    );
    // The generator must reach the accepting side too, or the second half would be vacuous.
    expect(accepted).toBeGreaterThan(20);
  });
});
