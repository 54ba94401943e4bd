// The agent's connection to the Kubernetes API: a kubeconfig (a file, or the in-cluster service account
// of a DaemonSet pod) loaded by @kubernetes/client-node, and JSON requests over one keep-alive
// connection pool. Objects stay the JSON the API server sends (no typed models): the informers' watch
// events are raw JSON too, so the cache never mixes two representations of one object.
//
// client-node is imported by module path rather than through its index: the index loads every
// generated API class (~1 s of start-up on a busy 2-core machine); config, cache and watch are all
// the agent needs.
import { request as httpRequest, Agent as HttpAgent, type RequestOptions } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { KubeObject } from '../../lib/k8s/object.js';

/** A resource the agent reads or writes: where it lives in the API. */
export interface ResourceRef {
  kind: string;
  group: string; // '' for the core group
  version: string;
  plural: string;
  namespaced: boolean;
}

export const apiVersionOf = (r: ResourceRef) => (r.group ? `${r.group}/${r.version}` : r.version);

export interface ObjectList<T = KubeObject> {
  items: T[];
  metadata: { resourceVersion?: string; continue?: string };
}

/** The API answered with an error Status (or something that is not one: code 0 = no answer at all). */
export class ApiStatusError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiStatusError';
  }
}

export const isNotFound = (e: unknown) => e instanceof ApiStatusError && e.code === 404;
export const isAlreadyExists = (e: unknown) => e instanceof ApiStatusError && e.code === 409 && e.reason === 'AlreadyExists';
export const isConflict = (e: unknown) => e instanceof ApiStatusError && e.code === 409 && e.reason !== 'AlreadyExists';

/**
 * client-node makes a new http(s) Agent for every request, so every request would pay a TCP and TLS
 * handshake; this keeps one keep-alive pool per kubeconfig, for requests and watches alike.
 */
class PooledKubeConfig extends KubeConfig {
  private pool?: HttpAgent;

  override async applyToHTTPSOptions(opts: Parameters<KubeConfig['applyToHTTPSOptions']>[0]): Promise<void> {
    await super.applyToHTTPSOptions(opts);
    const o = opts as RequestOptions & { ca?: unknown; cert?: unknown; key?: unknown; rejectUnauthorized?: boolean; servername?: string };
    if (!this.pool) {
      const server = this.getCurrentCluster()?.server ?? '';
      const tls = this.getCurrentCluster()?.skipTLSVerify ? { rejectUnauthorized: false } : o.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: o.rejectUnauthorized };
      this.pool = server.startsWith('https:')
        ? new HttpsAgent({ keepAlive: true, ca: o.ca as string, cert: o.cert as string, key: o.key as string, servername: o.servername, ...tls })
        : new HttpAgent({ keepAlive: true });
    }
    (opts as RequestOptions).agent = this.pool;
  }

  destroy(): void {
    this.pool?.destroy();
  }
}

export interface TransportOptions {
  /** Per-request timeout (watches are not requests: they have none). */
  timeoutMs?: number;
}

export class KubeTransport {
  readonly kc: PooledKubeConfig;
  private timeoutMs: number;

  private constructor(kc: PooledKubeConfig, opts: TransportOptions = {}) {
    this.kc = kc;
    this.timeoutMs = opts.timeoutMs ?? 15_000;
  }

  /** From a kubeconfig file; "in-cluster" uses the pod's service account, as a DaemonSet pod would. */
  static load(kubeconfig: string, opts: TransportOptions = {}): KubeTransport {
    const kc = new PooledKubeConfig();
    if (kubeconfig === 'in-cluster') kc.loadFromCluster();
    else kc.loadFromFile(kubeconfig);
    if (!kc.getCurrentCluster()) throw new Error(`kubeconfig ${kubeconfig}: no current cluster`);
    return new KubeTransport(kc, opts);
  }

  get server(): string {
    return this.kc.getCurrentCluster()!.server;
  }

  /** /api/v1/namespaces/NS/pods/NAME/SUB, /apis/G/V/PLURAL, ... */
  path(r: ResourceRef, namespace?: string, name?: string, subresource?: string): string {
    const base = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
    const ns = r.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
    return `${base}${ns}/${r.plural}${name ? `/${encodeURIComponent(name)}` : ''}${subresource ? `/${subresource}` : ''}`;
  }

