import { describe, expect, it } from 'vitest';
import { encodeEvent } from '../datapath/codec.js';
import type { DatapathEvent } from '../datapath/types.js';
import { defaultHubbleConfig } from '../../lib/hubble-config.js';
import type { GetFlowsResponse } from './api.js';
import { Observer } from './observer.js';

const T0 = 1_000_000_000_000n;
const WALL0 = Date.parse('2024-05-01T10:00:00Z');
let clock = T0;

function observer(capacity = 16) {
  const cfg = defaultHubbleConfig();
  return new Observer({
    nodeName: 'node1',
    capacity,
    metrics: cfg.metrics,
    l7Visibility: cfg.l7Visibility,
    resolve: (ip) => ({ '198.19.1.2': { namespace: 'x', pod_name: 'a', labels: ['k8s:pod=a', 'k8s:io.kubernetes.pod.namespace=x'] }, '198.19.2.3': { namespace: 'y', pod_name: 'b', labels: ['k8s:pod=b'] } }[ip] ?? {}),
    toDate: (k) => new Date(WALL0 + Number((k - T0) / 1_000_000n)),
    now: () => clock,
  });
}

function ev(over: Partial<DatapathEvent> = {}): DatapathEvent {
  return {
    ktimeNs: clock, kind: 'trace', observationPoint: 101, direction: 1, ifindex: 7, srcIdentity: 300, dstIdentity: 301,
    srcIp: '198.19.1.2', dstIp: '198.19.2.3', protocol: 6, srcPort: 40000, dstPort: 80, tcpFlags: 0x02, isReply: false, length: 60, ...over,
  };
}

/** Pushes events as one batch, the way the native reader hands them over. */
function ingest(o: Observer, events: DatapathEvent[]): void {
  const parts: Buffer[] = [];
  for (const e of events) {
    const rec = encodeEvent(e);
    const hdr = Buffer.alloc(4);
    hdr.writeUInt32LE(rec.length);
    parts.push(hdr, rec, Buffer.alloc((4 - (rec.length % 4)) % 4));
  }
  const b = Buffer.concat(parts);
  expect(o.ingestBatch(b, b.length)).toBe(events.length);
}

function collect(o: Observer, req: object): { out: GetFlowsResponse[]; ended: () => boolean; stream: ReturnType<Observer['getFlows']> } {
  const out: GetFlowsResponse[] = [];
  let ended = false;
  const stream = o.getFlows(req, { write: (r) => (out.push(r), true), end: () => (ended = true) });
  return { out, ended: () => ended, stream };
}

const ports = (rs: GetFlowsResponse[]) => rs.map((r) => ('flow' in r ? r.flow.l4?.TCP?.source_port ?? r.flow.l4?.UDP?.source_port : `lost:${r.lost_events?.num_events_lost ?? ''}`));
const tick = () => new Promise((r) => setImmediate(r));

