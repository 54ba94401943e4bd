// L7 visibility without a proxy: the datapath copies the first bytes of the payload of packets on ports
// configured for it, and these parsers turn them into Hubble's L7 records (DNS queries and responses,
// HTTP/1.x request and status lines). The payload is what a pod sent: hostile input. The parsers bound
// every read, give up on anything malformed (undefined, never an exception) and never allocate more
// than the payload's size.
import { DNS_TYPE_NAMES } from './names.js';
import type { DnsJson, HttpJson } from './flow.js';

export interface ParsedDns extends DnsJson {
  id: number;
  response: boolean;
}

function typeName(t: number): string {
  return DNS_TYPE_NAMES[t] ?? `TYPE${t}`;
}

/** A DNS name at `off`, following compression pointers (at most 16 hops); undefined if malformed. */
function readName(b: Buffer, off: number): { name: string; next: number } | undefined {
  const labels: string[] = [];
  let pos = off;
  let next = -1;
  for (let hops = 0; hops < 16; ) {
    if (pos >= b.length) return undefined;
    const len = b[pos]!;
    if (len === 0) {
      if (next < 0) next = pos + 1;
      const name = labels.length ? `${labels.join('.')}.` : '.';
      return name.length > 255 ? undefined : { name, next };
    }
    if ((len & 0xc0) === 0xc0) {
      if (pos + 1 >= b.length) return undefined;
      if (next < 0) next = pos + 2;
      pos = ((len & 0x3f) << 8) | b[pos + 1]!;
      hops++;
      continue;
    }
    if (len & 0xc0 || pos + 1 + len > b.length) return undefined;
    labels.push(b.toString('latin1', pos + 1, pos + 1 + len).replace(/[^\x21-\x7e]/g, '?'));
    pos += 1 + len;
  }
  return undefined;
}

/** A DNS message (UDP payload; for TCP pass `tcp` to skip the 2-byte length prefix). Answers past the
 *  captured bytes are simply not reported. */
export function parseDns(payload: Buffer, tcp = false): ParsedDns | undefined {
  const b = tcp ? payload.subarray(2) : payload;
  if (b.length < 12) return undefined;
  const id = b.readUInt16BE(0);
  const flags = b.readUInt16BE(2);
  const qd = b.readUInt16BE(4);
  const an = b.readUInt16BE(6);
  if ((flags >> 11) & 0xf) return undefined; // not a standard query (opcode ≠ 0)
  if (qd < 1 || qd > 4) return undefined;
  const out: ParsedDns = { id, response: (flags & 0x8000) !== 0, rcode: flags & 0xf };
  let off = 12;
  const qtypes: string[] = [];
  for (let i = 0; i < qd; i++) {
    const n = readName(b, off);
    if (!n || n.next + 4 > b.length) return undefined;
    if (i === 0) out.query = n.name;
    qtypes.push(typeName(b.readUInt16BE(n.next)));
    off = n.next + 4;
  }
  out.qtypes = qtypes;
  if (!out.response) return out;
  const ips: string[] = [];
  const rrtypes: string[] = [];
  const cnames: string[] = [];
  for (let i = 0; i < Math.min(an, 64); i++) {
    const n = readName(b, off);
    if (!n || n.next + 10 > b.length) break;
    const type = b.readUInt16BE(n.next);
    const ttl = b.readUInt32BE(n.next + 4);
    const rdlen = b.readUInt16BE(n.next + 8);
    const rd = n.next + 10;
    if (rd + rdlen > b.length) break;
    rrtypes.push(typeName(type));
    if (out.ttl === undefined) out.ttl = ttl;
    if (type === 1 && rdlen === 4) ips.push(`${b[rd]}.${b[rd + 1]}.${b[rd + 2]}.${b[rd + 3]}`);
    else if (type === 28 && rdlen === 16) ips.push(ipv6(b.subarray(rd, rd + 16)));
    else if (type === 5) {
      const c = readName(b, rd);
      if (c) cnames.push(c.name);
    }
    off = rd + rdlen;
  }
  if (ips.length) out.ips = ips;
  if (rrtypes.length) out.rrtypes = rrtypes;
  if (cnames.length) out.cnames = cnames;
  return out;
}

function ipv6(b: Buffer): string {
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(b.readUInt16BE(i).toString(16));
  return parts.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

export interface ParsedHttpRequest {
  kind: 'request';
  method: string;
  path: string;
  protocol: string;
  host?: string;
}
export interface ParsedHttpResponse {
  kind: 'response';
  protocol: string;
  code: number;
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

/** The request line (and Host header, if captured) or the status line of an HTTP/1.x message. */
export function parseHttp(payload: Buffer): ParsedHttpRequest | ParsedHttpResponse | undefined {
  const text = payload.toString('latin1', 0, Math.min(payload.length, 1024));
  const eol = text.indexOf('\r\n');
  const line = eol >= 0 ? text.slice(0, eol) : text;
  let m = /^(HTTP\/1\.[01]) ([1-5]\d\d)(?: |$)/.exec(line);
  if (m) return { kind: 'response', protocol: m[1]!, code: Number(m[2]) };
  m = /^([A-Z]{3,7}) (\S{1,512}) (HTTP\/1\.[01])$/.exec(line);
  if (!m || !METHODS.has(m[1]!)) return undefined;
  const host = /\r\nhost:[ \t]*([^\r\n]{1,255})/i.exec(text)?.[1]?.trim();
  return { kind: 'request', method: m[1]!, path: m[2]!, protocol: m[3]!, ...(host && /^[\x21-\x7e]+$/.test(host) ? { host } : {}) };
}

/** The URL Hubble shows: scheme, host (Host header, else the server address) and path. */
export function httpUrl(req: ParsedHttpRequest, serverAddr: string): string {
  if (/^https?:\/\//.test(req.path)) return req.path;
  return `http://${req.host ?? serverAddr}${req.path.startsWith('/') ? req.path : `/${req.path}`}`;
}

export function httpJson(req: ParsedHttpRequest | undefined, code: number | undefined, protocol: string, url: string | undefined): HttpJson {
  return {
    ...(code ? { code } : {}),
    ...(req ? { method: req.method } : {}),
    ...(url ? { url } : {}),
    protocol,
  };
}

/**
 * Requests waiting for their response, per connection, for the latency of request → response and for
 * the response's method and URL. Bounded: the oldest pending requests are forgotten first.
 */
export class PendingRequests<T> {
  private byConn = new Map<string, Array<{ t: bigint; v: T }>>();
  private count = 0;

  constructor(private readonly max = 4096) {}

  add(conn: string, t: bigint, v: T): void {
    let q = this.byConn.get(conn);
    if (!q) this.byConn.set(conn, (q = []));
    q.push({ t, v });
    if (++this.count > this.max) this.evictOldest();
  }

  /** The oldest request of the connection (HTTP/1.x answers in order), removed. */
  take(conn: string): { t: bigint; v: T } | undefined {
    const q = this.byConn.get(conn);
    const first = q?.shift();
    if (first) this.count--;
    if (q && q.length === 0) this.byConn.delete(conn);
    return first;
  }

  get size(): number {
    return this.count;
  }

  private evictOldest(): void {
    // Map iteration order is insertion order: the first connection holds the oldest pending request.
    const first = this.byConn.keys().next();
    if (first.done) return;
    this.take(first.value);
  }
}
