// Pod endpoints: what CNI ADD/DEL/CHECK do on the agent's side. ADD builds the veth pair (peer created
// directly in the pod's netns), addresses and routes, attaches the datapath and fills its maps, records
// the endpoint in a state file and publishes a CiliumEndpoint. Every step registers its undo, so an
// ADD that fails midway leaves nothing behind. DEL is idempotent.
import { existsSync } from 'node:fs';
import { run } from '../../harness/exec/run.js';
import type { ClusterSpec, NodeSpec } from '../../harness/cluster/spec.js';
import type { Datapath } from '../datapath/types.js';
import type { ClusterPoolIpam } from '../ipam/pool.js';
import { podSecurityLabels, type IdentityCache } from '../identity/labels.js';
import { CNI_ERR, CNI_VERSION, CniError, type CniAddResult, type CniRequest } from '../cni/protocol.js';
import { getLink, ipBatch, listLinks, randomMac, setSysctl } from '../routing/links.js';
import { CONTAINER_ID, hostIfnameFor, type EndpointState, type EndpointStateStore } from './state.js';
import { ciliumEndpointObject, type EndpointControlPlane } from './cilium-endpoint.js';
import { agentFault } from '../faults.js';

export interface LocalIpcache {
  setLocal(ip: string, identity: number): void;
  removeLocal(ip: string): void;
}

/**
 * What the policy side needs to hear from the endpoint manager (agent/policy/controller.ts). All
 * synchronous: an endpoint's policy is in the datapath before the endpoint is.
 */
export interface EndpointPolicyHooks {
  /** The endpoint is about to enter the datapath's endpoint map with st.identity (new, or relabelled). */
  beforeActivate(st: EndpointState): void;
  /** The endpoint is gone (DEL, rollback, or a leftover removed at restore). */
  removed(st: EndpointState): void;
}

export interface EndpointManagerDeps {
  spec: ClusterSpec;
  node: NodeSpec;
  datapath: Datapath;
  ipam: ClusterPoolIpam;
  identities: IdentityCache;
  states: EndpointStateStore;
  controlPlane: EndpointControlPlane;
  ipcache: LocalIpcache;
  log: (msg: string) => void;
}

const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;
const MAX_ENDPOINT_ID = 0xfff;

export class EndpointManager {
  private endpoints = new Map<string, EndpointState>();
  /** Per-container serialisation: a DEL racing its own ADD must see the ADD's outcome. */
  private locks = new Map<string, Promise<unknown>>();
  private hooks?: EndpointPolicyHooks;

  constructor(private d: EndpointManagerDeps) {}

  setPolicyHooks(hooks: EndpointPolicyHooks): void {
    this.hooks = hooks;
  }

  byPod(namespace: string, name: string): EndpointState | undefined {
    for (const e of this.endpoints.values()) if (e.podNamespace === namespace && e.podName === name) return e;
    return undefined;
  }

  list(): EndpointState[] {
    return [...this.endpoints.values()].sort((a, b) => a.endpointId - b.endpointId);
  }
  byIp(ip: string): EndpointState | undefined {
    for (const e of this.endpoints.values()) if (e.ip === ip) return e;
    return undefined;
  }

  private serialize<T>(containerId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(containerId) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(fn);
    this.locks.set(containerId, next);
    void next.catch(() => undefined).finally(() => {
      if (this.locks.get(containerId) === next) this.locks.delete(containerId);
    });
    return next;
  }

  private validate(req: CniRequest, needNetns: boolean): void {
    if (typeof req.containerId !== 'string' || !CONTAINER_ID.test(req.containerId)) {
      throw new CniError(CNI_ERR.INVALID_ENV, `invalid CNI_CONTAINERID ${JSON.stringify(req.containerId)}`, 'expected alphanumerics, "_", ".", "-", starting alphanumeric');
    }
    if (typeof req.ifname !== 'string' || !IFNAME.test(req.ifname)) {
      throw new CniError(CNI_ERR.INVALID_ENV, `invalid CNI_IFNAME ${JSON.stringify(req.ifname)}`, 'expected an interface name of at most 15 characters');
    }
    // No whitespace: the path becomes a word of an `ip -batch` line.
    if (needNetns && (typeof req.netns !== 'string' || !/^\/\S+$/.test(req.netns) || !existsSync(req.netns))) {
      throw new CniError(CNI_ERR.INVALID_ENV, `CNI_NETNS ${JSON.stringify(req.netns)} does not exist`);
    }
  }

