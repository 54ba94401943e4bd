// The soak: many cycles of up, apply, traffic and down on the embedded cluster, each with a SIGKILL
// at a chosen point — the CLI in the middle of `up` or `apply`, the cluster daemon, its supervisor,
// an agent or a workload process — then `cnilab down` (and `down --all` only if down left
// anything), and after every cycle a leak check against a baseline taken before the first one:
// network namespaces, host links, BPF pins, run-time files, unix sockets and processes. What the
// kills did to the cluster (did it recover, did traffic work) is recorded, not judged; leaks are.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { run } from '../harness/exec/run.js';
import { REPO_ROOT } from '../harness/paths.js';
import { BPF_ROOT, NETNS_DIR, paths, PREFIX, RUN_ROOT } from '../harness/cluster/names.js';
import { findLeftovers, sweep } from '../harness/providers/netns/sweep.js';
import { processAlive } from '../harness/exec/proc.js';

export const KILL_TARGETS = ['none', 'cli-up', 'cli-apply', 'daemon', 'supervisor', 'agent', 'workloads'] as const;
export type KillTarget = (typeof KILL_TARGETS)[number];
/** When a process that outlives the CLI (daemon, agent, ...) is killed. */
export const KILL_POINTS = ['after-up', 'during-apply', 'during-traffic'] as const;
export type KillPoint = (typeof KILL_POINTS)[number];

export interface CyclePlan {
  target: KillTarget;
  point: KillPoint;
  /** For CLI kills: how far into the command (ms). */
  delayMs: number;
}

export interface CycleResult {
  cycle: number;
  plan: CyclePlan;
  /** What the kill hit (a pid and what it was), or why nothing was killed. */
  killed: string;
  upCode?: number;
  applyCode?: number;
  /** Probes that succeeded / were tried. */
  probes: { ok: number; tried: number };
  /** `cnilab status` after the kill: its exit code and first line. */
  statusAfterKill?: { code: number; line: string };
  downCode: number;
  /** down's stderr when it failed. */
  downError?: string;
  /** What `cnilab down` left behind (should be nothing). */
  leftAfterDown: string[];
  /** What was still there after `down --all` (must be nothing). */
  leftAfterAll: string[];
  ms: number;
}

const CNILAB = `${REPO_ROOT}/bin/cnilab`;
const MANIFEST = `${REPO_ROOT}/scenarios/manifests/xyz.yaml`;

export function randomPlan(rand: () => number): CyclePlan {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  return { target: pick(KILL_TARGETS), point: pick(KILL_POINTS), delayMs: Math.floor(rand() * 2500) };
}

// ---- what exists on the host ---------------------------------------------------------------------

export interface HostSnapshot {
  netns: string[];
  links: string[];
  bpf: string[];
  runFiles: string[];
  sockets: string[];
  /** Processes whose network namespace is not the host's (pods' and nodes' processes). */
  foreignNetnsPids: number[];
  /** Processes whose command line names cnilab's paths or carries its marker. */
  cnilabPids: Array<{ pid: number; cmd: string }>;
}

/** What cnilab starts inside its namespaces (a leftover of any of them in a foreign netns is a leak). */
const CNILAB_PROGRAMS = /cnilab|\bbird\b|iperf3|sockperf|tcpdump|agnhost|\/dist\/|nsenter/;

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return '';
  }
}

function walk(dir: string, depth: number): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    out.push(p);
    if (e.isDirectory() && depth > 0) out.push(...walk(p, depth - 1));
  }
  return out;
}

export async function snapshotHost(): Promise<HostSnapshot> {
  const links = (await run(['ip', '-o', 'link', 'show'], { allowFailure: true })).stdout
    .split('\n')
    .map((l) => /^\d+:\s+([^:@\s]+)/.exec(l)?.[1])
    .filter((n): n is string => !!n)
    .sort();
  const hostNet = readlinkSync('/proc/self/ns/net'); // the soak runs in the host netns
  const foreign: number[] = [];
  const marked: Array<{ pid: number; cmd: string }> = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid || !processAlive(pid)) continue;
    const cmd = cmdline(pid);
    if (!cmd) continue;
    try {
      // Only programs cnilab runs count: other software (a browser's sandbox) has netns of its own too.
      if (readlinkSync(`/proc/${pid}/ns/net`) !== hostNet && CNILAB_PROGRAMS.test(cmd)) foreign.push(pid);
    } catch {
      continue;
    }
    if (/--cnilab-cluster=|\/run\/cnilab\/|\/sys\/fs\/bpf\/cnilab|\/run\/netns\/cnilab\./.test(cmd)) marked.push({ pid, cmd });
  }
  // Unix sockets bound under /run/cnilab, including ones whose file was removed while still open.
  const sockets = readFileSync('/proc/net/unix', 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[7])
    .filter((p): p is string => !!p && p.startsWith(`${RUN_ROOT}/`))
    .sort();
  return {
    netns: existsSync(NETNS_DIR) ? readdirSync(NETNS_DIR).sort() : [],
    links,
    bpf: walk('/sys/fs/bpf', 0).sort(),
    runFiles: walk(RUN_ROOT, 3).sort(),
    sockets,
    foreignNetnsPids: foreign.sort((a, b) => a - b),
    cnilabPids: marked,
  };
}

