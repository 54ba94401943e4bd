import { describe, expect, it } from 'vitest';
import { encodeEvent } from '../datapath/codec.js';
import { EVENT, EVENT_V1_SIZE } from '../datapath/constants.js';
import type { DatapathEvent } from '../datapath/types.js';
import { resolveHubbleConfig } from '../../lib/hubble-config.js';
import { HubbleMetrics } from './metrics.js';
import { Observer, RecordMetricEvent } from './observer.js';
import { SignatureCounter } from './signature-counter.js';

/** A small deterministic PRNG (the same records every run). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** Records of every kind the signature path counts, with fields drawn from small and large ranges. */
function records(count: number, seed: number, ports = 8): Array<{ buf: Buffer; len: number }> {
  const r = rng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]!;
  const out: Array<{ buf: Buffer; len: number }> = [];
  for (let i = 0; i < count; i++) {
    const kind = pick(['trace', 'trace', 'trace', 'drop', 'policy-verdict', 'sock-xlate'] as const);
    const protocol = pick([6, 6, 17, 1, 132, 47]);
    const e: DatapathEvent = {
      ktimeNs: BigInt(i), kind, observationPoint: pick([0, 3, 4, 5, 9, 101, 102]), direction: pick([0, 1, 2]), ifindex: 3,
      srcIdentity: 300, dstIdentity: 301, srcIp: '198.19.1.2', dstIp: '198.19.2.3', protocol,
      srcPort: 40000 + Math.floor(r() * 1000), dstPort: pick([0, 53, 80, 8080, ...Array.from({ length: ports }, () => 1 + Math.floor(r() * 65535))]),
      tcpFlags: Math.floor(r() * 256), isReply: r() < 0.4, length: 60, icmpType: pick([0, 3, 8, 11]), icmpCode: pick([0, 1, 3]),
      ...(kind === 'drop' ? { dropReason: pick([133, 151, 158]) } : {}), ...(kind === 'policy-verdict' ? { policyMatchType: pick([0, 2]), dropReason: pick([0, 133]) } : {}),
    } as DatapathEvent;
    const buf = encodeEvent(e);
    // Some records of the first (48-byte) layout: the trace sub-type is then an observation point
    // (101, to-endpoint, is Hubble's sub-type 0 there); the same raw byte means another thing in v2.
    const v1 = r() < 0.3;
    if (kind === 'trace' && r() < 0.3) buf[EVENT.subtype] = 101;
    out.push({ buf, len: v1 ? EVENT_V1_SIZE : buf.length });
  }
  return out;
}

/** The exposition as a sorted list of lines: series come out in the order they first appeared, which
 *  the two paths do not share (Prometheus does not care); names, labels and values must all agree. */
const lines = (text: string) => text.split('\n').filter((l) => l !== '').sort();

const ALL_METRICS = resolveHubbleConfig({ metrics: ['dns', 'drop', 'tcp', 'flow', 'port-distribution', 'icmp', 'http'] }).metrics;

describe('signature counter', () => {
  it('gives exactly the series the per-event handlers give, scraped in the middle and at the end', async () => {
    const direct = new HubbleMetrics(ALL_METRICS);
    const counted = new HubbleMetrics(ALL_METRICS);
    const dView = new RecordMetricEvent(() => ({}));
    const sig = new SignatureCounter(new RecordMetricEvent(() => ({})), counted);
    const recs = records(5000, 7);
    let notCounted = 0;
    recs.forEach(({ buf, len }, i) => {
      if (dView.load(buf, 0, len)) direct.observe(dView);
      if (!sig.count(buf, 0, len)) notCounted++;
      if (i === 2500) void counted.registry.metrics(); // a scrape mid-way flushes; later counts add on
    });
    expect(notCounted).toBe(0);
    const a = await direct.registry.metrics();
    const b = await counted.registry.metrics();
    expect(lines(b)).toEqual(lines(a));
    // The records did reach every metric this path serves.
    for (const name of ['hubble_flows_processed_total{', 'hubble_drop_total{', 'hubble_tcp_flags_total{', 'hubble_port_distribution_total{', 'hubble_icmp_total{']) expect(a).toContain(name);
    expect(a).toMatch(/hubble_flows_processed_total\{[^}]*type="SockTrace"/);
    expect(a).toMatch(/hubble_flows_processed_total\{[^}]*type="PolicyVerdict"/);
  });

  it('folds its counts in when too many signatures are pending, without losing one', async () => {
    const direct = new HubbleMetrics(ALL_METRICS);
    const counted = new HubbleMetrics(ALL_METRICS);
    const dView = new RecordMetricEvent(() => ({}));
    const sig = new SignatureCounter(new RecordMetricEvent(() => ({})), counted, 256);
    // Hundreds of distinct destination ports: more signatures than this counter holds between scrapes.
    for (const { buf, len } of records(6000, 11, 400)) {
      if (dView.load(buf, 0, len)) direct.observe(dView);
      sig.count(buf, 0, len);
    }
    const a = await direct.registry.metrics();
    expect(lines(await counted.registry.metrics())).toEqual(lines(a));
    expect(a.match(/^hubble_port_distribution_total\{/gm)!.length).toBeGreaterThan(400);
    expect(sig.flushes).toBeGreaterThan(3); // folded in before the scrape
  });

  it('leaves L7 captures and unknown record types to the per-event path', () => {
    const m = new HubbleMetrics(ALL_METRICS);
    const sig = new SignatureCounter(new RecordMetricEvent(() => ({})), m);
    const l7 = encodeEvent({ ...(records(1, 1)[0] && {}), ktimeNs: 0n, kind: 'l7-capture', direction: 2, ifindex: 3, srcIdentity: 1, dstIdentity: 2, srcIp: '198.19.1.2', dstIp: '198.19.2.3', protocol: 17, srcPort: 1, dstPort: 53, tcpFlags: 0, isReply: false, length: 60, payload: Buffer.from([0]) } as DatapathEvent);
    expect(sig.count(l7, 0, l7.length)).toBe(false);
    const bad = Buffer.from(l7.subarray(0, EVENT.size));
    bad[EVENT.type] = 42;
    expect(sig.count(bad, 0, bad.length)).toBe(false);
  });

  it('is used by the observer only when no metric has context labels', async () => {
    const mk = (metrics: string[]) => new Observer({ nodeName: 'n', capacity: 16, metrics: resolveHubbleConfig({ metrics }).metrics, l7Visibility: [], resolve: (ip) => (ip === '198.19.1.2' ? { namespace: 'x', pod_name: 'a' } : { namespace: 'y', pod_name: 'b' }), toDate: () => new Date() });
    const plain = mk(['flow', 'tcp']);
    const withContext = mk(['flow:sourceContext=namespace', 'tcp:labelsContext=source_namespace']);
    expect(plain.metrics.contextFree).toBe(true);
    expect(withContext.metrics.contextFree).toBe(false);
    for (const { buf, len } of records(200, 3)) {
      plain.ingestRecord(buf, 0, len);
      withContext.ingestRecord(buf, 0, len);
    }
    const sum = (text: string, name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`)).reduce((a, l) => a + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
    const p = await plain.metrics.registry.metrics();
    const c = await withContext.metrics.registry.metrics();
    // Same records, same totals: the context labels split the series, the signature path does not change counts.
    expect(sum(p, 'hubble_flows_processed_total')).toBe(200);
    expect(sum(c, 'hubble_flows_processed_total')).toBe(200);
    expect(sum(p, 'hubble_tcp_flags_total')).toBe(sum(c, 'hubble_tcp_flags_total'));
    expect(c).toContain('source="x"');
  });
});
