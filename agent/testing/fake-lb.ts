// In-memory LB maps (agent/service/types.ts LbMaps) for tests without root or BPF, with a log of every
// write so tests can check that updates are incremental and ordered.
import type { LbBackendEntry, LbKey, LbMaps, LbNetns, LbSlot } from '../service/types.js';

const k = (key: LbKey) => `${key.addr}:${key.port}/${key.proto}/${key.scope}#${key.slot}`;

export class FakeLbMaps implements LbMaps {
  readonly slots = new Map<string, { key: LbKey; value: LbSlot }>();
  readonly backends = new Map<number, LbBackendEntry>();
  readonly maglev = new Map<number, Uint32Array>();
  readonly netns = new Map<bigint, LbNetns>();
  /** "upsertSlot 198.18.128.1:80/TCP/ext#0", "deleteBackend 3", ... in call order */
  readonly ops: string[] = [];
  /** As the pinned cnilab_lb_mgl, a hash map of max_entries tables: a new table past it fails E2BIG. */
  maglevCapacity = Infinity;

  upsertSlot(key: LbKey, value: LbSlot): void {
    this.ops.push(`upsertSlot ${k(key)}`);
    this.slots.set(k(key), { key: { ...key }, value: { ...value } });
  }
  deleteSlot(key: LbKey): void {
    this.ops.push(`deleteSlot ${k(key)}`);
    this.slots.delete(k(key));
  }
  listSlots() {
    return [...this.slots.values()].map((e) => ({ key: { ...e.key }, value: { ...e.value } }));
  }
  upsertBackend(id: number, be: LbBackendEntry): void {
    this.ops.push(`upsertBackend ${id}`);
    this.backends.set(id, { ...be });
  }
  deleteBackend(id: number): void {
    this.ops.push(`deleteBackend ${id}`);
    this.backends.delete(id);
  }
  listBackends() {
    return [...this.backends].map(([id, backend]) => ({ id, backend: { ...backend } }));
  }
  setMaglev(svcId: number, table: Uint32Array): void {
    if (!this.maglev.has(svcId) && this.maglev.size >= this.maglevCapacity) throw Object.assign(new Error('bpf_map_update_elem: Argument list too long (errno 7)'), { errno: 7 });
    this.ops.push(`setMaglev ${svcId}`);
    this.maglev.set(svcId, table.slice());
  }
  deleteMaglev(svcId: number): void {
    this.ops.push(`deleteMaglev ${svcId}`);
    this.maglev.delete(svcId);
  }
  listMaglev() {
    return [...this.maglev.keys()];
  }
  setNetns(cookie: bigint, ns: LbNetns): void {
    this.netns.set(cookie, { ...ns });
  }
  deleteNetns(cookie: bigint): void {
    this.netns.delete(cookie);
  }
  listNetns() {
    return [...this.netns].map(([cookie, ns]) => ({ cookie, ns: { ...ns } }));
  }

  /** What the datapath would pick from: the backends ("ip:port") of a frontend's slots 1..count. */
  backendsOf(addr: string, port: number, proto: 'TCP' | 'UDP' = 'TCP', scope: 'ext' | 'int' = 'ext'): string[] {
    const master = this.slots.get(k({ addr, port, proto, scope, slot: 0 }));
    if (!master) throw new Error(`no frontend ${addr}:${port}/${proto} (${scope})`);
    const out: string[] = [];
    for (let s = 1; s <= master.value.count; s++) {
      const slot = this.slots.get(k({ addr, port, proto, scope, slot: s }));
      const be = slot && this.backends.get(slot.value.backendId);
      out.push(be ? `${be.ip}:${be.port}` : `missing slot ${s}`);
    }
    return out;
  }
}
