// Pod endpoints: what CNI ADD/DEL/CHECK do on the agent's side. ADD builds the veth pair (peer created
// directly in the pod's netns), addresses and routes, attaches the datapath and fills its maps, records
// the endpoint in a state file and publishes a CiliumEndpoint. Every step registers its undo, so an
// ADD that fails midway leaves nothing behind. DEL is idempotent.
import { existsSync } from 'node:fs';
import type { AgentNetwork, AgentNode } from '../config.js';
import type { Datapath } from '../datapath/types.js';
import type { ClusterPoolIpam } from '../ipam/pool.js';
import { podSecurityLabels, type IdentityCache } from '../identity/labels.js';
import { CNI_ERR, CNI_VERSION, CniError, type CniAddResult, type CniAttachment, type CniGcResult, type CniRequest } from '../cni/protocol.js';
import { hasDefaultRoute } from '../cni/result.js';
import { listLinks, randomMac, setSysctl } from '../routing/links.js';
import { addPodLink, deleteLink } from '../routing/rtnl.js';
import { attachmentKey, ciliumEndpointName, CONTAINER_ID, hostIfnameFor, IFNAME, type EndpointState, type EndpointStateStore } from './state.js';
import { attachmentProblems, readAttachmentState } from './check.js';
import { detachPrograms, findAdoptable, type AdoptableInterface } from './adopt.js';
import { ciliumEndpointObject, type EndpointControlPlane } from './cilium-endpoint.js';
import { agentFault } from '../faults.js';
import { isNotFound } from '../k8s/transport.js';

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
  spec: AgentNetwork;
  node: AgentNode;
  datapath: Datapath;
  ipam: ClusterPoolIpam;
  identities: IdentityCache;
  states: EndpointStateStore;
  controlPlane: EndpointControlPlane;
  ipcache: LocalIpcache;
  log: (msg: string) => void;
}

const MAX_ENDPOINT_ID = 0xfff;

/** The attachment key of an endpoint (see attachmentKey). */
const keyOf = (st: Pick<EndpointState, 'containerId' | 'podIfname'>) => attachmentKey(st.containerId, st.podIfname);

export class EndpointManager {
  /** By attachment key (container ID, ifname), as CNI keys attachments. */
  private endpoints = new Map<string, EndpointState>();
  /** Per-attachment serialisation: a DEL racing its own ADD must see the ADD's outcome. */
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

  private serialize<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    const next = prev.catch(() => undefined).then(fn);
    this.locks.set(key, next);
    void next.catch(() => undefined).finally(() => {
      if (this.locks.get(key) === next) this.locks.delete(key);
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
    // An absolute path without whitespace: runtimes' netns paths have none, and it goes into one-line logs.
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
      routes: (st.routes ?? ['0.0.0.0/0']).map((dst) => ({ dst, gw: this.d.node.podGateway })),
      dns: {},
    };
  }

  add(req: CniRequest): Promise<CniAddResult> {
    this.validate(req, true);
    const key = attachmentKey(req.containerId, req.ifname);
    const added = this.serialize(key, () => this.doAdd(req));
    // A lower identity for the same labels can appear while the ADD runs (another agent raced to number
    // the same new label set, and the duplicate arrived before this endpoint was listed, so the agent's
    // convergence could not move it): look again once the endpoint is in, without delaying the result.
    added.then(
      () =>
        this.serialize(key, async () => {
          const st = this.endpoints.get(key);
          return st ? this.relabelAttachment(key, st.labels) : false;
        }).catch((e: Error) => this.d.log(`identity of ${req.podNamespace}/${req.podName} after ADD: ${e.message}`)),
      () => undefined,
    );
    return added;
  }

