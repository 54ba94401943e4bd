// Pod network ready (CNI ADD → first packet, bench/pod-ready-bench.ts) split four ways, so that what a
// connection storm costs pod setup can be told apart from what the observer costs on top of it:
//   quiet, observer off | storm, observer off | quiet, observer on | storm, observer on
// Two clusters of the same routing (hubble.enabled false and the default) are up at once; the cells are
// measured in rounds of a few pods each, the cell order reversed every other round, so drift of the
// shared machine spreads over all four.
//
// The storm is open-loop at a fixed offered rate (bench/pod-ready-storm-load.c): new TCP connections
// from the cluster's client pod on node1 (the node whose pods are measured) to the server pod on node2,
// so node1's datapath emits trace events that node1's agent — the one serving the CNI ADDs — reads.
// The storm used before (cnilab-crr, one connection in flight) collapsed to a few hundred connections/s
// while pods were set up — one delayed SYN stalls such a client for the 1 s retransmission timeout — so
// the two clusters' storms differed up to 30× in strength. Here both get the same offered load, and what
// each storm achieved while the pods were set up, node1's flow-event rate and its agent's CPU are
// recorded per cell, so a verdict can show it compared like with like.
//
// With a third target, a plain-kernel cluster of the same routing (no BPF, no agent: the ptp plugin and
// kernel routes), the same quiet/storm pair is measured there too: how much a storm of the same offered
// rate grows pod set-up on this machine without cnilab at all, and cnilab's growth against it (paired
// by round), which tells the machine's share of "must not grow" from cnilab's.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { ClusterSpec } from '../harness/cluster/spec.js';
import { REPO_ROOT } from '../harness/paths.js';
import { run, start } from '../harness/exec/run.js';
import { measure } from './pod-ready-bench.js';
import { agentCpuSeconds, observerSeen } from './observer-bench-proc.js';
import { ratioOfMediansCi, type RatioCi } from './service-scale-stats.js';
import { MIN_PAIRS_FOR_VERDICT, pairedDifferenceCi, pairedRatioCi, type Interval } from './observer-bench-stats.js';
import { median } from './stats.js';

export interface StormTarget {
  spec: ClusterSpec;
  /** The storm: connections from this namespace (a pod on the measured node) to host:port. */
  clientNetns: string;
  host: string;
  port: number;
  /** False for a cluster without cnilab's agent (the kernel reference): no observer counts, no agent CPU. */
  agent?: boolean;
}

/** What the load generator printed (bench/pod-ready-storm-load.c says what each field is). */
export interface StormResult {
  t0_ns: number;
  rate: number;
  seconds: number;
  offered: number;
  started: number;
  completed: number;
  errors: number;
  timeouts: number;
  skipped: number;
  inflight: number;
  syn_retrans: number;
  p50_us: number;
  p99_us: number;
  max_us: number;
  bin_ms: number;
  bins: number[];
}

const RESULT_NUMBERS = ['t0_ns', 'rate', 'seconds', 'offered', 'started', 'completed', 'errors', 'timeouts', 'skipped', 'inflight', 'syn_retrans', 'p50_us', 'p99_us', 'max_us', 'bin_ms'] as const;

export function parseStormOutput(text: string): StormResult {
  const line = text.trim().split('\n').pop() ?? '';
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw new Error(`storm load: no result line in ${JSON.stringify(text.slice(-500))}`);
  }
  for (const k of RESULT_NUMBERS) if (typeof j[k] !== 'number' || !Number.isFinite(j[k])) throw new Error(`storm load: field ${k} missing or not a number in ${line.slice(0, 300)}`);
  if (!Array.isArray(j.bins) || !j.bins.every((b) => typeof b === 'number')) throw new Error(`storm load: field bins is not a list of numbers`);
  if ((j.bin_ms as number) <= 0) throw new Error(`storm load: bin_ms must be positive`);
  return j as unknown as StormResult;
}

/**
 * Connections/s the storm completed in [fromNs, toNs) (CLOCK_MONOTONIC, as process.hrtime.bigint()):
 * bins that lie partly inside count in proportion to their overlap.
 */
export function rateInWindow(r: StormResult, fromNs: number, toNs: number): number {
  if (!(toNs > fromNs)) return NaN;
  const binNs = r.bin_ms * 1e6;
  let n = 0;
  r.bins.forEach((count, i) => {
    const b0 = r.t0_ns + i * binNs;
    const overlap = Math.min(b0 + binNs, toNs) - Math.max(b0, fromNs);
    if (overlap > 0) n += (count * overlap) / binNs;
  });
  return n / ((toNs - fromNs) / 1e9);
}

