// The pod runtime of the embedded cluster: what kubelet and containerd do on each node, for every
// node, inside the cluster daemon. It schedules Pods (spec.nodeName, or the least-loaded node),
// creates the pod's network namespace, calls the node's CNI exactly as a container runtime does,
// records the result in the Pod's status, starts the containers, and undoes all of it on delete.
// A `hostNetwork: true` pod gets no namespace and no CNI call: its processes run in the node's
// namespace, with the node's address as podIP and the node's name as hostname, as kubelet does it.
// agnhost containers run in the node's workload process (workloads.ts), never in the daemon: pod
// traffic is hostile input. A restarted daemon re-adopts the pods of the crashed one (recover.ts)
// before it watches for new ones.
import type { ClusterSpec, NodeSpec } from '../../cluster/spec.js';
import type { ObjectStore, WatchEvent } from '../../cluster/store.js';
import type { KubeObject } from '../../cluster/objects.js';
import { netnsNames, NETNS_DIR } from '../../cluster/names.js';
import { CNI_TRY_AGAIN_LATER, CniPluginError, cniAdd, cniDel, podIpFromResult, type CniResult } from '../common/cni-runtime.js';
import { Backoff, type BackoffOptions } from '../../exec/backoff.js';
import { cniConfigFor, cniPathFor, POD_IFNAME } from './cni-config.js';
import { createPodNetns, deleteNetns } from './network.js';
import { WorkloadSupervisor } from './workloads.js';
import { planRecovery, readCniCache, removeCniCache, writeCniCache } from './recover.js';
import { killAll, listNetns, listProcessesInNetns } from './sweep.js';
import { POD_BIN_DIR } from '../../paths.js';
import { paths } from '../../cluster/names.js';
import { rm } from 'node:fs/promises';
import { ContainerRunner, podStatusOf, type StartedContainer } from './containers.js';
import { startContainerProcess } from './container-process.js';

interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: Array<{ name: string; value?: string }>;
}

interface RunningPod {
  key: string;
  uid: string;
  node: NodeSpec;
  netns: string;
  /** Runs in the node's netns: no sandbox of its own, no CNI, nothing of the node's to delete. */
  hostNetwork?: boolean;
  cniResult?: CniResult;
  stops: Array<() => Promise<void>>;
  containers: ContainerRunner[];
  /** The controller owning the pod (its ReplicaSet, DaemonSet), for spreading replicas. */
  owner?: string;
  /** Status fields fixed at start (hostIP, podIP, startTime); the rest comes from the containers. */
  base?: Record<string, unknown>;
  /** agnhost containers hosted in this process keep their log lines in memory. */
  agnhostLogs: Map<string, () => string[]>;
  /** Settles when setup is over (either way), so a delete waits for a half-started pod. */
  ready: Promise<void>;
}

/** Pauses between sandbox attempts (kubelet's pod-worker backoff, scaled to the embedded cluster). */
export const SANDBOX_RETRY: BackoffOptions = { initialMs: 1000, maxMs: 8000, resetAfterMs: Number.POSITIVE_INFINITY };

/** A CNI failure worth another sandbox attempt: the plugin asked to be tried again later (11). */
export function isTransientCniError(err: unknown): boolean {
  return err instanceof CniPluginError && err.cniCode === CNI_TRY_AGAIN_LATER;
}

const isAgnhost = (image: string) => /(^|\/)agnhost(:|@|$)/.test(image);

/** agnhost's argv from a container: the image's entrypoint is /agnhost, so a command of
 *  ["/agnhost", ...] or no command at all both mean "the rest is agnhost's arguments". */
export function agnhostArgv(c: Container): string[] {
  const cmd = c.command ?? [];
  const rest = cmd.length && /(^|\/)agnhost$/.test(cmd[0]!) ? cmd.slice(1) : cmd;
  return [...rest, ...(c.args ?? [])];
}

const ownerUid = (pod: KubeObject) => (pod.metadata.ownerReferences as Array<{ uid: string; controller?: boolean }> | undefined)?.find((r) => r.controller)?.uid;

export class PodRuntime {
  private pods = new Map<string, RunningPod>();
  private workloads: WorkloadSupervisor;
  private unwatch?: () => void;
  private log: (msg: string) => void;