describe('Observer GetFlows', () => {
  it('returns the last N matching flows, oldest first, and the first N with first', () => {
    const o = observer();
    ingest(o, [1, 2, 3, 4, 5].map((i) => ev({ srcPort: i, ktimeNs: (clock += 1_000_000n) })));
    const last = collect(o, { number: 2 });
    expect(ports(last.out)).toEqual([4, 5]);
    expect(last.ended()).toBe(true);
    expect(ports(collect(o, { number: '3', first: true }).out)).toEqual([1, 2, 3]);
    expect(ports(collect(o, {}).out)).toEqual([1, 2, 3, 4, 5]);
    const r = collect(o, { number: 1 }).out[0]!;
    expect(r).toMatchObject({ node_name: 'node1', flow: { node_name: 'node1', verdict: 'FORWARDED' } });
    expect('flow' in r && r.time).toBe('flow' in r && r.flow.time);
  });

  it('applies filters before number: the last N of what matches', () => {
    const o = observer();
    ingest(o, [1, 2, 3, 4].map((i) => ev({ srcPort: i, dstPort: i % 2 ? 80 : 81 })));
    expect(ports(collect(o, { number: 1, whitelist: [{ destination_port: ['80'] }] }).out)).toEqual([3]);
    expect(ports(collect(o, { whitelist: [{ destination_port: ['80'] }, { source_port: ['2'] }], blacklist: [{ source_port: ['3'] }] }).out)).toEqual([1, 2]);
  });

  it('honours since and until', () => {
    const o = observer();
    ingest(o, [1, 2, 3].map((i) => ev({ srcPort: i, ktimeNs: T0 + BigInt(i) * 1_000_000_000n })));
    const at = (s: number) => new Date(WALL0 + s * 1000).toISOString();
    expect(ports(collect(o, { since: at(2) }).out)).toEqual([2, 3]);
    expect(ports(collect(o, { until: at(2) }).out)).toEqual([1, 2]);
    expect(ports(collect(o, { since: at(1.5), until: at(2.5), number: 5 }).out)).toEqual([2]);
  });

  it('rejects bad requests naming the field, before writing anything', () => {
    const o = observer();
    expect(() => collect(o, { number: -1 })).toThrow(/number/);
    expect(() => collect(o, { since: 'yesterday' })).toThrow(/since/);
    expect(() => collect(o, { whitelist: [{ verdict: ['MAYBE'] }] })).toThrow(/verdict: unknown value "MAYBE"/);
    expect(() => collect(o, { whitelist: [{ source_ip: ['1.2.3'] }] })).toThrow(/source_ip/);
    expect(() => collect(o, { bogus: 1 })).toThrow(/bogus: unknown field/);
  });

  it('follows: the last N, then new flows as they arrive, until cancelled', async () => {
    const o = observer();
    ingest(o, [ev({ srcPort: 1 })]);
    const f = collect(o, { number: 1, follow: true, whitelist: [{ destination_pod: ['y/b'] }] });
    expect(ports(f.out)).toEqual([1]);
    ingest(o, [ev({ srcPort: 2 }), ev({ srcPort: 3, dstIp: '198.19.9.9' })]);
    await tick();
    expect(ports(f.out)).toEqual([1, 2]);
    expect(o.followerCount).toBe(1);
    f.stream.cancel();
    expect(o.followerCount).toBe(0);
    expect(f.ended()).toBe(false);
  });

  it('follow without number starts now; until ends the stream', async () => {
    const o = observer();
    ingest(o, [ev({ srcPort: 1 })]);
    const f = collect(o, { follow: true, until: new Date(WALL0 + 5000).toISOString() });
    expect(f.out).toEqual([]);
    ingest(o, [ev({ srcPort: 2, ktimeNs: T0 + 1_000_000_000n }), ev({ srcPort: 3, ktimeNs: T0 + 9_000_000_000n })]);
    await tick();
    expect(ports(f.out)).toEqual([2]);
    expect(f.ended()).toBe(true);
  });

  it('tells a follower that fell behind the ring how much it missed (HUBBLE_RING_BUFFER)', async () => {
    const o = observer(4);
    let open = false;
    const out: GetFlowsResponse[] = [];
    const stream = o.getFlows({ follow: true }, { write: (r) => (out.push(r), open), end: () => undefined });
    ingest(o, [ev({ srcPort: 1 })]);
    await tick();
    expect(ports(out)).toEqual([1]); // written, but the sink said "full"
    ingest(o, [2, 3, 4, 5, 6, 7].map((i) => ev({ srcPort: i })));
    await tick();
    expect(ports(out)).toEqual([1]);
    open = true;
    stream.resume();
    await tick();
    expect(ports(out)).toEqual([1, 'lost:2', 4, 5, 6, 7]);
    expect(out[1]).toMatchObject({ lost_events: { source: 'HUBBLE_RING_BUFFER', num_events_lost: '2' } });
  });

  it('puts datapath losses in the stream and the metrics', async () => {
    const o = observer();
    ingest(o, [ev({ srcPort: 1 })]);
    o.noteLost('PERF_EVENT_RING_BUFFER', 7, 1);
    const all = collect(o, {}).out;
    expect(all[1]).toEqual({ lost_events: { source: 'PERF_EVENT_RING_BUFFER', num_events_lost: '7', cpu: 1 }, node_name: 'node1', time: expect.any(String) });
    expect(await o.metrics.registry.getSingleMetricAsString('hubble_lost_events_total')).toMatch(/hubble_lost_events_total\{source="perf_event_ring_buffer"\} 7/);
    expect(o.status()).toMatchObject({ num_flows: '2', seen_flows: '2', max_flows: '16', lost_events: { PERF_EVENT_RING_BUFFER: '7' } });
  });

  it('gives each flow a UUID that stays the same across reads', () => {
    const o = observer();
    ingest(o, [ev(), ev()]);
    const a = collect(o, {}).out.map((r) => 'flow' in r && r.flow.uuid);
    const b = collect(o, {}).out.map((r) => 'flow' in r && r.flow.uuid);
    expect(a).toEqual(b);
    expect(new Set(a).size).toBe(2);
  });

  it('drops records it cannot read without stopping', () => {
    const o = observer();
    const bad = Buffer.alloc(64);
    bad[8] = 99; // unknown event type
    o.ingestRecord(bad, 0, 64);
    o.ingestRecord(Buffer.alloc(10), 0, 10);
    expect(o.stats.badRecords).toBe(2);
    expect(o.ring.size).toBe(0);
  });
});

