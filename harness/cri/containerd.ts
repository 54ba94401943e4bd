// A real container runtime on a cnilab node: Debian's containerd with its CRI plugin and runc, one
// instance per node, started inside the node's network namespace with its own root, state, socket and
// CNI directories under /run/cnilab/<cluster>/nodes/<node>/cri/. Its CNI directories hold cnilab's
// conflist and plugin, so a sandbox made through CRI gets its network from cnilab's CNI plugin exactly
// as on a kind or K3s node (containerd → libcni → bin/cni/cnilab → the node's agent). Sandboxes run
// the locally built pause image (image.ts) in a cgroup under /cnilab/<cluster>/<node>, so a sweep finds
// their processes even when containerd is gone.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { paths, netnsNames } from '../cluster/names.js';
import type { ClusterSpec, NodeSpec } from '../cluster/spec.js';
import { CNI_BIN_DIR, REFERENCE_CNI_DIR } from '../paths.js';
import { run } from '../exec/run.js';
import { CnilabError, UnsupportedError, WaitTimeoutError } from '../errors.js';
import { supportsV11, type CniConfList } from '../providers/common/cni-runtime.js';

/** The newest CNI version Debian's containerd (1.6, libcni 1.1) speaks. */
export const CONTAINERD_CNI_VERSION = '1.0.0';
import { buildPauseImage, PAUSE_IMAGE } from './image.js';
import { CriClient } from './client.js';
import { spawnLogged } from './containerd-process.js';

export interface ContainerdPaths {
  dir: string;
  root: string;
  state: string;
  socket: string;
  config: string;
  log: string;
  pid: string;
  cniBinDir: string;
  cniConfDir: string;
  /** The cgroup (cgroupfs syntax) under which this node's sandboxes run. */
  cgroupParent: string;
}

export function containerdPaths(cluster: string, node: string): ContainerdPaths {
  const dir = join(paths.nodeDir(cluster, node), 'cri');
  return {
    dir,
    root: join(dir, 'root'),
    state: join(dir, 'state'),
    socket: join(dir, 'containerd.sock'),
    config: join(dir, 'config.toml'),
    log: join(dir, 'containerd.log'),
    pid: join(dir, 'containerd.pid'),
    cniBinDir: join(dir, 'cni/bin'),
    cniConfDir: join(dir, 'cni/net.d'),
    cgroupParent: `/cnilab/${cluster}/${node}`,
  };
}

/** The cgroup directory (cgroupfs) that holds every CRI sandbox of a cluster. */
export const criCgroupRoot = (cluster: string) => `/cnilab/${cluster}`;

const toml = (s: string) => JSON.stringify(s); // TOML basic strings escape like JSON strings

/** containerd's config: CRI with runc, cnilab's CNI directories, the local pause image, nothing shared. */
export function containerdConfig(p: ContainerdPaths): string {
  return `# Written by cnilab (harness/cri/containerd.ts) for one node; removed by \`cnilab down\`.
version = 2
root = ${toml(p.root)}
state = ${toml(p.state)}
# Plugins that would touch shared host paths (/opt/containerd) or need absent kernel features.
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = ${toml(p.socket)}

[ttrpc]
  address = ${toml(`${p.socket}.ttrpc`)}

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ${toml(PAUSE_IMAGE)}
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  # The sandbox's oom_score_adj (-998 by default) never below containerd's own: lowering it needs
  # CAP_SYS_RESOURCE, which a containerised CI host may not give even to root.
  restrict_oom_score_adj = true
  # Sandbox network namespaces under this node's state dir, not /run/netns: nothing shared with
  # the host's or another node's runtime, and a sweep of the node's directory finds them.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        # runc's state under this node's directory, not the shared /run/containerd/runc.
        Root = ${toml(join(p.state, 'runc'))}
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = ${toml(p.cniBinDir)}
    conf_dir = ${toml(p.cniConfDir)}
    max_conf_num = 1
`;
}

export interface StartedContainerd {
  paths: ContainerdPaths;
  client: CriClient;
  pid: number;
}

/**
 * Start a node's containerd (in the node's netns), install cnilab's CNI plugin and the given conflist
 * in its CNI directories, import the pause image, and wait until CRI reports the runtime and the
 * network ready. Idempotent per node: a running instance is reused.
 */
