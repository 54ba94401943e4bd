// `cnilab run --provider kubeconfig --kubeconfig FILE`: the suites through a provider, on a cluster
// that exists already (any cluster from a kubeconfig — the embedded one's own included), instead of a
// fresh embedded cluster per configuration. Nothing is created but the suites' objects and the
// provider's node helpers (removed afterwards); the report names the provider and the CNI it found.
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { InvalidInputError } from '../errors.js';
import { validateLabel } from '../cluster/names.js';
import type { Provider } from '../providers/common/provider.js';
import type { Suite } from '../../scenarios/framework/model.js';
import { runThroughProvider } from '../../scenarios/framework/provider-run.js';
import { SCHEMA_VERSION, runPassed, summarizeRun } from '../../reports/model.js';
import { collectEnvironment } from '../../reports/environment.js';
import { renderTerminal } from '../../reports/terminal.js';
import { writeReports } from '../../reports/write.js';

/** What `run --provider` takes: netns is the default path (a fresh embedded cluster, run.ts). */
export const RUN_PROVIDERS = ['netns', 'kubeconfig'] as const;
/** The suites that reach the cluster only through the provider interface: all of them. */
export const PROVIDER_SUITES = ['connectivity', 'policy', 'visibility', 'faults'];
/** What runs when no --suite is given: the connectivity suite (the policy suite's ~100 cases through
 *  exec take long; ask for it with --suite policy, or --cases / --policy-set). */
export const DEFAULT_PROVIDER_SUITES = ['connectivity'];

export interface ProviderRunFlags {
  kubeconfig: string;
  context?: string;
  podMtu?: number;
  /** The cluster's routing mode, which the wire checks judge the underlay by (default tunnel). */
  routing?: 'tunnel' | 'native';
  name: string;
}

/** Validate the flags of a provider run; bad input names its flag (exit 2), before anything is reached. */
export function parseProviderRunFlags(values: Record<string, any>, suites: string[] | undefined): ProviderRunFlags & { suites: string[] } {
  const file = values.kubeconfig as string | undefined;
  if (!file) throw new InvalidInputError('--kubeconfig', 'required with --provider kubeconfig: the kubeconfig file of the cluster to test');
  if (!existsSync(file)) throw new InvalidInputError('--kubeconfig', `no such file: ${file}`);
  if (values.config?.length) throw new InvalidInputError('--config', 'names embedded-cluster configurations; a cluster from a kubeconfig is what it is');
  if (values.keep) throw new InvalidInputError('--keep', 'a cluster from a kubeconfig is never torn down');
  let podMtu: number | undefined;
  if (values['pod-mtu'] !== undefined) {
    const v = String(values['pod-mtu']);
    if (!/^\d+$/.test(v) || Number(v) < 576 || Number(v) > 65535) throw new InvalidInputError('--pod-mtu', `expected a whole number from 576 to 65535, got "${v}"`);
    podMtu = Number(v);
  }
  const routing = values.routing as string | undefined;
  if (routing !== undefined && routing !== 'tunnel' && routing !== 'native') throw new InvalidInputError('--routing', `expected tunnel or native, got "${routing}"`);
  const policyFlags = values.cases?.length || values['policy-set']?.length;
  const chosen = suites?.length ? [...new Set(suites)] : policyFlags ? ['policy'] : DEFAULT_PROVIDER_SUITES;
  const other = chosen.find((s) => !PROVIDER_SUITES.includes(s));
  // Every suite runs through the provider now; anything else is not a suite.
  if (other) throw new InvalidInputError('--suite', `unknown suite "${other}"; known: ${PROVIDER_SUITES.join(', ')}`);
  const name = validateLabel('--name', (values.name as string | undefined) ?? 'kubeconfig');
  return { kubeconfig: file, ...(values.context ? { context: String(values.context) } : {}), ...(podMtu ? { podMtu } : {}), ...(routing ? { routing } : {}), name, suites: chosen };
}

export async function runWithProvider(flags: ProviderRunFlags, suites: Suite[], o: { outDir: string; concurrency?: number; say: (m: string) => void }): Promise<number> {
  const { KubeconfigProvider } = await import('../providers/kubeconfig/provider.js');
  let provider: Provider;
  try {
    provider = new KubeconfigProvider(flags.kubeconfig, flags.context ? { context: flags.context } : {});
  } catch (e) {
    throw new InvalidInputError('--kubeconfig', `${flags.kubeconfig}: ${(e as Error).message}`);
  }
  const started = new Date();
  const environment = await collectEnvironment();
  let cfg;
  try {
    cfg = await runThroughProvider(provider, suites, { name: flags.name, podMtu: flags.podMtu, routing: flags.routing, concurrency: o.concurrency, log: o.say });
  } finally {
    // Only what cnilab put there (its node helpers) goes; the cluster and the suites' namespaces stay.
    await provider.destroy().catch((e: Error) => o.say(`removing the node helpers failed: ${e.message}`));
  }
  const finished = new Date();
  const result = {
    schemaVersion: SCHEMA_VERSION,
    runId: `${started.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${randomBytes(3).toString('hex')}`,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs: finished.getTime() - started.getTime(),
    environment,
    configurations: [cfg],
    summary: summarizeRun([cfg]),
  };
  const files = writeReports(result, o.outDir);
  process.stdout.write(renderTerminal(result));
  process.stdout.write(`reports: ${files.json}, ${files.markdown}, ${files.html}, ${files.junit}\n`);
  return runPassed(result) ? 0 : 1;
}
