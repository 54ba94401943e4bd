// The harness's client of the embedded cluster's Kubernetes API, over the control socket (the same API
// kubectl and the agents use; the socket needs no token: only root can open it). Errors become
// cnilab's own: 404 NotFoundError, 409 ConflictError, 400/422 InvalidInputError (exit 2), the rest
// failures carrying the API's message.
import { NotJsonError, unixJsonRequest } from '../exec/unix-http.js';
import { rideRestarts } from './ride-restarts.js';
import { CnilabError, ConflictError, InvalidInputError, NotFoundError, WaitTimeoutError } from '../errors.js';
import type { KubeObject } from './objects.js';
import { groupVersion, resourceForKind, type ResourceType } from './kube/resources.js';

export class KubeSocketClient {
  constructor(
    readonly socketPath: string,
    private clusterName = '?',
  ) {}

  private resource(kind: string): ResourceType {
    const rt = resourceForKind(kind);
    if (!rt) throw new InvalidInputError('kind', `"${kind}" is not a kind the embedded cluster serves`);
    return rt;
  }

  path(kind: string, namespace?: string, name?: string, subresource?: string): string {
    const rt = this.resource(kind);
    const base = rt.group ? `/apis/${rt.group}/${rt.version}` : `/api/${rt.version}`;
    const ns = rt.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
    return `${base}${ns}/${rt.plural}${name ? `/${encodeURIComponent(name)}` : ''}${subresource ? `/${subresource}` : ''}`;
  }

  async request<T>(method: string, path: string, body?: unknown, contentType = 'application/json', timeoutMs = 30_000): Promise<T> {
    const missing = () => new NotFoundError(`cluster "${this.clusterName}" is not running (no control socket at ${this.socketPath}); start it with \`cnilab up --name ${this.clusterName}\``);
    let res;
    try {
      res = await rideRestarts(this.clusterName, this.socketPath, () => unixJsonRequest(this.socketPath, method, path, body, timeoutMs, contentType), missing);
    } catch (e) {
      if (e instanceof CnilabError) throw e; // no cluster to ask
      if (e instanceof NotJsonError) throw new CnilabError('INTERNAL', `Kubernetes API: ${e.message}`);
      if ((e as { code?: string }).code === 'ETIMEDOUT') throw new WaitTimeoutError(`the Kubernetes API's answer to ${method} ${path}`, timeoutMs);
      const hint = (e as { code?: string }).code === 'ECONNREFUSED' ? `; the cluster daemon is not running: \`cnilab status --name ${this.clusterName}\` says why` : '';
      throw new CnilabError('INTERNAL', `Kubernetes API at ${this.socketPath}: ${(e as Error).message}${hint}`);
    }
    if (res.status < 300) return res.body as T;
    const message = typeof res.body?.message === 'string' ? res.body.message : `${method} ${path}: HTTP ${res.status}`;
    if (res.status === 404) throw new NotFoundError(message);
    if (res.status === 409) throw new ConflictError(message);
    if (res.status === 400 || res.status === 422) throw new InvalidInputError(`${method} ${path}`, message);
    throw new CnilabError('COMMAND_FAILED', `Kubernetes API: ${message}`);
  }

  async list(kind: string, namespace?: string, selectors: { labelSelector?: string; fieldSelector?: string } = {}): Promise<{ items: KubeObject[]; resourceVersion: number }> {
    const q = new URLSearchParams(Object.entries(selectors).filter(([, v]) => v) as Array<[string, string]>).toString();
    const l = await this.request<{ items: KubeObject[]; metadata: { resourceVersion: string } }>('GET', `${this.path(kind, namespace)}${q ? `?${q}` : ''}`);
    const rt = this.resource(kind);
    // Items of a list carry no kind on a real API server; the harness's code looks at it.
    for (const o of l.items) {
      o.kind ??= rt.kind;
      o.apiVersion ??= groupVersion(rt);
    }
    return { items: l.items, resourceVersion: Number(l.metadata.resourceVersion) };
  }
  get(kind: string, namespace: string | undefined, name: string): Promise<KubeObject> {
    return this.request('GET', this.path(kind, namespace, name));
  }
  create(obj: KubeObject): Promise<KubeObject> {
    return this.request('POST', this.path(obj.kind, obj.metadata.namespace), obj);
  }
  replace(obj: KubeObject, subresource?: string): Promise<KubeObject> {
    return this.request('PUT', this.path(obj.kind, obj.metadata.namespace, obj.metadata.name, subresource), obj);
  }
  mergePatch(kind: string, namespace: string | undefined, name: string, patch: unknown, subresource?: string): Promise<KubeObject> {
    return this.request('PATCH', this.path(kind, namespace, name, subresource), patch, 'application/merge-patch+json');
  }
  delete(kind: string, namespace: string | undefined, name: string): Promise<KubeObject> {
    return this.request('DELETE', this.path(kind, namespace, name));
  }
  /** The API's current resourceVersion (of the whole store: a list of any kind carries it). */
  async resourceVersion(): Promise<number> {
    return (await this.list('Namespace', undefined, { fieldSelector: 'metadata.name=default' })).resourceVersion;
  }
}
