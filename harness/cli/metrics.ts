// cnilab metrics: Hubble's flow metrics and the agents' own, in Prometheus text format, summed over the
// cluster's nodes by the relay (or one node's with --node). --serve exposes the same on a TCP address
// for a Prometheus server to scrape (Hubble's metrics port is 9965).
import { createServer } from 'node:http';
import { existsSync } from 'node:fs';
import { clientFor, clusterName, parseFlags } from './common.js';
import { InvalidInputError, NotFoundError } from '../errors.js';
import { paths } from '../cluster/names.js';
import type { ClusterSpec } from '../cluster/spec.js';

const USAGE = `usage: cnilab metrics [--node NODE] [-o text|json] [--serve HOST:PORT]
  Prometheus text of the whole cluster (every node's counters summed), or of one node with --node.
  Endpoints: the relay socket ${paths.relaySocket('<cluster>')} (GET /metrics[?node=N]) and each agent's
  socket (GET /metrics). --serve 127.0.0.1:9965 serves GET /metrics over TCP until interrupted.
`;

/** GET on a unix socket, raw text (the metrics are not JSON). */
function getText(socketPath: string, path: string): Promise<{ status: number; text: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    import('node:http').then(({ request }) => {
      const req = request({ socketPath, path, method: 'GET', timeout: 15_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 500, text: Buffer.concat(chunks).toString('utf8'), headers: res.headers }));
      });
      req.on('timeout', () => req.destroy(new Error(`no answer from ${socketPath} within 15 s`)));
      req.on('error', reject);
      req.end();
    }, reject);
  });
}

export async function fetchMetrics(cluster: string, node?: string, json = false): Promise<{ text: string; unavailable: string[] }> {
  const socket = paths.relaySocket(cluster);
  if (!existsSync(socket)) throw new NotFoundError(`the flow relay of cluster "${cluster}" is not running (${socket})`);
  const r = await getText(socket, `/${json ? 'v1/' : ''}metrics${node ? `?node=${encodeURIComponent(node)}` : ''}`);
  if (r.status !== 200) {
    let msg = r.text;
    try {
      msg = JSON.parse(r.text).error.message;
    } catch {
      /* keep the text */
    }
    throw r.status === 404 ? new InvalidInputError('--node', msg) : new NotFoundError(msg);
  }
  const header = r.headers['x-cnilab-unavailable-nodes'];
  const unavailable = json ? (JSON.parse(r.text).unavailable ?? []).map((u: { node: string }) => u.node) : typeof header === 'string' && header ? header.split(',') : [];
  return { text: r.text, unavailable };
}

export async function metrics(args: string[]): Promise<number> {
  const { values } = parseFlags(args, { name: { type: 'string' }, node: { type: 'string' }, output: { type: 'string', short: 'o' }, serve: { type: 'string' } }, false);
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const output = values.output ?? 'text';
  if (output !== 'text' && output !== 'json') throw new InvalidInputError('--output', `expected text or json, got "${output}"`);
  const name = clusterName(values);
  const spec: ClusterSpec = await clientFor(name).cluster();
  if (spec.cni !== 'cnilab') throw new InvalidInputError('--name', `cluster "${name}" runs the ${spec.cni} CNI, which has no flow metrics`);
  if (values.node && !spec.nodes.some((n) => n.name === values.node)) throw new InvalidInputError('--node', `no node "${values.node}" in cluster "${name}"`);
  if (values.serve !== undefined) {
    const m = /^(.+):(\d{1,5})$/.exec(values.serve);
    if (!m || Number(m[2]) > 65535) throw new InvalidInputError('--serve', `expected HOST:PORT, e.g. 127.0.0.1:9965, got "${values.serve}"`);
    const server = createServer(async (req, res) => {
      if (req.url !== '/metrics') return void res.writeHead(404).end('not found: try /metrics\n');
      try {
        const { text } = await fetchMetrics(name, values.node);
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(text);
      } catch (e) {
        res.writeHead(503).end(`${(e as Error).message}\n`);
      }
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(Number(m[2]), m[1], () => resolve()));
    process.stderr.write(`serving the metrics of cluster ${name} on http://${values.serve}/metrics (Ctrl-C to stop)\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    server.close();
    return 0;
  }
  const { text, unavailable } = await fetchMetrics(name, values.node, output === 'json');
  for (const n of unavailable) process.stderr.write(`Warning: node ${n} unavailable: its metrics are not in the sum\n`);
  process.stdout.write(output === 'json' ? `${JSON.stringify(JSON.parse(text).metrics, null, 1)}\n` : text);
  return 0;
}
