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