const LOAD_SOURCE = resolve(REPO_ROOT, 'bench/pod-ready-storm-load.c');
const LOAD_BIN = resolve(REPO_ROOT, 'dist/bench/pod-ready-storm-load');

/** The load generator, compiled from its source when missing or older than it (clang, as bootstrap installs). */
export async function stormLoadBinary(): Promise<string> {
  if (!existsSync(LOAD_BIN) || statSync(LOAD_BIN).mtimeMs < statSync(LOAD_SOURCE).mtimeMs) {
    mkdirSync(dirname(LOAD_BIN), { recursive: true });
    await run(['clang', '-O2', '-Wall', '-o', LOAD_BIN, LOAD_SOURCE]);
  }
  return LOAD_BIN;
}

export interface RunningStorm {
  /** SIGTERM; resolves with what the generator counted until then. */
  stop(): Promise<StormResult>;
}

/** An open-loop storm of `rate` connections/s that runs until stopped (at most maxSec). */
export async function startStorm(t: StormTarget, rate: number, maxSec = 120): Promise<RunningStorm> {
  const bg = start([await stormLoadBinary(), t.host, String(t.port), String(rate), String(maxSec)], { netns: t.clientNetns });
  const closed = new Promise<void>((r) => bg.child.once('close', () => r()));
  return {
    async stop() {
      await bg.stop();
      await closed; // 'exit' can come before the last of stdout: 'close' comes after it
      const { stdout, stderr } = bg.output();
      try {
        return parseStormOutput(stdout);
      } catch (e) {
        throw new Error(`${(e as Error).message}; stderr: ${stderr.slice(-500)}`);
      }
    },
  };
}

export type CellName = 'off-quiet' | 'off-storm' | 'on-quiet' | 'on-storm' | 'kernel-quiet' | 'kernel-storm';
export const CELLS: CellName[] = ['off-quiet', 'off-storm', 'on-quiet', 'on-storm'];
const KERNEL_CELLS: CellName[] = ['kernel-quiet', 'kernel-storm'];
/** The cells a split measured: the four, and the kernel pair when it had a kernel target. */
export const cellsOf = (s: ReadySplit): CellName[] => (s.cells['kernel-quiet']?.length ? [...CELLS, ...KERNEL_CELLS] : CELLS);

/** One cell of one round: its pods and what node1 was doing meanwhile. */
export interface CellSample {
  readyMs: number[];
  /** node1's observer records per second over the cell (pods and storm); NaN without an agent. */
  eventsPerSec: number;
  /** node1's agent CPU, % of one core, over the cell; NaN without an agent. */
  agentCpuPct: number;
  /** Storm cells: connections/s the storm completed while the pods were set up. */
  stormRate?: number;
  storm?: Pick<StormResult, 'errors' | 'timeouts' | 'skipped' | 'syn_retrans' | 'p50_us' | 'p99_us' | 'max_us'>;
}

export interface ReadySplit {
  /** The storm's offered connections/s. */
  offered: number;
  /** The kernel pair is absent (or empty) when no kernel target was given. */
  cells: Record<CellName, CellSample[]>;
  /** A storm alone (no pod set up) on each cluster, before the rounds: its achieved rate and latency. */
  stormAlone: Partial<Record<'off' | 'on' | 'kernel', { rate: number; p50_us: number; p99_us: number; eventsPerSec: number; agentCpuPct: number }>>;
}

/** The storm runs this long before the pods are measured: the storm and the agent's reading get going. */
const STORM_LEAD_MS = 500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const nowNs = () => Number(process.hrtime.bigint());

/** Node1's observer count, agent CPU and the clock, read around a cell. */
async function probe(t: StormTarget): Promise<{ seen: number; cpu: number; at: number }> {
  const node = t.spec.nodes[0]!.name;
  if (t.agent === false) return { seen: NaN, cpu: NaN, at: nowNs() };
  return { seen: await observerSeen(t.spec.name, node), cpu: agentCpuSeconds(t.spec.name, node), at: nowNs() };
}

function node1Rates(a: { seen: number; cpu: number; at: number }, b: { seen: number; cpu: number; at: number }) {
  const sec = (b.at - a.at) / 1e9;
  return { eventsPerSec: (b.seen - a.seen) / sec, agentCpuPct: (100 * (b.cpu - a.cpu)) / sec };
}

