// From an endpoint's policy (agent/policy/types.ts) to the entries of the BPF policy map
// (bpf/lib/policy.h) and back. Pure functions, unit-tested without root; the real datapath writes what
// compilePolicy returns, the fake one evaluates it with lpmVerdict exactly as the BPF lookup does.
//
// The map is an LPM trie: per (direction, remote identity) an entry is a prefix of the 24 bits
// protocol (8) | port (16). Protocol 0 is "any protocol" (prefix 0), port 0 "any port" (prefix 8), and
// a port range becomes the aligned power-of-two blocks that cover it exactly. The BPF program looks up
// the packet's identity, then identity 0, and takes the longest match of each; for that to decide
// correctly, deny precedence is resolved here: an entry nested in a deny entry of the same direction and
// identity is written as a deny (Cilium does the same when it computes its map state).
import { InvalidInputError } from '../../harness/errors.js';
import type { EndpointPolicy, PolicyDirection, PolicyEntry } from '../policy/types.js';
import { DIRECTION, DROP_REASON, POLICY_MATCH } from './constants.js';

/** One entry of the BPF map, generation left out (the writer adds it). */
export interface CompiledEntry {
  dir: 1 | 2;
  identity: number;
  /** Bits of protocol + port matched: 0 (any protocol), 8 (any port), 9..24 (a block of ports). */
  l4Prefix: number;
  /** The 24-bit value protocol << 16 | port, bits beyond l4Prefix zero. */
  l4Value: number;
  deny: boolean;
}

const L4_BITS = 24;
const PORT_PROTOCOLS = new Set([6, 17, 132]);

export const entryKey = (e: Pick<CompiledEntry, 'dir' | 'identity' | 'l4Prefix' | 'l4Value'>): string =>
  `${e.dir}/${e.identity}/${e.l4Prefix}/${e.l4Value}`;

const dirNumber = (d: PolicyDirection): 1 | 2 => (d === 'ingress' ? DIRECTION.ingress : DIRECTION.egress);
const isUint = (n: unknown, max: number): n is number => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= max;

/** Rejects what the map cannot hold, naming the field, before anything is written. */
export function validatePolicy(p: EndpointPolicy): void {
  if (!isUint(p.endpointId, 0xffff)) throw new InvalidInputError('endpointId', `must be an integer 0..65535, got ${JSON.stringify(p.endpointId)}`);
  if (typeof p.ingressEnforced !== 'boolean') throw new InvalidInputError('ingressEnforced', 'must be a boolean');
  if (typeof p.egressEnforced !== 'boolean') throw new InvalidInputError('egressEnforced', 'must be a boolean');
  if (!Array.isArray(p.entries)) throw new InvalidInputError('entries', 'must be an array');
  p.entries.forEach((e, i) => {
    const f = (name: string): string => `entries[${i}].${name}`;
    if (e.direction !== 'ingress' && e.direction !== 'egress') throw new InvalidInputError(f('direction'), `must be "ingress" or "egress", got ${JSON.stringify(e.direction)}`);
    if (!isUint(e.identity, 0xffffffff)) throw new InvalidInputError(f('identity'), `must be an integer 0..4294967295, got ${JSON.stringify(e.identity)}`);
    if (!isUint(e.protocol, 255)) throw new InvalidInputError(f('protocol'), `must be an IP protocol number 0..255, got ${JSON.stringify(e.protocol)}`);
    if (!isUint(e.port, 0xffff)) throw new InvalidInputError(f('port'), `must be an integer 0..65535, got ${JSON.stringify(e.port)}`);
    if (!isUint(e.endPort, 0xffff)) throw new InvalidInputError(f('endPort'), `must be an integer 0..65535, got ${JSON.stringify(e.endPort)}`);
    if (typeof e.deny !== 'boolean') throw new InvalidInputError(f('deny'), 'must be a boolean');
    if (e.protocol === 0 && (e.port !== 0 || e.endPort !== 0)) throw new InvalidInputError(f('port'), 'a port needs a protocol (protocol 0 means any protocol, any port)');
    if (e.port === 0 && e.endPort !== 0) throw new InvalidInputError(f('endPort'), 'a range needs its first port (port 0 means any port)');
    if (e.endPort !== 0 && e.endPort < e.port) throw new InvalidInputError(f('endPort'), `must be >= port (${e.port}), got ${e.endPort}`);
  });
}

