import { describe, expect, it } from 'vitest';
import {
  decodeEndpoint, decodeEvent, decodeIpcacheKey, decodeIpcacheValue, encodeEndpoint, encodeEvent, encodeIpcacheKey,
  encodeIpcacheValue, ipToBe32, parseCidr,
} from './codec.js';
import { EVENT, EVENT_V1_SIZE } from './constants.js';
import type { DatapathEvent } from './types.js';

describe('datapath codec', () => {
  it('round-trips endpoints with network-order IPs', () => {
    const ep = { ifindex: 17, ip: '198.19.1.10', podMac: '0a:58:c6:13:01:0a', hostMac: 'fe:54:00:12:34:56', identity: 54321, endpointId: 812 };
    const v = encodeEndpoint(ep);
    expect(v.subarray(4, 8)).toEqual(Buffer.from([198, 19, 1, 10]));
    expect(decodeEndpoint(v)).toEqual(ep);
  });

  it('ipcache keys: host bits cleared, /32 shown as a bare IP', () => {
    expect(decodeIpcacheKey(encodeIpcacheKey('198.19.2.77/24'))).toBe('198.19.2.0/24');
    expect(decodeIpcacheKey(encodeIpcacheKey('198.19.2.77'))).toBe('198.19.2.77');
    expect(decodeIpcacheKey(encodeIpcacheKey('0.0.0.0/0'))).toBe('0.0.0.0/0');
    expect(decodeIpcacheValue(encodeIpcacheValue({ identity: 2 }))).toEqual({ identity: 2 });
    expect(decodeIpcacheValue(encodeIpcacheValue({ identity: 9, tunnelEndpoint: '198.18.0.12' }))).toEqual({ identity: 9, tunnelEndpoint: '198.18.0.12' });
  });

  it('rejects malformed addresses', () => {
    expect(() => parseCidr('198.19.2.0/33')).toThrow(/CIDR/);
    expect(() => parseCidr('198.19.2/24')).toThrow(/IPv4/);
    expect(() => encodeEndpoint({ ifindex: 1, ip: '1.2.3.4', podMac: 'zz', hostMac: '00:00:00:00:00:00', identity: 1, endpointId: 1 })).toThrow(/MAC/);
    expect(ipToBe32('1.2.3.4')).toBe(0x04030201);
  });

  it('decodes ring buffer records', () => {
    const tcp: DatapathEvent = {
      ktimeNs: 123456789n, kind: 'trace', observationPoint: 101, direction: 1, ifindex: 9, srcIdentity: 1, dstIdentity: 4242,
      srcIp: '198.19.1.1', dstIp: '198.19.1.10', protocol: 6, srcPort: 50000, dstPort: 8080, tcpFlags: 0x12, isReply: true, length: 74,
    };
    expect(decodeEvent(encodeEvent(tcp))).toEqual(tcp);
    const icmp: DatapathEvent = {
      ktimeNs: 1n, kind: 'drop', dropReason: 151, direction: 1, ifindex: 3, srcIdentity: 7, dstIdentity: 0,
      srcIp: '198.19.2.5', dstIp: '198.19.1.200', protocol: 1, srcPort: 0, dstPort: 0, tcpFlags: 0, icmpType: 8, icmpCode: 0, isReply: false, length: 98,
    };
    expect(decodeEvent(encodeEvent(icmp))).toEqual(icmp);
    expect(() => decodeEvent(Buffer.alloc(EVENT_V1_SIZE - 1))).toThrow(/too short/);
    expect(() => decodeEvent(Buffer.alloc(EVENT.size))).toThrow(/unknown datapath event type 0/);
  });

  it('round-trips the current layout: ethernet, trace reason, policy verdicts, L7 payload', () => {
    const ev: DatapathEvent = {
      ktimeNs: 5n, kind: 'l7-capture', direction: 2, ifindex: 4, srcIdentity: 300, dstIdentity: 301, srcIp: '198.19.1.2', dstIp: '198.19.2.3',
      protocol: 17, srcPort: 40000, dstPort: 53, tcpFlags: 0, isReply: false, length: 80, ethSrc: '02:00:00:00:00:01', ethDst: '02:00:00:00:00:02',
      payload: Buffer.from('abc'),
    };
    const rec = encodeEvent(ev);
    expect(rec.length).toBe(EVENT.size + 3);
    expect(decodeEvent(rec)).toEqual(ev);
    const pv: DatapathEvent = { ...ev, kind: 'policy-verdict', dropReason: 133, policyMatchType: 0, payload: undefined };
    delete pv.payload;
    expect(decodeEvent(encodeEvent(pv))).toEqual(pv);
    // A record inside a batch, decoded in place.
    const batch = Buffer.concat([Buffer.alloc(12), rec]);
    expect(decodeEvent(batch, 12, rec.length)).toEqual(ev);
  });

  it('reads records of the first layout (48 bytes, observation point as sub-type)', () => {
    const v1 = encodeEvent({ ktimeNs: 1n, kind: 'trace', observationPoint: 4, direction: 2, ifindex: 1, srcIdentity: 1, dstIdentity: 2, srcIp: '1.1.1.1', dstIp: '2.2.2.2', protocol: 6, srcPort: 1, dstPort: 2, tcpFlags: 2, isReply: false, length: 60 }).subarray(0, EVENT_V1_SIZE);
    v1[EVENT.subtype] = 101;
    expect(decodeEvent(v1)).toMatchObject({ kind: 'trace', observationPoint: 101 });
    expect(decodeEvent(v1).ethSrc).toBeUndefined();
  });

  it('decodes policy verdicts (allowed: no drop reason) and policy drops with their match type', () => {
    const base = {
      ktimeNs: 5n, direction: 1, ifindex: 4, srcIdentity: 1001, dstIdentity: 1002, srcIp: '198.19.1.10', dstIp: '198.19.1.20',
      protocol: 6, srcPort: 40000, dstPort: 80, tcpFlags: 0x02, isReply: false, length: 74,
    };
    const allowed: DatapathEvent = { ...base, kind: 'policy-verdict', policyMatchType: 2 };
    expect(decodeEvent(encodeEvent(allowed))).toEqual(allowed);
    const denied: DatapathEvent = { ...base, kind: 'policy-verdict', dropReason: 181, policyMatchType: 3 };
    expect(decodeEvent(encodeEvent(denied))).toEqual(denied);
    const byDefault: DatapathEvent = { ...base, kind: 'drop', dropReason: 133, policyMatchType: 0 };
    expect(decodeEvent(encodeEvent(byDefault))).toEqual(byDefault);
    // Only policy drops carry a match type: the byte is ignored for the others.
    const raw = encodeEvent({ ...base, kind: 'drop', dropReason: 151 });
    raw[EVENT.policyMatch] = 4;
    expect(decodeEvent(raw).policyMatchType).toBeUndefined();
  });
});
