// Finding and removing everything a cluster owns: processes, network namespaces (and with them every
// link inside), run-time files and sockets, BPF pins, and any host link with cnilab's prefix.
// Used by `cnilab down` for one cluster and by `cnilab down --all` after crashed runs.
import { existsSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { run } from '../../exec/run.js';
import { processAlive } from '../../exec/proc.js';
import { BPF_ROOT, LINK_PREFIX, NETNS_DIR, PREFIX, RUN_ROOT, netnsNames } from '../../cluster/names.js';
import { criClusters, sweepContainerd } from '../../cri/containerd.js';

export interface Leftovers {
  netns: string[];
  processes: Array<{ pid: number; cmd: string }>;
  runDirs: string[];
  bpfDirs: string[];
  hostLinks: string[];
}

/**
 * Where the datapath and agent tests keep their fixtures outside any cluster: namespaces
 * `cnilab-<test>-…` (cluster namespaces are `cnilab.<cluster>.…`) and pin dirs `/sys/fs/bpf/cnilab-test-…`
 * (bpf/tests/fixture.ts). A test killed before its afterAll leaves them; `down --all` sweeps them too.
 */
const FIXTURE_NETNS_PREFIX = `${PREFIX}-`;
const FIXTURE_PIN_PARENT = '/sys/fs/bpf';
const FIXTURE_PIN_PREFIX = `${PREFIX}-test-`;

/** cnilab's network namespaces, of one cluster or of all (test fixtures' included unless `fixtures` is false). */
export function listNetns(cluster?: string, fixtures = true): string[] {
  if (!existsSync(NETNS_DIR)) return [];
  const prefixes = cluster ? [netnsNames.clusterPrefix(cluster)] : fixtures ? [`${PREFIX}.`, FIXTURE_NETNS_PREFIX] : [`${PREFIX}.`];
  return readdirSync(NETNS_DIR).filter((n) => prefixes.some((p) => n.startsWith(p))).sort();
}

function netnsInode(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}

/** Processes inside the given namespaces, or carrying the cluster marker on their command line. */
export function listProcesses(netns: string[], cluster?: string): Array<{ pid: number; cmd: string }> {
  return scanProcesses(netns, { cluster, byMarker: true });
}

/** Processes inside the given namespaces only (whatever their command line). */
export function listProcessesInNetns(netns: string[]): Array<{ pid: number; cmd: string }> {
  return netns.length ? scanProcesses(netns, { byMarker: false }) : [];
}

function scanProcesses(netns: string[], opts: { cluster?: string; byMarker: boolean }): Array<{ pid: number; cmd: string }> {
  const { cluster } = opts;
  const inodes = new Set(netns.map((n) => netnsInode(`${NETNS_DIR}/${n}`)).filter((i): i is number => i !== undefined));
  const marker = cluster ? `--cnilab-cluster=${cluster}` : '--cnilab-cluster=';
  const self = new Set([process.pid, process.ppid]);
  const out: Array<{ pid: number; cmd: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (self.has(pid)) continue;
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    } catch {
      continue;
    }
    if (!cmd) continue; // kernel threads
    let inNs = false;
    try {
      const link = readlinkSync(`/proc/${pid}/ns/net`); // "net:[4026532xyz]"
      const ino = Number(/\[(\d+)\]/.exec(link)?.[1]);
      inNs = inodes.has(ino);
    } catch {
      /* process gone */
    }
    const marked = cmd.split(' ').some((a) => a.startsWith(marker) && (cluster ? a === marker : true));
    if (inNs || (opts.byMarker && marked)) out.push({ pid, cmd });
  }
  return out;
}

function listRunDirs(cluster?: string): string[] {
  if (cluster) return existsSync(`${RUN_ROOT}/${cluster}`) ? [`${RUN_ROOT}/${cluster}`] : [];
  return existsSync(RUN_ROOT) ? readdirSync(RUN_ROOT).map((d) => `${RUN_ROOT}/${d}`) : [];
}

