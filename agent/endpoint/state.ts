// Endpoint state files (<nodeDir>/endpoints/<containerId>@<ifname>.json): what the agent needs to
// restore an endpoint after a restart that the datapath's maps do not hold (container ID, pod name,
// netns, labels). CNI keys an attachment by (container ID, ifname): one container may have several.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { CorruptStateError, parseStateJson } from '../state-files.js';

export interface EndpointState {
  containerId: string;
  endpointId: number;
  /** Host-side veth in the node netns (lxc + 12 hex). */
  hostIfname: string;
  ifindex: number;
  hostMac: string;
  /** Pod-side interface name (CNI_IFNAME) and its MAC. */
  podIfname: string;
  podMac: string;
  netns: string;
  ip: string;
  mtu: number;
  identity: number;
  labels: string[];
  podNamespace: string;
  podName: string;
  /** Destinations routed through the gateway in the pod; absent (older files) means the default route.
   *  Chained after a plugin that routes the default, cnilab routes only the cluster's subnets. */
  routes?: string[];
  /** Chained onto a veth pair an earlier plugin made (see adopt.ts): cnilab owns neither the devices
   *  nor the address, and removes only what it added. */
  adopted?: boolean;
  createdAt: string;
}

/** CNI container IDs: alphanumerics plus '_', '.', '-', starting alphanumeric (spec 1.0). Checked
 *  before the ID becomes a file name. */
export const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,255}$/;

/** Interface names (CNI_IFNAME): at most 15 characters (IFNAMSIZ), none of "/", ":", "@" or space. */
export const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

/** The key of an attachment: container IDs and interface names cannot contain "/", so it parses back. */
export function attachmentKey(containerId: string, ifname: string): string {
  return `${containerId}/${ifname}`;
}

/** Cilium-style host interface name: "lxc" + 12 hex of sha256(containerId/ifname), 15 chars (IFNAMSIZ). */
export function hostIfnameFor(containerId: string, ifname: string): string {
  return `lxc${createHash('sha256').update(attachmentKey(containerId, ifname)).digest('hex').slice(0, 12)}`;
}

/** The CiliumEndpoint of an attachment: the pod's name for its first interface (eth0), as Cilium
 *  names it; "<pod>.<ifname>" for any other, so two attachments of one pod never share an object. */
export function ciliumEndpointName(st: Pick<EndpointState, 'podName' | 'podIfname'>): string {
  return st.podIfname === 'eth0' ? st.podName : `${st.podName}.${st.podIfname.toLowerCase().replace(/[^a-z0-9.-]/g, '-')}`;
}

const STRING_FIELDS = ['containerId', 'hostIfname', 'hostMac', 'podIfname', 'podMac', 'netns', 'ip', 'podNamespace', 'podName'] as const;
const INT_FIELDS = ['endpointId', 'ifindex', 'mtu', 'identity'] as const;

/** Parse one state file, checking every field restore relies on (CorruptStateError otherwise). */
export function parseEndpointState(file: string, text: string): EndpointState {
  const v = parseStateJson(file, text) as Record<string, unknown> | null;
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new CorruptStateError(file, 'expected a JSON object');
  for (const f of STRING_FIELDS) if (typeof v[f] !== 'string' || !v[f]) throw new CorruptStateError(file, `${f}: expected a non-empty string`);
  for (const f of INT_FIELDS) if (!Number.isSafeInteger(v[f]) || (v[f] as number) < 0) throw new CorruptStateError(file, `${f}: expected a non-negative integer`);
  if (!Array.isArray(v.labels) || !v.labels.every((l) => typeof l === 'string')) throw new CorruptStateError(file, 'labels: expected an array of strings');
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(v.ip as string)) throw new CorruptStateError(file, `ip: "${v.ip}" is not an IPv4 address`);
  if (!CONTAINER_ID.test(v.containerId as string)) throw new CorruptStateError(file, 'containerId: not a valid container ID');
  return v as unknown as EndpointState;
}

export class EndpointStateStore {
  /** `onCorrupt` is told about every state file that cannot be trusted (the agent quarantines it). */
  constructor(
    readonly dir: string,
    private readonly onCorrupt?: (err: CorruptStateError) => void,
  ) {}

  private parse(file: string): EndpointState | undefined {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return undefined;
    }
    try {
      return parseEndpointState(file, text);
    } catch (e) {
      if (!(e instanceof CorruptStateError)) throw e;
      this.onCorrupt?.(e);
      return undefined;
    }
  }

  private file(containerId: string, ifname: string): string {
    if (!CONTAINER_ID.test(containerId)) throw new Error(`invalid container ID ${JSON.stringify(containerId)}`);
    if (!IFNAME.test(ifname)) throw new Error(`invalid interface name ${JSON.stringify(ifname)}`);
    return join(this.dir, `${containerId}@${ifname}.json`);
  }

  save(st: EndpointState): void {
    mkdirSync(this.dir, { recursive: true });
    const f = this.file(st.containerId, st.podIfname);
    writeFileSync(`${f}.tmp`, JSON.stringify(st, null, 1));
    renameSync(`${f}.tmp`, f);
  }

  load(containerId: string, ifname: string): EndpointState | undefined {
    return this.parse(this.file(containerId, ifname));
  }

  remove(containerId: string, ifname: string): void {
    rmSync(this.file(containerId, ifname), { force: true });
  }

  /** Every valid state file; a crash mid-write leaves only *.tmp (removed), corrupt ones go to onCorrupt. */
  list(): EndpointState[] {
    let names: string[] = [];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    const out: EndpointState[] = [];
    for (const n of names) {
      if (n.endsWith('.tmp')) {
        rmSync(join(this.dir, n), { force: true });
        continue;
      }
      if (!n.endsWith('.json')) continue;
      const st = this.parse(join(this.dir, n));
      if (st) out.push(st);
    }
    return out;
  }
}
