// Frame builders for BPF_PROG_TEST_RUN: Ethernet + ARP / IPv4 (TCP, UDP, ICMP) with valid checksums.
import { ipToBytes, macToBytes } from '../../agent/datapath/codec.js';

export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_IPV6 = 0x86dd;

export function eth(dst: string, src: string, proto: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(14);
  macToBytes(dst).copy(h, 0);
  macToBytes(src).copy(h, 6);
  h.writeUInt16BE(proto, 12);
  return Buffer.concat([h, payload]);
}

/** ARP request "who has tip? tell sip" from sha, broadcast. */
export function arpRequest(sha: string, sip: string, tip: string): Buffer {
  const a = Buffer.alloc(28);
  a.writeUInt16BE(1, 0); // Ethernet
  a.writeUInt16BE(ETH_P_IP, 2);
  a[4] = 6;
  a[5] = 4;
  a.writeUInt16BE(1, 6); // request
  macToBytes(sha).copy(a, 8);
  ipToBytes(sip).copy(a, 14);
  ipToBytes(tip).copy(a, 24);
  return eth('ff:ff:ff:ff:ff:ff', sha, ETH_P_ARP, a);
}

function csum(buf: Buffer): number {
  let s = 0;
  for (let i = 0; i + 1 < buf.length; i += 2) s += buf.readUInt16BE(i);
  if (buf.length % 2) s += buf[buf.length - 1]! << 8;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

export function ipv4(src: string, dst: string, proto: number, l4: Buffer, ttl = 64): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + l4.length, 2);
  h.writeUInt16BE(0x4000, 6); // DF
  h[8] = ttl;
  h[9] = proto;
  ipToBytes(src).copy(h, 12);
  ipToBytes(dst).copy(h, 16);
  h.writeUInt16BE(csum(h), 10);
  return Buffer.concat([h, l4]);
}

function pseudo(src: string, dst: string, proto: number, l4: Buffer): Buffer {
  const p = Buffer.alloc(12);
  ipToBytes(src).copy(p, 0);
  ipToBytes(dst).copy(p, 4);
  p[9] = proto;
  p.writeUInt16BE(l4.length, 10);
  return Buffer.concat([p, l4]);
}

export const TCP = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;

/** A TCP segment; seq: its sequence number (a new connection has a new one, a retransmission the same). */
export function tcp(src: string, dst: string, sport: number, dport: number, flags: number, payload = Buffer.alloc(0), seq = 1000): Buffer {
  const t = Buffer.alloc(20 + payload.length);
  payload.copy(t, 20);
  t.writeUInt16BE(sport, 0);
  t.writeUInt16BE(dport, 2);
  t.writeUInt32BE(seq, 4);
  t[12] = 5 << 4;
  t[13] = flags;
  t.writeUInt16BE(65535, 14);
  t.writeUInt16BE(csum(pseudo(src, dst, 6, t)), 16);
  return ipv4(src, dst, 6, t);
}

export function udp(src: string, dst: string, sport: number, dport: number, payload = Buffer.from('hi')): Buffer {
  const u = Buffer.alloc(8 + payload.length);
  u.writeUInt16BE(sport, 0);
  u.writeUInt16BE(dport, 2);
  u.writeUInt16BE(u.length, 4);
  payload.copy(u, 8);
  u.writeUInt16BE(csum(pseudo(src, dst, 17, u)) || 0xffff, 6);
  return ipv4(src, dst, 17, u);
}

export function icmpEcho(src: string, dst: string, type: 0 | 8, id: number, seq: number): Buffer {
  const i = Buffer.alloc(16);
  i[0] = type;
  i.writeUInt16BE(id, 4);
  i.writeUInt16BE(seq, 6);
  i.writeUInt16BE(csum(i), 2);
  return ipv4(src, dst, 1, i);
}

export function sctp(src: string, dst: string, sport: number, dport: number): Buffer {
  const s = Buffer.alloc(12); // common header only: the datapath reads the ports
  s.writeUInt16BE(sport, 0);
  s.writeUInt16BE(dport, 2);
  return ipv4(src, dst, 132, s);
}

/** struct __sk_buff (192 bytes) with ifindex (and mark) set, the test_run ctx for tc programs. */
export function skbCtx(ifindex: number, mark = 0): Buffer {
  const c = Buffer.alloc(192);
  c.writeUInt32LE(mark, 8);
  c.writeUInt32LE(ifindex, 40);
  return c;
}

/** The frame with its IPv4 TTL set (header checksum recomputed): packets at the edge of expiry. */
export function withTtl(frame: Buffer, ttl: number): Buffer {
  const f = Buffer.from(frame);
  f[14 + 8] = ttl;
  f.writeUInt16BE(0, 14 + 10);
  f.writeUInt16BE(csum(f.subarray(14, 34)), 14 + 10);
  return f;
}

/** Whether a frame's IPv4 header checksum verifies (sums to 0xffff). */
export function ipChecksumOk(frame: Buffer): boolean {
  return csum(frame.subarray(14, 34)) === 0;
}
