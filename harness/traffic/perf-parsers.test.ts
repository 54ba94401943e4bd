import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseIperfJson, iperfClientArgv, IperfError } from './iperf.js';
import { parseSockperfPingPong, sockperfClientArgv, SockperfError } from './sockperf.js';

// Fixtures are real output captured once on the development machine, between two netns joined by a veth.
const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('parseIperfJson', () => {
  it('reads a TCP run', () => {
    const r = parseIperfJson(fixture('iperf3-tcp.json'));
    expect(r).toMatchObject({ protocol: 'tcp', streams: 1, retransmits: 7965, bytesSent: 3119120384 });
    expect(r.sentBitsPerSecond).toBeCloseTo(12471224914.698454, 3);
    expect(r.receivedBitsPerSecond).toBeCloseTo(12470850946.79752, 3);
    expect(r.durationSec).toBeCloseTo(2.000843, 6);
    expect(r.cpu?.hostTotal).toBeGreaterThan(0);
    expect(r.jitterMs).toBeUndefined();
  });

  it('reads a UDP run with jitter and loss', () => {
    const r = parseIperfJson(fixture('iperf3-udp.json'));
    expect(r).toMatchObject({ protocol: 'udp', lostPackets: 0, lostPercent: 0, packets: 8626 });
    expect(r.jitterMs).toBeCloseTo(0.006, 3);
    expect(r.retransmits).toBeUndefined();
    expect(r.sentBitsPerSecond).toBeGreaterThan(9e7);
  });

  it('turns iperf3 errors and garbage into IperfError', () => {
    expect(() => parseIperfJson(fixture('iperf3-error.json'))).toThrow(/unable to connect to server: Network is unreachable/);
    expect(() => parseIperfJson('iperf3: error')).toThrow(IperfError);
    expect(() => parseIperfJson('{"end":{}}')).toThrow(/sum_sent/);
  });

  it('builds client argv from options', () => {
    expect(iperfClientArgv({ host: '198.19.1.5', durationSec: 3, parallel: 4, reverse: true })).toEqual([
      'iperf3', '-c', '198.19.1.5', '-p', '5201', '-t', '3', '-J', '-P', '4', '-R', '--connect-timeout', '3000',
    ]);
  });
});

describe('parseSockperfPingPong', () => {
  it('reads TCP percentiles in microseconds (ANSI colour codes included)', () => {
    const r = parseSockperfPingPong(fixture('sockperf-pp-tcp.txt'));
    expect(r).toMatchObject({
      protocol: 'tcp', avgUsec: 15.176, stdDevUsec: 11.213, observations: 51020,
      p50: 13.83, p90: 14.807, p99: 38.963, p999: 61.751, p9999: 329.07, minUsec: 9.357, maxUsec: 1318.838,
      dropped: 0, duplicated: 0, outOfOrder: 0, validRunTimeSec: 1.55, sentMessages: 51020, receivedMessages: 51020,
    });
    expect(r.percentiles['99.999']).toBe(1063.37);
  });

  it('reads a UDP run', () => {
    const r = parseSockperfPingPong(fixture('sockperf-pp-udp.txt'));
    expect(r.protocol).toBe('udp');
    expect(r.avgUsec).toBeCloseTo(13.943, 3);
    expect(r.p50).toBeGreaterThan(0);
    expect(r.p99).toBeGreaterThanOrEqual(r.p50);
  });

  it('reports sockperf errors even though sockperf exits 0', () => {
    expect(() => parseSockperfPingPong(fixture('sockperf-pp-refused.txt'))).toThrow(/Connection refused/);
    expect(() => parseSockperfPingPong('sockperf: nothing')).toThrow(SockperfError);
  });

  it('builds client argv', () => {
    expect(sockperfClientArgv({ host: '1.2.3.4', protocol: 'udp', durationSec: 2, msgSize: 64 })).toEqual([
      'sockperf', 'ping-pong', '-i', '1.2.3.4', '-p', '11111', '-t', '2', '--msg-size', '64',
    ]);
  });
});
