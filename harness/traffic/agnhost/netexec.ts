// `agnhost netexec [--http-port 8080] [--udp-port 8081]`: the HTTP/UDP test server of the
// Kubernetes e2e suites. HTTP: /hostname, /echo?msg=&code=, /clientip ("ip:port"), /header?key=,
// /healthz, /readyz, /dial?request=&host=&port=&protocol=http|udp&tries=, /exit?code=, and "/"
// (like the real ServeMux, every unknown path answers "NOW: <time>"). UDP: "hostname",
// "echo X", "clientip" (case-insensitive, trimmed). --udp-port -1 disables UDP.
import http from 'node:http';
import net from 'node:net';
import { parseFlags, UsageError, type FlagSpec } from './flags.js';
import type { Proto, RunningWorkload, WorkloadContext } from './context.js';
import { closeServer, closeUdp, sendUdp } from './serve-hostname.js';
import { goAtoi, guard } from './http-guard.js';

export const NETEXEC_FLAGS: Record<string, FlagSpec> = {
  'http-port': { kind: 'int', default: 8080 },
  'udp-port': { kind: 'int', default: 8081 },
  'sctp-port': { kind: 'int', default: -1 },
  'shutdown-delay': { kind: 'int', default: 0 },
  'delay-shutdown': { kind: 'int', default: 0 },
  'http-override': { kind: 'string', default: '' },
  'tls-cert-file': { kind: 'string', default: '' },
  'tls-private-key-file': { kind: 'string', default: '' },
  'udp-listen-addresses': { kind: 'string', default: '' },
};

export interface NetexecOptions {
  httpPort: number;
  udpPort: number;
}

export function parseNetexecArgs(args: string[]): NetexecOptions {
  const { flags } = parseFlags(args, NETEXEC_FLAGS);
  // Fail loudly on features we do not reproduce instead of silently serving something else.
  if (flags['sctp-port'] !== -1) throw new UsageError('--sctp-port is not supported by cnilab agnhost (no SCTP sockets in Node.js)');
  if (flags['tls-cert-file'] || flags['tls-private-key-file']) throw new UsageError('TLS is not supported by cnilab agnhost netexec');
  if (flags['http-override']) throw new UsageError('--http-override is not supported by cnilab agnhost netexec');
  if (flags['udp-listen-addresses']) throw new UsageError('--udp-listen-addresses is not supported by cnilab agnhost netexec');
  const httpPort = flags['http-port'] as number;
  const udpPort = flags['udp-port'] as number;
  // Upstream dies with "listen tcp: address N: invalid port" (log.Fatal, exit 1): same outcome, said first.
  if (httpPort < 0 || httpPort > 65535) throw new UsageError(`listen tcp: address ${httpPort}: invalid port`);
  if (udpPort !== -1 && (udpPort < 0 || udpPort > 65535)) throw new UsageError(`listen udp: address ${udpPort}: invalid port`);
  return { httpPort, udpPort };
}

/** The reply to one UDP datagram, or undefined for no reply (as the real server does). */
export function udpReply(text: string, hostname: string, client: string): string | undefined {
  const t = text.trim().toLowerCase();
  if (t === 'hostname') return hostname;
  if (t.startsWith('echo ')) return t.slice(5);
  if (t === 'echo') return '';
  if (t === 'clientip') return client;
  return undefined;
}

function hostPort(addr: string | undefined, port: number | undefined): string {
  const a = addr?.startsWith('::ffff:') ? addr.slice(7) : addr;
  return a?.includes(':') ? `[${a}]:${port}` : `${a}:${port}`;
}

async function dialHttp(ctx: WorkloadContext, request: string, host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      {
        host,
        port,
        path: `/${request}`,
        timeout: 5000,
        // No `agent`: with any agent (even `agent: false`, which makes a fresh one) Node ignores
        // createConnection and dials from the host process's netns. The client socket must
        // originate in the workload's netns.
        createConnection: () => ctx.binder.tcpClient().connect(port, host),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('i/o timeout')));
    req.on('error', reject);
  });
}

async function dialUdp(ctx: WorkloadContext, request: string, host: string, port: number): Promise<string> {
  const sock = await ctx.binder.udpClient();
  try {
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('i/o timeout')), 3000);
      sock.once('message', (m) => (clearTimeout(timer), resolve(m.toString('utf8'))));
      sock.once('error', (e) => (clearTimeout(timer), reject(e)));
      sock.send(request, port, host);
    });
  } finally {
    await closeUdp(sock);
  }
}

/** Upstream runs tries sequentially without a bound; one pod's /dial?tries=1e9 would then occupy the
 *  process that serves every pod of its node, so cnilab refuses more than this. */
