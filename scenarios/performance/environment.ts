// The machine a performance result came from: absolute numbers mean nothing without it.
import { run } from '../../harness/exec/run.js';
import { collectEnvironment } from '../../reports/environment.js';
import type { PerfEnvironment } from '../../reports/performance-model.js';

async function firstLine(argv: string[]): Promise<string> {
  const r = await run(argv, { allowFailure: true, timeoutMs: 5000 });
  return (r.stdout + r.stderr).replace(/\x1b\[[0-9;]*m/g, '').split('\n').map((l) => l.trim()).find((l) => l) ?? 'unknown';
}

export async function captureEnvironment(): Promise<PerfEnvironment> {
  return {
    ...(await collectEnvironment()),
    tools: {
      iperf3: await firstLine(['iperf3', '--version']),
      sockperf: (await firstLine(['sockperf', '--version'])).replace(/^sockperf,?\s*/, ''),
    },
    date: new Date().toISOString(),
  };
}
