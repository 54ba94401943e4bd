// Benchmark: service scale. Two 2-node clusters side by side — cnilab (tunnel, socket LB) and the
// reference bridge with kube-proxy-style iptables rules (KUBE-SERVICES / KUBE-SVC / KUBE-SEP, loaded with
// iptables-restore into both nodes) — grown to 10, 1k and 10k services of 3 backends each. At each count,
// through one service's ClusterIP: connection rate (TCP_CRR-like, a new connection per transaction) and
// request/response latency (sockperf ping-pong p50/p99), samples interleaved between the two clusters;
// plus how long programming the new services took. Prints a table and the ratios against 10 services
// (goal for cnilab: within 3 % between 10 and 10k).
// The iptables side uses iptables-legacy by default (--iptables nft|system for the others): Debian 12's
// default, iptables-nft, needs minutes for the ~100k rules of 10k services (see README, Services); a
// restore over --restore-timeout seconds is reported as unavailable, never as a number.
//   node dist/bench/service-scale-bench.js [--counts 10,1000,10000] [--samples 3] [--duration 2]
//     [--iptables legacy|nft|system] [--restore-timeout 120] [--datapaths cnilab,iptables] [--aba] [--json FILE]
// Each ratio comes with a 95 % bootstrap interval (bench/service-scale-stats.ts), so "within 3 %" is a
// verdict only when the interval says so. --aba (cnilab only) measures the first count again after the
// last (the fillers deleted): counts are measured one after the other, so a machine that gets busier
// over the run would otherwise pass for a cost of the count; the ratio is then against both baselines
// pooled, and the drift (after / before) is printed. Every sample records the CPU contention from other
// jobs during it (PSI cpu wait share).
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { destroyCluster } from '../harness/providers/netns/cluster.js';
import { machineSummary, median, spread } from './stats.js';
import type { IptablesBackend } from '../harness/traffic/kube-proxy-iptables.js';
import { bringUpScale, growServices, measureCrr, measureRr, memoryMiB, shrinkServices, type ScaleCluster } from './service-scale.js';
import { describeRatioCi, ratioOfMediansCi } from './service-scale-stats.js';
import { contentionBetween, readCpuContention } from './lb-state.js';

