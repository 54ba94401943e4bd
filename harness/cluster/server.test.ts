// The control plane API over its unix socket (no root needed): label patches, the revision of apply,
// and the watch's SYNCED and BOOKMARK revisions that `apply --wait` relies on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { ObjectStore } from './store.js';
import { startControlServer } from './server.js';
import { ControlPlaneClient } from './client.js';
import { resolveSpec } from './spec.js';
import type { KubeObject } from './objects.js';

const dir = mkdtempSync(join(tmpdir(), 'cnilab-cp-'));
const socket = join(dir, 'control.sock');
const store = new ObjectStore();
let server: Server;
const client = new ControlPlaneClient(socket, 'test');

beforeAll(async () => {
  store.apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } } as KubeObject], { internal: true });
  server = await startControlServer(socket, store, resolveSpec({ name: 'test' }, 'test'), { onShutdown: () => {}, identityGc: false });
});
afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('control plane API', () => {
  it('apply answers the revision it produced; labels are patched with kubectl\'s rules', async () => {
    const { results, resourceVersion } = await client.applyAt([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } }]);
    expect(results[0]!.action).toBe('created');
    expect(resourceVersion).toBe(store.resourceVersion);
    const r = await client.patchLabels('Namespace', undefined, 'x', { set: { team: 'blue' } });
    expect([r.changed, r.object.metadata.labels, r.resourceVersion]).toEqual([true, { 'kubernetes.io/metadata.name': 'x', team: 'blue' }, store.resourceVersion]);
    await expect(client.patchLabels('Namespace', undefined, 'x', { set: { team: 'red' } })).rejects.toThrow(/already has a value \(blue\), and --overwrite is false/);
    await expect(client.patchLabels('Pod', 'x', 'missing', { set: { a: 'b' } })).rejects.toThrow(/not found/);
  });

  it('the watch says how far it is: SYNCED with the revision, BOOKMARK after changes of kinds it does not carry', async () => {
    const events: Array<{ type: string; resourceVersion?: number; object?: KubeObject }> = [];
    const stop = client.watch(['Namespace'], (ev) => events.push(ev as never));
    const until = async (pred: () => boolean) => {
      for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
      expect(pred()).toBe(true);
    };
    await until(() => events.some((e) => e.type === 'SYNCED'));
    expect(events.find((e) => e.type === 'SYNCED')!.resourceVersion).toBe(store.resourceVersion);
    await client.applyAt([{ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'p', namespace: 'x' }, spec: { podSelector: {} } }]);
    const rv = store.resourceVersion;
    await until(() => events.some((e) => e.type === 'BOOKMARK' && e.resourceVersion === rv));
    expect(events.some((e) => e.object?.kind === 'NetworkPolicy')).toBe(false);
    await client.delete('Namespace', undefined, 'x'); // deletes the policy inside it, then the namespace
    await until(() => events.some((e) => e.type === 'DELETED' && e.object?.kind === 'Namespace'));
    expect(events.find((e) => e.type === 'DELETED')!.object!.metadata.resourceVersion).toBe(String(store.resourceVersion));
    stop();
  });
});
