// The Kubernetes REST API of the embedded control plane, over the cluster's object store:
//   discovery   /version /api /apis /api/v1 /apis/G/V (and /healthz /livez /readyz)
//   resources   /api/v1/[namespaces/NS/]PLURAL[/NAME[/SUBRESOURCE]] and /apis/G/V/...
//   verbs       list, watch, get, create, update (PUT), patch (merge, strategic, json), delete,
//               deletecollection; status and scale subresources; pods/exec (WebSocket) and pods/log
// Errors are v1 Status objects; `Accept: ...;as=Table` gets server-side printed tables. The same
// handler serves the unix socket (trusted, root only) and the HTTPS port (bearer token).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { KubeObject } from '../objects.js';
import type { ObjectStore } from '../store.js';
import { deleteWithPropagation, type PropagationPolicy } from '../controllers/garbage-collector.js';
import { admitCreate, admitUpdate, checkResourceVersion } from './admission.js';
import { coreVersions, group, groupList, resourceList, versionInfo } from './discovery.js';
import { applyPatch, patchTypeOf } from './patch.js';
import { openapiDocument, openapiRoot } from './openapi.js';
import { crdFor, findResource, groupVersion, RESOURCES, type ResourceType } from './resources.js';
import { parseSelection, selects } from './selectors.js';
import { alreadyExists, ApiError, badRequest, conflict, methodNotAllowed, notFound, toApiError } from './status.js';
import { toTable, wantsTable, type IncludeObject } from './table.js';
import { serveWatch } from './watch.js';

export interface PodStreams {
  /** pods/exec over WebSocket (the upgrade request); undefined when exec is not available. */
  exec?: (req: IncomingMessage, socket: Duplex, head: Buffer, pod: KubeObject, params: URLSearchParams) => void;
  /** pods/log: writes the log to the response. */
  log?: (req: IncomingMessage, res: ServerResponse, pod: KubeObject, params: URLSearchParams) => Promise<void>;
}

export interface KubeApiOptions {
  bookmarkIntervalMs?: number;
  streams?: PodStreams;
  /** When the API started (creationTimestamp of the CRDs it serves). */
  started?: Date;
}

/** A parsed resource URL. */
export interface ResourcePath {
  rt: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
}

const MAX_BODY = 8 * 1024 * 1024;

async function readBody(req: IncomingMessage): Promise<unknown> {
  const ct = String(req.headers['content-type'] ?? '');
  if (/protobuf|cbor/.test(ct)) {
    // Typed Go clients try protobuf first and fall back to JSON on 415, as with a CRD.
    req.resume();
    throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (${ct} is not served)`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new ApiError(413, 'BadRequest', `request entity too large: limit is ${MAX_BODY}`);
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    if (/yaml/.test(ct)) throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json (${ct} is not served)`);
    throw badRequest(`the body of the request is not valid JSON: ${(e as Error).message}`);
  }
}

export function sendJson(res: ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-cache, private' });
  res.end(text);
}

export function sendError(res: ServerResponse, err: unknown): void {
  const e = toApiError(err);
  if (!res.headersSent) sendJson(res, e.code, e.toStatus());
  else res.end();
}

/** /api/v1/... or /apis/G/V/... → the resource, namespace, name and subresource; undefined if none. */
export function parseResourcePath(pathname: string): ResourcePath | 'discovery' | undefined {
  const parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  let groupName: string;
  let version: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 2) [groupName, version, rest] = ['', parts[1]!, parts.slice(2)];
  else if (parts[0] === 'apis' && parts.length >= 3) [groupName, version, rest] = [parts[1]!, parts[2]!, parts.slice(3)];
  else return 'discovery';
  if (rest.length === 0) return 'discovery';
  let namespace: string | undefined;
  // /namespaces/NS/PLURAL... is a namespaced resource; /namespaces[/NAME[/status]] is the Namespace kind.
  if (rest[0] === 'namespaces' && rest.length >= 3 && findResource(groupName, version, rest[2]!)?.namespaced) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const rt = findResource(groupName, version, rest[0]!);
  if (!rt || rest.length > 3) return undefined;
  if (namespace !== undefined && !rt.namespaced) return undefined;
  return { rt, namespace, name: rest[1], subresource: rest[2] };
}

