// Benchmark: what starting a program costs the agent. A pod's ADD runs two `ip` processes (host side,
// and pod side through nsenter); the agent is a Node process of ~100 MB, and every spawn forks it. This
// times `ip link show lo` spawned from this process with a ballast of the agent's size, against the same
// command run by a shell loop (a small process forking): the difference is what a pre-forked helper
// could save, the whole is what in-process netlink would. No root, no cluster.
//   node dist/bench/spawn-cost-bench.js [--runs 50] [--ballast-mb 100] [--rounds 3]
import { spawn, spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { machineSummary, median } from './stats.js';

const ARGV = ['ip', 'link', 'show', 'lo'];

function spawnOnce(): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const p = spawn(ARGV[0]!, ARGV.slice(1), { stdio: 'ignore' });
    p.on('error', reject);
    p.on('exit', resolve);
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string' }, 'ballast-mb': { type: 'string' }, rounds: { type: 'string' } } });
  const runs = Number(values.runs ?? 50);
  const ballastMb = Number(values['ballast-mb'] ?? 100);
  const rounds = Number(values.rounds ?? 3);
  if (![runs, ballastMb, rounds].every((n) => Number.isInteger(n) && n >= 1)) throw new Error('--runs, --ballast-mb and --rounds are whole numbers ≥ 1');
  // Touched pages, so they are in the page tables a fork copies.
  const ballast = Array.from({ length: ballastMb }, () => Buffer.alloc(1 << 20, 1));
  const node: Array<{ wall: number; cpu: number }> = [];
  const shell: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < runs; i++) if ((await spawnOnce()) !== 0) throw new Error(`${ARGV.join(' ')} failed`);
    const c = process.cpuUsage(c0);
    node.push({ wall: (performance.now() - t0) / runs, cpu: (c.user + c.system) / 1000 / runs });
    const t1 = performance.now();
    const sh = spawnSync('sh', ['-c', `i=0; while [ $i -lt ${runs} ]; do ${ARGV.join(' ')} >/dev/null || exit 1; i=$((i+1)); done`]);
    if (sh.status !== 0) throw new Error('the shell loop failed');
    shell.push((performance.now() - t1) / runs);
  }
  console.log(`spawn cost, ${ARGV.join(' ')}, ${rounds} rounds of ${runs}, ${machineSummary()}; RSS ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB (ballast ${ballast.length} MiB)`);
  console.log(`  from this Node process: ${median(node.map((x) => x.wall)).toFixed(2)} ms wall, ${median(node.map((x) => x.cpu)).toFixed(2)} ms of Node's CPU each (medians of rounds)`);
  console.log(`  from a shell loop:      ${median(shell).toFixed(2)} ms wall each`);
  console.log(`  Node's share: ${(median(node.map((x) => x.wall)) - median(shell)).toFixed(2)} ms wall each (×${(median(node.map((x) => x.wall)) / median(shell)).toFixed(2)})`);
}

if (process.argv[1]?.endsWith('spawn-cost-bench.js')) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
