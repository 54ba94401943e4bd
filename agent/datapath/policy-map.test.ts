import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EndpointPolicy, PolicyDirection, PolicyEntry } from '../policy/types.js';
import { POLICY_MATCH } from './constants.js';
import { canonicalEndpointPolicy, compilePolicy, enforcementFlags, lpmVerdict, portBlocks, validatePolicy } from './policy-map.js';

/** The contract's plain meaning (agent/policy/types.ts), entry by entry: no prefixes, no precedence tricks. */
function plainVerdict(p: EndpointPolicy, dir: PolicyDirection, identity: number, protocol: number, port: number): number {
  const pport = [6, 17, 132].includes(protocol) ? port : 0;
  const matches = (e: PolicyEntry): boolean =>
    e.direction === dir && (e.identity === 0 || e.identity === identity) && (e.protocol === 0 || e.protocol === protocol) &&
    (e.port === 0 || (pport >= e.port && pport <= (e.endPort || e.port)));
  if (p.entries.some((e) => e.deny && matches(e))) return 181;
  if (!(dir === 'ingress' ? p.ingressEnforced : p.egressEnforced)) return 0;
  return p.entries.some((e) => !e.deny && matches(e)) ? 0 : 133;
}

const verdictOf = (p: EndpointPolicy, dir: PolicyDirection, id: number, proto: number, port: number) => {
  const c = compilePolicy(p);
  return lpmVerdict(c, enforcementFlags(p, c), dir, id, proto, port);
};

const e = (x: Partial<PolicyEntry>): PolicyEntry => ({ direction: 'ingress', identity: 0, protocol: 0, port: 0, endPort: 0, deny: false, ...x });
const pol = (entries: PolicyEntry[], ingressEnforced = true, egressEnforced = false): EndpointPolicy => ({ endpointId: 7, ingressEnforced, egressEnforced, entries });

const PORTS = [0, 1, 2, 79, 80, 81, 443, 1023, 1024, 8080, 32767, 32768, 65534, 65535];
const entryArb: fc.Arbitrary<PolicyEntry> = fc
  .record({
    direction: fc.constantFrom<PolicyDirection>('ingress', 'egress'),
    identity: fc.constantFrom(0, 1, 2, 1001, 1002, 16777217),
    protocol: fc.constantFrom(0, 6, 17, 132, 1),
    port: fc.oneof(fc.constantFrom(...PORTS), fc.integer({ min: 0, max: 65535 })),
    span: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 70000 })),
    deny: fc.boolean(),
  })
  .map(({ direction, identity, protocol, port, span, deny }) => {
    if (protocol === 0 || port === 0) return e({ direction, identity, protocol, deny });
    return e({ direction, identity, protocol, port, endPort: span === 0 ? port : Math.min(65535, port + span), deny });
  });
const policyArb = fc.record({
  endpointId: fc.integer({ min: 0, max: 65535 }),
  ingressEnforced: fc.boolean(),
  egressEnforced: fc.boolean(),
  entries: fc.array(entryArb, { maxLength: 12 }),
});
const packetArb = fc.record({
  dir: fc.constantFrom<PolicyDirection>('ingress', 'egress'),
  identity: fc.constantFrom(0, 1, 2, 1001, 1002, 16777217, 4242),
  protocol: fc.constantFrom(6, 17, 132, 1),
  port: fc.oneof(fc.constantFrom(...PORTS), fc.integer({ min: 0, max: 65535 })),
});

