// Benchmark: does 10k services cost cnilab's socket LB more than 3 % against 10, measured so that the
// machine's drift cannot decide it. The sequential benchmark (service-scale-bench.ts) measures one
// cluster at 10 services, then at 10k, minutes apart; this shared 2-vCPU machine drifts more than 3 % in
// that time (10 services measured twice differed ×0.695). Here two cnilab clusters (tunnel, socket LB)
// run at once — distinct names, underlay, pod and service subnets — and samples alternate between them
// in pairs seconds apart (ABBA: pair i measures A then B, pair i+1 B then A; the RR samples in the
// opposite order of the connection-rate ones), so drift moves both sides of a pair alike and cancels in
// the pair's ratio.
//   1. calibration: both clusters with the small count; the paired ratio B/A is what differs between
//      the two clusters whatever the count (placement, addresses, pinning);
//   2. B grown to the large count (A keeps the small one); the same pairs again.
// --together crr (the default) runs the connection-rate samples of a pair in both clusters at the same
// moment instead of one after the other: both then see the same interference from other jobs, and with
// the CPU shared fairly between them a dearer connect shows as a lower rate of its own side. (--together
// rr does the same for the RR samples; their p99 then includes the other cluster's load, alike on both
// sides; none alternates everything.)
// The count's effect is median(B/A after) / median(B/A before), with a percentile-bootstrap interval
// over the pairs of both phases (pairedContrastCi in service-scale-stats.ts), read against ±--bound:
// met, missed or unresolved. For comparison it also prints the sequential (old) estimate from the same
// data — cluster B at the large count against B at the small count, unpaired — and its interval.
// The socket-LB programs of all four nodes hang on the root cgroup and run for every connect of either
// cluster; a node's program leaves sockets of other netns at its first map lookup (cnilab_lb_ns), so
// B's 10k services are looked up only by B's own sockets.
// --bpf-stats: every connection-rate sample also reads the run time of its cluster's BPF programs
// (kernel.bpf_stats_enabled, bench/bpf-prog-stats.ts): the datapath's CPU per connection at each count,
// measured in the cluster under the real load, with the same calibration taken out — what the count
// can cost a connection, free of the machine's drift (BPF run time is CPU time on the connection's path).
//   flock /tmp/cnilab-root.lock node dist/bench/service-scale-paired-bench.js [--counts 10,10000]
//     [--pairs 30] [--calibration-pairs N (default --pairs)] [--duration 1] [--together crr|rr|crr,rr|none] [--bound 0.03] [--bpf-stats] [--json FILE]
import { freemem } from 'node:os';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { destroyCluster } from '../harness/providers/netns/cluster.js';
import { machineSummary, median, spread } from './stats.js';
import { bringUpScale, growServices, measureCrr, measureRr, memoryMiB, type ScaleCluster } from './service-scale.js';
import { describeBound, describeRatioCi, pairedContrastCi, ratioOfMediansCi } from './service-scale-stats.js';
import { describeInterval, MIN_PAIRS_FOR_VERDICT, pairedRatioCi } from './observer-bench-stats.js';
import { addDelta, clusterPrograms, enableBpfStats, programTotals, type ProgTotals } from './bpf-prog-stats.js';

/** Two clusters that share nothing but the kernel: their own underlay, pod and service ranges. */
const CLUSTERS = [
  { name: 'ssp-a', networking: { underlaySubnet: '198.18.0.0/24', podSubnet: '198.19.0.0/17', serviceSubnet: '198.18.64.0/18' } },
  { name: 'ssp-b', networking: { underlaySubnet: '198.18.1.0/24', podSubnet: '198.19.128.0/17', serviceSubnet: '198.18.128.0/18' } },
] as const;

interface Side {
  crr: number[];
  p99: number[];
  /** --bpf-stats: BPF run time of the side's own programs over its connection-rate samples. */
  bpf?: { programs: Map<number, string>; acc: Map<string, ProgTotals>; connections: number; perSampleNsPerConn: number[] };
}
interface Phase {
  label: string;
  counts: [number, number];
  a: Side;
  b: Side;
}

/** Which measurements run in both clusters at the same moment (the rest alternate, ABBA). */
type Together = Set<'crr' | 'rr'>;

/** The side's BPF totals now (--bpf-stats), or undefined. */
async function bpfTotals(s: Side): Promise<Map<string, ProgTotals> | undefined> {
  return s.bpf ? programTotals(s.bpf.programs) : undefined;
}

