import { describe, expect, it } from 'vitest';
import { parsePcap, parsePcapFile, PcapFormatError, LINKTYPE } from './pcap-parse.js';

// Hand-built frames: just enough header bytes for the decoder, checksums left zero.
const mac = Buffer.alloc(12, 0xaa);
const ip = (s: string) => Buffer.from(s.split('.').map(Number));

function ipv4(proto: number, src: string, dst: string, payload: Buffer, fragOffset = 0): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payload.length, 2);
  h.writeUInt16BE(fragOffset, 6);
  h[8] = 64;
  h[9] = proto;
  ip(src).copy(h, 12);
  ip(dst).copy(h, 16);
  return Buffer.concat([h, payload]);
}
function tcp(sport: number, dport: number, flags: number): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h[12] = 0x50;
  h[13] = flags;
  return h;
}
function udp(sport: number, dport: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([h, payload]);
}
const icmpEcho = (type: number) => Buffer.from([type, 0, 0, 0, 0, 1, 0, 1]);
const ether = (payload: Buffer, type = 0x0800) => Buffer.concat([mac, Buffer.from([type >> 8, type & 0xff]), payload]);
function vxlan(vni: number, inner: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = 0x08;
  h.writeUIntBE(vni, 4, 3);
  return Buffer.concat([h, inner]);
}

