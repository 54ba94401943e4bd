// Benchmark: how fast a node's agent takes events off the datapath's ring buffer, side by side in one run:
//   per-event  — what the agent did before: libbpf's ring_buffer__consume calling a JavaScript callback
//                for every record, each decoded into a DatapathEvent and then a Flow at once
//   batched    — the native reader (agent/datapath/native) handing over batches of raw records, ingested
//                by the Observer (metrics counted, records kept raw, Flows built only for readers)
//   batched+flows — the same, then every ingested record turned into a Flow and its jsonpb line (what a
//                `cnilab observe --follow` with no filter costs on top)
// Events come from a small BPF program run with BPF_PROG_TEST_RUN (bench/bpf/event-gen.bpf.c) that fills
// a ring of the datapath's size with real records of the current layout; only the consumer is timed.
// Needs root (loads BPF): flock /tmp/cnilab-root.lock node dist/bench/decode-bench.js [--events 1000000]
// --synthetic: no BPF and no root — batches built in memory (the same templates) go straight into
// Observer.ingestBatch, timed in CPU time of this process: the JavaScript ingest cost per record alone
// (metrics, ring copy), steady on a busy machine where wall time is not.
//   node dist/bench/decode-bench.js --synthetic [--events 1000000]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BpfObject, mapLookup, mapUpdate, progTestRun, RingBuffer } from '../agent/datapath/libbpf.js';
import { BatchRingBuffer } from '../agent/datapath/ringbuf-batch.js';
import { decodeEvent, encodeEvent, u32Key } from '../agent/datapath/codec.js';
import { EVENT, EVENT_MAX_SIZE } from '../agent/datapath/constants.js';
import type { DatapathEvent } from '../agent/datapath/types.js';
import { decodeFlow, makeKtimeToDate, type FlowEndpoint } from '../agent/observer/flow.js';
import { Observer } from '../agent/observer/observer.js';
import { defaultHubbleConfig } from '../lib/hubble-config.js';
import { REPO_ROOT } from '../harness/paths.js';
import { machineSummary, median, spread } from './stats.js';

const EVENTS_PER_RUN = 32;
/** Runs per chunk: 360 × 32 = 11 520 records of 72 bytes (header + ring slot) fit the 1 MiB ring. */
const RUNS_PER_CHUNK = 360;

function compileGenerator(dir: string): string {
  const out = join(dir, 'event-gen.o');
  const arch = execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim();
  execFileSync('clang', ['-O2', '-g', '-target', 'bpf', `-I/usr/include/${arch}-linux-gnu`, '-c', resolve(REPO_ROOT, 'bench/bpf/event-gen.bpf.c'), '-o', out]);
  return out;
}

/** A realistic mix: a connection's traces at several points, replies, a drop, ICMP, UDP. */
function templates(): Buffer[] {
  const base: DatapathEvent = {
    ktimeNs: 0n, kind: 'trace', observationPoint: 5, direction: 2, ifindex: 7, srcIdentity: 300, dstIdentity: 301, srcIp: '198.19.0.5', dstIp: '198.19.1.4',
    protocol: 6, srcPort: 40000, dstPort: 80, tcpFlags: 0x02, isReply: false, length: 60, ethSrc: '02:00:00:00:00:05', ethDst: '02:00:00:00:00:01', traceReason: 1,
  };
  const evs: DatapathEvent[] = [
    base, { ...base, observationPoint: 4 }, { ...base, observationPoint: 9 }, { ...base, observationPoint: 101, direction: 1 },
    { ...base, tcpFlags: 0x12, isReply: true, traceReason: 3, srcIp: base.dstIp, dstIp: base.srcIp, srcPort: 80, dstPort: 40000 },
    { ...base, tcpFlags: 0x12, isReply: true, traceReason: 3, observationPoint: 101, srcIp: base.dstIp, dstIp: base.srcIp, srcPort: 80, dstPort: 40000 },
    { ...base, tcpFlags: 0x11, traceReason: 2 }, { ...base, tcpFlags: 0x11, traceReason: 2, observationPoint: 4 },
    { ...base, tcpFlags: 0x14, traceReason: 2 }, { ...base, kind: 'drop', dropReason: 133, observationPoint: undefined },
    { ...base, protocol: 1, icmpType: 8, srcPort: 0, dstPort: 0 }, { ...base, protocol: 1, icmpType: 0, isReply: true, srcPort: 0, dstPort: 0 },
    { ...base, protocol: 17, dstPort: 53 }, { ...base, protocol: 17, srcPort: 53, dstPort: 40000, isReply: true },
    { ...base, dstPort: 8080 }, { ...base, kind: 'drop', dropReason: 151, observationPoint: undefined, direction: 1 },
  ];
  return evs.map((e) => encodeEvent(e));
}

