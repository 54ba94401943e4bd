// The agent's service handling (what Cilium's service manager is to its agent): watches Services and
// EndpointSlices, derives the load-balancer frontends (a ClusterIP per service port, a NodePort frontend
// with its external and internal scopes), and writes the LB maps incrementally — only the frontends a
// change touched, and within a frontend only the slots, backends and Maglev table that differ. Writes are
// ordered so the datapath never reads a slot whose backend is gone: new backends, then slots, then the
// master entry with the new count, then what is removed.
//
// Ids: a service id (u16) per frontend, a backend id per (service id, backend address). Both are
// recovered from the pinned maps at start, so an agent restart keeps them and rewrites nothing that is
// already right; after the first SYNCED, whatever the maps hold that the cluster no longer wants goes.
import { serviceFrontends, type EndpointSlice, type LbAlgorithm, type LbFrontend, type ServiceLike, SERVICE_NAME_LABEL } from '../../lib/services.js';
import { LB_FLAG } from '../datapath/constants.js';
import { maglevTable } from './maglev.js';
import type { LbKey, LbMaps, LbProto, LbScope, LbSlot } from './types.js';

const WILDCARD = '0.0.0.0';
const MAX_SVC_ID = 0xffff;
/** errno of a full BPF hash map's update. */
const E2BIG = 7;
/** The applied Maglev signature of a frontend whose table did not fit: never equal to a real one, so
 *  every reconcile of the frontend tries again. */
const MAGLEV_UNWRITTEN = '\0unwritten';

/** One frontend as the maps should hold it. */
export interface DesiredFrontend {
  addr: string;
  port: number;
  proto: LbProto;
  flags: number;
  affinityTimeout: number;
  /** "ip:port" → runs on this node */
  ext: Map<string, boolean>;
  /** Only for Local NodePorts: every backend, for clients inside the cluster. */
  int?: Map<string, boolean>;
  service: { name: string; namespace: string };
  portName: string;
}

interface AppliedFrontend {
  svcId: number;
  flags: number;
  affinityTimeout: number;
  /** backend ids by slot (index 0 = slot 1) */
  ext: number[];
  int?: number[];
  /** "ip:port" → backend id */
  backends: Map<string, number>;
  /** backend id → written as local */
  local: Map<number, boolean>;
  maglev?: string;
  service?: { name: string; namespace: string };
  portName?: string;
}

const feKey = (addr: string, port: number, proto: LbProto) => `${addr}:${port}/${proto}`;

/** The frontends of one Service port: the ClusterIP, and the NodePort when it has one. */
export function desiredFrontends(fe: LbFrontend, nodeName: string, defaultAlgorithm: LbAlgorithm): DesiredFrontend[] {
  const [namespace, name] = fe.service.split('/') as [string, string];
  const all = new Map(fe.backends.map((b) => [`${b.ip}:${b.port}`, b.nodeName === nodeName] as const));
  const algorithm = fe.algorithm === 'maglev' || defaultAlgorithm === 'maglev' ? 'maglev' : 'random';
  const common = (fe.affinityTimeout ? LB_FLAG.affinity : 0) | (algorithm === 'maglev' ? LB_FLAG.maglev : 0);
  const base = { proto: fe.protocol, affinityTimeout: fe.affinityTimeout, service: { name, namespace }, portName: fe.portName };
  const out: DesiredFrontend[] = [{ ...base, addr: fe.clusterIP, port: fe.port, flags: common, ext: all }];
  if (fe.nodePort) {
    if (fe.externalTrafficPolicy === 'Local') {
      const local = new Map([...all].filter(([, isLocal]) => isLocal));
      out.push({ ...base, addr: WILDCARD, port: fe.nodePort, flags: common | LB_FLAG.nodePort | LB_FLAG.local | LB_FLAG.twoScopes, ext: local, int: all });
    } else {
      out.push({ ...base, addr: WILDCARD, port: fe.nodePort, flags: common | LB_FLAG.nodePort, ext: all });
    }
  }
  return out;
}

export interface ServiceManagerOptions {
  maps: LbMaps;
  nodeName: string;
  algorithm?: LbAlgorithm;
  log?: (m: string) => void;
}

export class ServiceManager {
  private services = new Map<string, ServiceLike>();
  private slices = new Map<string, Map<string, EndpointSlice>>();
  private applied = new Map<string, AppliedFrontend>();
  private bySvcId = new Map<number, AppliedFrontend>();
  /** service key → frontend keys it produced last time */
  private byService = new Map<string, Set<string>>();
  private usedSvcIds = new Set<number>();
  private nextSvcId = 1;
  private nextBackendId = 1;
  private synced = false;
  /** Map writes so far (for tests and the agent's debug API). */
  writes = 0;
  /** Maglev frontends whose table did not fit (they select at random until it does). */
  readonly maglevUnwritten = new Set<string>();
  /** A Maglev table was deleted in this event: room for one that did not fit. */
  private maglevFreed = false;

