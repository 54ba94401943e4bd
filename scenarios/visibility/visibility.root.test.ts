// Hubble-style visibility on a real 2-node cluster (tunnel mode), through the CLI as a user runs it:
// live flows with --follow, jsonpb lines with Hubble's names and enums, metrics that promtool accepts and
// that move by exactly what the probes did, a node that is down reported as unavailable, lost events
// shown and counted (never swallowed), DNS and HTTP seen without a proxy, and the suites' flow
// requirements failing when the datapath leaves an observation point out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { run, start } from '../../harness/exec/run.js';
import { cnilab, CNILAB, leftovers } from '../../harness/testing/cli.js';
import { paths } from '../../harness/cluster/names.js';
import { probe } from '../../harness/traffic/probe.js';
import { waitPodsReady } from '../../harness/cli/wait.js';
import { startXyzCluster, unusedPodAddress, type XyzCluster, type XyzPod } from '../../harness/testing/xyz-cluster.js';
import { AgentClient } from '../../agent/api/client.js';
import type { GetFlowsResponse } from '../../agent/observer/api.js';
import { dnsServerPod, netexecPod } from '../framework/pods.js';
import { runSuite } from '../framework/runner.js';
import { resolveSpec } from '../../harness/cluster/spec.js';
import { createCluster, destroyCluster } from '../../harness/providers/netns/cluster.js';
import { resolve } from 'node:path';
import { BPF_BUILD_DIR } from '../../harness/paths.js';
import { checkGetFlowsResponse } from './jsonpb-check.js';
import { visibilitySuite } from './index.js';

const NAME = 'hub-vis';
const BROKEN = 'hub-vis-nofrom';
let c: XyzCluster;
let near: XyzPod; // a client pod on node1
let far: XyzPod; // a server pod on node2
let dnsIp: string;
let webIp: string;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const jsonLines = (text: string) => text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as GetFlowsResponse);

