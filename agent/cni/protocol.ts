// What the CNI plugin and the agent say to each other over the agent's socket, and the CNI spec's
// error codes. Deliberately free of imports: the plugin loads this on every pod start.

/** CNI spec 1.x well-known error codes. */
export const CNI_ERR = {
  INCOMPATIBLE_VERSION: 1,
  UNSUPPORTED_FIELD: 2,
  UNKNOWN_CONTAINER: 3,
  INVALID_ENV: 4,
  IO_FAILURE: 5,
  DECODE_FAILURE: 6,
  INVALID_NETCONF: 7,
  TRY_AGAIN_LATER: 11,
  /** STATUS only: the plugin cannot serve ADDs right now. */
  PLUGIN_NOT_AVAILABLE: 50,
  /** STATUS only: not available, and existing containers' networking may be limited too. */
  PLUGIN_NOT_AVAILABLE_LIMITED: 51,
  OTHER: 999,
} as const;

export const CNI_VERSION = '1.1.0';
export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;

/** Whether a config version has the 1.1 verbs (STATUS, GC): runtimes send them only from 1.1.0 on. */
export function hasV11Verbs(version: string): boolean {
  const [maj, min] = version.split('.').map(Number);
  return maj! > 1 || (maj === 1 && min! >= 1);
}

/** One attachment of a container to this network: CNI keys attachments by (container ID, ifname). */
export interface CniAttachment {
  containerID: string;
  ifname: string;
}

/** Body of POST /v1/cni/gc: the runtime's `cni.dev/valid-attachments`; everything else goes. */
export interface CniGcRequest {
  validAttachments: CniAttachment[];
}

/** What GC removed. */
export interface CniGcResult {
  removed: Array<CniAttachment & { ip?: string; hostIfname?: string }>;
  releasedIps: string[];
}

/**
 * The parts of an earlier plugin's result (prevResult) the agent needs: for ADD, whether someone else
 * already routes the pod's default route (then cnilab routes only the cluster's subnets and leaves the
 * default alone); for CHECK, the whole result to compare the real state with.
 */
export interface CniPrevResult {
  cniVersion?: string;
  interfaces?: Array<{ name: string; mac?: string; mtu?: number; sandbox?: string }>;
  ips?: Array<{ address: string; gateway?: string; interface?: number }>;
  routes?: Array<{ dst: string; gw?: string; mtu?: number }>;
}

/** Body of POST /v1/cni/{add,del,check}. */
export interface CniRequest {
  containerId: string;
  /** Path of the pod's network namespace (CNI_NETNS); may be empty for DEL. */
  netns: string;
  ifname: string;
  podNamespace?: string;
  podName?: string;
  /** MTU from the network config; the agent's podMtu when absent. */
  mtu?: number;
  /** ADD chained after another plugin, or CHECK: the previous result (see CniPrevResult). */
  prevResult?: CniPrevResult;
}

/** A CNI 1.0.0 result (the ADD output). */
export interface CniAddResult {
  cniVersion: string;
  interfaces: Array<{ name: string; mac: string; mtu?: number; sandbox?: string }>;
  ips: Array<{ address: string; gateway: string; interface: number }>;
  routes: Array<{ dst: string; gw?: string }>;
  dns: Record<string, never>;
}

/** Error body the agent returns with a non-2xx status; the plugin prints it as the CNI error. */
export interface CniErrorBody {
  cniCode: number;
  msg: string;
  details?: string;
}

/** An error carrying a CNI error code, thrown by the agent's endpoint code and the plugin. */
export class CniError extends Error {
  constructor(
    readonly cniCode: number,
    msg: string,
    readonly details?: string,
  ) {
    super(msg);
    this.name = 'CniError';
  }
}
