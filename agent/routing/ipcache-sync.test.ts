import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../harness/cluster/objects.js';
import { FakeDatapath } from '../testing/fake-datapath.js';
import { IdentityCache } from '../identity/labels.js';
import { IpcacheSync, type RemoteNode } from './ipcache-sync.js';

const cfg = { pinDir: '/tmp/x', routing: 'tunnel' as const, nodeIp: '198.18.0.11', routerIp: '198.19.0.1', podCidr: '198.19.0.0/24' };
const node = (name: string, ip: string, cidr: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name },
  spec: { podCIDR: cidr },
  status: { addresses: [{ type: 'InternalIP', address: ip }] },
});
const cep = (ns: string, name: string, ip: string, identity: number, nodeName: string, nodeIp: string): KubeObject => ({
  apiVersion: 'cilium.io/v2',
  kind: 'CiliumEndpoint',
  metadata: { name, namespace: ns },
  status: { id: 1, identity: { id: identity, labels: [`k8s:pod=${name}`] }, networking: { addressing: [{ ipv4: ip }], node: nodeIp }, nodeName },
});

function setup(dp = new FakeDatapath(cfg)) {
  const nodesSeen: RemoteNode[][] = [];
  const sync = new IpcacheSync(dp, 'node1', new IdentityCache(async () => 999), (n) => nodesSeen.push(n));
  return { dp, sync, nodesSeen };
}

