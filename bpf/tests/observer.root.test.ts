// What the datapath reports for the observer, through BPF_PROG_TEST_RUN: traces where a packet enters the
// node's datapath (FROM_*) and where it leaves, with Hubble's trace sub-types, trace reasons, connection
// direction and the frame's Ethernet addresses; L7 payload captures on configured ports, on the client's
// side, HTTP message starts only; the observer switched off (drops still reported); and the -D variant
// that leaves out one observation point.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mapUpdate } from '../../agent/datapath/libbpf.js';
import { u32Key } from '../../agent/datapath/codec.js';
import { CONFIG, DIRECTION, DROP_REASON, MAP, OBS_POINT, PROG, TC_ACT, TRACE_REASON } from '../../agent/datapath/constants.js';
import type { EndpointEntry } from '../../agent/datapath/types.js';
import { eth, ETH_P_IP, ETH_P_IPV6, TCP, tcp, udp } from './packets.js';
import { buildAndMount, Harness, OBJ_NO_FROM_TRACE, otherIfindex, removePinDir, tempPinDir } from './fixture.js';

const B_IFINDEX = otherIfindex() ?? 4000;
const A: EndpointEntry = { ifindex: 1, ip: '198.19.1.10', podMac: '02:00:00:00:00:0a', hostMac: '02:00:00:00:01:0a', identity: 1001, endpointId: 10 };
const B: EndpointEntry = { ifindex: B_IFINDEX, ip: '198.19.1.20', podMac: '02:00:00:00:00:14', hostMac: '02:00:00:00:01:14', identity: 1002, endpointId: 20 };
const REMOTE_POD = '198.19.2.30';
const fromA = (l3: Buffer): Buffer => eth(A.hostMac, A.podMac, ETH_P_IP, l3);
const overlay = (l3: Buffer): Buffer => eth(A.hostMac, A.hostMac, ETH_P_IP, l3);
const L7 = [
  { port: 53, protocol: 'UDP' as const, parser: 'dns' as const },
  { port: 8080, protocol: 'TCP' as const, parser: 'http' as const },
];

function setup(h: Harness): void {
  h.dp.upsertEndpoint(A);
  h.dp.upsertEndpoint(B);
  h.dp.upsertIpcache('198.19.2.0/24', { identity: 2000, tunnelEndpoint: '198.18.0.12' });
  h.dp.upsertIpcache(`${REMOTE_POD}/32`, { identity: 2001, tunnelEndpoint: '198.18.0.12' });
  mapUpdate(h.obj.mapFd(MAP.config), u32Key(CONFIG.tunnelIfindex), u32Key(77));
  h.dp.setObserverConfig!({ traces: true, l7Ports: L7 });
}

