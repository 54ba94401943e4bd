// What Go's net/http gives every agnhost HTTP server for free, and Node's http module does not: a
// request target that never crashes the server (Go parses it with url.ParseRequestURI and answers
// "400 Bad Request" when it cannot), ServeMux's redirect of unclean paths ("//", "/a/../b") to their
// clean form, and a handler that fails ("panics") costing only its own connection: Go's server
// recovers the panic, logs "http: panic serving ADDR: ...", and closes that connection, while every
// other request keeps being served. Pod traffic is hostile input; a server must survive all of it.
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface GuardedRequest {
  /** The decoded, clean path (ServeMux's r.URL.Path). */
  path: string;
  /** The raw query string, without '?'. */
  rawQuery: string;
  query: URLSearchParams;
}

export type GuardedHandler = (req: IncomingMessage, res: ServerResponse, target: GuardedRequest) => void | Promise<void>;

/** Go's path.Clean for slash-separated absolute paths. */
export function goPathClean(p: string): string {
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  return `/${out.join('/')}`;
}

/** net/http ServeMux's cleanPath: path.Clean, keeping a trailing slash. */
export function cleanPath(p: string): string {
  if (p === '') return '/';
  const abs = p.startsWith('/') ? p : `/${p}`;
  let np = goPathClean(abs);
  if (abs.endsWith('/') && np !== '/') np += '/';
  return np;
}

/**
 * Split a request target (origin form "/p?q" or absolute form "http://host/p?q") into its path and
 * query, as url.ParseRequestURI does. Undefined when Go would answer 400 Bad Request.
 */
export function parseRequestTarget(raw: string): { path: string; rawPath: string; rawQuery: string } | undefined {
  let target = raw;
  const absolute = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/.exec(target);
  if (absolute) target = target.slice(absolute[0].length) || '/';
  if (!target.startsWith('/')) return undefined;
  const q = target.indexOf('?');
  const rawPath = q < 0 ? target : target.slice(0, q);
  const rawQuery = q < 0 ? '' : target.slice(q + 1);
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    return undefined; // an invalid %-escape: "invalid URL escape"
  }
  return { path, rawPath, rawQuery };
}

function peer(req: IncomingMessage): string {
  return `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
}

function plain(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(body)), ...headers });
  res.end(body);
}

/** Wrap a handler with Go's request parsing, path cleaning and panic recovery. */
export function guard(log: (line: string) => void, handler: GuardedHandler): (req: IncomingMessage, res: ServerResponse) => void {
  const recover = (req: IncomingMessage, res: ServerResponse, err: unknown) => {
    log(`http: panic serving ${peer(req)}: ${(err as Error)?.message ?? String(err)}`);
    // Go closes the connection; whatever was already written stays written.
    res.destroy();
  };
  return (req, res) => {
    try {
      const t = parseRequestTarget(req.url ?? '');
      if (!t) {
        // Go writes this reply itself and closes the connection.
        return plain(res, 400, '400 Bad Request', { Connection: 'close' });
      }
      const clean = cleanPath(t.path);
      if (clean !== t.path && req.method !== 'CONNECT') {
        const location = `${encodeURI(clean)}${t.rawQuery ? `?${t.rawQuery}` : ''}`;
        return plain(res, 301, '', { Location: location });
      }
      const out = handler(req, res, { path: t.path, rawQuery: t.rawQuery, query: new URLSearchParams(t.rawQuery) });
      if (out) out.catch((e) => recover(req, res, e));
    } catch (e) {
      recover(req, res, e);
    }
  };
}

/** Go's strconv.Atoi: an optional sign and decimal digits, within int64. Undefined otherwise. */
export function goAtoi(s: string): number | undefined {
  if (!/^[+-]?\d+$/.test(s)) return undefined;
  const n = BigInt(s);
  if (n > 9223372036854775807n || n < -9223372036854775808n) return undefined;
  return Number(n);
}
