// The control plane's API, HTTP over a unix socket (node namespaces cannot reach the host's loopback,
// but a path-named unix socket is reachable from every network namespace).
//
//   GET    /v1/healthz
//   GET    /v1/cluster                         the cluster spec the daemon serves
//   GET    /v1/objects/KIND[?namespace=NS]     list
//   GET    /v1/objects/KIND/NS/NAME            get ("-" as NS for cluster-scoped kinds)
//   POST   /v1/apply                           {objects, internal?} → {results: ApplyResult[], resourceVersion}
//   PUT    /v1/status/KIND/NS/NAME             {status}
//   DELETE /v1/objects/KIND/NS/NAME
//   PATCH  /v1/labels/KIND/NS/NAME             {set?, remove?, overwrite?} → {object, changed, missing, resourceVersion}
//   GET    /v1/watch?kinds=Pod,Node            NDJSON stream: the current objects as ADDED, SYNCED {resourceVersion},
//                                              then changes; BOOKMARK {resourceVersion} after changes of other kinds
//   POST   /v1/identities                      {labels: string[]} → {id}: cluster-wide numeric identity
//   POST   /v1/shutdown                        stop the daemon (used by `cnilab down`)
//
// The same socket serves the Kubernetes API (/api, /apis, /version, ...: kube/api.ts) without a
// token: only root can open it. The HTTPS port (kube/https.ts) serves it with one.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { chmodSync, rmSync } from 'node:fs';
import { CnilabError, errorToJson, InvalidInputError, NotFoundError } from '../errors.js';
import type { ClusterSpec } from './spec.js';
import type { ObjectStore, WatchEvent } from './store.js';
import { LIMITS } from './limits.js';
import { DEFAULT_IDENTITY_GC, IdentityAllocator, type IdentityGcOptions } from './identity-allocator.js';
import { KubeApi } from './kube/api.js';

export { FIRST_CLUSTER_IDENTITY, IdentityAllocator } from './identity-allocator.js';

export interface ServerHooks {
  onShutdown: () => void;
  /** Extra read-only routes (the pod runtime adds /v1/nodes status, for instance). */
  extra?: (req: IncomingMessage, url: URL) => Promise<unknown> | undefined;
  /** Garbage collection of unused identities (default DEFAULT_IDENTITY_GC; false: none). */
  identityGc?: IdentityGcOptions | false;
  log?: (m: string) => void;
  /** The Kubernetes API, served on the same socket. */
  kube?: KubeApi;
}

/** A request body over LIMITS.requestBytes: answered 413 and the connection closed, unread. */
class BodyTooLargeError extends InvalidInputError {}

/** The request body as a JSON object ({} when empty); bad input (400, 413) otherwise. */
async function readJson(req: IncomingMessage): Promise<Record<string, any>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > LIMITS.requestBytes) throw new BodyTooLargeError('request body', `more than ${LIMITS.requestBytes} bytes`);
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new InvalidInputError('request body', 'not valid JSON');
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new InvalidInputError('request body', 'expected a JSON object');
  return v as Record<string, any>;
}

/** Path segments, %-decoded; a bad escape is bad input, not an exception that kills the daemon. */
function pathParts(pathname: string): string[] {
  try {
    return pathname.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    throw new InvalidInputError('request path', `invalid %-escape in ${JSON.stringify(pathname)}`);
  }
}

function requiredParts(parts: Array<string | undefined>, what: string): string[] {
  if (parts.some((p) => !p)) throw new InvalidInputError('request path', `expected ${what}`);
  return parts as string[];
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function statusFor(err: unknown): number {
  if (err instanceof BodyTooLargeError) return 413;
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

export function startControlServer(socketPath: string, store: ObjectStore, spec: ClusterSpec, hooks: ServerHooks): Promise<Server> {
  const identities = new IdentityAllocator(store);
  if (hooks.identityGc !== false) identities.startGc(hooks.identityGc ?? DEFAULT_IDENTITY_GC, hooks.log);
  // Nothing a client sends may throw out of the handler (an unhandled rejection ends the daemon):
  // the URL is parsed inside the try, and whatever fails becomes a reply.
  const server = createServer(async (req, res) => {
    let url = new URL('http://control/');
    try {
      url = new URL(`http://control${(req.url ?? '/').startsWith('/') ? req.url : `/${req.url}`}`);
      if (hooks.kube && KubeApi.owns(url.pathname)) return await hooks.kube.handle(req, res);
      const parts = pathParts(url.pathname);
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
          const results = store.apply(body.objects, { internal: body.internal === true });
          return send(res, 200, { results, resourceVersion: store.resourceVersion });
        }
        case 'PUT status': {
          const [kind, namespace, name] = requiredParts(parts.slice(2, 5), '/v1/status/KIND/NAMESPACE/NAME');
          const body = await readJson(req);
          const status = body.status ?? {};
          if (!status || typeof status !== 'object' || Array.isArray(status)) throw new InvalidInputError('request body.status', 'expected a JSON object');
          return send(res, 200, store.updateStatus(kind!, ns(namespace), name!, status));
        }
        case 'PATCH labels': {
          const [kind, namespace, name] = parts.slice(2);
          if (!kind || !name) throw new InvalidInputError('path', 'expected /v1/labels/KIND/NAMESPACE/NAME');
          const body = await readJson(req);
          const set = body.set ?? {};
          const remove = body.remove ?? [];
          if (typeof set !== 'object' || Array.isArray(set) || !Array.isArray(remove)) throw new InvalidInputError('request body', 'expected {set: {key: value}, remove: [key], overwrite}');
          const out = store.patchLabels(kind, ns(namespace), name, { set, remove: remove.map(String), overwrite: body.overwrite === true });
          return send(res, 200, { ...out, resourceVersion: store.resourceVersion });
        }
        case 'DELETE objects': {
          const [kind, namespace, name] = requiredParts(parts.slice(2, 5), '/v1/objects/KIND/NAMESPACE/NAME');
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
      if (res.headersSent) return void res.destroy();
      const status = statusFor(err);
      // An oversized body is left unread: close the connection rather than drain it.
      if (status === 413) res.setHeader('connection', 'close');
      send(res, status, { error: errorToJson(err) });
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
  // A change of a kind this watcher does not ask for still moves the store's revision: a BOOKMARK
  // (one per burst) tells the watcher it has seen everything up to that revision, which is how an
  // agent proves it has realized the revision `apply --wait` waits for.
  let bookmarkDue = false;
  const write = (ev: WatchEvent) => {
    if (wanted(ev)) return void res.write(`${JSON.stringify(ev)}\n`);
    if (bookmarkDue) return;
    bookmarkDue = true;
    setImmediate(() => {
      bookmarkDue = false;
      if (!res.writableEnded) res.write(`${JSON.stringify({ type: 'BOOKMARK', resourceVersion: store.resourceVersion })}\n`);
    });
  };
  // Subscribe before listing so nothing changes unseen in between (a duplicate ADDED is harmless).
  const unsubscribe = store.watch(write);
  for (const kind of kinds) for (const object of store.list(kind)) write({ type: 'ADDED', object });
  res.write(`${JSON.stringify({ type: 'SYNCED', resourceVersion: store.resourceVersion })}\n`);
  req.on('close', unsubscribe);
  res.on('close', unsubscribe);
}