async function measureCell(t: StormTarget, podsPerCell: number, stormRate: number | undefined): Promise<CellSample> {
  const p0 = await probe(t);
  const storm = stormRate === undefined ? undefined : await startStorm(t, stormRate);
  try {
    if (storm) await sleep(STORM_LEAD_MS);
    const from = nowNs();
    const readyMs = (await measure(t.spec, podsPerCell)).map((s) => s.readyMs);
    const to = nowNs();
    const r = await storm?.stop();
    const node1 = node1Rates(p0, await probe(t));
    if (!r) return { readyMs, ...node1 };
    const { errors, timeouts, skipped, syn_retrans, p50_us, p99_us, max_us } = r;
    return { readyMs, ...node1, stormRate: rateInWindow(r, from, to), storm: { errors, timeouts, skipped, syn_retrans, p50_us, p99_us, max_us } };
  } finally {
    await storm?.stop().catch(() => undefined);
  }
}

/** `pods` per cell, in rounds of `perRound`, under a storm of `rate` connections/s; with `kernel`, the
 *  kernel reference's quiet/storm pair in the same rounds. */
export async function measureReadySplit(off: StormTarget, on: StormTarget, pods: number, rate: number, perRound = 4, kernel?: StormTarget): Promise<ReadySplit> {
  const out: ReadySplit = { offered: rate, cells: { 'off-quiet': [], 'off-storm': [], 'on-quiet': [], 'on-storm': [], 'kernel-quiet': [], 'kernel-storm': [] }, stormAlone: {} };
  const targets = { off, on, ...(kernel ? { kernel: { ...kernel, agent: false } } : {}) } as Record<'off' | 'on' | 'kernel', StormTarget>;
  // Warm-up pod on each (first exec of the plugin, page cache), discarded.
  for (const t of Object.values(targets)) await measure(t.spec, 1);
  for (const [k, t] of Object.entries(targets) as Array<['off' | 'on' | 'kernel', StormTarget]>) {
    const p0 = await probe(t);
    const s = await startStorm(t, rate);
    await sleep(2000);
    const r = await s.stop();
    out.stormAlone[k] = { rate: rateInWindow(r, r.t0_ns + STORM_LEAD_MS * 1e6, r.t0_ns + r.seconds * 1e9), p50_us: r.p50_us, p99_us: r.p99_us, ...node1Rates(p0, await probe(t)) };
  }
  const rounds = Math.ceil(pods / perRound);
  const cells = kernel ? [...CELLS, ...KERNEL_CELLS] : CELLS;
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 ? [...cells].reverse() : cells;
    for (const cell of order) {
      const target = targets[cell.split('-')[0] as 'off' | 'on' | 'kernel'];
      out.cells[cell].push(await measureCell(target, perRound, cell.endsWith('storm') ? rate : undefined));
    }
  }
  return out;
}

export const readyOf = (s: ReadySplit, c: CellName): number[] => s.cells[c].flatMap((x) => x.readyMs);

/** A ratio of pod-ready medians with its bootstrap interval, unpaired (all pods of the two cells) and
 *  paired by round (the two cells' medians of each round, measured seconds apart: the machine's drift
 *  between rounds, which dominates here, cancels out; observer-bench-stats.ts). */
export interface ReadyRatio {
  name: string;
  top: CellName;
  base: CellName;
  ci: RatioCi;
  paired: Interval;
}

/** Each round's median pod-ready time of a cell (cells[c][i] is round i). */
export const roundMedians = (s: ReadySplit, c: CellName): number[] => s.cells[c].map((x) => median(x.readyMs));

export function readyRatios(s: ReadySplit): ReadyRatio[] {
  const pairs: Array<[string, CellName, CellName]> = [
    ['observer on / off, under the storm', 'on-storm', 'off-storm'],
    ['observer on / off, quiet', 'on-quiet', 'off-quiet'],
    ['storm / quiet, observer on', 'on-storm', 'on-quiet'],
    ['storm / quiet, observer off', 'off-storm', 'off-quiet'],
    ...(cellsOf(s).includes('kernel-storm') ? [['storm / quiet, kernel (no cnilab)', 'kernel-storm', 'kernel-quiet'] as [string, CellName, CellName]] : []),
  ];
  return pairs.map(([name, top, base]) => ({ name, top, base, ci: ratioOfMediansCi(readyOf(s, top), readyOf(s, base)), paired: pairedRatioCi(roundMedians(s, top), roundMedians(s, base)) }));
}

