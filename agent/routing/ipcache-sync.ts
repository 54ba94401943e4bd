// Keeps the datapath's ipcache equal to what the cluster says: local endpoints (identity only), remote
// endpoints learnt from CiliumEndpoint objects (identity + the underlay IP of their node, the tunnel
// endpoint), and for every remote node its pod CIDR as a fallback (reserved:remote-node, tunnelled)
// plus its underlay IP, and the node-local CIDR identities the policies need (lowest precedence: a
// prefix that is also a pod, node or pod CIDR keeps the cluster's entry; one inside a remote node's
// pod CIDR keeps that node as its tunnel endpoint). An endpoint or CIDR change touches only its own
// keys (O(1) per event, so thousands of endpoints cost no more per event than ten); a node change,
// rare, recomputes everything. The desired set is recomputed from the watched objects and diffed against
// what was last written; after a (re)sync the diff is taken against the pinned map itself, so entries
// a previous agent left behind are removed.
import type { KubeObject } from '../../harness/cluster/objects.js';
import type { Datapath, IpcacheEntry } from '../datapath/types.js';
import { cidrContains, parseCidr } from '../../lib/net/cidr.js';
import { RESERVED_IDENTITY, type IdentityCache } from '../identity/labels.js';
import type { CiliumEndpointStatus } from '../endpoint/cilium-endpoint.js';
import { agentFault } from '../faults.js';

export interface RemoteNode {
  name: string;
  underlayIp: string;
  podCidr: string;
}

export interface RemoteEndpoint {
  namespace: string;
  name: string;
  ip: string;
  identity: number;
  labels: string[];
  nodeName: string;
  nodeIp: string;
}

const norm = (key: string) => (key.endsWith('/32') ? key.slice(0, -3) : key);
const same = (a: IpcacheEntry | undefined, b: IpcacheEntry) => !!a && a.identity === b.identity && (a.tunnelEndpoint ?? '') === (b.tunnelEndpoint ?? '');

export class IpcacheSync {
  private nodes = new Map<string, RemoteNode>();
  private remote = new Map<string, RemoteEndpoint>();
  /** IP → keys of the remote endpoints naming it (normally one; two while a stale object lingers). */
  private remoteIps = new Map<string, Set<string>>();
  private local = new Map<string, number>();
  private cidrs = new Map<string, number>();
  private applied = new Map<string, IpcacheEntry>();
  private synced = false;

  constructor(
    private datapath: Datapath,
    private selfName: string,
    private identities: IdentityCache,
    /** Called when the set of remote nodes changes (routes follow it). */
    private onNodes: (nodes: RemoteNode[]) => void,
    private log: (m: string) => void = () => {},
  ) {}

  get isSynced(): boolean {
    return this.synced;
  }
  remoteNodes(): RemoteNode[] {
    return [...this.nodes.values()];
  }
  remoteEndpoints(): RemoteEndpoint[] {
    return [...this.remote.values()];
  }
  /** The remote endpoint (if any) that owns `ip`. */
  remoteByIp(ip: string): RemoteEndpoint | undefined {
    const keys = this.remoteIps.get(ip);
    return keys?.size ? this.remote.get([...keys].pop()!) : undefined;
  }

  private setRemote(key: string, ep: RemoteEndpoint | undefined): string[] {
    const old = this.remote.get(key);
    if (old) {
      this.remoteIps.get(old.ip)?.delete(key);
      if (this.remoteIps.get(old.ip)?.size === 0) this.remoteIps.delete(old.ip);
      this.remote.delete(key);
    }
    if (ep) {
      this.remote.set(key, ep);
      if (!this.remoteIps.has(ep.ip)) this.remoteIps.set(ep.ip, new Set());
      this.remoteIps.get(ep.ip)!.add(key);
    }
    return [old?.ip, ep?.ip].filter((x): x is string => x !== undefined);
  }