interface Row {
  count: number;
  kind: string;
  programmingMs: number;
  /** Why this point has no numbers (the datapath could not be programmed in time). */
  unavailable?: string;
  memory?: { controlPlane: number; agents: number[] };
  crr: number[];
  p50: number[];
  p99: number[];
  /** Share of each connection-rate sample's wall time some task waited for a CPU (other jobs). */
  cpuWait: number[];
  /** An A-B-A repeat of the first count, measured after the last. */
  again?: boolean;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { counts: { type: 'string' }, samples: { type: 'string' }, duration: { type: 'string' }, json: { type: 'string' }, iptables: { type: 'string' }, 'restore-timeout': { type: 'string' }, datapaths: { type: 'string' }, aba: { type: 'boolean' } },
  });
  const backend = (values.iptables ?? 'legacy') as IptablesBackend;
  if (!['legacy', 'nft', 'system'].includes(backend)) throw new Error('--iptables: legacy, nft or system');
  const restoreTimeoutS = Number(values['restore-timeout'] ?? 120);
  if (!(restoreTimeoutS > 0)) throw new Error('--restore-timeout: seconds, > 0');
  const counts = (values.counts ?? '10,1000,10000').split(',').map(Number);
  const samples = Number(values.samples ?? 3);
  const duration = Number(values.duration ?? 2);
  if (counts.some((n) => !Number.isInteger(n) || n < 1) || counts.some((n, i) => i > 0 && n <= counts[i - 1]!)) throw new Error('--counts: increasing whole numbers, e.g. 10,1000,10000');
  const datapaths = (values.datapaths ?? 'cnilab,iptables').split(',');
  if (!datapaths.length || datapaths.some((d) => d !== 'cnilab' && d !== 'iptables')) throw new Error('--datapaths: cnilab, iptables or both');
  const names = { cnilab: 'sb-cni', iptables: 'sb-ref' };
  const clusters: ScaleCluster[] = [];
  const rows: Row[] = [];
  const t0 = Date.now();
  process.on('SIGINT', () => void Promise.all(Object.values(names).map((n) => destroyCluster(n))).then(() => process.exit(130)));
  try {
    if (datapaths.includes('cnilab')) clusters.push(await bringUpScale('cnilab-tunnel', names.cnilab));
    if (datapaths.includes('iptables')) clusters.push(await bringUpScale('reference-bridge', names.iptables, {}, { backend, restoreTimeoutMs: restoreTimeoutS * 1000 }));
    const plan = values.aba && counts.length > 1 ? [...counts, counts[0]!] : counts;
    for (const [stepNo, count] of plan.entries()) {
      const again = stepNo >= counts.length;
      const step: Row[] = [];
      for (const c of clusters) {
        if (c.unavailable || (again && c.kind !== 'cnilab')) {
          if (!again) step.push({ count, kind: c.kind, programmingMs: NaN, unavailable: c.unavailable, crr: [], p50: [], p99: [], cpuWait: [] });
          continue;
        }
        if (again) {
          const g = await shrinkServices(c, count);
          step.push({ count, kind: c.kind, programmingMs: g.programmingMs, memory: await memoryMiB(c), crr: [], p50: [], p99: [], cpuWait: [], again: true });
          process.stderr.write(`${c.kind}: back to ${count} services (${g.removed} removed) in ${g.programmingMs} ms\n`);
          continue;
        }
        const g = await growServices(c, count);
        step.push({ count, kind: c.kind, programmingMs: g.programmingMs, unavailable: c.unavailable, memory: await memoryMiB(c), crr: [], p50: [], p99: [], cpuWait: [] });
        process.stderr.write(`${c.kind}: ${count} services (${g.added} added) ${c.unavailable ? `not programmed: ${c.unavailable}` : `programmed in ${g.programmingMs} ms`}\n`);
      }
      for (let round = 0; round < samples; round++) {
        const live = clusters.filter((c) => !c.unavailable && step.some((r) => r.kind === c.kind));
        const order = round % 2 ? [...live].reverse() : live;
        for (const c of order) {
          const row = step.find((r) => r.kind === c.kind)!;
          const before = readCpuContention();
          row.crr.push(await measureCrr(c, duration));
          row.cpuWait.push(contentionBetween(before, readCpuContention()).waitShare);
          const rr = await measureRr(c, duration);
          row.p50.push(rr.p50);
          row.p99.push(rr.p99);
        }
      }
      rows.push(...step);
    }
  } finally {
    for (const c of clusters) await c.handle.stopServers();
    await Promise.all(Object.values(names).map((n) => destroyCluster(n)));
  }

  const out: string[] = [];
  out.push(`service scale: ${machineSummary()}; ${samples} samples of ${duration} s per count and cluster, interleaved; iptables backend ${backend}, restore bound ${restoreTimeoutS} s; ${Math.round((Date.now() - t0) / 1000)} s`);
  out.push('| services | datapath | programming | connections/s (median, min–max) | RR p50 µs | RR p99 µs (median, min–max) | CPU wait (other jobs) | RSS MiB control plane / agents |');
  out.push('|---|---|---|---|---|---|---|---|');
  const pct = (xs: number[]) => (xs.length ? `${(median(xs) * 100).toFixed(0)} %` : '–');
  for (const r of rows) {
    const what = r.kind === 'cnilab' ? 'cnilab (socket LB)' : `kube-proxy iptables (${backend})`;
    const mem = r.memory ? `${r.memory.controlPlane}${r.memory.agents.length ? ` / ${r.memory.agents.join(', ')}` : ''}` : '–';
    const label = r.again ? `${r.count} (again, after ${counts.at(-1)})` : `${r.count}`;
    if (r.unavailable) out.push(`| ${label} | ${what} | unavailable (${r.unavailable}) | – | – | – | – | ${mem} |`);
    else out.push(`| ${label} | ${what} | ${r.programmingMs} ms | ${median(r.crr).toFixed(0)} (${spread(r.crr)}) | ${median(r.p50).toFixed(1)} | ${median(r.p99).toFixed(1)} (${spread(r.p99, 1)}) | ${pct(r.cpuWait)} | ${mem} |`);
  }
  out.push('');
  out.push(`ratios against ${counts[0]} services, with 95 % bootstrap intervals (connection rate: higher is better; p99: lower is better; goal for cnilab: within 3 %):`);
  for (const kind of ['cnilab', 'iptables']) {
    const first = rows.find((r) => r.kind === kind && r.count === counts[0] && !r.again);
    if (!first) continue;
    const again = rows.find((r) => r.kind === kind && r.again);
    const base = again ? { ...first, crr: [...first.crr, ...again.crr], p99: [...first.p99, ...again.p99] } : first;
    if (again && first.crr.length >= 2 && again.crr.length >= 2) {
      out.push(`  ${kind} drift, ${counts[0]} services after / before the larger counts: connection rate ${describeRatioCi(ratioOfMediansCi(again.crr, first.crr), 0.03)}, RR p99 ${describeRatioCi(ratioOfMediansCi(again.p99, first.p99), 0.03)}`);
    }
    for (const r of rows.filter((x) => x.kind === kind && x.count !== counts[0])) {
      const vs = `${r.count}/${base.count}${again ? ' (before and after pooled)' : ''}`;
      if (r.unavailable || base.unavailable) {
        out.push(`  ${kind} ${vs}: unavailable (${r.unavailable ?? base.unavailable})`);
        continue;
      }
      if (r.crr.length < 2 || base.crr.length < 2) {
        out.push(`  ${kind} ${vs}: connection rate ×${(median(r.crr) / median(base.crr)).toFixed(3)}, RR p99 ×${(median(r.p99) / median(base.p99)).toFixed(3)} (no interval: fewer than 2 samples)`);
        continue;
      }
      out.push(`  ${kind} ${vs}: connection rate ${describeRatioCi(ratioOfMediansCi(r.crr, base.crr), 0.03)}, RR p99 ${describeRatioCi(ratioOfMediansCi(r.p99, base.p99), 0.03)}`);
    }
  }
  process.stdout.write(`${out.join('\n')}\n`);
  if (values.json) writeFileSync(values.json, `${JSON.stringify({ machine: machineSummary(), samples, duration, iptablesBackend: backend, restoreTimeoutS, rows }, null, 2)}\n`);
}

main().catch((e) => {
  process.stderr.write(`service-scale-bench: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
