// `cnilab selftest [--mutation NAME]... [--skip-baseline] [--out DIR] [--list]`: mutation testing of
// cnilab itself. Every mutation of the catalogue (scenarios/mutations/catalogue.ts: broken datapath
// builds, agent faults, harness faults) runs on a fresh cluster against the suites it names; the report
// says which checks caught each one and the mutation score. Exit 0: every mutation detected and the
// baseline clean; 1: a mutation went unnoticed (or errored, or the baseline failed); 2: bad input;
// 3: unsupported (cnilab not built); 130: interrupted.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InvalidInputError, UnsupportedError } from '../errors.js';
import { REPO_ROOT } from '../paths.js';
import { renderSelftestMarkdown, renderSelftestTerminal } from '../../reports/selftest-model.js';
import { cnilabCniAvailable } from '../../scenarios/framework/configuration.js';
import { CATALOGUE } from '../../scenarios/mutations/catalogue.js';
import { describeEnable, runSelftest } from '../../scenarios/mutations/run.js';
import { parseFlags } from './common.js';
import { SUITES } from './run.js';

const USAGE = `usage: cnilab selftest [--mutation NAME]... [--skip-baseline] [--out DIR] [--list]
  runs every mutation of the catalogue (or the ones named) against the suites; writes selftest.json and
  selftest.md to --out (default reports/latest)
`;

export async function selftest(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    mutation: { type: 'string', multiple: true },
    'skip-baseline': { type: 'boolean' },
    out: { type: 'string' },
    list: { type: 'boolean' },
    quiet: { type: 'boolean', short: 'q' },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length) throw new InvalidInputError('selftest', `unexpected argument "${positionals[0]}"\n${USAGE}`);
  if (values.list) {
    for (const m of CATALOGUE) process.stdout.write(`${m.name.padEnd(28)} ${m.configs.join(',').padEnd(27)} ${describeEnable(m)}\n    ${m.what}; caught by ${m.expectCaughtBy.join(' | ')}\n`);
    return 0;
  }
  const names = ((values.mutation as string[] | undefined) ?? []).flatMap((s) => s.split(','));
  for (const n of names) if (!CATALOGUE.some((m) => m.name === n)) throw new InvalidInputError('--mutation', `unknown mutation "${n}"; \`cnilab selftest --list\` shows the catalogue`);
  const built = cnilabCniAvailable();
  if (!built.available) throw new UnsupportedError(`cnilab selftest: ${built.why}`, 'a build: `bash scripts/bootstrap.sh`');
  const mutations = names.length ? CATALOGUE.filter((m) => names.includes(m.name)) : CATALOGUE;
  const out = resolve((values.out as string | undefined) ?? join(REPO_ROOT, 'reports/latest'));
  const t0 = Date.now();
  const log = (m: string) => {
    if (!values.quiet) process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${m}\n`);
  };
  const abort = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    process.stderr.write(`\n${sig}: stopping after the current mutation (its cluster is torn down)\n`);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const result = await runSelftest({ mutations, loadSuite: (n) => SUITES[n]!({}), skipBaseline: !!values['skip-baseline'], log, signal: abort.signal });
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'selftest.json'), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(join(out, 'selftest.md'), renderSelftestMarkdown(result));
    process.stdout.write(renderSelftestTerminal(result));
    process.stdout.write(`wrote ${join(out, 'selftest.json')}, ${join(out, 'selftest.md')}\n`);
    if (abort.signal.aborted) return 130;
    return result.passed ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
