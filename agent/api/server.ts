// The agent's API: HTTP over a unix socket (mode 0600) at paths.agentSocket(cluster, node).
//
//   GET  /v1/healthz            {ok, message?, node, endpoints}
//   GET  /v1/endpoints          local endpoints
//   GET  /v1/identities         identities this agent knows (numeric id → labels)
//   GET  /v1/ipcache            the datapath's ipcache (key → identity, tunnel endpoint)
//   GET  /v1/maps               pinned maps, drop counters, lost events
//   GET  /v1/flows?last=N       the last N decoded flows (default 100, at most the ring size)
//   POST /v1/observer/flows     body GetFlowsRequest (Hubble's observer.proto); answers one protojson
//                               GetFlowsResponse per line (application/x-ndjson), open-ended with follow
//   GET  /v1/observer/status    ServerStatus: flows held, seen, ring capacity, lost events
//   GET  /metrics               Hubble and agent metrics, Prometheus text format
//   GET  /v1/metrics            the same as prom-client JSON (what the relay merges)
//   GET  /v1/services           the load-balancer frontends programmed (service, flags, backends by slot)
//   GET  /v1/policy[?entries=0] the computed policy per endpoint, the realized store revision, CIDR identities
//   GET  /v1/k8s                the Kubernetes informers (synced, progress, reconnects), identity allocation
//   POST /v1/cni/add|del|check  body CniRequest; add answers a CNI result; errors {cniCode, msg, details}
//   POST /v1/cni/gc             body CniGcRequest (the runtime's valid attachments); answers CniGcResult
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { CNI_ERR, CniError, type CniAddResult, type CniErrorBody, type CniGcRequest, type CniGcResult, type CniRequest } from '../cni/protocol.js';
import { errorToJson } from '../../lib/errors.js';
import { runPlugin, type AgentCall } from '../cni/main.js';
import type { Observer } from '../observer/observer.js';
import { serveGetFlows } from './flow-stream.js';

export interface AgentApi {
  healthz(): { ok: boolean; message?: string; node: string; endpoints: number; policyRevision?: number; policyProblem?: string };
  policyStatus(entries: boolean): unknown;
  k8sStatus?(): unknown;
  endpoints(): unknown;
  identities(): unknown;
  ipcache(): unknown;
  maps(): unknown;
  flows(last: number): unknown;
  /** The node's flow observer (absent until the agent has started it). */
  observer?(): Observer | undefined;
  services?(): unknown;
  cniAdd(req: CniRequest): Promise<CniAddResult>;
  cniDel(req: CniRequest): Promise<void>;
  cniCheck(req: CniRequest): Promise<void>;
  cniGc(req: CniGcRequest): Promise<CniGcResult>;
}

