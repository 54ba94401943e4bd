// Keeps the datapath's ipcache equal to what the cluster says: local endpoints (identity only), remote
// endpoints learnt from CiliumEndpoint objects (identity + the underlay IP of their node, the tunnel
// endpoint), and for every remote node its pod CIDR as a fallback (reserved:remote-node, tunnelled)
// plus its underlay IP. The desired set is recomputed from the watched objects and diffed against
// what was last written; after a (re)sync the diff is taken against the pinned map itself, so entries
// a previous agent left behind are removed.
import type { KubeObject } from '../../harness/cluster/objects.js';
import type { Datapath, IpcacheEntry } from '../datapath/types.js';
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
  private local = new Map<string, number>();
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
    for (const r of this.remote.values()) if (r.ip === ip) return r;
    return undefined;
  }

  setLocal(ip: string, identity: number): void {
    this.local.set(ip, identity);
    this.write(ip, { identity });
  }

  removeLocal(ip: string): void {
    this.local.delete(ip);
    // A remote endpoint may claim the address now (an IP moved): recompute rather than just delete.
    const want = this.desired().get(ip);
    if (want) this.write(ip, want);
    else this.remove(ip);
  }

  /** A watch stream (re)starts: forget what it told us; objects arrive again before SYNCED. */
  resetWatchState(): void {
    this.nodes.clear();
    this.remote.clear();
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
      if (deleted || !ep || ep.nodeName === this.selfName) this.remote.delete(key);
      else {
        this.remote.set(key, ep);
        this.identities.remember(ep.identity, ep.labels);
      }
    }
    if (this.synced) {
      this.reconcileIncremental();
      if (nodesChanged) this.onNodes(this.remoteNodes());
    }
  }

  desired(): Map<string, IpcacheEntry> {
    const want = new Map<string, IpcacheEntry>();
    for (const n of this.nodes.values()) {
      want.set(n.podCidr, { identity: RESERVED_IDENTITY.remoteNode, tunnelEndpoint: n.underlayIp });
      // The node's own address is tunnelled to it too, as Cilium's ipcache has it: in tunnel mode a pod
      // talking to another node must not leave bare on the underlay with its pod IP (the node answers
      // through the tunnel, and pod IPs are not routable there). Native routing only reads the
      // endpoint to check the FIB's nexthop, which for a node's own address is that address.
      want.set(n.underlayIp, { identity: RESERVED_IDENTITY.remoteNode, tunnelEndpoint: n.underlayIp });
    }
    for (const r of this.remote.values()) want.set(r.ip, { identity: agentFault('ipcache-wrong-identity') ? r.identity + 1 : r.identity, tunnelEndpoint: agentFault('wrong-tunnel-endpoint') ? this.otherNodeIp(r.nodeIp) : r.nodeIp });
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
