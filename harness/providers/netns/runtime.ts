// The pod runtime of the embedded cluster: what kubelet and containerd do on each node, for every
// node, inside the cluster daemon. It schedules Pods (spec.nodeName, or the least-loaded node),
// creates the pod's network namespace, calls the node's CNI exactly as a container runtime does,
// records the result in the Pod's status, starts the containers, and undoes all of it on delete.
// agnhost containers run in the node's workload process (workloads.ts), not in the daemon; what
// happens to a container afterwards (its process crashed and restarted, it exited) is kept in the
// Pod's containerStatuses and Ready condition. A restarted daemon re-adopts the pods of the crashed
// one (recover.ts) before it watches for new ones.
import type { ClusterSpec, NodeSpec } from '../../cluster/spec.js';
import type { ObjectStore, WatchEvent } from '../../cluster/store.js';
import type { KubeObject } from '../../cluster/objects.js';
import { netnsNames, NETNS_DIR } from '../../cluster/names.js';
import { start, type Background } from '../../exec/run.js';
import { cniAdd, cniDel, podIpFromResult, type CniResult } from '../common/cni-runtime.js';
import { cniConfigFor, cniPathFor, POD_IFNAME } from './cni-config.js';
import { createPodNetns, deleteNetns } from './network.js';
import { WorkloadSupervisor, type ContainerEvent } from './workloads.js';
import { readyCondition, runningStatus, statusFromEvent, type ContainerStatus } from './container-status.js';
import { planRecovery, readCniCache, removeCniCache, writeCniCache } from './recover.js';
import { killAll, listNetns, listProcessesInNetns } from './sweep.js';
import type { Terminated } from './workloads.js';
import { POD_BIN_DIR } from '../../paths.js';

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
  cniResult?: CniResult;
  stops: Array<() => Promise<void>>;
  /** Settles when setup is over (either way), so a delete waits for a half-started pod. */
  ready: Promise<void>;
  /** Pod status fields set once it runs (IPs, start time); containers' statuses by name. */
  base?: Record<string, unknown>;
  containers: Map<string, ContainerStatus>;
}

const isAgnhost = (image: string) => /(^|\/)agnhost(:|@|$)/.test(image);

/** agnhost's argv from a container: the image's entrypoint is /agnhost, so a command of
 *  ["/agnhost", ...] or no command at all both mean "the rest is agnhost's arguments". */