/** The cluster a leak line names (by netns, run dir, pin dir or process marker), if any. */
export function clusterOfLeak(line: string): string | undefined {
  return /cnilab\.([a-z0-9-]+)\.|\/run\/cnilab\/([a-z0-9-]+)|\/sys\/fs\/bpf\/cnilab\/([a-z0-9-]+)|--cnilab-cluster=([a-z0-9-]+)/.exec(line)?.slice(1).find(Boolean);
}

/**
 * Everything present now that was not in the baseline, as readable lines; empty means no leak.
 * With `cluster`, what visibly belongs to another cluster (one that was already on the host) is not
 * the soak's doing and is left out.
 */
export function leaksSince(base: HostSnapshot, now: HostSnapshot, cluster?: string): string[] {
  const added = <T>(a: T[], b: T[]) => b.filter((x) => !a.includes(x));
  const ours = (line: string) => {
    const c = clusterOfLeak(line);
    return !cluster || c === undefined || c === cluster;
  };
  return [
    ...added(base.netns, now.netns).map((n) => `netns ${n}`),
    ...added(base.links, now.links).map((l) => `host link ${l}`),
    ...added(base.bpf, now.bpf).map((p) => `bpffs ${p}`),
    ...added(base.runFiles, now.runFiles).map((p) => `run file ${p}`),
    ...added(base.sockets, now.sockets).map((s) => `unix socket ${s}`),
    ...added(base.foreignNetnsPids, now.foreignNetnsPids).map((pid) => `process ${pid} in a foreign netns: ${cmdline(pid)}`),
    ...now.cnilabPids.filter((p) => !base.cnilabPids.some((b) => b.pid === p.pid)).map((p) => `cnilab process ${p.pid}: ${p.cmd}`),
  ].filter(ours);
}

// ---- one cycle -------------------------------------------------------------------------------------

interface Cmd {
  code: number;
  killed: boolean;
}

/** Run the CLI; with killAfterMs, SIGKILL it (the whole CLI process, as a crash would) after that long. */
function cli(args: string[], killAfterMs?: number): Promise<Cmd> {
  return new Promise((resolve) => {
    const child = spawn(CNILAB, args, { stdio: ['ignore', 'ignore', 'ignore'] });
    let killed = false;
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => ((killed = true), child.kill('SIGKILL')), killAfterMs);
    const hard = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(hard);
      resolve({ code: code ?? (signal ? 137 : 1), killed });
    });
  });
}