/** JSON.stringify that renders bigint counters as numbers-in-strings instead of throwing. */
function toJson(body: unknown): string {
  return JSON.stringify(body, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = toJson(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** CNI requests are a few KiB; anything this big is not one (and is not read into memory). */
const MAX_BODY_BYTES = 1024 * 1024;

async function readBody(req: IncomingMessage): Promise<CniRequest> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new CniError(CNI_ERR.DECODE_FAILURE, `agent: request body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(c as Buffer);
  }
  try {
    const v = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v as CniRequest;
  } catch {
    throw new CniError(CNI_ERR.DECODE_FAILURE, 'agent: request body is not a JSON object');
  }
}

/** A GC body checked before it reaches the endpoint manager: it decides what gets deleted. */
function gcBody(raw: unknown): CniGcRequest {
  const v = (raw as { validAttachments?: unknown }).validAttachments;
  const ok = Array.isArray(v) && v.every((a) => a && typeof a === 'object' && typeof (a as Record<string, unknown>).containerID === 'string' && typeof (a as Record<string, unknown>).ifname === 'string');
  if (!ok) throw new CniError(CNI_ERR.INVALID_NETCONF, 'agent: GC needs validAttachments, a list of {containerID, ifname}');
  return { validAttachments: v as CniGcRequest['validAttachments'] };
}

/** Whether a network config names this agent's socket (else the plugin goes over the named socket). */
function addressedToUs(stdin: string, socketPath: string): boolean {
  try {
    return (JSON.parse(stdin) as { agentSocket?: unknown }).agentSocket === socketPath;
  } catch {
    return false; // the plugin reports the broken config itself
  }
}

/** The plugin's calls to this agent as direct method calls: no HTTP round trip to ourselves. */
function directCall(api: AgentApi): AgentCall {
  return async <T>(_socket: string, path: string, body: unknown): Promise<T> => {
    switch (path) {
      case '/v1/cni/add':
        return (await api.cniAdd(body as CniRequest)) as T;
      case '/v1/cni/del':
        await api.cniDel(body as CniRequest);
        return {} as T;
      case '/v1/cni/check':
        await api.cniCheck(body as CniRequest);
        return {} as T;
      case '/v1/cni/gc':
        return (await api.cniGc(body as CniGcRequest)) as T;
      case '/v1/healthz':
        return api.healthz() as T;
      default:
        throw new CniError(CNI_ERR.OTHER, `agent: no route ${path}`);
    }
  };
}

export async function startAgentServer(socketPath: string, api: AgentApi, log: (m: string) => void): Promise<Server> {
  // Nothing a client sends may throw out of the handler: an unhandled rejection would end the agent.
  const server = createServer(async (req, res) => {
    let url = new URL('http://agent/');
    let route = `${req.method} ?`;
    try {
      url = new URL(`http://agent${(req.url ?? '/').startsWith('/') ? req.url : `/${req.url}`}`);
      route = `${req.method} ${url.pathname}`;
      switch (route) {
        case 'GET /v1/healthz':
          return send(res, 200, api.healthz());
        case 'GET /v1/endpoints':
          return send(res, 200, api.endpoints());
        case 'GET /v1/identities':
          return send(res, 200, api.identities());
        case 'GET /v1/ipcache':
          return send(res, 200, api.ipcache());
        case 'GET /v1/maps':
          return send(res, 200, api.maps());
        case 'GET /v1/flows': {
          const last = Number(url.searchParams.get('last') ?? 100);
          return send(res, 200, api.flows(Number.isInteger(last) && last > 0 ? last : 100));
        }
        case 'GET /v1/k8s':
          return send(res, 200, api.k8sStatus?.() ?? {});
        case 'POST /v1/observer/flows':
        case 'GET /v1/observer/status':
        case 'GET /metrics':
        case 'GET /v1/metrics': {
          const obs = api.observer?.();
          if (!obs) return send(res, 503, { error: { code: 'UNAVAILABLE', message: 'the observer is not running' } });
          if (route === 'POST /v1/observer/flows') return await serveGetFlows(req, res, obs);
          if (route === 'GET /v1/observer/status') return send(res, 200, obs.status());
          if (route === 'GET /v1/metrics') return send(res, 200, await obs.metrics.registry.getMetricsAsJSON());
          const text = await obs.metrics.registry.metrics();
          res.writeHead(200, { 'content-type': obs.metrics.registry.contentType, 'content-length': Buffer.byteLength(text) });
          return res.end(text);
        }
        case 'GET /v1/services':
          return send(res, 200, api.services?.() ?? []);
        case 'GET /v1/policy':
          return send(res, 200, api.policyStatus(url.searchParams.get('entries') !== '0'));
        case 'POST /v1/cni/add':
          return send(res, 200, await api.cniAdd(await readBody(req)));
        case 'POST /v1/cni/del':
          await api.cniDel(await readBody(req));
          return send(res, 200, {});
        case 'POST /v1/cni/check':
          await api.cniCheck(await readBody(req));
          return send(res, 200, {});
        case 'POST /v1/cni/gc':
          return send(res, 200, await api.cniGc(gcBody(await readBody(req))));
        case 'POST /v1/cni/exec': {
          // The C entry point of the plugin (agent/cni/shim) forwards a whole invocation here, so the
          // plugin's logic runs in this already-warm process instead of a fresh Node.js per pod.
          const inv = (await readBody(req)) as unknown as { env?: Record<string, string>; stdin?: string };
          const stdin = typeof inv.stdin === 'string' ? inv.stdin : '';
          const out = await runPlugin(inv.env ?? {}, stdin, addressedToUs(stdin, socketPath) ? directCall(api) : undefined);
          const text = out.stdout ? `${out.stdout}\n` : '';
          res.writeHead(200, { 'content-type': 'application/json', 'x-cni-exit-code': String(out.code), 'content-length': Buffer.byteLength(text) });
          return res.end(text);
        }
        default:
          return send(res, 404, { error: { code: 'NOT_FOUND', message: `no route ${route}` } });
      }
    } catch (err) {
      if (res.headersSent) return void res.destroy();
      if (url.pathname.startsWith('/v1/cni/')) {
        const e = err instanceof CniError ? err : new CniError(CNI_ERR.OTHER, (err as Error).message, (err as { detail?: string }).detail);
        log(`${route}: CNI error ${e.cniCode}: ${e.message}${e.details ? ` (${e.details})` : ''}`);
        const body: CniErrorBody = { cniCode: e.cniCode, msg: e.message, ...(e.details ? { details: e.details } : {}) };
        return send(res, e.cniCode === CNI_ERR.OTHER ? 500 : 400, body);
      }
      return send(res, 500, { error: errorToJson(err) });
    }
  });
  mkdirSync(dirname(socketPath), { recursive: true });
  rmSync(socketPath, { force: true }); // a socket file left by a killed agent
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  chmodSync(socketPath, 0o600);
  return server;
}

export function stopAgentServer(server: Server, socketPath: string): void {
  server.close();
  server.closeAllConnections?.();
  rmSync(socketPath, { force: true });
}