function pcapFile(frames: Buffer[], o: { le?: boolean; nano?: boolean; linktype?: number; snaplen?: number } = {}): Buffer {
  const le = o.le ?? true;
  const w32 = (b: Buffer, v: number, off: number) => (le ? b.writeUInt32LE(v, off) : b.writeUInt32BE(v, off));
  const w16 = (b: Buffer, v: number, off: number) => (le ? b.writeUInt16LE(v, off) : b.writeUInt16BE(v, off));
  const g = Buffer.alloc(24);
  w32(g, o.nano ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  w16(g, 2, 4);
  w16(g, 4, 6);
  w32(g, o.snaplen ?? 262144, 16);
  w32(g, o.linktype ?? LINKTYPE.ETHERNET, 20);
  const recs = frames.map((f, i) => {
    const r = Buffer.alloc(16);
    w32(r, 1_700_000_000 + i, 0);
    w32(r, o.nano ? 500_000_000 : 500_000, 4);
    w32(r, f.length, 8);
    w32(r, f.length + 10, 12);
    return Buffer.concat([r, f]);
  });
  return Buffer.concat([g, ...recs]);
}

describe('parsePcap', () => {
  it('decodes Ethernet/IPv4/TCP SYN in a little-endian file', () => {
    const pkts = parsePcap(pcapFile([ether(ipv4(6, '198.18.200.2', '198.18.200.1', tcp(40000, 80, 0x02)))]));
    expect(pkts).toHaveLength(1);
    expect(pkts[0]!.ts).toBeCloseTo(1_700_000_000.5, 6);
    expect(pkts[0]!.outer).toMatchObject({ srcIp: '198.18.200.2', dstIp: '198.18.200.1', proto: 'tcp', srcPort: 40000, dstPort: 80, tcpFlags: ['SYN'], ttl: 64 });
    expect(pkts[0]!.length).toBe(pkts[0]!.capturedLength + 10);
    expect(pkts[0]!.vxlan).toBeUndefined();
  });

  it('reads big-endian and nanosecond files the same way', () => {
    const frame = ether(ipv4(17, '10.0.0.1', '10.0.0.2', udp(5353, 53, Buffer.from('q'))));
    for (const opts of [{ le: false }, { nano: true }, { le: false, nano: true }]) {
      const [p] = parsePcap(pcapFile([frame], opts));
      expect(p!.outer).toMatchObject({ proto: 'udp', srcPort: 5353, dstPort: 53 });
      expect(p!.ts).toBeCloseTo(1_700_000_000.5, 6);
    }
  });

  it('decodes SYN-ACK, FIN-ACK and RST flags in wire order', () => {
    const pkts = parsePcap(pcapFile([0x12, 0x11, 0x14].map((f) => ether(ipv4(6, '1.1.1.1', '2.2.2.2', tcp(80, 1234, f))))));
    expect(pkts.map((p) => p.outer.tcpFlags)).toEqual([['SYN', 'ACK'], ['FIN', 'ACK'], ['RST', 'ACK']]);
  });

  it('decodes VXLAN on 8472 and 4789 with the VNI and the inner packet', () => {
    const inner = ether(ipv4(6, '198.19.1.5', '198.19.2.7', tcp(33000, 8080, 0x02)));
    const frames = [8472, 4789].map((port) => ether(ipv4(17, '198.18.0.2', '198.18.0.3', udp(51000, port, vxlan(0x123456, inner)))));
    for (const p of parsePcap(pcapFile(frames))) {
      expect(p.outer).toMatchObject({ srcIp: '198.18.0.2', dstIp: '198.18.0.3', proto: 'udp' });
      expect(p.vxlan).toEqual({ vni: 0x123456 });
      expect(p.inner).toMatchObject({ srcIp: '198.19.1.5', dstIp: '198.19.2.7', proto: 'tcp', dstPort: 8080, tcpFlags: ['SYN'] });
    }
  });

  it('does not treat UDP to other ports, or without the I flag, as VXLAN', () => {
    const bogus = vxlan(7, ether(ipv4(1, '1.1.1.1', '2.2.2.2', icmpEcho(8))));
    bogus[0] = 0;
    const pkts = parsePcap(pcapFile([ether(ipv4(17, '1.1.1.1', '2.2.2.2', udp(1, 9999, bogus))), ether(ipv4(17, '1.1.1.1', '2.2.2.2', udp(1, 8472, bogus)))]));
    expect(pkts.every((p) => p.vxlan === undefined && p.inner === undefined)).toBe(true);
  });

  it('decodes ICMP echo request/reply through Linux cooked v1 and v2 headers', () => {
    const payload = ipv4(1, '198.18.200.2', '198.18.200.1', icmpEcho(8));
    const sll = Buffer.concat([Buffer.alloc(14), Buffer.from([0x08, 0x00]), payload]);
    const sll2 = Buffer.concat([Buffer.from([0x08, 0x00]), Buffer.alloc(18), ipv4(1, '198.18.200.1', '198.18.200.2', icmpEcho(0))]);
    expect(parsePcap(pcapFile([sll], { linktype: LINKTYPE.LINUX_SLL }))[0]!.outer).toMatchObject({ proto: 'icmp', icmpType: 8, icmpCode: 0 });
    expect(parsePcap(pcapFile([sll2], { linktype: LINKTYPE.LINUX_SLL2 }))[0]!.outer).toMatchObject({ proto: 'icmp', icmpType: 0, srcIp: '198.18.200.1' });
  });

  it('skips VLAN tags, ignores ARP, marks non-first fragments', () => {
    const tagged = Buffer.concat([mac, Buffer.from([0x81, 0x00, 0x00, 0x05, 0x08, 0x00]), ipv4(6, '1.1.1.1', '2.2.2.2', tcp(1, 2, 0x10))]);
    const arp = ether(Buffer.alloc(28), 0x0806);
    const frag = ether(ipv4(17, '1.1.1.1', '2.2.2.2', Buffer.alloc(16), 185));
    const pkts = parsePcap(pcapFile([tagged, arp, frag]));
    expect(pkts).toHaveLength(2);
    expect(pkts[0]!.outer.tcpFlags).toEqual(['ACK']);
    expect(pkts[1]!.outer).toMatchObject({ fragment: true, proto: 'udp' });
    expect(pkts[1]!.outer.srcPort).toBeUndefined();
  });

  it('decodes IPv6 addresses with zero compression', () => {
    const h = Buffer.alloc(40);
    h[0] = 0x60;
    h.writeUInt16BE(20, 4);
    h[6] = 6;
    h[7] = 63;
    Buffer.from('fd000000000000000000000000000001', 'hex').copy(h, 8);
    Buffer.from('fd000001000200000000000000000abc', 'hex').copy(h, 24);
    const [p] = parsePcap(pcapFile([ether(Buffer.concat([h, tcp(1, 443, 0x02)]), 0x86dd)]));
    expect(p!.outer).toMatchObject({ ipVersion: 6, srcIp: 'fd00::1', dstIp: 'fd00:1:2::abc', proto: 'tcp', dstPort: 443, ttl: 63 });
  });

  it('drops a truncated last record and survives a snap-length cut inside L4', () => {
    const full = pcapFile([ether(ipv4(6, '1.1.1.1', '2.2.2.2', tcp(1, 2, 0x02))), ether(ipv4(6, '1.1.1.1', '2.2.2.2', tcp(1, 2, 0x02)))]);
    expect(parsePcap(full.subarray(0, full.length - 5))).toHaveLength(1);
    const cut = ether(ipv4(6, '1.1.1.1', '2.2.2.2', tcp(1, 2, 0x02))).subarray(0, 14 + 20 + 4);
    const [p] = parsePcap(pcapFile([cut]));
    expect(p!.outer).toMatchObject({ srcPort: 1, dstPort: 2 });
    expect(p!.outer.tcpFlags).toBeUndefined();
  });

  it('rejects non-pcap input clearly and reports file metadata', () => {
    expect(() => parsePcap(Buffer.alloc(10))).toThrow(PcapFormatError);
    expect(() => parsePcap(Buffer.from('0a0d0d0a' + '00'.repeat(40), 'hex'))).toThrow(/pcapng/);
    expect(() => parsePcap(Buffer.alloc(24, 0x11))).toThrow(/magic/);
    expect(parsePcapFile(pcapFile([], { snaplen: 256, nano: true }))).toMatchObject({ linktype: 1, snaplen: 256, nanosecond: true, packets: [] });
  });
});
