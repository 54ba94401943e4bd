// The node agent (what cilium-agent is to Cilium): opens the datapath, sets up the node's devices,
// restores endpoints left by a previous run, keeps the ipcache and routes in step with the cluster,
// decodes flows, and serves its API (CNI requests included) on a unix socket. The socket appears only
// once restore is complete, which is what the harness waits for.
import { join } from 'node:path';
import type { Server } from 'node:http';
import type { AgentConfig, AgentNetwork, AgentNode } from './config.js';
import { networkOf, resolveNode } from './config.js';
import type { Datapath, DatapathConfig } from './datapath/types.js';
import { ClusterPoolIpam } from './ipam/pool.js';
import { IdentityCache, labelsToMap } from './identity/labels.js';
import { CrdIdentityAllocator } from './identity/crd-allocator.js';
import { EndpointStateStore } from './endpoint/state.js';
import { EndpointManager } from './endpoint/manager.js';
import { kubeEndpointControlPlane } from './endpoint/cilium-endpoint.js';
import { IpcacheSync, type RemoteNode } from './routing/ipcache-sync.js';
import { setupNodeDevices, syncRemoteRoutes, HOST_DEV, VXLAN_DEV } from './routing/devices.js';
import { listLinks } from './routing/links.js';
import { run } from '../lib/exec/run.js';
import type { Flow, FlowEndpoint } from './observer/flow.js';
import { DROP_REASON_NAMES } from './observer/names.js';
import { NodeObserver } from './observer/node-observer.js';
import type { Observer } from './observer/observer.js';
import { startAgentServer, stopAgentServer, type AgentApi } from './api/server.js';
import type { CniGcRequest, CniRequest } from './cni/protocol.js';
import { FakeDatapath } from './testing/fake-datapath.js';
import { ServiceHandling, type LbMaps } from './service/index.js';
import { FakeLbMaps } from './testing/fake-lb.js';
import { HealthProblems } from './health.js';
import { CorruptStateError, listQuarantined, quarantine } from './state-files.js';
import { agentFault } from './faults.js';
import { PolicyController, POLICY_WATCH_KINDS } from './policy/controller.js';
import { KubeTransport } from './k8s/transport.js';
import { KubeInformers } from './k8s/informers.js';
import { NodeStatusPublisher } from './k8s/node-status.js';

export interface AgentOptions {
  /** The agent's config file, parsed (agent/config.ts): node, routing, paths, the kubeconfig. */
  config: AgentConfig;
  log: (m: string) => void;
}

const SYNC_TIMEOUT_MS = 15_000;
/** Delay before the resync that follows a failed ipcache update. */
const WATCH_RETRY_MS = 1000;

async function openDatapath(cfg: AgentConfig, dp: DatapathConfig): Promise<Datapath> {
  if (cfg.datapath === 'fake') return new FakeDatapath(dp, join(cfg.bpf.pinDir, 'fake-datapath.json'));
  // Loaded by a computed specifier: the libbpf implementation (and koffi) stays out of the CNI plugin's
  // and the unit tests' module graph, and this file compiles whether or not it is there.
  const specifier = './datapath/datapath.js';
  const mod = (await import(specifier)) as { openDatapath(cfg: DatapathConfig): Datapath };
  return mod.openDatapath(dp);
}

/** The LB maps and the socket-LB hooks: bpf_sock.o loaded into the node's pins, its cgroup hooks attached
 *  when socket LB is on. Same computed-specifier loading as the datapath. */
async function openServiceDatapath(cfg: AgentConfig, socketLB: boolean): Promise<{ maps: LbMaps & { close?(): void }; netnsCookie: (ns?: string) => bigint; hooks: string[] }> {
  if (cfg.datapath === 'fake') {
    let n = 0n;
    const cookies = new Map<string, bigint>();
    return { maps: new FakeLbMaps(), netnsCookie: (ns = '') => cookies.get(ns) ?? (cookies.set(ns, ++n), n), hooks: [] };
  }
  const [sock, lb, netns] = await Promise.all(['./datapath/sock-lb.js', './datapath/lb-maps.js', './datapath/netns.js'].map((m) => import(m)));
  const hooks = (sock.setupSocketLb as (o: object) => string[])({ pinDir: cfg.bpf.pinDir, objectPath: cfg.bpf.sockObject, attach: socketLB });
  return { maps: lb.openLbMaps(cfg.bpf.pinDir), netnsCookie: netns.netnsCookie, hooks };
}

/** How often the BGP speaker's state is checked for the health report. */
const BGP_CHECK_MS = 1000;

