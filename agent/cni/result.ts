// CNI results and the CNI 1.1 fields of a network configuration, as pure functions: the version a
// result is printed in, chaining (a prevResult cnilab must pass on with its own attachment added),
// and `cni.dev/valid-attachments` of GC. Imports only the dependency-free protocol module: the plugin
// process loads this on every pod start.
import { CNI_ERR, CniError, type CniAddResult, type CniAttachment, type CniPrevResult } from './protocol.js';

/** Older result formats (0.3.x/0.4.0) mark each IP with its version. */
export function forVersion(result: CniAddResult | ChainedResult, version: string): unknown {
  if (version.startsWith('0.')) return { ...result, cniVersion: version, ips: result.ips.map((ip) => ({ version: '4', ...ip })) };
  return { ...result, cniVersion: version };
}

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';

/**
 * A prevResult from the runtime, checked field by field: it reaches the agent, whose CHECK compares
 * it with the kernel, so a malformed one must be a clear CNI error, not an exception deep inside.
 */
export function parsePrevResult(raw: unknown): CniPrevResult {
  const bad = (what: string) => new CniError(CNI_ERR.INVALID_NETCONF, `invalid prevResult: ${what}`);
  if (!isObj(raw)) throw bad('expected an object');
  const out: CniPrevResult = {};
  if (raw.cniVersion !== undefined) {
    if (!isStr(raw.cniVersion)) throw bad('cniVersion: expected a string');
    out.cniVersion = raw.cniVersion;
  }
  const list = (key: string): Array<Record<string, unknown>> => {
    const v = raw[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || !v.every(isObj)) throw bad(`${key}: expected a list of objects`);
    return v;
  };
  out.interfaces = list('interfaces').map((i, n) => {
    if (!isStr(i.name) || !i.name) throw bad(`interfaces[${n}].name: expected a non-empty string`);
    for (const k of ['mac', 'sandbox'] as const) if (i[k] !== undefined && !isStr(i[k])) throw bad(`interfaces[${n}].${k}: expected a string`);
    if (i.mtu !== undefined && !Number.isInteger(i.mtu)) throw bad(`interfaces[${n}].mtu: expected a whole number`);
    return { name: i.name, mac: i.mac as string | undefined, mtu: i.mtu as number | undefined, sandbox: i.sandbox as string | undefined };
  });
  out.ips = list('ips').map((i, n) => {
    if (!isStr(i.address) || !/^[0-9a-fA-F:.]+\/\d+$/.test(i.address)) throw bad(`ips[${n}].address: expected an address with a prefix length`);
    if (i.gateway !== undefined && !isStr(i.gateway)) throw bad(`ips[${n}].gateway: expected a string`);
    if (i.interface !== undefined && (!Number.isInteger(i.interface) || (i.interface as number) < 0)) throw bad(`ips[${n}].interface: expected an index`);
    return { address: i.address, gateway: i.gateway as string | undefined, interface: i.interface as number | undefined };
  });
  out.routes = list('routes').map((r, n) => {
    if (!isStr(r.dst) || !/^[0-9a-fA-F:.]+\/\d+$/.test(r.dst)) throw bad(`routes[${n}].dst: expected a prefix`);
    if (r.gw !== undefined && !isStr(r.gw)) throw bad(`routes[${n}].gw: expected a string`);
    return { dst: r.dst, gw: r.gw as string | undefined };
  });
  return out;
}

export interface ChainedResult {
  cniVersion: string;
  interfaces: Array<{ name: string; mac?: string; mtu?: number; sandbox?: string }>;
  ips: Array<{ address: string; gateway?: string; interface?: number }>;
  routes: Array<{ dst: string; gw?: string }>;
  dns: unknown;
}

/**
 * cnilab chained after another plugin. When the earlier plugin made the pod's interface itself
 * (CNI_IFNAME in the sandbox), cnilab adopted it (agent/endpoint/adopt.ts) and the earlier result is
 * passed on unchanged. Otherwise cnilab's own attachment is appended: the earlier interfaces, IPs,
 * routes and DNS pass through, ours follow with our IPs' interface indexes shifted past them.
 */
export function mergeChained(prev: CniPrevResult & { dns?: unknown }, ours: CniAddResult, ifname: string, netns: string): ChainedResult {
  const prevIfs = prev.interfaces ?? [];
  if (prevIfs.some((i) => i.name === ifname && (i.sandbox ?? '') === netns)) {
    return { cniVersion: ours.cniVersion, interfaces: prevIfs, ips: prev.ips ?? [], routes: prev.routes ?? [], dns: prev.dns ?? {} };
  }
  const shift = prevIfs.length;
  return {
    cniVersion: ours.cniVersion,
    interfaces: [...prevIfs, ...ours.interfaces],
    ips: [...(prev.ips ?? []), ...ours.ips.map((ip) => ({ ...ip, interface: ip.interface + shift }))],
    routes: [...(prev.routes ?? []), ...ours.routes],
    dns: prev.dns ?? ours.dns,
  };
}

/** Whether an earlier plugin already gave the pod a default route (IPv4). */
export function hasDefaultRoute(prev: CniPrevResult | undefined): boolean {
  return !!prev?.routes?.some((r) => r.dst === '0.0.0.0/0');
}

/** `cni.dev/valid-attachments` of a GC config: the attachments the runtime still knows. */
export function parseValidAttachments(conf: Record<string, unknown>): CniAttachment[] {
  const raw = conf['cni.dev/valid-attachments'];
  // Required by the spec; absent is refused rather than read as "none is valid" (which would remove
  // every pod of the node).
  if (raw === undefined) throw new CniError(CNI_ERR.INVALID_NETCONF, 'GC needs cni.dev/valid-attachments in the network configuration');
  if (!Array.isArray(raw)) throw new CniError(CNI_ERR.INVALID_NETCONF, 'cni.dev/valid-attachments: expected a list');
  return raw.map((a, n) => {
    if (!isObj(a) || !isStr(a.containerID) || !a.containerID || !isStr(a.ifname) || !a.ifname) {
      throw new CniError(CNI_ERR.INVALID_NETCONF, `cni.dev/valid-attachments[${n}]: expected {containerID, ifname} strings`);
    }
    return { containerID: a.containerID, ifname: a.ifname };
  });
}