/** The aligned blocks [start, start + 2^(16-bits)) covering lo..hi exactly; bits = port prefix bits. */
export function portBlocks(lo: number, hi: number): Array<{ start: number; bits: number }> {
  const out: Array<{ start: number; bits: number }> = [];
  while (lo <= hi) {
    let size = lo === 0 ? 0x10000 : lo & -lo;
    while (lo + size - 1 > hi) size /= 2;
    out.push({ start: lo, bits: 16 - Math.log2(size) });
    lo += size;
  }
  return out;
}

function prefixesOf(e: PolicyEntry): Array<{ l4Prefix: number; l4Value: number }> {
  if (e.protocol === 0) return [{ l4Prefix: 0, l4Value: 0 }];
  if (e.port === 0) return [{ l4Prefix: 8, l4Value: e.protocol << 16 }];
  const end = e.endPort === 0 ? e.port : e.endPort;
  return portBlocks(e.port, end).map((b) => ({ l4Prefix: 8 + b.bits, l4Value: (e.protocol << 16) | b.start }));
}

/** prefixValue: the first `len` bits of a 24-bit value (as a number). */
const head = (value: number, len: number): number => (len === 0 ? 0 : value >>> (L4_BITS - len));

/** The map entries for a policy, keyed by entryKey. */
export function compilePolicy(p: EndpointPolicy): Map<string, CompiledEntry> {
  validatePolicy(p);
  const out = new Map<string, CompiledEntry>();
  for (const e of p.entries) {
    const dir = dirNumber(e.direction);
    for (const pre of prefixesOf(e)) {
      const c: CompiledEntry = { dir, identity: e.identity, ...pre, deny: e.deny };
      const k = entryKey(c);
      const prev = out.get(k);
      if (!prev || (!prev.deny && c.deny)) out.set(k, c); // the same prefix allowed and denied: denied
    }
  }
  // Deny precedence inside each (direction, identity): whatever a deny prefix covers is denied.
  const denyPrefixes = new Set<string>();
  for (const c of out.values()) if (c.deny) denyPrefixes.add(`${c.dir}/${c.identity}/${c.l4Prefix}/${head(c.l4Value, c.l4Prefix)}`);
  if (denyPrefixes.size) {
    for (const c of out.values()) {
      if (c.deny) continue;
      for (let len = 0; len <= c.l4Prefix; len++) {
        if (denyPrefixes.has(`${c.dir}/${c.identity}/${len}/${head(c.l4Value, len)}`)) {
          c.deny = true;
          break;
        }
      }
    }
  }
  return out;
}

export interface DirectionFlags {
  enforced: boolean;
  hasDeny: boolean;
  /** Entries for specific identities / for any identity exist: the datapath skips a lookup that cannot match. */
  hasIdentity: boolean;
  hasAnyIdentity: boolean;
}

export interface EnforcementFlags {
  ingress: DirectionFlags;
  egress: DirectionFlags;
}

export function enforcementFlags(p: EndpointPolicy, compiled: Map<string, CompiledEntry>): EnforcementFlags {
  const of = (dir: number, enforced: boolean): DirectionFlags => {
    const mine = [...compiled.values()].filter((c) => c.dir === dir);
    return {
      enforced,
      hasDeny: mine.some((c) => c.deny),
      hasIdentity: mine.some((c) => c.identity !== 0),
      hasAnyIdentity: mine.some((c) => c.identity === 0),
    };
  };
  return { ingress: of(DIRECTION.ingress, p.ingressEnforced), egress: of(DIRECTION.egress, p.egressEnforced) };
}

/**
 * What the map holds for one endpoint, back as a policy, in canonical form: entries nested in another
 * entry of the same verdict (direction, identity) are left out (they decide nothing, e.g. the allows that
 * deny precedence turned into denies), and adjacent port blocks are merged into ranges. The result
 * decides every packet as the written policy does, with entries that may be fewer than were given.
 */
