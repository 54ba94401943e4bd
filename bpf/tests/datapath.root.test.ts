// The datapath programs on crafted frames through BPF_PROG_TEST_RUN. What test_run cannot show: the
// redirect itself (retval TC_ACT_REDIRECT is all we get, not the target device) and the tunnel key set by
// bpf_skb_set_tunnel_key (it succeeds, but the metadata is not returned). The tunnel path is therefore
// also covered negatively: with no tunnel device configured the same packet must drop with reason 160.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mapUpdate } from '../../agent/datapath/libbpf.js';
import { u32Key, bytesToIp, bytesToMac } from '../../agent/datapath/codec.js';
import { CONFIG, DIRECTION, DROP_REASON, MAP, OBS_POINT, PROG, RESERVED_IDENTITY, TC_ACT, TRACE_REASON } from '../../agent/datapath/constants.js';
import type { EndpointEntry } from '../../agent/datapath/types.js';
import { arpRequest, eth, ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, icmpEcho, ipChecksumOk, TCP, tcp, udp, withTtl } from './packets.js';
import { buildAndMount, Harness, NODE, OBJ_BROKEN, otherIfindex, removePinDir, tempPinDir } from './fixture.js';

const B_IFINDEX = otherIfindex();
const A: EndpointEntry = { ifindex: 1, ip: '198.19.1.10', podMac: '02:00:00:00:00:0a', hostMac: '02:00:00:00:01:0a', identity: 1001, endpointId: 10 };
const B: EndpointEntry = { ifindex: B_IFINDEX ?? 4000, ip: '198.19.1.20', podMac: '02:00:00:00:00:14', hostMac: '02:00:00:00:01:14', identity: 1002, endpointId: 20 };
const REMOTE_POD = '198.19.2.30';
const REMOTE_NODE = '198.18.0.12';
const TUNNEL_IFINDEX = 77;

/** A frame from pod A as it reaches from_container (A resolved its gateway to A's lxc MAC). */
const fromA = (l3: Buffer): Buffer => eth(A.hostMac, A.podMac, ETH_P_IP, l3);

function setup(h: Harness, tunnel = true): void {
  h.dp.upsertEndpoint(A);
  h.dp.upsertEndpoint(B);
  h.dp.upsertIpcache('198.19.2.0/24', { identity: 2000, tunnelEndpoint: REMOTE_NODE });
  h.dp.upsertIpcache(`${REMOTE_POD}/32`, { identity: 2001, tunnelEndpoint: REMOTE_NODE });
  if (tunnel) mapUpdate(h.obj.mapFd(MAP.config), u32Key(CONFIG.tunnelIfindex), u32Key(TUNNEL_IFINDEX));
}