function readPid(file: string): number | undefined {
  try {
    return Number(readFileSync(file, 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

/** The pid of what `target` names in cluster `name`, or undefined. */
export function victimPid(name: string, target: KillTarget): { pid: number; what: string } | undefined {
  if (target === 'daemon') {
    const pid = readPid(paths.daemonPid(name));
    return pid && processAlive(pid) ? { pid, what: 'cluster daemon' } : undefined;
  }
  if (target === 'supervisor') {
    const pid = readPid(paths.supervisorPid(name));
    return pid && processAlive(pid) ? { pid, what: 'control-plane supervisor' } : undefined;
  }
  const pattern = target === 'agent' ? 'dist/agent/main.js' : 'host-process.js';
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const cmd = cmdline(Number(e));
    if (!cmd.includes(pattern) || !cmd.includes(`--cnilab-cluster=${name} `)) continue;
    // An agent's argv names its config file (…/nodes/N/agent-config.yaml), a workload process --node=N.
    const node = cmd.match(/\/nodes\/([^/]+)\/agent-config\.yaml/)?.[1] ?? cmd.split(' ').pop();
    return { pid: Number(e), what: `${target} ${node}` };
  }
  return undefined;
}

async function podIps(name: string): Promise<Array<{ key: string; ip: string }>> {
  const r = await run([CNILAB, 'get', 'pods', '-A', '-o', 'json', '--name', name], { allowFailure: true, timeoutMs: 10_000 });
  if (r.code !== 0) return [];
  try {
    return (JSON.parse(r.stdout).items as Array<{ metadata: { namespace: string; name: string }; status?: { podIP?: string } }>)
      .filter((p) => p.status?.podIP)
      .map((p) => ({ key: `${p.metadata.namespace}/${p.metadata.name}`, ip: p.status!.podIP! }));
  } catch {
    return [];
  }
}

/**
 * A few TCP probes between pods (x/a to other pods' port 80). `midway` (the kill) runs once the pod
 * addresses are known, alongside the probes.
 */
async function traffic(name: string, midway?: () => Promise<void>): Promise<{ ok: number; tried: number }> {
  const pods = await podIps(name);
  const from = pods.find((p) => p.key === 'x/a');
  const targets = from ? pods.filter((p) => p !== from).slice(0, 4) : [];
  const during = midway?.();
  let ok = 0;
  for (const t of targets) {
    const r = await run([CNILAB, 'exec', 'x/a', '--name', name, '--', 'agnhost', 'connect', `${t.ip}:80`, '--timeout=1s'], { allowFailure: true, timeoutMs: 10_000 });
    if (r.code === 0) ok++;
  }
  await during;
  return { ok, tried: targets.length };
}

export interface SoakOptions {
  name: string;
  nodes: number;
  cni: string;
  log: (line: string) => void;
  /** Fall back to `down --all` (true when no other cluster existed at the start). */
  allowDownAll: boolean;
}

export async function runCycle(i: number, plan: CyclePlan, base: HostSnapshot, o: SoakOptions): Promise<CycleResult> {
  const t0 = performance.now();
  const res: CycleResult = { cycle: i, plan, killed: 'nothing', probes: { ok: 0, tried: 0 }, downCode: -1, leftAfterDown: [], leftAfterAll: [], ms: 0 };
  const killVictim = async () => {
    const v = victimPid(o.name, plan.target);
    if (!v) return void (res.killed = `no ${plan.target} to kill`);
    process.kill(v.pid, 'SIGKILL');
    res.killed = `${v.what} (pid ${v.pid})`;
    const s = await run([CNILAB, 'status', '--name', o.name], { allowFailure: true, timeoutMs: 10_000 });
    res.statusAfterKill = { code: s.code, line: (s.stdout || s.stderr).split('\n')[0] ?? '' };
  };
  const processKill = !plan.target.startsWith('cli') && plan.target !== 'none';

  const up = await cli(['up', '--name', o.name, '--nodes', String(o.nodes), '--cni', o.cni, '-q'], plan.target === 'cli-up' ? plan.delayMs : undefined);
  res.upCode = up.code;
  if (up.killed) res.killed = `the CLI during up, after ${plan.delayMs} ms`;
  if (up.code === 0 && !up.killed) {
    if (processKill && plan.point === 'after-up') await killVictim();
    const applying = cli(['apply', '--name', o.name, '-f', MANIFEST, '--wait', '--timeout', '30s'], plan.target === 'cli-apply' ? plan.delayMs : undefined);
    if (processKill && plan.point === 'during-apply') {
      await new Promise((r) => setTimeout(r, Math.min(plan.delayMs, 1500)));
      await killVictim();
    }
    const applied = await applying;
    res.applyCode = applied.code;
    if (applied.killed) res.killed = `the CLI during apply, after ${plan.delayMs} ms`;
    if (processKill && plan.point === 'during-traffic') {
      res.probes = await traffic(o.name, async () => {
        await new Promise((r) => setTimeout(r, Math.min(plan.delayMs, 800)));
        await killVictim();
      });
    } else {
      res.probes = await traffic(o.name);
    }
  }
  const down = await run([CNILAB, 'down', '--name', o.name], { allowFailure: true, timeoutMs: 120_000 });
  res.downCode = down.code;
  if (down.code !== 0) res.downError = down.stderr.trim().slice(-500);
  res.leftAfterDown = leaksSince(base, await snapshotHost(), o.name);
  if (res.leftAfterDown.length) {
    o.log(`cycle ${i}: down left ${res.leftAfterDown.length} things: ${res.leftAfterDown.slice(0, 5).join('; ')}`);
    // `down --all` sweeps every cluster on the host: only when the soak's is the only one there was.
    if (o.allowDownAll) await run([CNILAB, 'down', '--all'], { allowFailure: true, timeoutMs: 120_000 });
    else await sweep(o.name);
    // Processes may take a moment to be reaped after their kill.
    for (let t = 0; t < 20; t++) {
      res.leftAfterAll = leaksSince(base, await snapshotHost(), o.name);
      if (!res.leftAfterAll.length) break;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  res.ms = Math.round(performance.now() - t0);
  return res;
}

/**
 * Before the first cycle: nothing of the soak's cluster may exist; then the baseline is taken.
 * `others` tells whether any other cnilab cluster is on the host (then `down --all` is off limits).
 */
export async function prepare(name: string): Promise<{ base: HostSnapshot; others: boolean }> {
  await sweep(name);
  const l = await findLeftovers(name);
  if (l.netns.length || l.processes.length || existsSync(`${BPF_ROOT}/${name}`)) throw new Error(`cluster ${name} could not be cleared before the soak`);
  const others = (await findLeftovers()).netns.length > 0 || (existsSync(NETNS_DIR) && readdirSync(NETNS_DIR).some((n) => n.startsWith(`${PREFIX}.`)));
  return { base: await snapshotHost(), others };
}
