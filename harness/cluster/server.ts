// The control plane's API, HTTP over a unix socket (node namespaces cannot reach the host's loopback,
// but a path-named unix socket is reachable from every network namespace).
//
//   GET    /v1/healthz
//   GET    /v1/cluster                         the cluster spec the daemon serves
//   GET    /v1/objects/KIND[?namespace=NS]     list
//   GET    /v1/objects/KIND/NS/NAME            get ("-" as NS for cluster-scoped kinds)
//   POST   /v1/apply                           {objects, internal?} → ApplyResult[]
//   PUT    /v1/status/KIND/NS/NAME             {status}
//   DELETE /v1/objects/KIND/NS/NAME
//   GET    /v1/watch?kinds=Pod,Node            NDJSON stream: the current objects as ADDED, then changes
//   POST   /v1/identities                      {labels: string[]} → {id}: cluster-wide numeric identity
//   POST   /v1/shutdown                        stop the daemon (used by `cnilab down`)
//
// The same socket serves the Kubernetes API (/api, /apis, /version, ...: kube/api.ts) without a
// token: only root can open it. The HTTPS port (kube/https.ts) serves it with one.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { chmodSync, rmSync } from 'node:fs';
import { CnilabError, errorToJson, InvalidInputError, NotFoundError } from '../errors.js';
import type { KubeObject } from './objects.js';
import type { ClusterSpec } from './spec.js';
import type { ObjectStore, WatchEvent } from './store.js';
import { KubeApi } from './kube/api.js';

/** Cilium's first cluster-local identity; 1..255 are reserved (1 host, 2 world, 6 remote-node, …). */
export const FIRST_CLUSTER_IDENTITY = 256;

export interface ServerHooks {
  onShutdown: () => void;
  /** Extra read-only routes (the pod runtime adds /v1/nodes status, for instance). */
  extra?: (req: IncomingMessage, url: URL) => Promise<unknown> | undefined;
  /** The Kubernetes API, served on the same socket. */
  kube?: KubeApi;
}

async function readJson(req: IncomingMessage): Promise<any> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new InvalidInputError('request body', 'not valid JSON');
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function statusFor(err: unknown): number {
  if (!(err instanceof CnilabError)) return 500;
  switch (err.code) {
    case 'INVALID_INPUT':
      return 400;
    case 'NOT_FOUND':
      return 404;
    case 'CONFLICT':
      return 409;
    default:
      return 500;
  }
}

export class IdentityAllocator {
  constructor(private store: ObjectStore) {}

  /** The same label set always gets the same number, on every node. */
  allocate(labels: string[]): number {
    const sorted = [...new Set(labels)].sort();
    const key = JSON.stringify(sorted);
    let max = FIRST_CLUSTER_IDENTITY - 1;
    for (const obj of this.store.list('CiliumIdentity')) {
      const id = Number(obj.metadata.name);
      if (JSON.stringify((obj as any).securityLabels) === key) return id;
      max = Math.max(max, id);
    }
    const id = max + 1;
    const identity = { apiVersion: 'cilium.io/v2', kind: 'CiliumIdentity', metadata: { name: String(id) }, securityLabels: sorted };
    this.store.apply([identity as unknown as KubeObject], { internal: true });
    return id;
  }
}

export function startControlServer(socketPath: string, store: ObjectStore, spec: ClusterSpec, hooks: ServerHooks): Promise<Server> {
  const identities = new IdentityAllocator(store);
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://control');
    if (hooks.kube && KubeApi.owns(url.pathname)) return hooks.kube.handle(req, res);
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    try {
      if (parts[0] !== 'v1') throw new NotFoundError(`no route ${url.pathname}`);
      const route = `${req.method} ${parts[1] ?? ''}`;
      const ns = (s: string | undefined) => (s === '-' || s === '' ? undefined : s);
      switch (route) {
        case 'GET healthz':
          return send(res, 200, { ok: true, resourceVersion: store.resourceVersion });
        case 'GET cluster':
          return send(res, 200, spec);
        case 'GET objects': {
          const [kind, namespace, name] = parts.slice(2);
          if (!kind) throw new InvalidInputError('kind', 'missing');
          if (name) {
            const obj = store.get(kind, ns(namespace), name);
            if (!obj) throw new NotFoundError(`${kind} "${name}" not found${namespace && namespace !== '-' ? ` in namespace "${namespace}"` : ''}`);
            return send(res, 200, obj);
          }
          return send(res, 200, { items: store.list(kind, url.searchParams.get('namespace') ?? undefined), resourceVersion: store.resourceVersion });
        }
        case 'POST apply': {
          const body = await readJson(req);
          if (!Array.isArray(body.objects)) throw new InvalidInputError('request body.objects', 'expected an array');
          return send(res, 200, { results: store.apply(body.objects, { internal: body.internal === true }) });
        }
        case 'PUT status': {
          const [kind, namespace, name] = parts.slice(2);
          const body = await readJson(req);
          return send(res, 200, store.updateStatus(kind!, ns(namespace), name!, body.status ?? {}));
        }
        case 'DELETE objects': {
          const [kind, namespace, name] = parts.slice(2);
          return send(res, 200, store.delete(kind!, ns(namespace), name!));
        }
        case 'POST identities': {
          const body = await readJson(req);
          if (!Array.isArray(body.labels)) throw new InvalidInputError('request body.labels', 'expected an array of strings');
          return send(res, 200, { id: identities.allocate(body.labels.map(String)) });
        }
        case 'POST shutdown':
          send(res, 200, { ok: true });
          setImmediate(hooks.onShutdown);
          return;
        case 'GET watch':
          return serveWatch(req, res, store, (url.searchParams.get('kinds') ?? '').split(',').filter(Boolean));
        default: {
          const extra = hooks.extra?.(req, url);
          if (extra) return send(res, 200, await extra);
          throw new NotFoundError(`no route ${req.method} ${url.pathname}`);
        }
      }
    } catch (err) {
      if (!res.headersSent) send(res, statusFor(err), { error: errorToJson(err) });
      else res.end();
    }
  });
  if (hooks.kube) server.on('upgrade', (req, socket, head) => hooks.kube!.upgrade(req, socket, head));
  rmSync(socketPath, { force: true });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      chmodSync(socketPath, 0o600);
      resolve(server);
    });
  });
}

function serveWatch(req: IncomingMessage, res: ServerResponse, store: ObjectStore, kinds: string[]): void {
  res.writeHead(200, { 'content-type': 'application/x-ndjson' });
  const wanted = (ev: WatchEvent) => kinds.length === 0 || kinds.includes(ev.object.kind);
  const write = (ev: WatchEvent) => {
    if (wanted(ev)) res.write(`${JSON.stringify(ev)}\n`);
  };
  // Subscribe before listing so nothing changes unseen in between (a duplicate ADDED is harmless).
  const unsubscribe = store.watch(write);
  for (const kind of kinds) for (const object of store.list(kind)) write({ type: 'ADDED', object });
  res.write(`${JSON.stringify({ type: 'SYNCED' })}\n`);
  req.on('close', unsubscribe);
  res.on('close', unsubscribe);
}