/** cnilab's storm growth against the kernel's, paired by round: each round's (storm / quiet) of cnilab
 *  over the same round's (storm / quiet) of the kernel reference. 1 means the storm slows cnilab's pod
 *  set-up no more than it slows the plain kernel's: the growth is the machine's, not cnilab's. */
export function growthAgainstKernel(s: ReadySplit, observer: 'off' | 'on'): Interval | undefined {
  if (!cellsOf(s).includes('kernel-storm')) return undefined;
  const growth = (storm: CellName, quiet: CellName) => roundMedians(s, storm).map((x, i) => x / roundMedians(s, quiet)[i]!);
  return pairedRatioCi(growth(`${observer}-storm`, `${observer}-quiet`), growth('kernel-storm', 'kernel-quiet'));
}

/** The same in milliseconds: each round's (storm − quiet) of cnilab less the same round's (storm − quiet)
 *  of the kernel reference. A storm's CPU contention delays the parts every CNI shares (the runtime's
 *  nsenter, a plugin process, the kernel's own work) by about the same time, not the same factor, so a
 *  set-up faster than the kernel's grows more as a ratio for the same added time; ≤ 0 means the storm
 *  adds no more to cnilab's pod set-up than to the plain kernel's. */
export function growthMsAgainstKernel(s: ReadySplit, observer: 'off' | 'on'): Interval | undefined {
  if (!cellsOf(s).includes('kernel-storm')) return undefined;
  const added = (storm: CellName, quiet: CellName) => roundMedians(s, storm).map((x, i) => x - roundMedians(s, quiet)[i]!);
  return pairedDifferenceCi(added(`${observer}-storm`, `${observer}-quiet`), added('kernel-storm', 'kernel-quiet'));
}

/** An added-time difference read against a tolerance in ms (the ratio verdicts' bound applied to
 *  cnilab's quiet p50): met when the whole interval is within it (the storm adds to cnilab's pod
 *  set-up at most that much more than to the kernel's), missed when all of it is above. */
export function addedMsVerdict(ci: Interval, toleranceMs: number, rounds = Infinity): string {
  if (rounds < MIN_PAIRS_FOR_VERDICT) return `no verdict (${rounds} rounds; at least ${MIN_PAIRS_FOR_VERDICT} needed)`;
  if (ci.hi < 0) return `met (adds at least ${(-ci.hi).toFixed(1)} ms less than the kernel's at 95 %)`;
  if (ci.hi <= toleranceMs) return `met (adds at most ${ci.hi.toFixed(1)} ms more than the kernel's at 95 %; bound ${toleranceMs.toFixed(1)} ms)`;
  if (ci.lo > toleranceMs) return `MISSED (adds at least ${ci.lo.toFixed(1)} ms more than the kernel's at 95 %; bound ${toleranceMs.toFixed(1)} ms)`;
  return `undecided (the interval straddles +${toleranceMs.toFixed(1)} ms)`;
}

/** "Does not grow" read against a tolerance: met when the interval's upper end is within it, missed
 *  when even its lower end is above it, undecided otherwise (more pods would tell). */
export function growthVerdict(ci: Interval, bound: number, rounds = Infinity): string {
  if (rounds < MIN_PAIRS_FOR_VERDICT) return `no verdict (${rounds} rounds; at least ${MIN_PAIRS_FOR_VERDICT} needed)`;
  if (ci.hi <= 1) return `met (no growth: the whole interval is below 1; bound ${100 * bound} %)`;
  if (ci.hi <= 1 + bound) return `met (grows by at most ${(100 * (ci.hi - 1)).toFixed(0)} % at 95 %; bound ${100 * bound} %)`;
  if (ci.lo > 1 + bound) return `MISSED (grows by at least ${(100 * (ci.lo - 1)).toFixed(0)} % at 95 %; bound ${100 * bound} %)`;
  return `undecided (the interval straddles +${100 * bound} %)`;
}