  /**
   * The highest resourceVersion among the objects this agent wrote (created, replaced, patched): what
   * others must have seen too before a change this agent made while realizing a revision is everywhere.
   */
  lastWriteRevision = 0;

  /** One JSON request; an error Status becomes an ApiStatusError with its code and reason. */
  async request<T>(method: string, path: string, body?: unknown, contentType = 'application/json', how: { untracked?: boolean } = {}): Promise<T> {
    const opts: RequestOptions = { method, headers: { accept: 'application/json' } };
    await this.kc.applyToHTTPSOptions(opts as never);
    const url = new URL(this.server.replace(/\/+$/, '') + path);
    const text = body === undefined ? undefined : JSON.stringify(body);
    if (text !== undefined) Object.assign(opts.headers as object, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<T>((resolve, reject) => {
      const req = send(url, { ...opts, timeout: this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          let parsed: any;
          try {
            parsed = raw ? JSON.parse(raw) : {};
          } catch {
            return reject(new ApiStatusError(res.statusCode ?? 0, 'InvalidResponse', `${method} ${path}: the API answered ${res.statusCode} with something that is not JSON: ${raw.slice(0, 200)}`));
          }
          const code = res.statusCode ?? 0;
          if (code >= 200 && code < 300) {
            const rv = Number(parsed?.metadata?.resourceVersion);
            if (method !== 'GET' && !how.untracked && Number.isFinite(rv) && rv > this.lastWriteRevision) this.lastWriteRevision = rv;
            return resolve(parsed as T);
          }
          const reason = typeof parsed?.reason === 'string' ? parsed.reason : 'Unknown';
          const message = typeof parsed?.message === 'string' ? parsed.message : raw.slice(0, 200);
          reject(new ApiStatusError(code, reason, `${method} ${path}: ${code} ${reason}: ${message}`, parsed?.details));
        });
      });
      req.on('timeout', () => req.destroy(new ApiStatusError(0, 'Timeout', `${method} ${path}: no answer from ${this.server} within ${this.timeoutMs} ms`)));
      req.on('error', (e) => reject(e instanceof ApiStatusError ? e : new ApiStatusError(0, 'Unreachable', `${method} ${path}: ${this.server}: ${e.message}`)));
      if (text !== undefined) req.write(text);
      req.end();
    });
  }

  list<T = KubeObject>(r: ResourceRef, opts: { namespace?: string; labelSelector?: string; fieldSelector?: string } = {}): Promise<ObjectList<T>> {
    const q = new URLSearchParams();
    if (opts.labelSelector) q.set('labelSelector', opts.labelSelector);
    if (opts.fieldSelector) q.set('fieldSelector', opts.fieldSelector);
    const qs = q.toString();
    return this.request('GET', `${this.path(r, opts.namespace)}${qs ? `?${qs}` : ''}`);
  }
  get<T = KubeObject>(r: ResourceRef, namespace: string | undefined, name: string): Promise<T> {
    return this.request('GET', this.path(r, namespace, name));
  }
  create<T = KubeObject>(r: ResourceRef, obj: KubeObject): Promise<T> {
    return this.request('POST', this.path(r, obj.metadata.namespace), { ...obj, apiVersion: apiVersionOf(r), kind: r.kind });
  }
  /** PUT: fails with a 409 Conflict unless obj.metadata.resourceVersion is the stored one. */
  replace<T = KubeObject>(r: ResourceRef, obj: KubeObject, subresource?: string): Promise<T> {
    return this.request('PUT', this.path(r, obj.metadata.namespace, obj.metadata.name, subresource), { ...obj, apiVersion: apiVersionOf(r), kind: r.kind });
  }
  /** JSON merge patch (RFC 7386): null removes a key. */
  mergePatch<T = KubeObject>(r: ResourceRef, namespace: string | undefined, name: string, patch: unknown, subresource?: string, opts: { untracked?: boolean } = {}): Promise<T> {
    return this.request('PATCH', this.path(r, namespace, name, subresource), patch, 'application/merge-patch+json', opts);
  }
  delete(r: ResourceRef, namespace: string | undefined, name: string, preconditions?: { uid?: string; resourceVersion?: string }): Promise<unknown> {
    return this.request('DELETE', this.path(r, namespace, name), preconditions ? { kind: 'DeleteOptions', apiVersion: 'v1', preconditions } : undefined);
  }

  close(): void {
    this.kc.destroy();
  }
}
