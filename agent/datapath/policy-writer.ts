// Writes endpoints' policies into the BPF maps cnilab_policy (LPM trie of entries) and cnilab_pol_ep
// (per-endpoint enforcement flags and live generation), layouts in bpf/lib/policy.h.
//
// Updates are incremental and atomic for the datapath. Each endpoint has two generations of entries in
// the trie; cnilab_pol_ep names the live one. A new policy is written into the other generation as a
// diff against what that generation holds (the policy before the current one), then one update of the
// endpoint's cnilab_pol_ep value makes it live, together with the new enforcement flags. A packet reads
// that value once and looks up only its generation, so it sees the old policy or the new one, never a
// mix, and an update costs map writes in proportion to what changed (two updates' worth), not to the size
// of the policy. The generation that is no longer live keeps the previous policy as the base of the next
// diff. An endpoint whose policy becomes empty (nothing enforced, no entry) holds nothing at all.
import type { EndpointPolicy } from '../policy/types.js';
import { POLICY_DIR_GEN, POLICY_EP, POLICY_EP_FLAG, POLICY_FLAG, POLICY_KEY, POLICY_PREFIX, POLICY_VALUE } from './constants.js';
import { mapDelete, mapKeys, mapLookup, mapUpdate } from './libbpf.js';
import { compilePolicy, decompilePolicy, enforcementFlags, entryKey, type CompiledEntry, type DirectionFlags } from './policy-map.js';

type Gen = 0 | 1;

export function encodePolicyKey(epId: number, gen: Gen, c: Pick<CompiledEntry, 'dir' | 'identity' | 'l4Prefix' | 'l4Value'>): Buffer {
  const k = Buffer.alloc(POLICY_KEY.size);
  k.writeUInt32LE(POLICY_PREFIX.static + c.l4Prefix, POLICY_KEY.prefixlen);
  k.writeUInt32LE(c.identity >>> 0, POLICY_KEY.identity);
  k.writeUInt16LE(epId, POLICY_KEY.epId);
  k[POLICY_KEY.dirGen] = c.dir | (gen ? POLICY_DIR_GEN.genBit : 0);
  k[POLICY_KEY.proto] = c.l4Value >>> 16;
  k.writeUInt16BE(c.l4Value & 0xffff, POLICY_KEY.dport);
  return k;
}

export function decodePolicyEntry(k: Buffer, v: Buffer): { epId: number; gen: Gen; entry: CompiledEntry } {
  const l4Prefix = k.readUInt32LE(POLICY_KEY.prefixlen) - POLICY_PREFIX.static;
  const dirGen = k[POLICY_KEY.dirGen]!;
  return {
    epId: k.readUInt16LE(POLICY_KEY.epId),
    gen: dirGen & POLICY_DIR_GEN.genBit ? 1 : 0,
    entry: {
      dir: (dirGen & POLICY_DIR_GEN.dirMask) === 1 ? 1 : 2,
      identity: k.readUInt32LE(POLICY_KEY.identity),
      l4Prefix,
      l4Value: l4Prefix === 0 ? 0 : (k[POLICY_KEY.proto]! << 16) | k.readUInt16BE(POLICY_KEY.dport),
      deny: (v[POLICY_VALUE.flags]! & POLICY_FLAG.deny) !== 0,
    },
  };
}

function encodePolicyValue(c: CompiledEntry): Buffer {
  const v = Buffer.alloc(POLICY_VALUE.size);
  v[POLICY_VALUE.flags] = c.deny ? POLICY_FLAG.deny : 0;
  v[POLICY_VALUE.l4Prefix] = c.l4Prefix;
  return v;
}

interface EpState {
  /** The live generation, undefined while the endpoint has no cnilab_pol_ep entry. */
  live?: Gen;
  /** What each generation holds in the trie (kept equal to the map as writes succeed). */
  gens: [Map<string, CompiledEntry>, Map<string, CompiledEntry>];
}

const epKey = (epId: number): Buffer => {
  const k = Buffer.alloc(4);
  k.writeUInt32LE(epId);
  return k;
};

export class PolicyMapWriter {
  private readonly eps = new Map<number, EpState>();

