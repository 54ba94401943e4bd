// Probes for load-balanced services, run in-process from sockets created inside a pod's or a node's
// network namespace (harness/traffic/netns.ts), so a scenario can make hundreds of connections and see
// what the client sees: which backend answered (agnhost netexec /hostname, /clientip), and the peer
// address the socket reports (getpeername: the service, if the reverse translation works). Each call is
// one new connection or one datagram exchange; failures come back as the errno, never thrown.
import net from 'node:net';
import dgram from 'node:dgram';
import { createSocketIn } from './netns.js';
import type { FailureMode } from './probe.js';

export interface ServiceAnswer {
  ok: boolean;
  /** The response body (netexec: the pod name for /hostname, "ip:port" for /clientip). */
  answer?: string;
  /** httpGetAll: every response body, in the order of the paths asked (answer is the first). */
  bodies?: string[];
  /** What getpeername (TCP) or recvfrom (UDP) reported as the peer, "ip:port". */
  peer?: string;
  /** On failure: the errno code (ECONNREFUSED, EHOSTUNREACH, ...) or TIMEOUT. */
  error?: string;
  /** On failure: what the network answered, in the probes' terms (harness/traffic/probe.ts). */
  failure?: FailureMode;
  ms: number;
}

/**
 * The failure mode of a failed connection or datagram exchange, from its errno. A TCP connect refused
 * is a reset or an ICMP port unreachable (the kernel reports both as ECONNREFUSED; probe.ts calls it
 * RST as well); a UDP exchange refused can only be the ICMP error.
 */
export function serviceFailureMode(protocol: 'tcp' | 'udp', error: string): FailureMode {
  if (error === 'TIMEOUT') return 'TIMEOUT';
  if (error === 'ECONNREFUSED') return protocol === 'udp' ? 'ICMP_PORT_UNREACHABLE' : 'RST';
  if (error === 'ECONNRESET' || error === 'EPIPE') return 'RST';
  if (error === 'ENETUNREACH') return 'ENETUNREACH';
  if (error === 'EHOSTUNREACH') return 'EHOSTUNREACH';
  if (error.startsWith('bad HTTP answer')) return 'HTTP_ERROR';
  return 'OTHER';
}

/** One TCP connection from inside `netns`: write `request` once connected, read until the server closes,
 *  and let `judge` make the answer of what came back (the caller's HTTP framing). */
function tcpExchange(netns: string, host: string, port: number, request: string, judge: (data: string) => Omit<ServiceAnswer, 'ms' | 'peer'>, timeoutMs: number): Promise<ServiceAnswer> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    let sock: net.Socket;
    try {
      // netns '' is the caller's own namespace (agnhost cnilab-svc-ask, exec'd inside a pod).
      sock = netns ? new net.Socket({ fd: createSocketIn(netns, 'tcp'), readable: true, writable: true }) : new net.Socket();
    } catch (e) {
      return resolve({ ok: false, error: (e as Error).message, ms: 0 });
    }
    let data = '';
    let peer: string | undefined;
    const done = (r: Omit<ServiceAnswer, 'ms'>) => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ ...r, ...(r.error ? { failure: serviceFailureMode('tcp', r.error) } : {}), ms: Math.round(performance.now() - t0) });
    };
    const timer = setTimeout(() => done({ ok: false, error: 'TIMEOUT', peer }), timeoutMs);
    sock.on('data', (b) => (data += b.toString('utf8')));
    sock.once('error', (e: NodeJS.ErrnoException) => done({ ok: false, error: e.code ?? e.message, peer }));
    sock.once('end', () => done({ ...judge(data), peer }));
    sock.connect({ host, port }, () => {
      peer = `${sock.remoteAddress}:${sock.remotePort}`;
      sock.write(request);
    });
  });
}

/** One HTTP/1.0 GET over a new connection from inside `netns` (1.0: the answer is the plain body, never
 *  chunked, and the server closes the connection). */
