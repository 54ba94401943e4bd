// A pod's links, addresses and routes made over rtnetlink inside the agent's process (the C library
// agent/datapath/native/rtnl_pod.c, called through koffi on a worker thread), instead of forking `ip`
// twice per pod: see the C file for why. Both calls run off the event loop, so a CNI ADD waiting on the
// kernel's rtnl lock does not hold up the agent's other work.
import { constants as osConstants } from 'node:os';
import { isIPv4 } from 'node:net';
import koffi from 'koffi';
import { CnilabError, InvalidInputError } from '../../lib/errors.js';
import { nativeLibraryPath } from '../datapath/native-lib.js';

/** An rtnetlink request the kernel refused (or that could not be sent): the errno and the C side's words. */
export class NetlinkError extends CnilabError {
  readonly errno: number;
  constructor(errno: number, message: string) {
    super('COMMAND_FAILED', `rtnetlink: ${message || `errno ${errno}`}`);
    this.errno = errno;
  }
  /** The errno's name (EEXIST, ENODEV, …). */
  get errnoName(): string {
    return Object.entries(osConstants.errno).find(([, n]) => n === this.errno)?.[0] ?? `errno ${this.errno}`;
  }
}

export interface PodLinkSpec {
  /** The host side's name (lxc…), made in the caller's (the node's) netns. */
  hostIfname: string;
  /** The peer's name inside the pod (eth0). */
  podIfname: string;
  /** A network namespace file: /run/netns/NAME or /proc/PID/ns/net. */
  netns: string;
  hostMac: string;
  podMac: string;
  mtu: number;
  podIp: string;
  /** The pod's router: an on-link /32, and the next hop of every route. */
  gateway: string;
  /** Destinations routed via the gateway with the MTU (`0.0.0.0/0` is the default route). */
  routes: string[];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Fn = any;
let lib: { add: Fn; del: Fn } | undefined;
function bindings() {
  if (lib) return lib;
  const l = koffi.load(nativeLibraryPath('libcnilab_rtnl.so', "the agent's rtnetlink library"));
  lib = {
    add: l.func(
      'int cnilab_pod_link_add(const char *host_ifname, const char *pod_ifname, const char *netns_path, const uint8_t *host_mac, const uint8_t *pod_mac, uint32_t mtu, const uint8_t *pod_ip, const uint8_t *gateway, const uint8_t *routes, uint32_t nroutes, char *err, uint32_t errlen)',
    ),
    del: l.func('int cnilab_link_del(const char *ifname, char *err, uint32_t errlen)'),
  };
  return lib;
}

const ERR_BYTES = 512;

function ipv4Bytes(field: string, ip: string): Buffer {
  if (!isIPv4(ip)) throw new InvalidInputError(field, `${JSON.stringify(ip)} is not an IPv4 address`);
  return Buffer.from(ip.split('.').map(Number));
}

function macBytes(field: string, mac: string): Buffer {
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac)) throw new InvalidInputError(field, `${JSON.stringify(mac)} is not a MAC address`);
  return Buffer.from(mac.split(':').map((h) => parseInt(h, 16)));
}

/** nroutes × (4 address bytes, prefix length); the address is masked to its prefix, as ip does. */
function routeBytes(routes: string[]): Buffer {
  const out = Buffer.alloc(5 * routes.length);
  routes.forEach((cidr, i) => {
    const [addr, lenText] = cidr.split('/');
    const len = Number(lenText);
    if (lenText === undefined || !/^\d+$/.test(lenText) || len > 32) throw new InvalidInputError('routes', `${JSON.stringify(cidr)} is not an IPv4 CIDR`);
    const n = ipv4Bytes('routes', addr!).readUInt32BE(0);
    const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
    out.writeUInt32BE((n & mask) >>> 0, 5 * i);
    out[5 * i + 4] = len;
  });
  return out;
}

function call(fn: Fn, args: unknown[]): Promise<number> {
  return new Promise((resolve, reject) => {
    fn.async(...args, (err: unknown, res: number) => (err ? reject(err) : resolve(res)));
  });
}

const errText = (buf: Buffer) => buf.subarray(0, Math.max(0, buf.indexOf(0))).toString('utf8');

/**
 * The pod's veth pair, its host route and the pod side's address, links and routes (what
 * rtnl_pod.c's header lists). Resolves to the host side's ifindex. Throws NetlinkError at the first
 * refused step and undoes nothing: deleting the host side (deleteLink) removes the pair.
 */
export async function addPodLink(spec: PodLinkSpec): Promise<number> {
  const err = Buffer.alloc(ERR_BYTES);
  const ret = await call(bindings().add, [
    spec.hostIfname,
    spec.podIfname,
    spec.netns,
    macBytes('hostMac', spec.hostMac),
    macBytes('podMac', spec.podMac),
    spec.mtu,
    ipv4Bytes('podIp', spec.podIp),
    ipv4Bytes('gateway', spec.gateway),
    routeBytes(spec.routes),
    spec.routes.length,
    err,
    ERR_BYTES,
  ]);
  if (ret <= 0) throw new NetlinkError(-ret, errText(err));
  return ret;
}

/** `ip link del IFNAME` in the node's netns. False when there was no such link; other refusals throw. */
export async function deleteLink(ifname: string): Promise<boolean> {
  const err = Buffer.alloc(ERR_BYTES);
  const ret = await call(bindings().del, [ifname, err, ERR_BYTES]);
  if (ret === 0) return true;
  if (-ret === osConstants.errno.ENODEV) return false;
  throw new NetlinkError(-ret, errText(err));
}