  setLocal(ip: string, identity: number): void {
    this.local.set(ip, identity);
    this.write(ip, { identity });
  }

  removeLocal(ip: string): void {
    this.local.delete(ip);
    // A remote endpoint may claim the address now (an IP moved): recompute rather than just delete.
    const want = this.desiredFor(ip);
    if (want) this.write(ip, want);
    else this.remove(ip);
  }

  /** The CIDR identities policies need (prefix → identity); replaces the previous set. */
  setCidrIdentities(cidrs: Map<string, number>): void {
    const keys = new Set([...this.cidrs.keys(), ...cidrs.keys()].map(norm));
    this.cidrs = new Map([...cidrs].map(([k, v]) => [norm(k), v]));
    if (this.synced) this.reconcileKeys(keys);
  }

  /** A watch stream (re)starts: forget what it told us; objects arrive again before SYNCED. */
  resetWatchState(): void {
    this.nodes.clear();
    this.remote.clear();
    this.remoteIps.clear();
    this.synced = false;
  }

  handle(ev: { type: string; object?: KubeObject }): void {
    if (ev.type === 'SYNCED') {
      this.synced = true;
      this.reconcileWithMap();
      this.onNodes(this.remoteNodes());
      return;
    }
    const obj = ev.object;
    if (!obj) return;
    const deleted = ev.type === 'DELETED';
    let nodesChanged = false;
    let keys: string[] = [];
    if (obj.kind === 'Node') {
      const node = nodeFromObject(obj);
      if (node && node.name !== this.selfName) {
        if (deleted) this.nodes.delete(node.name);
        else this.nodes.set(node.name, node);
        nodesChanged = true;
      }
    } else if (obj.kind === 'CiliumEndpoint') {
      const key = `${obj.metadata.namespace}/${obj.metadata.name}`;
      const ep = endpointFromObject(obj);
      if (deleted || !ep || ep.nodeName === this.selfName) keys = this.setRemote(key, undefined);
      else {
        keys = this.setRemote(key, ep);
        this.identities.remember(ep.identity, ep.labels);
      }
    }
    if (this.synced) {
      if (nodesChanged) {
        this.reconcileIncremental();
        this.onNodes(this.remoteNodes());
      } else this.reconcileKeys(new Set(keys));
    }
  }

  /** What one key should hold, by the precedence of desired(). */
  private desiredFor(key: string): IpcacheEntry | undefined {
    const local = this.local.get(key);
    if (local !== undefined) return { identity: local };
    const r = this.remoteByIp(key);
    if (r) return { identity: r.identity, tunnelEndpoint: r.nodeIp };
    for (const n of this.nodes.values()) {
      if (n.podCidr === key) return { identity: RESERVED_IDENTITY.remoteNode, tunnelEndpoint: n.underlayIp };
      if (n.underlayIp === key) return { identity: RESERVED_IDENTITY.remoteNode };
    }
    const cidr = this.cidrs.get(key);
    return cidr === undefined ? undefined : this.cidrEntry(key, cidr);
  }

  /** A CIDR identity's entry: tunnelled to the node whose pod CIDR contains it, if any. */
  private cidrEntry(prefix: string, identity: number): IpcacheEntry {
    const c = parseCidr(prefix.includes('/') ? prefix : `${prefix}/32`);
    const node =
      c &&
      [...this.nodes.values()].find((n) => {
        const pc = parseCidr(n.podCidr);
        return pc && c.prefix >= pc.prefix && cidrContains(pc, c.base);
      });
    return node ? { identity, tunnelEndpoint: node.underlayIp } : { identity };
  }

  private reconcileKeys(keys: Set<string>): void {
    for (const k of keys) {
      const want = this.desiredFor(k);
      if (want) this.write(k, want);
      else if (this.applied.has(k)) this.remove(k);
    }
  }

