// Limits on objects and batches: over any of them is bad input naming the field, and nothing of the
// batch is stored. (A Pod with 10 000 containers used to be accepted.)
import { describe, expect, it } from 'vitest';
import { ObjectStore } from './store.js';
import { parseManifests, validateObject, type KubeObject } from './objects.js';
import { LIMITS } from './limits.js';
import { InvalidInputError, InvalidInputList } from '../errors.js';

const ns = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }) as KubeObject;
const pod = (containers: number, extra: Record<string, unknown> = {}) =>
  ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'big', namespace: 'default', ...extra },
    spec: { containers: Array.from({ length: containers }, (_, i) => ({ name: `c${i}`, image: 'registry.k8s.io/e2e-test-images/agnhost:2.47', args: ['pause'] })) },
  }) as unknown as KubeObject;

function fields(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof InvalidInputList) return e.problems.map((p) => `${p.field}: ${p.message.slice(p.field.length + 2)}`);
    if (e instanceof InvalidInputError) return [`${e.field}: ${e.message.slice(e.field.length + 2)}`];
    throw e;
  }
  return [];
}

describe('limits', () => {
  it('a Pod with 10 000 containers is refused naming spec.containers, and nothing is stored', () => {
    const s = new ObjectStore();
    s.apply([ns('default')]);
    const rv = s.resourceVersion;
    expect(fields(() => s.apply([ns('other'), pod(10_000)]))).toEqual([`object 2 (Pod default/big): spec.containers: 10000 containers; at most ${LIMITS.containersPerPod} allowed`]);
    expect(s.resourceVersion).toBe(rv);
    expect(s.list('Namespace').map((n) => n.metadata.name)).toEqual(['default']);
    expect(s.apply([pod(LIMITS.containersPerPod)])[0]!.action).toBe('created');
  });

  it('labels, annotations, ports, env and object size are bounded per object', () => {
    const labels = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    expect(fields(() => validateObject(pod(1, { labels }), 'f'))).toEqual(['f: metadata.labels: 65 labels; at most 64 allowed']);
    expect(fields(() => validateObject(pod(1, { annotations: { a: 'x'.repeat(300_000) } }), 'f'))).toEqual(['f: metadata.annotations: 300001 bytes of annotations; at most 262144 allowed']);
    const manyPorts = pod(1) as unknown as { spec: { containers: Array<Record<string, unknown>> } };
    manyPorts.spec.containers[0]!.ports = Array.from({ length: 129 }, (_, i) => ({ containerPort: i + 1 }));
    manyPorts.spec.containers[0]!.env = Array.from({ length: 257 }, (_, i) => ({ name: `E${i}`, value: '' }));
    expect(fields(() => validateObject(manyPorts as unknown as KubeObject, 'f'))).toEqual([
      'f: spec.containers[0].ports: 129 ports; at most 128 allowed',
      'f: spec.containers[0].env: 257 environment variables; at most 256 allowed',
    ]);
    const huge = pod(1) as unknown as { spec: { containers: Array<{ args: string[] }> } };
    huge.spec.containers[0]!.args = Array.from({ length: 1000 }, () => 'x'.repeat(2000));
    expect(fields(() => validateObject(huge as unknown as KubeObject, 'f'))[0]).toMatch(/^f: \(top level\): \d+ bytes of JSON; at most 1048576 allowed$/);
    const svc = { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { ports: Array.from({ length: 257 }, (_, i) => ({ name: `p${i}`, port: i + 1 })) } };
    expect(fields(() => validateObject(svc, 'f'))).toEqual(['f: spec.ports: 257 ports; at most 256 allowed']);
    const np = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'p' }, spec: { ingress: [{ from: Array.from({ length: 257 }, () => ({ podSelector: {} })) }] } };
    expect(fields(() => validateObject(np, 'f'))).toEqual(['f: spec.ingress[0].from: 257 entries; at most 256 allowed']);
  });

  it('workloads: replicas are bounded, and the pod template is held to the Pod limits', () => {
    const deploy = (replicas: number, containers: number) => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd', namespace: 'default' },
      spec: { replicas, selector: { matchLabels: { app: 'd' } }, template: { metadata: { labels: { app: 'd' } }, spec: (pod(containers) as unknown as { spec: unknown }).spec } },
    });
    expect(fields(() => validateObject(deploy(100_000, 1), 'f'))).toEqual([`f: spec.replicas: 100000 replicas; at most ${LIMITS.replicasPerWorkload} allowed`]);
    expect(fields(() => validateObject(deploy(1, 10_000), 'f')).join('\n')).toMatch(/spec\.template\.spec\.containers: 10000 containers; at most 32 allowed/);
    expect(fields(() => validateObject(deploy(3, 2), 'f'))).toEqual([]);
  });

  it('batches: at most objectsPerApply objects in one apply or one set of files', () => {
    const s = new ObjectStore();
    const many = Array.from({ length: LIMITS.objectsPerApply + 1 }, (_, i) => ns(`n${i}`));
    expect(fields(() => s.apply(many))).toEqual([`request body.objects: ${LIMITS.objectsPerApply + 1} objects in one apply; at most ${LIMITS.objectsPerApply} allowed (split the files)`]);
    expect(s.list('Namespace')).toHaveLength(0);
    const yaml = Array.from({ length: LIMITS.objectsPerApply + 1 }, (_, i) => `apiVersion: v1\nkind: Namespace\nmetadata: {name: n${i}}\n`).join('---\n');
    expect(fields(() => parseManifests(yaml, 'many.yaml'))[0]).toMatch(/^many\.yaml: 1001 objects in one apply/);
    expect(fields(() => parseManifests('#'.repeat(LIMITS.requestBytes + 1), 'big.yaml'))[0]).toMatch(/^big\.yaml: \d+ bytes; at most/);
  });

  it('the store as a whole holds at most totalObjects; a user apply past it is refused whole', () => {
    const s = new ObjectStore();
    s.apply([ns('default')]);
    const filler = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => ({ apiVersion: 'cilium.io/v2', kind: 'CiliumIdentity', metadata: { name: String(from + i) }, securityLabels: [] }) as unknown as KubeObject);
    // Filled as a restarted daemon loads its snapshot (no watch events: 60k applied writes take seconds).
    s.restore({ resourceVersion: s.resourceVersion, objects: [...s.snapshot().objects, ...filler(0, LIMITS.totalObjects - 2)] });
    expect(s.snapshot().objects).toHaveLength(LIMITS.totalObjects - 1);
    expect(fields(() => s.apply([ns('a'), ns('b')]))).toEqual([`request body.objects: 2 new objects would make ${LIMITS.totalObjects + 1} in the cluster; at most ${LIMITS.totalObjects} allowed`]);
    expect(s.apply([ns('a')])[0]!.action).toBe('created');
    expect(s.apply([ns('default')])[0]!.action).toBe('unchanged'); // changing what exists is always possible
  });

  it('internal writes are checked for shape too: one malformed object would break every watcher', () => {
    const s = new ObjectStore();
    for (const bad of [null, 5, [], { kind: 'CiliumEndpoint' }, { kind: 'x', metadata: { name: 'a' } }, { kind: 'Node', metadata: { name: '../etc' } }, { kind: 'Node', metadata: { name: 'n' }, status: 'up' }]) {
      expect(() => s.apply([bad as unknown as KubeObject], { internal: true })).toThrow(InvalidInputError);
    }
    expect(s.resourceVersion).toBe(0);
  });
});