  /** IDs handed to ADDs still in flight: concurrent ADDs of different containers must not share one
   *  (the endpoint ID keys the endpoint's policy in the datapath). */
  private pendingIds = new Set<number>();

  private nextEndpointId(): number {
    const used = new Set([...this.endpoints.values()].map((e) => e.endpointId));
    for (let id = 1; id <= MAX_ENDPOINT_ID; id++) {
      if (used.has(id) || this.pendingIds.has(id)) continue;
      this.pendingIds.add(id);
      return id;
    }
    throw new CniError(CNI_ERR.TRY_AGAIN_LATER, 'no free endpoint ID on this node');
  }

  result(st: EndpointState): CniAddResult {
    return {
      cniVersion: CNI_VERSION,
      interfaces: [
        { name: st.hostIfname, mac: st.hostMac, mtu: st.mtu },
        { name: st.podIfname, mac: st.podMac, mtu: st.mtu, sandbox: st.netns },
      ],
      ips: [{ address: `${st.ip}/32`, gateway: this.d.node.podGateway, interface: 1 }],
      routes: [{ dst: '0.0.0.0/0', gw: this.d.node.podGateway }],
      dns: {},
    };
  }

  add(req: CniRequest): Promise<CniAddResult> {
    this.validate(req, true);
    return this.serialize(req.containerId, () => this.doAdd(req));
  }

