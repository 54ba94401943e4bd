// The web UI's server (`cnilab ui`): a page with a service map and a live flow table, like Hubble UI.
// It serves the page and the graph libraries from node_modules, lists namespaces and pods from the
// control plane, and bridges a WebSocket per browser to the relay: the browser says what it wants to
// see (namespace, observe-style filters), the server asks the relay for the last flows matching it and
// follows, forwarding the GetFlowsResponses in small batches.
//
//   GET /                  the page          GET /static/*   page script, style, cytoscape, elkjs
//   GET /api/cluster       name, nodes, routing        GET /api/pods   pods (namespace, name, node, IP)
//   WS  /api/flows         client → {type: "watch", id?, namespace?, filters?, last?}
//                          server → {type: "reset", id?} | {type: "flows", items: GetFlowsResponse[]} |
//                                   {type: "error", id?, message}   (id: the watch answered, echoed)
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { getFlowsStream, type FlowStreamClient } from '../../agent/api/flow-stream.js';
import type { GetFlowsRequest, GetFlowsResponse } from '../../agent/observer/api.js';
import type { ControlPlaneClient } from '../cluster/client.js';
import type { ClusterSpec } from '../cluster/spec.js';
import { buildFilters } from '../cli/observe-flags.js';
import { REPO_ROOT } from '../paths.js';

const STATIC: Record<string, { file: string; type: string }> = {
  '/': { file: join(REPO_ROOT, 'harness/ui/static/index.html'), type: 'text/html; charset=utf-8' },
  '/static/ui.js': { file: join(REPO_ROOT, 'harness/ui/static/ui.js'), type: 'text/javascript; charset=utf-8' },
  '/static/ui.css': { file: join(REPO_ROOT, 'harness/ui/static/ui.css'), type: 'text/css; charset=utf-8' },
  '/static/cytoscape.min.js': { file: resolve(REPO_ROOT, 'node_modules/cytoscape/dist/cytoscape.min.js'), type: 'text/javascript' },
  '/static/elk.bundled.js': { file: resolve(REPO_ROOT, 'node_modules/elkjs/lib/elk.bundled.js'), type: 'text/javascript' },
  '/static/cytoscape-elk.js': { file: resolve(REPO_ROOT, 'node_modules/cytoscape-elk/dist/cytoscape-elk.js'), type: 'text/javascript' },
};

/** The filter fields the page may send, mapped to `cnilab observe` flags (validated the same way). */
const FILTER_FLAGS: Record<string, string> = {
  pod: 'pod', fromPod: 'from-pod', toPod: 'to-pod', label: 'label', ip: 'ip', port: 'port', protocol: 'protocol',
  verdict: 'verdict', type: 'type', node: 'node', httpStatus: 'http-status', httpMethod: 'http-method', dnsQuery: 'dns-query',
};

export interface WatchMessage {
  type: 'watch';
  /** The client's number for this watch, echoed in the reset or error that answers it. */
  id?: number;
  namespace?: string;
  filters?: Record<string, string>;
  last?: number;
}

/** A watch message → the relay request (throws InvalidInputError naming the field). */
export function watchRequest(m: WatchMessage): GetFlowsRequest {
  const tokens: Array<{ name: string; value?: string }> = [];
  for (const [k, v] of Object.entries(m.filters ?? {})) {
    if (v === undefined || v === '') continue;
    const flag = FILTER_FLAGS[k];
    if (!flag) throw Object.assign(new Error(`unknown filter "${k}"`), { field: k });
    tokens.push({ name: flag, value: String(v) });
  }
  if (m.namespace) tokens.push({ name: 'namespace', value: m.namespace });
  const { whitelist, blacklist } = buildFilters(tokens);
  const last = Number.isInteger(m.last) && m.last! > 0 ? Math.min(m.last!, 4096) : 200;
  return { number: last, follow: true, ...(whitelist.length ? { whitelist } : {}), ...(blacklist.length ? { blacklist } : {}) };
}

/** The watch's id to echo, when it is a sane number (the page is the only client, but the socket takes anything). */
const idOf = (m: unknown): { id?: number } => {
  const id = (m as { id?: unknown } | null | undefined)?.id;
  return typeof id === 'number' && Number.isSafeInteger(id) ? { id } : {};
};

export interface UiServerOptions {
  cluster: string;
  spec: ClusterSpec;
  client: ControlPlaneClient;
  relaySocket: string;
  /** Batching of flows to the browser. */
  flushMs?: number;
}

export async function startUiServer(o: UiServerOptions, port: number, host: string): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const json = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
    res.end(text);
  };
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://ui');
    try {
      if (req.method !== 'GET') return json(res, 405, { error: 'GET only' });
      const st = STATIC[url.pathname];
      if (st) {
        const body = await readFile(st.file);
        res.writeHead(200, { 'content-type': st.type, 'content-length': body.length, 'cache-control': 'no-store' });
        return res.end(body);
      }
      if (url.pathname === '/api/cluster') return json(res, 200, { name: o.cluster, routing: o.spec.routing, nodes: o.spec.nodes.map((n) => n.name) });
      if (url.pathname === '/api/pods') {
        const pods = (await o.client.list('Pod')).map((p) => ({
          namespace: p.metadata.namespace,
          name: p.metadata.name,
          node: (p.spec as { nodeName?: string } | undefined)?.nodeName,
          ip: (p.status as { podIP?: string } | undefined)?.podIP,
          labels: p.metadata.labels ?? {},
        }));
        const namespaces = (await o.client.list('Namespace')).map((n) => n.metadata.name).sort();
        return json(res, 200, { namespaces, pods });
      }
      return json(res, 404, { error: `no route ${url.pathname}` });
    } catch (e) {
      return json(res, 500, { error: (e as Error).message });
    }
  });

  const wss = new WebSocketServer({ server, path: '/api/flows', maxPayload: 64 * 1024 });
  wss.on('connection', (ws: WebSocket) => {
    let stream: FlowStreamClient | undefined;
    let batch: GetFlowsResponse[] = [];
    let generation = 0;
    const flush = setInterval(() => {
      if (batch.length && ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: 'flows', items: batch }));
      batch = [];
    }, o.flushMs ?? 100);
    const send = (m: unknown) => ws.readyState === ws.OPEN && ws.send(JSON.stringify(m));
    ws.on('message', (data) => {
      let m: WatchMessage | undefined;
      let request: GetFlowsRequest;
      try {
        m = JSON.parse(String(data)) as WatchMessage;
        if (m?.type !== 'watch') throw new Error('expected {"type": "watch", ...}');
        request = watchRequest(m);
      } catch (e) {
        return send({ type: 'error', ...idOf(m), field: (e as { field?: string }).field, message: (e as Error).message });
      }
      const id = idOf(m);
      stream?.cancel();
      batch = [];
      const gen = ++generation;
      send({ type: 'reset', ...id, request });
      stream = getFlowsStream(o.relaySocket, '/v1/flows', request, (r) => {
        if (gen === generation) batch.push(r);
      });
      stream.done.catch((e: Error & { body?: { error?: { message?: string } } }) => {
        if (gen === generation) send({ type: 'error', ...id, message: e.body?.error?.message ?? e.message });
      });
    });
    ws.on('close', () => {
      clearInterval(flush);
      stream?.cancel();
    });
  });

  await new Promise<void>((res, rej) => server.once('error', rej).listen(port, host, () => res()));
  const addr = server.address();
  const actualPort = typeof addr === 'object' && addr ? addr.port : port;
  return {
    server,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}/`,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
