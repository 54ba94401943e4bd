// Test helpers that speak to a server byte by byte, the way a hostile or broken client would: raw
// (possibly malformed) HTTP over TCP, and arbitrary UDP datagrams. With `netns`, the client socket is
// created inside that network namespace (a pod), so the traffic really comes from the pod.
import net from 'node:net';
import dgram from 'node:dgram';
import { createSocketIn, netnsPath } from '../traffic/netns.js';

export interface RawExchange {
  /** Everything the server sent before closing (or before the timeout). */
  data: string;
  /** The server closed the connection (rather than us giving up at the timeout). */
  closed: boolean;
  /** A socket error (ECONNRESET, ECONNREFUSED, ...), if any. */
  error?: string;
}

/** Send `payload` on a fresh TCP connection, half-close, and collect the reply. */
export function rawTcp(host: string, port: number, payload: string | Buffer, opts: { netns?: string; timeoutMs?: number } = {}): Promise<RawExchange> {
  const timeoutMs = opts.timeoutMs ?? 2000;
  return new Promise((resolve) => {
    const sock = opts.netns ? new net.Socket({ fd: createSocketIn(netnsPath(opts.netns), 'tcp'), readable: true, writable: true }) : new net.Socket();
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (closed: boolean, error?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ data: Buffer.concat(chunks).toString('latin1'), closed, ...(error ? { error } : {}) });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.on('data', (b: Buffer) => chunks.push(b));
    sock.on('end', () => finish(true));
    sock.on('close', () => finish(true));
    sock.on('error', (e: NodeJS.ErrnoException) => finish(true, e.code ?? e.message));
    sock.connect(port, host, () => {
      sock.end(payload);
    });
  });
}

/** One HTTP/1.1 GET with Connection: close, as raw bytes (the target is sent as given, unescaped). */
export function rawGet(target: string, headers: Record<string, string> = {}): string {
  const lines = [`GET ${target} HTTP/1.1`, 'Host: pod', 'Connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** The status code of a raw HTTP reply, or undefined when there is none (an empty reply). */
export function statusOf(reply: string): number | undefined {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(reply);
  return m ? Number(m[1]) : undefined;
}

/** The body of a raw HTTP reply (after the blank line; a chunked body is reassembled). */
export function bodyOf(reply: string): string {
  const i = reply.indexOf('\r\n\r\n');
  if (i < 0) return '';
  let body = reply.slice(i + 4);
  if (!/\r\ntransfer-encoding:\s*chunked\r\n/i.test(reply.slice(0, i + 2))) return body;
  let out = '';
  for (;;) {
    const nl = body.indexOf('\r\n');
    const size = parseInt(body.slice(0, nl), 16);
    if (nl < 0 || !(size > 0)) return out;
    out += body.slice(nl + 2, nl + 2 + size);
    body = body.slice(nl + 2 + size + 2);
  }
}

/** Send one UDP datagram and wait briefly for an answer (undefined when none comes). */
export function rawUdp(host: string, port: number, payload: Buffer, opts: { timeoutMs?: number } = {}): Promise<string | undefined> {
  const sock = dgram.createSocket('udp4');
  return new Promise((resolve) => {
    const timer = setTimeout(() => (sock.close(), resolve(undefined)), opts.timeoutMs ?? 300);
    sock.on('message', (m) => (clearTimeout(timer), sock.close(), resolve(m.toString('utf8'))));
    sock.on('error', () => (clearTimeout(timer), sock.close(), resolve(undefined)));
    sock.send(payload, port, host);
  });
}