export class Agent implements AgentApi {
  private net: AgentNetwork;
  private self!: AgentNode;
  private datapath!: Datapath;
  private transport: KubeTransport;
  private k8s: KubeInformers;
  private allocator: CrdIdentityAllocator;
  private identityCache: IdentityCache;
  private endpointsMgr!: EndpointManager;
  private ipcacheSync!: IpcacheSync;
  private nodeObserver?: NodeObserver;
  private svc?: ServiceHandling;
  private lbMaps?: LbMaps & { close?(): void };
  private policy!: PolicyController;
  private nodeStatus?: NodeStatusPublisher;
  private server?: Server;
  private stopWatch?: () => void;
  private routeQueue: Promise<void> = Promise.resolve();
  private stopping = false;
  /** What is wrong, by source; each source clears only its own problem. */
  private health = new HealthProblems();
  private resyncTimer?: NodeJS.Timeout;
  private bgpTimer?: NodeJS.Timeout;

  constructor(private opts: AgentOptions) {
    const cfg = opts.config;
    this.net = networkOf(cfg);
    this.transport = KubeTransport.load(cfg.kubeconfig);
    this.k8s = new KubeInformers(this.transport, { resyncMs: cfg.resyncPeriodSeconds * 1000, log: opts.log });
    this.allocator = new CrdIdentityAllocator(this.transport, {
      log: opts.log,
      inUse: () => (this.endpointsMgr?.list() ?? []).map((e) => ({ id: e.identity, labels: e.labels })),
      onDuplicate: (labels) => this.convergeIdentity(labels),
    });
    // Before the informers start: the allocator's index must see the first list.
    this.k8s.onKind('CiliumIdentity', this.allocator.handlers);
    this.identityCache = new IdentityCache((labels) => this.allocator.allocate(labels));
  }

  /**
   * Local endpoints whose labels a lower-numbered identity also holds move to it (their relabel resolves
   * to the lowest), so that two agents that raced to different numbers end on one. A failure is logged:
   * the endpoint keeps a valid (if duplicate) identity, which policy selects like the other.
   */
  private convergeIdentity(labels: string[]): void {
    if (!this.endpointsMgr) return; // before restore: restore converges what it brings back
    const lowest = this.allocator.lookup(labels);
    const key = JSON.stringify([...new Set(labels)].sort());
    for (const ep of this.endpointsMgr.list()) {
      if (lowest === undefined || ep.identity === lowest || JSON.stringify([...ep.labels].sort()) !== key) continue;
      this.endpointsMgr.relabel(ep.containerId, ep.labels).catch((e) => this.opts.log(`identity of ${ep.podNamespace}/${ep.podName}: ${(e as Error).message}`));
    }
  }

