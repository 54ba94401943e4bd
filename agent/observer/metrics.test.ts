import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { AggregatorRegistry } from 'prom-client';
import { encodeEvent } from '../datapath/codec.js';
import type { DatapathEvent } from '../datapath/types.js';
import { parseMetricSpec, resolveHubbleConfig } from '../../lib/hubble-config.js';
import { Observer } from './observer.js';

const ev = (o: Partial<DatapathEvent>): DatapathEvent => ({
  ktimeNs: process.hrtime.bigint(), kind: 'trace', observationPoint: 101, direction: 2, ifindex: 3, srcIdentity: 300, dstIdentity: 301,
  srcIp: '198.19.1.2', dstIp: '198.19.2.3', protocol: 6, srcPort: 40000, dstPort: 8080, tcpFlags: 2, isReply: false, length: 60, ...o,
});

function dnsQuery(response: boolean): Buffer {
  const h = Buffer.from([0x12, 0x34, response ? 0x81 : 0x01, response ? 0x80 : 0x00, 0, 1, 0, response ? 1 : 0, 0, 0, 0, 0]);
  const q = Buffer.from([1, 98, 1, 121, 0, 0, 1, 0, 1]); // b.y. A IN
  const a = response ? Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 198, 19, 2, 3]) : Buffer.alloc(0);
  return Buffer.concat([h, q, a]);
}

/** An observer that has seen one of everything: traces, drops, ICMP, DNS and HTTP exchanges, losses. */
function busyObserver(metrics = resolveHubbleConfig({ metrics: ['dns:query;ignoreAAAA', 'drop:sourceContext=pod;destinationContext=namespace|ip', 'tcp', 'flow:labelsContext=source_namespace,destination_namespace,traffic_direction', 'port-distribution', 'icmp', 'http:sourceContext=pod'] }).metrics): Observer {
  const o = new Observer({
    nodeName: 'node1', capacity: 64, metrics, l7Visibility: resolveHubbleConfig(undefined).l7Visibility,
    resolve: (ip) => (ip === '198.19.1.2' ? { namespace: 'x', pod_name: 'a', labels: ['k8s:app=client'] } : { namespace: 'y', pod_name: 'b' }),
    toDate: () => new Date(),
  });
  const events: DatapathEvent[] = [
    ev({}), ev({ tcpFlags: 0x12, isReply: true, srcPort: 8080, dstPort: 40000 }), ev({ tcpFlags: 0x11 }), ev({ tcpFlags: 0x04 }),
    ev({ kind: 'drop', dropReason: 133, observationPoint: undefined }), ev({ kind: 'drop', dropReason: 151, protocol: 1, icmpType: 8 }),
    ev({ protocol: 1, icmpType: 8, srcPort: 0, dstPort: 0 }), ev({ protocol: 1, icmpType: 0, isReply: true }), ev({ protocol: 17, dstPort: 53 }),
    ev({ kind: 'l7-capture', protocol: 17, dstPort: 53, payload: dnsQuery(false) }),
    ev({ kind: 'l7-capture', protocol: 17, srcIp: '198.19.2.3', dstIp: '198.19.1.2', srcPort: 53, dstPort: 40000, payload: dnsQuery(true), ktimeNs: process.hrtime.bigint() + 1_000_000n }),
    ev({ kind: 'l7-capture', payload: Buffer.from('GET /echo HTTP/1.1\r\nHost: b\r\n\r\n') }),
    ev({ kind: 'l7-capture', srcIp: '198.19.2.3', dstIp: '198.19.1.2', srcPort: 8080, dstPort: 40000, payload: Buffer.from('HTTP/1.1 200 OK\r\n'), ktimeNs: process.hrtime.bigint() + 2_000_000n }),
    ev({ kind: 'policy-verdict', policyMatchType: 2 }),
  ];
  for (const e of events) {
    const b = encodeEvent(e);
    o.ingestRecord(b, 0, b.length);
  }
  o.noteLost('PERF_EVENT_RING_BUFFER', 3, 0);
  return o;
}