describe('policy map compilation', () => {
  it('splits port ranges into the aligned blocks that cover them exactly', () => {
    expect(portBlocks(80, 80)).toEqual([{ start: 80, bits: 16 }]);
    expect(portBlocks(80, 81)).toEqual([{ start: 80, bits: 15 }]);
    expect(portBlocks(1, 65535)).toHaveLength(16);
    fc.assert(fc.property(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 65535 }), (a, b) => {
      const [lo, hi] = a <= b ? [a, b] : [b, a];
      let next = lo;
      for (const blk of portBlocks(lo, hi)) {
        const size = 2 ** (16 - blk.bits);
        expect(blk.start).toBe(next);
        expect(blk.start % size).toBe(0); // aligned: a prefix
        next += size;
      }
      expect(next).toBe(hi + 1);
    }));
  });

  it('decides every packet as the policy means it (random policies, the BPF lookup emulated)', () => {
    fc.assert(fc.property(policyArb, fc.array(packetArb, { minLength: 1, maxLength: 20 }), (p, pkts) => {
      for (const k of pkts) expect(verdictOf(p, k.dir, k.identity, k.protocol, k.port).reason).toBe(plainVerdict(p, k.dir, k.identity, k.protocol, k.port));
    }), { numRuns: 500 });
  });

  it('the canonical form (what listEndpointPolicies returns) decides the same and is a fixed point', () => {
    fc.assert(fc.property(policyArb, fc.array(packetArb, { minLength: 1, maxLength: 20 }), (p, pkts) => {
      const c = canonicalEndpointPolicy(p);
      for (const k of pkts) expect(plainVerdict(c, k.dir, k.identity, k.protocol, k.port)).toBe(plainVerdict(p, k.dir, k.identity, k.protocol, k.port));
      expect(canonicalEndpointPolicy(c)).toEqual(c);
    }), { numRuns: 300 });
  });

  it('deny wins over a more specific allow, in the same identity and across identity wildcards', () => {
    const p = pol([e({ protocol: 6, port: 80, identity: 1001 }), e({ protocol: 6, port: 1, endPort: 1023, deny: true, identity: 1001 })]);
    expect(verdictOf(p, 'ingress', 1001, 6, 80)).toEqual({ reason: 181, match: POLICY_MATCH.l3L4 });
    const q = pol([e({ protocol: 6, port: 80, identity: 1001 }), e({ deny: true })]);
    expect(verdictOf(q, 'ingress', 1001, 6, 80)).toEqual({ reason: 181, match: POLICY_MATCH.all });
    // The allow nested in the deny is gone from the canonical form: it decides nothing.
    expect(canonicalEndpointPolicy(p).entries).toEqual([e({ protocol: 6, port: 1, endPort: 1023, deny: true, identity: 1001 })]);
  });

  it('reports the kind of entry that matched, as Cilium does', () => {
    const p = pol([
      e({ identity: 1001 }), e({ identity: 1002, protocol: 17 }), e({ identity: 1002, protocol: 6, port: 80, endPort: 90 }),
      e({ protocol: 6, port: 443 }), e({ protocol: 132 }),
    ]);
    expect(verdictOf(p, 'ingress', 1001, 6, 1)).toEqual({ reason: 0, match: POLICY_MATCH.l3Only });
    expect(verdictOf(p, 'ingress', 1002, 17, 53)).toEqual({ reason: 0, match: POLICY_MATCH.l3Proto });
    expect(verdictOf(p, 'ingress', 1002, 6, 85)).toEqual({ reason: 0, match: POLICY_MATCH.l3L4 });
    expect(verdictOf(p, 'ingress', 1001, 6, 443)).toEqual({ reason: 0, match: POLICY_MATCH.l4Only }); // longer L4 wins
    expect(verdictOf(p, 'ingress', 5, 132, 9)).toEqual({ reason: 0, match: POLICY_MATCH.protoOnly });
    expect(verdictOf(p, 'ingress', 5, 6, 9)).toEqual({ reason: 133, match: POLICY_MATCH.none });
    expect(verdictOf(pol([e({})]), 'ingress', 5, 6, 9)).toEqual({ reason: 0, match: POLICY_MATCH.all });
  });

  it('a direction not enforced allows all but what a deny entry matches', () => {
    const p = pol([e({ direction: 'egress', protocol: 17, port: 53, deny: true }), e({ direction: 'egress', identity: 9 })], true, false);
    expect(verdictOf(p, 'egress', 9, 6, 80).reason).toBe(0);
    expect(verdictOf(p, 'egress', 9, 17, 53).reason).toBe(181);
    expect(verdictOf(p, 'ingress', 9, 6, 80).reason).toBe(133);
  });

  it('canonical form merges adjacent port blocks back into ranges', () => {
    expect(canonicalEndpointPolicy(pol([e({ protocol: 6, port: 1000, endPort: 2000 }), e({ protocol: 6, port: 2001, endPort: 2002 })])).entries)
      .toEqual([e({ protocol: 6, port: 1000, endPort: 2002 })]);
  });

  it('rejects what the map cannot hold, naming the field', () => {
    expect(() => validatePolicy(pol([e({ protocol: 0, port: 80 })]))).toThrow(/entries\[0\]\.port/);
    expect(() => validatePolicy(pol([e({ protocol: 6, port: 90, endPort: 80 })]))).toThrow(/entries\[0\]\.endPort/);
    expect(() => validatePolicy(pol([e({ protocol: 6, port: 0, endPort: 80 })]))).toThrow(/entries\[0\]\.endPort/);
    expect(() => validatePolicy(pol([e({}), e({ protocol: 300 })]))).toThrow(/entries\[1\]\.protocol/);
    expect(() => validatePolicy(pol([e({ direction: 'both' as PolicyDirection })]))).toThrow(/entries\[0\]\.direction/);
    expect(() => validatePolicy({ ...pol([]), endpointId: 70000 })).toThrow(/endpointId/);
    expect(() => validatePolicy(pol([e({ identity: -1 })]))).toThrow(/entries\[0\]\.identity/);
  });
});