describe('datapath programs (BPF_PROG_TEST_RUN)', () => {
  let pinDir: string;
  let h: Harness;

  beforeAll(async () => {
    await buildAndMount();
    pinDir = tempPinDir('prog');
    h = new Harness(pinDir);
    setup(h);
  });
  // Each test asserts its own events; start from an empty ring.
  beforeEach(() => void h.events());
  afterAll(() => {
    h?.close();
    if (pinDir) removePinDir(pinDir);
  });

  it('answers a pod ARP request for its gateway with the lxc MAC, back out the same device', () => {
    const r = h.run(PROG.fromContainer, arpRequest(A.podMac, A.ip, NODE.routerIp));
    expect(r.retval).toBe(TC_ACT.REDIRECT);
    const f = r.dataOut;
    expect(bytesToMac(f, 0)).toBe(A.podMac); // eth dst
    expect(bytesToMac(f, 6)).toBe(A.hostMac); // eth src
    expect(f.readUInt16BE(12)).toBe(ETH_P_ARP);
    expect(f.readUInt16BE(20)).toBe(2); // reply
    expect(bytesToMac(f, 22)).toBe(A.hostMac); // sha
    expect(bytesToIp(f, 28)).toBe(NODE.routerIp); // spa
    expect(bytesToMac(f, 32)).toBe(A.podMac); // tha
    expect(bytesToIp(f, 38)).toBe(A.ip); // tpa
    expect(h.events()).toEqual([]);
  });

  it('does not answer ARP for the pod\'s own address or duplicate-address probes', () => {
    expect(h.run(PROG.fromContainer, arpRequest(A.podMac, A.ip, A.ip)).retval).toBe(TC_ACT.OK);
    expect(h.run(PROG.fromContainer, arpRequest(A.podMac, '0.0.0.0', '198.19.1.99')).retval).toBe(TC_ACT.OK);
  });

  it('delivers to a local endpoint: MACs rewritten, one router hop (TTL − 1), redirect, a FROM_ENDPOINT and a TO_ENDPOINT INGRESS trace', () => {
    const frame = fromA(tcp(A.ip, B.ip, 40000, 8080, TCP.SYN));
    const r = h.run(PROG.fromContainer, frame);
    expect(r.retval).toBe(TC_ACT.REDIRECT);
    expect(bytesToMac(r.dataOut, 0)).toBe(B.podMac);
    expect(bytesToMac(r.dataOut, 6)).toBe(B.hostMac);
    // The node routed it: TTL 63 with the header checksum patched, the rest of the packet untouched.
    expect(r.dataOut.subarray(12)).toEqual(withTtl(frame, 63).subarray(12));
    expect(ipChecksumOk(r.dataOut)).toBe(true);
    const ev = h.events();
    expect(ev).toHaveLength(2);
    // Where the packet enters (the pod's lxc, the sender's side: the connection is EGRESS from A)...
    expect(ev[0]).toMatchObject({
      kind: 'trace', observationPoint: OBS_POINT.FROM_ENDPOINT, direction: DIRECTION.egress, ifindex: 1, traceReason: TRACE_REASON.new,
      srcIdentity: A.identity, dstIdentity: B.identity, ethSrc: A.podMac, ethDst: A.hostMac,
    });
    // ...and where it leaves, into B (the receiver's side: INGRESS to B), with the rewritten MACs.
    expect(ev[1]).toMatchObject({
      kind: 'trace', observationPoint: OBS_POINT.TO_ENDPOINT, direction: DIRECTION.ingress, ifindex: B.ifindex, traceReason: TRACE_REASON.new,
      srcIdentity: A.identity, dstIdentity: B.identity, srcIp: A.ip, dstIp: B.ip, protocol: 6, srcPort: 40000,
      dstPort: 8080, tcpFlags: TCP.SYN, isReply: false, ethSrc: B.hostMac, ethDst: B.podMac,
    });
    expect(ev[1]!.length).toBe(frame.length);
  });

  it('local delivery of a packet whose TTL runs out: dropped with 196 and answered with ICMP time exceeded', () => {
    const r = h.run(PROG.fromContainer, withTtl(fromA(tcp(A.ip, B.ip, 40100, 8080, TCP.SYN)), 1));
    expect(r.retval).toBe(TC_ACT.REDIRECT); // the ICMP error, back into A
    expect(bytesToMac(r.dataOut, 0)).toBe(A.podMac);
    expect(bytesToIp(r.dataOut, 14 + 12)).toBe(NODE.routerIp);
    expect(bytesToIp(r.dataOut, 14 + 16)).toBe(A.ip);
    expect([r.dataOut[34], r.dataOut[35]]).toEqual([11, 0]); // time exceeded, in transit
    // Where it entered (FROM_ENDPOINT), then the drop.
    expect(h.events()).toMatchObject([{ kind: 'trace', observationPoint: OBS_POINT.FROM_ENDPOINT }, { kind: 'drop', dropReason: DROP_REASON.TTL_EXCEEDED, srcIdentity: A.identity, dstIdentity: B.identity }]);
  });

  it('aggregates: a retransmitted SYN and a plain ACK produce no new trace', () => {
    expect(h.run(PROG.fromContainer, fromA(tcp(A.ip, B.ip, 40000, 8080, TCP.SYN))).retval).toBe(TC_ACT.REDIRECT);
    expect(h.run(PROG.fromContainer, fromA(tcp(A.ip, B.ip, 40000, 8080, TCP.ACK))).retval).toBe(TC_ACT.REDIRECT);
    expect(h.events()).toEqual([]);
    // A FIN is a flag not yet reported in this direction: reported once.
    h.run(PROG.fromContainer, fromA(tcp(A.ip, B.ip, 40000, 8080, TCP.FIN | TCP.ACK)));
    h.run(PROG.fromContainer, fromA(tcp(A.ip, B.ip, 40000, 8080, TCP.FIN | TCP.ACK)));
    const ev = h.events();
    expect(ev.map((e) => e.observationPoint)).toEqual([OBS_POINT.FROM_ENDPOINT, OBS_POINT.TO_ENDPOINT]);
    expect(ev.every((e) => e.tcpFlags === (TCP.FIN | TCP.ACK) && e.traceReason === TRACE_REASON.established)).toBe(true);
  });

  it.skipIf(B_IFINDEX === undefined)('marks the SYN-ACK from the other endpoint as a reply', () => {
    h.run(PROG.fromContainer, fromA(tcp(A.ip, B.ip, 40001, 8080, TCP.SYN)));
    expect(h.events()).toHaveLength(2);
    const synAck = eth(B.hostMac, B.podMac, ETH_P_IP, tcp(B.ip, A.ip, 8080, 40001, TCP.SYN | TCP.ACK));
    const r = h.run(PROG.fromContainer, synAck, B.ifindex);
    expect(r.retval).toBe(TC_ACT.REDIRECT);
    expect(bytesToMac(r.dataOut, 0)).toBe(A.podMac);
    h.run(PROG.fromContainer, synAck, B.ifindex); // retransmitted SYN-ACK: aggregated away
    const ev = h.events();
    expect(ev).toHaveLength(2);
    // A reply: the connection is A's (EGRESS from A), so leaving B it is INGRESS, reaching A it is EGRESS.
    expect(ev[0]).toMatchObject({ observationPoint: OBS_POINT.FROM_ENDPOINT, direction: DIRECTION.ingress, isReply: true, traceReason: TRACE_REASON.reply });
    expect(ev[1]).toMatchObject({ observationPoint: OBS_POINT.TO_ENDPOINT, direction: DIRECTION.egress, isReply: true, tcpFlags: TCP.SYN | TCP.ACK, srcIdentity: B.identity, dstIdentity: A.identity, ifindex: A.ifindex });
  });

  it('tunnels remote destinations: one router hop, inner MACs fixed, redirect, TO_OVERLAY trace with the ipcache identity', () => {
    const frame = fromA(udp(A.ip, REMOTE_POD, 5353, 53));
    const r = h.run(PROG.fromContainer, frame);
    expect(r.retval).toBe(TC_ACT.REDIRECT);
    expect(bytesToMac(r.dataOut, 0)).toBe(A.hostMac);
    expect(bytesToMac(r.dataOut, 6)).toBe(A.hostMac);
    expect(r.dataOut.subarray(14)).toEqual(withTtl(frame, 63).subarray(14)); // this node's router hop
    expect(h.events()).toMatchObject([
      { kind: 'trace', observationPoint: OBS_POINT.FROM_ENDPOINT, direction: DIRECTION.egress, dstIdentity: 2001 },
      { kind: 'trace', observationPoint: OBS_POINT.TO_OVERLAY, direction: DIRECTION.egress, ifindex: TUNNEL_IFINDEX, srcIdentity: A.identity, dstIdentity: 2001, protocol: 17, dstPort: 53 },
    ]);
    // TTL 1 must not be tunnelled: dropped (196), the pod told with ICMP time exceeded.
    const expired = h.run(PROG.fromContainer, withTtl(fromA(udp(A.ip, REMOTE_POD, 5354, 53)), 1));
    expect(expired.retval).toBe(TC_ACT.REDIRECT);
    expect([expired.dataOut[34], expired.dataOut[35]]).toEqual([11, 0]);
    expect(h.events()).toMatchObject([{ kind: 'trace', observationPoint: OBS_POINT.FROM_ENDPOINT }, { kind: 'drop', dropReason: DROP_REASON.TTL_EXCEEDED, srcIdentity: A.identity, dstIdentity: 2001 }]);
    // A /24 ipcache entry (no /32) is found by longest prefix match.
    expect(h.run(PROG.fromContainer, fromA(udp(A.ip, '198.19.2.99', 5353, 53))).retval).toBe(TC_ACT.REDIRECT);
    expect(h.events()[1]).toMatchObject({ observationPoint: OBS_POINT.TO_OVERLAY, dstIdentity: 2000 });
  });

  it('passes traffic for the node itself to the stack with a TO_STACK trace', () => {
    expect(h.run(PROG.fromContainer, fromA(icmpEcho(A.ip, NODE.routerIp, 8, 77, 1))).retval).toBe(TC_ACT.OK);
    expect(h.events()).toMatchObject([
      { kind: 'trace', observationPoint: OBS_POINT.FROM_ENDPOINT },
      { kind: 'trace', observationPoint: OBS_POINT.TO_STACK, protocol: 1, icmpType: 8, icmpCode: 0, dstIdentity: RESERVED_IDENTITY.host },
    ]);
  });

  it('drops unsupported L3 with reason 139 through the one drop path (event + counter)', () => {
    const before = h.dp.dropCounters().find((c) => c.reason === 139 && c.direction === DIRECTION.egress)?.packets ?? 0n;
    const frame = eth(A.hostMac, A.podMac, ETH_P_IPV6, Buffer.alloc(60));
    expect(h.run(PROG.fromContainer, frame).retval).toBe(TC_ACT.SHOT);
    expect(h.run(PROG.fromContainer, frame).retval).toBe(TC_ACT.SHOT);
    const ev = h.events();
    expect(ev).toHaveLength(2); // drops are never aggregated
    expect(ev[0]).toMatchObject({ kind: 'drop', dropReason: DROP_REASON.UNSUPPORTED_L3_PROTOCOL, direction: DIRECTION.egress, srcIdentity: A.identity, length: frame.length });
    const after = h.dp.dropCounters().find((c) => c.reason === 139 && c.direction === DIRECTION.egress);
    expect(after?.packets).toBe(before + 2n);
    expect(after?.bytes).toBeGreaterThanOrEqual(BigInt(2 * frame.length));
  });

  it('drops malformed IPv4 with reason 134', () => {
    const bad = fromA(tcp(A.ip, B.ip, 1, 2, TCP.SYN));
    bad[14] = 0x43; // IHL 3
    expect(h.run(PROG.fromContainer, bad).retval).toBe(TC_ACT.SHOT);
    expect(h.events()).toMatchObject([{ kind: 'drop', dropReason: DROP_REASON.INVALID_PACKET_DROPPED }]);
  });

  it('from_overlay: delivers to local pods, drops stale pod-CIDR addresses (151), passes the rest', () => {
    const inner = (dst: string) => eth(A.hostMac, A.hostMac, ETH_P_IP, icmpEcho(REMOTE_POD, dst, 8, 9, 1));
    const r = h.run(PROG.fromOverlay, inner(A.ip));
    expect(r.retval).toBe(TC_ACT.REDIRECT);
    expect(r.dataOut[14 + 8]).toBe(63); // the receiving node's router hop
    expect(ipChecksumOk(r.dataOut)).toBe(true);
    expect(bytesToMac(r.dataOut, 0)).toBe(A.podMac);
    expect(bytesToMac(r.dataOut, 6)).toBe(A.hostMac);
    expect(h.events()).toMatchObject([
      { kind: 'trace', observationPoint: OBS_POINT.FROM_OVERLAY, direction: DIRECTION.ingress, dstIdentity: A.identity, icmpType: 8 },
      { kind: 'trace', observationPoint: OBS_POINT.TO_ENDPOINT, direction: DIRECTION.ingress, dstIdentity: A.identity, icmpType: 8 },
    ]);
    expect(h.run(PROG.fromOverlay, inner('198.19.1.200')).retval).toBe(TC_ACT.SHOT);
    expect(h.events()).toMatchObject([{ observationPoint: OBS_POINT.FROM_OVERLAY }, { kind: 'drop', dropReason: DROP_REASON.STALE_OR_UNROUTABLE_IP, direction: DIRECTION.ingress }]);
    expect(h.run(PROG.fromOverlay, inner(NODE.routerIp)).retval).toBe(TC_ACT.OK);
    expect(h.run(PROG.fromOverlay, inner('10.1.2.3')).retval).toBe(TC_ACT.OK);
    expect(h.events()).toMatchObject([
      { observationPoint: OBS_POINT.FROM_OVERLAY },
      { observationPoint: OBS_POINT.TO_STACK, dstIdentity: RESERVED_IDENTITY.host },
      { observationPoint: OBS_POINT.FROM_OVERLAY },
      { observationPoint: OBS_POINT.TO_STACK, dstIdentity: RESERVED_IDENTITY.world },
    ]);
  });

  it('from_overlay: a packet whose TTL runs out on the way to the pod is dropped with 196', () => {
    const f = withTtl(eth(A.hostMac, A.hostMac, ETH_P_IP, icmpEcho(REMOTE_POD, A.ip, 8, 10, 1)), 1);
    expect(h.run(PROG.fromOverlay, f).retval).toBe(TC_ACT.SHOT);
    expect(h.events()).toMatchObject([{ kind: 'trace', observationPoint: OBS_POINT.FROM_OVERLAY }, { kind: 'drop', dropReason: DROP_REASON.TTL_EXCEEDED, direction: DIRECTION.ingress }]);
  });

  it('an ICMP echo reply finds the request\'s entry: is_reply', () => {
    h.run(PROG.fromContainer, fromA(icmpEcho(A.ip, REMOTE_POD, 8, 4242, 1)));
    h.run(PROG.fromContainer, fromA(icmpEcho(A.ip, REMOTE_POD, 8, 4242, 2)));
    expect(h.events()).toMatchObject([{ isReply: false, icmpType: 8, observationPoint: OBS_POINT.FROM_ENDPOINT }, { isReply: false, icmpType: 8, observationPoint: OBS_POINT.TO_OVERLAY }]);
    const reply = eth(A.hostMac, A.hostMac, ETH_P_IP, icmpEcho(REMOTE_POD, A.ip, 0, 4242, 1));
    expect(h.run(PROG.fromOverlay, reply).retval).toBe(TC_ACT.REDIRECT);
    expect(h.events()).toMatchObject([
      { isReply: true, icmpType: 0, observationPoint: OBS_POINT.FROM_OVERLAY, traceReason: TRACE_REASON.reply },
      { isReply: true, icmpType: 0, observationPoint: OBS_POINT.TO_ENDPOINT, direction: DIRECTION.egress },
    ]);
  });

  it('to_container traces host→pod once per connection with the host identity, and passes', () => {
    const frame = eth(A.podMac, A.hostMac, ETH_P_IP, tcp(NODE.routerIp, A.ip, 50000, 80, TCP.SYN));
    expect(h.run(PROG.toContainer, frame).retval).toBe(TC_ACT.OK);
    expect(h.run(PROG.toContainer, frame).retval).toBe(TC_ACT.OK);
    expect(h.events()).toMatchObject([
      { kind: 'trace', observationPoint: OBS_POINT.TO_ENDPOINT, direction: DIRECTION.ingress, srcIdentity: RESERVED_IDENTITY.host, dstIdentity: A.identity },
    ]);
    // The pod's SYN-ACK leaves through from_container and is a reply to the host's connection.
    expect(h.run(PROG.fromContainer, fromA(tcp(A.ip, NODE.routerIp, 80, 50000, TCP.SYN | TCP.ACK))).retval).toBe(TC_ACT.OK);
    expect(h.events()).toMatchObject([{ isReply: true, observationPoint: OBS_POINT.FROM_ENDPOINT }, { isReply: true, observationPoint: OBS_POINT.TO_STACK }]);
  });

  it('from_host tunnels to remote pods with the host identity, delivers local, passes the rest', () => {
    const hostFrame = (dst: string) => eth('02:00:00:00:99:99', '02:00:00:00:99:98', ETH_P_IP, tcp(NODE.routerIp, dst, 50001, 80, TCP.SYN));
    expect(h.run(PROG.fromHost, hostFrame(REMOTE_POD)).retval).toBe(TC_ACT.REDIRECT);
    expect(h.events()).toMatchObject([
      { observationPoint: OBS_POINT.FROM_HOST, srcIdentity: RESERVED_IDENTITY.host, dstIdentity: 2001 },
      { observationPoint: OBS_POINT.TO_OVERLAY, srcIdentity: RESERVED_IDENTITY.host, dstIdentity: 2001 },
    ]);
    const local = h.run(PROG.fromHost, hostFrame(A.ip));
    expect(local.retval).toBe(TC_ACT.REDIRECT);
    expect(bytesToMac(local.dataOut, 0)).toBe(A.podMac);
    // Local delivery: from-host for a new connection only (to_container tracks and reports the rest).
    expect(h.events()).toMatchObject([{ observationPoint: OBS_POINT.FROM_HOST, dstIdentity: A.identity, direction: DIRECTION.egress }]);
    expect(h.run(PROG.fromHost, hostFrame('10.9.9.9')).retval).toBe(TC_ACT.OK);
    expect(h.run(PROG.fromHost, eth('ff:ff:ff:ff:ff:ff', '02:00:00:00:99:98', ETH_P_ARP, Buffer.alloc(28))).retval).toBe(TC_ACT.OK);
  });

  it('delivers events through Datapath.onEvents without polling by hand', async () => {
    const got: number[] = [];
    const stop = h.dp.onEvents((e) => got.push(e.dropReason ?? -1));
    try {
      h.run(PROG.fromContainer, eth(A.hostMac, A.podMac, 0x88cc, Buffer.alloc(46))); // LLDP
      for (let i = 0; i < 50 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(got).toEqual([DROP_REASON.UNSUPPORTED_L3_PROTOCOL]);
    } finally {
      stop();
    }
    expect(h.events()).toEqual([]); // the Datapath consumer took it
  });
});

describe('tunnel misconfiguration and the broken-remote object', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach(removePinDir));

  it('drops remote traffic with 160 when no tunnel device is configured', async () => {
    await buildAndMount();
    const dir = tempPinDir('notun');
    dirs.push(dir);
    const h = new Harness(dir);
    try {
      setup(h, false);
      expect(h.run(PROG.fromContainer, fromA(udp(A.ip, REMOTE_POD, 1, 2))).retval).toBe(TC_ACT.SHOT);
      expect(h.events().filter((e) => e.kind === 'drop')).toMatchObject([{ kind: 'drop', dropReason: DROP_REASON.NO_TUNNEL_OR_ENCAPSULATION_ENDPOINT }]);
    } finally {
      h.close();
    }
  });

  it('datapath-broken-remote.o drops remote delivery with 160 but still delivers locally', async () => {
    await buildAndMount();
    const dir = tempPinDir('broken');
    dirs.push(dir);
    const h = new Harness(dir, OBJ_BROKEN);
    try {
      setup(h);
      expect(h.run(PROG.fromContainer, fromA(udp(A.ip, REMOTE_POD, 1, 2))).retval).toBe(TC_ACT.SHOT);
      expect(h.events().filter((e) => e.kind === 'drop')).toMatchObject([{ kind: 'drop', dropReason: DROP_REASON.NO_TUNNEL_OR_ENCAPSULATION_ENDPOINT, direction: DIRECTION.egress }]);
      expect(h.run(PROG.fromHost, eth(A.hostMac, A.podMac, ETH_P_IP, udp(NODE.routerIp, REMOTE_POD, 1, 2))).retval).toBe(TC_ACT.SHOT);
      expect(h.dp.dropCounters()).toEqual([{ reason: 160, direction: DIRECTION.egress, packets: 2n, bytes: expect.any(BigInt) }]);
      expect(h.run(PROG.fromContainer, fromA(udp(A.ip, B.ip, 1, 2))).retval).toBe(TC_ACT.REDIRECT);
    } finally {
      h.close();
    }
  });
});