export function decompilePolicy(endpointId: number, flags: { ingressEnforced: boolean; egressEnforced: boolean }, entries: Iterable<CompiledEntry>): EndpointPolicy {
  const all = [...entries];
  const prefixOf = (c: CompiledEntry, len: number): string => `${c.dir}/${c.identity}/${c.deny}/${len}/${head(c.l4Value, len)}`;
  const present = new Set(all.map((c) => prefixOf(c, c.l4Prefix)));
  const nested = (c: CompiledEntry): boolean => {
    for (let len = 0; len < c.l4Prefix; len++) if (present.has(prefixOf(c, len))) return true;
    return false;
  };
  const kept = all.filter((c) => !nested(c));
  const ranges: PolicyEntry[] = kept.map((c) => {
    const protocol = c.l4Prefix === 0 ? 0 : c.l4Value >>> 16;
    const direction: PolicyDirection = c.dir === DIRECTION.ingress ? 'ingress' : 'egress';
    if (c.l4Prefix <= 8) return { direction, identity: c.identity, protocol, port: 0, endPort: 0, deny: c.deny };
    const port = c.l4Value & 0xffff;
    return { direction, identity: c.identity, protocol, port, endPort: port + 2 ** (L4_BITS - c.l4Prefix) - 1, deny: c.deny };
  });
  ranges.sort((a, b) => a.direction.localeCompare(b.direction) || a.identity - b.identity || Number(a.deny) - Number(b.deny) || a.protocol - b.protocol || a.port - b.port);
  const merged: PolicyEntry[] = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last && r.port > 0 && last.port > 0 && last.direction === r.direction && last.identity === r.identity && last.deny === r.deny &&
        last.protocol === r.protocol && last.endPort + 1 === r.port) last.endPort = r.endPort;
    else merged.push({ ...r });
  }
  return { endpointId, ingressEnforced: flags.ingressEnforced, egressEnforced: flags.egressEnforced, entries: merged };
}

/** The policy as listEndpointPolicies returns it after setEndpointPolicy(p). */
export function canonicalEndpointPolicy(p: EndpointPolicy): EndpointPolicy {
  return decompilePolicy(p.endpointId, p, compilePolicy(p).values());
}

export interface LpmVerdict {
  /** 0 allowed, 133 POLICY_DENIED, 181 POLICY_DENY. */
  reason: number;
  match: number;
}

/**
 * What bpf/lib/policy.h's policy_verdict decides for the compiled entries of one endpoint: the same two
 * longest-prefix lookups (the identity, then any identity) and the same precedence. For the fake
 * datapath and for tests that compare it with the policy's plain meaning.
 */
export function lpmVerdict(
  compiled: Map<string, CompiledEntry>, flags: EnforcementFlags, dir: PolicyDirection, identity: number, protocol: number, port: number,
): LpmVerdict {
  const d = dirNumber(dir);
  const f = dir === 'ingress' ? flags.ingress : flags.egress;
  if (!f.enforced && !f.hasDeny) return { reason: 0, match: POLICY_MATCH.none };
  const value = (protocol << 16) | (PORT_PROTOCOLS.has(protocol) ? port : 0);
  const longest = (id: number): CompiledEntry | undefined => {
    for (let len = L4_BITS; len >= 0; len--) {
      const c = compiled.get(entryKey({ dir: d, identity: id, l4Prefix: len, l4Value: len === 0 ? 0 : head(value, len) << (L4_BITS - len) }));
      if (c) return c;
    }
    return undefined;
  };
  const byId = longest(identity);
  const any = longest(0);
  let e: CompiledEntry | undefined;
  let l3 = true;
  if (byId?.deny) e = byId;
  else if (any?.deny) [e, l3] = [any, false];
  else if (any && (!byId || any.l4Prefix > byId.l4Prefix)) [e, l3] = [any, false];
  else e = byId;
  if (!e) return { reason: f.enforced ? DROP_REASON.POLICY_DENIED : 0, match: POLICY_MATCH.none };
  const match = e.l4Prefix > 8 ? (l3 ? POLICY_MATCH.l3L4 : POLICY_MATCH.l4Only)
    : e.l4Prefix > 0 ? (l3 ? POLICY_MATCH.l3Proto : POLICY_MATCH.protoOnly)
      : l3 ? POLICY_MATCH.l3Only : POLICY_MATCH.all;
  return { reason: e.deny ? DROP_REASON.POLICY_DENY : 0, match };
}
