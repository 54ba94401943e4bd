// The load-balancer maps (bpf/lib/lb.h) through libbpf: opened by their pins in the node's pin dir
// (created by whichever object loaded first, the datapath or bpf_sock.o), encoded at the offsets of
// constants.ts. Addresses and ports in network order, as the programs compare them with packet fields.
import { join } from 'node:path';
import { closeFd, mapDelete, mapKeys, mapLookup, mapUpdate, objGet } from './libbpf.js';
import { bytesToIp, ipToBytes } from './codec.js';
import { LB_BACKEND, LB_BACKEND_FLAG, LB_KEY, LB_MAGLEV_M, LB_MAP, LB_NS, LB_NS_FLAG, LB_SCOPE, LB_SVC, type LbMapName } from './constants.js';
import type { LbBackendEntry, LbKey, LbMaps, LbNetns, LbSlot } from '../service/types.js';

const PROTO_NUM = { TCP: 6, UDP: 17 } as const;
const protoName = (n: number) => (n === 17 ? 'UDP' : 'TCP') as 'TCP' | 'UDP';

export function encodeLbKey(k: LbKey): Buffer {
  const b = Buffer.alloc(LB_KEY.size);
  ipToBytes(k.addr, 'lb.addr').copy(b, LB_KEY.addr);
  b.writeUInt16BE(k.port, LB_KEY.dport);
  b.writeUInt16LE(k.slot, LB_KEY.slot);
  b[LB_KEY.proto] = PROTO_NUM[k.proto];
  b[LB_KEY.scope] = LB_SCOPE[k.scope];
  return b;
}
export function decodeLbKey(b: Buffer): LbKey {
  return {
    addr: bytesToIp(b, LB_KEY.addr),
    port: b.readUInt16BE(LB_KEY.dport),
    slot: b.readUInt16LE(LB_KEY.slot),
    proto: protoName(b[LB_KEY.proto]!),
    scope: b[LB_KEY.scope] === LB_SCOPE.int ? 'int' : 'ext',
  };
}
export function encodeLbSlot(v: LbSlot): Buffer {
  const b = Buffer.alloc(LB_SVC.size);
  b.writeUInt32LE(v.backendId, LB_SVC.backendId);
  b.writeUInt16LE(v.count, LB_SVC.count);
  b.writeUInt16LE(v.svcId, LB_SVC.svcId);
  b.writeUInt32LE(v.affinityTimeout, LB_SVC.affinityTimeout);
  b[LB_SVC.flags] = v.flags;
  return b;
}
export function decodeLbSlot(b: Buffer): LbSlot {
  return {
    backendId: b.readUInt32LE(LB_SVC.backendId),
    count: b.readUInt16LE(LB_SVC.count),
    svcId: b.readUInt16LE(LB_SVC.svcId),
    affinityTimeout: b.readUInt32LE(LB_SVC.affinityTimeout),
    flags: b[LB_SVC.flags]!,
  };
}
export function encodeLbBackend(be: LbBackendEntry): Buffer {
  const b = Buffer.alloc(LB_BACKEND.size);
  ipToBytes(be.ip, 'backend.ip').copy(b, LB_BACKEND.addr);
  b.writeUInt16BE(be.port, LB_BACKEND.port);
  b[LB_BACKEND.proto] = PROTO_NUM[be.proto];
  b[LB_BACKEND.flags] = be.local ? LB_BACKEND_FLAG.local : 0;
  return b;
}
export function decodeLbBackend(b: Buffer): LbBackendEntry {
  return {
    ip: bytesToIp(b, LB_BACKEND.addr),
    port: b.readUInt16BE(LB_BACKEND.port),
    proto: protoName(b[LB_BACKEND.proto]!),
    local: (b[LB_BACKEND.flags]! & LB_BACKEND_FLAG.local) !== 0,
  };
}
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const u64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(n);
  return b;
};

/** The LB maps of a node, by their pins under `pinDir`. close() releases the fds. */
export function openLbMaps(pinDir: string): LbMaps & { close(): void } {
  const fds = new Map<LbMapName, number>();
  for (const name of Object.values(LB_MAP)) fds.set(name, objGet(join(pinDir, name)));
  const fd = (n: LbMapName) => fds.get(n)!;
  return {
    upsertSlot: (k, v) => mapUpdate(fd(LB_MAP.svc), encodeLbKey(k), encodeLbSlot(v)),
    deleteSlot: (k) => void mapDelete(fd(LB_MAP.svc), encodeLbKey(k)),
    listSlots: () =>
      mapKeys(fd(LB_MAP.svc), LB_KEY.size).flatMap((k) => {
        const v = mapLookup(fd(LB_MAP.svc), k, LB_SVC.size);
        return v ? [{ key: decodeLbKey(k), value: decodeLbSlot(v) }] : [];
      }),
    upsertBackend: (id, be) => mapUpdate(fd(LB_MAP.backends), u32(id), encodeLbBackend(be)),
    deleteBackend: (id) => void mapDelete(fd(LB_MAP.backends), u32(id)),
    listBackends: () =>
      mapKeys(fd(LB_MAP.backends), 4).flatMap((k) => {
        const v = mapLookup(fd(LB_MAP.backends), k, LB_BACKEND.size);
        return v ? [{ id: k.readUInt32LE(0), backend: decodeLbBackend(v) }] : [];
      }),
    setMaglev: (svcId, table) => {
      if (table.length !== LB_MAGLEV_M) throw new RangeError(`a Maglev table has ${LB_MAGLEV_M} entries, got ${table.length}`);
      mapUpdate(fd(LB_MAP.maglev), u32(svcId), Buffer.from(table.buffer, table.byteOffset, table.byteLength));
    },
    deleteMaglev: (svcId) => void mapDelete(fd(LB_MAP.maglev), u32(svcId)),
    listMaglev: () => mapKeys(fd(LB_MAP.maglev), 4).map((k) => k.readUInt32LE(0)),
    setNetns: (cookie, ns: LbNetns) => {
      const v = Buffer.alloc(LB_NS.size);
      v.writeUInt32LE(ns.identity, LB_NS.identity);
      ipToBytes(ns.ip, 'netns.ip').copy(v, LB_NS.ip);
      v.writeUInt32LE(ns.host ? LB_NS_FLAG.host : 0, LB_NS.flags);
      mapUpdate(fd(LB_MAP.netns), u64(cookie), v);
    },
    deleteNetns: (cookie) => void mapDelete(fd(LB_MAP.netns), u64(cookie)),
    listNetns: () =>
      mapKeys(fd(LB_MAP.netns), 8).flatMap((k) => {
        const v = mapLookup(fd(LB_MAP.netns), k, LB_NS.size);
        if (!v) return [];
        return [{ cookie: k.readBigUInt64LE(0), ns: { identity: v.readUInt32LE(LB_NS.identity), ip: bytesToIp(v, LB_NS.ip), host: (v.readUInt32LE(LB_NS.flags) & LB_NS_FLAG.host) !== 0 } }];
      }),
    close: () => {
      for (const f of fds.values()) closeFd(f);
      fds.clear();
    },
  };
}