export async function startContainerd(spec: ClusterSpec, node: NodeSpec, conflist: CniConfList, opts: { timeoutMs?: number } = {}): Promise<StartedContainerd> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  for (const tool of ['containerd', 'containerd-shim-runc-v2', 'runc', 'ctr']) {
    const found = await run(['sh', '-c', `command -v ${tool}`], { allowFailure: true });
    if (found.code !== 0) throw new UnsupportedError('containerd CRI', `${tool}: scripts/bootstrap.sh installs Debian's containerd and runc`);
  }
  const p = containerdPaths(spec.name, node.name);
  const client = new CriClient(p.socket);
  const running = runningPid(p);
  if (running) return { paths: p, client, pid: running };

  for (const d of [p.root, p.state, p.cniBinDir, p.cniConfDir]) mkdirSync(d, { recursive: true });
  // The plugin as a runtime installs it: the executables in bin_dir (links to this checkout's build),
  // the network configuration in conf_dir. containerd's CRI also brings up each sandbox's lo with the
  // reference `loopback` plugin (Debian's containernetworking-plugins).
  const exes: Array<[string, string]> = [['cnilab', join(CNI_BIN_DIR, 'cnilab')], ['cnilab-node', join(CNI_BIN_DIR, 'cnilab-node')], ['loopback', join(REFERENCE_CNI_DIR, 'loopback')]];
  for (const [name, target] of exes) {
    rmSync(join(p.cniBinDir, name), { force: true });
    symlinkSync(target, join(p.cniBinDir, name));
  }
  // Debian's containerd 1.6 calls plugins through libcni 1.1, which speaks CNI up to 1.0.0 (a 1.1.0
  // result is "unsupported CNI result version"): the list declares the newest version it speaks.
  const installed = supportsV11(conflist) ? { ...conflist, cniVersion: CONTAINERD_CNI_VERSION } : conflist;
  writeFileSync(join(p.cniConfDir, '10-cnilab.conflist'), `${JSON.stringify(installed, null, 2)}\n`);
  writeFileSync(p.config, containerdConfig(p));

  const proc = await spawnLogged(['nsenter', `--net=/run/netns/${netnsNames.node(spec.name, node.name)}`, '--', 'containerd', '--config', p.config], p.log);
  const pid = proc.pid;
  writeFileSync(p.pid, `${pid}\n`);
  // Whether it still runs comes from its process handle (containerd-process.ts explains why not runningPid).
  const failed = () => {
    const how = proc.describeExit();
    if (how) throw new CnilabError('COMMAND_FAILED', `containerd of node ${node.name} ${how} during start-up`, { detail: `its output (${p.log}):\n${proc.output() || '(none)'}` });
  };
  const detail = () => proc.output() || undefined;

  const deadline = Date.now() + timeoutMs;
  await waitFor(async () => {
    failed();
    return existsSync(p.socket) && (await client.version().then(() => true, () => false));
  }, deadline, `containerd of node ${node.name} to serve CRI on ${p.socket}`, detail);

  const image = join(p.dir, 'pause.oci.tar');
  await buildPauseImage(image);
  await run(['ctr', '--address', p.socket, '--namespace', 'k8s.io', 'images', 'import', '--snapshotter', 'native', image], { timeoutMs: 60_000 });
  rmSync(image, { force: true });

  // CRI's NetworkReady condition turns true once it has loaded a CNI configuration it can use.
  await waitFor(async () => {
    const st = await client.status().catch(() => undefined);
    failed();
    return !!st?.status.conditions.every((c) => c.status);
  }, deadline, `containerd of node ${node.name} to report RuntimeReady and NetworkReady`, detail);
  return { paths: p, client, pid };
}

