// What a subcommand needs from where it runs. A subcommand never calls listen()/bind() itself:
// it asks the SocketBinder, so the same code serves a standalone process (plain sockets in the
// process's own netns) and the WorkloadHost (sockets created inside a pod's netns, see host.ts).
import net from 'node:net';
import dgram from 'node:dgram';

export type Proto = 'tcp' | 'udp';

export interface SocketBinder {
  /** Make `server` listen on 0.0.0.0:port; resolves once listening. */
  listenTcp(server: net.Server, port: number): Promise<void>;
  /** Bind a new UDP socket on 0.0.0.0:port. */
  bindUdp(port: number): Promise<dgram.Socket>;
  /** An unconnected TCP socket whose traffic originates where the workload runs. */
  tcpClient(): net.Socket;
  /** A UDP socket whose traffic originates where the workload runs (bound to an ephemeral port). */
  udpClient(): Promise<dgram.Socket>;
}

export interface WorkloadContext {
  /** What agnhost reports as its hostname: the pod name. */
  hostname: string;
  binder: SocketBinder;
  /** One log line (agnhost logs with Go's log package to stderr). */
  log(line: string): void;
}

/** A server subcommand once started. */
export interface RunningWorkload {
  ports: Array<{ proto: Proto; port: number }>;
  /** Close every socket; resolves when they are closed. */
  stop(): Promise<void>;
  /** Resolves with an exit code if the workload ends by itself (netexec /exit). */
  exited: Promise<number>;
}

function once<T>(emitter: { once(ev: string, fn: (...a: any[]) => void): unknown }, ok: string, arm: () => void, value: () => T): Promise<T> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    emitter.once('error', onError);
    emitter.once(ok, () => {
      (emitter as unknown as net.Server).removeListener('error', onError);
      resolve(value());
    });
    arm();
  });
}

/** Plain sockets in the current process's netns (the CLI form, and the pod-process form). */
export const plainBinder: SocketBinder = {
  listenTcp: (server, port) => once(server, 'listening', () => server.listen({ port, host: '0.0.0.0' }), () => undefined),
  bindUdp: (port) => {
    const sock = dgram.createSocket('udp4');
    return once(sock, 'listening', () => sock.bind({ port, address: '0.0.0.0' }), () => sock);
  },
  tcpClient: () => new net.Socket(),
  udpClient: () => {
    const sock = dgram.createSocket('udp4');
    return once(sock, 'listening', () => sock.bind(0), () => sock);
  },
};

/** Go's log package prefix: "2006/01/02 15:04:05 ". */
export function goLogLine(message: string, now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const d = `${now.getFullYear()}/${p(now.getMonth() + 1)}/${p(now.getDate())}`;
  return `${d} ${p(now.getHours())}:${p(now.getMinutes())}:${p(now.getSeconds())} ${message}`;
}
