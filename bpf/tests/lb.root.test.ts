// Per-packet load balancing at tc (lib/nodeport.h in bpf_lxc/bpf_overlay/bpf_host), on crafted frames
// through BPF_PROG_TEST_RUN, with services programmed by the agent's own ServiceManager into the pinned
// LB maps: translation and both checksums (TCP, UDP, a zero UDP checksum left zero), the way back,
// NodePort from outside with externalTrafficPolicy Cluster (SNAT to the node) and Local (client address
// kept, local backends only), a service without backends (drop 158 and an ICMP port unreachable), the
// random spread of 1000 flows, Maglev keeping flows when a backend goes, ClientIP affinity, and the two
// broken variants.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { mapDelete, mapKeys, mapUpdate } from '../../agent/datapath/libbpf.js';
import { bytesToIp, ipToBytes, u32Key } from '../../agent/datapath/codec.js';
import { openLbMaps } from '../../agent/datapath/lb-maps.js';
import { CONFIG, DROP_REASON, LB_MAGLEV_M, MAP, PROG, TC_ACT } from '../../agent/datapath/constants.js';
import type { EndpointEntry } from '../../agent/datapath/types.js';
import { ServiceManager } from '../../agent/service/manager.js';
import { eth, ETH_P_IP, TCP, tcp, udp } from './packets.js';
import { BPF_DIR, buildAndMount, Harness, NODE, otherIfindex, removePinDir, tempPinDir } from './fixture.js';

const OBJ_LB_NO_REVNAT = resolve(BPF_DIR, 'build/datapath-lb-no-revnat.o');
const OBJ_LB_WRONG_PORT = resolve(BPF_DIR, 'build/datapath-lb-wrong-port.o');

const CLIENT: EndpointEntry = { ifindex: 1, ip: '198.19.1.10', podMac: '02:00:00:00:00:0a', hostMac: '02:00:00:00:01:0a', identity: 1001, endpointId: 10 };
const LOCAL_BE: EndpointEntry = { ifindex: otherIfindex() ?? 4000, ip: '198.19.1.20', podMac: '02:00:00:00:00:14', hostMac: '02:00:00:00:01:14', identity: 1002, endpointId: 20 };
const REMOTE_BES = ['198.19.2.30', '198.19.3.30'];
const OUTSIDE = '198.18.0.200';
const SVC_IP = '198.18.128.5';
const EMPTY_IP = '198.18.128.6';
const NODE_MAC = '02:00:00:00:0e:01';
const OUT_MAC = '02:00:00:00:0e:02';

const fromClient = (l3: Buffer) => eth(CLIENT.hostMac, CLIENT.podMac, ETH_P_IP, l3);
const fromWire = (l3: Buffer) => eth(NODE_MAC, OUT_MAC, ETH_P_IP, l3);

function svc(name: string, ip: string, spec: Record<string, unknown> = {}, annotations?: Record<string, string>) {
  return {
    kind: 'Service',
    metadata: { name, namespace: 'x', ...(annotations ? { annotations } : {}) },
    spec: { type: 'ClusterIP', clusterIP: ip, ports: [{ name: 'tcp', port: 80, protocol: 'TCP', targetPort: 8080 }, { name: 'udp', port: 53, protocol: 'UDP', targetPort: 5353 }], ...spec },
  };
}
function slice(svcName: string, ips: string[]) {
  return {
    kind: 'EndpointSlice',
    metadata: { name: `${svcName}-1`, namespace: 'x', labels: { 'kubernetes.io/service-name': svcName } },
    addressType: 'IPv4',
    endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true }, nodeName: ip === LOCAL_BE.ip ? 'node1' : 'node2' })),
    ports: [{ name: 'tcp', port: 8080, protocol: 'TCP' }, { name: 'udp', port: 5353, protocol: 'UDP' }],
  };
}
/** A service and its one EndpointSlice, added through the agent's ServiceManager (as the watch does). */
function addService(m: ServiceManager, name: string, ip: string, backends: string[], spec: Record<string, unknown> = {}): void {
  m.handle({ type: 'ADDED', object: svc(name, ip, spec) as never });
  m.handle({ type: 'ADDED', object: slice(name, backends) as never });
}

// ---- checksums, computed independently of the datapath ----
function sum16(buf: Buffer): number {
  let s = 0;
  for (let i = 0; i + 1 < buf.length; i += 2) s += buf.readUInt16BE(i);
  if (buf.length % 2) s += buf[buf.length - 1]! << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}
/** True when the IPv4 header and the TCP/UDP checksum (over the pseudo-header) verify. */
function checksumsOk(frame: Buffer): { ip: boolean; l4: boolean } {
  const ip = frame.subarray(14);
  const ihl = (ip[0]! & 0x0f) * 4;
  const l4 = ip.subarray(ihl, ip.readUInt16BE(2));
  const pseudo = Buffer.alloc(12);
  ip.copy(pseudo, 0, 12, 20);
  pseudo[9] = ip[9]!;
  pseudo.writeUInt16BE(l4.length, 10);
  const l4ok = ip[9] === 17 && l4.readUInt16BE(6) === 0 ? true : sum16(Buffer.concat([pseudo, l4])) === 0xffff;
  return { ip: sum16(ip.subarray(0, ihl)) === 0xffff, l4: l4ok };
}
const tuple = (f: Buffer) => {
  const ip = f.subarray(14);
  const l4 = ip.subarray((ip[0]! & 0x0f) * 4);
  return { saddr: bytesToIp(ip, 12), daddr: bytesToIp(ip, 16), sport: l4.readUInt16BE(0), dport: l4.readUInt16BE(2), proto: ip[9] };
};

/** A tunnel device as the agent configures one (any ifindex: the test run only sees the redirect). */
const TUNNEL_IFINDEX = 77;
const withTunnel = (h: Harness) => mapUpdate(h.obj.mapFd(MAP.config), u32Key(CONFIG.tunnelIfindex), u32Key(TUNNEL_IFINDEX));