export class KubeApi {
  private bookmarkIntervalMs: number;
  private started: string;

  constructor(private store: ObjectStore, private opts: KubeApiOptions = {}) {
    this.bookmarkIntervalMs = opts.bookmarkIntervalMs ?? 10_000;
    this.started = (opts.started ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  /** True for the paths this API serves (the rest of the unix socket is cnilab's private /v1). */
  static owns(pathname: string): boolean {
    return /^\/(api|apis|version|openapi|healthz|livez|readyz)(\/|$)/.test(pathname);
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      await this.route(req, res);
    } catch (err) {
      sendError(res, err);
    }
  }

  /** A WebSocket upgrade (pods/exec); anything else is answered with a Status and closed. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const fail = (e: ApiError) => {
      const body = JSON.stringify(e.toStatus());
      socket.end(`HTTP/1.1 ${e.code} ${e.reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    };
    try {
      const url = new URL(req.url ?? '/', 'http://kube');
      const p = parseResourcePath(url.pathname);
      if (!p || p === 'discovery' || p.rt.kind !== 'Pod' || p.subresource !== 'exec' || !p.name) throw notFound('', '', url.pathname);
      const pod = this.store.get('Pod', p.namespace, p.name);
      if (!pod) throw notFound('pods', '', p.name);
      if (!this.opts.streams?.exec) throw methodNotAllowed('pods/exec is not available on this control plane');
      this.opts.streams.exec(req, socket, head, pod, url.searchParams);
    } catch (err) {
      fail(toApiError(err));
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://kube');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    if (path === '/version') return sendJson(res, 200, versionInfo());
    if (/^\/(healthz|livez|readyz)(\/.*)?$/.test(path)) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return void res.end('ok');
    }
    if (path === '/openapi/v3') return sendJson(res, 200, openapiRoot());
    if (path.startsWith('/openapi/v3/')) {
      const doc = openapiDocument(path.slice('/openapi/v3/'.length));
      if (doc) return sendJson(res, 200, doc);
    }
    if (path.startsWith('/openapi')) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    const p = parseResourcePath(path);
    if (p === 'discovery') return this.discovery(path, res);
    if (!p) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    const { rt, name, subresource } = p;
    if (subresource && !(rt.subresources as string[] | undefined)?.includes(subresource)) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    if (rt.kind === 'CustomResourceDefinition') return this.crds(method, p, req, res, url);
    if (subresource === 'log' && method === 'GET') return this.log(p, req, res, url);
    if (subresource === 'exec') throw badRequest('Upgrade request required (pods/exec speaks WebSocket: channel.k8s.io v4 or v5)');
    switch (method) {
      case 'GET':
        if (!name) return url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1' ? this.watch(p, req, res, url) : this.list(p, req, res, url);
        return this.get(p, req, res, url);
      case 'POST':
        if (name) throw methodNotAllowed(`POST on ${rt.plural}/${name}`);
        return this.create(p, req, res, url);
      case 'PUT':
        if (!name) throw methodNotAllowed(`PUT on ${rt.plural}`);
        return this.update(p, req, res, url);
      case 'PATCH':
        if (!name) throw methodNotAllowed(`PATCH on ${rt.plural}`);
        return this.patch(p, req, res, url);
      case 'DELETE':
        return name ? this.delete(p, req, res, url) : this.deleteCollection(p, req, res, url);
      default:
        throw methodNotAllowed(method);
    }
  }

  private discovery(path: string, res: ServerResponse): void {
    const parts = path.split('/').filter(Boolean);
    let doc: unknown;
    if (path === '/api') doc = coreVersions();
    else if (path === '/apis') doc = groupList();
    else if (parts[0] === 'api' && parts.length === 2) doc = resourceList('', parts[1]!);
    else if (parts[0] === 'apis' && parts.length === 2) doc = group(parts[1]!);
    else if (parts[0] === 'apis' && parts.length === 3) doc = resourceList(parts[1]!, parts[2]!);
    if (!doc) throw new ApiError(404, 'NotFound', 'the server could not find the requested resource');
    sendJson(res, 200, doc);
  }

  /** An object as the API returns it: kind and apiVersion of its resource, whatever it was stored as. */
  private present = (o: KubeObject): KubeObject => {
    const rt = RESOURCES.find((r) => r.kind === o.kind);
    return rt ? { ...o, apiVersion: groupVersion(rt), kind: rt.kind } : o;
  };

  private tableOpts(url: URL): { include: IncludeObject } {
    const inc = url.searchParams.get('includeObject');
    return { include: inc === 'None' || inc === 'Object' ? inc : 'Metadata' };
  }

  private requireNamespace(p: ResourcePath): void {
    if (p.rt.namespaced && p.namespace && !this.store.get('Namespace', undefined, p.namespace)) throw notFound('namespaces', '', p.namespace);
  }

  private mustGet(p: ResourcePath): KubeObject {
    const obj = this.store.get(p.rt.kind, p.rt.namespaced ? (p.namespace ?? 'default') : undefined, p.name!);
    if (!obj) throw notFound(p.rt.plural, p.rt.group, p.name!);
    return obj;
  }

  private writable(p: ResourcePath): void {
    if (p.rt.readOnly || p.rt.listOnly) throw methodNotAllowed(`${p.rt.plural} are written by cnilab itself`);
  }

  private list(p: ResourcePath, req: IncomingMessage, res: ServerResponse, url: URL): void {
    const sel = parseSelection(url.searchParams, p.rt.kind);
    const rv = String(this.store.resourceVersion);
    const items = this.store.list(p.rt.kind, p.namespace).filter((o) => selects(sel, o)).map(this.present);
    if (wantsTable(req.headers.accept)) return sendJson(res, 200, toTable(p.rt.kind, items, { resourceVersion: rv, ...this.tableOpts(url) }));
    sendJson(res, 200, { kind: `${p.rt.kind}List`, apiVersion: groupVersion(p.rt), metadata: { resourceVersion: rv }, items });
  }

  private watch(p: ResourcePath, req: IncomingMessage, res: ServerResponse, url: URL): void {
    serveWatch(req, res, this.store, {
      rt: p.rt,
      namespace: p.namespace,
      selection: parseSelection(url.searchParams, p.rt.kind),
      params: url.searchParams,
      table: wantsTable(req.headers.accept) ? this.tableOpts(url) : undefined,
      bookmarkIntervalMs: this.bookmarkIntervalMs,
      present: this.present,
    });
  }

  private get(p: ResourcePath, req: IncomingMessage, res: ServerResponse, url: URL): void {
    const obj = this.present(this.mustGet(p));
    if (p.subresource === 'scale') return sendJson(res, 200, scaleOf(obj));
    if (wantsTable(req.headers.accept)) return sendJson(res, 200, toTable(p.rt.kind, [obj], { resourceVersion: obj.metadata.resourceVersion, ...this.tableOpts(url) }));
    sendJson(res, 200, obj);
  }

  private dryRun(url: URL): boolean {
    return url.searchParams.getAll('dryRun').includes('All');
  }

  private async create(p: ResourcePath, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    this.writable(p);
    const body = await readBody(req);
    this.requireNamespace(p);
    const ns = p.rt.namespaced ? (p.namespace ?? (body as KubeObject | undefined)?.metadata?.namespace ?? 'default') : undefined;
    const obj = admitCreate(p.rt, body, p.rt.namespaced ? ns : undefined, (n) => this.store.get(p.rt.kind, ns, n) !== undefined);
    if (p.rt.namespaced) this.requireNamespace({ ...p, namespace: obj.metadata.namespace });
    if (this.store.get(p.rt.kind, obj.metadata.namespace, obj.metadata.name)) throw alreadyExists(p.rt.plural, p.rt.group, obj.metadata.name);
    if (this.dryRun(url)) return sendJson(res, 201, this.present(obj));
    sendJson(res, 201, this.present(this.store.write(obj)));
  }

  /** Store an update after the resourceVersion precondition; answers 200 with the stored object. */
  private commit(p: ResourcePath, res: ServerResponse, url: URL, next: KubeObject, old: KubeObject, precondition: unknown): void {
    if (!checkResourceVersion(precondition, old)) throw conflict(p.rt.plural, p.rt.group, old.metadata.name);
    if (this.dryRun(url)) return sendJson(res, 200, this.present(next));
    // Unchanged objects keep their resourceVersion, as the API server does for no-op updates.
    const strip = (o: KubeObject) => JSON.stringify({ ...o, metadata: { ...o.metadata, resourceVersion: undefined, generation: undefined } });
    const stored = strip(next) === strip(old) ? old : this.store.write(next);
    const out = this.present(stored);
    sendJson(res, 200, p.subresource === 'scale' ? scaleOf(out) : out);
  }

  private async update(p: ResourcePath, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    this.writable(p);
    const body = await readBody(req);
    const old = this.mustGet(p);
    if (p.subresource === 'scale') {
      const replicas = (body as { spec?: { replicas?: unknown } })?.spec?.replicas;
      return this.commit(p, res, url, this.withReplicas(p, old, replicas), old, body);
    }
    const next = admitUpdate(p.rt, body, old, { subresource: p.subresource === 'status' ? 'status' : undefined });
    this.commit(p, res, url, next, old, body);
  }

  private withReplicas(p: ResourcePath, old: KubeObject, replicas: unknown): KubeObject {
    if (!Number.isInteger(replicas) || (replicas as number) < 0) {
      throw new ApiError(422, 'Invalid', `Scale.autoscaling "${old.metadata.name}" is invalid: spec.replicas: Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`, {
        name: old.metadata.name,
        group: 'autoscaling',
        kind: 'Scale',
        causes: [{ reason: 'FieldValueInvalid', message: `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`, field: 'spec.replicas' }],
      });
    }
    return admitUpdate(p.rt, { ...old, spec: { ...(old.spec as object), replicas } }, old);
  }

  private async patch(p: ResourcePath, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    this.writable(p);
    const type = patchTypeOf(req.headers['content-type']);
    if (!type) throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json`);
    if (type === 'apply') throw new ApiError(415, 'UnsupportedMediaType', 'server-side apply is not served by the embedded cluster; use client-side `kubectl apply` (the default)');
    if (type === 'strategic' && p.rt.crd) throw new ApiError(415, 'UnsupportedMediaType', `strategic merge patch is not supported for custom resources (${p.rt.plural}.${p.rt.group}); use --type merge`);
    const body = await readBody(req);
    const old = this.present(this.mustGet(p));
    if (p.subresource === 'scale') {
      const patched = applyPatch(type, scaleOf(old), body) as { spec?: { replicas?: unknown } };
      return this.commit(p, res, url, this.withReplicas(p, old, patched?.spec?.replicas), old, patched);
    }
    const patched = applyPatch(type, old, body) as KubeObject;
    const next = admitUpdate(p.rt, patched, old, { subresource: p.subresource === 'status' ? 'status' : undefined });
    this.commit(p, res, url, next, old, patched);
  }

  private async deleteOptions(req: IncomingMessage, url: URL): Promise<{ policy: PropagationPolicy; preconditions?: { uid?: string; resourceVersion?: string } }> {
    const body = ((await readBody(req)) ?? {}) as { propagationPolicy?: string; orphanDependents?: boolean; preconditions?: { uid?: string; resourceVersion?: string } };
    const raw = url.searchParams.get('propagationPolicy') ?? body.propagationPolicy ?? (body.orphanDependents === true ? 'Orphan' : 'Background');
    if (!['Background', 'Foreground', 'Orphan'].includes(raw)) throw badRequest(`propagationPolicy: Unsupported value: "${raw}": supported values: "Foreground", "Background", "Orphan"`);
    return { policy: raw as PropagationPolicy, preconditions: body.preconditions };
  }

  private async delete(p: ResourcePath, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    this.writable(p);
    if (p.subresource) throw methodNotAllowed(`DELETE on ${p.rt.plural}/${p.subresource}`);
    const opts = await this.deleteOptions(req, url);
    const obj = this.mustGet(p);
    if (opts.preconditions?.uid && opts.preconditions.uid !== obj.metadata.uid) {
      throw conflict(p.rt.plural, p.rt.group, obj.metadata.name, `Precondition failed: UID in precondition: ${opts.preconditions.uid}, UID in object meta: ${obj.metadata.uid}`);
    }
    if (opts.preconditions?.resourceVersion && opts.preconditions.resourceVersion !== obj.metadata.resourceVersion) throw conflict(p.rt.plural, p.rt.group, obj.metadata.name);
    if (p.rt.kind === 'Namespace' && obj.metadata.name === 'default') throw new ApiError(403, 'Forbidden', 'namespaces "default" is forbidden: this namespace may not be deleted');
    if (this.dryRun(url)) return sendJson(res, 200, this.present(obj));
    sendJson(res, 200, this.present(deleteWithPropagation(this.store, obj, opts.policy)));
  }

  private async deleteCollection(p: ResourcePath, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    this.writable(p);
    const opts = await this.deleteOptions(req, url);
    const sel = parseSelection(url.searchParams, p.rt.kind);
    const victims = this.store.list(p.rt.kind, p.namespace).filter((o) => selects(sel, o) && !(o.kind === 'Namespace' && o.metadata.name === 'default'));
    const deleted = this.dryRun(url) ? victims : victims.map((o) => deleteWithPropagation(this.store, o, opts.policy));
    sendJson(res, 200, { kind: `${p.rt.kind}List`, apiVersion: groupVersion(p.rt), metadata: { resourceVersion: String(this.store.resourceVersion) }, items: deleted.map(this.present) });
  }

  private async log(p: ResourcePath, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const pod = this.mustGet(p);
    if (!this.opts.streams?.log) throw methodNotAllowed('pods/log is not available on this control plane');
    await this.opts.streams.log(req, res, pod, url.searchParams);
  }

  /** CustomResourceDefinitions of the Cilium resources, as a cluster with Cilium's CRDs installed has. */
  private crds(method: string, p: ResourcePath, req: IncomingMessage, res: ServerResponse, url: URL): void {
    if (method !== 'GET') throw methodNotAllowed('customresourcedefinitions are fixed: cnilab serves the Cilium resources it keeps');
    const all = RESOURCES.filter((r) => r.crd).map((r) => crdFor(r, this.started) as unknown as KubeObject);
    if (p.name) {
      const one = all.find((c) => c.metadata.name === p.name);
      if (!one) throw notFound('customresourcedefinitions', 'apiextensions.k8s.io', p.name);
      return sendJson(res, 200, one);
    }
    if (url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1') {
      // Fixed set: the initial ADDED events, then an open stream until the client goes.
      res.writeHead(200, { 'content-type': 'application/json' });
      if (!url.searchParams.get('resourceVersion') || url.searchParams.get('resourceVersion') === '0') for (const c of all) res.write(`${JSON.stringify({ type: 'ADDED', object: c })}\n`);
      req.on('close', () => res.end());
      return;
    }
    const sel = parseSelection(url.searchParams, 'CustomResourceDefinition');
    const items = all.filter((c) => selects(sel, c));
    if (wantsTable(req.headers.accept)) return sendJson(res, 200, toTable('CustomResourceDefinition', items, { resourceVersion: '1', ...this.tableOpts(url) }));
    sendJson(res, 200, { kind: 'CustomResourceDefinitionList', apiVersion: 'apiextensions.k8s.io/v1', metadata: { resourceVersion: '1' }, items });
  }
}

/** The autoscaling/v1 Scale of a Deployment or ReplicaSet. */
export function scaleOf(o: KubeObject): Record<string, unknown> {
  const spec = (o.spec ?? {}) as { replicas?: number; selector?: { matchLabels?: Record<string, string> } };
  const status = (o.status ?? {}) as { replicas?: number };
  const selector = Object.entries(spec.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: { name: o.metadata.name, namespace: o.metadata.namespace, uid: o.metadata.uid, resourceVersion: o.metadata.resourceVersion, creationTimestamp: o.metadata.creationTimestamp },
    spec: { replicas: spec.replicas ?? 0 },
    status: { replicas: status.replicas ?? 0, selector },
  };
}
