// Policy enforcement (bpf/lib/policy.h) through BPF_PROG_TEST_RUN, with policies written by the agent's
// own code (Datapath.setEndpointPolicy): wildcards, port ranges, protocols, deny precedence, default
// allow, egress at the source and ingress at every delivery hook, conntrack only after allow, replies
// without lookup, established connections across policy changes, the verdict and drop events. Then the
// deliberately broken objects, each shown failing the case it is built to fail.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mapUpdate } from '../../agent/datapath/libbpf.js';
import { u32Key } from '../../agent/datapath/codec.js';
import { CONFIG, DIRECTION, DROP_REASON, MAP, OBS_POINT, POLICY_MATCH, PROG, RESERVED_IDENTITY, TC_ACT } from '../../agent/datapath/constants.js';
import { canonicalEndpointPolicy, compilePolicy } from '../../agent/datapath/policy-map.js';
import { openDatapath } from '../../agent/datapath/datapath.js';
import type { EndpointEntry } from '../../agent/datapath/types.js';
import type { EndpointPolicy, PolicyEntry } from '../../agent/policy/types.js';
import { eth, ETH_P_IP, icmpEcho, ipv4, sctp, TCP, tcp, udp } from './packets.js';
import {
  buildAndMount, Harness, NODE, OBJ, OBJ_POLICY_CT_LEAK, OBJ_POLICY_IGNORE_PORT, OBJ_POLICY_IGNORE_PROTO, otherIfindex, removePinDir, tempPinDir,
} from './fixture.js';

const B_IFINDEX = otherIfindex() ?? 4000;
const A: EndpointEntry = { ifindex: 1, ip: '198.19.1.10', podMac: '02:00:00:00:00:0a', hostMac: '02:00:00:00:01:0a', identity: 1001, endpointId: 10 };
const B: EndpointEntry = { ifindex: B_IFINDEX, ip: '198.19.1.20', podMac: '02:00:00:00:00:14', hostMac: '02:00:00:00:01:14', identity: 1002, endpointId: 20 };
const REMOTE_POD = '198.19.2.30';
const REMOTE_POD_ID = 2001;
const CIDR_ID = 16777217; // local-scope CIDR identities, as the policy engine allocates them
const CIDR_NARROW_ID = 16777218;

const ing = (x: Partial<PolicyEntry>): PolicyEntry => ({ direction: 'ingress', identity: 0, protocol: 0, port: 0, endPort: 0, deny: false, ...x });
const egr = (x: Partial<PolicyEntry>): PolicyEntry => ing({ direction: 'egress', ...x });
const policy = (ep: EndpointEntry, entries: PolicyEntry[], ingressEnforced = true, egressEnforced = false): EndpointPolicy =>
  ({ endpointId: ep.endpointId, ingressEnforced, egressEnforced, entries });

function setup(h: Harness): void {
  h.dp.upsertEndpoint(A);
  h.dp.upsertEndpoint(B);
  h.dp.upsertIpcache('198.19.2.0/24', { identity: RESERVED_IDENTITY.remoteNode, tunnelEndpoint: '198.18.0.12' });
  h.dp.upsertIpcache(REMOTE_POD, { identity: REMOTE_POD_ID, tunnelEndpoint: '198.18.0.12' });
  h.dp.upsertIpcache('203.0.113.0/24', { identity: CIDR_ID });
  h.dp.upsertIpcache('203.0.113.128/25', { identity: CIDR_NARROW_ID });
  mapUpdate(h.obj.mapFd(MAP.config), u32Key(CONFIG.tunnelIfindex), u32Key(77));
}

let port = 30000;
/** A fresh source port per connection: the tests share one conntrack table. */
const sp = (): number => ++port;

function harnessFor(objectPath: string, tag: string): { h: Harness; dir: string } {
  const dir = tempPinDir(tag);
  const h = new Harness(dir, objectPath);
  setup(h);
  return { h, dir };
}

