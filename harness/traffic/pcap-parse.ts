// A pure-TypeScript reader for classic libpcap files (what `tcpdump -w` writes): both byte
// orders, micro- and nanosecond timestamps; link types Ethernet, Linux cooked v1/v2 (tcpdump's
// choice for `-i any`) and raw IP. Decodes IPv4/IPv6 → TCP/UDP/ICMP and one level of VXLAN.
// Non-IP frames (ARP, LLDP) are skipped: tests assert on IP traffic.

export const LINKTYPE = { NULL: 0, ETHERNET: 1, RAW: 101, LINUX_SLL: 113, LINUX_SLL2: 276 } as const;
export const VXLAN_PORTS: readonly number[] = [8472, 4789]; // Cilium/Linux default, IANA

export type TcpFlagName = 'FIN' | 'SYN' | 'RST' | 'PSH' | 'ACK' | 'URG' | 'ECE' | 'CWR';
const TCP_FLAG_BITS: Array<[TcpFlagName, number]> = [
  ['FIN', 0x01], ['SYN', 0x02], ['RST', 0x04], ['PSH', 0x08], ['ACK', 0x10], ['URG', 0x20], ['ECE', 0x40], ['CWR', 0x80],
];

export interface PacketHeaders {
  ipVersion: 4 | 6;
  srcIp: string;
  dstIp: string;
  /** 'tcp' | 'udp' | 'icmp' | 'icmpv6', or the IP protocol number as text for anything else. */
  proto: string;
  ttl: number;
  srcPort?: number;
  dstPort?: number;
  /** Set TCP flags in wire order, e.g. ['SYN', 'ACK']. */
  tcpFlags?: TcpFlagName[];
  icmpType?: number;
  icmpCode?: number;
  /** A non-first IPv4 fragment: no L4 header to decode. */
  fragment?: boolean;
  /** IP total length (header + payload), from the IP header. */
  ipLength: number;
}

export interface CapturedPacket {
  /** Seconds since the epoch, with fractional part. */
  ts: number;
  outer: PacketHeaders;
  vxlan?: { vni: number };
  inner?: PacketHeaders;
  /** Length of the frame on the wire (orig_len). */
  length: number;
  /** Bytes captured (incl_len, ≤ the snap length). */
  capturedLength: number;
}

export class PcapFormatError extends Error {}