  private async doAdd(req: CniRequest): Promise<CniAddResult> {
    const key = attachmentKey(req.containerId, req.ifname);
    const existing = this.endpoints.get(key);
    if (existing) {
      // A runtime retrying an ADD it lost the answer of: same attachment, same netns → same endpoint.
      if (existing.netns === req.netns) return this.result(existing);
      throw new CniError(CNI_ERR.OTHER, `container ${req.containerId} already has endpoint ${existing.endpointId} on ${req.ifname} in ${existing.netns}`);
    }
    const adoptable = await findAdoptable(req);
    if (adoptable) return this.doAdopt(req, adoptable);
    const { node, spec, datapath, ipam, identities } = this.d;
    const undo: Array<[string, () => Promise<void> | void]> = [];
    const podNamespace = req.podNamespace || 'default';
    const podName = req.podName || req.containerId.slice(0, 63);
    const mtu = agentFault('pod-mtu-underlay') ? spec.mtu : (req.mtu ?? spec.podMtu);
    const hostIfname = hostIfnameFor(req.containerId, req.ifname);
    // Chained after a plugin that routes the pod's default: route only the cluster's subnets here.
    // (Both come from the agent's config, clusterPoolIPv4CIDR and serviceCIDR; one left out is not routed.)
    const routes = hasDefaultRoute(req.prevResult) ? [spec.podSubnet, spec.serviceSubnet].filter((d): d is string => !!d) : ['0.0.0.0/0'];
    // Phase timings for the log line: pod network readiness is a headline number.
    const t0 = performance.now();
    const marks: string[] = [];
    const mark = (what: string) => marks.push(`${what} ${Math.round(performance.now() - t0)}`);
    try {
      const ip = ipam.allocate(key);
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

      // The pair with its peer born inside the pod, both MTUs and MACs set at creation (no read-back),
      // no IPv6 link-local on either side (its router solicitations would only be drops), the /32 route
      // that sends node → pod traffic (and to_container) through this lxc; in the pod its address, the
      // gateway as an on-link /32 and the routes through it. No static neighbour entry: the datapath
      // answers the gateway's ARP. One rtnetlink call on a worker thread, no process (see rtnl.ts).
      undo.push(['delete veth', async () => void (await deleteLink(hostIfname))]);
      const ifindex = await addPodLink({ hostIfname, podIfname: req.ifname, netns: req.netns, hostMac, podMac, mtu, podIp: ip, gateway: node.podGateway, routes });
      mark('links');
      setSysctl(`net.ipv4.conf.${hostIfname}.rp_filter`, 0);

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
        routes,
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
      this.endpoints.set(key, st);
      undo.push(['remove state', () => {
        this.d.states.remove(st.containerId, st.podIfname);
        this.endpoints.delete(key);
      }]);
      undo.push(['delete CiliumEndpoint', () => this.d.controlPlane.deleteEndpoint(podNamespace, ciliumEndpointName(st))]);
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

  /** ADD chained onto an earlier plugin's veth pair: attach, don't create (see adopt.ts). */
  private async doAdopt(req: CniRequest, a: AdoptableInterface): Promise<CniAddResult> {
    const key = attachmentKey(req.containerId, req.ifname);
    const podNamespace = req.podNamespace || 'default';
    const podName = req.podName || req.containerId.slice(0, 63);
    const undo: Array<() => Promise<void> | void> = [];
    try {
      const [podLabels, nsLabels] = await Promise.all([this.d.controlPlane.podLabels(podNamespace, podName), this.d.controlPlane.namespaceLabels?.(podNamespace)]);
      const labels = podSecurityLabels(podNamespace, podLabels, nsLabels);
      const identity = await this.d.identities.resolve(labels);
      const endpointId = this.nextEndpointId();
      undo.push(() => void this.pendingIds.delete(endpointId));
      const st: EndpointState = {
        containerId: req.containerId, endpointId, hostIfname: a.hostIfname, ifindex: a.hostIfindex, hostMac: a.hostMac, podIfname: req.ifname, podMac: a.podMac,
        netns: req.netns, ip: a.ip, mtu: a.mtu, identity, labels, podNamespace, podName, routes: [], adopted: true, createdAt: new Date().toISOString(),
      };
      // Its policy first: the endpoint must never be in the maps without it.
      this.hooks?.beforeActivate(st);
      undo.push(() => this.hooks?.removed(st));
      undo.push(() => detachPrograms(a.hostIfname));
      this.d.datapath.attachEndpointDevice(a.hostIfname, a.hostIfindex);
      this.d.datapath.upsertEndpoint({ ifindex: a.hostIfindex, ip: a.ip, podMac: a.podMac, hostMac: a.hostMac, identity, endpointId });
      undo.push(() => this.d.datapath.deleteEndpoint({ ifindex: a.hostIfindex, ip: a.ip }));
      this.d.ipcache.setLocal(a.ip, identity);
      undo.push(() => this.d.ipcache.removeLocal(a.ip));
      this.d.states.save(st);
      this.endpoints.set(key, st);
      undo.push(() => {
        this.d.states.remove(st.containerId, st.podIfname);
        this.endpoints.delete(key);
      });
      await this.d.controlPlane.writeEndpoint(ciliumEndpointObject(st, this.d.node));
      this.pendingIds.delete(endpointId);
      this.d.log(`endpoint ${endpointId} ${podNamespace}/${podName} ${a.ip} adopted on ${a.hostIfname} (ifindex ${a.hostIfindex}, identity ${identity}), chained`);
      return this.result(st);
    } catch (err) {
      for (const fn of undo.reverse()) await Promise.resolve().then(fn).catch(() => undefined);
      throw toCniError(err, `chained ADD of container ${req.containerId} failed (rolled back)`);
    }
  }

  del(req: CniRequest): Promise<void> {
    this.validate(req, false);
    return this.serialize(attachmentKey(req.containerId, req.ifname), () => this.doDel(req.containerId, req.ifname));
  }

  private async doDel(containerId: string, ifname: string): Promise<void> {
    const key = attachmentKey(containerId, ifname);
    const st = this.endpoints.get(key) ?? this.d.states.load(containerId, ifname);
    const hostIfname = st?.hostIfname ?? hostIfnameFor(containerId, ifname);
    // Deleting the host side removes the pair, its addresses, routes and tc filters; an adopted pair
    // belongs to the plugin before us in the chain (its DEL comes next), so only our programs go.
    if (st?.adopted) await detachPrograms(hostIfname);
    else await deleteLink(hostIfname);
    if (st) await this.forget(st);
    this.d.ipam.releaseOwner(key);
  }

  /**
   * CNI GC: every attachment of this node not in `valid` goes (as DEL would remove it), and so does
   * every address whose owner is neither a live endpoint nor valid (an ADD cut short by a crash).
   */
  async gc(valid: CniAttachment[]): Promise<CniGcResult> {
    const keep = new Set(valid.map((a) => attachmentKey(a.containerID, a.ifname)));
    const removed: CniGcResult['removed'] = [];
    for (const st of this.list()) {
      const key = keyOf(st);
      if (keep.has(key)) continue;
      await this.serialize(key, () => this.doDel(st.containerId, st.podIfname));
      removed.push({ containerID: st.containerId, ifname: st.podIfname, ip: st.ip, hostIfname: st.hostIfname });
    }
    const releasedIps: string[] = [];
    for (const { ip, owner } of this.d.ipam.list()) {
      if (keep.has(owner) || this.endpoints.has(owner) || this.locks.has(owner)) continue;
      this.d.ipam.release(ip);
      releasedIps.push(ip);
    }
    if (removed.length || releasedIps.length) {
      this.d.log(`GC: removed ${removed.map((r) => `${r.containerID}/${r.ifname}`).join(', ') || 'no endpoint'}; released ${releasedIps.join(', ') || 'no other address'}`);
    }
    return { removed, releasedIps };
  }

  /** Remove everything but the device (gone already, or deleted by the caller). */
  private async forget(st: EndpointState): Promise<void> {
    this.d.datapath.deleteEndpoint({ ifindex: st.ifindex, ip: st.ip });
    this.d.ipcache.removeLocal(st.ip);
    // An adopted endpoint's address came from the earlier plugin's IPAM, not from our pool.
    if (!st.adopted) this.d.ipam.release(st.ip);
    this.d.states.remove(st.containerId, st.podIfname);
    this.endpoints.delete(keyOf(st));
    this.hooks?.removed(st);
    await this.d.controlPlane.deleteEndpoint(st.podNamespace, ciliumEndpointName(st));
    this.d.log(`endpoint ${st.endpointId} ${st.podNamespace}/${st.podName} ${st.ip} removed`);
  }

  /**
   * The pod's security labels changed (its labels or its namespace's): resolve the identity again and,
   * if it changed, move the container's endpoints (every attachment of it) to it (policy, endpoint map,
   * ipcache, state file, CiliumEndpoint), so new connections are decided on the new identity. Also
   * with the same labels when their identity is no longer the one they resolve to (a duplicate with a
   * lower number appeared). Returns whether anything changed.
   */
  async relabel(containerId: string, labels: string[]): Promise<boolean> {
    const keys = [...this.endpoints.values()].filter((e) => e.containerId === containerId).map(keyOf);
    const changed = await Promise.all(keys.map((key) => this.serialize(key, () => this.relabelAttachment(key, labels))));
    return changed.some(Boolean);
  }

  private async relabelAttachment(key: string, labels: string[]): Promise<boolean> {
    const st = this.endpoints.get(key);
    if (!st) return false;
    const sorted = [...new Set(labels)].sort();
    const identity = await this.d.identities.resolve(sorted);
    if (this.endpoints.get(key) !== st) return false; // deleted or changed meanwhile
    const sameLabels = JSON.stringify(sorted) === JSON.stringify(st.labels);
    if (sameLabels && identity === st.identity) return false;
    const old = st.identity;
    const next: EndpointState = { ...st, labels: sorted, identity };
    this.hooks?.beforeActivate(next);
    this.d.datapath.upsertEndpoint({ ifindex: st.ifindex, ip: st.ip, podMac: st.podMac, hostMac: st.hostMac, identity, endpointId: st.endpointId });
    this.d.ipcache.setLocal(st.ip, identity);
    this.d.states.save(next);
    this.endpoints.set(key, next);
    await this.d.controlPlane.writeEndpoint(ciliumEndpointObject(next, this.d.node));
    this.d.log(`endpoint ${st.endpointId} ${st.podNamespace}/${st.podName}: ${sameLabels ? 'a lower identity holds its labels' : 'labels changed'}, identity ${old} → ${identity}`);
    return true;
  }

  /** CNI CHECK: the real state against the endpoint's record and the runtime's prevResult. */
  check(req: CniRequest): Promise<void> {
    this.validate(req, true);
    return this.serialize(attachmentKey(req.containerId, req.ifname), async () => {
      const st = this.endpoints.get(attachmentKey(req.containerId, req.ifname));
      if (!st) throw new CniError(CNI_ERR.UNKNOWN_CONTAINER, `no endpoint for container ${req.containerId} on ${req.ifname}`);
      if (st.netns !== req.netns) throw new CniError(CNI_ERR.OTHER, `container ${req.containerId}'s ${req.ifname} is in ${st.netns}, not ${req.netns}`);
      const entry = this.d.datapath.listEndpoints().find((e) => e.ip === st.ip);
      const real = await readAttachmentState(st, req.netns, entry);
      const problems = attachmentProblems(st, req.prevResult, real, this.d.node.podGateway);
      if (problems.length) throw new CniError(CNI_ERR.OTHER, `CHECK of ${req.containerId}/${req.ifname} failed: ${problems.join('; ')}`);
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
        if (!st.adopted) ipam.claim(st.ip, keyOf(st));
      } catch (e) {
        this.d.log(`endpoint ${st.containerId}: ${(e as Error).message}`);
      }
      identities.remember(st.identity, st.labels);
      datapath.attachEndpointDevice(st.hostIfname, st.ifindex);
      datapath.upsertEndpoint({ ifindex: st.ifindex, ip: st.ip, podMac: st.podMac, hostMac: st.hostMac, identity: st.identity, endpointId: st.endpointId });
      this.d.ipcache.setLocal(st.ip, st.identity);
      this.endpoints.set(keyOf(st), st);
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
      if (/^lxc[0-9a-f]{12}$/.test(l.ifname) && !kept.has(l.ifname)) {
        await deleteLink(l.ifname).catch((e: Error) => this.d.log(`restore: leftover ${l.ifname} not deleted: ${e.message}`));
      }
    }
    // CiliumEndpoints: republish ours, withdraw those of endpoints that did not survive.
    const published = await this.d.controlPlane.listEndpoints(this.d.node.name);
    for (const st of this.endpoints.values()) {
      try {
        await this.d.controlPlane.writeEndpoint(ciliumEndpointObject(st, this.d.node));
      } catch (e) {
        // The pod's namespace was deleted while this agent was down: there is nothing to publish in,
        // and the runtime's DEL (or GC) removes the endpoint. Crashing here would loop forever.
        if (!isNotFound(e)) throw e;
        this.d.log(`endpoint ${st.endpointId} ${st.podNamespace}/${st.podName}: not republished, its namespace is gone (${(e as Error).message})`);
      }
    }
    for (const o of published) {
      if (![...this.endpoints.values()].some((e) => e.podNamespace === o.namespace && ciliumEndpointName(e) === o.name)) {
        await this.d.controlPlane.deleteEndpoint(o.namespace, o.name);
      }
    }
    return { restored, removed };
  }
}

export function toCniError(err: unknown, context: string): CniError {
  if (err instanceof CniError) return err;
  const e = err as Error & { detail?: string };
  return new CniError(CNI_ERR.OTHER, `${context}: ${e.message}`, e.detail);
}