describe('observer events of the datapath', () => {
  let dir: string;
  let h: Harness;
  let port = 41000;
  const sp = () => port++;

  beforeAll(async () => {
    await buildAndMount();
    dir = tempPinDir('obs');
    h = new Harness(dir);
    setup(h);
  });
  beforeEach(() => {
    h.dp.setObserverConfig!({ traces: true, l7Ports: L7 });
    h.events();
  });
  afterAll(() => {
    h?.close();
    if (dir) removePinDir(dir);
  });

  it('a connection across nodes: FROM_ENDPOINT, TO_OVERLAY on the sender; FROM_OVERLAY, TO_ENDPOINT for the reply', () => {
    const s = sp();
    expect(h.run(PROG.fromContainer, fromA(tcp(A.ip, REMOTE_POD, s, 80, TCP.SYN))).retval).toBe(TC_ACT.REDIRECT);
    expect(h.run(PROG.fromOverlay, overlay(tcp(REMOTE_POD, A.ip, 80, s, TCP.SYN | TCP.ACK))).retval).toBe(TC_ACT.REDIRECT);
    expect(h.run(PROG.fromContainer, fromA(tcp(A.ip, REMOTE_POD, s, 80, TCP.ACK))).retval).toBe(TC_ACT.REDIRECT);
    expect(h.events()).toMatchObject([
      { kind: 'trace', observationPoint: OBS_POINT.FROM_ENDPOINT, direction: DIRECTION.egress, traceReason: TRACE_REASON.new, isReply: false, ethSrc: A.podMac, ethDst: A.hostMac },
      { kind: 'trace', observationPoint: OBS_POINT.TO_OVERLAY, direction: DIRECTION.egress, traceReason: TRACE_REASON.new, isReply: false, ethSrc: A.hostMac, ethDst: A.hostMac },
      { kind: 'trace', observationPoint: OBS_POINT.FROM_OVERLAY, direction: DIRECTION.egress, traceReason: TRACE_REASON.reply, isReply: true, tcpFlags: TCP.SYN | TCP.ACK },
      { kind: 'trace', observationPoint: OBS_POINT.TO_ENDPOINT, direction: DIRECTION.egress, traceReason: TRACE_REASON.reply, isReply: true, ethDst: A.podMac },
    ]);
  });

  it('copies DNS queries where they leave the client and responses where they reach it', () => {
    const s = sp();
    const query = Buffer.from('12340100000100000000000001620179000001000' + '1', 'hex');
    const answer = Buffer.concat([Buffer.from('1234818000010001', 'hex'), Buffer.alloc(4), Buffer.from('016201790000010001c00c000100010000001e0004c6130203', 'hex')]);
    expect(h.run(PROG.fromContainer, fromA(udp(A.ip, REMOTE_POD, s, 53, query))).retval).toBe(TC_ACT.REDIRECT);
    expect(h.run(PROG.fromOverlay, overlay(udp(REMOTE_POD, A.ip, 53, s, answer))).retval).toBe(TC_ACT.REDIRECT);
    const l7 = h.events().filter((e) => e.kind === 'l7-capture');
    expect(l7).toMatchObject([
      { direction: DIRECTION.egress, isReply: false, srcIp: A.ip, dstIp: REMOTE_POD, dstPort: 53, srcIdentity: A.identity, dstIdentity: 2001 },
      { direction: DIRECTION.egress, isReply: true, srcIp: REMOTE_POD, dstIp: A.ip, srcPort: 53, dstIdentity: A.identity },
    ]);
    expect(l7[0]!.payload).toEqual(query);
    expect(l7[1]!.payload).toEqual(answer);
    // Another port, or the server's side of the exchange: no capture.
    h.run(PROG.fromContainer, fromA(udp(A.ip, REMOTE_POD, sp(), 54, query)));
    h.run(PROG.fromOverlay, overlay(udp(REMOTE_POD, A.ip, sp(), 53, query)));
    expect(h.events().filter((e) => e.kind === 'l7-capture')).toEqual([]);
  });

  it('HTTP: the request line and the status line, not the bodies; at most 192 bytes', () => {
    const s = sp();
    const req = Buffer.from(`GET /echo?msg=${'x'.repeat(300)} HTTP/1.1\r\nHost: b\r\n\r\n`);
    h.run(PROG.fromContainer, fromA(tcp(A.ip, B.ip, s, 8080, TCP.SYN)));
    h.run(PROG.fromContainer, fromA(tcp(A.ip, B.ip, s, 8080, TCP.PSH | TCP.ACK, req)));
    h.run(PROG.fromContainer, eth(B.hostMac, B.podMac, ETH_P_IP, tcp(B.ip, A.ip, 8080, s, TCP.PSH | TCP.ACK, Buffer.from('HTTP/1.1 200 OK\r\n\r\n'))), B.ifindex);
    h.run(PROG.fromContainer, eth(B.hostMac, B.podMac, ETH_P_IP, tcp(B.ip, A.ip, 8080, s, TCP.PSH | TCP.ACK, Buffer.from('body of the answer'))), B.ifindex);
    const l7 = h.events().filter((e) => e.kind === 'l7-capture');
    expect(l7.map((e) => e.isReply)).toEqual([false, true]);
    expect(l7[0]!.payload).toEqual(req.subarray(0, 192));
    expect(l7[1]!.payload!.toString()).toBe('HTTP/1.1 200 OK\r\n\r\n');
  });

  // hubble.monitorAggregation: the same three packets of one connection across nodes (SYN, SYN-ACK, a
  // bare ACK) at each level. Medium (the default, the first test above) reports the ACK nowhere.
  const levels = (level: 'none' | 'low' | 'maximum') => {
    h.dp.setObserverConfig!({ traces: true, monitorAggregation: level, l7Ports: L7 });
    const s = sp();
    h.run(PROG.fromContainer, fromA(tcp(A.ip, REMOTE_POD, s, 80, TCP.SYN)));
    h.run(PROG.fromOverlay, overlay(tcp(REMOTE_POD, A.ip, 80, s, TCP.SYN | TCP.ACK)));
    h.run(PROG.fromContainer, fromA(tcp(A.ip, REMOTE_POD, s, 80, TCP.ACK)));
    return h.events().filter((e) => e.kind === 'trace').map((e) => [e.observationPoint, e.tcpFlags]);
  };
  it('monitorAggregation none: every packet at every point', () => {
    expect(levels('none')).toEqual([
      [OBS_POINT.FROM_ENDPOINT, TCP.SYN], [OBS_POINT.TO_OVERLAY, TCP.SYN],
      [OBS_POINT.FROM_OVERLAY, TCP.SYN | TCP.ACK], [OBS_POINT.TO_ENDPOINT, TCP.SYN | TCP.ACK],
      [OBS_POINT.FROM_ENDPOINT, TCP.ACK], [OBS_POINT.TO_OVERLAY, TCP.ACK],
    ]);
  });
  it('monitorAggregation low: every packet, where it leaves only (no FROM_* points)', () => {
    expect(levels('low')).toEqual([[OBS_POINT.TO_OVERLAY, TCP.SYN], [OBS_POINT.TO_ENDPOINT, TCP.SYN | TCP.ACK], [OBS_POINT.TO_OVERLAY, TCP.ACK]]);
  });
  it('monitorAggregation maximum: aggregated and no FROM_* points; drops still reported', () => {
    expect(levels('maximum')).toEqual([[OBS_POINT.TO_OVERLAY, TCP.SYN], [OBS_POINT.TO_ENDPOINT, TCP.SYN | TCP.ACK]]);
    expect(h.run(PROG.fromContainer, eth(A.hostMac, A.podMac, ETH_P_IPV6, Buffer.alloc(60))).retval).toBe(TC_ACT.SHOT);
    expect(h.events()).toMatchObject([{ kind: 'drop', dropReason: DROP_REASON.UNSUPPORTED_L3_PROTOCOL }]);
  });

  it('switched off: no traces and no captures, but drops are still reported', () => {
    h.dp.setObserverConfig!({ traces: false, l7Ports: [] });
    expect(h.run(PROG.fromContainer, fromA(tcp(A.ip, B.ip, sp(), 8080, TCP.PSH | TCP.ACK, Buffer.from('GET / HTTP/1.1\r\n')))).retval).toBe(TC_ACT.REDIRECT);
    expect(h.run(PROG.fromContainer, eth(A.hostMac, A.podMac, ETH_P_IPV6, Buffer.alloc(60))).retval).toBe(TC_ACT.SHOT);
    expect(h.events()).toMatchObject([{ kind: 'drop', dropReason: DROP_REASON.UNSUPPORTED_L3_PROTOCOL }]);
    // And on again: ports the earlier configuration had are cleared, the new ones set.
    h.dp.setObserverConfig!({ traces: true, l7Ports: [{ port: 9090, protocol: 'TCP', parser: 'http' }] });
    h.run(PROG.fromContainer, fromA(tcp(A.ip, B.ip, sp(), 8080, TCP.PSH | TCP.ACK, Buffer.from('GET / HTTP/1.1\r\n'))));
    h.run(PROG.fromContainer, fromA(tcp(A.ip, B.ip, sp(), 9090, TCP.PSH | TCP.ACK, Buffer.from('GET / HTTP/1.1\r\n'))));
    expect(h.events().filter((e) => e.kind === 'l7-capture').map((e) => e.dstPort)).toEqual([9090]);
  });
});

describe('datapath-no-from-trace.o', () => {
  it('forwards as before but reports no from-overlay trace', async () => {
    await buildAndMount();
    const dir = tempPinDir('nofrom');
    const h = new Harness(dir, OBJ_NO_FROM_TRACE);
    try {
      setup(h);
      expect(h.run(PROG.fromOverlay, overlay(tcp(REMOTE_POD, A.ip, 40000, 80, TCP.SYN))).retval).toBe(TC_ACT.REDIRECT);
      expect(h.events().map((e) => e.observationPoint)).toEqual([OBS_POINT.TO_ENDPOINT]);
    } finally {
      h.close();
      removePinDir(dir);
    }
  });
});
