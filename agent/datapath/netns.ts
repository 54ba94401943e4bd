// Run synchronous code with the calling (main) thread inside another network namespace, then switch
// back. For tests and tools that attach tc programs to devices of a namespace from a process that lives
// outside it (the agent itself is started inside its node's netns and never needs this). setns affects
// only the calling thread; fn must be synchronous so nothing else runs on this thread meanwhile (a
// child process spawned from here would inherit the namespace).
import { closeSync, openSync } from 'node:fs';
import koffi from 'koffi';
import { CnilabError } from '../../lib/errors.js';
import { strerror } from './libbpf.js';

const CLONE_NEWNET = 0x40000000;
let setnsFn: ((fd: number, nstype: number) => number) | undefined;
interface SockLibc {
  socket(domain: number, type: number, protocol: number): number;
  getsockopt(fd: number, level: number, name: number, value: Buffer, len: number[]): number;
  close(fd: number): number;
}
let sockLibc: SockLibc | undefined;
const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_NETNS_COOKIE = 71;

function setns(fd: number, what: string): void {
  setnsFn ??= koffi.load('libc.so.6').func('int setns(int fd, int nstype)') as (fd: number, nstype: number) => number;
  if (setnsFn(fd, CLONE_NEWNET) !== 0) {
    const errno = koffi.errno();
    throw new CnilabError('INTERNAL', `setns(${what}, CLONE_NEWNET): ${strerror(errno)} (errno ${errno})`);
  }
}

/** `netns` is a name under /run/netns or an absolute path to a netns file. */
export function withNetns<T>(netns: string, fn: () => T): T {
  const path = netns.startsWith('/') ? netns : `/run/netns/${netns}`;
  const home = openSync('/proc/thread-self/ns/net', 'r');
  try {
    const target = openSync(path, 'r');
    try {
      setns(target, path);
    } finally {
      closeSync(target);
    }
    try {
      const out = fn();
      if (out instanceof Promise) throw new CnilabError('INTERNAL', 'withNetns: fn must be synchronous');
      return out;
    } finally {
      setns(home, 'original netns');
    }
  } finally {
    closeSync(home);
  }
}

/**
 * The kernel's cookie of a network namespace (what bpf_get_netns_cookie returns for its sockets): read
 * with SO_NETNS_COOKIE from a throwaway socket created inside it. `netns` undefined: the calling
 * thread's own namespace.
 */
export function netnsCookie(netns?: string): bigint {
  if (netns !== undefined) return withNetns(netns, () => netnsCookie());
  if (!sockLibc) {
    const l = koffi.load('libc.so.6');
    sockLibc = {
      socket: l.func('int socket(int domain, int type, int protocol)'),
      getsockopt: l.func('int getsockopt(int fd, int level, int optname, _Out_ void *optval, _Inout_ uint32_t *optlen)'),
      close: l.func('int close(int fd)'),
    };
  }
  const c = sockLibc;
  const fd = c.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new CnilabError('INTERNAL', `socket() for the netns cookie: ${strerror(koffi.errno())}`);
  try {
    const buf = Buffer.alloc(8);
    if (c.getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, buf, [8]) !== 0) {
      const errno = koffi.errno();
      throw new CnilabError('INTERNAL', `getsockopt(SO_NETNS_COOKIE): ${strerror(errno)} (errno ${errno}; needs Linux 5.14)`);
    }
    return buf.readBigUInt64LE(0);
  } finally {
    c.close(fd);
  }
}
