// Byte-level encoding of the datapath's map keys/values and events (layouts in constants.ts). Pure
// functions: unit-testable without root or libbpf.
import { InvalidInputError } from '../../lib/errors.js';
import type { DatapathEvent, EndpointEntry, IpcacheEntry } from './types.js';
import { DROP_REASON, ENDPOINT, EVENT, EVENT_TYPE, EVENT_V1_SIZE, IPCACHE_KEY, IPCACHE_VALUE } from './constants.js';
import { observationPointOfTracePoint, tracePointOfObservationPoint } from '../observer/names.js';

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/** IPv4 dotted quad → 4 bytes in network order. */
export function ipToBytes(ip: string, field = 'ip'): Buffer {
  const m = IPV4.exec(ip);
  const parts = m ? m.slice(1).map(Number) : [];
  if (!m || parts.some((p) => p > 255)) throw new InvalidInputError(field, `not an IPv4 address: ${JSON.stringify(ip)}`);
  return Buffer.from(parts);
}

export function bytesToIp(buf: Buffer, off = 0): string {
  return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
}

/** IPv4 as a u32 whose in-memory (little-endian) bytes are the network-order address, i.e. what a BPF
 *  program sees in a __be32. */
export function ipToBe32(ip: string, field?: string): number {
  return ipToBytes(ip, field).readUInt32LE(0);
}

export function macToBytes(mac: string, field = 'mac'): Buffer {
  if (!MAC.test(mac)) throw new InvalidInputError(field, `not a MAC address: ${JSON.stringify(mac)}`);
  return Buffer.from(mac.split(':').map((h) => parseInt(h, 16)));
}

const HEX2 = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function bytesToMac(buf: Buffer, off = 0): string {
  return `${HEX2[buf[off]!]}:${HEX2[buf[off + 1]!]}:${HEX2[buf[off + 2]!]}:${HEX2[buf[off + 3]!]}:${HEX2[buf[off + 4]!]}:${HEX2[buf[off + 5]!]}`;
}

function isZero6(buf: Buffer, off: number): boolean {
  return (buf.readUInt32LE(off) | buf.readUInt16LE(off + 4)) === 0;
}

export interface Cidr {
  ip: string; // network address (host bits cleared)
  prefixLen: number;
}

/** "10.0.0.5" (a /32) or "10.0.0.0/24". Host bits are cleared. */
export function parseCidr(key: string, field = 'cidr'): Cidr {
  const [ip, len, extra] = key.split('/');
  const prefixLen = len === undefined ? 32 : Number(len);
  if (extra !== undefined || !Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > 32 || (len !== undefined && !/^\d+$/.test(len)))
    throw new InvalidInputError(field, `not an IPv4 CIDR: ${JSON.stringify(key)}`);
  const n = ipToBytes(ip!, field).readUInt32BE(0);
  const mask = prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
  const net = Buffer.alloc(4);
  net.writeUInt32BE((n & mask) >>> 0);
  return { ip: bytesToIp(net), prefixLen };
}

export function prefixMaskBytes(prefixLen: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0);
  return b;
}

export function encodeEndpoint(ep: EndpointEntry): Buffer {
  const v = Buffer.alloc(ENDPOINT.size);
  v.writeUInt32LE(ep.ifindex, ENDPOINT.ifindex);
  ipToBytes(ep.ip, 'endpoint.ip').copy(v, ENDPOINT.ip);
  v.writeUInt32LE(ep.identity, ENDPOINT.identity);
  v.writeUInt16LE(ep.endpointId, ENDPOINT.epId);
  macToBytes(ep.podMac, 'endpoint.podMac').copy(v, ENDPOINT.podMac);
  macToBytes(ep.hostMac, 'endpoint.hostMac').copy(v, ENDPOINT.hostMac);
  return v;
}

export function decodeEndpoint(v: Buffer): EndpointEntry {
  return {
    ifindex: v.readUInt32LE(ENDPOINT.ifindex),
    ip: bytesToIp(v, ENDPOINT.ip),
    identity: v.readUInt32LE(ENDPOINT.identity),
    endpointId: v.readUInt16LE(ENDPOINT.epId),
    podMac: bytesToMac(v, ENDPOINT.podMac),
    hostMac: bytesToMac(v, ENDPOINT.hostMac),
  };
}

