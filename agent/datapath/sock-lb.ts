// Loads bpf_sock.o (socket-level load balancing) into a node's pin dir and attaches its cgroup hooks to
// the root of the cgroup v2 hierarchy with BPF links pinned under <pinDir>/links/. Why the root: a
// socket belongs to its creator's cgroup whatever network namespace it lives in, and the processes that
// open sockets in a cluster's namespaces (pod commands, `cnilab exec`, probes run in a node, the agnhost
// workload host that setns()es into pods) belong to no cgroup of cnilab's; the root holds them all. The
// programs themselves only touch sockets of the network namespaces registered in cnilab_lb_ns.
// A restarted agent swaps the program inside the existing links (bpf_link_update), so the hooks never
// go missing; switching the hooks off detaches the links at once (BPF_LINK_DETACH) and removes their
// pins; removing the pin dir (cnilab down) detaches them too, a moment later.
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CnilabError, UnsupportedError } from '../../lib/errors.js';
import { BpfObject, closeFd, linkCreate, linkDetach, linkUpdate, objGet, objPin } from './libbpf.js';
import { SOCK_PROG } from './constants.js';
import { dropIncompatiblePins } from './datapath.js';

const here = resolve(fileURLToPath(import.meta.url), '..');
export const SOCK_OBJECT = resolve(here, '../../bpf/build/bpf_sock.o');
export const SOCK_OBJECT_BROKEN_REVNAT = resolve(here, '../../bpf/build/bpf_sock-broken-revnat.o');
export const SOCK_OBJECT_BROKEN_PORT = resolve(here, '../../bpf/build/bpf_sock-broken-port.o');
export const LINKS_DIR = 'links';

/** The mount point of the cgroup v2 hierarchy (pure v2 at /sys/fs/cgroup, or hybrid's /sys/fs/cgroup/unified). */
export function cgroup2Root(mounts = readFileSync('/proc/self/mounts', 'utf8')): string | undefined {
  for (const line of mounts.split('\n')) {
    const f = line.split(' ');
    if (f[2] === 'cgroup2') return f[1]!.replace(/\\040/g, ' ');
  }
  return undefined;
}

/** Detach a pinned link synchronously, then remove its pin (a bare unlink detaches only later). */
function detachPinnedLink(pin: string): void {
  if (!existsSync(pin)) return;
  const linkFd = objGet(pin);
  try {
    linkDetach(linkFd);
  } finally {
    closeFd(linkFd);
  }
  rmSync(pin, { force: true });
}

export interface SocketLbOptions {
  pinDir: string;
  objectPath?: string;
  /** false: load the object (its maps) but keep the hooks detached (per-packet LB only). */
  attach: boolean;
  cgroupPath?: string;
}

/** Load the object (creating or reusing the LB maps' pins) and attach or detach the hooks. Returns the
 *  hooks now attached. */
export function setupSocketLb(opts: SocketLbOptions): string[] {
  const objectPath = opts.objectPath ?? SOCK_OBJECT;
  if (!existsSync(objectPath)) throw new CnilabError('NOT_FOUND', `BPF object ${objectPath} not found: build it with \`make -C bpf\``);
  const links = join(opts.pinDir, LINKS_DIR);
  const obj = BpfObject.open(objectPath, { pinRootPath: opts.pinDir });
  try {
    dropIncompatiblePins(obj, opts.pinDir);
    obj.load();
    if (!opts.attach) {
      for (const p of Object.values(SOCK_PROG)) detachPinnedLink(join(links, p.name));
      return [];
    }
    const root = opts.cgroupPath ?? cgroup2Root();
    if (!root) throw new UnsupportedError('socket-level load balancing', 'a cgroup v2 hierarchy (mount -t cgroup2 none /sys/fs/cgroup/unified)');
    mkdirSync(links, { recursive: true });
    const cgroupFd = openSync(root, 'r');
    try {
      const attached: string[] = [];
      for (const p of Object.values(SOCK_PROG)) {
        const progFd = obj.programFd(p.name);
        const pin = join(links, p.name);
        if (existsSync(pin)) {
          const linkFd = objGet(pin);
          try {
            linkUpdate(linkFd, progFd);
          } finally {
            closeFd(linkFd);
          }
        } else {
          const linkFd = linkCreate(progFd, cgroupFd, p.attachType);
          try {
            objPin(linkFd, pin);
          } finally {
            closeFd(linkFd);
          }
        }
        attached.push(p.name);
      }
      return attached;
    } finally {
      closeSync(cgroupFd);
    }
  } finally {
    obj.close();
  }
}