interface Generator {
  produceChunk(): void;
  ringFd: number;
  full(): bigint;
  close(): void;
}

function generator(objPath: string): Generator {
  const obj = BpfObject.open(objPath);
  obj.load();
  const tpl = obj.mapFd('gen_templates');
  templates().forEach((t, i) => mapUpdate(tpl, u32Key(i), t.subarray(0, EVENT.size)));
  const prog = obj.programFd('gen');
  const pkt = Buffer.alloc(64);
  const counters = obj.mapFd('gen_counters');
  return {
    ringFd: obj.mapFd('gen_events'),
    produceChunk: () => void progTestRun(prog, pkt, undefined, RUNS_PER_CHUNK),
    full: () => mapLookup(counters, u32Key(1), 8)!.readBigUInt64LE(0),
    close: () => obj.close(),
  };
}

const ENDPOINTS = new Map<string, Omit<FlowEndpoint, 'identity'>>([
  ['198.19.0.5', { ID: 3, namespace: 'x', pod_name: 'a', labels: ['k8s:io.kubernetes.pod.namespace=x', 'k8s:pod=a'] }],
  ['198.19.1.4', { namespace: 'y', pod_name: 'b', labels: ['k8s:io.kubernetes.pod.namespace=y', 'k8s:pod=b'] }],
]);
const resolveEp = (ip: string) => ENDPOINTS.get(ip) ?? {};

type Mode = 'per-event' | 'batched' | 'batched+flows';

/** Consumes `events` records in chunks; returns the seconds spent consuming. */
function runMode(mode: Mode, gen: Generator, events: number): { seconds: number; consumed: number } {
  const toDate = makeKtimeToDate();
  const cfg = defaultHubbleConfig();
  const observer = new Observer({ nodeName: 'node1', capacity: cfg.eventBufferCapacity, metrics: cfg.metrics, l7Visibility: cfg.l7Visibility, resolve: resolveEp, toDate });
  let consumed = 0;
  let ns = 0n;
  let sink = 0;
  let consume: () => void;
  let cleanup = () => undefined as void;
  if (mode === 'per-event') {
    const rb = new RingBuffer(gen.ringFd, (data) => {
      const flow = decodeFlow(decodeEvent(data), { nodeName: 'node1', resolve: resolveEp, toDate });
      sink += flow.Summary?.length ?? 0;
      consumed++;
    });
    consume = () => {
      while (rb.consume() > 0);
    };
    cleanup = () => rb.free();
  } else {
    const rb = new BatchRingBuffer(gen.ringFd, EVENT_MAX_SIZE);
    consume = () => {
      for (;;) {
        const before = observer.ring.next;
        const { bytes, count, more } = rb.drain();
        if (bytes) observer.ingestBatch(rb.buf, bytes);
        consumed += count;
        if (mode === 'batched+flows') for (let s = before; s < observer.ring.next; s++) sink += JSON.stringify(observer.flowAt(s)).length;
        if (!more) break;
      }
    };
    cleanup = () => rb.free();
  }
  while (consumed < events) {
    gen.produceChunk();
    const t0 = process.hrtime.bigint();
    consume();
    ns += process.hrtime.bigint() - t0;
  }
  cleanup();
  if (sink < 0) console.log(sink);
  return { seconds: Number(ns) / 1e9, consumed };
}