  async start(): Promise<void> {
    const { opts, net } = this;
    const cfg = opts.config;
    const t0 = performance.now();
    // The API first: its caches fill while the datapath loads.
    await this.k8s.checkServed();
    this.k8s.start();
    const synced = this.k8s.synced(SYNC_TIMEOUT_MS);
    synced.catch(() => undefined); // awaited below
    // The node's addressing: from the config file, else from its Node object (then the caches are needed first).
    if (!cfg.podCIDR || !cfg.nodeIP) await synced;
    const self = resolveNode(cfg, this.k8s.isSynced ? this.k8s.node(cfg.nodeName) : undefined);
    this.self = self;

    this.datapath = await openDatapath(cfg, {
      pinDir: cfg.bpf.pinDir,
      objectPath: cfg.bpf.object,
      routing: net.routing,
      nodeIp: self.underlayIp,
      routerIp: self.podGateway,
      podCidr: self.podCidr,
    });

    const devices = await setupNodeDevices(net, self);
    if (devices.vxlan) this.datapath.attachOverlayDevice(VXLAN_DEV, devices.vxlan.ifindex);
    this.datapath.attachHostDevice(HOST_DEV, devices.host.ifindex);

    this.ipcacheSync = new IpcacheSync(this.datapath, self.name, this.identityCache, (nodes) => this.onRemoteNodes(nodes), opts.log);
    // Corrupt state files are moved aside (and reported in health) instead of failing every start:
    // IPAM allocations are rebuilt from the endpoints' states by restore().
    const onCorrupt = (e: CorruptStateError) => quarantine(e.file, e.why, opts.log);
    const ipamFile = join(cfg.stateDir, 'ipam.json');
    let ipam: ClusterPoolIpam;
    try {
      ipam = new ClusterPoolIpam(self.podCidr, self.podGateway, ipamFile);
    } catch (e) {
      if (!(e instanceof CorruptStateError)) throw e;
      onCorrupt(e);
      ipam = new ClusterPoolIpam(self.podCidr, self.podGateway, ipamFile);
    }
    this.endpointsMgr = new EndpointManager({
      spec: net,
      node: self,
      datapath: this.datapath,
      ipam,
      identities: this.identityCache,
      states: new EndpointStateStore(join(cfg.stateDir, 'endpoints'), (e) => {
        onCorrupt(e);
        this.reportQuarantined();
      }),
      controlPlane: kubeEndpointControlPlane(this.transport, this.k8s),
      ipcache: this.ipcacheSync,
      log: opts.log,
    });
    this.policy = new PolicyController({
      node: self.name,
      datapath: this.datapath,
      endpoints: this.endpointsMgr,
      identities: this.identityCache,
      ipcache: this.ipcacheSync,
      log: opts.log,
      onFlushed: () => this.nodeStatus?.check(),
    });
    this.endpointsMgr.setPolicyHooks(this.policy);
    await synced; // restore compares with the CiliumEndpoints published for this node
    const { restored, removed } = await this.endpointsMgr.restore();
    for (const ep of this.endpointsMgr.list()) await this.allocator.ensure(ep.identity, ep.labels);
    for (const ep of this.endpointsMgr.list()) this.convergeIdentity(ep.labels); // duplicates made while away
    this.reportQuarantined();
    // Native routing: from_netdev on the underlay device delivers other nodes' pod traffic, and only
    // once the restored endpoints are in the maps (it would otherwise pass their packets to the stack).
    if (net.routing === 'native') await this.startNativeRouting();
    // Tunnel mode too: from_netdev on the underlay device is where NodePort traffic from outside arrives.
    else await this.attachUnderlay().catch((e: Error) => opts.log(`NodePort from the underlay unavailable: ${e.message}`));

    // Services: the LB maps (and socket LB hooks) before the watch, so the first SYNCED programs them.
    const lb = cfg.loadBalancer;
    const svcDp = await openServiceDatapath(cfg, lb.socketLB);
    this.lbMaps = svcDp.maps;
    this.svc = new ServiceHandling({
      maps: svcDp.maps,
      nodeName: self.name,
      nodeIp: self.underlayIp,
      algorithm: lb.algorithm,
      // The informers reconnect on their own: this stream never ends (their problems are the 'watch' health).
      watch: (kinds, handler) => this.k8s.watch(kinds, handler as never),
      netnsCookie: svcDp.netnsCookie,
      log: opts.log,
    });
    const servicesSynced = this.svc.start(
      this.endpointsMgr.list().map((e) => ({ netns: e.netns, ip: e.ip, identity: e.identity })),
      SYNC_TIMEOUT_MS,
    );
    opts.log(`services: socket LB ${svcDp.hooks.length ? `attached (${svcDp.hooks.join(', ')})` : 'off (per-packet LB only)'}, algorithm ${lb.algorithm}`);

    this.nodeObserver = new NodeObserver({
      nodeName: self.name,
      config: cfg.hubble,
      datapath: this.datapath,
      resolve: (ip, id) => this.resolveEndpoint(ip, id),
      service: (id) => this.svc?.manager.serviceOf(id),
      endpointIfname: (ifindex) => this.endpointsMgr.list().find((e) => e.ifindex === ifindex)?.hostIfname,
      listLinks,
      log: opts.log,
      lostStateFile: join(cfg.stateDir, 'observer-lost.json'),
    });
    await this.nodeObserver.start();

    this.startWatch();
    await servicesSynced;
    this.nodeStatus = new NodeStatusPublisher({
      transport: this.transport,
      informers: this.k8s,
      node: self,
      realized: () => ({ revision: this.policy.revision, problem: this.policy.problem }),
      log: opts.log,
    });
    await this.nodeStatus.start();
    this.server = await startAgentServer(cfg.agentSocket, this, opts.log);
    opts.log(
      `agent ${self.name} ready in ${Math.round(performance.now() - t0)} ms: ${restored} endpoints restored, ${removed} leftovers removed, ` +
        `${this.ipcacheSync.remoteNodes().length} remote nodes, API on ${cfg.agentSocket}, Kubernetes API ${this.transport.server}`,
    );
  }

  /** Quarantined state files stay a health problem until someone removes them. */
  private reportQuarantined(): void {
    const files = listQuarantined(this.opts.config.stateDir);
    if (files.length) this.health.set('state', `quarantined corrupt state files (the agent went on without them; remove them once looked at): ${files.join(', ')}`);
    else this.health.clear('state');
  }