export function httpGet(netns: string, host: string, port: number, path: string, timeoutMs = 2000): Promise<ServiceAnswer> {
  return tcpExchange(netns, host, port, `GET ${path} HTTP/1.0\r\nHost: ${host}:${port}\r\n\r\n`, (data) => {
    const sep = data.indexOf('\r\n\r\n');
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(data)?.[1];
    if (sep < 0 || status !== '200') return { ok: false, error: `bad HTTP answer: ${JSON.stringify(data.slice(0, 80))}` };
    return { ok: true, answer: data.slice(sep + 4).trim() };
  }, timeoutMs);
}

/** Pipelined HTTP/1.1 responses, each with a Content-Length (netexec sends one): the bodies, or why not. */
export function parseHttpResponses(data: string, count: number): string[] | string {
  const bodies: string[] = [];
  let rest = Buffer.from(data, 'utf8');
  for (let i = 0; i < count; i++) {
    const sep = rest.indexOf('\r\n\r\n');
    if (sep < 0) return `response ${i + 1} of ${count} missing: ${JSON.stringify(rest.toString('utf8').slice(0, 80))}`;
    const head = rest.subarray(0, sep).toString('utf8');
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1];
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1];
    if (status !== '200' || length === undefined) return `response ${i + 1}: ${JSON.stringify(head.slice(0, 80))}`;
    const end = sep + 4 + Number(length);
    if (rest.length < end) return `response ${i + 1} cut short`;
    bodies.push(rest.subarray(sep + 4, end).toString('utf8').trim());
    rest = rest.subarray(end);
  }
  return bodies;
}

/** Several GETs over ONE new connection (HTTP/1.1, pipelined, the last asking the server to close), so
 *  the answers come from the same backend over the same translated flow: which backend answered
 *  (/hostname) paired with what that backend saw (/clientip). */
export function httpGetAll(netns: string, host: string, port: number, paths: string[], timeoutMs = 2000): Promise<ServiceAnswer> {
  const request = paths.map((p, i) => `GET ${p} HTTP/1.1\r\nHost: ${host}:${port}\r\n${i === paths.length - 1 ? 'Connection: close\r\n' : ''}\r\n`).join('');
  return tcpExchange(netns, host, port, request, (data) => {
    const bodies = parseHttpResponses(data, paths.length);
    if (typeof bodies === 'string') return { ok: false, error: `bad HTTP answer: ${bodies}` };
    return { ok: true, answer: bodies[0], bodies };
  }, timeoutMs);
}

/** One datagram to netexec's UDP port from an unconnected socket in `netns`; the answer and its source. */
export function udpAsk(netns: string, host: string, port: number, text = 'hostname', timeoutMs = 2000): Promise<ServiceAnswer> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    let timer: NodeJS.Timeout | undefined;
    const done = (r: Omit<ServiceAnswer, 'ms'>) => {
      clearTimeout(timer);
      try {
        sock.close();
      } catch {
        /* already closed */
      }
      resolve({ ...r, ...(r.error ? { failure: serviceFailureMode('udp', r.error) } : {}), ms: Math.round(performance.now() - t0) });
    };
    sock.once('error', (e: NodeJS.ErrnoException) => done({ ok: false, error: e.code ?? e.message }));
    let fd: number | undefined;
    try {
      fd = netns ? createSocketIn(netns, 'udp') : undefined;
    } catch (e) {
      return done({ ok: false, error: (e as Error).message });
    }
    sock.bind(fd === undefined ? {} : { fd }, () => {
      timer = setTimeout(() => done({ ok: false, error: 'TIMEOUT' }), timeoutMs);
      sock.once('message', (msg, rinfo) => done({ ok: true, answer: msg.toString('utf8').trim(), peer: `${rinfo.address}:${rinfo.port}` }));
      sock.send(`${text}\n`, port, host, (e) => e && done({ ok: false, error: (e as NodeJS.ErrnoException).code ?? e.message }));
    });
  });
}

/** Tally of failure modes: "TIMEOUT" → 3; empty when every exchange was answered. */
export function failureTally(answers: ServiceAnswer[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of answers) if (!a.ok) out[a.failure ?? 'OTHER'] = (out[a.failure ?? 'OTHER'] ?? 0) + 1;
  return out;
}

/** Tally of answers: "web-node1" → 12. */
export function tally(answers: ServiceAnswer[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of answers) {
    const k = a.ok ? (a.answer ?? '') : `error:${a.error}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}
