// Turns the datapath's L7 capture records (a record header plus the first bytes of the L4 payload, for
// the ports configured in hubble.l7Visibility) into Hubble L7 records, pairing responses with their
// requests for the latency and for the response's method and URL. The capture is made on the client's
// side (the pod that sent the request), so both halves of an exchange are seen by the same node.
import { EVENT } from '../datapath/constants.js';
import type { L7PortSpec } from '../../lib/hubble-config.js';
import type { Layer7Json } from './flow.js';
import { httpJson, httpUrl, parseDns, parseHttp, PendingRequests, type ParsedHttpRequest } from './l7.js';

function ip(b: Buffer, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

export class L7Decoder {
  private readonly ports = new Map<string, 'dns' | 'http'>();
  private readonly http = new PendingRequests<{ req: ParsedHttpRequest; url: string }>();
  private readonly dns = new PendingRequests<true>();

  constructor(specs: L7PortSpec[]) {
    for (const s of specs) this.ports.set(`${s.protocol === 'TCP' ? 6 : 17}/${s.port}`, s.parser);
  }

  /** undefined: not a payload any parser recognises (it is not shown as a flow). */
  decode(buf: Buffer, off: number, len: number): Layer7Json | undefined {
    if (len <= EVENT.size) return undefined;
    const proto = buf[off + EVENT.proto]!;
    if (proto !== 6 && proto !== 17) return undefined;
    const sport = buf.readUInt16BE(off + EVENT.sport);
    const dport = buf.readUInt16BE(off + EVENT.dport);
    const plen = Math.min(buf.readUInt16LE(off + EVENT.payloadLen), len - EVENT.size);
    if (plen <= 0) return undefined;
    const payload = buf.subarray(off + EVENT.size, off + EVENT.size + plen);
    const ktime = buf.readBigUInt64LE(off + EVENT.ktime);
    const src = ip(buf, off + EVENT.saddr);
    const dst = ip(buf, off + EVENT.daddr);
    // Toward the configured port: a request; from it: a response.
    const toServer = this.ports.get(`${proto}/${dport}`);
    const fromServer = this.ports.get(`${proto}/${sport}`);
    const parser = toServer ?? fromServer;
    if (!parser) return undefined;
    const requestSide = toServer !== undefined;
    const conn = requestSide ? `${proto}|${src}:${sport}|${dst}:${dport}` : `${proto}|${dst}:${dport}|${src}:${sport}`;
    if (parser === 'dns') {
      const d = parseDns(payload, proto === 6);
      if (!d || d.response === requestSide) return undefined;
      const { id, response: _r, ...dns } = d;
      if (!d.response) {
        this.dns.add(`${conn}#${id}`, ktime, true);
        return { type: 'REQUEST', dns };
      }
      const req = this.dns.take(`${conn}#${id}`);
      return { type: 'RESPONSE', ...(req ? { latency_ns: String(ktime - req.t) } : {}), dns };
    }
    const h = parseHttp(payload);
    if (!h) return undefined;
    if (h.kind === 'request') {
      if (!requestSide) return undefined;
      const url = httpUrl(h, `${dst}:${dport}`);
      this.http.add(conn, ktime, { req: h, url });
      return { type: 'REQUEST', http: httpJson(h, undefined, h.protocol, url) };
    }
    if (requestSide) return undefined;
    const req = this.http.take(conn);
    return { type: 'RESPONSE', ...(req ? { latency_ns: String(ktime - req.t) } : {}), http: httpJson(req?.v.req, h.code, h.protocol, req?.v.url) };
  }
}