  /**
   * What the ipcache and the policies need, from the informers' caches (replayed, then SYNCED, then
   * changes and BOOKMARKs of the stream's progress). The informers reconnect and relist on their own
   * (their problems are the 'watch' health source, see healthz). An ipcache update that fails stays a
   * problem until a full resync (a new subscription, which replays every cached object before SYNCED)
   * goes through without a failure; one is scheduled right away.
   */
  private startWatch(): void {
    let failedSinceConnect = false;
    const resyncSoon = () => {
      if (this.resyncTimer || this.stopping) return;
      this.resyncTimer = setTimeout(() => {
        this.resyncTimer = undefined;
        this.stopWatch?.();
        connect();
      }, WATCH_RETRY_MS);
      this.resyncTimer.unref();
    };
    const connect = () => {
      failedSinceConnect = false;
      this.ipcacheSync.resetWatchState();
      this.policy.resetWatchState();
      this.stopWatch = this.k8s.watch([...new Set(['Node', 'CiliumEndpoint', ...POLICY_WATCH_KINDS])], (ev) => {
        this.policy.handle(ev as never);
        try {
          this.ipcacheSync.handle(ev as never);
        } catch (e) {
          failedSinceConnect = true;
          if (this.health.set('ipcache', `ipcache update failed: ${(e as Error).message}; resyncing`)) this.opts.log(this.health.get('ipcache')!);
          resyncSoon();
        }
        if (ev.type === 'SYNCED' && !failedSinceConnect) this.health.clear('ipcache');
      });
    };
    connect();
  }

  /** from_netdev on the device holding the node's underlay address (eth0). */
  private async attachUnderlay(): Promise<void> {
    const { self, net } = this;
    const addrs = JSON.parse((await run(['ip', '-j', 'addr', 'show'], { timeoutMs: 10_000 })).stdout || '[]') as Array<{ ifname: string; ifindex: number; addr_info?: Array<{ local: string }> }>;
    const underlay = addrs.find((l) => l.addr_info?.some((a) => a.local === self.underlayIp)) ?? (await listLinks()).find((l) => l.ifname === net.underlayDevice);
    if (!underlay) throw new Error(`no device holds the node's underlay address ${self.underlayIp}`);
    if (!this.datapath.attachNetdevDevice) throw new Error('this datapath has no attachNetdevDevice');
    this.datapath.attachNetdevDevice(underlay.ifname, underlay.ifindex);
  }

  private async startNativeRouting(): Promise<void> {
    const { opts, self, net } = this;
    const cfg = opts.config;
    await this.attachUnderlay().catch((e: Error) => {
      throw new Error(`native routing: ${e.message}`);
    });
    // bird is daemonized and outlives the agent (routes stay while it restarts); a new agent adopts it.
    const { BgpSpeaker } = await import('./routing/bgp.js');
    const speaker = new BgpSpeaker({
      cluster: cfg.cluster,
      node: self.name,
      nodeIp: self.underlayIp,
      podCidr: self.podCidr,
      reflectorIp: net.bgp!.peerAddress,
      asn: net.bgp!.asn,
      podSubnet: net.podSubnet,
      runDir: cfg.stateDir,
      log: opts.log,
    });
    await speaker.start();
    // The agent does not restart bird on its own (a stopped speaker is a fault the faults suite
    // injects and measures); it reports it, so `cnilab status` and health checks show it.
    const check = async () => {
      try {
        const st = await speaker.status();
        const problem = !st.running ? 'BGP speaker (bird) is not running' : st.established ? undefined : 'BGP session to the route reflector is not established';
        if (problem) this.health.set('bgp', problem);
        else this.health.clear('bgp');
      } catch (e) {
        this.health.set('bgp', `BGP status: ${(e as Error).message}`);
      }
    };
    this.bgpTimer = setInterval(() => void check(), BGP_CHECK_MS);
    this.bgpTimer.unref();
  }

  private onRemoteNodes(nodes: RemoteNode[]): void {
    if (this.net.routing !== 'tunnel') return; // native routing: bird installs the routes
    const cidrs = agentFault('no-remote-routes') ? [] : nodes.map((n) => n.podCidr);
    this.routeQueue = this.routeQueue
      .then(() => syncRemoteRoutes(this.self, this.net.podMtu, cidrs))
      .then(
        () => this.health.clear('routes'),
        (e) => {
          if (this.health.set('routes', `routes to remote pod CIDRs: ${(e as Error).message}`)) this.opts.log(this.health.get('routes')!);
        },
      );
  }