  constructor(private opts: ServiceManagerOptions) {}

  get isSynced(): boolean {
    return this.synced;
  }

  /** Recover what the pinned maps hold (an agent restart), before the watch starts. */
  restore(): number {
    const { maps } = this.opts;
    const backends = new Map(maps.listBackends().map((b) => [b.id, b.backend] as const));
    const slots = maps.listSlots();
    for (const { key, value } of slots) {
      if (key.slot !== 0) continue;
      const k = feKey(key.addr, key.port, key.proto);
      let a = this.applied.get(k);
      if (!a) {
        this.applied.set(k, (a = { svcId: value.svcId, flags: value.flags, affinityTimeout: value.affinityTimeout, ext: [], backends: new Map(), local: new Map() }));
        this.bySvcId.set(a.svcId, a);
      }
      const ids = new Array<number>(value.count).fill(0);
      if (key.scope === 'int') a.int = ids;
      else a.ext = ids;
      this.usedSvcIds.add(value.svcId);
    }
    for (const { key, value } of slots) {
      const a = this.applied.get(feKey(key.addr, key.port, key.proto));
      const list = key.scope === 'int' ? a?.int : a?.ext;
      if (!a || !list || key.slot === 0 || key.slot > list.length) continue;
      list[key.slot - 1] = value.backendId;
      const be = backends.get(value.backendId);
      if (be) {
        a.backends.set(`${be.ip}:${be.port}`, value.backendId);
        a.local.set(value.backendId, be.local);
      }
    }
    for (const id of backends.keys()) this.nextBackendId = Math.max(this.nextBackendId, id + 1);
    for (const a of this.applied.values()) {
      // A slot whose entry or backend went missing (a crash mid-write) is rewritten by the next reconcile.
      a.ext = a.ext.map((id) => (backends.has(id) ? id : 0));
      if (a.flags & LB_FLAG.maglev) a.maglev = '?';
    }
    return this.applied.size;
  }