describe('policy enforcement (BPF_PROG_TEST_RUN)', () => {
  let h: Harness;
  let dir: string;
  const fromA = (l3: Buffer) => h.run(PROG.fromContainer, eth(A.hostMac, A.podMac, ETH_P_IP, l3), A.ifindex);
  const fromB = (l3: Buffer) => h.run(PROG.fromContainer, eth(B.hostMac, B.podMac, ETH_P_IP, l3), B.ifindex);
  const synAB = (dport: number, sport = sp()) => fromA(tcp(A.ip, B.ip, sport, dport, TCP.SYN)).retval;
  const set = (p: EndpointPolicy) => h.dp.setEndpointPolicy!(p);
  // The traces where packets enter the datapath (FROM_*) are not what these tests are about: they check the
  // verdicts, the drops and the trace where the packet leaves (observer.root.test.ts covers FROM_*).
  const FROM_POINTS = new Set<number>([OBS_POINT.FROM_ENDPOINT, OBS_POINT.FROM_OVERLAY, OBS_POINT.FROM_NETWORK, OBS_POINT.FROM_HOST]);
  const policyEvents = () => h.events().filter((e) => !(e.kind === 'trace' && FROM_POINTS.has(e.observationPoint ?? -1)));
  const drops = (reason: number, direction: number) => h.dp.dropCounters().find((c) => c.reason === reason && c.direction === direction)?.packets ?? 0n;

  beforeAll(async () => {
    await buildAndMount();
    ({ h, dir } = harnessFor(OBJ, 'pol'));
  });
  beforeEach(() => {
    h.dp.deleteEndpointPolicy!(A.endpointId);
    h.dp.deleteEndpointPolicy!(B.endpointId);
    policyEvents();
  });
  afterAll(() => {
    h?.close();
    if (dir) removePinDir(dir);
  });

  it('without policy everything passes: no lookup, no verdict event', () => {
    expect(synAB(80)).toBe(TC_ACT.REDIRECT);
    expect(policyEvents()).toMatchObject([{ kind: 'trace', observationPoint: OBS_POINT.TO_ENDPOINT }]);
  });

  it('ingress allow by identity and port; another port is denied (133, ingress), counted, and leaves no conntrack', () => {
    set(policy(B, [ing({ identity: A.identity, protocol: 6, port: 80 })]));
    const ok = sp();
    expect(synAB(80, ok)).toBe(TC_ACT.REDIRECT);
    const allowed = policyEvents();
    expect(allowed).toMatchObject([
      { kind: 'policy-verdict', direction: DIRECTION.ingress, policyMatchType: POLICY_MATCH.l3L4, srcIdentity: A.identity, dstIdentity: B.identity, dstPort: 80 },
      { kind: 'trace', observationPoint: OBS_POINT.TO_ENDPOINT },
    ]);
    expect(allowed[0]!.dropReason).toBeUndefined();
    expect(h.ctEntries()).toContain(`${A.ip}:${ok}>${B.ip}:80/6`);

    const before = drops(DROP_REASON.POLICY_DENIED, DIRECTION.ingress);
    const denied = sp();
    expect(synAB(81, denied)).toBe(TC_ACT.SHOT);
    expect(synAB(81, denied)).toBe(TC_ACT.SHOT); // the retransmission finds no entry to ride on
    const ev = policyEvents();
    expect(ev).toHaveLength(4);
    expect(ev[0]).toMatchObject({ kind: 'policy-verdict', dropReason: DROP_REASON.POLICY_DENIED, direction: DIRECTION.ingress, policyMatchType: POLICY_MATCH.none });
    expect(ev[1]).toMatchObject({ kind: 'drop', dropReason: DROP_REASON.POLICY_DENIED, direction: DIRECTION.ingress, srcIdentity: A.identity, dstIdentity: B.identity, srcIp: A.ip, dstIp: B.ip, dstPort: 81 });
    expect(h.ctEntries().filter((e) => e.includes(`:${denied}>`))).toEqual([]);
    expect(drops(DROP_REASON.POLICY_DENIED, DIRECTION.ingress)).toBe(before + 2n);
  });

  it('wildcards: any peer with a port (L4-only), any port of a protocol (L3-proto), any protocol (L3-only), everything (all)', () => {
    set(policy(B, [ing({ protocol: 6, port: 8080 })]));
    expect(synAB(8080)).toBe(TC_ACT.REDIRECT);
    expect(policyEvents()[0]).toMatchObject({ kind: 'policy-verdict', policyMatchType: POLICY_MATCH.l4Only });
    set(policy(B, [ing({ identity: A.identity, protocol: 17 })]));
    expect(fromA(udp(A.ip, B.ip, sp(), 5353)).retval).toBe(TC_ACT.REDIRECT);
    expect(synAB(5353)).toBe(TC_ACT.SHOT);
    expect(policyEvents().filter((e) => e.kind === 'policy-verdict').map((e) => e.policyMatchType)).toEqual([POLICY_MATCH.l3Proto, POLICY_MATCH.none]);
    set(policy(B, [ing({ identity: A.identity })]));
    expect(fromA(icmpEcho(A.ip, B.ip, 8, sp(), 1)).retval).toBe(TC_ACT.REDIRECT);
    expect(policyEvents()[0]).toMatchObject({ policyMatchType: POLICY_MATCH.l3Only, protocol: 1 });
    set(policy(B, [ing({})]));
    expect(synAB(1)).toBe(TC_ACT.REDIRECT);
    expect(policyEvents()[0]).toMatchObject({ policyMatchType: POLICY_MATCH.all });
  });

  it('port ranges: both ends allowed, both neighbours denied', () => {
    set(policy(B, [ing({ identity: A.identity, protocol: 6, port: 8000, endPort: 8100 })]));
    for (const p of [8000, 8001, 8050, 8099, 8100]) expect(synAB(p), `port ${p}`).toBe(TC_ACT.REDIRECT);
    for (const p of [7999, 8101, 80]) expect(synAB(p), `port ${p}`).toBe(TC_ACT.SHOT);
  });

  it('protocols: a UDP rule does not open TCP; SCTP ports are matched', () => {
    set(policy(B, [ing({ identity: A.identity, protocol: 17, port: 53 }), ing({ identity: A.identity, protocol: 132, port: 9000 })]));
    expect(fromA(udp(A.ip, B.ip, sp(), 53)).retval).toBe(TC_ACT.REDIRECT);
    expect(synAB(53)).toBe(TC_ACT.SHOT);
    expect(fromA(sctp(A.ip, B.ip, sp(), 9000)).retval).toBe(TC_ACT.REDIRECT);
    expect(fromA(sctp(A.ip, B.ip, sp(), 9001)).retval).toBe(TC_ACT.SHOT);
    expect(fromA(udp(A.ip, B.ip, sp(), 9000)).retval).toBe(TC_ACT.SHOT);
  });

  it('deny wins (181): over a broader allow, over a narrower allow, from any peer over an identity allow, and without enforcement', () => {
    set(policy(B, [ing({ identity: A.identity }), ing({ identity: A.identity, protocol: 6, port: 80, deny: true })]));
    expect(synAB(80)).toBe(TC_ACT.SHOT);
    expect(synAB(81)).toBe(TC_ACT.REDIRECT);
    expect(policyEvents().filter((e) => e.kind === 'drop')).toMatchObject([{ dropReason: DROP_REASON.POLICY_DENY, direction: DIRECTION.ingress, policyMatchType: POLICY_MATCH.l3L4 }]);
    set(policy(B, [ing({ identity: A.identity, protocol: 6, port: 80 }), ing({ protocol: 6, port: 1, endPort: 1023, deny: true })]));
    expect(synAB(80)).toBe(TC_ACT.SHOT);
    expect(policyEvents().filter((e) => e.kind === 'drop')).toMatchObject([{ dropReason: DROP_REASON.POLICY_DENY, policyMatchType: POLICY_MATCH.l4Only }]);
    set(policy(B, [ing({ protocol: 6, port: 22, deny: true })], false));
    expect(synAB(22)).toBe(TC_ACT.SHOT);
    expect(synAB(23)).toBe(TC_ACT.REDIRECT);
  });

  it('egress at the source: remote pods through the tunnel, CIDR identities by longest prefix, direction egress', () => {
    set(policy(A, [egr({ identity: REMOTE_POD_ID, protocol: 17, port: 53 }), egr({ identity: CIDR_ID, protocol: 6, port: 443 })], false, true));
    expect(fromA(udp(A.ip, REMOTE_POD, sp(), 53)).retval).toBe(TC_ACT.REDIRECT);
    const allowed = policyEvents();
    expect(allowed).toMatchObject([
      { kind: 'policy-verdict', direction: DIRECTION.egress, dstIdentity: REMOTE_POD_ID },
      { kind: 'trace', observationPoint: OBS_POINT.TO_OVERLAY },
    ]);
    expect(allowed[0]!.dropReason).toBeUndefined();
    expect(fromA(udp(A.ip, REMOTE_POD, sp(), 54)).retval).toBe(TC_ACT.SHOT);
    expect(policyEvents()[1]).toMatchObject({ kind: 'drop', dropReason: DROP_REASON.POLICY_DENIED, direction: DIRECTION.egress, dstIdentity: REMOTE_POD_ID });
    expect(fromA(tcp(A.ip, '203.0.113.9', sp(), 443, TCP.SYN)).retval).toBe(TC_ACT.OK); // allowed, to the stack
    expect(fromA(tcp(A.ip, '203.0.113.200', sp(), 443, TCP.SYN)).retval).toBe(TC_ACT.SHOT); // the /25: another identity
    expect(fromA(tcp(A.ip, '198.51.100.1', sp(), 443, TCP.SYN)).retval).toBe(TC_ACT.SHOT); // world
    expect(policyEvents().filter((e) => e.kind === 'drop').map((e) => e.dstIdentity)).toEqual([CIDR_NARROW_ID, RESERVED_IDENTITY.world]);
  });

  it('same node: the sender\'s egress and the receiver\'s ingress are both decided before delivery', () => {
    set(policy(A, [egr({ identity: B.identity, protocol: 6, port: 80 })], false, true));
    set(policy(B, [ing({ identity: A.identity, protocol: 6, port: 81 })]));
    expect(synAB(80)).toBe(TC_ACT.SHOT);
    const ev = policyEvents();
    expect(ev).toMatchObject([
      { kind: 'policy-verdict', direction: DIRECTION.egress },
      { kind: 'policy-verdict', direction: DIRECTION.ingress, dropReason: DROP_REASON.POLICY_DENIED },
      { kind: 'drop', direction: DIRECTION.ingress },
    ]);
    expect(ev[0]!.dropReason).toBeUndefined();
    expect(synAB(81)).toBe(TC_ACT.SHOT);
    expect(policyEvents()).toMatchObject([{ kind: 'policy-verdict', direction: DIRECTION.egress, dropReason: DROP_REASON.POLICY_DENIED }, { kind: 'drop', direction: DIRECTION.egress }]);
  });

  it('replies of allowed connections pass without a lookup; the replier\'s own new connections are checked', () => {
    set(policy(B, [ing({ identity: A.identity, protocol: 6, port: 80 })], true, true)); // B may send nothing new
    const s = sp();
    expect(synAB(80, s)).toBe(TC_ACT.REDIRECT);
    policyEvents();
    expect(fromB(tcp(B.ip, A.ip, 80, s, TCP.SYN | TCP.ACK)).retval).toBe(TC_ACT.REDIRECT);
    expect(policyEvents()).toMatchObject([{ kind: 'trace', isReply: true }]); // no policy-verdict
    expect(fromB(tcp(B.ip, A.ip, sp(), 9999, TCP.SYN)).retval).toBe(TC_ACT.SHOT);
    expect(policyEvents()[1]).toMatchObject({ kind: 'drop', dropReason: DROP_REASON.POLICY_DENIED, direction: DIRECTION.egress, srcIdentity: B.identity });
  });

  it('an established connection survives a policy change that still allows it, and is cut by one that does not', () => {
    set(policy(B, [ing({ identity: A.identity, protocol: 6, port: 80 })]));
    const s = sp();
    expect(synAB(80, s)).toBe(TC_ACT.REDIRECT);
    set(policy(B, [ing({ identity: A.identity, protocol: 6, port: 70, endPort: 90 }), ing({ identity: A.identity, protocol: 17 })]));
    policyEvents();
    expect(fromA(tcp(A.ip, B.ip, s, 80, TCP.ACK)).retval).toBe(TC_ACT.REDIRECT);
    expect(policyEvents()).toEqual([]); // not new: no verdict event, nothing new to trace
    set(policy(B, [ing({ identity: A.identity, protocol: 6, port: 81 })]));
    expect(fromA(tcp(A.ip, B.ip, s, 80, TCP.ACK)).retval).toBe(TC_ACT.SHOT);
    expect(policyEvents()).toMatchObject([{ kind: 'drop', dropReason: DROP_REASON.POLICY_DENIED, direction: DIRECTION.ingress }]);
    expect(fromB(tcp(B.ip, A.ip, 80, s, TCP.ACK)).retval).toBe(TC_ACT.REDIRECT); // replies are never looked up
  });

  it('from_overlay decides ingress on the tunnel identity; an unattributable one (no tunnel key here) is world', () => {
    const fromOverlay = (dport: number) => h.run(PROG.fromOverlay, eth(A.hostMac, A.hostMac, ETH_P_IP, tcp(REMOTE_POD, B.ip, sp(), dport, TCP.SYN))).retval;
    set(policy(B, [ing({ identity: REMOTE_POD_ID, protocol: 6, port: 80 })]));
    expect(fromOverlay(80)).toBe(TC_ACT.SHOT);
    expect(policyEvents()[1]).toMatchObject({ kind: 'drop', dropReason: DROP_REASON.POLICY_DENIED, direction: DIRECTION.ingress, srcIdentity: RESERVED_IDENTITY.world });
    set(policy(B, [ing({ identity: RESERVED_IDENTITY.world, protocol: 6, port: 80 })]));
    expect(fromOverlay(80)).toBe(TC_ACT.REDIRECT);
  });

  it('from_netdev (native) takes the source identity from the ipcache by longest prefix: CIDR identities', () => {
    const fromNet = (src: string) => h.run(PROG.fromNetdev, eth(B.hostMac, '02:00:00:00:99:01', ETH_P_IP, tcp(src, B.ip, sp(), 80, TCP.SYN)), 1).retval;
    set(policy(B, [ing({ identity: CIDR_ID, protocol: 6, port: 80 })]));
    expect(fromNet('203.0.113.5')).toBe(TC_ACT.REDIRECT);
    expect(fromNet('203.0.113.200')).toBe(TC_ACT.SHOT);
    expect(fromNet('198.51.100.7')).toBe(TC_ACT.SHOT);
    expect(policyEvents().filter((e) => e.kind === 'policy-verdict').map((e) => e.srcIdentity)).toEqual([CIDR_ID, CIDR_NARROW_ID, RESERVED_IDENTITY.world]);
  });

  it('to_container: the host (identity 1) into a pod; the datapath\'s own ICMP errors pass unpoliced', () => {
    const toA = (l3: Buffer, mark = 0) => h.run(PROG.toContainer, eth(A.podMac, A.hostMac, ETH_P_IP, l3), A.ifindex, mark).retval;
    set(policy(A, [ing({ identity: RESERVED_IDENTITY.host, protocol: 6, port: 80 })]));
    expect(toA(tcp(NODE.routerIp, A.ip, sp(), 80, TCP.SYN))).toBe(TC_ACT.OK);
    expect(toA(tcp(NODE.nodeIp, A.ip, sp(), 81, TCP.SYN))).toBe(TC_ACT.SHOT);
    const ev = policyEvents().filter((e) => e.kind !== 'trace');
    expect(ev[0]!.dropReason).toBeUndefined();
    expect(ev).toMatchObject([
      { kind: 'policy-verdict', srcIdentity: RESERVED_IDENTITY.host },
      { kind: 'policy-verdict', srcIdentity: RESERVED_IDENTITY.host, dropReason: DROP_REASON.POLICY_DENIED },
      { kind: 'drop', direction: DIRECTION.ingress, srcIdentity: RESERVED_IDENTITY.host },
    ]);
    const unreachable = Buffer.alloc(36);
    unreachable[0] = 3; // ICMP destination unreachable, quoting nothing useful: enough for the test
    const icmpErr = ipv4(NODE.routerIp, A.ip, 1, unreachable);
    expect(toA(icmpErr, 0x434e4c01)).toBe(TC_ACT.OK);
    expect(policyEvents()).toEqual([]);
    expect(toA(icmpErr)).toBe(TC_ACT.SHOT); // the same packet from anyone else is policed
  });

  it('the maps: read back in canonical form, two generations, an empty policy or a delete leaves nothing', () => {
    const p1 = policy(B, [ing({ identity: A.identity, protocol: 6, port: 80, endPort: 90 })]);
    const p2 = policy(B, [ing({ identity: A.identity, protocol: 6, port: 80, endPort: 95 }), ing({ protocol: 17, port: 53, deny: true })]);
    const p3 = policy(B, [ing({ identity: A.identity, protocol: 6, port: 81 })], true, true);
    for (const p of [p1, p2, p3]) set(p);
    expect(h.dp.listEndpointPolicies!()).toEqual([canonicalEndpointPolicy(p3)]);
    // The live generation holds p3, the other one p2 (the base of the next diff).
    expect(h.policyMapSizes()).toEqual({ entries: compilePolicy(p3).size + compilePolicy(p2).size, endpoints: 1 });
    expect(() => set(policy(B, [ing({ protocol: 6, port: 90, endPort: 80 })]))).toThrow(/entries\[0\]\.endPort/);
    expect(h.dp.listEndpointPolicies!()).toEqual([canonicalEndpointPolicy(p3)]); // nothing written

    // A second datapath on the same pins (an agent restart) continues from what the maps hold.
    const again = openDatapath({ pinDir: dir, objectPath: OBJ, routing: 'tunnel', ...NODE });
    try {
      expect(again.listEndpointPolicies!()).toEqual([canonicalEndpointPolicy(p3)]);
      again.setEndpointPolicy!(p1);
      expect(synAB(85)).toBe(TC_ACT.REDIRECT);
      expect(synAB(81 + 10)).toBe(TC_ACT.SHOT);
      expect(h.policyMapSizes()).toEqual({ entries: compilePolicy(p1).size + compilePolicy(p3).size, endpoints: 1 });
      again.setEndpointPolicy!(policy(B, [], false, false));
      expect(h.policyMapSizes()).toEqual({ entries: 0, endpoints: 0 });
      expect(again.listEndpointPolicies!()).toEqual([]);
      again.setEndpointPolicy!(p2);
      again.deleteEndpointPolicy!(B.endpointId);
      expect(h.policyMapSizes()).toEqual({ entries: 0, endpoints: 0 });
    } finally {
      again.close();
    }
  });
});