/** A connection-rate sample, with its BPF run time when both readings exist. */
function recordSample(s: Side, rate: number, durationSec: number, before?: Map<string, ProgTotals>, after?: Map<string, ProgTotals>): void {
  s.crr.push(rate);
  if (!s.bpf || !before || !after) return;
  const sample = new Map<string, ProgTotals>();
  addDelta(sample, before, after);
  addDelta(s.bpf.acc, before, after);
  const connections = rate * durationSec;
  s.bpf.connections += connections;
  const ns = [...sample.values()].reduce((a, t) => a + t.ns, 0);
  if (connections > 0) s.bpf.perSampleNsPerConn.push(ns / connections);
}

async function measurePairs(a: ScaleCluster, b: ScaleCluster, pairs: number, durationSec: number, together: Together, phase: Phase): Promise<void> {
  for (let i = 0; i < pairs; i++) {
    const order: Array<[ScaleCluster, Side]> = i % 2 ? [[b, phase.b], [a, phase.a]] : [[a, phase.a], [b, phase.b]];
    if (together.has('crr')) {
      const before = await Promise.all(order.map(([, s]) => bpfTotals(s)));
      const [x, y] = await Promise.all(order.map(([c]) => measureCrr(c, durationSec)));
      const after = await Promise.all(order.map(([, s]) => bpfTotals(s)));
      [x!, y!].forEach((rate, j) => recordSample(order[j]![1], rate, durationSec, before[j], after[j]));
    } else {
      for (const [c, s] of order) {
        const before = await bpfTotals(s);
        const rate = await measureCrr(c, durationSec);
        recordSample(s, rate, durationSec, before, await bpfTotals(s));
      }
    }
    const rrOrder = [...order].reverse();
    if (together.has('rr')) {
      const [x, y] = await Promise.all(rrOrder.map(([c]) => measureRr(c, durationSec)));
      rrOrder[0]![1].p99.push(x!.p99);
      rrOrder[1]![1].p99.push(y!.p99);
    } else for (const [c, s] of rrOrder) s.p99.push((await measureRr(c, durationSec)).p99);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { counts: { type: 'string' }, pairs: { type: 'string' }, 'calibration-pairs': { type: 'string' }, duration: { type: 'string' }, together: { type: 'string' }, bound: { type: 'string' }, 'bpf-stats': { type: 'boolean' }, json: { type: 'string' } },
  });
  const counts = (values.counts ?? '10,10000').split(',').map(Number);
  const pairs = Number(values.pairs ?? 30);
  const calPairs = Number(values['calibration-pairs'] ?? pairs);
  const duration = Number(values.duration ?? 1);
  const bound = Number(values.bound ?? 0.03);
  const bad = (flag: string, want: string) => {
    process.stderr.write(`service-scale-paired-bench: ${flag}: ${want}\n`);
    process.exit(2);
  };
  if (counts.length !== 2 || counts.some((n) => !Number.isInteger(n) || n < 1 || n > 16000) || counts[0]! >= counts[1]!) bad('--counts', 'two increasing whole numbers in 1..16000, e.g. 10,10000');
  if (!Number.isInteger(pairs) || pairs < MIN_PAIRS_FOR_VERDICT) bad('--pairs', `a whole number >= ${MIN_PAIRS_FOR_VERDICT} (a bootstrap over fewer pairs gives too narrow an interval)`);
  if (!Number.isInteger(calPairs) || calPairs < MIN_PAIRS_FOR_VERDICT) bad('--calibration-pairs', `a whole number >= ${MIN_PAIRS_FOR_VERDICT}`);
  if (!Number.isInteger(duration) || duration < 1) bad('--duration', 'whole seconds >= 1');
  if (!(bound > 0 && bound < 1)) bad('--bound', 'a fraction in (0, 1), e.g. 0.03');
  const togetherList = (values.together ?? 'crr').split(',').filter((x) => x && x !== 'none');
  if (togetherList.some((x) => x !== 'crr' && x !== 'rr')) bad('--together', 'crr, rr, crr,rr or none');
  const together: Together = new Set(togetherList as Array<'crr' | 'rr'>);
  const [small, large] = counts as [number, number];

  const t0 = Date.now();
  const clusters: ScaleCluster[] = [];
  let restoreBpfStats: (() => void) | undefined;
  const teardown = async () => {
    restoreBpfStats?.();
    restoreBpfStats = undefined;
    for (const c of clusters) await c.handle.stopServers();
    await Promise.all(CLUSTERS.map((c) => destroyCluster(c.name)));
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => void teardown().then(() => process.exit(130)));
  const calibration: Phase = { label: 'calibration', counts: [small, small], a: { crr: [], p99: [] }, b: { crr: [], p99: [] } };
  const effect: Phase = { label: 'effect', counts: [small, large], a: { crr: [], p99: [] }, b: { crr: [], p99: [] } };
  let programmingMs = NaN;
  let memory: Array<{ controlPlane: number; agents: number[] }> = [];
  let freeMiB = NaN;
  let upMs = NaN;
  try {
    for (const c of CLUSTERS) clusters.push(await bringUpScale('cnilab-tunnel', c.name, c.networking));
    for (const c of clusters) await growServices(c, small);
    upMs = Date.now() - t0;
    const [a, b] = clusters as [ScaleCluster, ScaleCluster];
    if (values['bpf-stats']) {
      restoreBpfStats = enableBpfStats();
      // The agents load their programs once; growing the services changes maps, not programs.
      const programs = await Promise.all(clusters.map((c) => clusterPrograms(c.handle.spec.name, c.handle.spec.nodes.map((n) => n.name))));
      for (const p of [calibration, effect]) {
        p.a.bpf = { programs: programs[0]!, acc: new Map(), connections: 0, perSampleNsPerConn: [] };
        p.b.bpf = { programs: programs[1]!, acc: new Map(), connections: 0, perSampleNsPerConn: [] };
      }
      if (programs.some((m) => m.size === 0)) throw new Error('--bpf-stats: no BPF program found attached in a cluster');
    }
    process.stderr.write(`two clusters up with ${small} services each in ${Math.round(upMs / 1000)} s; calibration, ${calPairs} pairs\n`);
    await measurePairs(a, b, calPairs, duration, together, calibration);
    programmingMs = (await growServices(b, large)).programmingMs;
    process.stderr.write(`${CLUSTERS[1].name}: ${large} services programmed in ${programmingMs} ms; ${pairs} pairs\n`);
    await measurePairs(a, b, pairs, duration, together, effect);
    memory = await Promise.all(clusters.map((c) => memoryMiB(c)));
    freeMiB = Math.round(freemem() / 2 ** 20);
  } finally {
    await teardown();
  }

  const out: string[] = [];
  out.push(`service scale, paired: ${machineSummary()}; 2 cnilab-tunnel clusters (socket LB) at once; ${calPairs} + ${pairs} pairs of ${duration} s samples (${['crr', 'rr'].map((m) => `${m} ${together.has(m as 'crr') ? 'in both at once' : 'alternating ABBA'}`).join(', ')}); ${Math.round((Date.now() - t0) / 1000)} s in all (bring-up ${Math.round(upMs / 1000)} s)`);
  out.push(`${CLUSTERS[1].name} grown ${small} → ${large} services in ${programmingMs} ms; RSS MiB control plane / agents: ${CLUSTERS.map((c, i) => `${c.name} ${memory[i]?.controlPlane} / ${memory[i]?.agents.join(', ')}`).join('; ')}; free memory ${freeMiB} MiB`);
  out.push('| phase | A services | B services | A connections/s (median, min–max) | B connections/s | A RR p99 µs | B RR p99 µs |');
  out.push('|---|---|---|---|---|---|---|');
  for (const p of [calibration, effect]) {
    const cell = (xs: number[], d: number) => `${median(xs).toFixed(d)} (${spread(xs, d)})`;
    out.push(`| ${p.label} | ${p.counts[0]} | ${p.counts[1]} | ${cell(p.a.crr, 0)} | ${cell(p.b.crr, 0)} | ${cell(p.a.p99, 1)} | ${cell(p.b.p99, 1)} |`);
  }
  out.push('');
  for (const [what, key, better] of [['connection rate', 'crr', 'higher is better'], ['RR p99', 'p99', 'lower is better']] as const) {
    const cal = pairedRatioCi(calibration.b[key], calibration.a[key]);
    const eff = pairedRatioCi(effect.b[key], effect.a[key]);
    const contrast = pairedContrastCi({ top: effect.b[key], base: effect.a[key] }, { top: calibration.b[key], base: calibration.a[key] });
    out.push(`${what} (${better}):`);
    out.push(`  paired B/A, both ${small}: ${describeInterval(cal)}; B ${large} / A ${small}: ${describeInterval(eff)}`);
    out.push(`  ${large} vs ${small} services, calibration taken out: ${describeBound(contrast, bound)}`);
    // An interval's width shrinks as 1/sqrt(pairs): how many pairs this spread would need for ±bound.
    const half = (contrast.hi - contrast.lo) / 2;
    if (half > bound) out.push(`  at this spread about ${Math.ceil(Math.min(pairs, calPairs) * (half / bound) ** 2)} pairs a phase would narrow the interval to ±${bound * 100} %`);
    out.push(`  the sequential estimate from the same data (B at ${large} vs B at ${small}, unpaired): ${describeRatioCi(ratioOfMediansCi(effect.b[key], calibration.b[key]), bound)}`);
    out.push(`  drift of A (${small} services throughout), second phase / first: ${describeRatioCi(ratioOfMediansCi(effect.a[key], calibration.a[key]), bound)}`);
  }
  if (values['bpf-stats']) out.push(...describeBpfEffect(calibration, effect, small, large));
  process.stdout.write(`${out.join('\n')}\n`);
  if (values.json) writeFileSync(values.json, `${JSON.stringify({ machine: machineSummary(), counts, duration, together: [...together], programmingMs, memory, freeMiB, calibration: plainPhase(calibration), effect: plainPhase(effect) }, null, 2)}\n`);
}

