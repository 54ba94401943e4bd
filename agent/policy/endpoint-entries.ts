// One local endpoint's policy entries as the engine maintains them incrementally: every entry with the
// number of (policy rule, peer selector, identity) contributions that produce it, and the net change
// since the controller last took it (entries that appeared, entries that went, enforcement flags).
// The invariant that makes partial and full recomputation mix safely:
//     what the controller has = current entries − pendingAdd + pendingRemove.
import type { EndpointPolicy, PolicyEntry } from './types.js';

export const entryKey = (e: PolicyEntry): string => `${e.direction}|${e.deny ? 1 : 0}|${e.identity}|${e.protocol}|${e.port}|${e.endPort}`;

/** Everything of an entry but its identity in one exact number (2 + 8 + 16 + 16 = 42 bits): counting
 *  contributions is the engine's hot loop, and number keys cost far less than strings. */
const packRest = (e: PolicyEntry): number => ((((e.direction === 'egress' ? 2 : 0) | (e.deny ? 1 : 0)) * 256 + e.protocol) * 65536 + e.port) * 65536 + e.endPort;

type Counted = Map<number, Map<number, { e: PolicyEntry; n: number }>>;

export interface EndpointPolicyChange {
  endpointId: number;
  add: PolicyEntry[];
  remove: PolicyEntry[];
  ingressEnforced: boolean;
  egressEnforced: boolean;
}

export class EndpointEntries {
  /** identity → (packed rest → entry and its contribution count). */
  private entries: Counted = new Map();
  private count = 0;
  private pendingAdd = new Map<string, PolicyEntry>();
  private pendingRemove = new Map<string, PolicyEntry>();
  ingress = false;
  egress = false;
  private sent: [boolean, boolean] = [false, false];

  constructor(readonly endpointId: number) {}

  get size(): number {
    return this.count;
  }

  private all(): Array<{ e: PolicyEntry; n: number }> {
    const out: Array<{ e: PolicyEntry; n: number }> = [];
    for (const m of this.entries.values()) for (const x of m.values()) out.push(x);
    return out;
  }

  private presence(key: string, e: PolicyEntry, present: boolean): void {
    const [mine, other] = present ? [this.pendingAdd, this.pendingRemove] : [this.pendingRemove, this.pendingAdd];
    if (other.has(key)) other.delete(key);
    else mine.set(key, e);
  }

  /** One contribution more (d = 1) or less (d = -1). Returns false on a removal nothing had added. */
  ref(e: PolicyEntry, d: 1 | -1): boolean {
    let byRest = this.entries.get(e.identity);
    const rest = packRest(e);
    const cur = byRest?.get(rest);
    if (d > 0) {
      if (cur) cur.n++;
      else {
        if (!byRest) this.entries.set(e.identity, (byRest = new Map()));
        byRest.set(rest, { e, n: 1 });
        this.count++;
        this.presence(entryKey(e), e, true);
      }
      return true;
    }
    if (!cur) return false;
    if (--cur.n === 0) {
      byRest!.delete(rest);
      if (byRest!.size === 0) this.entries.delete(e.identity);
      this.count--;
      this.presence(entryKey(cur.e), cur.e, false);
    }
    return true;
  }

  /** Replace every contribution (a full recomputation), keeping the net change consistent. */
  replace(contributions: Iterable<PolicyEntry>): void {
    const had = new Map<string, PolicyEntry>();
    for (const { e } of this.all()) {
      const k = entryKey(e);
      if (!this.pendingAdd.has(k)) had.set(k, e);
    }
    for (const [k, e] of this.pendingRemove) had.set(k, e);
    this.entries = new Map();
    this.count = 0;
    for (const e of contributions) {
      let byRest = this.entries.get(e.identity);
      if (!byRest) this.entries.set(e.identity, (byRest = new Map()));
      const rest = packRest(e);
      const cur = byRest.get(rest);
      if (cur) cur.n++;
      else {
        byRest.set(rest, { e, n: 1 });
        this.count++;
      }
    }
    this.pendingAdd = new Map();
    this.pendingRemove = new Map();
    const now = new Set<string>();
    for (const { e } of this.all()) {
      const k = entryKey(e);
      now.add(k);
      if (!had.has(k)) this.pendingAdd.set(k, e);
    }
    for (const [k, e] of had) if (!now.has(k)) this.pendingRemove.set(k, e);
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
    const entries = this.all().map((x) => x.e);
    if (sorted) entries.sort((a, b) => a.direction.localeCompare(b.direction) || Number(a.deny) - Number(b.deny) || a.identity - b.identity || a.protocol - b.protocol || a.port - b.port || a.endPort - b.endPort);
    return { endpointId: this.endpointId, ingressEnforced: this.ingress, egressEnforced: this.egress, entries };
  }
}