function promtool(text: string): { code: number | null; out: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool not found (Debian's prometheus package; scripts/bootstrap.sh installs it): ${r.error.message}`);
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('metrics exposition', () => {
  it('has every Hubble metric with its label names, and passes promtool check metrics', async () => {
    const o = busyObserver();
    const text = await o.metrics.registry.metrics();
    for (const name of ['hubble_flows_processed_total', 'hubble_drop_total', 'hubble_tcp_flags_total', 'hubble_port_distribution_total', 'hubble_icmp_total',
      'hubble_dns_queries_total', 'hubble_dns_responses_total', 'hubble_dns_response_types_total', 'hubble_http_requests_total', 'hubble_http_responses_total',
      'hubble_http_request_duration_seconds', 'hubble_lost_events_total']) expect(text).toContain(`# TYPE ${name} `);
    expect(text).toContain('hubble_dns_queries_total{rcode="",qtypes="A",ips_returned="0",query="b.y."} 1');
    expect(text).toContain('hubble_dns_responses_total{rcode="No Error",qtypes="A",ips_returned="1",query="b.y."} 1');
    expect(text).toContain('hubble_dns_response_types_total{type="A",qtypes="A",query="b.y."} 1');
    expect(text).toContain('hubble_http_requests_total{source="x/a",method="GET",protocol="HTTP/1.1",reporter="client"} 1');
    expect(text).toContain('hubble_http_responses_total{source="y/b",method="GET",protocol="HTTP/1.1",status="200",reporter="client"} 1');
    expect(text).toContain('hubble_http_request_duration_seconds_bucket{le="0.005",method="GET",reporter="client",source="y/b"} 1');
    expect(text).toContain('hubble_drop_total{reason="POLICY_DENIED",protocol="TCP",source="x/a",destination="y"} 1');
    expect(text).toContain('hubble_flows_processed_total{protocol="DNS",type="L7",subtype="DNS",verdict="FORWARDED",source_namespace="x",destination_namespace="y",traffic_direction="egress"} 1');
    expect(text).toContain('hubble_flows_processed_total{protocol="TCP",type="PolicyVerdict",subtype="",verdict="FORWARDED",source_namespace="x",destination_namespace="y",traffic_direction="egress"} 1');
    expect(text).toContain('hubble_tcp_flags_total{flag="RST",family="IPv4"} 1');
    expect(text).toContain('hubble_icmp_total{family="IPv4",type="EchoReply"} 1');
    const r = promtool(text);
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
  });

  it('merges nodes by summing (what the relay serves), still promtool-clean', async () => {
    const a = busyObserver(resolveHubbleConfig(undefined).metrics);
    const b = busyObserver(resolveHubbleConfig(undefined).metrics);
    const merged = AggregatorRegistry.aggregate([await a.metrics.registry.getMetricsAsJSON(), await b.metrics.registry.getMetricsAsJSON()]);
    const text = await merged.metrics();
    expect(text).toContain('hubble_drop_total{reason="POLICY_DENIED",protocol="TCP"} 2');
    expect(text).toContain('hubble_lost_events_total{source="perf_event_ring_buffer"} 6');
    expect(promtool(text)).toEqual({ code: 0, out: '' });
  });

  it('default handlers (no context labels) count across scrapes: what came after a scrape is added, nothing twice', async () => {
    const o = busyObserver(resolveHubbleConfig(undefined).metrics);
    const series = ['hubble_tcp_flags_total{flag="SYN",family="IPv4"}', 'hubble_flows_processed_total{protocol="TCP",type="Trace",subtype="to-endpoint",verdict="FORWARDED"}', 'hubble_port_distribution_total{protocol="TCP",port="8080"}'];
    const read = async () => {
      const text = await o.metrics.registry.metrics();
      return series.map((name) => Number(text.split('\n').find((l) => l.startsWith(`${name} `))?.slice(name.length + 1) ?? NaN));
    };
    const before = await read();
    expect(before.every((n) => n >= 1)).toBe(true);
    const b = encodeEvent(ev({}));
    o.ingestRecord(b, 0, b.length);
    o.ingestRecord(b, 0, b.length);
    expect(await read()).toEqual(before.map((n) => n + 2));
    expect(await read()).toEqual(before.map((n) => n + 2));
  });

  it('notices a broken exposition (the check can fail)', () => {
    expect(promtool('# TYPE x counter\nx{a="1" 1\n').code).not.toBe(0);
  });

  it('rejects unknown handler options at configuration time', () => {
    expect(() => parseMetricSpec('http:exemplars=true')).toThrow(/unknown option/);
  });
});
