// Any existing Kubernetes cluster, reached through a kubeconfig, behind the provider interface: the
// vendor-evaluation path (cnilab deploys its test workloads and probes whatever CNI is installed).
// Objects go through the API, probes through pods/exec over WebSocket (@kubernetes/client-node), and
// what must run on a node (a command in its network namespace, a packet capture) goes through a
// privileged host-network helper pod pinned to that node (helper-pod.ts).
import { PassThrough } from 'node:stream';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import type { RunOptions, RunResult } from '../../exec/run.js';
import type { ClusterSpec } from '../../cluster/spec.js';
import { CnilabError, WaitTimeoutError } from '../../errors.js';
import type { CaptureOptions, Provider, ProviderNode, ProviderObject, ProviderPod, RunningCapture, StartCaptureOptions } from '../common/provider.js';
import { CAPTURE_PID_MARK, captureFor, capturePid, captureProgress, endedEarlyReason, tcpdumpArgv } from '../common/capture.js';
import { parsePcap } from '../../traffic/pcap-parse.js';
import { shellQuote } from '../../exec/run.js';
import { groupVersion, resourceForKind } from '../../cluster/kube/resources.js';
import { ensureHelperPod, HELPER_NAMESPACE, helperPod, helperPodName } from './helper-pod.js';
import { detectCni } from './cni.js';
import { fromModel, toModel } from './models.js';
import type { NodeFaults } from '../common/faults.js';
import { KubeconfigNodeFaults } from './faults.js';

const EXIT_CODE = /^\d+$/;

/** Whether `want` says nothing `have` does not: every field it sets has the same value in `have` (deep;
 *  arrays element by element, same length). Fields the server filled in (defaults, status) do not count,
 *  as `kubectl apply` leaves an object alone when the manifest asks for no change. */
export function coveredBy(want: unknown, have: unknown): boolean {
  if (Array.isArray(want)) return Array.isArray(have) && have.length === want.length && want.every((w, i) => coveredBy(w, have[i]));
  if (want && typeof want === 'object') {
    if (!have || typeof have !== 'object' || Array.isArray(have)) return false;
    return Object.entries(want as Record<string, unknown>).every(([k, v]) => v === undefined || coveredBy(v, (have as Record<string, unknown>)[k]));
  }
  return want === have;
}

/** The exit code in an exec's final V1Status: Success is 0, NonZeroExitCode carries it in a cause. */
export function exitCodeOf(status: k8s.V1Status | undefined): number {
  if (!status) return 1;
  if (status.status === 'Success') return 0;
  const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  return cause?.message && EXIT_CODE.test(cause.message) ? Number(cause.message) : 1;
}

export class KubeconfigProvider implements Provider {
  readonly kind = 'kubeconfig' as const;
  readonly kc = new k8s.KubeConfig();
  private core: k8s.CoreV1Api;
  private objects: k8s.KubernetesObjectApi;

  constructor(
    readonly kubeconfigPath: string,
    private readonly opts: { context?: string; helperImage?: string } = {},
  ) {
    this.kc.loadFromFile(kubeconfigPath);
    if (opts.context) this.kc.setCurrentContext(opts.context);
    this.core = this.kc.makeApiClient(k8s.CoreV1Api);
    this.objects = k8s.KubernetesObjectApi.makeApiClient(this.kc);
  }

  /** An existing cluster is not created: create only checks that its API answers. */
  async create(_spec?: ClusterSpec, opts: { onProgress?: (msg: string) => void } = {}): Promise<void> {
    const version = await this.kc.makeApiClient(k8s.VersionApi).getCode();
    opts.onProgress?.(`cluster at ${this.kc.getCurrentCluster()?.server}: Kubernetes ${version.gitVersion}`);
  }

  async nodes(): Promise<ProviderNode[]> {
    const list = await this.core.listNode();
    return list.items.map((n) => ({
      name: n.metadata!.name!,
      ip: n.status?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '',
      podCidr: n.spec?.podCIDR ?? '',
    }));
  }

