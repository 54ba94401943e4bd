// The harness's client of the embedded control plane (the CLI, the scenarios, the tests). Objects are
// read, deleted and their status written through the Kubernetes API (kube-client.ts), as kubectl and
// the agents do; what has no Kubernetes equivalent stays on the daemon's private /v1 routes: the
// cluster spec, health, the agents' supervision, shutdown, the old multi-kind watch, and the two
// store operations `cnilab apply` and `cnilab label` need whole: a multi-document apply that
// validates everything before it writes anything (nothing half-created), and kubectl label's
// overwrite rules checked and applied in one step.
import { request } from 'node:http';
import { NotJsonError, unixJsonRequest } from '../exec/unix-http.js';
import { CnilabError, errorFromJson, NotFoundError, WaitTimeoutError } from '../errors.js';
import type { KubeObject } from './objects.js';
import type { ClusterSpec } from './spec.js';
import type { ApplyResult, WatchEvent } from './store.js';
import { KubeSocketClient } from './kube-client.js';
import { rideRestarts } from './ride-restarts.js';

/** SYNCED ends the initial listing; BOOKMARK says every change up to resourceVersion has been sent. */
export type WatchHandler = (ev: WatchEvent | { type: 'SYNCED' | 'BOOKMARK'; resourceVersion?: number }) => void;

export class ControlPlaneClient {
  /** The Kubernetes API on the same socket. */
  readonly kube: KubeSocketClient;

  constructor(readonly socketPath: string, private clusterName = '?') {
    this.kube = new KubeSocketClient(socketPath, clusterName);
  }

  /** rideRestart false: answer at once even while a daemon restarts (what `status` reports). */
  private call<T>(method: string, path: string, body?: unknown, timeoutMs = 30_000, rideRestart = true): Promise<T> {
    const missing = () => new NotFoundError(`cluster "${this.clusterName}" is not running (no control socket at ${this.socketPath}); start it with \`cnilab up --name ${this.clusterName}\``);
    return rideRestarts(this.clusterName, this.socketPath, () => unixJsonRequest(this.socketPath, method, path, body, timeoutMs), missing, rideRestart ? {} : { waitMs: 0 }).then(
      (res) => {
        if (res.status >= 400) throw errorFromJson(res.body.error ?? {});
        return res.body as T;
      },
      (e: Error & { code?: string }) => {
        if (e instanceof CnilabError) throw e; // no cluster to ask
        if (e instanceof NotJsonError) throw new CnilabError('INTERNAL', `control plane: ${e.message}`);
        if (e.code === 'ETIMEDOUT') throw new WaitTimeoutError(`control plane reply to ${method} ${path}`, timeoutMs);
        const hint = e.code === 'ECONNREFUSED' ? `; the cluster daemon is not running: \`cnilab status --name ${this.clusterName}\` says why` : '';
        throw new CnilabError('INTERNAL', `control plane at ${this.socketPath}: ${e.message}${hint}`);
      },
    );
  }

  healthz(timeoutMs = 2000): Promise<{ ok: boolean; resourceVersion: number }> {
    return this.call('GET', '/v1/healthz', undefined, timeoutMs, false);
  }
  cluster(): Promise<ClusterSpec> {
    return this.call('GET', '/v1/cluster');
  }
  async list(kind: string, namespace?: string): Promise<KubeObject[]> {
    return (await this.kube.list(kind, namespace)).items;
  }
  get(kind: string, namespace: string | undefined, name: string): Promise<KubeObject> {
    return this.kube.get(kind, namespace, name);
  }
  async apply(objects: unknown[], internal = false): Promise<ApplyResult[]> {
    return (await this.applyAt(objects, internal)).results;
  }
  /** apply, with the store's revision right after it (what `apply --wait` waits for). */
  async applyAt(objects: unknown[], internal = false): Promise<{ results: ApplyResult[]; resourceVersion: number }> {
    return this.call('POST', '/v1/apply', { objects, internal });
  }
  /** `kubectl label`: set and remove labels of one object. */
  patchLabels(
    kind: string,
    namespace: string | undefined,
    name: string,
    change: { set?: Record<string, string>; remove?: string[]; overwrite?: boolean },
  ): Promise<{ object: KubeObject; changed: boolean; missing: string[]; resourceVersion: number }> {
    return this.call('PATCH', `/v1/labels/${kind}/${encodeURIComponent(namespace ?? '-')}/${encodeURIComponent(name)}`, change);
  }
  /** Replace an object's status (the status subresource: nothing else of it changes). */
  async updateStatus(kind: string, namespace: string | undefined, name: string, status: Record<string, unknown>): Promise<KubeObject> {
    const obj = await this.kube.get(kind, namespace, name);
    return this.kube.replace({ ...obj, status }, 'status');
  }
  /** Delete through the Kubernetes API; `internal` (tests, cnilab itself) through the daemon's store
   *  route, for what API clients may not delete (Nodes), as apply's `internal`. */
  delete(kind: string, namespace: string | undefined, name: string, internal = false): Promise<KubeObject> {
    if (internal) return this.call('DELETE', `/v1/objects/${kind}/${encodeURIComponent(namespace ?? '-')}/${encodeURIComponent(name)}`);
    return this.kube.delete(kind, namespace, name);
  }
  shutdown(): Promise<unknown> {
    return this.call('POST', '/v1/shutdown', {}, 5000);
  }
  /** Any extra GET route of the daemon (e.g. /v1/nodes). */
  getPath<T>(path: string): Promise<T> {
    return this.call('GET', path);
  }

  /**
   * Stream changes of the given kinds: the current objects arrive first as ADDED, then SYNCED, then
   * live events. Returns a function that stops the watch. `onEnd` is called if the stream breaks.
   */
  watch(kinds: string[], handler: WatchHandler, onEnd?: (err?: Error) => void): () => void {
    let stopped = false;
    const req = request({ socketPath: this.socketPath, path: `/v1/watch?kinds=${kinds.join(',')}`, method: 'GET' }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line) handler(JSON.parse(line));
        }
      });
      res.on('end', () => {
        if (!stopped) onEnd?.();
      });
    });
    req.on('error', (e) => {
      if (!stopped) onEnd?.(e);
    });
    req.end();
    return () => {
      stopped = true;
      req.destroy();
    };
  }

  /** Poll until `pred` holds for the listed objects, or throw saying what was awaited. */
  async waitFor(kind: string, what: string, pred: (objs: KubeObject[]) => boolean, timeoutMs: number, namespace?: string): Promise<KubeObject[]> {
    const deadline = Date.now() + timeoutMs;
    let objs: KubeObject[] = [];
    for (;;) {
      objs = await this.list(kind, namespace);
      if (pred(objs)) return objs;
      if (Date.now() > deadline) throw new WaitTimeoutError(what, timeoutMs);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
