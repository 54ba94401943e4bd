// `cnilab bench`: the performance scenario on fresh pf-* clusters, all configurations interleaved,
// written as perf.json (source of truth), perf.md and perf.html. Missed targets are reported, not an
// error: exit 0 whenever it ran, 1 when nothing at all could be measured, 2 on bad input, 130 when
// interrupted (after tearing the clusters down and writing the partial result).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InvalidInputError } from '../errors.js';
import { validateClusterName } from '../cluster/names.js';
import { PERF_CONFIG_NAMES, type PerfConfigName } from '../../reports/performance-model.js';
import { renderPerfMarkdown, renderPerfTerminal } from '../../reports/performance-text.js';
import { renderPerformanceHtml } from '../../reports/html.js';
import { isPerfConfigName } from '../../scenarios/performance/configs.js';
import { defaultRunOptions, runPerformance, type PerfRunOptions } from '../../scenarios/performance/run.js';
import { parseFlags, reportError } from './common.js';

const USAGE = `usage: cnilab bench [--out DIR] [--samples N] [--duration S] [--config NAME]... [--quick] [--udp-rate 1G] [--prefix pf-]
  configurations: ${PERF_CONFIG_NAMES.join(', ')} (default: all)
       cnilab bench --compare-datapath BASE [--head-datapath HEAD] …   the A/B gate (cnilab bench --compare-datapath x --help)
`;

function positiveInt(field: string, s: string | undefined, max: number): number | undefined {
  if (s === undefined) return undefined;
  // iperf3 -t takes whole seconds only.
  if (!/^\d+$/.test(s) || Number(s) < 1 || Number(s) > max) throw new InvalidInputError(field, `expected a whole number from 1 to ${max}, got "${s}"`);
  return Number(s);
}

export function benchOptions(args: string[]): { opts: PerfRunOptions; out: string; help: boolean } {
  const { values, positionals } = parseFlags(args, {
    out: { type: 'string' },
    samples: { type: 'string' },
    duration: { type: 'string' },
    config: { type: 'string', multiple: true },
    quick: { type: 'boolean' },
    'udp-rate': { type: 'string' },
    prefix: { type: 'string' },
  });
  if (positionals.length) throw new InvalidInputError('bench', `unexpected argument "${positionals[0]}"\n${USAGE}`);
  const configs = ((values.config as string[] | undefined) ?? [...PERF_CONFIG_NAMES]).flatMap((c) => c.split(','));
  for (const c of configs) if (!isPerfConfigName(c)) throw new InvalidInputError('--config', `unknown configuration "${c}"; expected one of ${PERF_CONFIG_NAMES.join(', ')}`);
  const base = defaultRunOptions(!!values.quick);
  const durationSec = positiveInt('--duration', values.duration, 600) ?? base.durationSec;
  const udp = (values['udp-rate'] as string | undefined) ?? base.udpBitrate;
  if (!/^\d+(\.\d+)?[KMG]?$/.test(udp)) throw new InvalidInputError('--udp-rate', `expected an iperf3 rate like 500M or 1G, got "${udp}"`);
  const prefix = (values.prefix as string | undefined) ?? base.clusterPrefix;
  validateClusterName(`${prefix}base`, '--prefix');
  const opts: PerfRunOptions = {
    ...base,
    // Keep report order whatever order the flags came in, and each configuration once.
    configs: PERF_CONFIG_NAMES.filter((n) => configs.includes(n)) as PerfConfigName[],
    samples: positiveInt('--samples', values.samples, 100) ?? base.samples,
    durationSec,
    latencyDurationSec: values.duration !== undefined ? Math.max(1, Math.round(durationSec / 2)) : base.latencyDurationSec,
    udpBitrate: udp,
    clusterPrefix: prefix,
  };
  return { opts, out: resolve((values.out as string | undefined) ?? 'reports/latest'), help: !!values.help };
}

export function writeReports(dir: string, result: Awaited<ReturnType<typeof runPerformance>>): string[] {
  mkdirSync(dir, { recursive: true });
  const files = [join(dir, 'perf.json'), join(dir, 'perf.md'), join(dir, 'perf.html')];
  writeFileSync(files[0]!, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(files[1]!, renderPerfMarkdown(result));
  writeFileSync(files[2]!, renderPerformanceHtml(result));
  return files;
}

export async function bench(args: string[]): Promise<number> {
  if (args.some((a) => a === '--compare-datapath' || a.startsWith('--compare-datapath='))) return (await import('./bench-compare.js')).benchCompare(args);
  let parsed: ReturnType<typeof benchOptions>;
  try {
    parsed = benchOptions(args);
  } catch (err) {
    return reportError(err, args.includes('--verbose'));
  }
  if (parsed.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const abort = new AbortController();
  let signalled = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (!signalled) process.stderr.write(`\n${sig}: stopping after the current sample, then tearing the clusters down\n`);
    signalled = true;
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const t0 = Date.now();
    const result = await runPerformance({
      ...parsed.opts,
      signal: abort.signal,
      onProgress: (m) => process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${m}\n`),
    });
    const files = writeReports(parsed.out, result);
    process.stdout.write(renderPerfTerminal(result));
    process.stdout.write(`wrote ${files.join(', ')}\n`);
    if (signalled) return 130;
    return result.metrics.length ? 0 : 1;
  } catch (err) {
    const code = reportError(err, args.includes('--verbose'));
    return signalled ? 130 : code;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