function ipv4(b: Buffer, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

function ipv6(b: Buffer, o: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(b.readUInt16BE(o + i * 2).toString(16));
  // Compress the longest run of zero groups, as inet_ntop does.
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

const PROTO_NAMES: Record<number, string> = { 1: 'icmp', 6: 'tcp', 17: 'udp', 58: 'icmpv6' };

interface Decoded {
  headers: PacketHeaders;
  vxlan?: { vni: number };
  inner?: PacketHeaders;
}

function decodeL4(b: Buffer, o: number, end: number, h: PacketHeaders, allowVxlan: boolean): Omit<Decoded, 'headers'> {
  if (h.fragment) return {};
  if ((h.proto === 'tcp' || h.proto === 'udp') && o + 4 <= end) {
    h.srcPort = b.readUInt16BE(o);
    h.dstPort = b.readUInt16BE(o + 2);
  }
  if (h.proto === 'tcp' && o + 14 <= end) {
    const bits = b[o + 13]!;
    h.tcpFlags = TCP_FLAG_BITS.filter(([, bit]) => bits & bit).map(([n]) => n);
  }
  if ((h.proto === 'icmp' || h.proto === 'icmpv6') && o + 2 <= end) {
    h.icmpType = b[o];
    h.icmpCode = b[o + 1];
  }
  // VXLAN: UDP to a VXLAN port, 8-byte header with the I flag (0x08) set, VNI in bytes 4-6.
  if (allowVxlan && h.proto === 'udp' && h.dstPort !== undefined && VXLAN_PORTS.includes(h.dstPort) && o + 16 <= end) {
    const vx = o + 8;
    if ((b[vx]! & 0x08) !== 0) {
      const vni = b.readUIntBE(vx + 4, 3);
      const inner = decodeEthernet(b, vx + 8, end, false);
      return { vxlan: { vni }, inner: inner?.headers };
    }
  }
  return {};
}

function decodeIp(b: Buffer, o: number, end: number, allowVxlan: boolean): Decoded | undefined {
  if (o >= end) return undefined;
  const version = b[o]! >> 4;
  if (version === 4 && o + 20 <= end) {
    const ihl = (b[o]! & 0x0f) * 4;
    const protoNum = b[o + 9]!;
    const fragOffset = b.readUInt16BE(o + 6) & 0x1fff;
    const headers: PacketHeaders = {
      ipVersion: 4,
      srcIp: ipv4(b, o + 12),
      dstIp: ipv4(b, o + 16),
      proto: PROTO_NAMES[protoNum] ?? String(protoNum),
      ttl: b[o + 8]!,
      ipLength: b.readUInt16BE(o + 2),
      ...(fragOffset !== 0 ? { fragment: true } : {}),
    };
    return { headers, ...decodeL4(b, o + ihl, end, headers, allowVxlan) };
  }
  if (version === 6 && o + 40 <= end) {
    const protoNum = b[o + 6]!; // extension headers are not walked
    const headers: PacketHeaders = {
      ipVersion: 6,
      srcIp: ipv6(b, o + 8),
      dstIp: ipv6(b, o + 24),
      proto: PROTO_NAMES[protoNum] ?? String(protoNum),
      ttl: b[o + 7]!,
      ipLength: 40 + b.readUInt16BE(o + 4),
    };
    return { headers, ...decodeL4(b, o + 40, end, headers, allowVxlan) };
  }
  return undefined;
}

function decodeEtherType(b: Buffer, type: number, o: number, end: number, allowVxlan: boolean): Decoded | undefined {
  // 802.1Q / 802.1ad tags: skip them to the real EtherType.
  while ((type === 0x8100 || type === 0x88a8) && o + 4 <= end) {
    type = b.readUInt16BE(o + 2);
    o += 4;
  }
  return type === 0x0800 || type === 0x86dd ? decodeIp(b, o, end, allowVxlan) : undefined;
}

function decodeEthernet(b: Buffer, o: number, end: number, allowVxlan: boolean): Decoded | undefined {
  if (o + 14 > end) return undefined;
  return decodeEtherType(b, b.readUInt16BE(o + 12), o + 14, end, allowVxlan);
}

function decodeFrame(linktype: number, b: Buffer, o: number, end: number): Decoded | undefined {
  switch (linktype) {
    case LINKTYPE.ETHERNET:
      return decodeEthernet(b, o, end, true);
    case LINKTYPE.LINUX_SLL: // 16-byte header, protocol at 14
      return o + 16 <= end ? decodeEtherType(b, b.readUInt16BE(o + 14), o + 16, end, true) : undefined;
    case LINKTYPE.LINUX_SLL2: // 20-byte header, protocol at 0
      return o + 20 <= end ? decodeEtherType(b, b.readUInt16BE(o), o + 20, end, true) : undefined;
    case LINKTYPE.RAW:
    case 228: // LINKTYPE_IPV4
    case 229: // LINKTYPE_IPV6
      return decodeIp(b, o, end, true);
    default:
      return undefined;
  }
}

export interface PcapFile {
  linktype: number;
  snaplen: number;
  nanosecond: boolean;
  packets: CapturedPacket[];
}

/** Parse a whole classic pcap file. A truncated last record (capture stopped mid-write) is dropped. */
export function parsePcapFile(buf: Buffer): PcapFile {
  if (buf.length < 24) throw new PcapFormatError(`pcap too short: ${buf.length} bytes`);
  const magicLE = buf.readUInt32LE(0);
  let le: boolean;
  let nanosecond: boolean;
  if (magicLE === 0xa1b2c3d4 || magicLE === 0xa1b23c4d) [le, nanosecond] = [true, magicLE === 0xa1b23c4d];
  else if (buf.readUInt32BE(0) === 0xa1b2c3d4 || buf.readUInt32BE(0) === 0xa1b23c4d) [le, nanosecond] = [false, buf.readUInt32BE(0) === 0xa1b23c4d];
  else if (magicLE === 0x0a0d0d0a) throw new PcapFormatError('pcapng files are not supported (tcpdump -w writes classic pcap)');
  else throw new PcapFormatError(`not a pcap file (magic 0x${magicLE.toString(16)})`);
  const u32 = (o: number) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const snaplen = u32(16);
  const linktype = u32(20) & 0x0fffffff; // upper bits may carry FCS information
  const packets: CapturedPacket[] = [];
  for (let o = 24; o + 16 <= buf.length; ) {
    const sec = u32(o);
    const frac = u32(o + 4);
    const incl = u32(o + 8);
    const orig = u32(o + 12);
    const start = o + 16;
    const end = start + incl;
    if (end > buf.length) break;
    const d = decodeFrame(linktype, buf, start, end);
    if (d) {
      packets.push({
        ts: sec + frac / (nanosecond ? 1e9 : 1e6),
        outer: d.headers,
        ...(d.vxlan ? { vxlan: d.vxlan } : {}),
        ...(d.inner ? { inner: d.inner } : {}),
        length: orig,
        capturedLength: incl,
      });
    }
    o = end;
  }
  return { linktype, snaplen, nanosecond, packets };
}

export function parsePcap(buf: Buffer): CapturedPacket[] {
  return parsePcapFile(buf).packets;
}

/** The headers a test usually means: the inner packet of a tunnelled frame, else the outer one. */
export function effectiveHeaders(p: CapturedPacket): PacketHeaders {
  return p.inner ?? p.outer;
}
