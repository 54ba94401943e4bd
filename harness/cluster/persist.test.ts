import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ObjectStore } from './store.js';
import { CorruptSnapshotError, readSnapshot, StorePersistence } from './persist.js';
import type { KubeObject } from './objects.js';
import { testTempDir } from '../../lib/testing/temp-dir.js';

const ns = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }) as KubeObject;

describe('store persistence', () => {
  it('a restored store has the same objects and resourceVersion, and goes on from there', async () => {
    const file = join(testTempDir('persist-'), 'store.json');
    const a = new ObjectStore();
    a.apply([ns('default'), ns('x')]);
    const p = new StorePersistence(a, file);
    p.start();
    a.apply([{ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'x' }, spec: { containers: [{ name: 'c', image: 'i' }] } } as KubeObject]);
    await new Promise((r) => setImmediate(r));
    const b = new ObjectStore();
    b.restore(readSnapshot(file)!);
    expect(b.snapshot()).toEqual(a.snapshot());
    b.apply([ns('y')]);
    expect(b.resourceVersion).toBe(a.resourceVersion + 1);
    p.stop();
  });

  it('anything but a well-formed snapshot is reported corrupt, never loaded half-way', () => {
    const dir = testTempDir('persist-');
    const file = join(dir, 'store.json');
    expect(readSnapshot(file)).toBeUndefined();
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.constantFrom('{"resourceVersion":1,"objects":[', '{"resourceVersion":"1","objects":[]}', '{"resourceVersion":1,"objects":[{}]}', 'null')), (text) => {
        writeFileSync(file, text);
        try {
          const s = readSnapshot(file)!;
          expect(Number.isSafeInteger(s.resourceVersion)).toBe(true);
          for (const o of s.objects) expect(typeof o.kind === 'string' && typeof o.metadata.name === 'string').toBe(true);
        } catch (e) {
          expect(e).toBeInstanceOf(CorruptSnapshotError);
        }
      }),
      { numRuns: 200 },
    );
    expect(readFileSync(file, 'utf8')).toBeDefined();
  });
});
