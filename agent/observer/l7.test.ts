import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { httpUrl, parseDns, parseHttp, PendingRequests } from './l7.js';

/** A DNS message built by hand: header, one question, answers (name as a pointer to the question). */
function dnsMessage(o: { id?: number; response?: boolean; rcode?: number; name?: string; qtype?: number; answers?: Array<[number, Buffer]>; ttl?: number }): Buffer {
  const name = Buffer.concat([...(o.name ?? 'b.y.svc.cluster.local').split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);
  const h = Buffer.alloc(12);
  h.writeUInt16BE(o.id ?? 0x1234, 0);
  h.writeUInt16BE((o.response ? 0x8180 : 0x0100) | (o.rcode ?? 0), 2);
  h.writeUInt16BE(1, 4);
  h.writeUInt16BE(o.answers?.length ?? 0, 6);
  const q = Buffer.alloc(4);
  q.writeUInt16BE(o.qtype ?? 1, 0);
  q.writeUInt16BE(1, 2);
  const answers = (o.answers ?? []).map(([type, rdata]) => {
    const a = Buffer.alloc(12);
    a.writeUInt16BE(0xc00c, 0);
    a.writeUInt16BE(type, 2);
    a.writeUInt16BE(1, 4);
    a.writeUInt32BE(o.ttl ?? 30, 6);
    a.writeUInt16BE(rdata.length, 10);
    return Buffer.concat([a, rdata]);
  });
  return Buffer.concat([h, name, q, ...answers]);
}

describe('DNS parsing', () => {
  it('reads queries and responses: query name, qtypes, rcode, IPs, TTL, rrtypes', () => {
    expect(parseDns(dnsMessage({}))).toEqual({ id: 0x1234, response: false, rcode: 0, query: 'b.y.svc.cluster.local.', qtypes: ['A'] });
    const r = parseDns(dnsMessage({ response: true, answers: [[1, Buffer.from([198, 19, 2, 3])], [1, Buffer.from([198, 19, 2, 4])]] }));
    expect(r).toEqual({ id: 0x1234, response: true, rcode: 0, query: 'b.y.svc.cluster.local.', qtypes: ['A'], ttl: 30, ips: ['198.19.2.3', '198.19.2.4'], rrtypes: ['A', 'A'] });
    expect(parseDns(dnsMessage({ response: true, rcode: 3, qtype: 28 }))).toMatchObject({ rcode: 3, qtypes: ['AAAA'] });
    const tcp = dnsMessage({});
    expect(parseDns(Buffer.concat([Buffer.from([0, tcp.length]), tcp]), true)?.query).toBe('b.y.svc.cluster.local.');
  });

  it('reports the answers that were captured when the payload is cut short', () => {
    const full = dnsMessage({ response: true, answers: [[1, Buffer.from([1, 2, 3, 4])], [1, Buffer.from([5, 6, 7, 8])]] });
    expect(parseDns(full.subarray(0, full.length - 2))?.ips).toEqual(['1.2.3.4']);
  });

  it('rejects garbage and pointer loops without throwing', () => {
    expect(parseDns(Buffer.from('GET / HTTP/1.1\r\n'))).toBeUndefined();
    const loop = dnsMessage({});
    loop.writeUInt16BE(0xc00c, 12); // the question name points at itself
    expect(parseDns(loop)).toBeUndefined();
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const r = parseDns(Buffer.from(bytes));
      return r === undefined || typeof r.id === 'number';
    }), { numRuns: 2000 });
  });
});

describe('HTTP parsing', () => {
  it('reads request lines with the Host header, and status lines', () => {
    const req = parseHttp(Buffer.from('GET /echo?msg=hi HTTP/1.1\r\nHost: 198.19.2.3:8080\r\nUser-Agent: x\r\n\r\n'));
    expect(req).toEqual({ kind: 'request', method: 'GET', path: '/echo?msg=hi', protocol: 'HTTP/1.1', host: '198.19.2.3:8080' });
    expect(httpUrl(req as never, '10.0.0.1:80')).toBe('http://198.19.2.3:8080/echo?msg=hi');
    expect(parseHttp(Buffer.from('HTTP/1.1 404 Not Found\r\n'))).toEqual({ kind: 'response', protocol: 'HTTP/1.1', code: 404 });
    expect(parseHttp(Buffer.from('HTTP/1.0 200'))).toEqual({ kind: 'response', protocol: 'HTTP/1.0', code: 200 });
  });

  it('rejects what is not HTTP/1.x and survives any bytes', () => {
    expect(parseHttp(Buffer.from('hostname\n'))).toBeUndefined();
    expect(parseHttp(Buffer.from('BREW /pot HTTP/1.1\r\n'))).toBeUndefined();
    expect(parseHttp(Buffer.from('HTTP/2 200\r\n'))).toBeUndefined();
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
      parseHttp(Buffer.from(b));
      return true;
    }), { numRuns: 2000 });
  });
});

describe('PendingRequests', () => {
  it('pairs in order per connection and forgets the oldest when full', () => {
    const p = new PendingRequests<string>(3);
    p.add('c1', 1n, 'a');
    p.add('c1', 2n, 'b');
    p.add('c2', 3n, 'c');
    expect(p.take('c1')).toEqual({ t: 1n, v: 'a' });
    p.add('c3', 4n, 'd');
    p.add('c3', 5n, 'e'); // over the bound: c1's remaining request goes
    expect(p.take('c1')).toBeUndefined();
    expect(p.size).toBe(3);
  });
});