function runningPid(p: ContainerdPaths): number | undefined {
  try {
    const pid = Number(readFileSync(p.pid, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    process.kill(pid, 0);
    // A recycled PID is not ours: containerd's command line names our config.
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(p.config) ? pid : undefined;
  } catch {
    return undefined;
  }
}

async function waitFor(check: () => Promise<boolean>, deadline: number, what: string, detail: () => string | undefined): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new WaitTimeoutError(what, Date.now() - started, detail());
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Stop a node's containerd the way a node is drained: every sandbox stopped and removed through CRI
 * (so the CNI plugin gets its DELs while the agent still runs), then containerd itself. What a crash
 * leaves is for sweepContainerd.
 */
export async function stopContainerd(cluster: string, node: string, opts: { timeoutMs?: number } = {}): Promise<{ sandboxes: number }> {
  const p = containerdPaths(cluster, node);
  const pid = runningPid(p);
  let sandboxes = 0;
  if (pid) {
    const client = new CriClient(p.socket, opts.timeoutMs ?? 20_000);
    try {
      for (const sb of await client.listPodSandbox()) {
        await client.stopPodSandbox(sb.id).catch(() => undefined);
        await client.removePodSandbox(sb.id).catch(() => undefined);
        sandboxes++;
      }
    } catch {
      /* not answering: the sweep below takes it down */
    } finally {
      client.close();
    }
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* gone */
    }
    const deadline = Date.now() + 5000;
    while (runningPid(p) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  }
  await sweepContainerd(cluster, node);
  return { sandboxes };
}

/** Mount points at or below a directory (deepest first), from /proc/self/mountinfo. */
export function mountsUnder(dir: string, mountinfo = readFileSync('/proc/self/mountinfo', 'utf8')): string[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return mountinfo
    .split('\n')
    .map((l) => l.split(' ')[4]?.replace(/\\040/g, ' '))
    .filter((m): m is string => !!m && (m === dir || m.startsWith(prefix)))
    .sort((a, b) => b.length - a.length);
}

/** Processes in a cgroup (v1 hierarchies or v2) at or below `rel`, and the directories found. */
export function cgroupMembers(rel: string): { pids: number[]; dirs: string[] } {
  const pids = new Set<number>();
  const dirs: string[] = [];
  const roots = existsSync('/sys/fs/cgroup/cgroup.controllers') ? ['/sys/fs/cgroup'] : listDir('/sys/fs/cgroup').map((h) => `/sys/fs/cgroup/${h}`);
  const walk = (d: string) => {
    if (!existsSync(d)) return;
    dirs.push(d);
    try {
      for (const l of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) if (/^\d+$/.test(l)) pids.add(Number(l));
    } catch {
      /* not a cgroup directory */
    }
    for (const c of listDir(d)) if (existsSync(join(d, c, 'cgroup.procs'))) walk(join(d, c));
  };
  for (const r of roots) walk(join(r, rel));
  return { pids: [...pids], dirs: dirs.sort((a, b) => b.length - a.length) };
}

function listDir(d: string): string[] {
  try {
    return readdirSync(d);
  } catch {
    return [];
  }
}

/**
 * Remove what a node's runtime left, with or without containerd running: sandbox processes (by their
 * cgroup), containerd and its shims (the caller's netns sweep kills those too), the netns and rootfs
 * mounts under the node's CRI directory, the cgroups, the directory.
 */
export async function sweepContainerd(cluster: string, node?: string): Promise<void> {
  const rel = node ? containerdPaths(cluster, node).cgroupParent : criCgroupRoot(cluster);
  for (let pass = 0; pass < 3; pass++) {
    const { pids } = cgroupMembers(rel);
    if (!pids.length) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const dir = node ? containerdPaths(cluster, node).dir : paths.runDir(cluster);
  for (const m of mountsUnder(dir)) await run(['umount', '-l', m], { allowFailure: true });
  // The cgroups, deepest first, then the shared /cnilab parents when nothing else is in them.
  const roots = cgroupMembers(rel).dirs;
  const parents = new Set(roots.flatMap((d) => [d.slice(0, d.lastIndexOf(`/cnilab/${cluster}`) + `/cnilab/${cluster}`.length), d.slice(0, d.lastIndexOf('/cnilab/') + '/cnilab'.length)]));
  for (const d of [...roots, ...[...parents].sort((a, b) => b.length - a.length)]) {
    try {
      rmdirSync(d);
    } catch {
      /* busy, not empty (another node or cluster), or gone */
    }
  }
  if (node) rmSync(containerdPaths(cluster, node).dir, { recursive: true, force: true });
  // containerd 1.6's shims put their sockets in /run/containerd/s whatever the config says; each shim
  // removes its own, the directories are left for the last one out (a system containerd keeps its
  // socket there, so they are removed only when empty).
  for (const d of ['/run/containerd/s', '/run/containerd']) {
    try {
      if (readdirSync(d).length === 0) rmdirSync(d);
    } catch {
      /* absent */
    }
  }
}

/** Clusters that may have CRI leftovers: those with a run dir, and those with a sandbox cgroup. */
export function criClusters(runDirs: string[]): string[] {
  const names = new Set(runDirs.map((d) => d.slice(d.lastIndexOf('/') + 1)));
  for (const h of existsSync('/sys/fs/cgroup/cgroup.controllers') ? [''] : listDir('/sys/fs/cgroup')) {
    for (const c of listDir(join('/sys/fs/cgroup', h, 'cnilab'))) if (existsSync(join('/sys/fs/cgroup', h, 'cnilab', c, 'cgroup.procs'))) names.add(c);
  }
  return [...names].sort();
}

/** Drain and stop the containerd of every node of a cluster that runs one. */
export async function stopClusterContainerds(cluster: string): Promise<void> {
  for (const node of listDir(join(paths.runDir(cluster), 'nodes'))) {
    if (existsSync(containerdPaths(cluster, node).pid)) await stopContainerd(cluster, node);
  }
}