describe('per-packet load balancing at tc (BPF_PROG_TEST_RUN)', () => {
  let pinDir: string;
  let h: Harness;
  let maps: ReturnType<typeof openLbMaps>;
  let m: ServiceManager;
  const managerLog: string[] = [];

  /** Forget every flow (as a fresh node would): what is left is the hash, the affinity, the maps. */
  const forgetFlows = () => {
    for (const name of ['cnilab_lb_fwd', 'cnilab_lb_rev', 'cnilab_ct']) {
      const fd = h.obj.mapFd(name);
      for (const k of mapKeys(fd, 16)) mapDelete(fd, k);
    }
  };

  beforeAll(async () => {
    await buildAndMount();
    pinDir = tempPinDir('lb');
    h = new Harness(pinDir);
    withTunnel(h);
    h.dp.upsertEndpoint(CLIENT);
    h.dp.upsertEndpoint(LOCAL_BE);
    for (const [i, ip] of REMOTE_BES.entries()) {
      h.dp.upsertIpcache(`198.19.${i + 2}.0/24`, { identity: 6, tunnelEndpoint: `198.18.0.${12 + i}` });
      h.dp.upsertIpcache(ip, { identity: 2000 + i, tunnelEndpoint: `198.18.0.${12 + i}` });
    }
    maps = openLbMaps(pinDir);
    m = new ServiceManager({ maps, nodeName: 'node1', log: (l) => managerLog.push(l) });
    m.handle({ type: 'SYNCED' });
    addService(m, 'web', SVC_IP, [LOCAL_BE.ip, ...REMOTE_BES]);
    m.handle({ type: 'ADDED', object: svc('empty', EMPTY_IP) as never });
  });
  beforeEach(() => {
    forgetFlows();
    void h.events();
  });
  afterAll(() => {
    maps?.close();
    h?.close();
    if (pinDir) removePinDir(pinDir);
  });

  it('translates a pod\'s TCP SYN to a ClusterIP: backend address and port, valid IP and TCP checksums', () => {
    const r = h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, SVC_IP, 40000, 80, TCP.SYN)));
    const t = tuple(r.dataOut);
    expect([LOCAL_BE.ip, ...REMOTE_BES]).toContain(t.daddr);
    expect(t).toMatchObject({ saddr: CLIENT.ip, sport: 40000, dport: 8080 });
    expect(checksumsOk(r.dataOut)).toEqual({ ip: true, l4: true });
    expect(r.retval).toBe(TC_ACT.REDIRECT); // local delivery or the tunnel
    // The flow keeps its backend; the new connection is reported with its service.
    for (let i = 0; i < 5; i++) expect(tuple(h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, SVC_IP, 40000, 80, TCP.ACK))).dataOut).daddr).toBe(t.daddr);
    const ev = h.events().find((e) => e.kind === 'trace' && e.svcId);
    expect(ev).toMatchObject({ dstIp: SVC_IP, dstPort: 80 });
  });

  it('translates UDP with its checksum, and leaves a zero UDP checksum zero', () => {
    const withSum = h.run(PROG.fromContainer, fromClient(udp(CLIENT.ip, SVC_IP, 40001, 53)));
    expect(tuple(withSum.dataOut).dport).toBe(5353);
    expect(checksumsOk(withSum.dataOut)).toEqual({ ip: true, l4: true });
    expect(withSum.dataOut.readUInt16BE(14 + 20 + 6)).not.toBe(0);
    const zero = udp(CLIENT.ip, SVC_IP, 40002, 53);
    zero.writeUInt16BE(0, 20 + 6);
    const r = h.run(PROG.fromContainer, fromClient(zero));
    expect(tuple(r.dataOut).dport).toBe(5353);
    expect(r.dataOut.readUInt16BE(14 + 20 + 6)).toBe(0);
    expect(checksumsOk(r.dataOut).ip).toBe(true);
  });

  it('translates the reply back: a remote backend\'s answer shows the ClusterIP as its source', () => {
    let fwd;
    let sport = 41000;
    do fwd = tuple(h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, SVC_IP, ++sport, 80, TCP.SYN))).dataOut);
    while (!REMOTE_BES.includes(fwd.daddr));
    const reply = h.run(PROG.fromOverlay, fromWire(tcp(fwd.daddr, CLIENT.ip, 8080, sport, TCP.SYN | TCP.ACK)));
    expect(tuple(reply.dataOut)).toMatchObject({ saddr: SVC_IP, sport: 80, daddr: CLIENT.ip, dport: sport });
    expect(checksumsOk(reply.dataOut)).toEqual({ ip: true, l4: true });
  });

  it('a later untranslated connection on the same tuple keeps its replies as they are (the old reverse entry is forgotten)', () => {
    let fwd;
    let sport = 42000;
    do fwd = tuple(h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, SVC_IP, ++sport, 80, TCP.SYN))).dataOut);
    while (!REMOTE_BES.includes(fwd.daddr));
    expect(tuple(h.run(PROG.fromOverlay, fromWire(tcp(fwd.daddr, CLIENT.ip, 8080, sport, TCP.SYN | TCP.ACK))).dataOut).saddr).toBe(SVC_IP);
    h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, SVC_IP, sport, 80, TCP.RST))); // the connection ends
    // The same client port straight to the backend (a direct connection, or one socket LB translated):
    // its SYN-ACK must keep the backend's address, or the client's socket never sees it.
    // (It leaves on another source port, lb4_remap_direct: the reply comes to that one.)
    const direct = h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, fwd.daddr, sport, 8080, TCP.SYN)));
    expect(tuple(direct.dataOut)).toMatchObject({ daddr: fwd.daddr, dport: 8080 });
    const reply = h.run(PROG.fromOverlay, fromWire(tcp(fwd.daddr, CLIENT.ip, 8080, tuple(direct.dataOut).sport, TCP.SYN | TCP.ACK)));
    expect(tuple(reply.dataOut)).toMatchObject({ saddr: fwd.daddr, sport: 8080, daddr: CLIENT.ip, dport: sport });
  });

  // A flow entry is keyed by the client's tuple, and clients reuse tuples (TCP_CRR's client closes second,
  // so it holds no TIME_WAIT and cycles its ports). A new connection on a reused tuple must be placed
  // afresh, with its own way back.
  it('a new connection on a reused tuple gets its way back, even after a direct connection on it forgot the old one', () => {
    const REUSE_IP = '198.18.128.11';
    addService(m, 'reuse', REUSE_IP, REMOTE_BES);
    const sport = 43000;
    const first = tuple(h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, REUSE_IP, sport, 80, TCP.SYN))).dataOut);
    // The backend closes first (TCP_CRR's server), the client follows.
    h.run(PROG.fromOverlay, fromWire(tcp(first.daddr, CLIENT.ip, 8080, sport, TCP.FIN | TCP.ACK)));
    h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, REUSE_IP, sport, 80, TCP.FIN | TCP.ACK)));
    // The same client port straight to that backend (the direct / socket-LB rounds of the bench): its
    // first packet forgets the translated flow's reverse entry.
    h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, first.daddr, sport, 8080, TCP.SYN)));
    h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, first.daddr, sport, 8080, TCP.RST)));
    // The client connects to the service again from that port: the backend's SYN-ACK must show the
    // service, or the client's socket resets it and the connect hangs on SYN retransmissions.
    const again = tuple(h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, REUSE_IP, sport, 80, TCP.SYN, undefined, 2000))).dataOut);
    expect(REMOTE_BES).toContain(again.daddr);
    const reply = h.run(PROG.fromOverlay, fromWire(tcp(again.daddr, CLIENT.ip, 8080, again.sport, TCP.SYN | TCP.ACK)));
    expect(tuple(reply.dataOut)).toMatchObject({ saddr: REUSE_IP, sport: 80, daddr: CLIENT.ip, dport: sport });
    expect(checksumsOk(reply.dataOut)).toEqual({ ip: true, l4: true });
  });

  it('a new connection on a backend tuple used moments ago gets another source port (no SYN into the backend\'s TIME_WAIT), and back', () => {
    // The client picks its port for the ClusterIP's tuple; the backend knows the connection by the
    // backend's tuple, which a connection of moments ago (here a direct one, as in the bench's rounds)
    // may have left in TIME_WAIT there. The new SYN's sequence number and timestamp derive from the other
    // tuple, so the backend takes it for an old duplicate half the time (ACK, client RST, retransmit).
    const REUSE_IP = '198.18.128.13';
    addService(m, 'tw', REUSE_IP, [REMOTE_BES[0]!]);
    const be = REMOTE_BES[0]!;
    const sport = 43500;
    h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, be, sport, 8080, TCP.SYN)));
    h.run(PROG.fromOverlay, fromWire(tcp(be, CLIENT.ip, 8080, sport, TCP.FIN | TCP.ACK))); // the backend closes first
    h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, be, sport, 8080, TCP.FIN | TCP.ACK)));
    const t = tuple(h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, REUSE_IP, sport, 80, TCP.SYN))).dataOut);
    expect(t).toMatchObject({ saddr: CLIENT.ip, daddr: be, dport: 8080 });
    expect(t.sport).not.toBe(sport);
    // Every packet of the flow keeps that port; the replies come back to the client's own.
    expect(tuple(h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, REUSE_IP, sport, 80, TCP.ACK))).dataOut).sport).toBe(t.sport);
    const reply = h.run(PROG.fromOverlay, fromWire(tcp(be, CLIENT.ip, 8080, t.sport, TCP.SYN | TCP.ACK)));
    expect(tuple(reply.dataOut)).toMatchObject({ saddr: REUSE_IP, sport: 80, daddr: CLIENT.ip, dport: sport });
    expect(checksumsOk(reply.dataOut)).toEqual({ ip: true, l4: true });
    // A fresh tuple keeps the client's port (not sport + 1: the moved flow took that neighbour).
    expect(tuple(h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, REUSE_IP, sport + 2, 80, TCP.SYN))).dataOut).sport).toBe(sport + 2);
  });

  it('a direct connection on a backend tuple a translated flow used moments ago gets another source port, and back', () => {
    // The other way round: the backend may hold the translated flow in TIME_WAIT; the direct SYN's
    // sequence number and timestamp derive from the backend's tuple, the old flow's from the frontend's.
    const REUSE_IP = '198.18.128.14';
    addService(m, 'tw2', REUSE_IP, [REMOTE_BES[1]!]);
    const be = REMOTE_BES[1]!;
    const sport = 43700;
    expect(tuple(h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, REUSE_IP, sport, 80, TCP.SYN))).dataOut)).toMatchObject({ sport, daddr: be });
    h.run(PROG.fromOverlay, fromWire(tcp(be, CLIENT.ip, 8080, sport, TCP.FIN | TCP.ACK)));
    h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, REUSE_IP, sport, 80, TCP.FIN | TCP.ACK)));
    const d = tuple(h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, be, sport, 8080, TCP.SYN))).dataOut);
    expect(d).toMatchObject({ saddr: CLIENT.ip, daddr: be, dport: 8080 });
    expect(d.sport).not.toBe(sport);
    expect(tuple(h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, be, sport, 8080, TCP.ACK))).dataOut).sport).toBe(d.sport);
    const reply = h.run(PROG.fromOverlay, fromWire(tcp(be, CLIENT.ip, 8080, d.sport, TCP.SYN | TCP.ACK)));
    expect(tuple(reply.dataOut)).toMatchObject({ saddr: be, sport: 8080, daddr: CLIENT.ip, dport: sport });
    expect(checksumsOk(reply.dataOut)).toEqual({ ip: true, l4: true });
    // That connection ends; the next one on the tuple is placed anew (the backend tuple still carries
    // the translated flow's TIME_WAIT), and every packet of it follows its SYN's port.
    h.run(PROG.fromOverlay, fromWire(tcp(be, CLIENT.ip, 8080, d.sport, TCP.FIN | TCP.ACK)));
    h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, be, sport, 8080, TCP.FIN | TCP.ACK)));
    const next = tuple(h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, be, sport, 8080, TCP.SYN, undefined, 2000))).dataOut).sport;
    expect(next).not.toBe(sport);
    expect(tuple(h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, be, sport, 8080, TCP.ACK))).dataOut).sport).toBe(next);
    // No translated flow was there: a direct connection keeps its port (not sport + 1, where the moved
    // connections went).
    expect(tuple(h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, be, sport + 2, 8080, TCP.SYN))).dataOut).sport).toBe(sport + 2);
  });

  // The reverse entries live in an LRU map: under churn one can be evicted while its connection goes on
  // (or, for a moved source port, while the backend still answers to that port). The reply must then be
  // dropped and counted (NO_MAPPING_FOR_NAT_MASQUERADE) — delivered untranslated, the client has no
  // socket for it and resets the backend's connection — and the client's next packet writes the entry
  // again from its flow entry, so the backend's retransmission is translated.
  const evictReverseEntries = () => {
    const fd = h.obj.mapFd('cnilab_lb_rev');
    for (const k of mapKeys(fd, 16)) mapDelete(fd, k);
    expect(mapKeys(fd, 16)).toHaveLength(0);
  };
  const natDrops = () => h.events().filter((e) => e.kind === 'drop' && e.dropReason === DROP_REASON.NO_MAPPING_FOR_NAT_MASQUERADE).length;

  it('a translated flow whose reverse entry was evicted: its reply is dropped (167), the next client packet restores the way back', () => {
    const EV_IP = '198.18.128.15';
    addService(m, 'ev', EV_IP, [REMOTE_BES[0]!]);
    const be = REMOTE_BES[0]!;
    const sport = 45000;
    // A direct connection moments ago on the backend tuple: the translated flow gets another port, so
    // both the frontend and the port depend on the reverse entry.
    h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, be, sport, 8080, TCP.SYN)));
    h.run(PROG.fromOverlay, fromWire(tcp(be, CLIENT.ip, 8080, sport, TCP.FIN | TCP.ACK)));
    h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, be, sport, 8080, TCP.FIN | TCP.ACK)));
    const t = tuple(h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, EV_IP, sport, 80, TCP.SYN))).dataOut);
    expect(t).toMatchObject({ daddr: be, dport: 8080 });
    expect(t.sport).not.toBe(sport);
    void h.events();
    evictReverseEntries();
    const lost = h.run(PROG.fromOverlay, fromWire(tcp(be, CLIENT.ip, 8080, t.sport, TCP.SYN | TCP.ACK)));
    expect(lost.retval).toBe(TC_ACT.SHOT);
    expect(natDrops()).toBe(1);
    // The client retransmits its SYN: same backend, same port, and the way back is there again.
    expect(tuple(h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, EV_IP, sport, 80, TCP.SYN))).dataOut)).toMatchObject({ daddr: be, sport: t.sport });
    const reply = h.run(PROG.fromOverlay, fromWire(tcp(be, CLIENT.ip, 8080, t.sport, TCP.SYN | TCP.ACK)));
    expect(tuple(reply.dataOut)).toMatchObject({ saddr: EV_IP, sport: 80, daddr: CLIENT.ip, dport: sport });
    expect(checksumsOk(reply.dataOut)).toEqual({ ip: true, l4: true });
    // Mid-connection: the same after an ACK.
    evictReverseEntries();
    expect(h.run(PROG.fromOverlay, fromWire(tcp(be, CLIENT.ip, 8080, t.sport, TCP.ACK))).retval).toBe(TC_ACT.SHOT);
    expect(natDrops()).toBe(1);
    h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, EV_IP, sport, 80, TCP.ACK)));
    expect(tuple(h.run(PROG.fromOverlay, fromWire(tcp(be, CLIENT.ip, 8080, t.sport, TCP.ACK))).dataOut)).toMatchObject({ saddr: EV_IP, dport: sport });
  });

  it('a direct connection moved to another source port whose reverse entry was evicted: dropped (167), then restored', () => {
    const EV_IP = '198.18.128.16';
    addService(m, 'ev2', EV_IP, [REMOTE_BES[1]!]);
    const be = REMOTE_BES[1]!;
    const sport = 45500;
    h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, EV_IP, sport, 80, TCP.SYN)));
    h.run(PROG.fromOverlay, fromWire(tcp(be, CLIENT.ip, 8080, sport, TCP.FIN | TCP.ACK)));
    h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, EV_IP, sport, 80, TCP.FIN | TCP.ACK)));
    const d = tuple(h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, be, sport, 8080, TCP.SYN))).dataOut);
    expect(d.sport).not.toBe(sport);
    void h.events();
    evictReverseEntries();
    expect(h.run(PROG.fromOverlay, fromWire(tcp(be, CLIENT.ip, 8080, d.sport, TCP.SYN | TCP.ACK))).retval).toBe(TC_ACT.SHOT);
    expect(natDrops()).toBe(1);
    expect(tuple(h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, be, sport, 8080, TCP.SYN))).dataOut).sport).toBe(d.sport);
    const reply = h.run(PROG.fromOverlay, fromWire(tcp(be, CLIENT.ip, 8080, d.sport, TCP.SYN | TCP.ACK)));
    expect(tuple(reply.dataOut)).toMatchObject({ saddr: be, sport: 8080, daddr: CLIENT.ip, dport: sport });
    expect(checksumsOk(reply.dataOut)).toEqual({ ip: true, l4: true });
  });

  // The client resets of lb-modes-bench (README, services): a new connection's SYN met the backend's
  // TIME_WAIT of an earlier connection on the same backend tuple whose timestamps came from the client's
  // other clock (the client keys TCP timestamps by the address pair it connected to: the ClusterIP for a
  // translated flow, the pod IP for a direct one), and was answered with a bare ACK; the client reset it
  // (which ends that TIME_WAIT) and retransmitted. Two datapath faults made that common and costly.
  const synTo = (dst: string, sport: number, dport: number, seq: number) => fromClient(tcp(CLIENT.ip, dst, sport, dport, TCP.SYN, undefined, seq));

  it('a SYN answered from a TIME_WAIT (ACK, then the client\'s RST) is retransmitted onto the same backend tuple: translated, and direct moved', () => {
    const RS_IP = '198.18.128.17';
    addService(m, 'rst', RS_IP, [REMOTE_BES[0]!]);
    const be = REMOTE_BES[0]!;
    // Translated: a direct connection moments ago on the backend tuple, so the flow gets another port.
    let sport = 46500;
    h.run(PROG.fromContainer, synTo(be, sport, 8080, 1000));
    h.run(PROG.fromOverlay, fromWire(tcp(be, CLIENT.ip, 8080, sport, TCP.FIN | TCP.ACK)));
    h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, be, sport, 8080, TCP.FIN | TCP.ACK)));
    const t = tuple(h.run(PROG.fromContainer, synTo(RS_IP, sport, 80, 5000)).dataOut);
    expect(t.sport).not.toBe(sport);
    // The backend answers from a TIME_WAIT there with a bare ACK, the client resets it, then retransmits.
    expect(tuple(h.run(PROG.fromOverlay, fromWire(tcp(be, CLIENT.ip, 8080, t.sport, TCP.ACK))).dataOut)).toMatchObject({ saddr: RS_IP, dport: sport });
    expect(tuple(h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, RS_IP, sport, 80, TCP.RST, undefined, 777))).dataOut)).toMatchObject({ sport: t.sport });
    // The reset ended the TIME_WAIT on that tuple only: the retransmission must take it again (placed
    // afresh, it went to another random port, where the next TIME_WAIT may wait).
    expect(tuple(h.run(PROG.fromContainer, synTo(RS_IP, sport, 80, 5000)).dataOut)).toMatchObject({ daddr: be, sport: t.sport });
    // A new connection on the client tuple (another sequence number) is placed afresh.
    h.run(PROG.fromOverlay, fromWire(tcp(be, CLIENT.ip, 8080, t.sport, TCP.FIN | TCP.ACK)));
    h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, RS_IP, sport, 80, TCP.FIN | TCP.ACK)));
    expect(h.events().filter((e) => e.kind === 'trace' && e.svcId).length).toBe(1); // one placement so far
    h.run(PROG.fromContainer, synTo(RS_IP, sport, 80, 6000));
    expect(h.events().filter((e) => e.kind === 'trace' && e.svcId).length).toBe(1);

    // Direct, moved off a tuple a translated flow used moments ago: the same.
    sport = 46600;
    expect(tuple(h.run(PROG.fromContainer, synTo(RS_IP, sport, 80, 1000)).dataOut)).toMatchObject({ sport, daddr: be });
    h.run(PROG.fromOverlay, fromWire(tcp(be, CLIENT.ip, 8080, sport, TCP.FIN | TCP.ACK)));
    h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, RS_IP, sport, 80, TCP.FIN | TCP.ACK)));
    const d = tuple(h.run(PROG.fromContainer, synTo(be, sport, 8080, 7000)).dataOut);
    expect(d.sport).not.toBe(sport);
    expect(tuple(h.run(PROG.fromOverlay, fromWire(tcp(be, CLIENT.ip, 8080, d.sport, TCP.ACK))).dataOut)).toMatchObject({ saddr: be, dport: sport });
    expect(tuple(h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, be, sport, 8080, TCP.RST, undefined, 778))).dataOut)).toMatchObject({ sport: d.sport });
    expect(tuple(h.run(PROG.fromContainer, synTo(be, sport, 8080, 7000)).dataOut)).toMatchObject({ daddr: be, sport: d.sport });
  });

  /** The ways back of other client tuples' connections to `be`:8080 (through `frontend`) on every port of
   *  the client but `except` (after a minute of CRR, every backend tuple holds a TIME_WAIT). */
  const fillReverse = (be: string, frontend: string, frontendPort: number, except: number[]) => {
    const fd = h.obj.mapFd('cnilab_lb_rev');
    let n = 0;
    for (let x = 1024; x <= 65535; x++) {
      if (except.includes(x)) continue;
      const k = Buffer.alloc(16);
      ipToBytes(be).copy(k, 0);
      ipToBytes(CLIENT.ip).copy(k, 4);
      k.writeUInt16BE(8080, 8);
      k.writeUInt16BE(x, 10);
      k[12] = 6;
      const v = Buffer.alloc(16);
      ipToBytes(frontend).copy(v, 0);
      ipToBytes(CLIENT.ip).copy(v, 4);
      v.writeUInt16BE(frontendPort, 8);
      v.writeUInt16BE(1023, 10); // moved there from another client port
      v[14] = 0x01; // LB_NAT_SNAT
      mapUpdate(fd, k, v);
      n++;
    }
    // Every entry is there (an LRU eviction would leave ports free, and the old datapath could pass).
    expect(mapKeys(fd, 16).length).toBeGreaterThanOrEqual(n);
  };
  const closeBoth = (be: string, bePort: number, dst: string, dport: number, sport: number, nat = sport) => {
    h.run(PROG.fromOverlay, fromWire(tcp(be, CLIENT.ip, bePort, nat, TCP.FIN | TCP.ACK)));
    h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, dst, sport, dport, TCP.FIN | TCP.ACK)));
  };

  it('a client that connects to the ClusterIP and to the backend directly from the same ports: each client tuple keeps one backend tuple of its own, when every other one holds a TIME_WAIT', () => {
    // The client derives timestamps from its own 4-tuple, so a backend tuple's TIME_WAIT takes a SYN
    // from the client tuple that left it and, one time in two, no other. After a minute of CRR every
    // backend tuple holds one; the per-packet flow from the port a direct connection just used must
    // move, and it needs a backend tuple that is free or its own. Before: its own port counted as busy
    // like every other, the tries failed, and it went out on the direct connection's tuple, every time.
    const FILL_IP = '198.18.128.18';
    addService(m, 'fill', FILL_IP, [REMOTE_BES[0]!]);
    const be = REMOTE_BES[0]!;
    const sport = 47500;
    fillReverse(be, FILL_IP, 80, [sport, sport + 1]);
    let seq = 10000;
    const direct = () => {
      const d = tuple(h.run(PROG.fromContainer, synTo(be, sport, 8080, seq++)).dataOut);
      closeBoth(be, 8080, be, 8080, sport, d.sport);
      return d.sport;
    };
    const viaService = () => {
      const t = tuple(h.run(PROG.fromContainer, synTo(FILL_IP, sport, 80, seq++)).dataOut);
      expect(t).toMatchObject({ daddr: be, dport: 8080 });
      const reply = h.run(PROG.fromOverlay, fromWire(tcp(be, CLIENT.ip, 8080, t.sport, TCP.SYN | TCP.ACK)));
      expect(tuple(reply.dataOut)).toMatchObject({ saddr: FILL_IP, sport: 80, daddr: CLIENT.ip, dport: sport });
      closeBoth(be, 8080, FILL_IP, 80, sport, t.sport);
      return t.sport;
    };
    expect(direct()).toBe(sport);
    const moved = viaService();
    expect(moved).not.toBe(sport); // off the direct connection's TIME_WAIT
    // From now on, rounds of both: the direct connections stay on their tuple, the per-packet ones on theirs.
    for (let round = 0; round < 3; round++) {
      expect(direct()).toBe(sport);
      expect(viaService()).toBe(moved);
    }
  });

  it('the other way round: a direct connection moved off a translated flow\'s TIME_WAIT keeps its new backend tuple, when every other one holds a TIME_WAIT', () => {
    const FILL_IP = '198.18.128.19';
    addService(m, 'fill2', FILL_IP, [REMOTE_BES[1]!]);
    const be = REMOTE_BES[1]!;
    const sport = 48500;
    let seq = 20000;
    expect(tuple(h.run(PROG.fromContainer, synTo(FILL_IP, sport, 80, seq++)).dataOut)).toMatchObject({ sport, daddr: be });
    closeBoth(be, 8080, FILL_IP, 80, sport);
    fillReverse(be, be, 8080, [sport, sport + 1]);
    const direct = () => {
      const d = tuple(h.run(PROG.fromContainer, synTo(be, sport, 8080, seq++)).dataOut);
      const reply = h.run(PROG.fromOverlay, fromWire(tcp(be, CLIENT.ip, 8080, d.sport, TCP.SYN | TCP.ACK)));
      expect(tuple(reply.dataOut)).toMatchObject({ saddr: be, sport: 8080, daddr: CLIENT.ip, dport: sport });
      closeBoth(be, 8080, be, 8080, sport, d.sport);
      return d.sport;
    };
    const moved = direct();
    expect(moved).not.toBe(sport);
    for (let round = 0; round < 3; round++) {
      expect(direct()).toBe(moved);
      // and the service's flow from that port keeps the port it had
      const t = tuple(h.run(PROG.fromContainer, synTo(FILL_IP, sport, 80, seq++)).dataOut);
      expect(t.sport).toBe(sport);
      closeBoth(be, 8080, FILL_IP, 80, sport);
    }
  });

  it('a retransmitted SYN of a connection still opening keeps its backend', () => {
    for (let i = 0; i < 20; i++) {
      const a = tuple(h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, SVC_IP, 44000 + i, 80, TCP.SYN))).dataOut).daddr;
      const b = tuple(h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, SVC_IP, 44000 + i, 80, TCP.SYN))).dataOut).daddr;
      expect(b).toBe(a);
    }
  });

  it('NodePort turned from externalTrafficPolicy Local to Cluster: an outside client reusing its ports is SNATed', () => {
    const flip = (policy: 'Local' | 'Cluster') =>
      svc('flip', '198.18.128.12', { type: 'NodePort', externalTrafficPolicy: policy, ports: [{ name: 'tcp', port: 80, protocol: 'TCP', targetPort: 8080, nodePort: 30093 }] }) as never;
    m.handle({ type: 'ADDED', object: flip('Local') });
    m.handle({ type: 'ADDED', object: slice('flip', [LOCAL_BE.ip, ...REMOTE_BES]) as never });
    const ports = Array.from({ length: 20 }, (_, i) => 54000 + i);
    for (const p of ports) {
      const t = tuple(h.run(PROG.fromNetdev, fromWire(tcp(OUTSIDE, NODE.nodeIp, p, 30093, TCP.SYN))).dataOut);
      expect(t).toMatchObject({ saddr: OUTSIDE, daddr: LOCAL_BE.ip }); // Local: this node's backend, no SNAT
      h.run(PROG.fromNetdev, fromWire(tcp(OUTSIDE, NODE.nodeIp, p, 30093, TCP.RST))); // the connection ends
    }
    m.handle({ type: 'MODIFIED', object: flip('Cluster') });
    // New connections from the same ports (new sequence numbers: not retransmissions of the first ones).
    const placed = ports.map((p) => tuple(h.run(PROG.fromNetdev, fromWire(tcp(OUTSIDE, NODE.nodeIp, p, 30093, TCP.SYN, undefined, 2000))).dataOut));
    // Cluster: any backend; a remote one sees this node as the client (SNAT), the local one the client.
    for (const t of placed) expect(t.saddr, JSON.stringify(t)).toBe(t.daddr === LOCAL_BE.ip ? OUTSIDE : NODE.nodeIp);
    // 20 fair picks of 3 backends all local: (1/3)^20.
    expect(placed.filter((t) => REMOTE_BES.includes(t.daddr)).length).toBeGreaterThan(0);
  });

  it('conntrack first: an established connection that was no service traffic skips the service lookup (a frontend added later leaves it alone)', () => {
    const LATE_IP = '198.18.128.20';
    const first = h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, LATE_IP, 43000, 80, TCP.SYN)));
    expect(tuple(first.dataOut)).toMatchObject({ daddr: LATE_IP, dport: 80 }); // no service there yet
    addService(m, 'late', LATE_IP, REMOTE_BES);
    try {
      // The connection goes on as it started, untranslated: its packets never took the service lookup.
      expect(tuple(h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, LATE_IP, 43000, 80, TCP.ACK))).dataOut)).toMatchObject({ daddr: LATE_IP, dport: 80 });
      // A new connection's first packet does, and so do all packets of a translated one.
      const fresh = tuple(h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, LATE_IP, 43001, 80, TCP.SYN))).dataOut);
      expect(REMOTE_BES).toContain(fresh.daddr);
      expect(tuple(h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, LATE_IP, 43001, 80, TCP.ACK))).dataOut).daddr).toBe(fresh.daddr);
    } finally {
      m.handle({ type: 'DELETED', object: slice('late', REMOTE_BES) as never });
      m.handle({ type: 'DELETED', object: svc('late', LATE_IP) as never });
    }
  });

  it('NodePort, externalTrafficPolicy Cluster: SNAT to the node for a remote backend, and back', () => {
    addService(m, 'np', '198.18.128.7', REMOTE_BES, { type: 'NodePort', externalTrafficPolicy: 'Cluster', ports: [{ name: 'tcp', port: 80, protocol: 'TCP', targetPort: 8080, nodePort: 30080 }] });
    const r = h.run(PROG.fromNetdev, fromWire(tcp(OUTSIDE, NODE.nodeIp, 50000, 30080, TCP.SYN)));
    expect(r.retval).toBe(TC_ACT.OK); // to the stack, which routes it to the backend's node
    const t = tuple(r.dataOut);
    expect(REMOTE_BES).toContain(t.daddr);
    expect(t).toMatchObject({ saddr: NODE.nodeIp, dport: 8080 });
    expect(checksumsOk(r.dataOut)).toEqual({ ip: true, l4: true });
    const back = h.run(PROG.fromNetdev, fromWire(tcp(t.daddr, NODE.nodeIp, 8080, t.sport, TCP.SYN | TCP.ACK)));
    expect(back.retval).toBe(TC_ACT.OK);
    expect(tuple(back.dataOut)).toMatchObject({ saddr: NODE.nodeIp, sport: 30080, daddr: OUTSIDE, dport: 50000 });
    expect(checksumsOk(back.dataOut)).toEqual({ ip: true, l4: true });
  });

  it('NodePort from a pod of another node (tunnelled to this node\'s address): translated in from_overlay, and back', () => {
    const REMOTE_CLIENT = '198.19.2.99';
    addService(m, 'np-ov', '198.18.128.9', REMOTE_BES, { type: 'NodePort', externalTrafficPolicy: 'Cluster', ports: [{ name: 'tcp', port: 80, protocol: 'TCP', targetPort: 8080, nodePort: 30082 }] });
    const r = h.run(PROG.fromOverlay, fromWire(tcp(REMOTE_CLIENT, NODE.nodeIp, 53000, 30082, TCP.SYN)));
    expect(r.retval).toBe(TC_ACT.OK); // to the stack, which routes it on to the backend's node
    const t = tuple(r.dataOut);
    expect(REMOTE_BES).toContain(t.daddr);
    expect(t).toMatchObject({ saddr: NODE.nodeIp, dport: 8080 });
    expect(checksumsOk(r.dataOut)).toEqual({ ip: true, l4: true });
    // The backend's answer comes back through the tunnel to this node's address: the client's node gets it.
    const back = h.run(PROG.fromOverlay, fromWire(tcp(t.daddr, NODE.nodeIp, 8080, t.sport, TCP.SYN | TCP.ACK)));
    expect(back.retval).toBe(TC_ACT.OK);
    expect(tuple(back.dataOut)).toMatchObject({ saddr: NODE.nodeIp, sport: 30082, daddr: REMOTE_CLIENT, dport: 53000 });
    expect(checksumsOk(back.dataOut)).toEqual({ ip: true, l4: true });
  });

  it('NodePort, externalTrafficPolicy Local: only this node\'s backend, the client address kept; none: 158 and ICMP', () => {
    addService(m, 'loc', '198.18.128.8', [LOCAL_BE.ip, ...REMOTE_BES], { type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ name: 'tcp', port: 80, protocol: 'TCP', targetPort: 8080, nodePort: 30081 }] });
    for (let i = 0; i < 20; i++) {
      const r = h.run(PROG.fromNetdev, fromWire(tcp(OUTSIDE, NODE.nodeIp, 51000 + i, 30081, TCP.SYN)));
      expect(tuple(r.dataOut)).toMatchObject({ saddr: OUTSIDE, daddr: LOCAL_BE.ip, dport: 8080 });
      expect(r.retval).toBe(TC_ACT.REDIRECT);
    }
    m.handle({ type: 'MODIFIED', object: slice('loc', REMOTE_BES) as never }); // no local backend left
    void h.events();
    const r = h.run(PROG.fromNetdev, fromWire(tcp(OUTSIDE, NODE.nodeIp, 52000, 30081, TCP.SYN)));
    expect(r.retval).toBe(TC_ACT.REDIRECT); // the ICMP error, back out of the device it came in on
    const icmp = r.dataOut.subarray(14);
    expect([icmp[9], icmp[20], icmp[21]]).toEqual([1, 3, 3]); // ICMP, destination unreachable, port
    expect(bytesToIp(icmp, 16)).toBe(OUTSIDE);
    expect(h.events().some((e) => e.kind === 'drop' && e.dropReason === DROP_REASON.SERVICE_BACKEND_NOT_FOUND)).toBe(true);
  });

  it('a ClusterIP without backends: drop 158 and an ICMP port unreachable into the pod', () => {
    const r = h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, EMPTY_IP, 40010, 80, TCP.SYN)));
    expect(r.retval).toBe(TC_ACT.REDIRECT);
    const ip = r.dataOut.subarray(14);
    expect([ip[9], ip[20], ip[21]]).toEqual([1, 3, 3]);
    expect(bytesToIp(ip, 16)).toBe(CLIENT.ip);
    expect(h.events().filter((e) => e.kind === 'drop').map((e) => e.dropReason)).toEqual([DROP_REASON.SERVICE_BACKEND_NOT_FOUND]);
  });

  it('spreads 1000 new flows over 3 backends within ±10% of even (random)', () => {
    // ±10% of 333 is ±2.2 σ of a fair pick: one sample in ~16 misses, so a miss is sampled again once.
    const sample = (base: number) => {
      const counts = new Map<string, number>();
      for (let i = 0; i < 1000; i++) {
        const d = tuple(h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, SVC_IP, base + i, 80, TCP.SYN))).dataOut).daddr;
        counts.set(d, (counts.get(d) ?? 0) + 1);
      }
      return [LOCAL_BE.ip, ...REMOTE_BES].map((ip) => counts.get(ip) ?? 0);
    };
    const within = (c: number[]) => c.every((n) => Math.abs(n - 1000 / 3) <= 1000 / 30);
    const first = sample(10000);
    const counts = within(first) ? first : sample(20000);
    expect(within(counts), `${JSON.stringify(first)} then ${JSON.stringify(counts)}`).toBe(true);
  });

  it('Maglev: removing one of three backends keeps at least 99% of the others\' flows where they were', () => {
    const mgSvc = svc('mg', '198.18.128.9', { type: 'NodePort', ports: [{ name: 'tcp', port: 80, protocol: 'TCP', targetPort: 8080, nodePort: 30090 }] }, { 'service.cilium.io/lb-algorithm': 'maglev' });
    m.handle({ type: 'ADDED', object: mgSvc as never });
    m.handle({ type: 'ADDED', object: slice('mg', [LOCAL_BE.ip, ...REMOTE_BES]) as never });
    const run = () => Array.from({ length: 1000 }, (_, i) => tuple(h.run(PROG.fromNetdev, fromWire(tcp(OUTSIDE, NODE.nodeIp, 20000 + i, 30090, TCP.SYN))).dataOut).daddr);
    const before = run();
    forgetFlows();
    expect(run()).toEqual(before); // no state needed: the hash alone places a flow
    const removed = REMOTE_BES[0]!;
    m.handle({ type: 'MODIFIED', object: slice('mg', [LOCAL_BE.ip, REMOTE_BES[1]!]) as never });
    forgetFlows();
    const after = run();
    const others = before.map((b, i) => [b, after[i]] as const).filter(([b]) => b !== removed);
    const kept = others.filter(([b, a]) => b === a).length;
    expect(others.length).toBeGreaterThan(500);
    expect(kept / others.length, `${kept}/${others.length} kept`).toBeGreaterThanOrEqual(0.99);
    expect(after).not.toContain(removed);
  });

  it('Maglev with the map of tables full: the service still balances (at random), and gets its table once there is room', () => {
    // Fill cnilab_lb_mgl with tables of service ids the manager never hands out, up to the kernel's E2BIG.
    const filler = new Uint32Array(LB_MAGLEV_M);
    const fillerIds: number[] = [];
    let full: unknown;
    for (let id = 0xfffe; id > 0xf000 && !full; id--) {
      try {
        maps.setMaglev(id, filler);
        fillerIds.push(id);
      } catch (e) {
        full = e;
      }
    }
    expect((full as { errno?: number }).errno, String(full)).toBe(7);
    const nodePort = 30091;
    m.handle({ type: 'ADDED', object: svc('mgfull', '198.18.128.11', { type: 'NodePort', ports: [{ name: 'tcp', port: 80, protocol: 'TCP', targetPort: 8080, nodePort }] }, { 'service.cilium.io/lb-algorithm': 'maglev' }) as never });
    m.handle({ type: 'ADDED', object: slice('mgfull', [LOCAL_BE.ip, ...REMOTE_BES]) as never });
    try {
      expect(managerLog.some((l) => l.includes('no room for its Maglev table')), managerLog.join('\n')).toBe(true);
      const run = () => Array.from({ length: 300 }, (_, i) => tuple(h.run(PROG.fromNetdev, fromWire(tcp(OUTSIDE, NODE.nodeIp, 21000 + i, nodePort, TCP.SYN))).dataOut).daddr);
      forgetFlows();
      const randomPick = run();
      expect(new Set(randomPick)).toEqual(new Set([LOCAL_BE.ip, ...REMOTE_BES]));
      // Room again: the next change of the service writes its table, and placement is the hash's alone.
      for (const id of fillerIds.splice(0, 8)) maps.deleteMaglev(id);
      m.handle({ type: 'MODIFIED', object: slice('mgfull', [LOCAL_BE.ip, ...REMOTE_BES]) as never });
      expect(m.maglevUnwritten.size).toBe(0);
      forgetFlows();
      const first = run();
      forgetFlows();
      expect(run()).toEqual(first);
    } finally {
      for (const id of fillerIds) maps.deleteMaglev(id);
      m.handle({ type: 'DELETED', object: svc('mgfull', '198.18.128.11') as never });
    }
  });

  it('ClientIP affinity: every new flow of a client goes to the same backend', () => {
    addService(m, 'aff', '198.18.128.10', [LOCAL_BE.ip, ...REMOTE_BES], { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } });
    const seen = new Set(Array.from({ length: 30 }, (_, i) => tuple(h.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, '198.18.128.10', 45000 + i, 80, TCP.SYN))).dataOut).daddr));
    expect(seen.size).toBe(1);
  });

  it('the broken variants: no reverse translation, and the wrong backend port', () => {
    for (const [obj, check] of [
      [OBJ_LB_WRONG_PORT, (b: Harness) => expect(tuple(b.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, SVC_IP, 46000, 80, TCP.SYN))).dataOut).dport).toBe(80)],
      [OBJ_LB_NO_REVNAT, (b: Harness) => {
        let fwd;
        let sport = 47000;
        do fwd = tuple(b.run(PROG.fromContainer, fromClient(tcp(CLIENT.ip, SVC_IP, ++sport, 80, TCP.SYN))).dataOut);
        while (!REMOTE_BES.includes(fwd.daddr));
        const reply = b.run(PROG.fromOverlay, fromWire(tcp(fwd.daddr, CLIENT.ip, 8080, sport, TCP.SYN | TCP.ACK)));
        expect(tuple(reply.dataOut).saddr).toBe(fwd.daddr);
      }],
    ] as const) {
      const dir = tempPinDir('lbbroken');
      const b = new Harness(dir, obj);
      try {
        withTunnel(b);
        b.dp.upsertEndpoint(CLIENT);
        b.dp.upsertEndpoint(LOCAL_BE);
        for (const [i, ip] of REMOTE_BES.entries()) b.dp.upsertIpcache(ip, { identity: 2000 + i, tunnelEndpoint: `198.18.0.${12 + i}` });
        const bm = openLbMaps(dir);
        const mgr = new ServiceManager({ maps: bm, nodeName: 'node1' });
        mgr.handle({ type: 'SYNCED' });
        mgr.handle({ type: 'ADDED', object: svc('web', SVC_IP) as never });
        mgr.handle({ type: 'ADDED', object: slice('web', [LOCAL_BE.ip, ...REMOTE_BES]) as never });
        check(b);
        bm.close();
      } finally {
        b.close();
        removePinDir(dir);
      }
    }
  });
});
