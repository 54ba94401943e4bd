// `cnilab bench --compare-datapath BASE [--head-datapath HEAD]`: the A/B gate. BASE and HEAD are built
// BPF objects or git refs (built in a temporary worktree); HEAD defaults to this checkout's build. Both
// come up as cnilab clusters side by side, samples are interleaved round by round (the order rotating),
// and each metric's head/base ratio is reported with its 95 % interval (reports/ab-gate.ts). Exit 0:
// no metric regressed beyond the threshold; 1: one did, or a sample failed; 2: bad input; 130:
// interrupted (clusters torn down, temporary worktree and objects removed).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InvalidInputError } from '../errors.js';
import { validateClusterName } from '../cluster/names.js';
import { TESTS, type TestKind } from '../../reports/performance-model.js';
import { AB_SCHEMA_VERSION, AB_SIDES, abPassed, evaluateAb, noiseFloor, renderAbMarkdown, renderAbTerminal, type AbReport } from '../../reports/ab-gate.js';
import { parsePercent } from '../../reports/compare.js';
import type { PerfConfigDef } from '../../scenarios/performance/configs.js';
import { currentDatapath, resolveDatapath, type DatapathSource } from '../../scenarios/performance/datapath-source.js';
import { runPerformance, type PerfRunOptions } from '../../scenarios/performance/run.js';
import { parseFlags, reportError } from './common.js';

export const AB_USAGE = `usage: cnilab bench --compare-datapath BASE [--head-datapath HEAD] [--routing tunnel|native] [--threshold 5%]
                    [--samples N] [--duration S] [--test NAME]... [--out DIR] [--prefix ab-]
  BASE, HEAD   a built BPF object (bpf/build/datapath.o) or a git ref (built in a temporary worktree);
               HEAD defaults to this checkout's build. BASE = HEAD is an A/A run: the gate's own test.
  --test       ${TESTS.join(', ')} (default: all)
  --samples    interleaved rounds (default 8: 6 or more pairs give a signed-rank interval at 95 %)
`;

export interface AbOptions {
  base: string;
  head?: string;
  routing: 'tunnel' | 'native';
  threshold: number;
  run: Omit<PerfRunOptions, 'configs' | 'defs'>;
  out: string;
}

export function abOptions(args: string[]): { opts: AbOptions; help: boolean } {
  const { values, positionals } = parseFlags(args, {
    'compare-datapath': { type: 'string' },
    'head-datapath': { type: 'string' },
    routing: { type: 'string' },
    threshold: { type: 'string' },
    samples: { type: 'string' },
    duration: { type: 'string' },
    test: { type: 'string', multiple: true },
    out: { type: 'string' },
    prefix: { type: 'string' },
  });
  if (positionals.length) throw new InvalidInputError('bench', `unexpected argument "${positionals[0]}"\n${AB_USAGE}`);
  const base = values['compare-datapath'] as string | undefined;
  if (!base) throw new InvalidInputError('--compare-datapath', 'needs a BPF object path or a git ref');
  const routing = (values.routing as string | undefined) ?? 'tunnel';
  if (routing !== 'tunnel' && routing !== 'native') throw new InvalidInputError('--routing', `expected tunnel or native, got "${routing}"`);
  const int = (field: string, s: string | undefined, dflt: number, min: number, max: number) => {
    if (s === undefined) return dflt;
    if (!/^\d+$/.test(s) || Number(s) < min || Number(s) > max) throw new InvalidInputError(field, `expected a whole number from ${min} to ${max}, got "${s}"`);
    return Number(s);
  };
  const tests = ((values.test as string[] | undefined) ?? [...TESTS]).flatMap((t) => t.split(','));
  for (const t of tests) if (!(TESTS as readonly string[]).includes(t)) throw new InvalidInputError('--test', `unknown test "${t}"; expected one of ${TESTS.join(', ')}`);
  const prefix = (values.prefix as string | undefined) ?? 'ab-';
  validateClusterName(`${prefix}head`, '--prefix');
  const durationSec = int('--duration', values.duration, 2, 1, 600);
  return {
    help: !!values.help,
    opts: {
      base,
      head: values['head-datapath'] as string | undefined,
      routing,
      threshold: parsePercent('--threshold', (values.threshold as string | undefined) ?? '5%'),
      out: resolve((values.out as string | undefined) ?? 'reports/latest'),
      run: {
        samples: int('--samples', values.samples, 8, 2, 100),
        durationSec,
        latencyDurationSec: Math.max(1, Math.round(durationSec / 2)),
        udpBitrate: '1G',
        quick: false,
        tests: TESTS.filter((t) => tests.includes(t)) as TestKind[],
        clusterPrefix: prefix,
      },
    },
  };
}

function side(name: string, src: DatapathSource, routing: 'tunnel' | 'native'): PerfConfigDef {
  return { name, cni: 'cnilab', routing, short: name, description: `cnilab ${routing} with the datapath of ${src.label}`, objectPath: src.objectPath };
}

export async function benchCompare(args: string[]): Promise<number> {
  let parsed: ReturnType<typeof abOptions>;
  try {
    parsed = abOptions(args);
  } catch (err) {
    return reportError(err, args.includes('--verbose'));
  }
  if (parsed.help) {
    process.stdout.write(AB_USAGE);
    return 0;
  }
  const o = parsed.opts;
  const t0 = Date.now();
  const log = (m: string) => process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${m}\n`);
  const abort = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    process.stderr.write(`\n${sig}: stopping after the current sample, then tearing the clusters down\n`);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const sources: DatapathSource[] = [];
  try {
    const base = await resolveDatapath(o.base, '--compare-datapath', { log });
    sources.push(base);
    const head = o.head ? await resolveDatapath(o.head, '--head-datapath', { log }) : currentDatapath();
    sources.push(head);
    const aa = base.objectPath === head.objectPath || (!!base.commit && base.commit === head.commit);
    log(`base ${base.objectPath}, head ${head.objectPath}${aa ? ' (A/A)' : ''}`);
    const perf = await runPerformance({
      ...o.run,
      configs: [],
      defs: [side(AB_SIDES.base, base, o.routing), side(AB_SIDES.head, head, o.routing)],
      signal: abort.signal,
      onProgress: log,
    });
    const metrics = evaluateAb(perf, { threshold: o.threshold });
    const strip = (s: DatapathSource) => ({ label: s.label, objectPath: s.objectPath, ...(s.commit ? { commit: s.commit } : {}) });
    const report: AbReport = {
      kind: 'ab-gate',
      schemaVersion: AB_SCHEMA_VERSION,
      base: strip(base),
      head: strip(head),
      routing: o.routing,
      threshold: o.threshold,
      aa,
      metrics,
      noiseFloor: noiseFloor(metrics),
      passed: abPassed(metrics) && !perf.interrupted,
      perf,
    };
    mkdirSync(o.out, { recursive: true });
    writeFileSync(join(o.out, 'ab.json'), `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(join(o.out, 'ab.md'), renderAbMarkdown(report));
    process.stdout.write(renderAbTerminal(report));
    process.stdout.write(`wrote ${join(o.out, 'ab.json')}, ${join(o.out, 'ab.md')}\n`);
    if (abort.signal.aborted) return 130;
    return report.passed ? 0 : 1;
  } catch (err) {
    const code = reportError(err, args.includes('--verbose'));
    return abort.signal.aborted ? 130 : code;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    for (const s of sources) await s.cleanup().catch(() => undefined);
  }
}
