// `agnhost netexec [--http-port 8080] [--udp-port 8081]`: the HTTP/UDP test server of the
// Kubernetes e2e suites. HTTP: /hostname, /echo?msg=&code=, /clientip ("ip:port"), /header?key=,
// /healthz, /readyz, /dial?request=&host=&port=&protocol=http|udp&tries=, /exit?code=, and "/"
// (like the real ServeMux, every unknown path answers "NOW: <time>"). UDP: "hostname",
// "echo X", "clientip" (case-insensitive, trimmed). --udp-port -1 disables UDP.
import http from 'node:http';
import { parseFlags, UsageError, type FlagSpec } from './flags.js';
import type { Proto, RunningWorkload, WorkloadContext } from './context.js';
import { closeServer, closeUdp } from './serve-hostname.js';

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
  return { httpPort: flags['http-port'] as number, udpPort: flags['udp-port'] as number };
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

async function dial(ctx: WorkloadContext, q: URLSearchParams): Promise<{ status: number; body: string }> {
  const request = q.get('request') ?? '';
  const host = q.get('host') ?? '';
  const port = Number(q.get('port'));
  const protocol = q.get('protocol') || 'http';
  const tries = Number(q.get('tries') || '1');
  if (!host || !Number.isInteger(port) || !Number.isInteger(tries)) return { status: 400, body: 'bad dial parameters' };
  const dialer = protocol === 'http' ? dialHttp : protocol === 'udp' ? dialUdp : undefined;
  if (!dialer) return { status: 400, body: `Unsupported protocol. ${protocol}` };
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

export async function startNetexec(o: NetexecOptions, ctx: WorkloadContext): Promise<RunningWorkload> {
  let exit: (code: number) => void = () => undefined;
  const exited = new Promise<number>((resolve) => (exit = resolve));
  const ports: Array<{ proto: Proto; port: number }> = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://netexec');
    const q = url.searchParams;
    const client = hostPort(req.socket.remoteAddress, req.socket.remotePort);
    ctx.log(`GET ${url.pathname}${url.search} from ${client}`);
    const reply = (status: number, body: string) => {
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(body);
    };
    switch (url.pathname) {
      case '/hostname':
      case '/hostName':
        return reply(200, ctx.hostname);
      case '/clientip':
        return reply(200, client);
      case '/healthz':
      case '/readyz':
        return reply(200, 'ok');
      case '/header':
        return reply(200, String(req.headers[(q.get('key') ?? '').toLowerCase()] ?? ''));
      case '/echo': {
        const code = q.get('code');
        if (code && !/^-?\d+$/.test(code)) return reply(200, `argument 'code' must be an integer or empty, got "${code}"\n`);
        return reply(code ? Number(code) : 200, q.get('msg') ?? '');
      }
      case '/exit': {
        const code = Number(q.get('code') ?? '0');
        reply(200, '');
        setImmediate(() => exit(Number.isInteger(code) ? code : 1));
        return;
      }
      case '/dial':
        dial(ctx, q).then((r) => reply(r.status, r.body), (e) => reply(500, String(e)));
        return;
      default:
        return reply(200, `NOW: ${new Date().toISOString()}`);
    }
  });
  await ctx.binder.listenTcp(server, o.httpPort);
  ports.push({ proto: 'tcp', port: o.httpPort });
  ctx.log(`Started HTTP server on port ${o.httpPort}`);
  let udpClose: () => Promise<void> = async () => undefined;
  if (o.udpPort !== -1) {
    try {
      const sock = await ctx.binder.bindUdp(o.udpPort);
      sock.on('message', (msg, rinfo) => {
        const answer = udpReply(msg.toString('utf8'), ctx.hostname, hostPort(rinfo.address, rinfo.port));
        if (answer !== undefined) sock.send(answer, rinfo.port, rinfo.address);
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
