// An in-memory Datapath for tests that need no root and no BPF. With `persistFile` its maps survive
// a process restart (written on every change), standing in for the pinned maps of the real one.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Datapath, DatapathConfig, DatapathEvent, EndpointEntry, IpcacheEntry } from '../datapath/types.js';
import type { EndpointPolicy, PolicyDirection } from '../policy/types.js';
import { compilePolicy, decompilePolicy, enforcementFlags, lpmVerdict, type LpmVerdict } from '../datapath/policy-map.js';

interface Persisted {
  endpoints: EndpointEntry[];
  ipcache: Array<{ key: string } & IpcacheEntry>;
  policies?: EndpointPolicy[];
}

export class FakeDatapath implements Datapath {
  readonly endpoints = new Map<number, EndpointEntry>();
  readonly ipcache = new Map<string, IpcacheEntry>();
  /** Endpoint policies as set (validated like the real datapath does; empty ones removed). */
  readonly policies = new Map<number, EndpointPolicy>();
  /** Every setEndpointPolicy / deleteEndpointPolicy call, in order (tests of the engine's update rate). */
  readonly policyCalls: Array<{ op: 'set' | 'delete'; endpointId: number }> = [];
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
    const data: Persisted = { endpoints: this.listEndpoints(), ipcache: this.listIpcache(), policies: [...this.policies.values()] };
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
    const compiled = compilePolicy(policy); // throws InvalidInputError like the real datapath
    this.policyCalls.push({ op: 'set', endpointId: policy.endpointId });
    if (compiled.size === 0 && !policy.ingressEnforced && !policy.egressEnforced) this.policies.delete(policy.endpointId);
    else this.policies.set(policy.endpointId, structuredClone(policy));
    this.save();
  }
  deleteEndpointPolicy(endpointId: number): void {
    this.policyCalls.push({ op: 'delete', endpointId });
    this.policies.delete(endpointId);
    this.save();
  }
  listEndpointPolicies(): EndpointPolicy[] {
    return [...this.policies.values()]
      .map((p) => decompilePolicy(p.endpointId, p, compilePolicy(p).values()))
      .sort((a, b) => a.endpointId - b.endpointId);
  }
  /**
   * The verdict the BPF datapath would give a packet of endpoint endpointId (bpf/lib/policy.h, emulated
   * on the same compiled entries): reason 0 allowed, 133 POLICY_DENIED, 181 POLICY_DENY; match is the
   * policy match type. An endpoint without policy allows everything.
   */
  policyVerdict(endpointId: number, dir: PolicyDirection, remoteIdentity: number, protocol: number, port: number): LpmVerdict {
    const p = this.policies.get(endpointId);
    if (!p) return { reason: 0, match: 0 };
    const compiled = compilePolicy(p);
    return lpmVerdict(compiled, enforcementFlags(p, compiled), dir, remoteIdentity, protocol, port);
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
      { name: 'cnilab_pol_ep', type: 'hash', entries: this.policies.size, maxEntries: 4096 },
    ];
  }
  close(): void {
    this.closed = true;
    this.listeners.clear();
  }
}
