import { describe, expect, it } from 'vitest';
import { FakeLbMaps } from '../testing/fake-lb.js';
import { LB_FLAG, LB_MAGLEV_M } from '../datapath/constants.js';
import { ServiceManager } from './manager.js';

const svc = (name: string, spec: Record<string, unknown>, annotations?: Record<string, string>) => ({
  kind: 'Service',
  metadata: { name, namespace: 'x', ...(annotations ? { annotations } : {}) },
  spec: { type: 'ClusterIP', sessionAffinity: 'None', ...spec },
});
const slice = (svcName: string, ips: Array<[string, string] | string>, port = 8080, extra: Record<string, unknown> = {}) => ({
  kind: 'EndpointSlice',
  metadata: { name: `${svcName}-abc`, namespace: 'x', labels: { 'kubernetes.io/service-name': svcName } },
  addressType: 'IPv4',
  endpoints: ips.map((e) => {
    const [ip, node] = typeof e === 'string' ? [e, 'node1'] : e;
    return { addresses: [ip], conditions: { ready: true }, nodeName: node };
  }),
  ports: [{ name: '', port, protocol: 'TCP' }],
  ...extra,
});
const add = (m: ServiceManager, object: object) => m.handle({ type: 'ADDED', object: object as never });
const mod = (m: ServiceManager, object: object) => m.handle({ type: 'MODIFIED', object: object as never });

function synced(maps = new FakeLbMaps(), node = 'node1') {
  const m = new ServiceManager({ maps, nodeName: node });
  m.handle({ type: 'SYNCED' });
  return { m, maps };
}

