// One cluster configuration end to end: create a fresh cluster, bring up every scenario's pods at
// once (timed as bring-up), run the suites, and always tear the cluster down.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { resolveSpec, type CniKind, type RoutingMode, type ClusterSpec } from '../../harness/cluster/spec.js';
import { createCluster, destroyCluster } from '../../harness/providers/netns/cluster.js';
import { BPF_BUILD_DIR, distJs } from '../../harness/paths.js';
import { summarizeSuites, type ConfigurationResult } from '../../reports/model.js';
import { notApplicable, type Suite } from './model.js';
import { errorText, setUpAndRunSuites, type RunnerEnv } from './runner.js';

export interface ConfigurationDef {
  name: string;
  cni: CniKind;
  routing: RoutingMode;
  nodes: number;
  /** Short tag used in cluster names (they are limited to 32 characters). */
  tag: string;
}

export const CONFIGURATIONS: Record<string, ConfigurationDef> = {
  'cnilab-tunnel': { name: 'cnilab-tunnel', cni: 'cnilab', routing: 'tunnel', nodes: 3, tag: 'tun' },
  'cnilab-native': { name: 'cnilab-native', cni: 'cnilab', routing: 'native', nodes: 3, tag: 'nat' },
  'reference-bridge': { name: 'reference-bridge', cni: 'reference-bridge', routing: 'native', nodes: 3, tag: 'ref' },
};

/** Whether cnilab's own CNI is built; `why` says what was looked at, for the CLI to print. */
export function cnilabCniAvailable(): { available: boolean; why: string } {
  const agent = distJs('agent/main');
  const datapath = resolve(BPF_BUILD_DIR, 'datapath.o');
  const missing = [agent, datapath].filter((f) => !existsSync(f));
  return missing.length
    ? { available: false, why: `cnilab CNI not built (missing ${missing.join(', ')})` }
    : { available: true, why: `cnilab CNI built (${agent}, ${datapath})` };
}

export interface ConfigurationRunOptions {
  clusterName: string;
  /** Keep the cluster afterwards (for debugging). */
  keep?: boolean;
  concurrency?: number;
  log?: (msg: string) => void;
  /** Called once the cluster exists, so a signal handler knows what to tear down. */
  onClusterCreated?: (name: string) => void;
  /** Environment for the cluster's daemon and agents (selftest: a mutant datapath, an agent fault). */
  env?: Record<string, string>;
}

/** Every scenario's setup objects, once each (several scenarios may share a workload). */
function unionSetup(suites: Suite[], spec: ClusterSpec): unknown[] {
  const seen = new Set<string>();
  const out: unknown[] = [];
  for (const sc of suites.flatMap((s) => s.scenarios)) {
    if (notApplicable(sc.topology, spec)) continue;
    for (const o of sc.setup(spec) as Array<{ kind?: string; metadata?: { namespace?: string; name?: string } }>) {
      const key = `${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(o);
    }
  }
  return out;
}

export async function runConfiguration(def: ConfigurationDef, suites: Suite[], opts: ConfigurationRunOptions): Promise<ConfigurationResult> {
  const log = opts.log ?? (() => undefined);
  const result: ConfigurationResult = { name: def.name, cni: def.cni, routing: def.routing, nodes: def.nodes, clusterName: opts.clusterName, suites: [], summary: summarizeSuites([]) };
  let created = false;
  try {
    const spec = resolveSpec({}, `configuration ${def.name}`, { name: opts.clusterName, nodes: def.nodes, cni: def.cni, routing: def.routing });
    result.podMtu = spec.podMtu;
    log(`${def.name}: creating cluster ${spec.name} (${def.nodes} nodes, cni ${def.cni}, routing ${def.routing})`);
    const t0 = performance.now();
    const client = await createCluster(spec, { onProgress: (m) => log(`${def.name}: ${m}`), ...(opts.env ? { env: opts.env } : {}) });
    created = true;
    opts.onClusterCreated?.(spec.name);
    result.clusterUpMs = Math.round(performance.now() - t0);
    const env: RunnerEnv = { spec, client, concurrency: opts.concurrency, log: (m) => log(`${def.name}: ${m}`) };
    log(`${def.name}: starting the scenario pods`);
    await setUpAndRunSuites(env, unionSetup(suites, spec), suites, result);
  } catch (e) {
    result.error = errorText(e);
  } finally {
    if (created && !opts.keep) {
      const t2 = performance.now();
      await destroyCluster(opts.clusterName).catch((e: Error) => {
        result.error = [result.error, `teardown of ${opts.clusterName} failed: ${e.message}`].filter(Boolean).join('\n');
      });
      result.teardownMs = Math.round(performance.now() - t2);
    }
    // Not created: createCluster already removed what it made, and the name may not be ours to sweep.
  }
  result.summary = summarizeSuites(result.suites);
  return result;
}