const med = (xs: number[]) => (xs.length ? median(xs) : NaN);
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** Lines for the report: each cell's p50 and node1's load, the storms' strength, the four ratios. */
export function describeReadySplit(label: string, s: ReadySplit, bound = 0.1): string[] {
  const lines = [`${label}: pod network ready (ADD → first packet), quiet / storm of ${s.offered} connections/s offered, observer off / on; node1's agent meanwhile`];
  const alone = (k: 'off' | 'on' | 'kernel') => {
    const a = s.stormAlone[k];
    return a ? `${k} ${a.rate.toFixed(0)}/s (p50 ${a.p50_us} µs, p99 ${a.p99_us} µs${Number.isNaN(a.eventsPerSec) ? '' : `, ${a.eventsPerSec.toFixed(0)} events/s`})` : undefined;
  };
  lines.push(`  the storm alone, no pod set up: ${(['off', 'on', 'kernel'] as const).map(alone).filter(Boolean).join(', ')}`);
  for (const c of cellsOf(s)) {
    const xs = s.cells[c];
    const r = readyOf(s, c);
    const storm = c.endsWith('storm')
      ? `; storm achieved ${med(xs.map((x) => x.stormRate!)).toFixed(0)}/s (min ${Math.min(...xs.map((x) => x.stormRate!)).toFixed(0)}), p99 ${med(xs.map((x) => x.storm!.p99_us)).toFixed(0)} µs, SYN retrans ${sum(xs.map((x) => x.storm!.syn_retrans))}, failed ${sum(xs.map((x) => x.storm!.errors + x.storm!.timeouts))}, skipped ${sum(xs.map((x) => x.storm!.skipped))}`
      : '';
    const node1 = c.startsWith('kernel') ? 'no agent' : `node1 ${med(xs.map((x) => x.eventsPerSec)).toFixed(0)} events/s, agent ${med(xs.map((x) => x.agentCpuPct)).toFixed(1)} % of a core`;
    lines.push(`  ${c.padEnd(12)} p50 ${med(r).toFixed(1).padStart(6)} ms (min ${Math.min(...r).toFixed(1)}, max ${Math.max(...r).toFixed(1)}, ${r.length} pods); ${node1}${storm}`);
  }
  for (const r of readyRatios(s)) {
    lines.push(`  ${r.name.padEnd(36)} paired by round ×${r.paired.ratio.toFixed(3)} (95 % CI ${r.paired.lo.toFixed(3)}–${r.paired.hi.toFixed(3)}): ${growthVerdict(r.paired, bound, s.cells[r.top].length)}; all pods ×${r.ci.ratio.toFixed(3)} (${r.ci.lo.toFixed(3)}–${r.ci.hi.toFixed(3)})`);
  }
  for (const o of ['off', 'on'] as const) {
    const g = growthAgainstKernel(s, o);
    if (g) lines.push(`  ${`storm growth, observer ${o} / kernel's`.padEnd(36)} paired by round ×${g.ratio.toFixed(3)} (95 % CI ${g.lo.toFixed(3)}–${g.hi.toFixed(3)}): ${growthVerdict(g, bound, s.cells['kernel-storm'].length)} (cnilab's own share of the growth)`);
  }
  for (const o of ['off', 'on'] as const) {
    const d = growthMsAgainstKernel(s, o);
    const sign = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(1)}`;
    // The tolerance: the ratio verdicts' bound, as a share of this cluster's quiet p50.
    const tolerance = bound * med(roundMedians(s, `${o}-quiet`));
    if (d) lines.push(`  ${`storm's added ms, observer ${o} − kernel's`.padEnd(36)} paired by round ${sign(d.ratio)} ms (95 % CI ${sign(d.lo)} to ${sign(d.hi)}): ${addedMsVerdict(d, tolerance, s.cells['kernel-storm'].length)}`);
  }
  return lines;
}

/** The figures of describeReadySplit as JSON. */
export function summarizeReadySplit(s: ReadySplit): Record<string, unknown> {
  return {
    offered: s.offered,
    stormAlone: s.stormAlone,
    cells: Object.fromEntries(
      cellsOf(s).map((c) => {
        const xs = s.cells[c];
        return [c, { p50: med(readyOf(s, c)), pods: readyOf(s, c).length, eventsPerSec: med(xs.map((x) => x.eventsPerSec)), agentCpuPct: med(xs.map((x) => x.agentCpuPct)), ...(c.endsWith('storm') ? { stormRate: med(xs.map((x) => x.stormRate!)), stormRateMin: Math.min(...xs.map((x) => x.stormRate!)), synRetrans: sum(xs.map((x) => x.storm!.syn_retrans)) } : {}) }];
      }),
    ),
    ratios: Object.fromEntries(readyRatios(s).map((r) => [r.name, { ratio: r.ci.ratio, lo: r.ci.lo, hi: r.ci.hi, paired: r.paired }])),
    growthAgainstKernel: { off: growthAgainstKernel(s, 'off'), on: growthAgainstKernel(s, 'on') },
    growthMsAgainstKernel: { off: growthMsAgainstKernel(s, 'off'), on: growthMsAgainstKernel(s, 'on') },
    roundMedians: Object.fromEntries(cellsOf(s).map((c) => [c, roundMedians(s, c)])),
  };
}
