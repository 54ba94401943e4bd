// WorkloadHost: ONE long-lived Node process serving the agnhost servers of many pods (in a cluster,
// one per node: host-process.ts, supervised by the daemon, never the daemon itself). Each pod's
// sockets are created by libc inside the pod's netns (netns.ts) and adopted by this process's event
// loop, so 27 pods with servers cost 27 sets of sockets, not 27 Node runtimes. Client sockets that a
// workload opens itself (netexec /dial) are created in the pod's netns the same way.
import net from 'node:net';
import dgram from 'node:dgram';
import { createListeningSocketIn, createSocketIn, netnsPath, closeFd } from '../netns.js';
import type { Proto, SocketBinder, WorkloadContext } from './context.js';
import { goLogLine } from './context.js';
import { SERVER_SUBCOMMANDS } from './servers.js';
import { SUPPORTED_SUBCOMMANDS } from './main.js';

export class UnsupportedSubcommandError extends Error {
  readonly subcommand: string;
  constructor(subcommand: string, supported: readonly string[]) {
    super(`agnhost subcommand "${subcommand}" cannot run in the workload host (supported: ${supported.join(', ')})`);
    this.name = 'UnsupportedSubcommandError';
    this.subcommand = subcommand;
  }
}

export interface StartContainerOptions {
  /** A netns name under /run/netns or an absolute path to the netns file. */
  netnsPath: string;
  /** The pod name: what serve-hostname and netexec /hostname answer. */
  podName: string;
  /** agnhost argv after the image, e.g. ['serve-hostname', '--tcp', '--http=false', '--port', '80']. */
  args: string[];
  /** Called with every log line as it is written (the workload process forwards them). */
  onLog?: (line: string) => void;
}

export interface ContainerHandle {
  readonly podName: string;
  readonly netnsPath: string;
  readonly args: string[];
  readonly ports: Array<{ proto: Proto; port: number }>;
  /** Resolves with the exit code if the workload ends by itself (netexec /exit?code=N). */
  readonly exited: Promise<number>;
  /** Log lines so far (agnhost's stderr), capped at the last 1000. */
  logs(): string[];
  stop(): Promise<void>;
}

const LOG_CAP = 1000;

/** Sockets created in the pod netns and adopted by this process. */
export function netnsBinder(nsPath: string): SocketBinder {
  return {
    listenTcp(server, port) {
      const fd = createListeningSocketIn(nsPath, { proto: 'tcp', port });
      return new Promise((resolve, reject) => {
        server.once('error', (e) => (closeFd(fd), reject(e)));
        server.listen({ fd }, () => resolve());
      });
    },
    bindUdp(port) {
      const fd = createListeningSocketIn(nsPath, { proto: 'udp', port });
      return adoptUdp(fd);
    },
    // net.Socket adopts the unconnected fd; its connect() then uses that fd, so the SYN leaves
    // from the pod's netns.
    tcpClient: () => new net.Socket({ fd: createSocketIn(nsPath, 'tcp'), readable: true, writable: true }),
    udpClient: () => adoptUdp(createSocketIn(nsPath, 'udp')),
  };
}

function adoptUdp(fd: number): Promise<dgram.Socket> {
  const sock = dgram.createSocket('udp4');
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    // Node 20 adopts an existing UDP fd through bind({ fd }) (verified: bound or unbound fds).
    sock.bind({ fd }, () => {
      sock.removeListener('error', reject);
      resolve(sock);
    });
  });
}

export class WorkloadHost {
  /** Subcommands startContainer accepts. `connect` is a client (run it with the CLI in the pod). */
  static readonly supportedSubcommands: readonly string[] = Object.keys(SERVER_SUBCOMMANDS);
  /** Everything the CLI shim (bin/pod/agnhost) accepts. */
  static readonly cliSubcommands: readonly string[] = SUPPORTED_SUBCOMMANDS;

  private readonly containers = new Set<ContainerHandle>();

  static supports(args: string[]): boolean {
    return args[0] !== undefined && Object.hasOwn(SERVER_SUBCOMMANDS, args[0]);
  }

  async startContainer(opts: StartContainerOptions): Promise<ContainerHandle> {
    const [subcommand, ...rest] = opts.args;
    if (subcommand === undefined || !Object.hasOwn(SERVER_SUBCOMMANDS, subcommand)) {
      throw new UnsupportedSubcommandError(subcommand ?? '(none)', WorkloadHost.supportedSubcommands);
    }
    const nsPath = netnsPath(opts.netnsPath);
    const lines: string[] = [];
    const ctx: WorkloadContext = {
      hostname: opts.podName,
      binder: netnsBinder(nsPath),
      log: (line) => {
        const logged = goLogLine(line);
        opts.onLog?.(logged);
        lines.push(logged);
        if (lines.length > LOG_CAP) lines.splice(0, lines.length - LOG_CAP);
      },
    };
    const running = await SERVER_SUBCOMMANDS[subcommand]!(rest, ctx);
    let stopped: Promise<void> | undefined;
    const handle: ContainerHandle = {
      podName: opts.podName,
      netnsPath: nsPath,
      args: [...opts.args],
      ports: running.ports,
      exited: running.exited,
      logs: () => [...lines],
      stop: () => {
        stopped ??= running.stop().finally(() => this.containers.delete(handle));
        return stopped;
      },
    };
    // A workload that exits by itself (netexec /exit) releases its sockets like a dead container.
    void running.exited.then(() => handle.stop());
    this.containers.add(handle);
    return handle;
  }

  /** Containers currently running. */
  list(): ContainerHandle[] {
    return [...this.containers];
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.containers].map((c) => c.stop()));
  }
}