  constructor(
    private spec: ClusterSpec,
    private store: ObjectStore,
    opts: { log?: (msg: string) => void; workloads?: WorkloadSupervisor } = {},
  ) {
    this.log = opts.log ?? ((m) => console.log(m));
    this.workloads = opts.workloads ?? new WorkloadSupervisor(spec.name, this.log);
  }

  /**
   * After a daemon restart, before start(): adopt the pods whose sandbox survived (their containers
   * start again, restartCount + 1), clean the half-made ones (start() sets them up again) and the
   * orphaned ones. Whatever ran in an adopted pod's netns belonged to the old daemon and is killed.
   */
  async recover(why: string): Promise<void> {
    const plan = planRecovery(this.spec.name, this.store.list('Pod'), listNetns(this.spec.name), (ns, n) => readCniCache(this.spec.name, ns, n));
    this.log(`recovering pods: ${plan.adopt.length} adopted, ${plan.redo.length} to set up again, ${plan.orphans.length} orphaned sandboxes`);
    for (const pod of plan.adopt) {
      const ns = pod.metadata.namespace!;
      const name = pod.metadata.name;
      const cache = readCniCache(this.spec.name, ns, name)!;
      const node = this.spec.nodes.find((n) => n.name === cache.node)!;
      const st = pod.status as { containerStatuses?: Array<{ name: string; restartCount?: number }> } & Record<string, unknown>;
      const p: RunningPod = { key: `${ns}/${name}`, uid: cache.uid, owner: ownerUid(pod), node, netns: netnsNames.pod(this.spec.name, ns, name), cniResult: cache.result, stops: [], containers: [], agnhostLogs: new Map(), ready: Promise.resolve() };
      this.pods.set(p.key, p);
      const restarts = new Map((st.containerStatuses ?? []).map((c) => [c.name, c.restartCount ?? 0]));
      const lost = { terminated: { exitCode: 137, reason: 'Error', message: why, startedAt: '', finishedAt: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') } };
      p.ready = (async () => {
        await killAll(listProcessesInNetns([p.netns]).map((x) => x.pid), 500);
        await this.startContainers(p, pod, (runner) => {
          runner.restartCount = (restarts.get(runner.name) ?? 0) + 1;
          runner.lastState = lost;
        });
        p.base = { hostIP: st.hostIP, hostIPs: st.hostIPs, podIP: st.podIP, podIPs: st.podIPs, startTime: st.startTime, qosClass: st.qosClass };
        this.publish(p);
      })().catch((err: Error) => {
        this.log(`pod ${p.key}: restarting its containers: ${err.message}`);
        if (this.pods.get(p.key) === p) this.setStatus(ns, name, { phase: 'Failed', reason: 'ContainerRestartFailed', message: err.message });
      });
    }
    const clean = async (namespace: string, name: string) => {
      const cache = readCniCache(this.spec.name, namespace, name);
      const node = this.spec.nodes.find((n) => n.name === cache?.node);
      const netns = netnsNames.pod(this.spec.name, namespace, name);
      await killAll(listProcessesInNetns([netns]).map((x) => x.pid), 500);
      if (cache && node) {
        const p = { key: `${namespace}/${name}`, uid: cache.uid, node, netns } as RunningPod;
        await cniDel(cniConfigFor(this.spec, node), this.cniInvocation(p, { namespace, name, uid: cache.uid }), cache.result).catch((e: Error) =>
          this.log(`pod ${namespace}/${name}: CNI DEL while recovering: ${e.message}`),
        );
      }
      await deleteNetns(netns);
      removeCniCache(this.spec.name, namespace, name);
    };
    for (const pod of plan.redo) await clean(pod.metadata.namespace!, pod.metadata.name);
    for (const o of plan.orphans) await clean(o.namespace, o.name);
    // Completed pods stay completed: listed as this runtime's (so start() does not run them again and a
    // delete tears down what they hold), their containers not started, their status and logs untouched.
    for (const { pod, intact } of plan.finished) {
      const ns = pod.metadata.namespace!;
      const name = pod.metadata.name;
      const cache = intact ? readCniCache(this.spec.name, ns, name) : undefined;
      if (!intact) await clean(ns, name);
      const node = this.spec.nodes.find((n) => n.name === (cache?.node ?? (pod.spec as { nodeName?: string }).nodeName)) ?? this.spec.nodes[0]!;
      const hostNetwork = (pod.spec as { hostNetwork?: boolean }).hostNetwork === true;
      const netns = hostNetwork ? netnsNames.node(this.spec.name, node.name) : netnsNames.pod(this.spec.name, ns, name);
      const key = `${ns}/${name}`;
      this.pods.set(key, { key, uid: pod.metadata.uid ?? key, owner: ownerUid(pod), node, netns, hostNetwork, ...(cache ? { cniResult: cache.result } : {}), stops: [], containers: [], agnhostLogs: new Map(), ready: Promise.resolve() });
    }
    if (plan.finished.length) this.log(`recovering pods: ${plan.finished.length} completed, kept as they are`);
  }

  start(): void {
    this.unwatch = this.store.watch((ev) => this.onEvent(ev));
    for (const pod of this.store.list('Pod')) this.onEvent({ type: 'ADDED', object: pod });
  }

  private onEvent(ev: WatchEvent): void {
    if (ev.object.kind !== 'Pod') return;
    const pod = ev.object;
    const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
    if (ev.type === 'DELETED') {
      void this.teardown(key);
      return;
    }
    if (!this.pods.has(key) && ev.type === 'ADDED') this.launch(key, pod);
  }

  /**
   * The node with the fewest pods of the same owner (a ReplicaSet's replicas spread, as the default
   * scheduler's pod topology spread does), then the least-loaded, then the lowest index.
   */
  private schedule(pod: KubeObject): NodeSpec | undefined {
    const wanted = (pod.spec as { nodeName?: string }).nodeName;
    if (wanted) return this.spec.nodes.find((n) => n.name === wanted);
    const owner = ownerUid(pod);
    const load = new Map(this.spec.nodes.map((n) => [n.name, 0]));
    const siblings = new Map(this.spec.nodes.map((n) => [n.name, 0]));
    for (const p of this.pods.values()) {
      load.set(p.node.name, (load.get(p.node.name) ?? 0) + 1);
      if (owner && p.owner === owner) siblings.set(p.node.name, (siblings.get(p.node.name) ?? 0) + 1);
    }
    return [...this.spec.nodes].sort((a, b) => siblings.get(a.name)! - siblings.get(b.name)! || load.get(a.name)! - load.get(b.name)! || a.index - b.index)[0];
  }

  private launch(key: string, pod: KubeObject): void {
    const ns = pod.metadata.namespace!;
    const name = pod.metadata.name;
    const node = this.schedule(pod);
    if (!node) {
      const wanted = (pod.spec as { nodeName?: string }).nodeName;
      this.setStatus(ns, name, { phase: 'Pending', reason: 'Unschedulable', message: `node "${wanted}" does not exist` });
      return;
    }
    if (!(pod.spec as { nodeName?: string }).nodeName) this.store.bindPod(ns, name, node.name);
    const hostNetwork = (pod.spec as { hostNetwork?: boolean }).hostNetwork === true;
    const netns = hostNetwork ? netnsNames.node(this.spec.name, node.name) : netnsNames.pod(this.spec.name, ns, name);
    const running: RunningPod = { key, uid: pod.metadata.uid ?? key, owner: ownerUid(pod), node, netns, hostNetwork, stops: [], containers: [], agnhostLogs: new Map(), ready: Promise.resolve() };
    this.pods.set(key, running);
    running.ready = this.setup(running, pod).catch((err: Error) => {
      this.log(`pod ${key}: ${err.message}${(err as { detail?: string }).detail ? `\n${(err as { detail?: string }).detail}` : ''}`);
      if (this.pods.get(key) === running) {
        this.setStatus(ns, name, { phase: 'Failed', reason: 'SandboxSetupFailed', message: err.message, hostIP: node.underlayIp });
      }
    });
  }

  private cniInvocation(p: RunningPod, pod: { namespace: string; name: string; uid: string }) {
    return {
      containerId: pod.uid,
      netns: `${NETNS_DIR}/${p.netns}`,
      ifname: POD_IFNAME,
      cniPath: cniPathFor(),
      args: { IgnoreUnknown: 'true', K8S_POD_NAMESPACE: pod.namespace, K8S_POD_NAME: pod.name, K8S_POD_INFRA_CONTAINER_ID: pod.uid },
      runInNetns: netnsNames.node(this.spec.name, p.node.name),
      onRetry: (err: Error, attempt: number) => this.log(`pod ${p.key}: CNI call on node ${p.node.name} retried (attempt ${attempt}): ${err.message}`),
    };
  }

  private async setup(p: RunningPod, pod: KubeObject): Promise<void> {
    const ns = pod.metadata.namespace!;
    const name = pod.metadata.name;
    this.setStatus(ns, name, { phase: 'Pending', reason: 'ContainerCreating', hostIP: p.node.underlayIp });
    if (p.hostNetwork) {
      await this.startContainers(p, pod);
      if (!this.pods.has(p.key)) return;
      const ip = p.node.underlayIp;
      p.base = { hostIP: ip, hostIPs: [{ ip }], podIP: ip, podIPs: [{ ip }], startTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'), qosClass: 'BestEffort' };
      this.publish(p);
      return;
    }
    await createPodNetns(p.netns);
    p.cniResult = await this.addNetwork(p, ns, name);
    writeCniCache(this.spec.name, { namespace: ns, name, uid: p.uid, node: p.node.name, result: p.cniResult });
    const podIP = podIpFromResult(p.cniResult);
    await this.startContainers(p, pod);
    if (!this.pods.has(p.key)) return;
    p.base = { hostIP: p.node.underlayIp, hostIPs: [{ ip: p.node.underlayIp }], podIP, podIPs: podIP ? [{ ip: podIP }] : [], startTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'), qosClass: 'BestEffort' };
    this.publish(p);
  }

  /**
   * CNI ADD into the pod's sandbox, retried as kubelet retries a failed sandbox creation: when the
   * plugin says "try again later" (11: the node's agent is restarting, or died in the middle of the
   * ADD) after its own retries, the pod stays Pending (ContainerCreating) with the error and the
   * node in its status message, and the ADD is sent again after a doubling pause (1 s … 8 s), into
   * the same namespace, until it works or the pod is deleted. Any other error fails the pod at once.
   */
  private async addNetwork(p: RunningPod, ns: string, name: string): Promise<CniResult> {
    const conf = cniConfigFor(this.spec, p.node);
    const backoff = new Backoff(SANDBOX_RETRY);
    for (let attempt = 1; ; attempt++) {
      try {
        return await cniAdd(conf, this.cniInvocation(p, { namespace: ns, name, uid: p.uid }));
      } catch (err) {
        if (!isTransientCniError(err) || this.pods.get(p.key) !== p) throw err;
        const delay = backoff.next(0);
        const message = `FailedCreatePodSandBox on node ${p.node.name} (attempt ${attempt}, again in ${delay} ms): ${(err as Error).message}`;
        this.log(`pod ${p.key}: ${message}`);
        this.setStatus(ns, name, { phase: 'Pending', reason: 'ContainerCreating', message, hostIP: p.node.underlayIp });
        // Sleep in slices, so a delete does not wait for the whole pause.
        for (const end = Date.now() + delay; Date.now() < end && this.pods.get(p.key) === p; ) await new Promise((r) => setTimeout(r, Math.min(100, end - Date.now())));
        if (this.pods.get(p.key) !== p) throw new Error('deleted while its sandbox was being set up again');
      }
    }
  }

  /** Start the pod's containers in order; `adopt` adjusts a runner before it starts (recovery). */
  private async startContainers(p: RunningPod, pod: KubeObject, adopt?: (runner: ContainerRunner) => void): Promise<void> {
    const ns = pod.metadata.namespace!;
    const name = pod.metadata.name;
    const containers = ((pod.spec as { containers: Container[] }).containers ?? []) as Container[];
    const restartPolicy = ((pod.spec as { restartPolicy?: string }).restartPolicy ?? 'Always') as 'Always' | 'OnFailure' | 'Never';
    const logDir = paths.podLogDir(this.spec.name, ns, name);
    for (const c of containers) {
      if (!this.pods.has(p.key)) return; // deleted meanwhile; teardown does the rest
      const runner = new ContainerRunner(c.name, c.image, restartPolicy, () => this.launchContainer(p, name, c, logDir), () => this.publish(p));
      adopt?.(runner);
      p.containers.push(runner);
      p.stops.push(() => runner.stop());
      await runner.start();
    }
  }

  /**
   * Start one container (again, after a restart): agnhost in the node's workload process (when that
   * process dies, the container has exited with a message saying so), anything else as a process.
   */
  private async launchContainer(p: RunningPod, podName: string, c: Container, logDir: string): Promise<StartedContainer> {
    if (isAgnhost(c.image)) {
      const handle = await this.workloads.node(p.node.name).startContainer({ netnsPath: `${NETNS_DIR}/${p.netns}`, podName: p.hostNetwork ? p.node.name : podName, args: agnhostArgv(c) });
      p.agnhostLogs.set(c.name, () => handle.logs());
      return { exited: handle.exited, stop: () => handle.stop() };
    }
    const argv = [...(c.command ?? []), ...(c.args ?? [])];
    if (argv.length === 0) throw new Error(`container "${c.name}": image "${c.image}" is not built in, so it needs a command`);
    const env: Record<string, string> = { HOSTNAME: p.hostNetwork ? p.node.name : podName, PATH: `${POD_BIN_DIR}:${process.env.PATH ?? '/usr/bin:/bin'}` };
    for (const e of c.env ?? []) env[e.name] = e.value ?? '';
    // Its exit is recorded (and the phase can turn Succeeded) only once its log is complete.
    const proc = startContainerProcess(argv, { netns: p.netns, env, logDir, container: c.name });
    const exited = proc.exited.then((r) => {
      if (this.pods.get(p.key) === p) this.log(`pod ${p.key}: container ${c.name} exited with ${r.code ?? r.signal}`);
      return r;
    });
    return { exited, stop: proc.stop };
  }

  /** Write the pod's status from its containers; condition times move only when a condition changes. */
  private publish(p: RunningPod): void {
    if (!p.base || this.pods.get(p.key) !== p) return;
    const [ns, name] = p.key.split('/') as [string, string];
    const st = podStatusOf(p.containers);
    const prev = (this.store.get('Pod', ns, name)?.status as { conditions?: Array<Record<string, string>> } | undefined)?.conditions ?? [];
    const conditions = st.conditions.map((c) => {
      const was = prev.find((x) => x.type === c.type);
      return { ...c, lastProbeTime: null, lastTransitionTime: was && was.status === c.status ? was.lastTransitionTime : c.lastTransitionTime };
    });
    this.setStatus(ns, name, { ...p.base, phase: st.phase, conditions, containerStatuses: st.containerStatuses });
  }

  /** Where a container's log is: a CRI log file (processes) or in-memory lines (agnhost servers). */
  containerLog(namespace: string, pod: string, container: string): { dir: string } | { lines: () => string[] } | undefined {
    const p = this.pods.get(`${namespace}/${pod}`);
    const agn = p?.agnhostLogs.get(container);
    if (agn) return { lines: agn };
    return { dir: paths.podLogDir(this.spec.name, namespace, pod) };
  }

  private async teardown(key: string): Promise<void> {
    const p = this.pods.get(key);
    if (!p) return;
    this.pods.delete(key);
    await p.ready;
    for (const stop of p.stops.reverse()) await stop().catch(() => undefined);
    const [ns, name] = key.split('/') as [string, string];
    if (p.hostNetwork) {
      // The node's namespace is not the pod's to delete.
      await rm(paths.podLogDir(this.spec.name, ns, name), { recursive: true, force: true });
      return;
    }
    try {
      await cniDel(cniConfigFor(this.spec, p.node), this.cniInvocation(p, { namespace: ns, name, uid: p.uid }), p.cniResult);
    } catch (err) {
      this.log(`pod ${key}: CNI DEL: ${(err as Error).message}`);
    }
    await deleteNetns(p.netns);
    removeCniCache(this.spec.name, ns, name);
    await rm(paths.podLogDir(this.spec.name, ns, name), { recursive: true, force: true });
  }

  private setStatus(ns: string, name: string, status: Record<string, unknown>): void {
    try {
      this.store.updateStatus('Pod', ns, name, status);
    } catch {
      /* the pod was deleted meanwhile */
    }
  }

  /** Stop everything (daemon shutdown). CNI DEL is skipped when `fast`: the namespaces go anyway. */
  async stop(fast = true): Promise<void> {
    this.unwatch?.();
    const all = [...this.pods.values()];
    if (!fast) {
      await Promise.all(all.map((p) => this.teardown(p.key)));
      await this.workloads.stop();
      return;
    }
    // The workload processes go first and take their pods' sockets with them.
    await this.workloads.stop();
    for (const p of all) for (const stop of p.stops) await stop().catch(() => undefined);
    this.pods.clear();
  }

  /** The workload processes, one per node (for `cnilab status`). */
  workloadStatus() {
    return this.workloads.status();
  }
}
