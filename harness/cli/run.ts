// cnilab run: bring up a fresh cluster per configuration, run the suites, always tear down, write
// result.json / report.md / report.html / junit.xml, print the summary. Exit 0 only when every check passed,
// 1 when anything failed, 2 for bad input, 130 when interrupted (after tearing down).
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { parseFlags } from './common.js';
import { InvalidInputError, UnsupportedError } from '../errors.js';
import { validateLabel, CLUSTER_NAME_MAX } from '../cluster/names.js';
import { destroyCluster } from '../providers/netns/cluster.js';
import { REPO_ROOT } from '../paths.js';
import { CONFIGURATIONS, cnilabCniAvailable, runConfiguration, type ConfigurationDef } from '../../scenarios/framework/configuration.js';
import type { Suite } from '../../scenarios/framework/model.js';
import { SCHEMA_VERSION, runPassed, summarizeRun, type ConfigurationResult, type RunResult } from '../../reports/model.js';
import { collectEnvironment } from '../../reports/environment.js';
import { renderTerminal } from '../../reports/terminal.js';
import { writeReports } from '../../reports/write.js';
import { RUN_PROVIDERS, parseProviderRunFlags, runWithProvider } from './run-provider.js';

/** Flags some suites take (the policy suite: user case files and case sets). */
export interface SuiteFlags {
  cases?: string[];
  policySets?: string[];
}

/** Suites by name, loaded on demand. Add new suites here. */
export const SUITES: Record<string, (flags: SuiteFlags) => Promise<Suite>> = {
  connectivity: async () => (await import('../../scenarios/connectivity/index.js')).connectivitySuite,
  faults: async () => (await import('../../scenarios/faults/index.js')).faultsSuite,
  policy: async (f) => (await import('../../scenarios/policy/index.js')).policySuiteFromFlags(f.cases, f.policySets),
  visibility: async () => (await import('../../scenarios/visibility/index.js')).visibilitySuite,
};

const USAGE = `usage: cnilab run [--suite NAME]... [--config NAME]... [--out DIR] [--name PREFIX] [--keep] [--concurrency N]
                  [--cases FILE]... [--policy-set SET]...
       cnilab run --provider kubeconfig --kubeconfig FILE [--context CTX] [--pod-mtu N] [--routing tunnel|native] [--suite connectivity|policy|visibility|faults]...
                  [--cases FILE]... [--policy-set SET]... [--out DIR]
  --suite   ${Object.keys(SUITES).join(', ')} (default: all)
  --cases   policy cases of your own, as YAML (format: scenarios/policy/README.md); implies --suite policy
            unless --suite is given
  --policy-set  built-in policy cases to run: upstream, cni-bugs, generated, cilium (default: all)
  --config  ${Object.keys(CONFIGURATIONS).join(', ')} (default: cnilab-tunnel; unsupported, exit 3, when cnilab is not built)
  --out     report directory (default reports/latest): result.json, report.md, report.html, junit.xml
  --name    prefix of the cluster names (default "run"); each cluster gets "-<config>-<random>"
  --keep    leave the clusters running afterwards (remove them with cnilab down --name NAME)
  --provider  ${RUN_PROVIDERS.join(', ')} (default netns: a fresh embedded cluster per configuration);
            kubeconfig runs the connectivity suite (default; with its services scenario), the policy, the
            visibility or the faults suite (node faults through privileged helper pods) on the existing cluster of --kubeconfig (objects through its API, commands through pods/exec), with --pod-mtu the MTU its
            pods must have and --routing the routing mode the wire checks judge the underlay by (default tunnel)
`;

const RANDOM_SUFFIX_LEN = 4;

export function clusterNameFor(prefix: string, def: ConfigurationDef, suffix = randomBytes(2).toString('hex')): string {
  return `${prefix}-${def.tag}-${suffix}`;
}

function parsePrefix(value: string | undefined): string {
  const prefix = value ?? 'run';
  // Room for "-tun-abcd" within the cluster name limit.
  return validateLabel('--name', prefix, CLUSTER_NAME_MAX - (RANDOM_SUFFIX_LEN + 5));
}

export function selectConfigurations(names: string[] | undefined, say: (m: string) => void, available = cnilabCniAvailable): ConfigurationDef[] {
  if (names?.length) {
    return [...new Set(names)].map((n) => {
      const def = CONFIGURATIONS[n];
      if (!def) throw new InvalidInputError('--config', `unknown configuration "${n}"; known: ${Object.keys(CONFIGURATIONS).join(', ')}`);
      return def;
    });
  }
  // The default tests cnilab. Falling back to another CNI would report a green run of something else;
  // a baseline is tested only when asked for by name.
  const cnilab = available();
  if (!cnilab.available) throw new UnsupportedError(`cnilab-tunnel, the default configuration: ${cnilab.why}`, 'a build: `bash scripts/bootstrap.sh`; or name a configuration with --config');
  const chosen = CONFIGURATIONS['cnilab-tunnel']!;
  say(`configuration ${chosen.name}: ${cnilab.why}`);
  return [chosen];
}

