// GetFlows over HTTP on a unix socket, both ends: the server side writes one protojson
// GetFlowsResponse per line (application/x-ndjson), honouring the socket's backpressure and stopping
// when the client goes away; the client side reads the lines as they come (follow streams never end
// on their own). Used by the agent (server), the relay (both) and the CLI and UI (client).
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { GetFlowsRequest, GetFlowsResponse } from '../observer/api.js';

export interface StreamingSource {
  getFlows(req: GetFlowsRequest, sink: { write(r: GetFlowsResponse): boolean; end(): void }): { cancel(): void; resume(): void };
}

/** A bad request is reported before the first line: status 400 and {error: {code, field, message}}. */
export class BadFlowRequest extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
  }
}

export async function readJsonBody(req: IncomingMessage, limit = 1 << 20): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > limit) throw new BadFlowRequest('request', `body larger than ${limit} bytes`);
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.trim()) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new BadFlowRequest('request', 'body is not JSON');
  }
}

function sendError(res: ServerResponse, status: number, field: string, message: string): void {
  const text = JSON.stringify({ error: { code: status === 400 ? 'INVALID_INPUT' : 'INTERNAL', field, message } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Serves one GetFlows call from `source` on an HTTP response. */
export async function serveGetFlows(req: IncomingMessage, res: ServerResponse, source: StreamingSource): Promise<void> {
  let body: unknown;
  try {
    body = await readJsonBody(req);
  } catch (e) {
    return sendError(res, 400, (e as BadFlowRequest).field ?? 'request', (e as Error).message);
  }
  let started = false;
  const start = () => {
    if (started) return;
    started = true;
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
    res.flushHeaders();
  };
  let stream: { cancel(): void; resume(): void };
  try {
    stream = source.getFlows(body as GetFlowsRequest, {
      write: (r) => {
        start();
        return res.write(`${JSON.stringify(r)}\n`);
      },
      end: () => {
        start();
        res.end();
      },
    });
  } catch (e) {
    const err = e as Error & { field?: string };
    if (started) return void res.destroy(err);
    return sendError(res, err.field ? 400 : 500, err.field ?? 'request', err.message);
  }
  start();
  res.on('drain', () => stream.resume());
  res.on('close', () => stream.cancel());
}

export interface FlowStreamClient {
  /** Resolves when the stream ends (the server ended it, or cancel()). */
  done: Promise<void>;
  cancel(): void;
}

export class FlowStreamError extends Error {
  constructor(readonly status: number, readonly body: any, readonly target: string) {
    super(body?.error?.message ?? `${target} answered HTTP ${status}`);
  }
}

/**
 * POSTs a GetFlowsRequest to `path` on a unix socket and calls onResponse per line. Connection errors
 * and non-200 answers reject `done` (FlowStreamError carries the server's {error}).
 */
export function getFlowsStream(socketPath: string, path: string, body: GetFlowsRequest, onResponse: (r: GetFlowsResponse) => void, opts: { connectTimeoutMs?: number; onOpen?: () => void } = {}): FlowStreamClient {
  const text = JSON.stringify(body);
  let cancelled = false;
  let req: ReturnType<typeof request> | undefined;
  const done = new Promise<void>((resolve, reject) => {
    req = request({ socketPath, path, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } }, (res) => {
      if (res.statusCode !== 200) {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          let parsed: unknown;
          try {
            parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            parsed = undefined;
          }
          reject(new FlowStreamError(res.statusCode ?? 500, parsed, socketPath));
        });
        return;
      }
      opts.onOpen?.();
      res.setEncoding('utf8');
      let pending = '';
      res.on('data', (chunk: string) => {
        pending += chunk;
        let nl: number;
        while ((nl = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          if (!line.trim()) continue;
          try {
            onResponse(JSON.parse(line) as GetFlowsResponse);
          } catch (e) {
            req?.destroy(e as Error);
          }
        }
      });
      res.on('end', () => resolve());
      res.on('error', (e) => (cancelled ? resolve() : reject(e)));
      res.on('close', () => resolve());
    });
    const t = opts.connectTimeoutMs ?? 5000;
    const timer = setTimeout(() => req?.destroy(Object.assign(new Error(`no answer from ${socketPath} within ${t} ms`), { code: 'ETIMEDOUT' })), t);
    req.on('response', () => clearTimeout(timer));
    req.on('error', (e) => {
      clearTimeout(timer);
      if (cancelled) resolve();
      else reject(e);
    });
    req.end(text);
  });
  return {
    done,
    cancel() {
      cancelled = true;
      req?.destroy();
    },
  };
}
