// `agnhost connect HOST:PORT [--timeout=1s] [--protocol=tcp|udp]`: one connection attempt whose
// failure is classified on stderr with the fixed prefixes the Kubernetes netpol e2e tests parse:
// TIMEOUT, REFUSED, DNS: <err>, OTHER: <err>, UNKNOWN: <err> (bad arguments); exit 0 on success, 1 otherwise.
// Imports stay minimal (node:net, node:dgram): this runs once per probe, so start-up time matters.
import net from 'node:net';
import dgram from 'node:dgram';
import { parseFlags, UsageError, type FlagSpec } from './flags.js';

export const CONNECT_FLAGS: Record<string, FlagSpec> = {
  timeout: { kind: 'duration', default: 0 },
  protocol: { kind: 'string', default: 'tcp' },
  // Accepted for manifest compatibility; cnilab's probes never set it.
  'source-port': { kind: 'string', default: '' },
};

export interface ConnectOptions {
  host: string;
  port: number;
  /** 0 = no timeout for TCP (kernel SYN retries); for UDP the real agnhost then times out at once. */
  timeoutMs: number;
  protocol: string;
}

export interface ConnectResult {
  code: number;
  /** Exactly what agnhost prints to stderr ("" on success). */
  stderr: string;
}

/** "host:port" or "[v6]:port", as Go's net.SplitHostPort accepts it. */
export function splitHostPort(dest: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(dest);
  if (!m) throw new UsageError(`address ${dest}: missing port in address`);
  const port = Number(m[3]);
  if (port > 65535) throw new UsageError(`address ${dest}: invalid port`);
  return { host: m[1] ?? m[2]!, port };
}

export function parseConnectArgs(args: string[]): ConnectOptions {
  const { flags, positional } = parseFlags(args, CONNECT_FLAGS);
  if (positional.length !== 1) throw new UsageError(`connect takes exactly one HOST:PORT argument, got ${positional.length}`);
  const { host, port } = splitHostPort(positional[0]!);
  return { host, port, timeoutMs: flags.timeout as number, protocol: (flags.protocol as string).toLowerCase() };
}

// Go's syscall error strings, so "OTHER: …" reads like the real image's output.
const GO_ERRNO_TEXT: Record<string, string> = {
  EHOSTUNREACH: 'no route to host',
  ENETUNREACH: 'network is unreachable',
  EPERM: 'operation not permitted',
  EACCES: 'permission denied',
  ECONNRESET: 'connection reset by peer',
  EADDRNOTAVAIL: 'cannot assign requested address',
  EINVAL: 'invalid argument',
  EMSGSIZE: 'message too long',
};

export function classifyError(err: NodeJS.ErrnoException, what: string): string {
  if (err.code === 'ECONNREFUSED') return 'REFUSED\n';
  if (err.code === 'ETIMEDOUT') return 'TIMEOUT\n';
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return `DNS: lookup ${what}: ${err.message}\n`;
  const text = (err.code && GO_ERRNO_TEXT[err.code]) ?? err.message;
  return `OTHER: ${what}: ${text}\n`;
}

function fail(stderr: string): ConnectResult {
  return { code: 1, stderr };
}

function connectTcp(o: ConnectOptions): Promise<ConnectResult> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: o.host, port: o.port });
    let timer: NodeJS.Timeout | undefined;
    const done = (r: ConnectResult) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(r);
    };
    if (o.timeoutMs > 0) timer = setTimeout(() => done(fail('TIMEOUT\n')), o.timeoutMs);
    sock.once('connect', () => done({ code: 0, stderr: '' }));
    sock.once('error', (e) => done(fail(classifyError(e, `dial tcp ${o.host}:${o.port}: connect`))));
  });
}

/**
 * One UDP exchange as agnhost makes it: a connected socket, like Go's net.Dial("udp"), one datagram
 * sent, then the first reply, error or deadline ends it. On a connected socket an ICMP
 * port-unreachable surfaces as ECONNREFUSED on the next read, which is how agnhost reports REFUSED for
 * UDP. The deadline starts after the write, as in agnhost (deadline = now + timeout). Never rejects:
 * `connect` and `cnilab-whoami` both dial with it and differ only in what they send and make of a reply.
 */
export function udpExchange<R extends ConnectResult>(o: ConnectOptions, payload: string, onReply: (msg: Buffer) => R): Promise<R | ConnectResult> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket(net.isIPv6(o.host) ? 'udp6' : 'udp4');
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const done = (r: R | ConnectResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.close();
      resolve(r);
    };
    sock.once('error', (e) => done(fail(classifyError(e, `read udp ${o.host}:${o.port}`))));
    sock.once('message', (msg) => done(onReply(msg)));
    sock.connect(o.port, o.host, () => {
      sock.send(payload, (err) => {
        if (err) return done(fail(classifyError(err, `write udp ${o.host}:${o.port}`)));
        timer = setTimeout(() => done(fail('TIMEOUT\n')), Math.max(0, o.timeoutMs));
      });
    });
  });
}

function connectUdp(o: ConnectOptions): Promise<ConnectResult> {
  return udpExchange(o, 'echo hostname\n', (msg) => (msg.length > 0 ? { code: 0, stderr: '' } : fail('OTHER: empty reply\n')));
}

/** Run one connection attempt. Never throws: everything ends as an exit code plus stderr text. */
export async function connect(o: ConnectOptions): Promise<ConnectResult> {
  switch (o.protocol) {
    case '':
    case 'tcp':
      return connectTcp(o);
    case 'udp':
      return connectUdp(o);
    case 'sctp':
      // SCTP is not supported here: Node.js has no SCTP sockets, and the real image's SCTP probe
      // cannot be reproduced faithfully. Reported as its own line so truth tables show '?' not 'X'.
      return fail('UNSUPPORTED: protocol sctp is not supported by cnilab agnhost\n');
    default:
      return fail(`Unsupported protocol ${o.protocol}\n`);
  }
}

/** The CLI forms' argument parsing: the options, or undefined after printing agnhost's UNKNOWN line. */
export function parseConnectArgsOrReport(args: string[]): ConnectOptions | undefined {
  try {
    return parseConnectArgs(args);
  } catch (e) {
    process.stderr.write(`UNKNOWN: ${(e as Error).message}\n`);
    return undefined;
  }
}

/** CLI form: parse, connect, print, return the exit code. */
export async function connectMain(args: string[]): Promise<number> {
  const opts = parseConnectArgsOrReport(args);
  if (!opts) return 1;
  const r = await connect(opts);
  if (r.stderr) process.stderr.write(r.stderr);
  return r.code;
}
