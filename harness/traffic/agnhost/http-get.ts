// Hidden subcommand `agnhost cnilab-http-get URL [--timeout=5s]`: an HTTP GET with curl's exit
// codes (the cilium connectivity test judges actions by them): 0 ok, 3 bad URL, 6 DNS failure,
// 7 could not connect (refused / unreachable), 22 HTTP status >= 400 (curl -f), 28 timeout,
// 52 empty reply, 56 receive error. The body goes to stdout, the reason to stderr, like `curl -sSf`.
import http from 'node:http';
import { parseFlags, type FlagSpec } from './flags.js';

export const HTTP_GET_FLAGS: Record<string, FlagSpec> = { timeout: { kind: 'duration', default: 5000 } };

export const CURL_EXIT = { OK: 0, URL_MALFORMAT: 3, COULDNT_RESOLVE_HOST: 6, COULDNT_CONNECT: 7, HTTP_RETURNED_ERROR: 22, OPERATION_TIMEDOUT: 28, GOT_NOTHING: 52, RECV_ERROR: 56 } as const;

export interface HttpGetResult {
  code: number;
  status?: number;
  body: string;
  stderr: string;
}

export function httpGet(url: string, timeoutMs: number): Promise<HttpGetResult> {
  let parsed: URL;
  try {
    parsed = new URL(url);
    if (parsed.protocol !== 'http:') throw new Error(`unsupported scheme ${parsed.protocol}`);
  } catch (e) {
    return Promise.resolve({ code: CURL_EXIT.URL_MALFORMAT, body: '', stderr: `curl: (3) URL rejected: ${(e as Error).message}\n` });
  }
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: HttpGetResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(r);
    };
    const timer = setTimeout(
      () => done({ code: CURL_EXIT.OPERATION_TIMEDOUT, body: '', stderr: `curl: (28) Operation timed out after ${timeoutMs} milliseconds\n` }),
      timeoutMs,
    );
    const req = http.get(parsed, { agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (e) => done({ code: CURL_EXIT.RECV_ERROR, body: '', stderr: `curl: (56) ${e.message}\n` }));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        const body = Buffer.concat(chunks).toString('utf8');
        if (status >= 400) {
          done({ code: CURL_EXIT.HTTP_RETURNED_ERROR, status, body: '', stderr: `curl: (22) The requested URL returned error: ${status}\n` });
        } else done({ code: CURL_EXIT.OK, status, body, stderr: '' });
      });
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') {
        done({ code: CURL_EXIT.COULDNT_RESOLVE_HOST, body: '', stderr: `curl: (6) Could not resolve host: ${parsed.hostname}\n` });
      } else if (e.code === 'ECONNRESET' && req.reusedSocket === false && !req.writableEnded) {
        done({ code: CURL_EXIT.RECV_ERROR, body: '', stderr: `curl: (56) Recv failure: Connection reset by peer\n` });
      } else if (e.code === 'ECONNRESET' || /socket hang up/.test(e.message)) {
        done({ code: CURL_EXIT.GOT_NOTHING, body: '', stderr: 'curl: (52) Empty reply from server\n' });
      } else {
        done({ code: CURL_EXIT.COULDNT_CONNECT, body: '', stderr: `curl: (7) Failed to connect to ${parsed.host}: ${e.message}\n` });
      }
    });
  });
}

export async function httpGetMain(args: string[]): Promise<number> {
  let url: string;
  let timeoutMs: number;
  try {
    const { flags, positional } = parseFlags(args, HTTP_GET_FLAGS);
    if (positional.length !== 1) throw new Error('usage: agnhost cnilab-http-get URL [--timeout=5s]');
    url = positional[0]!;
    timeoutMs = flags.timeout as number;
  } catch (e) {
    process.stderr.write(`curl: (2) ${(e as Error).message}\n`);
    return 2;
  }
  const r = await httpGet(url, timeoutMs);
  process.stdout.write(r.body);
  process.stderr.write(r.stderr);
  return r.code;
}
