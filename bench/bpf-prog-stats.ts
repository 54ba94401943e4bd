// Per-program BPF run time of one cluster (kernel.bpf_stats_enabled: run_cnt and run_time_ns of every
// program), for benchmarks that must say which program a connection's time goes to. A cluster's
// programs are found by where they are attached: the tc programs on its nodes' devices (`bpftool net
// show` inside each node's netns; every agent loads its own copy) and the socket-LB programs by the
// links its agents pinned under <BPF_ROOT>/<cluster>/<node>/links/. Sums are per program name.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../harness/exec/run.js';
import { BPF_ROOT, netnsNames } from '../harness/cluster/names.js';

const STATS_SYSCTL = '/proc/sys/kernel/bpf_stats_enabled';

export interface ProgTotals {
  runs: number;
  ns: number;
}

/** Switches the kernel's BPF run-time statistics on; the returned function puts the old value back. */
export function enableBpfStats(): () => void {
  const old = readFileSync(STATS_SYSCTL, 'utf8').trim();
  writeFileSync(STATS_SYSCTL, '1');
  return () => writeFileSync(STATS_SYSCTL, old);
}

interface NetShow {
  tc?: Array<{ id: number; name?: string }>;
}

/** Program id -> name for the programs cnilab attached in one cluster. */
export async function clusterPrograms(cluster: string, nodes: string[]): Promise<Map<number, string>> {
  const ids = new Map<number, string>();
  for (const node of nodes) {
    const r = await run(['bpftool', '-j', 'net', 'show'], { netns: netnsNames.node(cluster, node), allowFailure: true });
    if (r.code === 0) for (const dev of JSON.parse(r.stdout) as NetShow[]) for (const p of dev.tc ?? []) ids.set(p.id, p.name ?? `prog${p.id}`);
    const links = join(BPF_ROOT, cluster, node, 'links');
    if (!existsSync(links)) continue;
    for (const f of readdirSync(links)) {
      const l = await run(['bpftool', '-j', 'link', 'show', 'pinned', join(links, f)], { allowFailure: true });
      if (l.code !== 0) continue;
      const id = (JSON.parse(l.stdout) as { prog_id?: number }).prog_id;
      if (id !== undefined) ids.set(id, f);
    }
  }
  return ids;
}

/** Current totals per program name over the given ids. */
export async function programTotals(ids: Map<number, string>): Promise<Map<string, ProgTotals>> {
  const r = await run(['bpftool', '-j', 'prog', 'show']);
  const out = new Map<string, ProgTotals>();
  for (const p of JSON.parse(r.stdout) as Array<{ id: number; run_cnt?: number; run_time_ns?: number }>) {
    const name = ids.get(p.id);
    if (name === undefined) continue;
    const t = out.get(name) ?? { runs: 0, ns: 0 };
    t.runs += p.run_cnt ?? 0;
    t.ns += p.run_time_ns ?? 0;
    out.set(name, t);
  }
  return out;
}

/** acc += after - before, per program name. */
export function addDelta(acc: Map<string, ProgTotals>, before: Map<string, ProgTotals>, after: Map<string, ProgTotals>): void {
  for (const [name, a] of after) {
    const b = before.get(name) ?? { runs: 0, ns: 0 };
    const t = acc.get(name) ?? { runs: 0, ns: 0 };
    t.runs += a.runs - b.runs;
    t.ns += a.ns - b.ns;
    acc.set(name, t);
  }
}

/** Lines: per program, runs per connection, ns per run, ns per connection; then the total. */
export function describeProgramCost(label: string, acc: Map<string, ProgTotals>, connections: number): string[] {
  const lines = [`${label}: BPF run time per connection (${connections} connections)`];
  let total = 0;
  for (const [name, t] of [...acc].sort((a, b) => b[1].ns - a[1].ns)) {
    if (t.runs === 0) continue;
    total += t.ns;
    lines.push(`  ${name.padEnd(22)} ${(t.runs / connections).toFixed(2).padStart(7)} runs/conn ${(t.ns / t.runs).toFixed(0).padStart(6)} ns/run ${(t.ns / connections / 1000).toFixed(2).padStart(7)} µs/conn`);
  }
  lines.push(`  ${'all programs'.padEnd(22)} ${(total / connections / 1000).toFixed(2).padStart(40)} µs/conn`);
  return lines;
}