export function u32Key(n: number): Buffer {
  const k = Buffer.alloc(4);
  k.writeUInt32LE(n >>> 0);
  return k;
}

export function encodeIpcacheKey(key: string): Buffer {
  const c = parseCidr(key, 'ipcache key');
  const k = Buffer.alloc(IPCACHE_KEY.size);
  k.writeUInt32LE(c.prefixLen, IPCACHE_KEY.prefixlen);
  ipToBytes(c.ip).copy(k, IPCACHE_KEY.ip);
  return k;
}

export function decodeIpcacheKey(k: Buffer): string {
  const len = k.readUInt32LE(IPCACHE_KEY.prefixlen);
  const ip = bytesToIp(k, IPCACHE_KEY.ip);
  return len === 32 ? ip : `${ip}/${len}`;
}

export function encodeIpcacheValue(e: IpcacheEntry): Buffer {
  const v = Buffer.alloc(IPCACHE_VALUE.size);
  v.writeUInt32LE(e.identity, IPCACHE_VALUE.identity);
  if (e.tunnelEndpoint) ipToBytes(e.tunnelEndpoint, 'ipcache.tunnelEndpoint').copy(v, IPCACHE_VALUE.tunnelEndpoint);
  return v;
}

export function decodeIpcacheValue(v: Buffer): IpcacheEntry {
  const tep = v.readUInt32LE(IPCACHE_VALUE.tunnelEndpoint);
  return {
    identity: v.readUInt32LE(IPCACHE_VALUE.identity),
    ...(tep !== 0 ? { tunnelEndpoint: bytesToIp(v, IPCACHE_VALUE.tunnelEndpoint) } : {}),
  };
}

const KIND: Record<number, DatapathEvent['kind']> = {
  [EVENT_TYPE.drop]: 'drop',
  [EVENT_TYPE.trace]: 'trace',
  [EVENT_TYPE.policyVerdict]: 'policy-verdict',
  [EVENT_TYPE.l7Capture]: 'l7-capture',
  [EVENT_TYPE.sockXlate]: 'sock-xlate',
};

const isPolicyDrop = (reason: number): boolean => reason === DROP_REASON.POLICY_DENIED || reason === DROP_REASON.POLICY_DENY;

/** One ring buffer record (struct cnilab_event, either layout) at buf[off, off+len) → DatapathEvent. */
export function decodeEvent(buf: Buffer, off = 0, len = buf.length - off): DatapathEvent {
  if (len < EVENT_V1_SIZE) throw new RangeError(`datapath event too short: ${len} < ${EVENT_V1_SIZE} bytes`);
  const v2 = len >= EVENT.size;
  const type = buf[off + EVENT.type]!;
  const kind = KIND[type];
  if (!kind) throw new RangeError(`unknown datapath event type ${type}`);
  const subtype = buf[off + EVENT.subtype]!;
  const protocol = buf[off + EVENT.proto]!;
  const noPorts = protocol !== 6 && protocol !== 17;
  const ev: DatapathEvent = {
    ktimeNs: buf.readBigUInt64LE(off + EVENT.ktime),
    kind,
    direction: buf[off + EVENT.direction]!,
    ifindex: buf.readUInt32LE(off + EVENT.ifindex),
    srcIdentity: buf.readUInt32LE(off + EVENT.srcIdentity),
    dstIdentity: buf.readUInt32LE(off + EVENT.dstIdentity),
    srcIp: bytesToIp(buf, off + EVENT.saddr),
    dstIp: bytesToIp(buf, off + EVENT.daddr),
    protocol,
    srcPort: noPorts ? 0 : buf.readUInt16BE(off + EVENT.sport),
    dstPort: noPorts ? 0 : buf.readUInt16BE(off + EVENT.dport),
    tcpFlags: buf[off + EVENT.tcpFlags]!,
    isReply: buf[off + EVENT.isReply] !== 0,
    length: buf.readUInt32LE(off + EVENT.length),
  };
  if (kind === 'drop') ev.dropReason = subtype;
  // The first layout carried the TraceObservationPoint; the current one the monitor trace point.
  else if (kind === 'trace') ev.observationPoint = v2 ? observationPointOfTracePoint(subtype) : subtype;
  else if (kind === 'sock-xlate') ev.sockXlatePoint = subtype;
  else if (subtype !== 0) ev.dropReason = subtype; // policy verdict: 0 allowed, else the drop reason
  if (kind === 'policy-verdict' || (kind === 'drop' && isPolicyDrop(subtype))) ev.policyMatchType = buf[off + EVENT.policyMatch]!;
  if (protocol === 1) {
    ev.icmpType = buf[off + EVENT.icmpType]!;
    ev.icmpCode = buf[off + EVENT.icmpCode]!;
  }
  if (v2) {
    if (!isZero6(buf, off + EVENT.ethSrc)) ev.ethSrc = bytesToMac(buf, off + EVENT.ethSrc);
    if (!isZero6(buf, off + EVENT.ethDst)) ev.ethDst = bytesToMac(buf, off + EVENT.ethDst);
    const reason = buf[off + EVENT.traceReason]!;
    if (reason) ev.traceReason = reason;
    const svcId = buf.readUInt16LE(off + EVENT.svcId);
    if (svcId) ev.svcId = svcId;
    const plen = Math.min(buf.readUInt16LE(off + EVENT.payloadLen), len - EVENT.size);
    if (plen > 0) ev.payload = Buffer.from(buf.subarray(off + EVENT.size, off + EVENT.size + plen));
  }
  return ev;
}

