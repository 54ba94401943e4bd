// One local endpoint's policy entries as the engine maintains them incrementally: every entry with the
// number of (policy rule, peer selector, identity) contributions that produce it, and the net change
// since the controller last took it (entries that appeared, entries that went, enforcement flags).
// The invariant that makes partial and full recomputation mix safely:
//     what the controller has = current entries − pendingAdd + pendingRemove.
import type { EndpointPolicy, PolicyEntry } from './types.js';

export const entryKey = (e: PolicyEntry): string => `${e.direction}|${e.deny ? 1 : 0}|${e.identity}|${e.protocol}|${e.port}|${e.endPort}`;

export interface EndpointPolicyChange {
  endpointId: number;
  add: PolicyEntry[];
  remove: PolicyEntry[];
  ingressEnforced: boolean;
  egressEnforced: boolean;
}

export class EndpointEntries {
  private entries = new Map<string, { e: PolicyEntry; n: number }>();
  private pendingAdd = new Map<string, PolicyEntry>();
  private pendingRemove = new Map<string, PolicyEntry>();
  ingress = false;
  egress = false;
  private sent: [boolean, boolean] = [false, false];

  constructor(readonly endpointId: number) {}

  get size(): number {
    return this.entries.size;
  }

  private presence(key: string, e: PolicyEntry, present: boolean): void {
    const [mine, other] = present ? [this.pendingAdd, this.pendingRemove] : [this.pendingRemove, this.pendingAdd];
    if (other.has(key)) other.delete(key);
    else mine.set(key, e);
  }

  /** One contribution more (d = 1) or less (d = -1). Returns false on a removal nothing had added. */
  ref(e: PolicyEntry, d: 1 | -1): boolean {
    const key = entryKey(e);
    const cur = this.entries.get(key);
    if (d > 0) {
      if (cur) cur.n++;
      else {
        this.entries.set(key, { e, n: 1 });
        this.presence(key, e, true);
      }
      return true;
    }
    if (!cur) return false;
    if (--cur.n === 0) {
      this.entries.delete(key);
      this.presence(key, cur.e, false);
    }
    return true;
  }

  /** Replace every contribution (a full recomputation), keeping the net change consistent. */
  replace(contributions: Iterable<PolicyEntry>): void {
    const had = new Map<string, PolicyEntry>();
    for (const [k, { e }] of this.entries) if (!this.pendingAdd.has(k)) had.set(k, e);
    for (const [k, e] of this.pendingRemove) had.set(k, e);
    this.entries = new Map();
    for (const e of contributions) {
      const key = entryKey(e);
      const cur = this.entries.get(key);
      if (cur) cur.n++;
      else this.entries.set(key, { e, n: 1 });
    }
    this.pendingAdd = new Map();
    this.pendingRemove = new Map();
    for (const [k, { e }] of this.entries) if (!had.has(k)) this.pendingAdd.set(k, e);
    for (const [k, e] of had) if (!this.entries.has(k)) this.pendingRemove.set(k, e);
  }

  hasChanges(): boolean {
    return this.pendingAdd.size > 0 || this.pendingRemove.size > 0 || this.sent[0] !== this.ingress || this.sent[1] !== this.egress;
  }

  /** The net change since the last take; the caller now has the current state. */
  take(): EndpointPolicyChange {
    const out = { endpointId: this.endpointId, add: [...this.pendingAdd.values()], remove: [...this.pendingRemove.values()], ingressEnforced: this.ingress, egressEnforced: this.egress };
    this.pendingAdd = new Map();
    this.pendingRemove = new Map();
    this.sent = [this.ingress, this.egress];
    return out;
  }

  /** The current policy; entries in a stable order unless `sorted` is false (the datapath needs none). */
  snapshot(sorted = true): EndpointPolicy {
    const entries = [...this.entries.values()].map((x) => x.e);
    if (sorted) entries.sort((a, b) => a.direction.localeCompare(b.direction) || Number(a.deny) - Number(b.deny) || a.identity - b.identity || a.protocol - b.protocol || a.port - b.port || a.endPort - b.endPort);
    return { endpointId: this.endpointId, ingressEnforced: this.ingress, egressEnforced: this.egress, entries };
  }
}
