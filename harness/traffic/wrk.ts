// HTTP load with wrk (Debian's wrk 4.x): a fixed number of keep-alive connections for a fixed time,
// run inside a pod's netns through the one exec wrapper. `--latency` makes it print its latency
// distribution; we keep requests/s and p50/p90/p99 (in µs), and refuse a run with socket errors or
// non-2xx answers rather than report a rate made of failures.
import { run } from '../exec/run.js';
import { CnilabError } from '../errors.js';
import { pinned } from './cpu-pin.js';

export interface WrkOptions {
  netns: string;
  url: string;
  durationSec: number;
  connections?: number;
  threads?: number;
  /** Pin the process to this CPU (taskset), for benchmark hygiene. */
  cpu?: number;
}

export interface WrkResult {
  requests: number;
  requestsPerSec: number;
  p50: number;
  p75: number;
  p90: number;
  p99: number;
  /** Socket errors (connect/read/write/timeout) and non-2xx/3xx answers, as wrk counts them. */
  errors: number;
  non2xx: number;
}

const UNIT_US: Record<string, number> = { us: 1, ms: 1000, s: 1_000_000, m: 60_000_000 };

function toUs(value: string, unit: string): number {
  const k = UNIT_US[unit];
  if (k === undefined) throw new CnilabError('COMMAND_FAILED', `wrk: unknown latency unit "${unit}"`);
  return Number(value) * k;
}

export function parseWrk(text: string): WrkResult {
  const pct = (p: number) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(text);
    if (!m) throw new CnilabError('COMMAND_FAILED', `wrk: no ${p}% latency in its output (was --latency given?)`, { detail: text.slice(-2000) });
    return toUs(m[1]!, m[2]!);
  };
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(text);
  const total = /^\s*(\d+) requests in /m.exec(text);
  if (!rps || !total) throw new CnilabError('COMMAND_FAILED', 'wrk: no "Requests/sec" in its output', { detail: text.slice(-2000) });
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const errors = sock ? sock.slice(1).map(Number).reduce((a, b) => a + b, 0) : 0;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0);
  return { requests: Number(total[1]), requestsPerSec: Number(rps[1]), p50: pct(50), p75: pct(75), p90: pct(90), p99: pct(99), errors, non2xx };
}

export function wrkArgv(o: WrkOptions): string[] {
  return ['wrk', `--threads=${o.threads ?? 1}`, `--connections=${o.connections ?? 4}`, `--duration=${o.durationSec}s`, '--latency', o.url];
}

export async function runWrk(o: WrkOptions): Promise<WrkResult> {
  const r = await run(pinned(wrkArgv(o), o.cpu), { netns: o.netns, timeoutMs: (o.durationSec + 20) * 1000, allowFailure: true });
  if (r.code !== 0) throw new CnilabError('COMMAND_FAILED', `wrk exited with ${r.code} against ${o.url}`, { detail: r.stderr || r.stdout });
  const w = parseWrk(r.stdout);
  if (w.requests === 0) throw new CnilabError('COMMAND_FAILED', `wrk completed no request against ${o.url}`, { detail: r.stdout });
  if (w.errors || w.non2xx) throw new CnilabError('COMMAND_FAILED', `wrk against ${o.url}: ${w.errors} socket errors, ${w.non2xx} non-2xx answers`, { detail: r.stdout });
  return w;
}