  desired(): Map<string, IpcacheEntry> {
    const want = new Map<string, IpcacheEntry>();
    for (const [prefix, identity] of this.cidrs) want.set(prefix, this.cidrEntry(prefix, identity));
    for (const n of this.nodes.values()) {
      want.set(n.podCidr, { identity: RESERVED_IDENTITY.remoteNode, tunnelEndpoint: n.underlayIp });
      // The node's own address is tunnelled to it too, as Cilium's ipcache has it: in tunnel mode a pod
      // talking to another node must not leave bare on the underlay with its pod IP (the node answers
      // through the tunnel, and pod IPs are not routable there). Native routing only reads the
      // endpoint to check the FIB's nexthop, which for a node's own address is that address.
      want.set(n.underlayIp, { identity: RESERVED_IDENTITY.remoteNode, tunnelEndpoint: n.underlayIp });
    }
    for (const ip of this.remoteIps.keys()) {
      const r = this.remoteByIp(ip)!;
      want.set(ip, { identity: agentFault('ipcache-wrong-identity') ? r.identity + 1 : r.identity, tunnelEndpoint: agentFault('wrong-tunnel-endpoint') ? this.otherNodeIp(r.nodeIp) : r.nodeIp });
    }
    // Local endpoints win over a remote object still naming the same IP (a stale CiliumEndpoint).
    for (const [ip, identity] of this.local) want.set(ip, { identity });
    return want;
  }

  private write(key: string, e: IpcacheEntry): void {
    if (same(this.applied.get(key), e)) return;
    this.datapath.upsertIpcache(key, e);
    this.applied.set(key, { ...e });
  }
  private remove(key: string): void {
    this.datapath.deleteIpcache(key);
    this.applied.delete(key);
  }

  /** Mutation testing only: another remote node's underlay IP than `ip` (itself when there is none). */
  private otherNodeIp(ip: string): string {
    const ips = [...this.nodes.values()].map((n) => n.underlayIp).sort();
    return ips.length > 1 ? ips[(ips.indexOf(ip) + 1) % ips.length]! : ip;
  }

  private reconcileIncremental(): void {
    const want = this.desired();
    if (!agentFault('stale-ipcache')) for (const key of [...this.applied.keys()]) if (!want.has(key)) this.remove(key);
    for (const [key, e] of want) this.write(key, e);
  }

  /** Full reconcile against the pinned map (start-up, and after the watch reconnects). */
  reconcileWithMap(): void {
    const want = this.desired();
    this.applied.clear();
    let stale = 0;
    for (const { key, ...e } of this.datapath.listIpcache()) {
      const k = norm(key);
      if (!want.has(k)) {
        this.datapath.deleteIpcache(k);
        stale++;
      } else this.applied.set(k, e);
    }
    for (const [key, e] of want) this.write(key, e);
    if (stale) this.log(`ipcache: removed ${stale} stale entries`);
  }
}

function nodeFromObject(obj: KubeObject): RemoteNode | undefined {
  const spec = obj.spec as { podCIDR?: string; podCIDRs?: string[] } | undefined;
  const status = obj.status as { addresses?: Array<{ type: string; address: string }> } | undefined;
  const underlayIp = status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
  const podCidr = spec?.podCIDR ?? spec?.podCIDRs?.[0];
  if (!underlayIp || !podCidr) return undefined;
  return { name: obj.metadata.name, underlayIp, podCidr };
}

function endpointFromObject(obj: KubeObject): RemoteEndpoint | undefined {
  const st = obj.status as Partial<CiliumEndpointStatus> | undefined;
  const ip = st?.networking?.addressing?.[0]?.ipv4;
  const nodeIp = st?.networking?.node;
  if (!st || !ip || !nodeIp || typeof st.identity?.id !== 'number') return undefined;
  return {
    namespace: obj.metadata.namespace ?? 'default',
    name: obj.metadata.name,
    ip,
    identity: st.identity.id,
    labels: st.identity.labels ?? [],
    nodeName: st.nodeName ?? '',
    nodeIp,
  };
}
