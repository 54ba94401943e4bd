// The embedded cluster behind the provider interface: nodes and pods are network namespaces on this
// host, so exec is nsenter and capture is tcpdump in the node's namespace.
import { readFileSync, writeFileSync, mkdirSync, existsSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { run, shellQuote, type RunOptions, type RunResult } from '../../exec/run.js';
import { ControlPlaneClient } from '../../cluster/client.js';
import { NETNS_DIR, netnsNames, paths } from '../../cluster/names.js';
import { podHostname, podNetnsName } from '../../cluster/pod-netns.js';
import type { ClusterSpec } from '../../cluster/spec.js';
import { POD_BIN_DIR } from '../../paths.js';
import { NotFoundError, WaitTimeoutError } from '../../errors.js';
import { startCapture as startPcap, type Capture } from '../../traffic/pcap.js';
import type { CaptureOptions, Provider, ProviderNode, ProviderObject, ProviderPod, RunningCapture, StartCaptureOptions } from '../common/provider.js';
import { captureFor } from '../common/capture.js';
import { createCluster, destroyCluster } from './cluster.js';
import type { NodeFaults } from '../common/faults.js';
import { NetnsNodeFaults } from './faults.js';

export class NetnsProvider implements Provider {
  readonly kind = 'netns' as const;
  private client: ControlPlaneClient;

  constructor(readonly cluster: string) {
    this.client = new ControlPlaneClient(paths.controlSocket(cluster), cluster);
  }

  private spec(): ClusterSpec {
    return JSON.parse(readFileSync(paths.state(this.cluster), 'utf8')) as ClusterSpec;
  }

  async create(spec: ClusterSpec, opts: { onProgress?: (msg: string) => void } = {}): Promise<void> {
    await createCluster({ ...spec, name: this.cluster }, opts);
  }
  async nodes(): Promise<ProviderNode[]> {
    return this.spec().nodes.map((n) => ({ name: n.name, ip: n.underlayIp, podCidr: n.podCidr }));
  }
  execOnNode(node: string, argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    // cnilab's pod tools on PATH here too: a real cluster's node helper has its tools in its image.
    const env = { PATH: `${POD_BIN_DIR}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`, HOSTNAME: node, ...opts.env };
    return run(argv, { allowFailure: true, ...opts, env, netns: netnsNames.node(this.cluster, node) });
  }
  async execInPod(namespace: string, pod: string, argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    let netns = netnsNames.pod(this.cluster, namespace, pod);
    let hostname = pod;
    if (!existsSync(`${NETNS_DIR}/${netns}`)) {
      // No sandbox of its own: a hostNetwork pod runs in its node's namespace (or the pod is gone, and
      // nsenter says so).
      const obj = await this.client.get('Pod', namespace, pod).catch(() => undefined);
      if (obj) [netns, hostname] = [podNetnsName(this.cluster, obj), podHostname(obj)];
    }
    // As `cnilab exec`: cnilab's pod tools (agnhost) first on PATH.
    const env = { PATH: `${POD_BIN_DIR}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}`, HOSTNAME: hostname, ...opts.env };
    return run(argv, { allowFailure: true, ...opts, env, netns });
  }
  async pods(namespace?: string): Promise<ProviderPod[]> {
    return (await this.client.list('Pod', namespace)).map((p) => {
      const st = (p.status ?? {}) as { phase?: string; podIP?: string };
      const spec = (p.spec ?? {}) as { nodeName?: string; hostNetwork?: boolean };
      return { namespace: p.metadata.namespace ?? 'default', name: p.metadata.name, node: spec.nodeName ?? '', ip: st.podIP ?? '', phase: st.phase ?? 'Pending', labels: (p.metadata.labels as Record<string, string>) ?? {}, ...(spec.hostNetwork ? { hostNetwork: true } : {}) };
    });
  }
  apply(objects: unknown[]): Promise<unknown> {
    return this.client.apply(objects);
  }
  // Objects through the embedded control plane's Kubernetes API (the socket the kubeconfig's proxy serves).
  async list(kind: string, namespace?: string): Promise<{ items: ProviderObject[]; resourceVersion: string }> {
    const l = await this.client.kube.list(kind, namespace);
    return { items: l.items as ProviderObject[], resourceVersion: String(l.resourceVersion) };
  }
  async remove(kind: string, namespace: string | undefined, name: string): Promise<void> {
    try {
      await this.client.kube.delete(kind, namespace, name);
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
  }
  async mergePatch(kind: string, namespace: string | undefined, name: string, patch: unknown): Promise<ProviderObject> {
    return (await this.client.kube.mergePatch(kind, namespace, name, patch)) as ProviderObject;
  }
  async waitPodsReady(namespace: string | undefined, timeoutMs: number): Promise<ProviderPod[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const pods = await this.pods(namespace);
      if (pods.length && pods.every((p) => p.phase === 'Running' && p.ip)) return pods;
      if (Date.now() > deadline) throw new WaitTimeoutError(`pods ${pods.filter((p) => p.phase !== 'Running').map((p) => `${p.namespace}/${p.name}`).join(', ') || '(none yet)'} to be Running`, timeoutMs);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  capture(node: string, opts: CaptureOptions): Promise<Buffer> {
    return captureFor((o) => this.startCapture(node, o), opts);
  }
  /** tcpdump in the node's namespace writing a file under the cluster's run dir (removed on stop; a
   *  crashed run's capture goes with the cluster's namespaces and run dir). */
  async startCapture(node: string, opts: StartCaptureOptions): Promise<RunningCapture> {
    mkdirSync(paths.runDir(this.cluster), { recursive: true });
    const dir = mkdtempSync(join(paths.runDir(this.cluster), `capture-${node}-`));
    let capture: Capture;
    try {
      capture = await startPcap({
        netns: netnsNames.node(this.cluster, node),
        iface: opts.iface,
        filter: opts.filter?.length ? opts.filter.join(' ') : undefined,
        file: join(dir, 'capture.pcap'),
        snaplen: opts.snaplen,
        maxPackets: opts.maxPackets,
        maxDurationMs: opts.maxDurationMs ?? 120_000,
        // Generous for a loaded machine. (The "start-up over 10 s" once seen here was most likely the
        // half-written listening line taken for an error: see captureProgress in common/capture.ts.)
        readyTimeoutMs: 30_000,
        // Packets still in flight (a reply on its way) get a moment to be written.
        settleMs: 150,
      });
    } catch (e) {
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
    return {
      command: shellQuote(capture.argv),
      async stop() {
        const r = await capture.stop();
        rmSync(dir, { recursive: true, force: true });
        return { pcap: r.pcap, packets: r.packets, stderr: r.stderr };
      },
    };
  }
  nodeFaults(): NodeFaults {
    return new NetnsNodeFaults(this.cluster);
  }
  async cni(): Promise<string> {
    return `${this.spec().cni} (embedded)`;
  }
  async collectLogs(dir: string): Promise<string[]> {
    mkdirSync(dir, { recursive: true });
    const out = join(dir, 'daemon.log');
    if (existsSync(paths.daemonLog(this.cluster))) copyFileSync(paths.daemonLog(this.cluster), out);
    else writeFileSync(out, '');
    return [out];
  }
  async destroy(): Promise<void> {
    await destroyCluster(this.cluster);
  }
}