  private async doAdd(req: CniRequest): Promise<CniAddResult> {
    const existing = this.endpoints.get(req.containerId);
    if (existing) {
      // A runtime retrying an ADD it lost the answer of: same container, same netns → same endpoint.
      if (existing.netns === req.netns && existing.podIfname === req.ifname) return this.result(existing);
      throw new CniError(CNI_ERR.OTHER, `container ${req.containerId} already has endpoint ${existing.endpointId} in ${existing.netns}`);
    }
    const { node, spec, datapath, ipam, identities } = this.d;
    const undo: Array<[string, () => Promise<void> | void]> = [];
    const podNamespace = req.podNamespace || 'default';
    const podName = req.podName || req.containerId.slice(0, 63);
    const mtu = agentFault('pod-mtu-underlay') ? spec.mtu : (req.mtu ?? spec.podMtu);
    const hostIfname = hostIfnameFor(req.containerId);
    // Phase timings for the log line: pod network readiness is a headline number.
    const t0 = performance.now();
    const marks: string[] = [];
    const mark = (what: string) => marks.push(`${what} ${Math.round(performance.now() - t0)}`);
    try {
      const ip = ipam.allocate(req.containerId);
      undo.push(['release IP', () => void ipam.release(ip)]);

      // The identity is asked of the control plane while the links are made: only the maps need it.
      const identityLookup = (async () => {
        const [podLabels, nsLabels] = await Promise.all([
          agentFault('identity-ignores-labels') ? Promise.resolve({}) : this.d.controlPlane.podLabels(podNamespace, podName),
          this.d.controlPlane.namespaceLabels?.(podNamespace),
        ]);
        const labels = podSecurityLabels(podNamespace, podLabels, nsLabels);
        return { labels, identity: await identities.resolve(labels) };
      })();
      identityLookup.catch(() => undefined); // awaited below; a failure there rolls back the links
      const endpointId = this.nextEndpointId();
      undo.push(['release endpoint ID', () => void this.pendingIds.delete(endpointId)]);
      const hostMac = randomMac();
      const podMac = randomMac();

      // Host side, one `ip` process: the pair with its peer born inside the pod, both MTUs and MACs set
      // at creation (no read-back), no IPv6 link-local (its router solicitations would only be drops),
      // the /32 route that sends node → pod traffic (and to_container) through this lxc.
      undo.push(['delete veth', async () => void (await run(['ip', 'link', 'del', hostIfname], { allowFailure: true }))]);
      const out = await ipBatch(
        [
          `link add ${hostIfname} mtu ${mtu} address ${hostMac} type veth peer name ${req.ifname} mtu ${mtu} address ${podMac} netns ${req.netns}`,
          `link set dev ${hostIfname} addrgenmode none`,
          `link set dev ${hostIfname} up`,
          `route replace ${ip}/32 dev ${hostIfname}`,
          `link show dev ${hostIfname}`,
        ],
        { json: true },
      );
      const ifindex = parseIfindex(out, hostIfname);
      mark('veth');
      setSysctl(`net.ipv4.conf.${hostIfname}.rp_filter`, 0);

      // Pod side, one nsenter + `ip`: address, link, the gateway as an on-link /32 and the default
      // route through it. No static neighbour entry: the datapath answers the gateway's ARP.
      await ipBatch(
        [
          `link set dev ${req.ifname} addrgenmode none`,
          `addr add ${ip}/32 dev ${req.ifname}`,
          `link set dev ${req.ifname} up`,
          `link set dev lo up`,
          `route replace ${node.podGateway} dev ${req.ifname} scope link`,
          `route replace default via ${node.podGateway} dev ${req.ifname} mtu ${mtu}`,
        ],
        { netns: req.netns },
      );

      mark('pod');
      const { labels, identity } = await identityLookup;
      mark('identity');
      const st: EndpointState = {
        containerId: req.containerId,
        endpointId,
        hostIfname,
        ifindex,
        hostMac,
        podIfname: req.ifname,
        podMac,
        netns: req.netns,
        ip,
        mtu,
        identity,
        labels,
        podNamespace,
        podName,
        createdAt: new Date().toISOString(),
      };
      // Its policy first: the endpoint must never be in the maps without it.
      this.hooks?.beforeActivate(st);
      undo.push(['remove policy', () => this.hooks?.removed(st)]);
      datapath.attachEndpointDevice(hostIfname, ifindex);
      datapath.upsertEndpoint({ ifindex, ip, podMac, hostMac, identity, endpointId });
      undo.push(['delete endpoint map entry', () => datapath.deleteEndpoint({ ifindex, ip })]);
      this.d.ipcache.setLocal(ip, identity);
      undo.push(['delete ipcache entry', () => this.d.ipcache.removeLocal(ip)]);
      this.d.states.save(st);
      this.endpoints.set(st.containerId, st);
      undo.push(['remove state', () => {
        this.d.states.remove(st.containerId);
        this.endpoints.delete(st.containerId);
      }]);
      undo.push(['delete CiliumEndpoint', () => this.d.controlPlane.deleteEndpoint(podNamespace, podName)]);
      mark('maps');
      await this.d.controlPlane.writeEndpoint(ciliumEndpointObject(st, node));
      this.pendingIds.delete(endpointId);
      mark('published');
      this.d.log(`endpoint ${endpointId} ${podNamespace}/${podName} ${ip} on ${hostIfname} (ifindex ${ifindex}, identity ${identity}); ms: ${marks.join(', ')}`);
      return this.result(st);
    } catch (err) {
      const problems: string[] = [];
      for (const [what, fn] of undo.reverse()) {
        try {
          await fn();
        } catch (e) {
          problems.push(`${what}: ${(e as Error).message}`);
        }
      }
      if (problems.length) this.d.log(`ADD ${req.containerId} rollback problems: ${problems.join('; ')}`);
      throw toCniError(err, `ADD of container ${req.containerId} failed (rolled back)`);
    }
  }

  del(req: CniRequest): Promise<void> {
    this.validate(req, false);
    return this.serialize(req.containerId, () => this.doDel(req.containerId));
  }

