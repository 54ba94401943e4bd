// Benchmark: what an idle cluster's own processes cost the machine, by kind of process — the agents
// (with the programs they run, e.g. birdc), bird, the daemon, the supervisor, the node host processes.
// Idle means no pod traffic: whatever they spend then is taken from every benchmark and every pod's
// set-up on these two cores. Clusters are up at the same time and read over the same windows, so a
// --ref-tree checkout (its dist/ built, e.g. a copy of main before a change) is compared side by side.
//   flock /tmp/cnilab-root.lock node dist/bench/idle-cpu-bench.js [--routing native|tunnel|both] [--seconds 20] [--rounds 3] [--ref-tree PATH]
import { parseArgs } from 'node:util';
import { readdirSync, readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { resolveSpec, type ClusterSpec, type RoutingMode } from '../harness/cluster/spec.js';
import { paths, processMarker } from '../harness/cluster/names.js';
import { createCluster, destroyCluster } from '../harness/providers/netns/cluster.js';
import { machineSummary, median } from './stats.js';

/** USER_HZ: clock ticks per second of /proc/<pid>/stat. */
const USER_HZ = 100;
const KINDS = ['agents', 'bird', 'daemon', 'supervisor', 'host processes', 'other'] as const;
type Kind = (typeof KINDS)[number];

interface Cluster {
  label: string;
  spec: ClusterSpec;
  tree?: string;
}

/** The kind of a process of `cluster`, or undefined when it is not the cluster's. bird is daemonized
 *  without the cluster's marker; its config path names the cluster's run directory. */
export function kindOf(argv: string[], cluster: string): Kind | undefined {
  const marker = processMarker(cluster);
  const runDir = `${paths.runDir(cluster)}/`;
  if (argv[0] && /(^|\/)bird$/.test(argv[0])) return argv.some((a) => a.startsWith(runDir)) ? 'bird' : undefined;
  if (!argv.includes(marker)) return undefined;
  if (argv.some((a) => a.endsWith('agent/main.js'))) return 'agents';
  if (argv.some((a) => a.endsWith('cluster/daemon.js'))) return 'daemon';
  if (argv.some((a) => a.endsWith('cluster/supervisor.js'))) return 'supervisor';
  if (argv.some((a) => a.endsWith('host-process.js'))) return 'host processes';
  return 'other';
}

/** CPU seconds by kind, a process's reaped children (cutime, cstime: the birdc an agent ran) included. */
export function cpuByKind(cluster: string): Record<Kind, number> {
  const out = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const kind = kindOf(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean), cluster);
      if (!kind) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out[kind] += (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / USER_HZ; // utime stime cutime cstime
    } catch {
      /* gone meanwhile */
    }
  }
  return out;
}

async function provider(c: Cluster): Promise<{ createCluster: typeof createCluster; destroyCluster: typeof destroyCluster }> {
  if (!c.tree) return { createCluster, destroyCluster };
  return (await import(resolvePath(c.tree, 'dist/harness/providers/netns/cluster.js'))) as { createCluster: typeof createCluster; destroyCluster: typeof destroyCluster };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { routing: { type: 'string' }, seconds: { type: 'string' }, rounds: { type: 'string' }, 'ref-tree': { type: 'string' } } });
  const routings: RoutingMode[] = values.routing === 'both' ? ['tunnel', 'native'] : [(values.routing ?? 'native') as RoutingMode];
  const seconds = Number(values.seconds ?? 20);
  const rounds = Number(values.rounds ?? 3);
  if (!(seconds > 0) || !Number.isInteger(rounds) || rounds < 1) throw new Error('--seconds must be > 0 and --rounds a whole number ≥ 1');
  const refTree = values['ref-tree'] ? resolvePath(values['ref-tree']) : undefined;
  const clusters: Cluster[] = routings.flatMap((routing, i) => [
    { label: `cnilab-${routing}`, spec: resolveSpec({}, 'bench', { name: `idle-${i}a`, nodes: 2, cni: 'cnilab', routing }) },
    ...(refTree ? [{ label: `cnilab-${routing} (ref tree)`, tree: refTree, spec: resolveSpec({}, 'bench', { name: `idle-${i}r`, nodes: 2, cni: 'cnilab', routing }) }] : []),
  ]);
  const up: Cluster[] = [];
  const stop = async () => {
    for (const c of up.splice(0)) await (await provider(c)).destroyCluster(c.spec.name).catch(() => {});
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(130)));
  try {
    for (const c of clusters) {
      await (await provider(c)).destroyCluster(c.spec.name);
      await (await provider(c)).createCluster(c.spec);
      up.push(c);
    }
    await new Promise((r) => setTimeout(r, 5000)); // bring-up's own work settles (BGP sessions, first syncs)
    const perRound = new Map<string, Array<Record<Kind, number>>>(clusters.map((c) => [c.label, []]));
    for (let r = 0; r < rounds; r++) {
      const before = clusters.map((c) => cpuByKind(c.spec.name));
      const t0 = performance.now();
      await new Promise((res) => setTimeout(res, seconds * 1000));
      const dt = (performance.now() - t0) / 1000;
      clusters.forEach((c, i) => {
        const after = cpuByKind(c.spec.name);
        perRound.get(c.label)!.push(Object.fromEntries(KINDS.map((k) => [k, ((after[k] - before[i]![k]) / dt) * 1000])) as Record<Kind, number>);
      });
    }
    console.log(`idle CPU of 2-node clusters, ms of CPU per second (median of ${rounds} windows of ${seconds} s), ${machineSummary()}`);
    console.log(['cluster'.padEnd(28), ...KINDS.map((k) => k.padStart(15)), 'all'.padStart(8)].join(''));
    const totals = new Map<string, number>();
    for (const c of clusters) {
      const rows = perRound.get(c.label)!;
      const med = (k: Kind) => median(rows.map((x) => x[k]));
      const all = median(rows.map((x) => KINDS.reduce((a, k) => a + x[k], 0)));
      totals.set(c.label, all);
      console.log([c.label.padEnd(28), ...KINDS.map((k) => med(k).toFixed(1).padStart(15)), all.toFixed(1).padStart(8)].join(''));
    }
    if (refTree) for (const routing of routings) {
      const a = totals.get(`cnilab-${routing}`)!;
      const b = totals.get(`cnilab-${routing} (ref tree)`)!;
      console.log(`${routing}: this tree / ref tree, all processes: ×${(a / b).toFixed(2)} (${a.toFixed(1)} vs ${b.toFixed(1)} ms/s)`);
    }
    console.log(JSON.stringify({ bench: 'idle-cpu', machine: machineSummary(), seconds, rounds, perRound: Object.fromEntries(perRound) }));
  } finally {
    await stop();
  }
}

if (process.argv[1]?.endsWith('idle-cpu-bench.js')) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