  /** Create each object, or replace it when it exists (the embedded API and real ones alike). */
  async apply(objects: unknown[]): Promise<unknown> {
    const out: unknown[] = [];
    for (const raw of objects) {
      const obj = raw as k8s.KubernetesObject;
      if (obj.kind !== 'Namespace' && !obj.metadata?.namespace && obj.kind !== 'Node') obj.metadata = { ...obj.metadata, namespace: 'default' };
      const plain = (o: unknown) => fromModel<Record<string, unknown>>(o, obj.apiVersion, obj.kind);
      try {
        out.push(plain(await this.objects.create(toModel(obj))));
      } catch (e) {
        if ((e as { code?: number }).code !== 409) throw apiError(e, `create ${obj.kind} ${obj.metadata?.namespace ?? ''}/${obj.metadata?.name}`);
        const cur = plain(await this.objects.read(obj as Parameters<k8s.KubernetesObjectApi['read']>[0]));
        // Unchanged: leave it (a Pod's spec cannot be replaced, even by itself with defaults missing).
        const { apiVersion: _a, kind: _k, ...wanted } = obj as unknown as Record<string, unknown>;
        if (coveredBy(wanted, cur)) {
          out.push(cur);
          continue;
        }
        const resourceVersion = (cur.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
        out.push(plain(await this.objects.replace(toModel({ ...obj, metadata: { ...obj.metadata, resourceVersion } }))));
      }
    }
    return out;
  }

  /** The apiVersion of a kind, from the kinds cnilab knows (the embedded API's, Cilium's CRDs included). */
  private apiVersionOf(kind: string): string {
    const rt = resourceForKind(kind);
    if (!rt) throw new CnilabError('INVALID_INPUT', `no known apiVersion for kind ${kind}`);
    return groupVersion(rt);
  }

  async list(kind: string, namespace?: string): Promise<{ items: ProviderObject[]; resourceVersion: string }> {
    const apiVersion = this.apiVersionOf(kind);
    try {
      const l = await this.objects.list(apiVersion, kind, namespace);
      // Items of a list carry no kind on a real API server.
      const items = l.items.map((o) => fromModel<ProviderObject>({ ...o, apiVersion: o.apiVersion ?? apiVersion, kind: o.kind ?? kind }, apiVersion, kind));
      return { items, resourceVersion: l.metadata?.resourceVersion ?? '' };
    } catch (e) {
      // A cluster without the CRD (no Cilium) has no such objects.
      if ((e as { code?: number }).code === 404 || /Unrecognized API version and kind/.test((e as Error).message ?? '')) return { items: [], resourceVersion: '' };
      throw apiError(e, `list ${kind}${namespace ? ` in ${namespace}` : ''}`);
    }
  }

  async remove(kind: string, namespace: string | undefined, name: string): Promise<void> {
    try {
      await this.objects.delete({ apiVersion: this.apiVersionOf(kind), kind, metadata: { name, ...(namespace ? { namespace } : {}) } });
    } catch (e) {
      if ((e as { code?: number }).code !== 404) throw apiError(e, `delete ${kind} ${namespace ?? ''}/${name}`);
    }
  }

  async mergePatch(kind: string, namespace: string | undefined, name: string, patch: unknown): Promise<ProviderObject> {
    const spec = { ...(patch as object), apiVersion: this.apiVersionOf(kind), kind, metadata: { ...((patch as { metadata?: object }).metadata ?? {}), name, ...(namespace ? { namespace } : {}) } };
    try {
      const out = await this.objects.patch(spec, undefined, undefined, 'cnilab', undefined, k8s.PatchStrategy.MergePatch);
      return fromModel<ProviderObject>(out, spec.apiVersion, kind);
    } catch (e) {
      throw apiError(e, `patch ${kind} ${namespace ?? ''}/${name}`);
    }
  }

  async pods(namespace?: string): Promise<ProviderPod[]> {
    const list = namespace ? await this.core.listNamespacedPod({ namespace }) : await this.core.listPodForAllNamespaces();
    return list.items.map((p) => ({
      namespace: p.metadata!.namespace!,
      name: p.metadata!.name!,
      node: p.spec?.nodeName ?? '',
      ip: p.status?.podIP ?? '',
      phase: p.status?.phase ?? 'Pending',
      labels: p.metadata?.labels ?? {},
      ...(p.spec?.hostNetwork ? { hostNetwork: true } : {}),
    }));
  }

  async waitPodsReady(namespace: string | undefined, timeoutMs: number): Promise<ProviderPod[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const pods = (await this.pods(namespace)).filter((p) => p.namespace !== HELPER_NAMESPACE || namespace === HELPER_NAMESPACE);
      if (pods.length && pods.every((p) => p.phase === 'Running' && p.ip)) return pods;
      if (Date.now() > deadline) throw new WaitTimeoutError(`pods ${pods.filter((p) => p.phase !== 'Running').map((p) => `${p.namespace}/${p.name}`).join(', ') || '(none yet)'} to be Running`, timeoutMs);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** pods/exec over WebSocket (v5/v4 channel protocol), the first container unless opts say. */
  async execInPod(namespace: string, pod: string, argv: string[], opts: RunOptions & { container?: string } = {}): Promise<RunResult> {
    const container = opts.container ?? (await this.core.readNamespacedPod({ namespace, name: pod })).spec!.containers[0]!.name;
    const started = performance.now();
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const out = new PassThrough();
    const err = new PassThrough();
    out.on('data', (b: Buffer) => stdout.push(b));
    err.on('data', (b: Buffer) => stderr.push(b));
    const input = opts.input === undefined ? null : PassThrough.from([opts.input]);
    const timeoutMs = opts.timeoutMs ?? 30_000;
    let timedOut = false;
    const status = await new Promise<k8s.V1Status | undefined>((resolve, reject) => {
      let socket: { close(): void } | undefined;
      const timer = setTimeout(() => {
        timedOut = true;
        socket?.close();
        resolve(undefined);
      }, timeoutMs);
      new k8s.Exec(this.kc)
        .exec(namespace, pod, container, argv, out, err, input, false, (st) => {
          clearTimeout(timer);
          resolve(st);
        })
        .then((ws) => {
          socket = ws;
          // A socket closed without a status (the pod went away) ends the exec too.
          ws.on('close', () => setTimeout(() => {
            clearTimeout(timer);
            resolve(undefined);
          }, 50));
        })
        .catch((e) => {
          clearTimeout(timer);
          reject(apiError(e, `exec in ${namespace}/${pod}`));
        });
    });
    const result: RunResult = {
      argv: ['kubectl-exec', `${namespace}/${pod}`, '--', ...argv],
      code: timedOut ? 124 : exitCodeOf(status),
      signal: null,
      stdout: Buffer.concat(stdout).toString('utf8'),
      stderr: Buffer.concat(stderr).toString('utf8') || (status?.status === 'Failure' && !status.details ? (status.message ?? '') : ''),
      durationMs: Math.round(performance.now() - started),
      timedOut,
    };
    if (result.code !== 0 && !opts.allowFailure) throw new CnilabError('COMMAND_FAILED', `exec in ${namespace}/${pod} exited with ${result.code}: ${argv.join(' ')}`, { detail: result.stderr.trim() });
    return result;
  }

  /** The node's helper pod (created on first use), Running and not being deleted (helper-pod.ts). */
  private async helper(node: string): Promise<string> {
    const name = helperPodName(node);
    await ensureHelperPod({
      read: async () => {
        try {
          return await this.core.readNamespacedPod({ namespace: HELPER_NAMESPACE, name });
        } catch (e) {
          if ((e as { code?: number }).code === 404) return undefined;
          throw apiError(e, `read helper pod ${name}`);
        }
      },
      create: async () => {
        await this.apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: HELPER_NAMESPACE } }, helperPod(node, this.opts.helperImage)]);
      },
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      now: () => Date.now(),
      timeoutMs: 120_000,
      what: `helper pod ${HELPER_NAMESPACE}/${name} on node ${node}`,
    });
    return name;
  }

  /** Through the node's privileged host-network helper pod. */
  async execOnNode(node: string, argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    return this.execInPod(HELPER_NAMESPACE, await this.helper(node), argv, opts);
  }

  capture(node: string, opts: CaptureOptions): Promise<Buffer> {
    return captureFor((o) => this.startCapture(node, o), opts);
  }

  /** tcpdump in the node's helper pod (host network: the node's devices), the pcap streamed back over
   *  exec's stdout. A small fixed shell prints its pid and execs tcpdump under `timeout` (the filter
   *  and device are its arguments, never part of the script); stop() kills that pid through a second
   *  exec, since closing the exec stream does not end the process on a real kubelet, and `timeout`
   *  ends a capture whose stop never comes. */
  async startCapture(node: string, opts: StartCaptureOptions): Promise<RunningCapture> {
    const name = await this.helper(node);
    const secs = String(Math.ceil((opts.maxDurationMs ?? 120_000) / 1000));
    const script = `echo ${CAPTURE_PID_MARK} $$ >&2; exec timeout "$0" "$@"`;
    const argv = ['sh', '-c', script, secs, ...tcpdumpArgv(opts, '-')];
    const command = `kubectl-exec ${HELPER_NAMESPACE}/${name} -- ${shellQuote(argv)}`;
    const chunks: Buffer[] = [];
    let stderr = '';
    const out = new PassThrough();
    const err = new PassThrough();
    out.on('data', (b: Buffer) => chunks.push(b));
    err.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    let socket: { close(): void } | undefined;
    // How the exec ended, once it has: its status (the command's exit), or a stream closed without one.
    let end: { status?: k8s.V1Status; how: string } | undefined;
    const ending = () => end; // read after awaits (set by the exec's callbacks meanwhile)
    const done = new Promise<void>((resolve, reject) => {
      new k8s.Exec(this.kc)
        .exec(HELPER_NAMESPACE, name, 'helper', argv, out, err, null, false, (st) => {
          end ??= { status: st, how: st.status === 'Success' ? 'exit 0' : (st.message ?? `exit ${exitCodeOf(st)}`) };
          resolve();
        })
        .then((ws) => {
          socket = ws;
          ws.on('close', (code: number, reason: Buffer) => setTimeout(() => {
            end ??= { how: `the exec stream closed without the command's status (WebSocket close ${code}${reason?.length ? ` ${reason.toString()}` : ''})` };
            resolve();
          }, 50));
        })
        .catch((e) => {
          end ??= { how: apiError(e, `capture on node ${node}`).message };
          reject(apiError(e, `capture on node ${node}`));
        });
    });
    done.catch(() => undefined);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const p = captureProgress(stderr);
      if (p.listening && capturePid(stderr) !== undefined) break;
      const why = end ? `it ended: ${end.how}` : p.error ? `it reported an error` : Date.now() > deadline ? 'not within 30 s' : undefined;
      if (why) {
        socket?.close();
        await done.catch((e: Error) => (stderr += `\n${e.message}`));
        throw new CnilabError('COMMAND_FAILED', `tcpdump on node ${node} did not start listening (${why}): ${stderr.trim().split('\n').slice(-2).join(' | ') || 'nothing on stderr'}: ${command}`, { detail: stderr.trim() });
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const pid = capturePid(stderr)!;
    const tcpdumpStderr = () => stderr.split('\n').filter((l) => !l.startsWith(CAPTURE_PID_MARK)).join('\n');
    return {
      command,
      stop: async () => {
        // Packets still in flight (a reply on its way) get a moment to be written.
        await new Promise((r) => setTimeout(r, 150));
        if (end) {
          // Ended before its stop: no kill (that pid may be another process's by now), and what it
          // wrote is the start of the traffic only, never evidence of its absence.
          const early = endedEarlyReason({ exitCode: end.status ? exitCodeOf(end.status) : undefined, detail: end.how, maxPackets: opts.maxPackets, maxDurationMs: opts.maxDurationMs ?? 120_000 });
          if (early) throw new CnilabError('COMMAND_FAILED', `capture on node ${node}: ${early}: ${command}`, { detail: tcpdumpStderr().trim() });
        } else {
          // The shell's own kill: images differ in whether they ship /usr/bin/kill.
          await this.execOnNode(node, ['sh', '-c', 'kill -TERM "$0"', String(pid)], { allowFailure: true, timeoutMs: 10_000 });
          // tcpdump flushes and exits, which ends the exec; a stream that hangs on is closed.
          const timer = setTimeout(() => socket?.close(), 10_000);
          await done.catch((e: Error) => (stderr += `\n${e.message}`));
          clearTimeout(timer);
          // tcpdump ends with 0 on SIGTERM after writing its summary; anything else means the pcap
          // may lack its end (the stream closed under it, or it never ended).
          const last = ending();
          if (last?.status?.status !== 'Success') {
            throw new CnilabError('COMMAND_FAILED', `capture on node ${node}: tcpdump did not end cleanly when stopped (${last?.how ?? 'no end within 10 s'}): ${command}`, { detail: tcpdumpStderr().trim() });
          }
        }
        const pcap = Buffer.concat(chunks);
        return { pcap, packets: pcap.length >= 24 ? parsePcap(pcap) : [], stderr: tcpdumpStderr() };
      },
    };
  }

  private faults?: KubeconfigNodeFaults;
  /** Through the nodes' helper pods (faults.ts). */
  nodeFaults(): NodeFaults {
    this.faults ??= new KubeconfigNodeFaults(this);
    return this.faults;
  }

  async cni(): Promise<string> {
    return detectCni(this.kc);
  }

  async collectLogs(dir: string): Promise<string[]> {
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'pods.json');
    writeFileSync(file, JSON.stringify(await this.pods(), null, 1));
    return [file];
  }

  /** An existing cluster is not destroyed: only what cnilab put there (the helper namespace) goes. */
  async destroy(): Promise<void> {
    try {
      await this.core.deleteNamespace({ name: HELPER_NAMESPACE });
    } catch (e) {
      if ((e as { code?: number }).code !== 404) throw apiError(e, `delete namespace ${HELPER_NAMESPACE}`);
    }
  }
}

function apiError(e: unknown, what: string): CnilabError {
  if (e instanceof CnilabError) return e;
  const err = e as { code?: number; body?: unknown; message?: string };
  let msg = err.message ?? String(e);
  try {
    const body = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
    if (body && typeof body === 'object' && 'message' in body) msg = String((body as { message: unknown }).message);
  } catch {
    /* keep the message */
  }
  return new CnilabError('COMMAND_FAILED', `${what}: ${err.code ? `HTTP ${err.code}: ` : ''}${msg}`);
}