describe('deliberately broken policy objects fail the case they are built to fail', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach(removePinDir));
  const within = async (obj: string, tag: string, fn: (h: Harness) => void) => {
    await buildAndMount();
    const { h, dir } = harnessFor(obj, tag);
    dirs.push(dir);
    try {
      fn(h);
    } finally {
      h.close();
    }
  };
  const syn = (h: Harness, dport: number, proto: 'tcp' | 'udp' = 'tcp', sport = sp()) =>
    h.run(PROG.fromContainer, eth(A.hostMac, A.podMac, ETH_P_IP, proto === 'tcp' ? tcp(A.ip, B.ip, sport, dport, TCP.SYN) : udp(A.ip, B.ip, sport, dport)), A.ifindex).retval;

  it('ignore-port: a rule for TCP 80 no longer allows TCP 80', () =>
    within(OBJ_POLICY_IGNORE_PORT, 'mut-port', (h) => {
      h.dp.setEndpointPolicy!(policy(B, [ing({ identity: A.identity, protocol: 6, port: 80 })]));
      expect(syn(h, 80)).toBe(TC_ACT.SHOT);
    }));

  it('ignore-proto: a rule for UDP 53 opens TCP 53', () =>
    within(OBJ_POLICY_IGNORE_PROTO, 'mut-proto', (h) => {
      h.dp.setEndpointPolicy!(policy(B, [ing({ identity: A.identity, protocol: 17, port: 53 })]));
      expect(syn(h, 53)).toBe(TC_ACT.REDIRECT);
    }));

  it('ct-leak: an ingress-denied first packet passes; an egress-denied flow passes from its retransmission', () =>
    within(OBJ_POLICY_CT_LEAK, 'mut-ct', (h) => {
      h.dp.setEndpointPolicy!(policy(B, [ing({ identity: A.identity, protocol: 6, port: 80 })]));
      expect(syn(h, 81)).toBe(TC_ACT.REDIRECT);
      h.dp.setEndpointPolicy!(policy(A, [], false, true));
      const s = sp();
      expect(syn(h, 80, 'tcp', s)).toBe(TC_ACT.SHOT);
      expect(syn(h, 80, 'tcp', s)).toBe(TC_ACT.REDIRECT);
    }));
});