/** A phase for --json: the BPF accumulators as plain objects (Maps do not serialize). */
function plainPhase(p: Phase): unknown {
  const side = (s: Side) => ({ crr: s.crr, p99: s.p99, ...(s.bpf ? { bpf: { connections: s.bpf.connections, perSampleNsPerConn: s.bpf.perSampleNsPerConn, programs: Object.fromEntries(s.bpf.acc) } } : {}) });
  return { label: p.label, counts: p.counts, a: side(p.a), b: side(p.b) };
}

/** ns of BPF run time per connection of a side, all its programs, over the phase; and per program. */
function bpfNsPerConn(s: Side): { all: number; byProgram: Map<string, { runsPerConn: number; nsPerRun: number }> } {
  const bpf = s.bpf!;
  const byProgram = new Map<string, { runsPerConn: number; nsPerRun: number }>();
  let ns = 0;
  for (const [name, t] of bpf.acc) {
    ns += t.ns;
    if (t.runs > 0) byProgram.set(name, { runsPerConn: t.runs / bpf.connections, nsPerRun: t.ns / t.runs });
  }
  return { all: ns / bpf.connections, byProgram };
}

/** What the count costs a connection in BPF time: B's change between the phases less A's (A keeps the
 *  small count: its change is the drift of BPF time itself, e.g. caches under other jobs), and the
 *  connection-rate bound that follows at the rate measured: rate' ≥ 1 / (1/rate + Δ). */