  private async doDel(containerId: string): Promise<void> {
    const st = this.endpoints.get(containerId) ?? this.d.states.load(containerId);
    const hostIfname = st?.hostIfname ?? hostIfnameFor(containerId);
    // Deleting the host side removes the pair, its addresses, routes and tc filters.
    await run(['ip', 'link', 'del', hostIfname], { allowFailure: true });
    if (st) await this.forget(st);
    this.d.ipam.releaseOwner(containerId);
  }

  /** Remove everything but the device (gone already, or deleted by the caller). */
  private async forget(st: EndpointState): Promise<void> {
    this.d.datapath.deleteEndpoint({ ifindex: st.ifindex, ip: st.ip });
    this.d.ipcache.removeLocal(st.ip);
    this.d.ipam.release(st.ip);
    this.d.states.remove(st.containerId);
    this.endpoints.delete(st.containerId);
    this.hooks?.removed(st);
    await this.d.controlPlane.deleteEndpoint(st.podNamespace, st.podName);
    this.d.log(`endpoint ${st.endpointId} ${st.podNamespace}/${st.podName} ${st.ip} removed`);
  }

  /**
   * The pod's security labels changed (its labels or its namespace's): resolve the identity again and,
   * if it changed, move the endpoint to it (policy, endpoint map, ipcache, state file, CiliumEndpoint),
   * so new connections are decided on the new identity. Returns whether anything changed.
   */
  relabel(containerId: string, labels: string[]): Promise<boolean> {
    return this.serialize(containerId, async () => {
      const st = this.endpoints.get(containerId);
      if (!st) return false;
      const sorted = [...new Set(labels)].sort();
      if (JSON.stringify(sorted) === JSON.stringify(st.labels)) return false;
      const identity = await this.d.identities.resolve(sorted);
      if (this.endpoints.get(containerId) !== st) return false; // deleted meanwhile
      const old = st.identity;
      const next: EndpointState = { ...st, labels: sorted, identity };
      this.hooks?.beforeActivate(next);
      this.d.datapath.upsertEndpoint({ ifindex: st.ifindex, ip: st.ip, podMac: st.podMac, hostMac: st.hostMac, identity, endpointId: st.endpointId });
      this.d.ipcache.setLocal(st.ip, identity);
      this.d.states.save(next);
      this.endpoints.set(containerId, next);
      await this.d.controlPlane.writeEndpoint(ciliumEndpointObject(next, this.d.node));
      this.d.log(`endpoint ${st.endpointId} ${st.podNamespace}/${st.podName}: labels changed, identity ${old} → ${identity}`);
      return true;
    });
  }

  check(req: CniRequest): Promise<void> {
    this.validate(req, true);
    return this.serialize(req.containerId, async () => {
      const st = this.endpoints.get(req.containerId);
      if (!st) throw new CniError(CNI_ERR.UNKNOWN_CONTAINER, `no endpoint for container ${req.containerId}`);
      const link = await getLink(st.hostIfname);
      if (!link) throw new CniError(CNI_ERR.OTHER, `host veth ${st.hostIfname} of container ${req.containerId} is missing`);
      const res = await run(['ip', '-j', 'addr', 'show', 'dev', st.podIfname], { netns: req.netns, allowFailure: true });
      const addrs = res.code === 0 ? (JSON.parse(res.stdout || '[]') as Array<{ addr_info?: Array<{ local: string }> }>) : [];
      if (!addrs.some((a) => a.addr_info?.some((i) => i.local === st.ip))) {
        throw new CniError(CNI_ERR.OTHER, `${st.podIfname} in ${req.netns} does not have ${st.ip}`);
      }
      const entry = this.d.datapath.listEndpoints().find((e) => e.ip === st.ip);
      if (!entry || entry.ifindex !== link.ifindex) {
        throw new CniError(CNI_ERR.OTHER, `datapath endpoint map has no entry for ${st.ip} on ifindex ${link.ifindex}`);
      }
    });
  }