describe('IpcacheSync', () => {
  it('fills remote endpoints, remote node fallbacks and local endpoints', () => {
    const { dp, sync, nodesSeen } = setup();
    sync.setLocal('198.19.0.2', 300);
    sync.handle({ type: 'ADDED', object: node('node1', '198.18.0.11', '198.19.0.0/24') });
    sync.handle({ type: 'ADDED', object: node('node2', '198.18.0.12', '198.19.1.0/24') });
    sync.handle({ type: 'ADDED', object: cep('x', 'b', '198.19.1.5', 301, 'node2', '198.18.0.12') });
    sync.handle({ type: 'ADDED', object: cep('x', 'a', '198.19.0.2', 300, 'node1', '198.18.0.11') }); // our own: ignored
    sync.handle({ type: 'SYNCED' });
    expect(Object.fromEntries(dp.ipcache)).toEqual({
      '198.19.0.2': { identity: 300 },
      '198.19.1.5': { identity: 301, tunnelEndpoint: '198.18.0.12' },
      '198.19.1.0/24': { identity: 6, tunnelEndpoint: '198.18.0.12' },
      '198.18.0.12': { identity: 6, tunnelEndpoint: '198.18.0.12' },
    });
    expect(nodesSeen.at(-1)?.map((n) => n.podCidr)).toEqual(['198.19.1.0/24']);
    expect(sync.remoteByIp('198.19.1.5')?.name).toBe('b');
  });

  it('follows deletions and changes after the sync', () => {
    const { dp, sync } = setup();
    sync.handle({ type: 'ADDED', object: node('node2', '198.18.0.12', '198.19.1.0/24') });
    sync.handle({ type: 'SYNCED' });
    sync.handle({ type: 'ADDED', object: cep('x', 'b', '198.19.1.5', 301, 'node2', '198.18.0.12') });
    expect(dp.ipcache.get('198.19.1.5')).toEqual({ identity: 301, tunnelEndpoint: '198.18.0.12' });
    sync.handle({ type: 'MODIFIED', object: cep('x', 'b', '198.19.1.5', 302, 'node2', '198.18.0.12') });
    expect(dp.ipcache.get('198.19.1.5')?.identity).toBe(302);
    sync.handle({ type: 'DELETED', object: cep('x', 'b', '198.19.1.5', 302, 'node2', '198.18.0.12') });
    expect(dp.ipcache.has('198.19.1.5')).toBe(false);
    sync.handle({ type: 'DELETED', object: node('node2', '198.18.0.12', '198.19.1.0/24') });
    expect(dp.ipcache.size).toBe(0);
  });

  it('removes stale entries a previous agent left in the pinned map when it syncs', () => {
    const dp = new FakeDatapath(cfg);
    dp.upsertIpcache('198.19.1.9', { identity: 400, tunnelEndpoint: '198.18.0.12' });
    dp.upsertIpcache('198.19.7.0/24', { identity: 6, tunnelEndpoint: '198.18.0.17' });
    const { sync } = setup(dp);
    sync.handle({ type: 'ADDED', object: node('node2', '198.18.0.12', '198.19.1.0/24') });
    sync.handle({ type: 'SYNCED' });
    expect([...dp.ipcache.keys()].sort()).toEqual(['198.18.0.12', '198.19.1.0/24']);
  });

  it('lets a local endpoint win over a stale remote object for the same IP', () => {
    const { dp, sync } = setup();
    sync.handle({ type: 'ADDED', object: cep('x', 'old', '198.19.0.2', 301, 'node2', '198.18.0.12') });
    sync.handle({ type: 'SYNCED' });
    sync.setLocal('198.19.0.2', 300);
    expect(dp.ipcache.get('198.19.0.2')).toEqual({ identity: 300 });
    sync.removeLocal('198.19.0.2');
    expect(dp.ipcache.get('198.19.0.2')).toEqual({ identity: 301, tunnelEndpoint: '198.18.0.12' });
  });

  it('resyncs after a watch reconnect', () => {
    const { dp, sync } = setup();
    sync.handle({ type: 'ADDED', object: cep('x', 'b', '198.19.1.5', 301, 'node2', '198.18.0.12') });
    sync.handle({ type: 'SYNCED' });
    sync.resetWatchState();
    sync.handle({ type: 'SYNCED' }); // b was deleted while the stream was down
    expect(dp.ipcache.has('198.19.1.5')).toBe(false);
  });

  it('writes the CIDR identities policies need, below the cluster\'s own entries, and removes them when dropped', () => {
    const { dp, sync } = setup();
    sync.handle({ type: 'ADDED', object: node('node2', '198.18.0.12', '198.19.1.0/24') });
    sync.handle({ type: 'SYNCED' });
    const L = 1 << 24;
    sync.setCidrIdentities(new Map([['203.0.113.0/24', L], ['198.19.1.0/24', L + 1], ['198.19.1.128/25', L + 2], ['198.51.100.7/32', L + 3]]));
    expect(dp.ipcache.get('203.0.113.0/24')).toEqual({ identity: L });
    expect(dp.ipcache.get('198.19.1.0/24')).toEqual({ identity: 6, tunnelEndpoint: '198.18.0.12' }); // the node's pod CIDR wins
    expect(dp.ipcache.get('198.19.1.128/25')).toEqual({ identity: L + 2, tunnelEndpoint: '198.18.0.12' }); // still tunnelled there
    expect(dp.ipcache.get('198.51.100.7')).toEqual({ identity: L + 3 });
    sync.setCidrIdentities(new Map());
    expect([...dp.ipcache.keys()].sort()).toEqual(['198.18.0.12', '198.19.1.0/24']);
  });

  it('touches only the keys an endpoint event changes, and an IP two objects name survives one of them', () => {
    const { dp, sync } = setup();
    sync.handle({ type: 'SYNCED' });
    sync.handle({ type: 'ADDED', object: cep('x', 'old', '198.19.1.5', 301, 'node2', '198.18.0.12') });
    sync.handle({ type: 'ADDED', object: cep('x', 'new', '198.19.1.5', 302, 'node3', '198.18.0.13') });
    expect(dp.ipcache.get('198.19.1.5')).toEqual({ identity: 302, tunnelEndpoint: '198.18.0.13' });
    sync.handle({ type: 'DELETED', object: cep('x', 'new', '198.19.1.5', 302, 'node3', '198.18.0.13') });
    expect(dp.ipcache.get('198.19.1.5')).toEqual({ identity: 301, tunnelEndpoint: '198.18.0.12' });
    expect(sync.remoteByIp('198.19.1.5')?.name).toBe('old');
    sync.handle({ type: 'MODIFIED', object: cep('x', 'old', '198.19.1.6', 301, 'node2', '198.18.0.12') });
    expect([...dp.ipcache.keys()]).toEqual(['198.19.1.6']);
    for (let i = 0; i < 3000; i++) sync.handle({ type: 'ADDED', object: cep('y', `p${i}`, `10.1.${i >> 8}.${i & 255}`, 1000 + i, 'node2', '198.18.0.12') });
    expect(dp.ipcache.size).toBe(3001);
    expect(new Map(sync.desired())).toEqual(new Map([...dp.ipcache]));
  });
});
