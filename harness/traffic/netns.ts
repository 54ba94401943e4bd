// Per-thread network namespace switching through libc (koffi FFI), so ONE Node process can own
// sockets in many pod namespaces. A socket belongs to the netns it was created in for its whole
// life, so we switch the main thread into the pod's netns only for the few synchronous libc calls
// that create and bind it, then switch straight back and hand the fd to Node's event loop.
//
// Caveats (why this is safe only in this narrow shape):
// - setns(2) affects the calling thread only. libuv's thread pool (dns.lookup, fs) and worker
//   threads stay in the original netns, so nothing async may run inside `withNetns`; the callback
//   must be synchronous and must not await.
// - Only CLONE_NEWNET is switched; mount namespace (and so /sys, /proc/net) stays the host's.
import { openSync, closeSync, constants as fsConstants } from 'node:fs';
import koffi from 'koffi';

const CLONE_NEWNET = 0x40000000;
const O_CLOEXEC = 0o2000000; // libuv adds it anyway; explicit so no child ever inherits the ns fd
const AF_INET = 2;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const LISTEN_BACKLOG = 511; // Node's default backlog

interface Libc {
  setns(fd: number, nstype: number): number;
  socket(domain: number, type: number, protocol: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer, len: number): number;
  bind(fd: number, addr: Buffer, len: number): number;
  listen(fd: number, backlog: number): number;
  close(fd: number): number;
  strerror(errnum: number): string;
}

let libc: Libc | undefined;
function lib(): Libc {
  if (libc) return libc;
  const l = koffi.load('libc.so.6');
  libc = {
    setns: l.func('int setns(int fd, int nstype)'),
    socket: l.func('int socket(int domain, int type, int protocol)'),
    setsockopt: l.func('int setsockopt(int fd, int level, int optname, const void *optval, uint32_t optlen)'),
    bind: l.func('int bind(int fd, const void *addr, uint32_t addrlen)'),
    listen: l.func('int listen(int fd, int backlog)'),
    close: l.func('int close(int fd)'),
    strerror: l.func('const char *strerror(int errnum)'),
  };
  return libc;
}

export class NetnsError extends Error {
  readonly errno: number;
  constructor(what: string, errno: number) {
    super(`${what}: ${lib().strerror(errno)} (errno ${errno})`);
    this.name = 'NetnsError';
    this.errno = errno;
  }
}

function check(ret: number, what: string): number {
  if (ret < 0) throw new NetnsError(what, koffi.errno());
  return ret;
}

/** A netns name under /run/netns, or an absolute path (/proc/PID/ns/net, /run/netns/X). */
export function netnsPath(nameOrPath: string): string {
  return nameOrPath.startsWith('/') ? nameOrPath : `/run/netns/${nameOrPath}`;
}

/**
 * Run `fn` synchronously with the calling thread inside the network namespace `nsPath`, then
 * switch back to the thread's own original netns (even if `fn` throws). `fn` must not be async.
 */
export function withNetns<T>(nsPath: string, fn: () => T): T {
  const c = lib();
  // The thread's own namespace, not /proc/self (the thread-group leader's), which could differ.
  const original = openSync('/proc/thread-self/ns/net', fsConstants.O_RDONLY | O_CLOEXEC);
  try {
    const target = openSync(netnsPath(nsPath), fsConstants.O_RDONLY | O_CLOEXEC);
    try {
      check(c.setns(target, CLONE_NEWNET), `setns(${nsPath})`);
    } finally {
      closeSync(target);
    }
    try {
      const result = fn();
      if (result instanceof Promise) throw new Error('withNetns: the callback must be synchronous');
      return result;
    } finally {
      // Failing to return would leave the whole main thread in a pod's netns: never continue then.
      if (c.setns(original, CLONE_NEWNET) < 0) {
        const err = new NetnsError('setns(back to original netns)', koffi.errno());
        process.stderr.write(`fatal: ${err.message}\n`);
        process.abort();
      }
    }
  } finally {
    closeSync(original);
  }
}

/** struct sockaddr_in for an IPv4 address and port (network byte order). */
export function sockaddrIn(host: string, port: number): Buffer {
  const parts = host.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new Error(`not an IPv4 address: ${host}`);
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bad port: ${port}`);
  const sa = Buffer.alloc(16);
  sa.writeUInt16LE(AF_INET, 0); // sa_family is host order (x86-64/arm64 little-endian)
  sa.writeUInt16BE(port, 2);
  for (let i = 0; i < 4; i++) sa[4 + i] = parts[i]!;
  return sa;
}

export type SocketProto = 'tcp' | 'udp';

/** An unbound IPv4 socket created inside `nsPath` (for clients that must originate in a pod). */
export function createSocketIn(nsPath: string, proto: SocketProto): number {
  const c = lib();
  const type = (proto === 'tcp' ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC;
  return withNetns(nsPath, () => check(c.socket(AF_INET, type, 0), `socket(${proto}) in ${nsPath}`));
}

/**
 * Create, bind (and for TCP, listen on) an IPv4 socket inside `nsPath`; returns the fd for Node to
 * adopt with `net.createServer().listen({ fd })` or `dgram.createSocket('udp4').bind({ fd })`.
 */
export function createListeningSocketIn(
  nsPath: string,
  opts: { proto: SocketProto; port: number; host?: string; backlog?: number },
): number {
  const c = lib();
  const addr = sockaddrIn(opts.host ?? '0.0.0.0', opts.port);
  return withNetns(nsPath, () => {
    const type = (opts.proto === 'tcp' ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC;
    const fd = check(c.socket(AF_INET, type, 0), `socket(${opts.proto})`);
    try {
      const one = Buffer.alloc(4);
      one.writeInt32LE(1);
      check(c.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, one, 4), 'setsockopt(SO_REUSEADDR)');
      const where = `${opts.proto} ${opts.host ?? '0.0.0.0'}:${opts.port} in ${nsPath}`;
      check(c.bind(fd, addr, addr.length), `bind(${where})`);
      if (opts.proto === 'tcp') check(c.listen(fd, opts.backlog ?? LISTEN_BACKLOG), `listen(${where})`);
      return fd;
    } catch (e) {
      c.close(fd);
      throw e;
    }
  });
}

/** Close an fd that was never handed to Node (Node closes adopted ones itself). */
export function closeFd(fd: number): void {
  lib().close(fd);
}