export async function selectSuites(names: string[] | undefined, flags: SuiteFlags = {}): Promise<Suite[]> {
  const chosen = names?.length ? names : flags.cases?.length || flags.policySets?.length ? ['policy'] : Object.keys(SUITES);
  const wanted = [...new Set(chosen)];
  for (const n of wanted) {
    if (!Object.hasOwn(SUITES, n)) throw new InvalidInputError('--suite', `unknown suite "${n}"; known: ${Object.keys(SUITES).join(', ')}`);
  }
  if ((flags.cases?.length || flags.policySets?.length) && !wanted.includes('policy')) {
    throw new InvalidInputError(flags.cases?.length ? '--cases' : '--policy-set', 'applies to the policy suite; add --suite policy');
  }
  return Promise.all(wanted.map((n) => SUITES[n]!(flags)));
}

export async function runCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    out: { type: 'string', short: 'o' },
    suite: { type: 'string', multiple: true },
    config: { type: 'string', multiple: true },
    name: { type: 'string' },
    keep: { type: 'boolean' },
    concurrency: { type: 'string' },
    quiet: { type: 'boolean', short: 'q' },
    cases: { type: 'string', multiple: true },
    'policy-set': { type: 'string', multiple: true },
    provider: { type: 'string' },
    kubeconfig: { type: 'string' },
    context: { type: 'string' },
    'pod-mtu': { type: 'string' },
    routing: { type: 'string' },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (positionals.length) throw new InvalidInputError('arguments', `unexpected "${positionals[0]}"\n${USAGE}`);
  const say = (m: string) => {
    if (!values.quiet) process.stderr.write(` • ${m}\n`);
  };
  let concurrency: number | undefined;
  if (values.concurrency !== undefined) {
    if (!/^\d+$/.test(values.concurrency) || Number(values.concurrency) < 1 || Number(values.concurrency) > 64) {
      throw new InvalidInputError('--concurrency', `expected a whole number from 1 to 64, got "${values.concurrency}"`);
    }
    concurrency = Number(values.concurrency);
  }
  const provider = values.provider ?? 'netns';
  if (!(RUN_PROVIDERS as readonly string[]).includes(provider)) throw new InvalidInputError('--provider', `expected ${RUN_PROVIDERS.join(' or ')}, got "${provider}"`);
  if (provider === 'kubeconfig') {
    const flags = parseProviderRunFlags(values, values.suite);
    return runWithProvider(flags, await selectSuites(flags.suites, { cases: values.cases, policySets: values['policy-set'] }), { outDir: resolve(values.out ?? resolve(REPO_ROOT, 'reports/latest')), concurrency, say });
  }
  for (const f of ['kubeconfig', 'context', 'pod-mtu', 'routing']) if (values[f] !== undefined) throw new InvalidInputError(`--${f}`, 'applies to --provider kubeconfig');
  const prefix = parsePrefix(values.name);
  const outDir = resolve(values.out ?? resolve(REPO_ROOT, 'reports/latest'));
  const suites = await selectSuites(values.suite, { cases: values.cases, policySets: values['policy-set'] });
  const configs = selectConfigurations(values.config, say);

  const started = new Date();
  const runId = `${started.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
  const environment = await collectEnvironment();
  const results: ConfigurationResult[] = [];
  const build = (interrupted: boolean): RunResult => {
    const finished = new Date();
    return {
      schemaVersion: SCHEMA_VERSION,
      runId,
      startedAt: started.toISOString(),
      finishedAt: finished.toISOString(),
      durationMs: finished.getTime() - started.getTime(),
      ...(interrupted ? { interrupted: true } : {}),
      environment,
      configurations: results,
      summary: summarizeRun(results),
    };
  };

  // Ctrl-C / SIGTERM: tear down the cluster in flight (its name is ours: random suffix), write what
  // we have as an interrupted run, exit 130. A second signal while tearing down is ignored.
  let current: string | undefined;
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\n${sig}: ${current && !values.keep ? `tearing down cluster ${current}` : 'stopping'}\n`);
    const teardown = current && !values.keep ? destroyCluster(current).then(() => undefined) : Promise.resolve();
    void teardown
      .catch((e: Error) => process.stderr.write(`teardown of ${current} failed: ${e.message}; run \`cnilab down --name ${current}\`\n`))
      .finally(() => {
        try {
          const files = writeReports(build(true), outDir);
          process.stderr.write(`partial reports in ${files.json}\n`);
        } catch {
          /* reports are best effort when interrupted */
        }
        process.exit(130);
      });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    for (const def of configs) {
      current = clusterNameFor(prefix, def);
      const r = await runConfiguration(def, suites, { clusterName: current, keep: values.keep, concurrency, log: say });
      if (values.keep) say(`kept cluster ${current}: remove it with \`cnilab down --name ${current}\``);
      current = undefined;
      results.push(r);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const result = build(false);
  const files = writeReports(result, outDir);
  process.stdout.write(renderTerminal(result));
  process.stdout.write(`reports: ${files.json}, ${files.markdown}, ${files.html}, ${files.junit}\n`);
  return runPassed(result) ? 0 : 1;
}