function listBpfDirs(cluster?: string, withFixtures = true): string[] {
  if (cluster) return existsSync(`${BPF_ROOT}/${cluster}`) ? [`${BPF_ROOT}/${cluster}`] : [];
  const fixtures = withFixtures && existsSync(FIXTURE_PIN_PARENT) ? readdirSync(FIXTURE_PIN_PARENT).filter((d) => d.startsWith(FIXTURE_PIN_PREFIX)).map((d) => `${FIXTURE_PIN_PARENT}/${d}`) : [];
  return [...(existsSync(BPF_ROOT) ? [BPF_ROOT] : []), ...fixtures.sort()];
}

async function listHostLinks(): Promise<string[]> {
  const res = await run(['ip', '-o', 'link', 'show'], { allowFailure: true });
  return res.stdout
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1])
    .filter((n): n is string => !!n && n.startsWith(LINK_PREFIX));
}

/**
 * What cnilab left behind, of one cluster or of all. `fixtures: false` leaves out the datapath tests'
 * fixtures: a check that clusters leave nothing must not fail on another (perhaps killed) test's pins.
 */
export async function findLeftovers(cluster?: string, { fixtures = true }: { fixtures?: boolean } = {}): Promise<Leftovers> {
  const netns = listNetns(cluster, fixtures);
  return {
    netns,
    processes: listProcesses(netns, cluster),
    runDirs: listRunDirs(cluster),
    bpfDirs: listBpfDirs(cluster, fixtures),
    hostLinks: cluster ? [] : await listHostLinks(),
  };
}

/** One line per leftover ("netns …", "process PID CMD", "dir …", "bpf …", "link …"), as tests and reports print them. */
export function describeLeftovers(l: Leftovers): string[] {
  return [
    ...l.netns.map((n) => `netns ${n}`),
    ...l.processes.map((p) => `process ${p.pid} ${p.cmd}`),
    ...l.runDirs.map((d) => `dir ${d}`),
    ...l.bpfDirs.map((d) => `bpf ${d}`),
    ...l.hostLinks.map((h) => `link ${h}`),
  ];
}

const alive = processAlive;

/** SIGTERM, a short grace, then SIGKILL whatever is left. */
export async function killAll(pids: number[], graceMs = 1500): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  const deadline = Date.now() + graceMs;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  for (const pid of pids.filter(alive)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  const hard = Date.now() + 2000;
  while (pids.some(alive) && Date.now() < hard) await new Promise((r) => setTimeout(r, 25));
}

/** Remove everything of one cluster (or, with no name, of every cnilab cluster). */
export async function sweep(cluster?: string): Promise<Leftovers> {
  const found = await findLeftovers(cluster);
  await killAll(found.processes.map((p) => p.pid));
  // Processes started while we were killing (a supervisor restarting a child) get a second pass.
  const late = listProcesses(found.netns, cluster);
  if (late.length) await killAll(late.map((p) => p.pid), 500);
  if (found.netns.length) {
    await run(['ip', '-batch', '-'], { input: found.netns.map((n) => `netns del ${n}`).join('\n') + '\n', allowFailure: true });
  }
  for (const link of found.hostLinks) await run(['ip', 'link', 'del', link], { allowFailure: true });
  // Nodes running containerd (harness/cri): sandbox processes by cgroup, netns and rootfs mounts under
  // the run dir (which would keep it from being removed), the cgroups.
  for (const c of cluster ? [cluster] : criClusters(found.runDirs)) await sweepContainerd(c);
  for (const dir of found.runDirs) rmSync(dir, { recursive: true, force: true });
  for (const dir of found.bpfDirs) rmSync(dir, { recursive: true, force: true });
  // The shared parents go with the last cluster: an empty /sys/fs/bpf/cnilab is still a pin dir of ours.
  for (const root of [RUN_ROOT, BPF_ROOT]) removeIfEmpty(root);
  return found;
}

function removeIfEmpty(dir: string): void {
  try {
    if (readdirSync(dir).length === 0) rmdirSync(dir);
  } catch {
    /* absent, or another cluster created something meanwhile */
  }
}