function describeBpfEffect(cal: Phase, eff: Phase, small: number, large: number): string[] {
  const out = ['', `BPF run time per connection, in the clusters (--bpf-stats; all of a side's programs, both nodes):`];
  out.push('| phase | A ns/conn | B ns/conn | A sock4_connect ns/run | B sock4_connect ns/run |');
  out.push('|---|---|---|---|---|');
  for (const p of [cal, eff]) {
    const a = bpfNsPerConn(p.a);
    const b = bpfNsPerConn(p.b);
    const sock = (x: ReturnType<typeof bpfNsPerConn>) => x.byProgram.get('sock4_connect')?.nsPerRun.toFixed(0) ?? 'n/a';
    out.push(`| ${p.label} (A ${p.counts[0]}, B ${p.counts[1]}) | ${a.all.toFixed(0)} | ${b.all.toFixed(0)} | ${sock(a)} | ${sock(b)} |`);
  }
  const d = bpfNsPerConn(eff.b).all - bpfNsPerConn(cal.b).all - (bpfNsPerConn(eff.a).all - bpfNsPerConn(cal.a).all);
  const pairsCi = pairedContrastCi({ top: eff.b.bpf!.perSampleNsPerConn, base: eff.a.bpf!.perSampleNsPerConn }, { top: cal.b.bpf!.perSampleNsPerConn, base: cal.a.bpf!.perSampleNsPerConn });
  const rate = median([...cal.a.crr, ...cal.b.crr]);
  const worst = Math.max(d, (pairsCi.hi - 1) * bpfNsPerConn(cal.b).all);
  const bound = 1 / (1 + Math.max(0, worst) * 1e-9 * rate);
  out.push(`${large} vs ${small} services: ${d >= 0 ? '+' : ''}${d.toFixed(0)} ns of BPF time per connection (B's change less A's); paired per-sample ratio, calibration out: ${describeInterval(pairsCi)}`);
  out.push(`  at ${rate.toFixed(0)} connections/s (${(1e6 / rate).toFixed(0)} µs each), the worse of the two (${worst.toFixed(0)} ns) bounds the connection rate at ≥ ×${bound.toFixed(4)} of ${small} services`);
  // A's drift may itself be B's doing (the clusters share the CPUs' caches, and B's maps grew): charging
  // all of B's change to the count is the most cautious reading.
  const raw = bpfNsPerConn(eff.b).all - bpfNsPerConn(cal.b).all;
  out.push(`  charging all of B's change to the count (A's drift not taken out): ${raw >= 0 ? '+' : ''}${raw.toFixed(0)} ns per connection, connection rate ≥ ×${(1 / (1 + Math.max(0, raw) * 1e-9 * rate)).toFixed(4)}`);
  return out;
}

main().catch((e) => {
  process.stderr.write(`service-scale-paired-bench: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
