// Property tests of the cluster file: whatever a user writes, resolveSpec either returns a spec whose
// every address is usable (inside its subnet, not the network, gateway or broadcast address, all
// distinct, pod CIDRs inside the pod subnet and disjoint) or throws an InvalidInputError that names
// the field. Never another exception, never a half-valid spec.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { resolveSpec, type ClusterSpec } from './spec.js';
import { cidrContains, cidrsOverlap, parseCidr, parseIpv4, formatIpv4 } from './cidr.js';
import { InvalidInputError, InvalidInputList } from '../errors.js';

function problemsOf(e: unknown): InvalidInputError[] {
  if (e instanceof InvalidInputList) return e.problems;
  if (e instanceof InvalidInputError) return [e];
  throw e;
}

function checkUsable(s: ClusterSpec): void {
  const underlay = parseCidr(s.underlaySubnet)!;
  const size = 2 ** (32 - underlay.prefix);
  const reserved = new Set([underlay.base, underlay.base + size - 1, parseIpv4(s.underlayGateway)!]);
  const ips = new Set<number>();
  const pods = parseCidr(s.podSubnet)!;
  for (const n of s.nodes) {
    const ip = parseIpv4(n.underlayIp)!;
    expect(cidrContains(underlay, ip), `${n.underlayIp} outside ${s.underlaySubnet}`).toBe(true);
    expect(reserved.has(ip), `${n.underlayIp} is the network, gateway or broadcast address of ${s.underlaySubnet}`).toBe(false);
    expect(ips.has(ip)).toBe(false);
    ips.add(ip);
    const pc = parseCidr(n.podCidr)!;
    expect(cidrContains(pods, pc.base) && pc.prefix >= pods.prefix).toBe(true);
    for (const m of s.nodes) if (m !== n) expect(cidrsOverlap(pc, parseCidr(m.podCidr)!)).toBe(false);
  }
  expect(cidrContains(underlay, parseIpv4(s.underlayGateway)!)).toBe(true);
}

describe('cluster spec properties', () => {
  it('node addresses always fit the underlay: inside it, never its broadcast; or a clear error naming the subnet', () => {
    fc.assert(
      fc.property(fc.integer({ min: 20, max: 32 }), fc.integer({ min: 1, max: 32 }), (prefix, nodes) => {
        const base = formatIpv4((parseIpv4('198.18.0.0')! >>> (32 - prefix)) << (32 - prefix) >>> 0);
        try {
          checkUsable(resolveSpec({ nodes: Array.from({ length: nodes }, () => ({})), networking: { underlaySubnet: `${base}/${prefix}` } }, 'c.yaml'));
        } catch (e) {
          const problems = problemsOf(e);
          expect(problems.map((p) => p.field)).toContain('c.yaml: networking.underlaySubnet');
          expect(problems.find((p) => p.field === 'c.yaml: networking.underlaySubnet')!.message).toMatch(/room for/);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a /28 underlay holds 4 nodes (.11-.14), not a fifth on its broadcast address', () => {
    expect(resolveSpec({ nodes: [{}, {}, {}, {}], networking: { underlaySubnet: '198.18.0.0/28' } }, 'c').nodes.map((n) => n.underlayIp)).toEqual([
      '198.18.0.11', '198.18.0.12', '198.18.0.13', '198.18.0.14',
    ]);
    expect(() => resolveSpec({ nodes: [{}, {}, {}, {}, {}], networking: { underlaySubnet: '198.18.0.0/28' } }, 'c')).toThrow(/underlaySubnet: 198\.18\.0\.0\/28 has room for 4 nodes/);
  });

  // Arbitrary documents, shaped like a cluster file at random depths.
  const cidrLike = fc.oneof(
    fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 33 })).map(([a, b, p]) => `198.${a}.${b}.0/${p}`),
    fc.constantFrom('198.18.0.0/24', '198.19.0.0/16', '198.18.128.0/20', '10.0.0.0/8', '0.0.0.0/0', '198.18.0.1/24', 'x', '', '1.2.3.4/32'),
  );
  /** Mostly a valid choice, sometimes anything: both sides of the property get exercised. */
  const mostly = <T>(valid: fc.Arbitrary<T>, noise: fc.Arbitrary<unknown>) => fc.oneof({ weight: 5, arbitrary: valid as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: noise });
  const rawSpec = fc.record(
    {
      kind: mostly(fc.constant('Cluster'), fc.jsonValue()),
      name: mostly(fc.constantFrom('lab', 'a-b'), fc.oneof(fc.constantFrom('Bad_Name', '', 'x'.repeat(40)), fc.jsonValue())),
      nodes: mostly(
        fc.array(fc.record({ name: mostly(fc.constantFrom('n1', 'node-2', 'n3'), fc.oneof(fc.constantFrom('waytoolongnodename', 'UP'), fc.jsonValue())), labels: mostly(fc.dictionary(fc.constantFrom('zone', 'rack'), fc.constantFrom('a', 'b'), { maxKeys: 2 }), fc.jsonValue()) }, { requiredKeys: [] }), { minLength: 1, maxLength: 40 }),
        fc.jsonValue(),
      ),
      networking: mostly(
        fc.record(
          {
            routing: mostly(fc.constantFrom('tunnel', 'native'), fc.constant('bgp')),
            cni: mostly(fc.constantFrom('cnilab', 'kernel'), fc.constantFrom('reference-bridge', 'calico')),
            tunnelProtocol: mostly(fc.constantFrom('vxlan', 'geneve'), fc.constant('gre')),
            underlaySubnet: mostly(fc.constantFrom('198.18.0.0/24', '198.18.0.0/28', '10.0.0.0/26', '198.18.0.0/27'), cidrLike),
            podSubnet: mostly(fc.constantFrom('198.19.0.0/16', '10.1.0.0/20'), cidrLike),
            serviceSubnet: mostly(fc.constantFrom('198.18.128.0/20', '10.2.0.0/24'), cidrLike),
            nodeMaskSize: mostly(fc.integer({ min: 20, max: 28 }), fc.oneof(fc.integer({ min: 0, max: 40 }), fc.jsonValue())),
            mtu: mostly(fc.integer({ min: 1280, max: 9000 }), fc.oneof(fc.integer({ min: 0, max: 10_000 }), fc.jsonValue())),
          },
          { requiredKeys: [] },
        ),
        fc.jsonValue(),
      ),
    },
    { requiredKeys: [] },
  ).chain((r) => fc.oneof({ weight: 9, arbitrary: fc.constant(r as Record<string, unknown>) }, { weight: 1, arbitrary: fc.jsonValue().map((extra) => ({ ...r, extra })) }));

  it('any cluster file: a usable spec or InvalidInputErrors naming a field of the file', () => {
    let accepted = 0;
    fc.assert(
      fc.property(rawSpec, fc.option(fc.integer({ min: -2, max: 40 }), { nil: undefined }), (raw, nodes) => {
        try {
          const s = resolveSpec(raw, 'c.yaml', nodes === undefined ? {} : { nodes });
          checkUsable(s);
          expect(s.podMtu).toBeGreaterThan(0);
          accepted++;
        } catch (e) {
          for (const p of problemsOf(e)) {
            expect(p.field).toMatch(/^(c\.yaml: |--)/);
            expect(p.message.length).toBeGreaterThan(p.field.length);
          }
        }
      }),
      { numRuns: 1500 },
    );
    expect(accepted).toBeGreaterThan(10); // the accepting side is exercised too (a small share of random files is usable: 400 runs once gave only 9)
  });
});