  private resolveEndpoint(ip: string, identity: number): Omit<FlowEndpoint, 'identity'> {
    const local = this.endpointsMgr.byIp(ip);
    if (local) return { ID: local.endpointId, namespace: local.podNamespace, pod_name: local.podName, labels: local.labels };
    const remote = this.ipcacheSync.remoteByIp(ip);
    if (remote) return { namespace: remote.namespace, pod_name: remote.name, labels: remote.labels };
    const labels = this.identityCache.labelsOf(identity);
    return labels ? { labels } : {};
  }

  // ---- API ----
  healthz() {
    // Each source reports on its own (health.ts); the informers report their reconnects; the policy and
    // service handlers keep their own problem.
    const informerProblems = this.k8s.problems();
    if (informerProblems.length) this.health.set('watch', informerProblems.join('; '));
    else this.health.clear('watch');
    const problems = this.health.list();
    if (!this.ipcacheSync.isSynced) problems.push('ipcache: not synced');
    const svcProblem = this.svc?.problem;
    if (svcProblem) problems.push(`services: ${svcProblem}`);
    const policyProblem = this.policy.problem;
    if (policyProblem) problems.push(`policy: ${policyProblem}`);
    // Mutation testing only (agent/faults.ts): health that lies.
    const message = agentFault('health-always-ok') ? '' : problems.join('; ');
    return {
      ok: !message,
      ...(message ? { message } : {}),
      node: this.self.name,
      endpoints: this.endpointsMgr.list().length,
      policyRevision: this.policy.revision,
      ...(policyProblem ? { policyProblem } : {}),
    };
  }
  /** The informers (synced, progress, reconnects) and the identity allocator, for `GET /v1/k8s`. */
  k8sStatus() {
    return { server: this.transport.server, informers: this.k8s.status(), identities: { known: this.allocator.size, ...this.allocator.stats }, nodeStatus: this.nodeStatus?.stats };
  }
  policyStatus(entries: boolean) {
    return this.policy.status({ entries });
  }
  endpoints() {
    return this.endpointsMgr.list();
  }
  identities() {
    return this.identityCache.list().map((i) => ({ ...i, labelsMap: labelsToMap(i.labels) }));
  }
  ipcache() {
    return this.datapath.listIpcache();
  }
  maps() {
    return {
      maps: this.datapath.describeMaps(),
      drops: this.datapath.dropCounters().map((d) => ({ ...d, reasonDesc: DROP_REASON_NAMES[d.reason] ?? `DROP_REASON_${d.reason}` })),
      lostEvents: this.datapath.lostEvents(),
    };
  }
  observer(): Observer | undefined {
    return this.nodeObserver?.observer;
  }
  flows(last: number) {
    const obs = this.nodeObserver?.observer;
    const flows: Flow[] = [];
    obs?.getFlows({ number: last }, { write: (r) => ('flow' in r && flows.push(r.flow), true), end: () => undefined });
    return { flows, seen: obs?.ring.next ?? 0, capacity: obs?.ring.capacity ?? 0 };
  }
  services() {
    return this.svc?.manager.list() ?? [];
  }
  async cniAdd(req: CniRequest) {
    const result = await this.endpointsMgr.add(req);
    const st = this.attachment(req);
    try {
      if (st) this.svc?.endpointAdded({ netns: st.netns, ip: st.ip, identity: st.identity });
    } catch (e) {
      // The pod works without it: its connections to services then take the per-packet path.
      this.opts.log(`services: socket LB not set up for ${st?.podNamespace}/${st?.podName}: ${(e as Error).message}`);
    }
    return result;
  }
  /** The endpoint of one CNI attachment: CNI keys attachments by (container ID, ifname). */
  private attachment(req: CniRequest) {
    return this.endpointsMgr.list().find((e) => e.containerId === req.containerId && e.podIfname === req.ifname);
  }
  async cniDel(req: CniRequest) {
    const st = this.attachment(req);
    if (st) this.svc?.endpointRemoved(st.netns);
    return this.endpointsMgr.del(req);
  }
  cniCheck(req: CniRequest) {
    return this.endpointsMgr.check(req);
  }
  cniGc(req: CniGcRequest) {
    return this.endpointsMgr.gc(req.validAttachments);
  }

  /** Stop serving; the datapath keeps its pins and attachments so pods keep forwarding. */
  stop(): void {
    this.stopping = true;
    if (this.bgpTimer) clearInterval(this.bgpTimer);
    if (this.resyncTimer) clearTimeout(this.resyncTimer);
    if (this.server) stopAgentServer(this.server, this.opts.config.agentSocket);
    this.stopWatch?.();
    this.nodeStatus?.stop();
    this.k8s.stop();
    this.transport.close();
    this.nodeObserver?.stop();
    this.svc?.stop();
    this.lbMaps?.close?.();
    this.policy?.stop();
    this.datapath?.close();
  }
}