  /** Reads what the pinned maps already hold (an agent restart continues from there). */
  constructor(private readonly policyFd: number, private readonly epFd: number) {
    for (const { epId, gen, entry } of this.scan()) this.stateOf(epId).gens[gen].set(entryKey(entry), entry);
    for (const k of mapKeys(epFd, 4)) {
      const v = mapLookup(epFd, k, POLICY_EP.size);
      if (v) this.stateOf(k.readUInt32LE(0)).live = v[POLICY_EP.gen] ? 1 : 0;
    }
  }

  set(p: EndpointPolicy): void {
    const compiled = compilePolicy(p); // validates: nothing is written for a bad policy
    if (compiled.size === 0 && !p.ingressEnforced && !p.egressEnforced) {
      this.delete(p.endpointId);
      return;
    }
    const st = this.stateOf(p.endpointId);
    const target: Gen = st.live === 0 ? 1 : 0;
    const held = st.gens[target];
    for (const [k, c] of compiled) {
      const h = held.get(k);
      if (h && h.deny === c.deny) continue;
      mapUpdate(this.policyFd, encodePolicyKey(p.endpointId, target, c), encodePolicyValue(c));
      held.set(k, c);
    }
    for (const [k, h] of held) {
      if (compiled.has(k)) continue;
      mapDelete(this.policyFd, encodePolicyKey(p.endpointId, target, h));
      held.delete(k);
    }
    const f = enforcementFlags(p, compiled);
    const bits = (d: DirectionFlags): number =>
      (d.enforced ? POLICY_EP_FLAG.enforced : 0) | (d.hasDeny ? POLICY_EP_FLAG.hasDeny : 0) |
      (d.hasIdentity ? POLICY_EP_FLAG.hasIdentity : 0) | (d.hasAnyIdentity ? POLICY_EP_FLAG.hasAnyIdentity : 0);
    const v = Buffer.alloc(POLICY_EP.size);
    v[POLICY_EP.ingress] = bits(f.ingress);
    v[POLICY_EP.egress] = bits(f.egress);
    v[POLICY_EP.gen] = target;
    mapUpdate(this.epFd, epKey(p.endpointId), v); // the switch: the new policy is live
    st.live = target;
  }

  /** The endpoint's flags first (its traffic is then unpoliced, as for any endpoint without policy),
   *  then every entry of both generations. */
  delete(epId: number): void {
    mapDelete(this.epFd, epKey(epId));
    const st = this.eps.get(epId);
    if (!st) return;
    st.live = undefined;
    for (const gen of [0, 1] as const) {
      for (const [k, h] of st.gens[gen]) {
        mapDelete(this.policyFd, encodePolicyKey(epId, gen, h));
        st.gens[gen].delete(k);
      }
    }
    this.eps.delete(epId);
  }

  /** The live policy of every endpoint, read from the maps themselves (canonical form: policy-map.ts). */
  list(): EndpointPolicy[] {
    const byEp = new Map<number, [CompiledEntry[], CompiledEntry[]]>();
    for (const { epId, gen, entry } of this.scan()) {
      if (!byEp.has(epId)) byEp.set(epId, [[], []]);
      byEp.get(epId)![gen].push(entry);
    }
    const out: EndpointPolicy[] = [];
    for (const k of mapKeys(this.epFd, 4)) {
      const v = mapLookup(this.epFd, k, POLICY_EP.size);
      if (!v) continue;
      const epId = k.readUInt32LE(0);
      const entries = byEp.get(epId)?.[v[POLICY_EP.gen] ? 1 : 0] ?? [];
      out.push(decompilePolicy(epId, {
        ingressEnforced: (v[POLICY_EP.ingress]! & POLICY_EP_FLAG.enforced) !== 0,
        egressEnforced: (v[POLICY_EP.egress]! & POLICY_EP_FLAG.enforced) !== 0,
      }, entries));
    }
    return out.sort((a, b) => a.endpointId - b.endpointId);
  }

  private scan(): Array<ReturnType<typeof decodePolicyEntry>> {
    const out: Array<ReturnType<typeof decodePolicyEntry>> = [];
    for (const k of mapKeys(this.policyFd, POLICY_KEY.size)) {
      const v = mapLookup(this.policyFd, k, POLICY_VALUE.size);
      if (v) out.push(decodePolicyEntry(k, v));
    }
    return out;
  }

  private stateOf(epId: number): EpState {
    let st = this.eps.get(epId);
    if (!st) this.eps.set(epId, (st = { gens: [new Map(), new Map()] }));
    return st;
  }
}
