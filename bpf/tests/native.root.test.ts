// Native routing branches through BPF_PROG_TEST_RUN. test_run's bpf_fib_lookup resolves in the netns of
// the calling thread (the skb's device is the ctx ifindex), so the programs run inside a throwaway node
// netns (withNetns) holding the routes bird2 would install: dummy devices stand in for the lxc and eth0.
// What test_run cannot show (the redirect target, the real neighbour resolution) is covered by
// agent/datapath/native.root.test.ts on real devices.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { run } from '../../harness/exec/run.js';
import { withNetns } from '../../agent/datapath/netns.js';
import { bytesToIp, bytesToMac } from '../../agent/datapath/codec.js';
import { DIRECTION, DROP_REASON, OBS_POINT, PROG, RESERVED_IDENTITY, TC_ACT } from '../../agent/datapath/constants.js';
import type { EndpointEntry } from '../../agent/datapath/types.js';
import { eth, ETH_P_ARP, ETH_P_IP, icmpEcho, TCP, tcp, udp, withTtl } from './packets.js';
import { buildAndMount, Harness, NODE, removePinDir, tempPinDir } from './fixture.js';

const NS = `cnilab-nattest-${randomBytes(3).toString('hex')}-unit`;
const REMOTE_NODE = '198.18.0.12'; // route + permanent neighbour
const REMOTE_NODE_NONEIGH = '198.18.0.13'; // route, neighbour unresolved
const GATEWAY = '198.18.0.1';
const NEIGH_MAC = '02:00:00:00:aa:12';
const REMOTE_POD = '198.19.2.30';
const REMOTE_POD_NONEIGH = '198.19.3.30';
const WITHDRAWN_POD = '198.19.4.30'; // its node (198.18.0.14) has no route: only the default matches

const ip = (...args: string[]) => run(['ip', ...args], { netns: NS });
const ifinfo = async (dev: string) =>
  (JSON.parse((await run(['ip', '-j', 'link', 'show', 'dev', dev], { netns: NS })).stdout) as Array<{ ifindex: number; address: string }>)[0]!;

function sumValid(b: Buffer): boolean {
  let s = 0;
  for (let i = 0; i + 1 < b.length; i += 2) s += b.readUInt16BE(i);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s === 0xffff;
}
/** IPv4 header checksum of an Ethernet frame. */
const ipHeaderValid = (frame: Buffer): boolean => sumValid(frame.subarray(14, 34));

/** The ICMP error the program turned the pod's packet into, sent back into the pod: from the router IP,
 *  quoting the offending header and 8 bytes, both checksums valid. */
function expectIcmpError(f: Buffer, pod: EndpointEntry, type: number, code: number, orig: Buffer): void {
  expect(f.length).toBe(14 + 56);
  expect(bytesToMac(f, 0)).toBe(pod.podMac);
  expect(bytesToMac(f, 6)).toBe(pod.hostMac);
  expect(bytesToIp(f, 26)).toBe(NODE.routerIp);
  expect(bytesToIp(f, 30)).toBe(pod.ip);
  expect(f[14 + 9]).toBe(1);
  expect(ipHeaderValid(f)).toBe(true);
  expect([f[34], f[35]]).toEqual([type, code]);
  expect(sumValid(f.subarray(34))).toBe(true);
  expect(f.subarray(42)).toEqual(orig.subarray(0, 28));
}

