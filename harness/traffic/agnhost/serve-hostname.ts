// `agnhost serve-hostname [--tcp] [--udp] [--http=true|false] [--port 9376] [--close]`:
// answers every TCP connection, UDP datagram or HTTP request with the hostname (the pod name).
// As in the real image, HTTP cannot be combined with raw TCP/UDP on the same port.
import http from 'node:http';
import net from 'node:net';
import type dgram from 'node:dgram';
import { parseFlags, UsageError, type FlagSpec } from './flags.js';
import type { Proto, RunningWorkload, WorkloadContext } from './context.js';
import { guard } from './http-guard.js';

export const SERVE_HOSTNAME_FLAGS: Record<string, FlagSpec> = {
  tcp: { kind: 'bool', default: false },
  udp: { kind: 'bool', default: false },
  http: { kind: 'bool', default: true },
  close: { kind: 'bool', default: false },
  port: { kind: 'int', default: 9376 },
};

export interface ServeHostnameOptions {
  tcp: boolean;
  udp: boolean;
  http: boolean;
  close: boolean;
  port: number;
}

export function parseServeHostnameArgs(args: string[]): ServeHostnameOptions {
  const { flags } = parseFlags(args, SERVE_HOSTNAME_FLAGS);
  const o = flags as unknown as ServeHostnameOptions;
  // The real image log.Fatal()s with this very (misspelt) message; keep it so logs match.
  if (o.http && (o.tcp || o.udp)) throw new UsageError("Can't server TCP/UDP mode and HTTP mode at the same time");
  if (o.port < 0 || o.port > 65535) throw new UsageError(`invalid port ${o.port}`);
  return { tcp: o.tcp, udp: o.udp, http: o.http, close: o.close, port: o.port };
}

export async function startServeHostname(o: ServeHostnameOptions, ctx: WorkloadContext): Promise<RunningWorkload> {
  const closers: Array<() => Promise<void>> = [];
  const ports: Array<{ proto: Proto; port: number }> = [];
  const stop = () => Promise.all(closers.map((c) => c())).then(() => undefined);
  try {
    if (o.tcp) {
      // Go writes the hostname and Close()s: a full close, so a client that never closes its side
      // cannot hold the connection (nor the pod's stop) open.
      const conns = new Set<net.Socket>();
      const server = net.createServer((conn) => {
        ctx.log(`TCP request from ${conn.remoteAddress}:${conn.remotePort}`);
        conns.add(conn);
        conn.on('close', () => conns.delete(conn));
        conn.on('error', () => undefined);
        conn.resume();
        conn.end(ctx.hostname, () => conn.destroy());
      });
      await ctx.binder.listenTcp(server, o.port);
      closers.push(() => {
        for (const c of conns) c.destroy();
        return closeServer(server);
      });
      ports.push({ proto: 'tcp', port: o.port });
    }
    if (o.udp) {
      const sock = await ctx.binder.bindUdp(o.port);
      sock.on('message', (_msg, rinfo) => {
        ctx.log(`UDP request from ${rinfo.address}:${rinfo.port}`);
        sendUdp(sock, ctx.hostname, rinfo, ctx.log);
      });
      sock.on('error', (e) => ctx.log(`UDP error: ${e.message}`));
      closers.push(() => closeUdp(sock));
      ports.push({ proto: 'udp', port: o.port });
    }
    if (o.http) {
      // The real server answers every path with the hostname (its handler is the mux's "/").
      const server = http.createServer(
        guard(ctx.log, (req, res) => {
          ctx.log(`HTTP request from ${req.socket.remoteAddress}:${req.socket.remotePort}`);
          if (o.close) res.setHeader('Connection', 'close');
          res.setHeader('Content-Type', 'text/plain; charset=utf-8');
          res.setHeader('Content-Length', Buffer.byteLength(ctx.hostname));
          res.end(ctx.hostname);
        }),
      );
      await ctx.binder.listenTcp(server, o.port);
      closers.push(() => closeServer(server));
      ports.push({ proto: 'tcp', port: o.port });
    }
  } catch (e) {
    await stop();
    throw e;
  }
  ctx.log(`Serving on port ${o.port}.`);
  return { ports, stop, exited: new Promise<number>(() => undefined) };
}

export function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    // Keep-alive HTTP clients would hold close() open; a stopping pod drops them.
    (server as http.Server).closeAllConnections?.();
  });
}

export function closeUdp(sock: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      sock.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

/**
 * Answer a datagram without ever throwing: a sender can forge what send() would reject (source port
 * 0 from a raw socket), and Go's WriteToUDP returns an error for it, which agnhost logs.
 */
export function sendUdp(sock: dgram.Socket, text: string, to: { address: string; port: number }, log: (line: string) => void): void {
  if (!(to.port > 0 && to.port <= 65535)) {
    log(`UDP reply to ${to.address}:${to.port} not sent: invalid port`);
    return;
  }
  try {
    sock.send(text, to.port, to.address, (err) => {
      if (err) log(`UDP reply to ${to.address}:${to.port} failed: ${err.message}`);
    });
  } catch (e) {
    log(`UDP reply to ${to.address}:${to.port} failed: ${(e as Error).message}`);
  }
}