/** Prometheus text → "name{labels}" → value (labels as printed). */
function samples(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

async function metricsText(node?: string): Promise<string> {
  const r = await cnilab(['metrics', '--name', NAME, ...(node ? ['--node', node] : [])]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

function agentPid(node: string): number {
  const out = execFileSync('pgrep', ['-f', `agent/main.js --cnilab-cluster=${NAME} --config=${paths.agentConfig(NAME, node)}`], { encoding: 'utf8' }).trim().split('\n');
  return Number(out[0]);
}

describe('visibility: observer, relay, cnilab observe and metrics', () => {
  beforeAll(async () => {
    // A flow ring larger than the ~16k records the lost-events case leaves in the BPF ring buffer: the
    // LostEvent marker sits in the flow ring like any flow (as in Hubble), and a 4096-flow ring would
    // overwrite it before `observe` reads it (the lost-events metric counts it either way).
    c = await startXyzCluster(NAME, { nodes: 2, raw: { hubble: { eventBufferCapacity: 65536 } } });
    const pods = [...c.pods.values()];
    near = pods.find((p) => p.node === 'node1')!;
    far = pods.find((p) => p.node === 'node2')!;
    await c.client.apply([
      dnsServerPod({ name: 'dns', namespace: 'default', node: 'node2', labels: { app: 'dns' }, records: { 'b.y.svc.cluster.local': far.ip } }),
      netexecPod({ name: 'web', namespace: 'default', node: 'node2', labels: { app: 'web' }, httpPort: 8080 }),
    ]);
    await waitPodsReady(c.client, [{ namespace: 'default', name: 'dns' }, { namespace: 'default', name: 'web' }], 60_000);
    const ip = async (n: string) => ((await c.client.get('Pod', 'default', n)).status as { podIP: string }).podIP;
    dnsIp = await ip('dns');
    webIp = await ip('web');
  }, 240_000);
  afterAll(async () => {
    await c?.destroy();
    expect(await leftovers(NAME)).toEqual([]);
  });

  it('observe --follow --to-pod prints, live, the flows of a probe started afterwards', async () => {
    const follow = start([CNILAB, 'observe', '--name', NAME, '--follow', '--to-pod', far.key, '-o', 'json']);
    try {
      await sleep(1500); // connected to the relay, which has nothing for this pod yet
      expect(follow.output().stdout).toBe('');
      expect((await probe({ netns: near.netns, protocol: 'tcp', host: far.ip, port: 80 })).ok).toBe(true);
      let lines: GetFlowsResponse[] = [];
      for (let i = 0; i < 50; i++) {
        lines = jsonLines(follow.output().stdout);
        if (lines.some((l) => 'flow' in l && l.flow.trace_observation_point === 'TO_ENDPOINT' && l.flow.l4?.TCP?.flags?.SYN)) break;
        await sleep(100);
      }
      const flows = lines.filter((l): l is Extract<GetFlowsResponse, { flow: unknown }> => 'flow' in l).map((l) => l.flow);
      expect(flows.length).toBeGreaterThan(0);
      for (const f of flows) expect(`${f.destination.namespace}/${f.destination.pod_name}`).toBe(far.key);
      const syn = flows.filter((f) => f.l4?.TCP?.flags?.SYN && !f.l4.TCP.flags.ACK);
      // Each node's flows come in its own order; across nodes the order rests on each agent's conversion
      // of the monotonic clock to wall time, which can be off by more than the microseconds a SYN takes
      // to cross the tunnel on one host (as between real nodes' clocks): not asserted.
      const seq = (node: string) => syn.filter((f) => f.node_name === node).map((f) => `${node} ${f.trace_observation_point}`);
      expect([...seq('node1'), ...seq('node2')]).toEqual(['node1 FROM_ENDPOINT', 'node1 TO_OVERLAY', 'node2 FROM_OVERLAY', 'node2 TO_ENDPOINT']);
    } finally {
      await follow.stop();
    }
  }, 60_000);

  it('prints jsonpb GetFlowsResponses with Hubble field names and enum values, and the compact line', async () => {
    expect((await probe({ netns: near.netns, protocol: 'icmp', host: far.ip })).ok).toBe(true);
    await sleep(300);
    const r = await cnilab(['observe', '--name', NAME, '--last', '60', '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const lines = jsonLines(r.stdout);
    expect(lines.length).toBeGreaterThan(10);
    for (const l of lines) expect(checkGetFlowsResponse(l), JSON.stringify(l)).toEqual([]);
    const flows = lines.filter((l): l is Extract<GetFlowsResponse, { flow: unknown }> => 'flow' in l).map((l) => l.flow);
    // to-endpoint is sub-type 0 (left out), from-endpoint 5, to-overlay 4, from-overlay 9.
    expect(flows.find((f) => f.trace_observation_point === 'TO_ENDPOINT')!.event_type).toEqual({ type: 4 });
    expect(flows.find((f) => f.trace_observation_point === 'FROM_ENDPOINT')!.event_type).toEqual({ type: 4, sub_type: 5 });
    expect(flows.find((f) => f.trace_observation_point === 'FROM_OVERLAY')!.event_type).toEqual({ type: 4, sub_type: 9 });
    const echo = flows.filter((f) => f.l4?.ICMPv4 && f.IP.source === near.ip && f.IP.destination === far.ip).pop()!;
    expect(echo).toMatchObject({ verdict: 'FORWARDED', Type: 'L3_L4', is_reply: false, trace_reason: 'NEW', l4: { ICMPv4: { type: 8 } } });
    expect(echo.ethernet?.source).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    expect(echo.interface?.name).toMatch(/^(lxc[0-9a-f]{12}|cilium_vxlan)$/);
    const compact = await cnilab(['observe', '--name', NAME, '--last', '4', '--protocol', 'icmp', '--from-pod', near.key]);
    expect(compact.stdout).toMatch(new RegExp(`^\\w{3} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} \\[node[12]\\]: ${near.key} \\(ID:\\d+\\) -> ${far.key} \\(ID:\\d+\\) (from-endpoint|to-overlay|from-overlay|to-endpoint) FORWARDED \\(ICMPv4 EchoRequest\\)$`, 'm'));
  }, 60_000);

  it('serves metrics promtool accepts; after N probes the counters moved by exactly what they did', async () => {
    const text = await metricsText();
    const check = execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(check).toBe('');
    const before = samples(text);
    const since = new Date().toISOString();
    const N = 3;
    const M = 2;
    const lost = unusedPodAddress(c, 'node2');
    for (let i = 0; i < N; i++) {
      expect((await probe({ netns: near.netns, protocol: 'icmp', host: far.ip })).ok).toBe(true);
      expect((await probe({ netns: near.netns, protocol: 'tcp', host: far.ip, port: 81 })).ok).toBe(true);
    }
    for (let i = 0; i < M; i++) expect((await probe({ netns: near.netns, protocol: 'icmp', host: lost, timeoutMs: 300 })).ok).toBe(false);
    // Cross-node: each packet is seen at 4 points (from-endpoint, to-overlay, from-overlay, to-endpoint);
    // a ping to an unused address at 3, then dropped on node2 (stale pod-CIDR address).
    const want: Record<string, number> = {
      'hubble_icmp_total{family="IPv4",type="EchoRequest"}': 4 * N + 4 * M,
      'hubble_icmp_total{family="IPv4",type="EchoReply"}': 4 * N,
      'hubble_tcp_flags_total{flag="SYN",family="IPv4"}': 4 * N,
      'hubble_tcp_flags_total{flag="SYN-ACK",family="IPv4"}': 4 * N,
      'hubble_drop_total{reason="STALE_OR_UNROUTABLE_IP",protocol="ICMPv4"}': M,
      'hubble_flows_processed_total{protocol="ICMPv4",type="Drop",subtype="",verdict="DROPPED"}': M,
      'hubble_flows_processed_total{protocol="ICMPv4",type="Trace",subtype="to-overlay",verdict="FORWARDED"}': 2 * N + M,
    };
    // Forwarded, non-reply flows to port 81: the SYN and the FIN, each at the 4 points — and a client's
    // RST where agnhost closed with the server's bytes unread (timing decides): the count must equal the
    // flows the observer holds for the window, and be at least the SYNs and FINs.
    const port81Flows = async () =>
      jsonLines((await cnilab(['observe', '--name', NAME, '--since', since, '--port', '81', '--last', '1000', '-o', 'json'])).stdout)
        .filter((l): l is Extract<GetFlowsResponse, { flow: unknown }> => 'flow' in l)
        .map((l) => l.flow)
        .filter((f) => f.verdict === 'FORWARDED' && !f.is_reply && f.l4?.TCP?.destination_port === 81 && f.event_type.type === 4).length;
    const P81 = 'hubble_port_distribution_total{protocol="TCP",port="81"}';
    want[P81] = 8 * N;
    let got: Record<string, number> = {};
    for (let i = 0; i < 30; i++) {
      want[P81] = Math.max(8 * N, await port81Flows());
      const after = samples(await metricsText());
      got = Object.fromEntries(Object.keys(want).map((k) => [k, (after.get(k) ?? 0) - (before.get(k) ?? 0)]));
      if (Object.keys(want).every((k) => got[k] === want[k])) break;
      await sleep(200);
    }
    expect(got).toEqual(want);
    // The merged view is the sum of the nodes'.
    const [n1, n2, all] = [samples(await metricsText('node1')), samples(await metricsText('node2')), samples(await metricsText())];
    const k = 'hubble_icmp_total{family="IPv4",type="EchoRequest"}';
    expect(all.get(k)).toBe((n1.get(k) ?? 0) + (n2.get(k) ?? 0));
    expect(all.get('cnilab_relay_node_up{node="node2"}')).toBe(1);
  }, 90_000);

  it('reports a node that is down as unavailable, not as a node without flows', async () => {
    const pid = agentPid('node2');
    process.kill(pid, 'SIGSTOP');
    try {
      const r = await cnilab(['observe', '--name', NAME, '--last', '5'], { timeoutMs: 60_000 });
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/node node2 unavailable/);
      expect(r.stdout).toMatch(/\[node1\]/);
      expect(r.stdout).not.toMatch(/\[node2\]/);
      const json = await cnilab(['observe', '--name', NAME, '--last', '1', '-o', 'json'], { timeoutMs: 60_000 });
      expect(jsonLines(json.stdout)).toContainEqual(expect.objectContaining({ node_status: expect.objectContaining({ state_change: 'NODE_UNAVAILABLE', node_names: ['node2'] }) }));
      const m = await cnilab(['metrics', '--name', NAME], { timeoutMs: 60_000 });
      expect(m.stderr).toMatch(/node node2 unavailable/);
      expect(samples(m.stdout).get('cnilab_relay_node_up{node="node2"}')).toBe(0);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  }, 90_000);

  it('counts and shows the events the ring buffer had no room for (never swallowed)', async () => {
    const since = new Date().toISOString();
    const agent = new AgentClient(NAME, 'node1');
    const bpfBefore = BigInt((await agent.maps()).lostEvents);
    const pid = agentPid('node1');
    // With node1's agent frozen, 40k new UDP flows from a node1 pod fill the 1 MiB ring (~16k records).
    process.kill(pid, 'SIGSTOP');
    try {
      await run([process.execPath, '-e', `const s=require('dgram').createSocket('udp4');let i=0;const b=Buffer.from('x');(function go(){for(let k=0;k<2000&&i<40000;k++,i++)s.send(b,10000+(i%50000),'${far.ip}');if(i<40000)setImmediate(go);else setTimeout(()=>process.exit(0),200);})();`], { netns: near.netns, timeoutMs: 60_000 });
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const lostSinceStart = async (): Promise<bigint> => BigInt((await agent.maps()).lostEvents) - bpfBefore;
    expect(await lostSinceStart()).toBeGreaterThan(0n);
    // Until the resumed agent has drained the full ring, events keep being lost (the node's other traffic),
    // so the BPF counter is read again with each look at what observe shows: every loss it counted must
    // be shown, no more and no less, once the two stop moving.
    let shown = -1n;
    let bpfLost = 0n;
    let markers: unknown[] = [];
    for (let i = 0; i < 40 && shown !== bpfLost; i++) {
      await sleep(250);
      bpfLost = await lostSinceStart();
      const r = await cnilab(['observe', '--name', NAME, '--node', 'node1', '--since', since, '--type', 'drop', '-o', 'json'], { timeoutMs: 60_000 });
      // --node is a flow filter: LostEvents of every node pass it, and node2, receiving the 40k datagrams
      // with its agent awake but maybe short of CPU, can lose some of its own. Twice in CI the sum of all
      // markers exceeded node1's count by 1.8k and 5.2k (not reproduced here; the markers are printed).
      markers = jsonLines(r.stdout).filter((l) => 'lost_events' in l).map((l) => ({ node: l.node_name, time: l.time, ...(l as { lost_events: object }).lost_events }));
      shown = jsonLines(r.stdout).filter((l) => 'lost_events' in l && l.lost_events.source === 'PERF_EVENT_RING_BUFFER' && l.node_name === 'node1').reduce((a, l) => a + BigInt((l as { lost_events: { num_events_lost: string } }).lost_events.num_events_lost), 0n);
    }
    expect(shown, `since ${since}, BPF lost ${bpfLost}, markers ${JSON.stringify(markers)}`).toBe(bpfLost);
    const lostMetric = samples(await metricsText('node1')).get('hubble_lost_events_total{source="perf_event_ring_buffer"}') ?? 0;
    expect(BigInt(lostMetric)).toBeGreaterThanOrEqual(bpfLost);
    const compact = await cnilab(['observe', '--name', NAME, '--node', 'node1', '--since', since, '--type', 'drop']);
    expect(compact.stdout).toMatch(/^EVENTS LOST: PERF_EVENT_RING_BUFFER CPU\(\d+\) \d+$/m);
  }, 120_000);

  it('sees DNS and HTTP without a proxy: L7 flows with query, answer, method, URL, status and latency, and their metrics', async () => {
    const before = samples(await metricsText());
    // A DNS query from a pod to the dnsmasq pod, by a few lines of Node (no DNS client in the image).
    const q = await run([process.execPath, '-e', `
      const s = require('dgram').createSocket('udp4');
      const name = Buffer.concat('b.y.svc.cluster.local'.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])).concat([Buffer.from([0])]));
      const msg = Buffer.concat([Buffer.from([0x42, 0x42, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), name, Buffer.from([0, 1, 0, 1])]);
      s.on('message', (m) => { console.log(m.length, m[3] & 15, m.readUInt16BE(6)); process.exit(0); });
      s.send(msg, 53, '${dnsIp}');
      setTimeout(() => process.exit(3), 2000);`], { netns: near.netns, timeoutMs: 10_000 });
    expect(q.stdout.trim()).toMatch(/^\d+ 0 1$/); // rcode 0, one answer
    const h = await probe({ netns: near.netns, protocol: 'http', host: webIp, port: 8080, path: '/echo?msg=hello' });
    expect(h.ok, h.stderr).toBe(true);
    await sleep(300);
    const r = await cnilab(['observe', '--name', NAME, '--type', 'l7', '--last', '10', '-o', 'json']);
    const l7 = jsonLines(r.stdout).filter((l): l is Extract<GetFlowsResponse, { flow: unknown }> => 'flow' in l).map((l) => l.flow);
    for (const l of jsonLines(r.stdout)) expect(checkGetFlowsResponse(l)).toEqual([]);
    expect(l7.find((f) => f.l7?.dns && f.l7.type === 'REQUEST')).toMatchObject({ Type: 'L7', event_type: { type: 129 }, node_name: near.node, l7: { dns: { query: 'b.y.svc.cluster.local.', qtypes: ['A'] } } });
    const answer = l7.find((f) => f.l7?.dns && f.l7.type === 'RESPONSE')!;
    expect(answer).toMatchObject({ is_reply: true, l7: { dns: { query: 'b.y.svc.cluster.local.', ips: [far.ip], rrtypes: ['A'] } } });
    expect(Number(answer.l7!.latency_ns)).toBeGreaterThan(0);
    expect(l7.find((f) => f.l7?.http && f.l7.type === 'REQUEST')).toMatchObject({ l7: { http: { method: 'GET', url: `http://${webIp}:8080/echo?msg=hello`, protocol: 'HTTP/1.1' } } });
    const resp = l7.find((f) => f.l7?.http && f.l7.type === 'RESPONSE')!;
    expect(resp).toMatchObject({ l7: { http: { code: 200, method: 'GET' } } });
    expect(Number(resp.l7!.latency_ns)).toBeGreaterThan(0);
    // The observe filters on L7 fields.
    const only200 = jsonLines((await cnilab(['observe', '--name', NAME, '--http-status', '2+', '--last', '10', '-o', 'json'])).stdout);
    expect(only200.length).toBeGreaterThan(0);
    expect(only200.every((l) => 'flow' in l && l.flow.l7?.http?.code === 200)).toBe(true);
    const dnsOnly = jsonLines((await cnilab(['observe', '--name', NAME, '--protocol', 'dns', '--last', '10', '-o', 'json'])).stdout);
    expect(dnsOnly.length).toBeGreaterThan(0);
    expect(dnsOnly.every((l) => 'flow' in l && !!l.flow.l7?.dns)).toBe(true);
    // And the dns / http metrics.
    let after = samples(await metricsText());
    for (let i = 0; i < 20 && (after.get('hubble_http_responses_total{method="GET",protocol="HTTP/1.1",status="200",reporter="client"}') ?? 0) <= (before.get('hubble_http_responses_total{method="GET",protocol="HTTP/1.1",status="200",reporter="client"}') ?? 0); i++) {
      await sleep(200);
      after = samples(await metricsText());
    }
    const d = (k: string) => (after.get(k) ?? 0) - (before.get(k) ?? 0);
    expect(d('hubble_dns_queries_total{rcode="",qtypes="A",ips_returned="0"}')).toBe(1);
    expect(d('hubble_dns_responses_total{rcode="No Error",qtypes="A",ips_returned="1"}')).toBe(1);
    expect(d('hubble_dns_response_types_total{type="A",qtypes="A"}')).toBe(1);
    expect(d('hubble_http_requests_total{method="GET",protocol="HTTP/1.1",reporter="client"}')).toBe(1);
    expect(d('hubble_http_responses_total{method="GET",protocol="HTTP/1.1",status="200",reporter="client"}')).toBe(1);
    expect(d('hubble_http_request_duration_seconds_count{method="GET",reporter="client"}')).toBe(1);
    expect(readFileSync(paths.daemonLog(NAME), 'utf8')).not.toMatch(/relay .*: /);
  }, 90_000);

  it('passes the visibility suite: every probe with its flows, the batch\'s counters, DNS as L7 flows', async () => {
    const r = await runSuite({ spec: c.spec, client: c.client }, visibilitySuite);
    const checks = r.scenarios.flatMap((x) => x.checks);
    expect(checks.filter((x) => !x.passed).map((x) => `${x.id}: ${x.observed}\n${x.detail ?? ''}`)).toEqual([]);
    const ids = checks.map((x) => x.id);
    for (const id of ['tcp-far/flows', 'udp-far/flows', 'icmp-far/flows', 'http-far/flows', 'refused/flows', 'dropped/flows', 'dns']) expect(ids).toContain(id);
    expect(ids.some((id) => id.startsWith('metrics/'))).toBe(true);
    expect(r.passed).toBe(true);
  }, 120_000);
});

describe('flow requirements notice a datapath that stops reporting an observation point', () => {
  afterAll(async () => {
    await destroyCluster(BROKEN);
    expect(await leftovers(BROKEN)).toEqual([]);
  });

  it('datapath-no-from-trace.o (no from-overlay on the receiving node): forwarding works, the suite fails naming the missing flows', async () => {
    await destroyCluster(BROKEN);
    const spec = resolveSpec({}, 'test', { name: BROKEN, nodes: 2, cni: 'cnilab', routing: 'tunnel' });
    process.env.CNILAB_BPF_OBJECT = resolve(BPF_BUILD_DIR, 'datapath-no-from-trace.o');
    let client;
    try {
      client = await createCluster(spec);
    } finally {
      delete process.env.CNILAB_BPF_OBJECT;
    }
    const r = await runSuite({ spec, client }, visibilitySuite);
    const checks = r.scenarios.flatMap((x) => x.checks);
    // The probes themselves pass: only the flows are missing.
    expect(checks.filter((x) => x.tags?.kind === 'visibility' && !x.id.includes('/')).filter((x) => !x.passed).map((x) => x.id)).toEqual([]);
    const tcp = checks.find((x) => x.id === 'tcp-far/flows')!;
    expect(tcp.passed).toBe(false);
    expect(tcp.observed).toMatch(/missing: node2: SYN at from-overlay/);
    expect(tcp.detail).toMatch(/flows seen \(\d+/); // the report shows what was seen
    expect(tcp.detail).toMatch(/to-overlay FORWARDED \(TCP Flags: SYN\)/);
    expect(checks.find((x) => x.id === 'tcp-near/flows')!.passed).toBe(true); // same node: no from-overlay needed
    expect(r.passed).toBe(false);
  }, 180_000);
});
