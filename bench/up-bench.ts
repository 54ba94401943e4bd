// Benchmark: time from `cnilab up --nodes 3` to 9 pods Running (the netpol e2e model), next to the
// floor — the same namespaces, links and addresses made by raw `ip -batch` commands, with no control
// plane, no CNI plugin and no workloads. Prints each sample, medians and the ratio.
//   node dist/bench/up-bench.js [--samples 5] [--cni reference-bridge|cnilab|kernel]
import { performance } from 'node:perf_hooks';
import { run } from '../harness/exec/run.js';
import { REPO_ROOT } from '../harness/paths.js';
import { sweep } from '../harness/providers/netns/sweep.js';
import { median, spread, machineSummary } from './stats.js';

const CLUSTER = 'bench-up';
const FLOOR = 'cnilab.bench-floor';

async function cnilabUp(cni: string): Promise<{ upMs: number; readyMs: number }> {
  const t0 = performance.now();
  await run([`${REPO_ROOT}/bin/cnilab`, 'up', '--name', CLUSTER, '--nodes', '3', '--cni', cni, '-q'], { timeoutMs: 60_000 });
  const upMs = performance.now() - t0;
  await run([`${REPO_ROOT}/bin/cnilab`, 'apply', '--name', CLUSTER, '-f', `${REPO_ROOT}/scenarios/manifests/xyz.yaml`, '--wait'], { timeoutMs: 60_000 });
  const readyMs = performance.now() - t0;
  await run([`${REPO_ROOT}/bin/cnilab`, 'down', '--name', CLUSTER], { timeoutMs: 60_000 });
  return { upMs, readyMs };
}

/** The floor: 1 fabric + 3 nodes + 9 pods as namespaces, veths and addresses, by ip -batch only. */
function floorScript(): string {
  const lines: string[] = [];
  const nodes = [1, 2, 3];
  const ns = (s: string) => `${FLOOR}.${s}`;
  lines.push(`ip -batch - <<'B'`, `netns add ${ns('fabric')}`, ...nodes.map((n) => `netns add ${ns(`n${n}`)}`));
  for (const n of nodes) for (const p of [1, 2, 3]) lines.push(`netns add ${ns(`p${n}${p}`)}`);
  lines.push('B');
  lines.push(`ip -n ${ns('fabric')} -batch - <<'B'`, 'link set lo up', 'link add underlay type bridge', 'addr add 198.18.0.1/24 dev underlay', 'link set underlay up');
  for (const n of nodes) lines.push(`link add node${n} type veth peer name eth0 netns ${ns(`n${n}`)}`, `link set node${n} master underlay up`);
  lines.push('B');
  for (const n of nodes) {
    lines.push(`ip -n ${ns(`n${n}`)} -batch - <<'B'`, 'link set lo up', `addr add 198.18.0.${10 + n}/24 dev eth0`, 'link set eth0 up', 'link add cni0 type bridge', `addr add 198.19.${n}.1/24 dev cni0`, 'link set cni0 up');
    for (const p of [1, 2, 3]) lines.push(`link add veth${p} type veth peer name eth0 netns ${ns(`p${n}${p}`)}`, `link set veth${p} master cni0 up`);
    lines.push('B');
    for (const p of [1, 2, 3]) {
      lines.push(`ip -n ${ns(`p${n}${p}`)} -batch - <<'B'`, 'link set lo up', `addr add 198.19.${n}.${p + 1}/24 dev eth0`, 'link set eth0 up', `route add default via 198.19.${n}.1`, 'B');
    }
  }
  return lines.join('\n');
}

async function floor(): Promise<number> {
  const script = floorScript();
  const t0 = performance.now();
  await run(['bash', '-c', script], { timeoutMs: 60_000 });
  const ms = performance.now() - t0;
  await run(['bash', '-c', `for n in $(ls /run/netns | grep '^${FLOOR.replace('.', '\\.')}'); do ip netns del $n; done`], { timeoutMs: 60_000 });
  return ms;
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--samples');
  const samples = i > 0 ? Number(process.argv[i + 1]) : 5;
  const cniArg = process.argv.indexOf('--cni');
  const cni = cniArg > 0 ? process.argv[cniArg + 1]! : 'reference-bridge';
  await sweep(CLUSTER);
  // One warm-up of each, discarded (page cache, first exec of each binary).
  await cnilabUp(cni);
  await floor();
  const up: number[] = [];
  const ready: number[] = [];
  const fl: number[] = [];
  for (let s = 0; s < samples; s++) {
    // Interleaved, so both see the same machine noise.
    const c = await cnilabUp(cni);
    up.push(c.upMs);
    ready.push(c.readyMs);
    fl.push(await floor());
    console.log(`sample ${s + 1}: cnilab up ${c.upMs.toFixed(0)} ms, 9 pods ready ${c.readyMs.toFixed(0)} ms, floor ${fl.at(-1)!.toFixed(0)} ms`);
  }
  console.log(`\nmachine: ${machineSummary()}; cni ${cni}`);
  console.log(`cnilab up (3 nodes):            median ${median(up).toFixed(0)} ms  (spread ${spread(up)})`);
  console.log(`cnilab up + 9 pods Running:     median ${median(ready).toFixed(0)} ms  (spread ${spread(ready)})`);
  console.log(`floor (raw ip -batch, same objects): median ${median(fl).toFixed(0)} ms  (spread ${spread(fl)})`);
  console.log(`ratio ready/floor: ${(median(ready) / median(fl)).toFixed(1)}x   (target: ready < 3000 ms, ratio < 10x)`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