describe('native routing (BPF_PROG_TEST_RUN in a node netns)', () => {
  let pinDir: string;
  let h: Harness;
  let A: EndpointEntry;
  let B: EndpointEntry;
  let eth0: { ifindex: number; address: string };
  const runNs = (prog: (typeof PROG)[keyof typeof PROG], frame: Buffer, ifindex: number) => withNetns(NS, () => h.run(prog, frame, ifindex));
  const fromA = (l3: Buffer) => runNs(PROG.fromContainer, eth(A.hostMac, A.podMac, ETH_P_IP, l3), A.ifindex);
  const fromNet = (l3: Buffer) => runNs(PROG.fromNetdev, eth(eth0.address, NEIGH_MAC, ETH_P_IP, l3), eth0.ifindex);
  const drops = (reason: number, direction: number) => h.dp.dropCounters().find((c) => c.reason === reason && c.direction === direction)?.packets ?? 0n;

  beforeAll(async () => {
    await buildAndMount();
    await run(['ip', 'netns', 'add', NS]);
    await run(['sysctl', '-qw', 'net.ipv4.ip_forward=1'], { netns: NS }); // FWD_DISABLED otherwise
    // veth pairs (no dummy driver on this kernel); the peers stay in the netns, unused.
    for (const d of ['lxc0', 'lxc1', 'eth0']) {
      await ip('link', 'add', d, 'type', 'veth', 'peer', 'name', `${d}p`);
      for (const x of [d, `${d}p`]) await ip('link', 'set', x, 'up');
    }
    await ip('addr', 'add', `${NODE.nodeIp}/24`, 'dev', 'eth0');
    await ip('route', 'add', '198.19.2.0/24', 'via', REMOTE_NODE, 'dev', 'eth0');
    await ip('neigh', 'add', REMOTE_NODE, 'lladdr', NEIGH_MAC, 'dev', 'eth0', 'nud', 'permanent');
    await ip('route', 'add', '198.19.3.0/24', 'via', REMOTE_NODE_NONEIGH, 'dev', 'eth0');
    await ip('route', 'add', 'default', 'via', GATEWAY, 'dev', 'eth0');
    const [l0, l1] = [await ifinfo('lxc0'), await ifinfo('lxc1')];
    eth0 = await ifinfo('eth0');
    A = { ifindex: l0.ifindex, ip: '198.19.1.10', podMac: '02:00:00:00:00:0a', hostMac: l0.address, identity: 1001, endpointId: 10 };
    B = { ifindex: l1.ifindex, ip: '198.19.1.20', podMac: '02:00:00:00:00:14', hostMac: l1.address, identity: 1002, endpointId: 20 };

    pinDir = tempPinDir('native');
    h = new Harness(pinDir, undefined, 'native');
    h.dp.upsertEndpoint(A);
    h.dp.upsertEndpoint(B);
    // What the agent's ipcache sync writes, in both modes: remote pod CIDRs and pods with their node.
    for (const [cidr, node] of [['198.19.2.0/24', REMOTE_NODE], ['198.19.3.0/24', REMOTE_NODE_NONEIGH], ['198.19.4.0/24', '198.18.0.14']] as const)
      h.dp.upsertIpcache(cidr, { identity: 6, tunnelEndpoint: node });
    h.dp.upsertIpcache(`${REMOTE_POD}/32`, { identity: 2001, tunnelEndpoint: REMOTE_NODE });
    h.dp.upsertIpcache(`${REMOTE_NODE}/32`, { identity: 6 });
  });
  beforeEach(() => void h.events());
  afterAll(async () => {
    h?.close();
    if (pinDir) removePinDir(pinDir);
    await run(['ip', 'netns', 'del', NS], { allowFailure: true });
  });

  it('forwards to a remote pod by the FIB: neighbour MACs, TTL 64→63 with a valid checksum, FROM_ENDPOINT and TO_NETWORK traces', () => {
    const frame = tcp(A.ip, REMOTE_POD, 40000, 8080, TCP.SYN);
    const r = fromA(frame);
    expect(r.retval).toBe(TC_ACT.REDIRECT);
    expect(bytesToMac(r.dataOut, 0)).toBe(NEIGH_MAC);
    expect(bytesToMac(r.dataOut, 6)).toBe(eth0.address);
    expect(r.dataOut[14 + 8]).toBe(63);
    expect(ipHeaderValid(r.dataOut)).toBe(true);
    expect(r.dataOut.subarray(34)).toEqual(frame.subarray(20)); // L4 untouched
    expect(h.events()).toMatchObject([
      { observationPoint: OBS_POINT.FROM_ENDPOINT, direction: DIRECTION.egress },
      { kind: 'trace', observationPoint: OBS_POINT.TO_NETWORK, direction: DIRECTION.egress, ifindex: eth0.ifindex, srcIdentity: A.identity, dstIdentity: 2001 },
    ]);
  });

  it('unresolved neighbour: still redirected (bpf_redirect_neigh resolves it), TTL decremented', () => {
    const r = fromA(udp(A.ip, REMOTE_POD_NONEIGH, 5000, 53));
    expect(r.retval).toBe(TC_ACT.REDIRECT);
    expect(r.dataOut[14 + 8]).toBe(63);
    expect(ipHeaderValid(r.dataOut)).toBe(true);
    expect(h.events()).toMatchObject([{ observationPoint: OBS_POINT.FROM_ENDPOINT, direction: DIRECTION.egress }, { observationPoint: OBS_POINT.TO_NETWORK, dstIdentity: 6 }]);
  });

  it('TTL 1 is not forwarded: drop TTL_EXCEEDED (196), counted; the pod gets ICMP time exceeded', () => {
    const before = drops(DROP_REASON.TTL_EXCEEDED, DIRECTION.egress);
    const l3 = udp(A.ip, REMOTE_POD, 5001, 53);
    l3[8] = 1;
    l3.writeUInt16BE(0, 10);
    let s = 0;
    for (let i = 0; i < 20; i += 2) s += l3.readUInt16BE(i);
    while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
    l3.writeUInt16BE(~s & 0xffff, 10);
    const r = fromA(l3);
    expect(r.retval).toBe(TC_ACT.REDIRECT);
    expectIcmpError(r.dataOut, A, 11, 0, l3);
    expect(h.events()).toMatchObject([{ observationPoint: OBS_POINT.FROM_ENDPOINT, direction: DIRECTION.egress }, { kind: 'drop', dropReason: DROP_REASON.TTL_EXCEEDED, direction: DIRECTION.egress, srcIdentity: A.identity }]);
    expect(drops(DROP_REASON.TTL_EXCEEDED, DIRECTION.egress)).toBe(before + 1n);
  });

  it('a remote node\'s pods whose route is gone (only the default matches) drop FIB_LOOKUP_FAILED (169) + net unreachable', () => {
    const before = drops(DROP_REASON.FIB_LOOKUP_FAILED, DIRECTION.egress);
    const echo = icmpEcho(A.ip, WITHDRAWN_POD, 8, 1, 1);
    const r = fromA(echo);
    expect(r.retval).toBe(TC_ACT.REDIRECT);
    expectIcmpError(r.dataOut, A, 3, 0, echo);
    expect(h.events()).toMatchObject([{ observationPoint: OBS_POINT.FROM_ENDPOINT, direction: DIRECTION.egress }, { kind: 'drop', dropReason: DROP_REASON.FIB_LOOKUP_FAILED, direction: DIRECTION.egress, dstIdentity: 6 }]);
    expect(drops(DROP_REASON.FIB_LOOKUP_FAILED, DIRECTION.egress)).toBe(before + 1n);
    // The world (no ipcache entry) may use the default route.
    expect(fromA(udp(A.ip, '203.0.113.5', 5002, 53)).retval).toBe(TC_ACT.REDIRECT);
    expect(h.events()).toMatchObject([{ observationPoint: OBS_POINT.FROM_ENDPOINT, direction: DIRECTION.egress }, { observationPoint: OBS_POINT.TO_NETWORK, dstIdentity: RESERVED_IDENTITY.world }]);
  });

  it('no route at all: drop 169; ICMP errors themselves are never answered', async () => {
    await ip('route', 'del', 'default');
    try {
      const dgram = udp(A.ip, '203.0.113.6', 5003, 53);
      const r = fromA(dgram);
      expect(r.retval).toBe(TC_ACT.REDIRECT);
      expectIcmpError(r.dataOut, A, 3, 0, dgram);
      const unreach = icmpEcho(A.ip, '203.0.113.6', 8, 1, 1);
      unreach[20] = 3; // an ICMP error from the pod: dropped, no error about an error
      expect(fromA(unreach).retval).toBe(TC_ACT.SHOT);
      expect(h.events()).toMatchObject([
        { observationPoint: OBS_POINT.FROM_ENDPOINT, direction: DIRECTION.egress },
        { kind: 'drop', dropReason: DROP_REASON.FIB_LOOKUP_FAILED, protocol: 17 },
        { observationPoint: OBS_POINT.FROM_ENDPOINT, direction: DIRECTION.egress },
        { kind: 'drop', dropReason: DROP_REASON.FIB_LOOKUP_FAILED, protocol: 1 },
      ]);
    } finally {
      await ip('route', 'add', 'default', 'via', GATEWAY, 'dev', 'eth0');
    }
  });

  it('local endpoints, the node itself and stale own-CIDR addresses are not routed', () => {
    const frame = tcp(A.ip, B.ip, 40010, 80, TCP.SYN);
    const local = fromA(frame);
    expect(local.retval).toBe(TC_ACT.REDIRECT);
    expect(bytesToMac(local.dataOut, 0)).toBe(B.podMac);
    // Same-node delivery is one router hop, as in tunnel mode: TTL 63, the rest unchanged.
    expect(local.dataOut.subarray(14)).toEqual(withTtl(Buffer.concat([Buffer.alloc(14), frame]), 63).subarray(14));
    expect(fromA(icmpEcho(A.ip, NODE.routerIp, 8, 2, 1)).retval).toBe(TC_ACT.OK);
    expect(fromA(icmpEcho(A.ip, NODE.nodeIp, 8, 3, 1)).retval).toBe(TC_ACT.OK);
    expect(fromA(icmpEcho(A.ip, '198.19.1.99', 8, 4, 1)).retval).toBe(TC_ACT.SHOT);
    expect(h.events()).toMatchObject([
      { observationPoint: OBS_POINT.FROM_ENDPOINT, direction: DIRECTION.egress },
      { observationPoint: OBS_POINT.TO_ENDPOINT, dstIdentity: B.identity, direction: DIRECTION.ingress },
      { observationPoint: OBS_POINT.FROM_ENDPOINT, direction: DIRECTION.egress },
      { observationPoint: OBS_POINT.TO_STACK, dstIdentity: RESERVED_IDENTITY.host },
      { observationPoint: OBS_POINT.FROM_ENDPOINT, direction: DIRECTION.egress },
      { observationPoint: OBS_POINT.TO_STACK, dstIdentity: RESERVED_IDENTITY.host },
      { observationPoint: OBS_POINT.FROM_ENDPOINT, direction: DIRECTION.egress },
      { kind: 'drop', dropReason: DROP_REASON.STALE_OR_UNROUTABLE_IP, direction: DIRECTION.egress },
    ]);
  });

  it('from_netdev delivers to local pods with the source identity from the ipcache (unknown: world)', () => {
    const frame = tcp(REMOTE_POD, A.ip, 8080, 40000, TCP.SYN | TCP.ACK);
    const r = fromNet(frame);
    expect(r.retval).toBe(TC_ACT.REDIRECT);
    expect(bytesToMac(r.dataOut, 0)).toBe(A.podMac);
    expect(bytesToMac(r.dataOut, 6)).toBe(A.hostMac);
    expect(r.dataOut[14 + 8]).toBe(63);
    expect(ipHeaderValid(r.dataOut)).toBe(true);
    expect(fromNet(icmpEcho('203.0.113.9', A.ip, 8, 5, 1)).retval).toBe(TC_ACT.REDIRECT);
    expect(h.events()).toMatchObject([
      // The SYN-ACK answers A's connection from the first test: a reply, so the connection's direction
      // (what Hubble reports) is A's EGRESS, though the packet comes in.
      { kind: 'trace', observationPoint: OBS_POINT.FROM_NETWORK, direction: DIRECTION.egress, isReply: true, ifindex: eth0.ifindex, srcIdentity: 2001, dstIdentity: A.identity },
      { kind: 'trace', observationPoint: OBS_POINT.TO_ENDPOINT, direction: DIRECTION.egress, isReply: true, ifindex: A.ifindex, srcIdentity: 2001, dstIdentity: A.identity },
      { observationPoint: OBS_POINT.FROM_NETWORK, direction: DIRECTION.ingress, isReply: false, srcIdentity: RESERVED_IDENTITY.world },
      { observationPoint: OBS_POINT.TO_ENDPOINT, direction: DIRECTION.ingress, isReply: false, srcIdentity: RESERVED_IDENTITY.world, dstIdentity: A.identity },
    ]);
  });

  it('from_netdev: stale pod-CIDR address → 151, TTL 1 → 196, underlay traffic passes untouched', () => {
    expect(fromNet(udp(REMOTE_POD, '198.19.1.77', 1, 2)).retval).toBe(TC_ACT.SHOT);
    const ttl1 = icmpEcho(REMOTE_POD, A.ip, 8, 6, 1);
    ttl1[8] = 1;
    expect(fromNet(ttl1).retval).toBe(TC_ACT.SHOT);
    expect(h.events()).toMatchObject([
      { kind: 'drop', dropReason: DROP_REASON.STALE_OR_UNROUTABLE_IP, direction: DIRECTION.ingress, srcIdentity: 2001 },
      { kind: 'trace', observationPoint: OBS_POINT.FROM_NETWORK },
      { kind: 'drop', dropReason: DROP_REASON.TTL_EXCEEDED, direction: DIRECTION.ingress },
    ]);
    // BGP to the node, the router IP, traffic for elsewhere, ARP: TC_ACT_OK, no events.
    const frame = (l3: Buffer) => fromNet(l3).retval;
    expect(frame(tcp(REMOTE_NODE, NODE.nodeIp, 40179, 179, TCP.SYN))).toBe(TC_ACT.OK);
    expect(frame(icmpEcho(REMOTE_POD, NODE.routerIp, 8, 7, 1))).toBe(TC_ACT.OK);
    expect(frame(udp(REMOTE_NODE, '198.19.9.9', 1, 2))).toBe(TC_ACT.OK);
    expect(runNs(PROG.fromNetdev, eth('ff:ff:ff:ff:ff:ff', NEIGH_MAC, ETH_P_ARP, Buffer.alloc(28)), eth0.ifindex).retval).toBe(TC_ACT.OK);
    expect(h.events()).toEqual([]);
  });

  it('from_host does not tunnel in native mode (the kernel routes node → remote pod traffic)', () => {
    const r = runNs(PROG.fromHost, eth('02:00:00:00:99:99', '02:00:00:00:99:98', ETH_P_IP, tcp(NODE.routerIp, REMOTE_POD, 50001, 80, TCP.SYN)), eth0.ifindex);
    expect(r.retval).toBe(TC_ACT.OK);
    expect(h.events()).toEqual([]);
  });
});
