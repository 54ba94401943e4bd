// Pod network ready (CNI ADD → first packet, bench/pod-ready-bench.ts) split four ways, so that what a
// connection storm costs pod setup can be told apart from what the observer costs on top of it:
//   quiet, observer off | storm, observer off | quiet, observer on | storm, observer on
// Two clusters of the same routing (hubble.enabled false and the default) are up at once; the cells are
// measured in rounds of a few pods each, cell by cell, so drift of the shared machine spreads over all
// four. The storm is a TCP_CRR client in the cluster's client pod on node1 (the node whose pods are
// measured) towards the server pod on node2: every connection makes node1's datapath emit trace events
// that node1's agent — the one serving the CNI ADDs — reads.
import { performance } from 'node:perf_hooks';
import type { ClusterSpec } from '../harness/cluster/spec.js';
import { runCrrClient, type CrrResult } from '../scenarios/performance/crr.js';
import { measure } from './pod-ready-bench.js';
import { median } from './stats.js';

export interface StormTarget {
  spec: ClusterSpec;
  /** The storm: a CRR client in this namespace (a pod on the measured node) to host:port. */
  clientNetns: string;
  host: string;
  port: number;
}

export interface ReadySplit {
  /** ADD → first packet, ms, per cell. */
  readyMs: Record<CellName, number[]>;
  /** Connections/s of the storms that ran under the storm cells (their load on the node). */
  stormRate: Record<'off' | 'on', number[]>;
  /** Connections/s of one storm alone (no pod being set up), for comparison with stormRate. */
  stormAlone: Record<'off' | 'on', number>;
  /** Failed connections of those storms (connect, write or read failed). */
  stormErrors: Record<'off' | 'on', number>;
  /** Storm cells whose pods took longer than the storm ran (they are discarded and counted). */
  overran: number;
}

export type CellName = 'off-quiet' | 'off-storm' | 'on-quiet' | 'on-storm';
export const CELLS: CellName[] = ['off-quiet', 'off-storm', 'on-quiet', 'on-storm'];

/** Seconds before the pods are measured: the storm and the agent's event reading get going. */
const STORM_LEAD_MS = 500;

/**
 * `pods` per cell, in rounds of `perRound`. A storm lasts `stormSec`; a storm cell whose pods were not
 * all done while it ran is measured again (so no storm sample is partly quiet), at most once per round.
 */
export async function measureReadySplit(off: StormTarget, on: StormTarget, pods: number, perRound = 4, stormSec = 4): Promise<ReadySplit> {
  const out: ReadySplit = { readyMs: { 'off-quiet': [], 'off-storm': [], 'on-quiet': [], 'on-storm': [] }, stormRate: { off: [], on: [] }, stormErrors: { off: 0, on: 0 }, stormAlone: { off: NaN, on: NaN }, overran: 0 };
  // Warm-up pod on each (first exec of the plugin, page cache), discarded.
  await measure(off.spec, 1);
  await measure(on.spec, 1);
  for (const [k, t] of [['off', off], ['on', on]] as const) out.stormAlone[k] = (await runCrrClient({ netns: t.clientNetns, host: t.host, port: t.port, durationSec: stormSec })).rate;
  const rounds = Math.ceil(pods / perRound);
  for (let round = 0; round < rounds; round++) {
    // Alternate the order of the cells between rounds: no cell always follows a storm.
    const order = round % 2 ? [...CELLS].reverse() : CELLS;
    for (const cell of order) {
      const target = cell.startsWith('on') ? on : off;
      if (cell.endsWith('quiet')) {
        out.readyMs[cell].push(...(await measure(target.spec, perRound)).map((s) => s.readyMs));
        continue;
      }
      for (let attempt = 0; attempt < 2; attempt++) {
        const t0 = performance.now();
        const storm: Promise<CrrResult> = runCrrClient({ netns: target.clientNetns, host: target.host, port: target.port, durationSec: stormSec });
        await new Promise((r) => setTimeout(r, STORM_LEAD_MS));
        const samples = await measure(target.spec, perRound);
        const inside = performance.now() - t0 < stormSec * 1000;
        const r = await storm;
        if (!inside) {
          out.overran++;
          continue;
        }
        out.readyMs[cell].push(...samples.map((s) => s.readyMs));
        out.stormRate[cell.startsWith('on') ? 'on' : 'off'].push(r.rate);
        out.stormErrors[cell.startsWith('on') ? 'on' : 'off'] += r.errors;
        break;
      }
    }
  }
  return out;
}

/** Lines for the report: each cell's p50 and the two ratios that separate storm from observer. */
export function describeReadySplit(label: string, s: ReadySplit): string[] {
  const p = (c: CellName) => median(s.readyMs[c]);
  const n = (c: CellName) => s.readyMs[c].length;
  const lines = CELLS.map((c) => `  ${c.padEnd(10)} p50 ${p(c).toFixed(1).padStart(6)} ms  (min ${Math.min(...s.readyMs[c]).toFixed(1)}, max ${Math.max(...s.readyMs[c]).toFixed(1)}, ${n(c)} pods)`);
  const storm = p('off-storm') / p('off-quiet');
  const stormOn = p('on-storm') / p('on-quiet');
  const observer = p('on-storm') / p('off-storm');
  const quietObs = p('on-quiet') / p('off-quiet');
  const rate = (k: 'off' | 'on') => (s.stormRate[k].length ? median(s.stormRate[k]).toFixed(0) : '–');
  return [
    `${label}: pod network ready p50, quiet / storm, observer off / on (storm connections/s: off ${rate('off')}, on ${rate('on')}; alone, no pod set up: off ${s.stormAlone.off.toFixed(0)}, on ${s.stormAlone.on.toFixed(0)}; failed ${s.stormErrors.off}, ${s.stormErrors.on}${s.overran ? `; ${s.overran} storm cell(s) overran and were re-measured` : ''})`,
    ...lines,
    `  storm/quiet: observer off ${storm.toFixed(2)}×, observer on ${stormOn.toFixed(2)}×; observer on/off: quiet ${quietObs.toFixed(2)}×, storm ${observer.toFixed(2)}×`,
  ];
}