export const MAX_DIAL_TRIES = 100;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** /dial's parameters, checked as upstream does (400 with a reason) before anything is dialed. */
export function parseDialQuery(q: URLSearchParams): { error: string } | { request: string; host: string; port: number; protocol: 'http' | 'udp'; tries: number } {
  const request = q.get('request') ?? '';
  const host = q.get('host') ?? '';
  const rawPort = q.get('port') ?? '';
  const protocol = (q.get('protocol') ?? '').toLowerCase() || 'http';
  const rawTries = q.get('tries') ?? '';
  const tries = rawTries === '' ? 1 : goAtoi(rawTries);
  if (tries === undefined) return { error: `tries parameter is invalid. strconv.Atoi: parsing ${JSON.stringify(rawTries)}: invalid syntax` };
  if (tries > MAX_DIAL_TRIES) return { error: `tries parameter is invalid. at most ${MAX_DIAL_TRIES} (cnilab agnhost)` };
  if (!request) return { error: 'request parameter not specified. <nil>' };
  if (protocol !== 'http' && protocol !== 'udp') return { error: `unsupported protocol. ${protocol}` };
  const port = goAtoi(rawPort);
  if (!(net.isIPv4(host) || HOSTNAME.test(host)) || port === undefined || port < 1 || port > 65535) {
    return { error: `host and/or port param are invalid. address ${JSON.stringify(`${host}:${rawPort}`)} is not a host:port` };
  }
  return { request, host, port, protocol, tries };
}

async function dial(ctx: WorkloadContext, q: URLSearchParams): Promise<{ status: number; body: string }> {
  const p = parseDialQuery(q);
  if ('error' in p) return { status: 400, body: `${p.error}\n` };
  const { request, host, port, protocol, tries } = p;
  const dialer = protocol === 'http' ? dialHttp : dialUdp;
  const responses: string[] = [];
  const errors: string[] = [];
  for (let i = 0; i < tries; i++) {
    try {
      responses.push(await dialer(ctx, request, host, port));
    } catch (e) {
      errors.push(`reading from ${protocol} connection failed. err:'${(e as Error).message}'`);
    }
  }
  return { status: 200, body: JSON.stringify({ responses, errors }) };
}

/**
 * /echo?msg=&code=: upstream's echoHandler. A code Go's strconv.Atoi rejects gets a 200 with a
 * message; a code outside 100-999 makes Go's WriteHeader panic, which net/http turns into a closed
 * connection (the guard does the same with the throw); 1xx codes are informational in Go, so the
 * reply that follows is a 200.
 */
function echo(q: URLSearchParams, reply: (status: number, body: string) => void): void {
  const raw = q.get('code') ?? '';
  const msg = q.get('msg') ?? '';
  if (raw === '') return reply(200, msg);
  const code = goAtoi(raw);
  if (code === undefined) return reply(200, `argument 'code' must be an integer or empty, got ${JSON.stringify(raw)}\n`);
  if (code < 100 || code > 999) throw new Error(`invalid WriteHeader code ${code}`);
  return reply(code < 200 && code !== 101 ? 200 : code, msg);
}

export async function startNetexec(o: NetexecOptions, ctx: WorkloadContext): Promise<RunningWorkload> {
  let exit: (code: number) => void = () => undefined;
  const exited = new Promise<number>((resolve) => (exit = resolve));
  const ports: Array<{ proto: Proto; port: number }> = [];
  const server = http.createServer(
    guard(ctx.log, (req, res, { path, query: q }) => {
      const client = hostPort(req.socket.remoteAddress, req.socket.remotePort);
      ctx.log(`GET ${path}${q.size ? `?${q}` : ''} from ${client}`);
      const reply = (status: number, body: string) => {
        // Go buffers small replies and sends a Content-Length; so do we.
        res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
        res.end(body);
      };
      switch (path) {
        case '/hostname':
        case '/hostName':
          return reply(200, ctx.hostname);
        case '/clientip':
          return reply(200, client);
        case '/healthz':
        case '/readyz':
          return reply(200, 'ok');
        case '/header': {
          const key = (q.get('key') ?? '').toLowerCase();
          return reply(200, Object.hasOwn(req.headers, key) ? String(req.headers[key]) : '');
        }
        case '/echo':
          return echo(q, reply);
        case '/exit': {
          const raw = q.get('code') ?? '';
          const code = raw === '' ? 0 : goAtoi(raw);
          if (code === undefined) return reply(200, `argument 'code' must be an integer [0-127] or empty, got ${JSON.stringify(raw)}\n`);
          reply(200, '');
          // os.Exit(code): the status a parent sees is the low byte.
          setImmediate(() => exit(((code % 256) + 256) % 256));
          return;
        }
        case '/dial':
          return dial(ctx, q).then((r) => reply(r.status, r.body), (e) => reply(500, String(e)));
        default:
          return reply(200, `NOW: ${new Date().toISOString()}`);
      }
    }),
  );
  await ctx.binder.listenTcp(server, o.httpPort);
  ports.push({ proto: 'tcp', port: o.httpPort });
  ctx.log(`Started HTTP server on port ${o.httpPort}`);
  let udpClose: () => Promise<void> = async () => undefined;
  if (o.udpPort !== -1) {
    try {
      const sock = await ctx.binder.bindUdp(o.udpPort);
      sock.on('message', (msg, rinfo) => {
        const answer = udpReply(msg.toString('utf8'), ctx.hostname, hostPort(rinfo.address, rinfo.port));
        if (answer !== undefined) sendUdp(sock, answer, rinfo, ctx.log);
      });
      sock.on('error', (e) => ctx.log(`UDP error: ${e.message}`));
      udpClose = () => closeUdp(sock);
      ports.push({ proto: 'udp', port: o.udpPort });
      ctx.log(`Started UDP server on port ${o.udpPort}`);
    } catch (e) {
      await closeServer(server);
      throw e;
    }
  }
  return { ports, exited, stop: async () => void (await Promise.all([closeServer(server), udpClose()])) };
}