describe('ServiceManager', () => {
  it('programs a ClusterIP frontend with its ready backends', () => {
    const { m, maps } = synced();
    add(m, svc('web', { clusterIP: '198.18.128.1', ports: [{ port: 80, protocol: 'TCP', targetPort: 8080 }] }));
    expect(maps.backendsOf('198.18.128.1', 80)).toEqual([]);
    add(m, slice('web', ['198.19.1.2', '198.19.2.2', '198.19.3.2']));
    expect(maps.backendsOf('198.18.128.1', 80)).toEqual(['198.19.1.2:8080', '198.19.2.2:8080', '198.19.3.2:8080']);
    expect(m.serviceOf(m.list()[0]!.svcId)).toEqual({ name: 'web', namespace: 'x' });
  });

  it('updates incrementally: a removed backend is replaced by the last slot, and nothing else is rewritten', () => {
    const { m, maps } = synced();
    add(m, svc('web', { clusterIP: '198.18.128.1', ports: [{ port: 80, protocol: 'TCP' }] }));
    add(m, slice('web', ['198.19.1.2', '198.19.2.2', '198.19.3.2']));
    maps.ops.length = 0;
    mod(m, slice('web', ['198.19.2.2', '198.19.3.2']));
    expect(maps.backendsOf('198.18.128.1', 80)).toEqual(['198.19.3.2:8080', '198.19.2.2:8080']);
    // slot 1 rewritten, then the count, then the stale slot and the backend removed — in that order
    expect(maps.ops).toEqual(['upsertSlot 198.18.128.1:80/TCP/ext#1', 'upsertSlot 198.18.128.1:80/TCP/ext#0', 'deleteSlot 198.18.128.1:80/TCP/ext#3', 'deleteBackend 1']);
    maps.ops.length = 0;
    mod(m, slice('web', ['198.19.2.2', '198.19.3.2']));
    expect(maps.ops).toEqual([]);
    // a new backend: its entry before its slot, its slot before the count
    mod(m, slice('web', ['198.19.2.2', '198.19.3.2', '198.19.4.2']));
    expect(maps.ops).toEqual(['upsertBackend 4', 'upsertSlot 198.18.128.1:80/TCP/ext#3', 'upsertSlot 198.18.128.1:80/TCP/ext#0']);
  });

  it('ignores not-ready endpoints and removes everything when the Service goes', () => {
    const { m, maps } = synced();
    add(m, svc('web', { clusterIP: '198.18.128.1', ports: [{ port: 80, protocol: 'TCP' }] }));
    const s = slice('web', ['198.19.1.2', '198.19.2.2']);
    (s.endpoints[1]!.conditions as { ready: boolean }).ready = false;
    add(m, s);
    expect(maps.backendsOf('198.18.128.1', 80)).toEqual(['198.19.1.2:8080']);
    m.handle({ type: 'DELETED', object: svc('web', {}) as never });
    expect(maps.slots.size).toBe(0);
    expect(maps.backends.size).toBe(0);
  });

  it('NodePort Local: external clients get this node\'s backends, internal ones every backend', () => {
    const { m, maps } = synced();
    add(m, svc('np', { type: 'NodePort', externalTrafficPolicy: 'Local', clusterIP: '198.18.128.2', ports: [{ port: 80, protocol: 'TCP', nodePort: 30080 }] }));
    add(m, slice('np', [['198.19.1.2', 'node1'], ['198.19.2.2', 'node2']]));
    expect(maps.backendsOf('0.0.0.0', 30080)).toEqual(['198.19.1.2:8080']);
    expect(maps.backendsOf('0.0.0.0', 30080, 'TCP', 'int')).toEqual(['198.19.1.2:8080', '198.19.2.2:8080']);
    expect(maps.backendsOf('198.18.128.2', 80)).toEqual(['198.19.1.2:8080', '198.19.2.2:8080']);
    const master = [...maps.slots.values()].find((e) => e.key.addr === '0.0.0.0' && e.key.slot === 0 && e.key.scope === 'ext')!;
    expect(master.value.flags).toBe(LB_FLAG.nodePort | LB_FLAG.local | LB_FLAG.twoScopes);
    expect([...maps.backends.values()].filter((b) => b.local).map((b) => b.ip)).toEqual(['198.19.1.2', '198.19.1.2']);
    // to Cluster: one scope again
    mod(m, svc('np', { type: 'NodePort', externalTrafficPolicy: 'Cluster', clusterIP: '198.18.128.2', ports: [{ port: 80, protocol: 'TCP', nodePort: 30080 }] }));
    expect(maps.backendsOf('0.0.0.0', 30080)).toHaveLength(2);
    expect(() => maps.backendsOf('0.0.0.0', 30080, 'TCP', 'int')).toThrow(/no frontend/);
  });

  it('affinity and Maglev: flags, timeout, and a Maglev table over the backends', () => {
    const { m, maps } = synced();
    add(m, svc('mg', { clusterIP: '198.18.128.3', sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 30 } }, ports: [{ port: 80, protocol: 'TCP' }] }, { 'service.cilium.io/lb-algorithm': 'maglev' }));
    add(m, slice('mg', ['198.19.1.2', '198.19.2.2']));
    const master = [...maps.slots.values()].find((e) => e.key.slot === 0)!.value;
    expect(master).toMatchObject({ flags: LB_FLAG.affinity | LB_FLAG.maglev, affinityTimeout: 30 });
    const table = maps.maglev.get(master.svcId)!;
    expect(table).toHaveLength(LB_MAGLEV_M);
    expect(new Set(table)).toEqual(new Set([...maps.backends.keys()]));
  });

  it('a Maglev table that does not fit leaves the service working at random, programs the rest, and is written once there is room', () => {
    const maps = new FakeLbMaps();
    maps.maglevCapacity = 2;
    const log: string[] = [];
    const m = new ServiceManager({ maps, nodeName: 'node1', log: (l) => log.push(l) });
    m.handle({ type: 'SYNCED' });
    const maglev = { 'service.cilium.io/lb-algorithm': 'maglev' };
    for (const [i, name] of ['m1', 'm2', 'm3'].entries()) {
      add(m, svc(name, { clusterIP: `198.18.128.${10 + i}`, ports: [{ port: 80, protocol: 'TCP' }] }, maglev));
      add(m, { ...slice(name, ['198.19.1.2', '198.19.2.2']), metadata: { name: `${name}-abc`, namespace: 'x', labels: { 'kubernetes.io/service-name': name } } });
    }
    add(m, svc('plain', { clusterIP: '198.18.128.20', ports: [{ port: 80, protocol: 'TCP' }] }));
    add(m, { ...slice('plain', ['198.19.3.2']), metadata: { name: 'plain-abc', namespace: 'x', labels: { 'kubernetes.io/service-name': 'plain' } } });
    // m3 has its slots and backends (the datapath picks at random without a table), and no table
    expect(maps.backendsOf('198.18.128.12', 80)).toEqual(['198.19.1.2:8080', '198.19.2.2:8080']);
    expect(maps.maglev.size).toBe(2);
    expect([...m.maglevUnwritten]).toEqual(['198.18.128.12:80/TCP']);
    expect(log.filter((l) => l.includes('no room for its Maglev table'))).toHaveLength(1);
    expect(maps.backendsOf('198.18.128.20', 80)).toEqual(['198.19.3.2:8080']);
    // a change to m3 while still full: tried again, said no second time
    mod(m, { ...slice('m3', ['198.19.1.2', '198.19.2.2', '198.19.4.2']), metadata: { name: 'm3-abc', namespace: 'x', labels: { 'kubernetes.io/service-name': 'm3' } } });
    expect(log.filter((l) => l.includes('no room'))).toHaveLength(1);
    // m1 goes: m3 gets the room at once
    m.handle({ type: 'DELETED', object: svc('m1', {}) as never });
    expect(m.maglevUnwritten.size).toBe(0);
    const m3 = m.list().find((f) => f.frontend === '198.18.128.12:80/TCP')!;
    expect(maps.maglev.get(m3.svcId)).toHaveLength(LB_MAGLEV_M);
  });

  it('a Maglev write failing for another reason than a full map is not hidden', () => {
    const maps = new FakeLbMaps();
    maps.setMaglev = () => {
      throw Object.assign(new Error('bpf_map_update_elem: Bad file descriptor (errno 9)'), { errno: 9 });
    };
    const { m } = synced(maps);
    expect(() => add(m, svc('mg', { clusterIP: '198.18.128.3', ports: [{ port: 80, protocol: 'TCP' }] }, { 'service.cilium.io/lb-algorithm': 'maglev' }))).toThrow(/errno 9/);
  });

  it('after a restart, recovers ids from the maps, rewrites nothing that is right and removes what is stale', () => {
    const maps = new FakeLbMaps();
    const first = synced(maps).m;
    add(first, svc('web', { clusterIP: '198.18.128.1', ports: [{ port: 80, protocol: 'TCP' }] }));
    add(first, slice('web', ['198.19.1.2', '198.19.2.2']));
    add(first, svc('old', { clusterIP: '198.18.128.9', ports: [{ port: 80, protocol: 'TCP' }] }));
    const ids = first.list().map((f) => f.svcId);
    maps.ops.length = 0;

    const second = new ServiceManager({ maps, nodeName: 'node1' });
    expect(second.restore()).toBe(2);
    add(second, svc('web', { clusterIP: '198.18.128.1', ports: [{ port: 80, protocol: 'TCP' }] }));
    add(second, slice('web', ['198.19.1.2', '198.19.2.2']));
    second.handle({ type: 'SYNCED' });
    expect(maps.ops.filter((o) => !o.includes('198.18.128.9'))).toEqual([]);
    expect(second.list().map((f) => f.svcId)).toEqual([ids[0]]);
    expect(maps.backendsOf('198.18.128.1', 80)).toEqual(['198.19.1.2:8080', '198.19.2.2:8080']);
    expect(() => maps.backendsOf('198.18.128.9', 80)).toThrow(/no frontend/);
  });
});