export function agnhostArgv(c: Container): string[] {
  const cmd = c.command ?? [];
  const rest = cmd.length && /(^|\/)agnhost$/.test(cmd[0]!) ? cmd.slice(1) : cmd;
  return [...rest, ...(c.args ?? [])];
}

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
   * start again), clean the half-made ones (start() sets them up again) and the orphaned ones.
   */
  async recover(why: string): Promise<void> {
    const pods = this.store.list('Pod');
    const plan = planRecovery(this.spec.name, pods, listNetns(this.spec.name), (ns, n) => readCniCache(this.spec.name, ns, n));
    this.log(`recovering pods: ${plan.adopt.length} adopted, ${plan.redo.length} to set up again, ${plan.orphans.length} orphaned sandboxes`);
    const lost: Terminated = { exitCode: 137, reason: 'Error', message: why, finishedAt: new Date().toISOString() };
    for (const pod of plan.adopt) {
      const ns = pod.metadata.namespace!;
      const name = pod.metadata.name;
      const cache = readCniCache(this.spec.name, ns, name)!;
      const node = this.spec.nodes.find((n) => n.name === cache.node)!;
      const p: RunningPod = { key: `${ns}/${name}`, uid: cache.uid, node, netns: netnsNames.pod(this.spec.name, ns, name), cniResult: cache.result, stops: [], ready: Promise.resolve(), containers: new Map() };
      p.base = { ...(pod.status as Record<string, unknown>) };
      delete p.base.conditions;
      delete p.base.containerStatuses;
      const previous = ((pod.status as { containerStatuses?: Array<{ name: string; restartCount?: number }> }).containerStatuses ?? []).map((c) => [c.name, c.restartCount ?? 0] as const);
      this.pods.set(p.key, p);
      p.ready = this.restartContainers(p, pod, new Map(previous), lost).catch((err: Error) => {
        this.log(`pod ${p.key}: restarting its containers: ${err.message}`);
        if (this.pods.get(p.key) === p) this.setStatus(ns, name, { ...p.base, phase: 'Failed', reason: 'ContainerRestartFailed', message: err.message });
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
  }

  /** An adopted pod: whatever ran in its netns belonged to the old daemon; start its containers anew. */
  private async restartContainers(p: RunningPod, pod: KubeObject, restarts: Map<string, number>, lost: Terminated): Promise<void> {
    await killAll(listProcessesInNetns([p.netns]).map((x) => x.pid), 500);
    await this.startContainers(p, pod, (name) => ({ restartCount: (restarts.get(name) ?? 0) + 1, lastTerminated: lost }));
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

  /** Least-loaded node, ties to the lowest index: deterministic spreading. */
  private schedule(pod: KubeObject): NodeSpec | undefined {
    const wanted = (pod.spec as { nodeName?: string }).nodeName;
    if (wanted) return this.spec.nodes.find((n) => n.name === wanted);
    const load = new Map(this.spec.nodes.map((n) => [n.name, 0]));
    for (const p of this.pods.values()) load.set(p.node.name, (load.get(p.node.name) ?? 0) + 1);
    return [...this.spec.nodes].sort((a, b) => load.get(a.name)! - load.get(b.name)! || a.index - b.index)[0];
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
    const running: RunningPod = { key, uid: pod.metadata.uid ?? key, node, netns: netnsNames.pod(this.spec.name, ns, name), stops: [], ready: Promise.resolve(), containers: new Map() };
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
    };
  }

  private async setup(p: RunningPod, pod: KubeObject): Promise<void> {
    const ns = pod.metadata.namespace!;
    const name = pod.metadata.name;
    this.setStatus(ns, name, { phase: 'Pending', reason: 'ContainerCreating', hostIP: p.node.underlayIp });
    await createPodNetns(p.netns);
    const conf = cniConfigFor(this.spec, p.node);
    p.cniResult = await cniAdd(conf, this.cniInvocation(p, { namespace: ns, name, uid: p.uid }));
    writeCniCache(this.spec.name, { namespace: ns, name, uid: p.uid, node: p.node.name, result: p.cniResult });
    const podIP = podIpFromResult(p.cniResult);
    p.base = { phase: 'Running', hostIP: p.node.underlayIp, podIP, podIPs: podIP ? [{ ip: podIP }] : [], startTime: new Date().toISOString() };
    await this.startContainers(p, pod, () => ({ restartCount: 0 }));
  }

  private async startContainers(p: RunningPod, pod: KubeObject, history: (container: string) => { restartCount: number; lastTerminated?: Terminated }): Promise<void> {
    const name = pod.metadata.name;
    const base = p.base;
    p.base = undefined; // container events publish only once every container has started
    const containers = ((pod.spec as { containers: Container[] }).containers ?? []) as Container[];
    for (const c of containers) {
      if (!this.pods.has(p.key)) return; // deleted meanwhile; teardown does the rest
      const startedAt = new Date().toISOString();
      if (isAgnhost(c.image)) {
        const handle = await this.workloads
          .node(p.node.name)
          .startContainer({ netnsPath: `${NETNS_DIR}/${p.netns}`, podName: name, args: agnhostArgv(c) }, (ev) => this.containerEvent(p, c, ev), history(c.name).restartCount);
        p.stops.push(() => handle.stop());
      } else {
        const argv = [...(c.command ?? []), ...(c.args ?? [])];
        if (argv.length === 0) throw new Error(`container "${c.name}": image "${c.image}" is not built in, so it needs a command`);
        const env: Record<string, string> = { HOSTNAME: name, PATH: `${POD_BIN_DIR}:${process.env.PATH ?? '/usr/bin:/bin'}` };
        for (const e of c.env ?? []) env[e.name] = e.value ?? '';
        const proc: Background = start(argv, { netns: p.netns, env });
        p.stops.push(() => proc.stop());
        void proc.exited.then(({ code, signal }) => {
          if (this.pods.get(p.key) !== p) return;
          this.log(`pod ${p.key}: container ${c.name} exited with ${code ?? signal}`);
          const exitCode = code ?? 128;
          const terminated = { exitCode, ...(signal ? { signal } : {}), reason: exitCode === 0 ? 'Completed' : 'Error', finishedAt: new Date().toISOString() } as const;
          this.containerEvent(p, c, { type: 'terminated', restartCount: history(c.name).restartCount, terminated });
        });
      }
      const h = history(c.name);
      p.containers.set(c.name, runningStatus(c.name, c.image, startedAt, h.restartCount, h.lastTerminated));
    }
    if (!this.pods.has(p.key)) return;
    p.base = base;
    this.publish(p, containers);
  }

  /** A container's state changed after it started: record it in the Pod's status. */
  private containerEvent(p: RunningPod, c: Container, ev: ContainerEvent): void {
    if (this.pods.get(p.key) !== p) return;
    p.containers.set(c.name, statusFromEvent(c.name, c.image, ev));
    if (p.base) this.publish(p);
  }

  private publish(p: RunningPod, order?: Container[]): void {
    const [ns, name] = p.key.split('/') as [string, string];
    const statuses = order ? order.map((c) => p.containers.get(c.name)!).filter(Boolean) : [...p.containers.values()];
    this.setStatus(ns, name, { ...p.base, conditions: [readyCondition(statuses)], containerStatuses: statuses });
  }

  private async teardown(key: string): Promise<void> {
    const p = this.pods.get(key);
    if (!p) return;
    this.pods.delete(key);
    await p.ready;
    for (const stop of p.stops.reverse()) await stop().catch(() => undefined);
    const [ns, name] = key.split('/') as [string, string];
    try {
      await cniDel(cniConfigFor(this.spec, p.node), this.cniInvocation(p, { namespace: ns, name, uid: p.uid }), p.cniResult);
    } catch (err) {
      this.log(`pod ${key}: CNI DEL: ${(err as Error).message}`);
    }
    await deleteNetns(p.netns);
    removeCniCache(this.spec.name, ns, name);
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
