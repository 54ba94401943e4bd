// The soak (run it as root, under the root lock; it creates and removes one cluster per cycle):
//   flock /tmp/cnilab-root.lock node dist/bench/soak.js [--cycles 50] [--seed N] [--nodes 2] [--cni cnilab] [--out FILE]
// Every cycle: up, apply the netpol e2e model, a few probes, down, with a SIGKILL of the CLI, the
// daemon, its supervisor, an agent or a workload process at a random point (seeded, replayable),
// then a leak check against the host as it was before the first cycle. Prints one line per cycle and
// a summary; writes the JSON with --out. Exit 1 if anything leaked past `down` + `down --all`.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { machineSummary } from './stats.js';
import { mulberry32 } from '../lib/prng.js';
import { prepare, randomPlan, runCycle, type CycleResult } from './soak-lib.js';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { cycles: { type: 'string', default: '50' }, seed: { type: 'string' }, nodes: { type: 'string', default: '2' }, cni: { type: 'string', default: 'cnilab' }, out: { type: 'string' }, name: { type: 'string', default: 'soak' } },
  });
  const cycles = Number(values.cycles);
  const seed = values.seed !== undefined ? Number(values.seed) : Date.now() % 1_000_000;
  const rand = mulberry32(seed);
  const log = (l: string) => process.stdout.write(`${l}\n`);
  const { base, others } = await prepare(values.name!);
  log(`soak: ${cycles} cycles, seed ${seed}, ${values.nodes} nodes, cni ${values.cni}, on ${machineSummary()}${others ? ' (other clusters present: no down --all)' : ''}`);
  const results: CycleResult[] = [];
  const t0 = Date.now();
  for (let i = 0; i < cycles; i++) {
    const plan = randomPlan(rand);
    const r = await runCycle(i, plan, base, { name: values.name!, nodes: Number(values.nodes), cni: values.cni!, log, allowDownAll: !others });
    results.push(r);
    log(
      `${String(i).padStart(3)} kill ${plan.target.padEnd(10)} ${plan.point.padEnd(14)} ${String(plan.delayMs).padStart(4)} ms | killed ${r.killed} | up ${r.upCode} apply ${r.applyCode ?? '-'} probes ${r.probes.ok}/${r.probes.tried}` +
        `${r.statusAfterKill ? ` | status ${r.statusAfterKill.code}` : ''} | down ${r.downCode} left ${r.leftAfterDown.length}/${r.leftAfterAll.length} | ${(r.ms / 1000).toFixed(1)} s`,
    );
  }
  const byTarget = new Map<string, number>();
  for (const r of results) byTarget.set(r.plan.target, (byTarget.get(r.plan.target) ?? 0) + 1);
  const downLeft = results.filter((r) => r.leftAfterDown.length);
  const leaked = results.filter((r) => r.leftAfterAll.length);
  const probes = results.reduce((a, r) => ({ ok: a.ok + r.probes.ok, tried: a.tried + r.probes.tried }), { ok: 0, tried: 0 });
  const summary = {
    seed,
    cycles,
    minutes: +((Date.now() - t0) / 60_000).toFixed(1),
    kills: Object.fromEntries(byTarget),
    downCleanedAll: cycles - downLeft.length,
    leakedAfterDownAll: leaked.length,
    probes,
    machine: machineSummary(),
  };
  log(`\nsummary: ${JSON.stringify(summary)}`);
  for (const r of downLeft) log(`cycle ${r.cycle}: down left ${r.leftAfterDown.join('; ')}${r.leftAfterAll.length ? ` — STILL THERE after down --all: ${r.leftAfterAll.join('; ')}` : ''}`);
  if (values.out) writeFileSync(values.out, JSON.stringify({ summary, results }, null, 2));
  return leaked.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`soak: ${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
