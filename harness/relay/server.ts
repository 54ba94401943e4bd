// The relay's API, served by the cluster daemon on paths.relaySocket(cluster) (mode 0600):
//
//   POST /v1/flows             body GetFlowsRequest → one GetFlowsResponse per line (ndjson), every node
//                              merged in time order; node_status events name nodes that did not answer
//   GET  /v1/status            ServerStatus summed over the nodes, and each node's state
//   GET  /metrics[?node=N]     Prometheus text: every node's metrics summed (prom-client's aggregator),
//                              plus cnilab_relay_node_up{node}; with ?node=N that node's own
//   GET  /v1/metrics[?node=N]  the same as prom-client JSON
import { createServer, type Server } from 'node:http';
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { AggregatorRegistry, Gauge, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { serveGetFlows } from '../../agent/api/flow-stream.js';
import { unixJsonRequest } from '../exec/unix-http.js';
import { Relay, type RelayNode, type RelayOptions } from './relay.js';

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/** Each node's metrics as prom-client JSON, or why it has none. */
async function nodeMetrics(nodes: RelayNode[], timeoutMs: number): Promise<Array<{ node: string; json?: MetricsJson; error?: string }>> {
  return Promise.all(
    nodes.map(async (n) => {
      try {
        const r = await unixJsonRequest(n.socket, 'GET', '/v1/metrics', undefined, timeoutMs);
        if (r.status !== 200) throw new Error(r.body?.error?.message ?? `HTTP ${r.status}`);
        return { node: n.name, json: r.body as MetricsJson };
      } catch (e) {
        return { node: n.name, error: (e as NodeJS.ErrnoException).code ?? (e as Error).message };
      }
    }),
  );
}

/** Merged Prometheus text of the given nodes, and which of them could not be read. */
export async function mergedMetrics(nodes: RelayNode[], timeoutMs = 5000): Promise<{ registry: ReturnType<typeof AggregatorRegistry.aggregate>; unavailable: Array<{ node: string; error: string }> }> {
  const all = await nodeMetrics(nodes, timeoutMs);
  const registry = AggregatorRegistry.aggregate(all.filter((x) => x.json).map((x) => x.json!));
  const up = new Gauge({ name: 'cnilab_relay_node_up', help: 'Whether the relay could read the node agent (1) or not (0)', labelNames: ['node'], registers: [registry] });
  for (const x of all) up.set({ node: x.node }, x.json ? 1 : 0);
  return { registry, unavailable: all.filter((x) => x.error).map((x) => ({ node: x.node, error: x.error! })) };
}

export async function startRelayServer(socketPath: string, nodes: () => RelayNode[], log: (m: string) => void, opts: RelayOptions = {}): Promise<Server> {
  const relay = new Relay(nodes, opts);
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://relay');
    const route = `${req.method} ${url.pathname}`;
    const json = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    try {
      switch (route) {
        case 'POST /v1/flows':
          return await serveGetFlows(req, res, relay);
        case 'GET /v1/status':
          return json(200, await relay.status());
        case 'GET /metrics':
        case 'GET /v1/metrics': {
          const only = url.searchParams.get('node');
          const list = nodes();
          const chosen = only ? list.filter((n) => n.name === only) : list;
          if (only && chosen.length === 0) return json(404, { error: { code: 'NOT_FOUND', field: 'node', message: `no node "${only}" (nodes: ${list.map((n) => n.name).join(', ')})` } });
          const { registry, unavailable } = await mergedMetrics(chosen);
          if (only && unavailable.length) return json(503, { error: { code: 'UNAVAILABLE', field: 'node', message: `node ${only} is unavailable: ${unavailable[0]!.error}` } });
          if (route === 'GET /v1/metrics') return json(200, { metrics: await registry.getMetricsAsJSON(), unavailable });
          const text = await registry.metrics();
          res.writeHead(200, { 'content-type': registry.contentType, 'content-length': Buffer.byteLength(text), ...(unavailable.length ? { 'x-cnilab-unavailable-nodes': unavailable.map((u) => u.node).join(',') } : {}) });
          return res.end(text);
        }
        default:
          return json(404, { error: { code: 'NOT_FOUND', message: `no route ${route}` } });
      }
    } catch (e) {
      log(`relay ${route}: ${(e as Error).message}`);
      if (!res.headersSent) json(500, { error: { code: 'INTERNAL', message: (e as Error).message } });
      else res.destroy();
    }
  });
  mkdirSync(dirname(socketPath), { recursive: true });
  rmSync(socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  chmodSync(socketPath, 0o600);
  return server;
}
