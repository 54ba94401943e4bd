// Benchmark: conformance run time of the 25 upstream-like netpol cases (x/y/z × a/b/c, every step
// probed over the full matrix: 81 pairs × TCP/UDP × 80/81) — the figure Cyclonus needs hours for on a
// real cluster. One cluster per configuration, brought up once; the set is then run `--samples` times
// per configuration, configurations interleaved sample by sample so they see the same machine noise.
// Prints every sample, medians with spread, probes per second, whether every step passed, and the
// ratio to the 60 s goal.
//   flock /tmp/cnilab-root.lock node dist/bench/policy-conformance-bench.js [--samples 3] [--config cnilab-tunnel]...
import { parseArgs } from 'node:util';
import { resolveSpec, type ClusterSpec } from '../harness/cluster/spec.js';
import type { ControlPlaneClient } from '../harness/cluster/client.js';
import { createCluster, destroyCluster } from '../harness/providers/netns/cluster.js';
import { CONFIGURATIONS } from '../scenarios/framework/configuration.js';
import { runSuite } from '../scenarios/framework/runner.js';
import { buildPolicySuite } from '../scenarios/policy/index.js';
import { machineSummary, median, spread } from './stats.js';

const GOAL_MS = 60_000;

interface Sample {
  ms: number;
  probes: number;
  steps: number;
  failedSteps: number;
  retried: number;
}

async function sample(spec: ClusterSpec, client: ControlPlaneClient): Promise<Sample> {
  const t0 = performance.now();
  const r = await runSuite({ spec, client }, buildPolicySuite({ sets: ['upstream'] }));
  const ms = performance.now() - t0;
  if (r.error) throw new Error(`suite error: ${r.error}`);
  const checks = r.scenarios.flatMap((s) => s.checks);
  return {
    ms,
    steps: checks.length,
    probes: checks.reduce((n, c) => n + (c.reachability ? c.reachability.correct + c.reachability.incorrect : 0), 0),
    failedSteps: checks.filter((c) => !c.passed).length,
    retried: checks.reduce((n, c) => n + (c.reachability?.retries.retriedProbes ?? 0), 0),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { samples: { type: 'string', default: '3' }, config: { type: 'string', multiple: true } } });
  const samples = Number(values.samples);
  const names = values.config?.length ? values.config : ['cnilab-tunnel', 'cnilab-native'];
  const clusters: Array<{ name: string; spec: ClusterSpec; client: ControlPlaneClient; upMs: number; samples: Sample[] }> = [];
  try {
    for (const [i, n] of names.entries()) {
      const def = CONFIGURATIONS[n];
      if (!def) throw new Error(`unknown configuration ${n}; known: ${Object.keys(CONFIGURATIONS).join(', ')}`);
      const name = `pol-bench-${i}`;
      await destroyCluster(name);
      const spec = resolveSpec({}, 'bench', { name, nodes: def.nodes, cni: def.cni, routing: def.routing });
      const t0 = performance.now();
      const client = await createCluster(spec);
      clusters.push({ name: n, spec, client, upMs: performance.now() - t0, samples: [] });
    }
    // A first run per cluster brings up the workload (pods, external hosts) and is reported apart.
    for (const c of clusters) {
      const s = await sample(c.spec, c.client);
      console.log(`${c.name}: warm-up (workload up + 25 cases) ${(s.ms / 1000).toFixed(1)} s, ${s.failedSteps} failed steps`);
    }
    for (let i = 0; i < samples; i++) {
      for (const c of clusters) {
        const s = await sample(c.spec, c.client);
        c.samples.push(s);
        console.log(`sample ${i + 1} ${c.name}: 25 cases, ${s.steps} steps, ${s.probes} probes in ${(s.ms / 1000).toFixed(2)} s (${Math.round(s.probes / (s.ms / 1000))} probes/s), ${s.failedSteps} failed steps, ${s.retried} probes re-probed`);
      }
    }
  } finally {
    for (const c of clusters) await destroyCluster(c.spec.name);
  }
  console.log(`\nmachine: ${machineSummary()}`);
  for (const c of clusters) {
    const ms = c.samples.map((s) => s.ms);
    const m = median(ms);
    const allPassed = c.samples.every((s) => s.failedSteps === 0);
    console.log(
      `${c.name.padEnd(16)} upstream-like set, full matrix: median ${(m / 1000).toFixed(2)} s (spread ${spread(ms.map((x) => x / 1000), 2)} s), ` +
        `${c.samples[0]!.probes} probes, ${Math.round(c.samples[0]!.probes / (m / 1000))} probes/s; cluster up ${(c.upMs / 1000).toFixed(1)} s; ` +
        `${allPassed ? 'every step passed' : 'SOME STEPS FAILED'}; goal ≤ 60 s: ${m <= GOAL_MS ? 'met' : 'MISSED'} (${(m / GOAL_MS).toFixed(2)}× the goal)`,
    );
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