/** Inverse of decodeEvent (current layout), for tests, fixtures and the fake datapath. */
export function encodeEvent(ev: DatapathEvent): Buffer {
  const payload = ev.payload ?? Buffer.alloc(0);
  const b = Buffer.alloc(EVENT.size + payload.length);
  b.writeBigUInt64LE(ev.ktimeNs, EVENT.ktime);
  b[EVENT.type] =
    ev.kind === 'drop' ? EVENT_TYPE.drop : ev.kind === 'trace' ? EVENT_TYPE.trace : ev.kind === 'l7-capture' ? EVENT_TYPE.l7Capture : ev.kind === 'sock-xlate' ? EVENT_TYPE.sockXlate : EVENT_TYPE.policyVerdict;
  b[EVENT.subtype] = ev.kind === 'trace' ? tracePointOfObservationPoint(ev.observationPoint ?? 0) : ev.kind === 'sock-xlate' ? (ev.sockXlatePoint ?? 0) : (ev.dropReason ?? 0);
  b[EVENT.direction] = ev.direction;
  b[EVENT.proto] = ev.protocol;
  b.writeUInt32LE(ev.ifindex, EVENT.ifindex);
  b.writeUInt32LE(ev.srcIdentity, EVENT.srcIdentity);
  b.writeUInt32LE(ev.dstIdentity, EVENT.dstIdentity);
  ipToBytes(ev.srcIp).copy(b, EVENT.saddr);
  ipToBytes(ev.dstIp).copy(b, EVENT.daddr);
  b.writeUInt16BE(ev.srcPort, EVENT.sport);
  b.writeUInt16BE(ev.dstPort, EVENT.dport);
  b[EVENT.tcpFlags] = ev.tcpFlags;
  b[EVENT.icmpType] = ev.icmpType ?? 0;
  b[EVENT.icmpCode] = ev.icmpCode ?? 0;
  b[EVENT.isReply] = ev.isReply ? 1 : 0;
  b.writeUInt32LE(ev.length, EVENT.length);
  b[EVENT.policyMatch] = ev.policyMatchType ?? 0;
  b[EVENT.traceReason] = ev.traceReason ?? 0;
  if (ev.ethSrc) macToBytes(ev.ethSrc).copy(b, EVENT.ethSrc);
  if (ev.ethDst) macToBytes(ev.ethDst).copy(b, EVENT.ethDst);
  b.writeUInt16LE(payload.length, EVENT.payloadLen);
  b.writeUInt16LE(ev.svcId ?? 0, EVENT.svcId);
  payload.copy(b, EVENT.size);
  return b;
}