/** --synthetic: CPU ns per record of Observer.ingestBatch over in-memory batches of the templates. */
function synthetic(events: number, rounds: number): void {
  const recs = templates();
  const perBatch = 3600; // what a 256 KiB batch of the native reader holds
  const batch = Buffer.alloc(perBatch * (4 + EVENT.size));
  let bytes = 0;
  for (let i = 0; i < perBatch; i++) {
    const r = recs[i % recs.length]!;
    batch.writeUInt32LE(r.length, bytes);
    r.copy(batch, bytes + 4);
    bytes += 4 + ((r.length + 3) & ~3);
  }
  const cfg = defaultHubbleConfig();
  const observer = new Observer({ nodeName: 'node1', capacity: cfg.eventBufferCapacity, metrics: cfg.metrics, l7Visibility: cfg.l7Visibility, resolve: resolveEp, toDate: makeKtimeToDate() });
  const ns: number[] = [];
  for (let r = 0; r <= rounds; r++) {
    const c0 = process.cpuUsage();
    let n = 0;
    while (n < events) n += observer.ingestBatch(batch, bytes);
    const c = process.cpuUsage(c0);
    if (r > 0) ns.push(((c.user + c.system) * 1000) / n); // round 0 warms the JIT up
  }
  console.log(`synthetic ingest (no BPF), ${events} records per sample, ${rounds} samples (${machineSummary()})`);
  console.log(`  Observer.ingestBatch: ${median(ns).toFixed(0)} ns of CPU per record (${spread(ns)}); ${(1e9 / median(ns) / 1000).toFixed(0)}k records per CPU-second`);
  console.log(JSON.stringify({ bench: 'decode-synthetic', events, rounds, machine: machineSummary(), nsPerRecord: median(ns) }));
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { events: { type: 'string' }, rounds: { type: 'string' }, synthetic: { type: 'boolean' } } });
  const events = Number(values.events ?? 500_000);
  const rounds = Number(values.rounds ?? 3);
  if (values.synthetic) return synthetic(events, rounds);
  const dir = mkdtempSync(join(tmpdir(), 'cnilab-decode-bench-'));
  const gen = generator(compileGenerator(dir));
  const modes: Mode[] = ['per-event', 'batched', 'batched+flows'];
  const rates: Record<Mode, number[]> = { 'per-event': [], batched: [], 'batched+flows': [] };
  try {
    runMode('batched', gen, 50_000); // warm-up (JIT)
    for (let r = 0; r < rounds; r++) {
      // Interleaved so that the machine's noise falls on every mode alike.
      for (const m of modes) {
        const { seconds, consumed } = runMode(m, gen, events);
        rates[m].push(consumed / seconds);
      }
    }
    const lostInGenerator = gen.full();
    console.log(`decode rate, ${events} events per sample, ${rounds} samples interleaved (${machineSummary()})`);
    for (const m of modes) console.log(`  ${m.padEnd(14)} ${Math.round(median(rates[m])).toLocaleString('en')} events/s  (${spread(rates[m].map((x) => x / 1000))} k)`);
    const base = median(rates['per-event']);
    console.log(`  ratio batched / per-event: ${(median(rates.batched) / base).toFixed(1)}×;  batched+flows / per-event: ${(median(rates['batched+flows']) / base).toFixed(1)}×`);
    console.log(`  goal ≥ 500k events/s per node: ${median(rates.batched) >= 500_000 ? 'met' : 'TARGET MISSED'}; records the generator could not place: ${lostInGenerator}`);
    console.log(JSON.stringify({ bench: 'decode', events, rounds, machine: machineSummary(), medians: Object.fromEntries(modes.map((m) => [m, Math.round(median(rates[m]))])) }));
  } finally {
    gen.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
