// The performance scenario for real, on the two kernel baselines (they need no BPF and exist today):
// quick preset, numbers positive and plausible, samples interleaved, clusters gone afterwards; then the
// regression gate on a deliberately slowed datapath (tbf towards the cross-node server of baseline).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { run } from '../../harness/exec/run.js';
import { distJs, REPO_ROOT } from '../../harness/paths.js';
import { findLeftovers } from '../../harness/providers/netns/sweep.js';
import { bench, writeReports } from '../../harness/cli/bench.js';
import { report } from '../../harness/cli/report.js';
import type { PerfResult } from '../../reports/performance-model.js';
import { defaultRunOptions, runPerformance } from './run.js';
import { slowServerPath } from './shaping.js';
import { tearDown } from './workload.js';
import { testTempDir } from '../../lib/testing/temp-dir.js';

const PREFIX = 'pf-rt-';
const SAMPLES = 4;
const CLUSTERS = ['pf-rt-base', 'pf-rt-kvx', 'pf-rt-s-base', 'pf-rt-s-kvx'];
const dir = testTempDir('pf-root-');

async function quiet<T>(fn: () => Promise<T>): Promise<{ value: T; stdout: string }> {
  let stdout = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((stdout += String(s)), true));
  try {
    return { value: await fn(), stdout };
  } finally {
    out.mockRestore();
  }
}

describe('performance scenario (quick, baseline and kernel-vxlan)', () => {
  afterAll(async () => {
    for (const c of CLUSTERS) await tearDown(c);
  });

  it('measures plausible numbers, interleaved, and removes its clusters', async () => {
    // agnhost pods need dist/.
    if (!existsSync(distJs('harness/cluster/daemon'))) await run(['npx', 'tsc', '-p', 'tsconfig.json'], { cwd: REPO_ROOT, timeoutMs: 120_000 });
    const t0 = performance.now();
    // 4 samples a side: the fewest with which the gate's exact interval can reach 95 % (2 never can).
    const { value: code, stdout } = await quiet(() => bench(['--quick', '--samples', String(SAMPLES), '--config', 'baseline', '--config', 'kernel-vxlan', '--out', join(dir, 'normal'), '--prefix', PREFIX]));
    console.log(`quick bench, 2 configurations: ${((performance.now() - t0) / 1000).toFixed(0)} s\n${stdout}`);
    expect(code).toBe(0);
    const r = JSON.parse(readFileSync(join(dir, 'normal', 'perf.json'), 'utf8')) as PerfResult;
    expect(r.configurations.map((c) => [c.name, c.status, c.reason])).toEqual([['baseline', 'ok', undefined], ['kernel-vxlan', 'ok', undefined]]);
    for (const c of ['baseline', 'kernel-vxlan']) {
      for (const path of ['same', 'other']) {
        const m = (metric: string) => r.metrics.find((x) => x.config === c && x.metric === metric);
        for (const t of ['tcp-1', 'tcp-4']) expect(m(`${t}.${path}.throughput`)?.median, `${c} ${t} ${path}`).toBeGreaterThan(100e6);
        expect(m(`udp.${path}.throughput`)?.median).toBeGreaterThan(10e6);
        expect(m(`rr.${path}.p50`)?.median).toBeGreaterThan(0);
        expect(m(`rr.${path}.p50`)?.median).toBeLessThan(10_000);
        expect(m(`rr.${path}.tps`)?.median).toBeGreaterThan(100);
        expect(m(`crr.${path}.rate`)?.median).toBeGreaterThan(10);
        // HTTP through a ClusterIP: kube-proxy iptables rules in these baselines' nodes
        expect(m(`http.${path}.rps`)?.median).toBeGreaterThan(100);
        expect(m(`http.${path}.p99`)?.median).toBeGreaterThan(0);
        expect(m(`tcp-1.${path}.cpuPerGB`)?.median).toBeGreaterThan(0);
      }
    }
    expect(r.samples.filter((s) => s.error)).toEqual([]);
    // Interleaved: in time order the configuration changes at least every second sample (the
    // rotating order can put the same one last in a round and first in the next), never a block of one.
    const measured = r.samples.filter((s) => !s.warmup).sort((a, b) => a.startMs - b.startMs);
    expect(measured.length).toBe(2 * 2 * 6 * SAMPLES);
    let longest = 1;
    for (let i = 1, run = 1; i < measured.length; i++) longest = Math.max(longest, (run = measured[i]!.config === measured[i - 1]!.config ? run + 1 : 1));
    expect(longest).toBeLessThanOrEqual(2);
    expect(existsSync(join(dir, 'normal', 'perf.html'))).toBe(true);
    for (const c of ['pf-rt-base', 'pf-rt-kvx']) {
      const left = await findLeftovers(c);
      expect([...left.netns, ...left.runDirs, ...left.processes.map((p) => String(p.pid))], c).toEqual([]);
    }
  }, 400_000);

  it('report compare: the normal run against itself passes; against a slowed datapath it fails naming the metric', async () => {
    const normal = join(dir, 'normal', 'perf.json');
    expect(existsSync(normal)).toBe(true);
    let shaped = '';
    const slow = await runPerformance({
      ...defaultRunOptions(true),
      samples: SAMPLES,
      configs: ['baseline', 'kernel-vxlan'],
      clusterPrefix: `${PREFIX}s-`,
      afterSetup: async (handles) => {
        shaped = await slowServerPath(handles.get('baseline')!, 'other', '200mbit');
      },
    });
    writeReports(join(dir, 'slow'), slow);
    console.log(`slowed: tbf 200mbit on ${shaped}`);
    const tput = slow.metrics.find((m) => m.config === 'baseline' && m.metric === 'tcp-1.other.throughput')!;
    expect(tput.median).toBeLessThan(250e6);
    const same = await quiet(() => report(['compare', normal, normal, '--threshold', '5%']));
    expect(same.value).toBe(0);
    const cmp = await quiet(() => report(['compare', normal, join(dir, 'slow', 'perf.json'), '--threshold', '5%', '--junit', join(dir, 'junit.xml')]));
    console.log(cmp.stdout);
    expect(cmp.value).toBe(1);
    expect(cmp.stdout).toMatch(/regressed beyond the threshold: .*baseline:tcp-1\.other\.throughput/);
    expect(readFileSync(join(dir, 'junit.xml'), 'utf8')).toMatch(/name="baseline:tcp-1.other.throughput"><failure/);
    for (const c of ['pf-rt-s-base', 'pf-rt-s-kvx']) expect((await findLeftovers(c)).netns).toEqual([]);
  }, 400_000);
});