  /** Watch events for Service and EndpointSlice, then SYNCED. */
  handle(ev: { type: string; object?: { kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> } } }): void {
    if (ev.type === 'SYNCED') {
      this.synced = true;
      this.reconcileAll();
      this.retryUnwrittenMaglev();
      return;
    }
    const o = ev.object;
    if (!o) return;
    const ns = o.metadata.namespace ?? 'default';
    let svcKey: string;
    if (o.kind === 'Service') {
      svcKey = `${ns}/${o.metadata.name}`;
      if (ev.type === 'DELETED') this.services.delete(svcKey);
      else this.services.set(svcKey, o as unknown as ServiceLike);
    } else if (o.kind === 'EndpointSlice') {
      const owner = o.metadata.labels?.[SERVICE_NAME_LABEL];
      if (!owner) return;
      svcKey = `${ns}/${owner}`;
      let m = this.slices.get(svcKey);
      if (ev.type === 'DELETED') m?.delete(o.metadata.name);
      else {
        if (!m) this.slices.set(svcKey, (m = new Map()));
        m.set(o.metadata.name, o as unknown as EndpointSlice);
      }
    } else return;
    if (!this.synced) return;
    this.reconcileService(svcKey);
    this.retryUnwrittenMaglev();
  }

  /** After a Maglev table went away, the frontends still without one get another try. */
  private retryUnwrittenMaglev(): void {
    if (!this.maglevFreed) return;
    this.maglevFreed = false;
    const owners = new Set<string>();
    for (const k of this.maglevUnwritten) {
      const svc = this.applied.get(k)?.service;
      if (svc) owners.add(`${svc.namespace}/${svc.name}`);
    }
    for (const svcKey of owners) this.reconcileService(svcKey);
  }

  /** A watch stream restarts: what it said is replayed before SYNCED; the maps stay as they are. */
  resetWatchState(): void {
    this.services.clear();
    this.slices.clear();
    this.synced = false;
  }

  /** The Service behind a service id (for flows). */
  serviceOf(svcId: number): { name: string; namespace: string } | undefined {
    return this.bySvcId.get(svcId)?.service;
  }

  /** What is programmed, for the agent's API. */
  list(): Array<{ frontend: string; svcId: number; service?: string; port?: string; flags: number; backends: string[]; internal?: string[] }> {
    return [...this.applied].map(([k, a]) => {
      const name = new Map([...a.backends].map(([addr, id]) => [id, addr]));
      return {
        frontend: k,
        svcId: a.svcId,
        ...(a.service ? { service: `${a.service.namespace}/${a.service.name}`, port: a.portName } : {}),
        flags: a.flags,
        backends: a.ext.map((id) => name.get(id) ?? `#${id}`),
        ...(a.int ? { internal: a.int.map((id) => name.get(id) ?? `#${id}`) } : {}),
      };
    });
  }

  private desiredFor(svcKey: string): DesiredFrontend[] {
    const svc = this.services.get(svcKey);
    if (!svc) return [];
    const slices = [...(this.slices.get(svcKey)?.values() ?? [])];
    return serviceFrontends(svc, slices).flatMap((fe) => desiredFrontends(fe, this.opts.nodeName, this.opts.algorithm ?? 'random'));
  }

  private reconcileService(svcKey: string): void {
    const want = this.desiredFor(svcKey);
    const keys = new Set(want.map((d) => feKey(d.addr, d.port, d.proto)));
    for (const k of this.byService.get(svcKey) ?? []) if (!keys.has(k)) this.removeFrontend(k);
    for (const d of want) this.applyFrontend(d);
    if (keys.size) this.byService.set(svcKey, keys);
    else this.byService.delete(svcKey);
  }

  private reconcileAll(): void {
    const wanted = new Set<string>();
    this.byService.clear();
    for (const svcKey of this.services.keys()) {
      const want = this.desiredFor(svcKey);
      for (const d of want) {
        const k = feKey(d.addr, d.port, d.proto);
        if (wanted.has(k)) {
          this.opts.log?.(`service ${svcKey}: frontend ${k} is also another Service's; keeping the first`);
          continue;
        }
        wanted.add(k);
        this.applyFrontend(d);
      }
      if (want.length) this.byService.set(svcKey, new Set(want.map((d) => feKey(d.addr, d.port, d.proto))));
    }
    for (const k of [...this.applied.keys()]) if (!wanted.has(k)) this.removeFrontend(k);
    // Backends no frontend uses any more (left by a crash between writes).
    const used = new Set<number>();
    for (const a of this.applied.values()) for (const id of a.backends.values()) used.add(id);
    for (const { id } of this.opts.maps.listBackends()) if (!used.has(id)) this.opts.maps.deleteBackend(id);
    const svcIds = new Set([...this.applied.values()].map((a) => a.svcId));
    for (const id of this.opts.maps.listMaglev()) if (!svcIds.has(id)) this.opts.maps.deleteMaglev(id);
  }

  private allocSvcId(): number {
    for (let n = 0; n < MAX_SVC_ID; n++) {
      const id = ((this.nextSvcId - 1 + n) % MAX_SVC_ID) + 1;
      if (!this.usedSvcIds.has(id)) {
        this.usedSvcIds.add(id);
        this.nextSvcId = (id % MAX_SVC_ID) + 1;
        return id;
      }
    }
    throw new Error('no free service id (65535 frontends)');
  }

  private applyFrontend(d: DesiredFrontend): void {
    const { maps } = this.opts;
    const k = feKey(d.addr, d.port, d.proto);
    let a = this.applied.get(k);
    const isNew = !a;
    if (!a) {
      this.applied.set(k, (a = { svcId: this.allocSvcId(), flags: 0, affinityTimeout: 0, ext: [], backends: new Map(), local: new Map() }));
      this.bySvcId.set(a.svcId, a);
    }
    a.service = d.service;
    a.portName = d.portName;

    // 1. Backends: new ones first, so any slot written next points at an existing entry.
    const wantAll = new Map([...d.ext, ...(d.int ?? [])]);
    for (const [addr, isLocal] of wantAll) {
      let id = a.backends.get(addr);
      if (id === undefined) a.backends.set(addr, (id = this.nextBackendId++));
      if (a.local.get(id) !== isLocal) {
        const [ip, port] = addr.split(':') as [string, string];
        maps.upsertBackend(id, { ip, port: Number(port), proto: d.proto, local: isLocal });
        a.local.set(id, isLocal);
        this.writes++;
      }
    }
    const idsOf = (m: Map<string, boolean>) => new Set([...m.keys()].map((addr) => a.backends.get(addr)!));
    const key = (scope: LbScope, slot: number): LbKey => ({ addr: d.addr, port: d.port, proto: d.proto, scope, slot });
    const master: Omit<LbSlot, 'count'> = { backendId: 0, svcId: a.svcId, affinityTimeout: d.affinityTimeout, flags: d.flags };
    const masterChanged = isNew || a.flags !== d.flags || a.affinityTimeout !== d.affinityTimeout;
    a.ext = this.writeScope(key.bind(null, 'ext'), a.ext, idsOf(d.ext), master, masterChanged);
    if (d.int) a.int = this.writeScope(key.bind(null, 'int'), a.int ?? [], idsOf(d.int), master, masterChanged || a.int === undefined);
    else if (a.int) {
      this.writeScope(key.bind(null, 'int'), a.int, new Set(), master, false);
      maps.deleteSlot(key('int', 0));
      a.int = undefined;
    }
    a.flags = d.flags;
    a.affinityTimeout = d.affinityTimeout;

    // 2. Maglev table over the external scope's backends (what flows arriving at tc use).
    if (d.flags & LB_FLAG.maglev) {
      const names = [...d.ext.keys()].sort();
      const sig = names.join(',');
      if (a.maglev !== sig) {
        try {
          maps.setMaglev(a.svcId, maglevTable(names.map((name) => ({ name, id: a.backends.get(name)! }))));
          a.maglev = sig;
          this.writes++;
          this.maglevUnwritten.delete(k);
        } catch (e) {
          // The tables' map is full (E2BIG: one 64 KiB table per Maglev frontend, cnilab_lb_mgl's 1024
          // of them). The datapath picks at random when a frontend has no table, so the service keeps
          // working, without Maglev's consistency: said once per frontend and counted, never thrown
          // (a throw here would leave every frontend after this one unprogrammed). The next reconcile
          // of the service tries again.
          if ((e as { errno?: number }).errno !== E2BIG) throw e;
          if (!this.maglevUnwritten.has(k)) this.opts.log?.(`service ${d.service ? `${d.service.namespace}/${d.service.name}` : k}: frontend ${k}: no room for its Maglev table (the map of tables is full); its flows from outside pick backends at random`);
          this.maglevUnwritten.add(k);
          a.maglev = MAGLEV_UNWRITTEN;
        }
      }
    } else if (a.maglev !== undefined) {
      maps.deleteMaglev(a.svcId);
      this.maglevFreed ||= a.maglev !== MAGLEV_UNWRITTEN;
      this.maglevUnwritten.delete(k);
      a.maglev = undefined;
    }

    // 3. Backends no scope of this frontend uses any more.
    for (const [addr, id] of [...a.backends]) {
      if (wantAll.has(addr)) continue;
      maps.deleteBackend(id);
      a.backends.delete(addr);
      a.local.delete(id);
      this.writes++;
    }
  }

  /**
   * Rewrite one scope's slots to hold exactly `want`, moving as little as possible: kept backends stay
   * in their slot, new ones fill the holes, the tail fills what is left. Returns the new slot list.
   */
  private writeScope(key: (slot: number) => LbKey, cur: number[], want: Set<number>, master: Omit<LbSlot, 'count'>, masterChanged: boolean): number[] {
    const { maps } = this.opts;
    const slots: Array<number | null> = cur.map((id) => (id && want.has(id) ? id : null));
    const added = [...want].filter((id) => !slots.includes(id));
    for (let i = 0; i < slots.length && added.length; i++) if (slots[i] === null) slots[i] = added.shift()!;
    slots.push(...added);
    for (let i = 0; i < slots.length; i++) {
      if (slots[i] !== null) continue;
      while (slots.length > i && slots[slots.length - 1] === null) slots.pop();
      if (slots.length > i + 1) slots[i] = slots.pop()!;
      else slots.length = i;
    }
    const next = slots as number[];
    for (let i = 0; i < next.length; i++) {
      if (next[i] === cur[i]) continue;
      maps.upsertSlot(key(i + 1), { ...master, backendId: next[i]!, count: 0 });
      this.writes++;
    }
    if (next.length !== cur.length || masterChanged) {
      maps.upsertSlot(key(0), { ...master, count: next.length });
      this.writes++;
    }
    for (let i = next.length; i < cur.length; i++) {
      maps.deleteSlot(key(i + 1));
      this.writes++;
    }
    return next;
  }

  private removeFrontend(k: string): void {
    const a = this.applied.get(k);
    if (!a) return;
    const { maps } = this.opts;
    const [addrPort, protoStr] = k.split('/') as [string, LbProto];
    const i = addrPort.lastIndexOf(':');
    const base = { addr: addrPort.slice(0, i), port: Number(addrPort.slice(i + 1)), proto: protoStr };
    for (const scope of ['ext', 'int'] as const) {
      const list = scope === 'ext' ? a.ext : a.int;
      if (!list) continue;
      // The master first: from then on the frontend does not exist for the datapath.
      maps.deleteSlot({ ...base, scope, slot: 0 });
      for (let s = 1; s <= list.length; s++) maps.deleteSlot({ ...base, scope, slot: s });
    }
    for (const id of a.backends.values()) maps.deleteBackend(id);
    if (a.maglev !== undefined) maps.deleteMaglev(a.svcId);
    this.maglevFreed ||= a.maglev !== undefined && a.maglev !== MAGLEV_UNWRITTEN;
    this.maglevUnwritten.delete(k);
    this.applied.delete(k);
    this.bySvcId.delete(a.svcId);
    this.usedSvcIds.delete(a.svcId);
    this.writes++;
  }
}