describe('Observer metrics', () => {
  it('counts Hubble metrics as Hubble does', async () => {
    const o = observer();
    ingest(o, [
      ev({ tcpFlags: 0x02, observationPoint: 5 }),
      ev({ tcpFlags: 0x02, observationPoint: 4 }),
      ev({ tcpFlags: 0x12, isReply: true, srcPort: 80, dstPort: 40000 }),
      ev({ tcpFlags: 0x11 }),
      ev({ kind: 'drop', dropReason: 133, observationPoint: undefined, tcpFlags: 0x02 }),
      ev({ protocol: 1, srcPort: 0, dstPort: 0, icmpType: 8 }),
      ev({ protocol: 17, dstPort: 53 }),
    ]);
    const text = await o.metrics.registry.metrics();
    expect(text).toContain('hubble_flows_processed_total{protocol="TCP",type="Trace",subtype="from-endpoint",verdict="FORWARDED"} 1');
    expect(text).toContain('hubble_flows_processed_total{protocol="TCP",type="Trace",subtype="to-overlay",verdict="FORWARDED"} 1');
    expect(text).toContain('hubble_flows_processed_total{protocol="TCP",type="Trace",subtype="to-endpoint",verdict="FORWARDED"} 2');
    expect(text).toContain('hubble_flows_processed_total{protocol="TCP",type="Drop",subtype="",verdict="DROPPED"} 1');
    expect(text).toContain('hubble_drop_total{reason="POLICY_DENIED",protocol="TCP"} 1');
    expect(text).toContain('hubble_tcp_flags_total{flag="SYN",family="IPv4"} 2'); // the drop is not forwarded
    expect(text).toContain('hubble_tcp_flags_total{flag="SYN-ACK",family="IPv4"} 1');
    expect(text).toContain('hubble_tcp_flags_total{flag="FIN",family="IPv4"} 1');
    expect(text).toContain('hubble_port_distribution_total{protocol="TCP",port="80"} 3'); // not the reply, not the drop
    expect(text).toContain('hubble_port_distribution_total{protocol="UDP",port="53"} 1');
    expect(text).toContain('hubble_icmp_total{family="IPv4",type="EchoRequest"} 1');
    // A second scrape does not double-count.
    expect(await o.metrics.registry.metrics()).toContain('hubble_drop_total{reason="POLICY_DENIED",protocol="TCP"} 1');
  });

  it('adds context labels when configured', async () => {
    const o = new Observer({
      nodeName: 'n', capacity: 8, l7Visibility: [],
      metrics: [{ name: 'drop', context: { labels: ['source_namespace', 'traffic_direction'], source: ['pod'], destination: ['ip'] }, flags: [] }],
      resolve: (ip) => (ip === '198.19.1.2' ? { namespace: 'x', pod_name: 'a' } : {}), toDate: () => new Date(), now: () => clock,
    });
    ingest(o, [ev({ kind: 'drop', dropReason: 181, direction: 2 })]);
    expect(await o.metrics.registry.metrics()).toContain('hubble_drop_total{reason="POLICY_DENY",protocol="TCP",source_namespace="x",traffic_direction="egress",source="x/a",destination="198.19.2.3"} 1');
  });
});
