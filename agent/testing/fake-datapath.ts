// An in-memory Datapath for tests that need no root and no BPF. With `persistFile` its maps survive
// a process restart (written on every change), standing in for the pinned maps of the real one.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Datapath, DatapathConfig, DatapathEvent, EndpointEntry, IpcacheEntry } from '../datapath/types.js';
import type { EndpointPolicy } from '../policy/types.js';

interface Persisted {
  endpoints: EndpointEntry[];
  ipcache: Array<{ key: string } & IpcacheEntry>;
  policies?: EndpointPolicy[];
}

export class FakeDatapath implements Datapath {
  readonly endpoints = new Map<number, EndpointEntry>();
  readonly ipcache = new Map<string, IpcacheEntry>();
  /** The policy map: endpoint ID → its policy (a small in-memory stand-in for the BPF policy map). */
  readonly policies = new Map<number, EndpointPolicy>();
  /** Attachments made, in order: "endpoint:lxc…:12", "overlay:cilium_vxlan:3", … */
  readonly attachments: string[] = [];
  private listeners = new Set<(ev: DatapathEvent) => void>();
  drops: Array<{ reason: number; direction: number; packets: bigint; bytes: bigint }> = [];
  lost = 0n;
  closed = false;
  /** Make the next call of this method throw (tests of rollback). */
  failNext?: keyof Datapath;

  constructor(
    readonly config: DatapathConfig,
    private readonly persistFile?: string,
  ) {
    if (persistFile && existsSync(persistFile)) {
      const data = JSON.parse(readFileSync(persistFile, 'utf8')) as Persisted;
      for (const ep of data.endpoints) this.endpoints.set(ep.ifindex, ep);
      for (const { key, ...e } of data.ipcache) this.ipcache.set(key, e);
      for (const p of data.policies ?? []) this.policies.set(p.endpointId, p);
    }
  }

  private maybeFail(name: keyof Datapath): void {
    if (this.failNext === name) {
      this.failNext = undefined;
      throw new Error(`fake datapath: injected failure in ${name}`);
    }
  }

  private save(): void {
    if (!this.persistFile) return;
    const data: Persisted = { endpoints: this.listEndpoints(), ipcache: this.listIpcache(), policies: this.listEndpointPolicies() };
    writeFileSync(this.persistFile, JSON.stringify(data));
  }

  attachEndpointDevice(ifname: string, ifindex: number): void {
    this.maybeFail('attachEndpointDevice');
    this.attachments.push(`endpoint:${ifname}:${ifindex}`);
  }
  attachOverlayDevice(ifname: string, ifindex: number): void {
    this.attachments.push(`overlay:${ifname}:${ifindex}`);
  }
  attachHostDevice(ifname: string, ifindex: number): void {
    this.attachments.push(`host:${ifname}:${ifindex}`);
  }
  upsertEndpoint(ep: EndpointEntry): void {
    this.maybeFail('upsertEndpoint');
    this.endpoints.set(ep.ifindex, { ...ep });
    this.save();
  }
  deleteEndpoint(ep: Pick<EndpointEntry, 'ifindex' | 'ip'>): void {
    for (const [k, v] of this.endpoints) if (k === ep.ifindex || v.ip === ep.ip) this.endpoints.delete(k);
    this.save();
  }
  listEndpoints(): EndpointEntry[] {
    return [...this.endpoints.values()].map((e) => ({ ...e }));
  }
  upsertIpcache(key: string, entry: IpcacheEntry): void {
    this.maybeFail('upsertIpcache');
    this.ipcache.set(key.endsWith('/32') ? key.slice(0, -3) : key, { ...entry });
    this.save();
  }
  deleteIpcache(key: string): void {
    this.ipcache.delete(key.endsWith('/32') ? key.slice(0, -3) : key);
    this.save();
  }
  listIpcache(): Array<{ key: string } & IpcacheEntry> {
    return [...this.ipcache].map(([key, e]) => ({ key, ...e }));
  }
  setEndpointPolicy(policy: EndpointPolicy): void {
    this.maybeFail('setEndpointPolicy');
    this.policies.set(policy.endpointId, structuredClone(policy));
    this.save();
  }
  deleteEndpointPolicy(endpointId: number): void {
    this.policies.delete(endpointId);
    this.save();
  }
  listEndpointPolicies(): EndpointPolicy[] {
    return [...this.policies.values()].map((p) => structuredClone(p));
  }
  onEvents(cb: (ev: DatapathEvent) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }
  /** Test hook: deliver an event as if the ring buffer had produced it. */
  emit(ev: DatapathEvent): void {
    for (const l of this.listeners) l(ev);
  }
  dropCounters() {
    return this.drops;
  }
  lostEvents(): bigint {
    return this.lost;
  }
  describeMaps() {
    return [
      { name: 'cnilab_lxc_if', type: 'hash', entries: this.endpoints.size, maxEntries: 4096 },
      { name: 'cnilab_ipcache', type: 'lpm_trie', entries: this.ipcache.size, maxEntries: 65536 },
      { name: 'cnilab_policy', type: 'hash', entries: [...this.policies.values()].reduce((n, p) => n + p.entries.length, 0), maxEntries: 65536 },
    ];
  }
  close(): void {
    this.closed = true;
    this.listeners.clear();
  }
}