  /**
   * After a restart: bring back every endpoint whose device still exists (re-attach, re-fill maps with
   * the same values, so forwarding never stops), and clean up what a crash left half-done.
   */
  async restore(): Promise<{ restored: number; removed: number }> {
    const { datapath, ipam, identities, states } = this.d;
    const links = await listLinks();
    let restored = 0;
    let removed = 0;
    const kept = new Set<string>();
    for (const st of states.list()) {
      const link = links.find((l) => l.ifname === st.hostIfname);
      if (!link) {
        this.d.log(`endpoint ${st.endpointId} ${st.podNamespace}/${st.podName}: device ${st.hostIfname} is gone; removing`);
        await this.forget(st).catch((e) => this.d.log(`cleanup of ${st.containerId}: ${(e as Error).message}`));
        removed++;
        continue;
      }
      if (link.ifindex !== st.ifindex) {
        datapath.deleteEndpoint({ ifindex: st.ifindex, ip: st.ip });
        st.ifindex = link.ifindex;
        states.save(st);
      }
      try {
        ipam.claim(st.ip, st.containerId);
      } catch (e) {
        this.d.log(`endpoint ${st.containerId}: ${(e as Error).message}`);
      }
      identities.remember(st.identity, st.labels);
      datapath.attachEndpointDevice(st.hostIfname, st.ifindex);
      datapath.upsertEndpoint({ ifindex: st.ifindex, ip: st.ip, podMac: st.podMac, hostMac: st.hostMac, identity: st.identity, endpointId: st.endpointId });
      this.d.ipcache.setLocal(st.ip, st.identity);
      this.endpoints.set(st.containerId, st);
      kept.add(st.hostIfname);
      restored++;
    }
    // Map entries without a state file, IPs without an endpoint, lxc devices nobody owns: leftovers of
    // an agent killed in the middle of an ADD.
    const ifindexes = new Set(this.list().map((e) => e.ifindex));
    for (const ep of datapath.listEndpoints()) {
      if (!ifindexes.has(ep.ifindex)) {
        datapath.deleteEndpoint(ep);
        if (!this.byIp(ep.ip)) this.d.ipcache.removeLocal(ep.ip);
        removed++;
      }
    }
    for (const { ip, owner } of ipam.list()) if (!this.endpoints.has(owner)) ipam.release(ip);
    for (const l of links) {
      if (/^lxc[0-9a-f]{12}$/.test(l.ifname) && !kept.has(l.ifname)) await run(['ip', 'link', 'del', l.ifname], { allowFailure: true });
    }
    // CiliumEndpoints: republish ours, withdraw those of endpoints that did not survive.
    const published = await this.d.controlPlane.listEndpoints(this.d.node.name);
    for (const st of this.endpoints.values()) await this.d.controlPlane.writeEndpoint(ciliumEndpointObject(st, this.d.node));
    for (const o of published) {
      if (![...this.endpoints.values()].some((e) => e.podNamespace === o.namespace && e.podName === o.name)) {
        await this.d.controlPlane.deleteEndpoint(o.namespace, o.name);
      }
    }
    return { restored, removed };
  }
}

function parseIfindex(jsonOut: string, ifname: string): number {
  // `ip -j -batch` prints one JSON array per printing command; ours is the last line.
  for (const line of jsonOut.trim().split('\n').reverse()) {
    try {
      const arr = JSON.parse(line) as Array<{ ifindex: number; ifname: string }>;
      const l = arr.find((x) => x.ifname === ifname);
      if (l) return l.ifindex;
    } catch {
      /* not JSON */
    }
  }
  throw new CniError(CNI_ERR.OTHER, `could not read the ifindex of ${ifname} from: ${jsonOut.slice(0, 200)}`);
}

export function toCniError(err: unknown, context: string): CniError {
  if (err instanceof CniError) return err;
  const e = err as Error & { detail?: string };
  return new CniError(CNI_ERR.OTHER, `${context}: ${e.message}`, e.detail);
}
