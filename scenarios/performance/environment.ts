// The machine a performance result came from: absolute numbers mean nothing without it.
import { readFileSync } from 'node:fs';
import { cpus, hostname, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { run } from '../../harness/exec/run.js';
import { REPO_ROOT } from '../../harness/paths.js';
import type { PerfEnvironment } from '../../reports/performance-model.js';

async function firstLine(argv: string[]): Promise<string> {
  const r = await run(argv, { allowFailure: true, timeoutMs: 5000 });
  return (r.stdout + r.stderr).replace(/\x1b\[[0-9;]*m/g, '').split('\n').map((l) => l.trim()).find((l) => l) ?? 'unknown';
}

export async function captureEnvironment(): Promise<PerfEnvironment> {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version?: string };
  const git = await run(['git', '-C', REPO_ROOT, 'rev-parse', 'HEAD'], { allowFailure: true, timeoutMs: 5000 });
  const c = cpus();
  return {
    kernel: release(),
    cpuModel: c[0]?.model ?? 'unknown',
    cpuCount: c.length,
    memoryBytes: totalmem(),
    nodeVersion: process.version,
    cnilabVersion: pkg.version ?? 'unknown',
    ...(git.code === 0 && git.stdout.trim() ? { gitCommit: git.stdout.trim() } : {}),
    hostname: hostname(),
    platform: `${process.platform}/${process.arch}`,
    tools: {
      iperf3: await firstLine(['iperf3', '--version']),
      sockperf: (await firstLine(['sockperf', '--version'])).replace(/^sockperf,?\s*/, ''),
    },
    date: new Date().toISOString(),
  };
}
