// Benchmark: the agent before and after it moved onto Kubernetes informers, side by side in one run.
// "before" is built from a commit (default: the one the move started from) in a temporary git
// worktree that shares this checkout's node_modules; "after" is this checkout. Samples alternate
// before/after, so both meet the same machine load. Per sample and variant:
//   - bring-up: `cnilab up --nodes 3` and the 9 x/y/z pods Running (`apply --wait`), as up-bench;
//   - the connectivity suite: `cnilab run --suite connectivity --config cnilab-tunnel`, its own
//     cluster, wall time and the suite time from its result.json (checks must all pass).
// Prints every sample, medians with min–max, and after/before ratios. Root, under the root lock:
//   flock /tmp/cnilab-root.lock node dist/bench/informers-move-bench.js [--before COMMIT | --before-dir DIR] [--samples 3]
// (--before-dir: a worktree of the "before" commit already built with tsc, make -C bpf and make -C
// agent/cni/shim, its node_modules a link to this checkout's, so the lock is not held while it builds.)
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { run } from '../harness/exec/run.js';
import { REPO_ROOT } from '../harness/paths.js';
import { machineSummary, median, spread } from './stats.js';

const { values } = parseArgs({
  options: { before: { type: 'string', default: '91e0370' }, 'before-dir': { type: 'string' }, samples: { type: 'string', default: '3' }, keep: { type: 'boolean' } },
});
const SAMPLES = Number(values.samples);

interface Variant {
  name: 'before' | 'after';
  root: string;
  upMs: number[];
  readyMs: number[];
  suiteWallMs: number[];
  suiteMs: number[];
  checks: number[];
}

async function buildBefore(commit: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'cnilab-before-'));
  rmSync(dir, { recursive: true });
  await run(['git', '-C', REPO_ROOT, 'worktree', 'add', '--detach', dir, commit], { timeoutMs: 120_000 });
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'));
  process.stderr.write(`building "before" (${commit}) in ${dir}\n`);
  await run(['npx', 'tsc', '-p', 'tsconfig.json'], { cwd: dir, timeoutMs: 600_000 });
  await run(['make', '-s', '-C', 'bpf'], { cwd: dir, timeoutMs: 600_000 });
  await run(['make', '-s', '-C', 'agent/cni/shim', 'CC=clang'], { cwd: dir, timeoutMs: 120_000 });
  return dir;
}

async function bringUp(v: Variant, cluster: string): Promise<void> {
  const cli = join(v.root, 'bin/cnilab');
  await run([cli, 'down', '--name', cluster], { timeoutMs: 120_000, allowFailure: true });
  const t0 = performance.now();
  await run([cli, 'up', '--name', cluster, '--nodes', '3', '-q'], { timeoutMs: 120_000 });
  const up = performance.now() - t0;
  await run([cli, 'apply', '--name', cluster, '-f', join(REPO_ROOT, 'scenarios/manifests/xyz.yaml'), '--wait'], { timeoutMs: 120_000 });
  const ready = performance.now() - t0;
  await run([cli, 'down', '--name', cluster], { timeoutMs: 120_000 });
  v.upMs.push(up);
  v.readyMs.push(ready);
}

async function connectivity(v: Variant, prefix: string): Promise<void> {
  const out = mkdtempSync(join(tmpdir(), `cnilab-conn-${v.name}-`));
  try {
    const t0 = performance.now();
    const r = await run([join(v.root, 'bin/cnilab'), 'run', '--suite', 'connectivity', '--config', 'cnilab-tunnel', '--out', out, '--name', prefix], { timeoutMs: 900_000, allowFailure: true });
    const wall = performance.now() - t0;
    const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as { summary: { checks: number; failed: number; unavailable: number }; configurations: Array<{ suiteMs?: number }> };
    if (r.code !== 0 || result.summary.failed || result.summary.unavailable) throw new Error(`${v.name}: the connectivity suite did not pass (exit ${r.code}, ${result.summary.failed} failed):\n${r.stdout.slice(-2000)}`);
    v.suiteWallMs.push(wall);
    v.suiteMs.push(result.configurations[0]?.suiteMs ?? NaN);
    v.checks.push(result.summary.checks);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

const s = (xs: number[]) => `${(median(xs) / 1000).toFixed(2)} s (${spread(xs.map((x) => x / 1000), 2)})`;
const ratio = (a: number[], b: number[]) => (median(a) / median(b)).toFixed(2);

async function main(): Promise<void> {
  // --before-dir: a checkout of "before" already built (the build needs no root lock; the runs do).
  const beforeRoot = values['before-dir'] ?? (await buildBefore(values.before!));
  const beforeRev = (await run(['git', '-C', beforeRoot, 'rev-parse', '--short', 'HEAD'], { timeoutMs: 10_000 })).stdout.trim();
  const before: Variant = { name: 'before', root: beforeRoot, upMs: [], readyMs: [], suiteWallMs: [], suiteMs: [], checks: [] };
  const after: Variant = { name: 'after', root: REPO_ROOT, upMs: [], readyMs: [], suiteWallMs: [], suiteMs: [], checks: [] };
  try {
    for (let i = 0; i < SAMPLES; i++) {
      for (const v of i % 2 ? [after, before] : [before, after]) {
        await bringUp(v, `inf-${v.name.slice(0, 3)}`);
        await connectivity(v, `inf${v.name.slice(0, 1)}`);
        process.stderr.write(
          `sample ${i + 1} ${v.name}: up ${(v.upMs.at(-1)! / 1000).toFixed(2)} s, 9 pods Running ${(v.readyMs.at(-1)! / 1000).toFixed(2)} s, ` +
            `connectivity ${(v.suiteWallMs.at(-1)! / 1000).toFixed(1)} s wall (suite ${(v.suiteMs.at(-1)! / 1000).toFixed(1)} s, ${v.checks.at(-1)} checks)\n`,
        );
      }
    }
    console.log(`the agent before (${beforeRev}, private control-plane API) and after (Kubernetes informers), ${SAMPLES} interleaved samples on ${machineSummary()}, Node ${process.version}`);
    console.log(`                          before              after               after/before`);
    console.log(`  up (3 nodes)            ${s(before.upMs).padEnd(20)}${s(after.upMs).padEnd(20)}${ratio(after.upMs, before.upMs)}`);
    console.log(`  up + 9 pods Running     ${s(before.readyMs).padEnd(20)}${s(after.readyMs).padEnd(20)}${ratio(after.readyMs, before.readyMs)}`);
    console.log(`  connectivity (wall)     ${s(before.suiteWallMs).padEnd(20)}${s(after.suiteWallMs).padEnd(20)}${ratio(after.suiteWallMs, before.suiteWallMs)}`);
    console.log(`  connectivity (suite)    ${s(before.suiteMs).padEnd(20)}${s(after.suiteMs).padEnd(20)}${ratio(after.suiteMs, before.suiteMs)}`);
    console.log(`  checks passed           ${before.checks.join('/')}${' '.repeat(Math.max(1, 20 - before.checks.join('/').length))}${after.checks.join('/')}`);
  } finally {
    if (!values.keep && !values['before-dir']) {
      await run(['git', '-C', REPO_ROOT, 'worktree', 'remove', '--force', beforeRoot], { allowFailure: true, timeoutMs: 60_000 });
      if (existsSync(beforeRoot)) rmSync(beforeRoot, { recursive: true, force: true });
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
