// The node agent (what cilium-agent is to Cilium): opens the datapath, sets up the node's devices,
// restores endpoints left by a previous run, keeps the ipcache and routes in step with the cluster,
// decodes flows, and serves its API (CNI requests included) on a unix socket. The socket appears only
// once restore is complete, which is what the harness waits for.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { ControlPlaneClient } from '../harness/cluster/client.js';
import type { ClusterSpec, NodeSpec } from '../harness/cluster/spec.js';
import { BPF_BUILD_DIR } from '../harness/paths.js';
import type { Datapath, DatapathConfig } from './datapath/types.js';
import { ClusterPoolIpam } from './ipam/pool.js';
import { IdentityCache, labelsToMap } from './identity/labels.js';
import { EndpointStateStore } from './endpoint/state.js';
import { EndpointManager } from './endpoint/manager.js';
import { controlPlaneForEndpoints } from './endpoint/cilium-endpoint.js';
import { IpcacheSync, type RemoteNode } from './routing/ipcache-sync.js';
import { setupNodeDevices, syncRemoteRoutes, HOST_DEV, VXLAN_DEV } from './routing/devices.js';
import { listLinks } from './routing/links.js';
import { run } from '../harness/exec/run.js';
import { decodeFlow, FlowRing, makeKtimeToDate, type FlowEndpoint } from './observer/flow.js';
import { DROP_REASON_NAMES } from './observer/names.js';
import { startAgentServer, stopAgentServer, type AgentApi } from './api/server.js';
import type { CniGcRequest, CniRequest } from './cni/protocol.js';
import { FakeDatapath } from './testing/fake-datapath.js';
import { ServiceHandling, type LbMaps } from './service/index.js';
import { FakeLbMaps } from './testing/fake-lb.js';
import { HealthProblems } from './health.js';
import { CorruptStateError, listQuarantined, quarantine } from './state-files.js';
import { agentFault } from './faults.js';
import { PolicyController, POLICY_WATCH_KINDS } from './policy/controller.js';

export interface AgentOptions {
  cluster: string;
  node: string;
  statePath: string;
  controlSocket: string;
  agentSocket: string;
  pinDir: string;
  nodeDir: string;
  /** BPF object to load; default bpf/build/datapath.o. */
  objectPath?: string;
  /** Socket-LB object (cgroup hooks); default bpf/build/bpf_sock.o. */
  sockObjectPath?: string;
  /** 'bpf' (libbpf) or 'fake' (in-memory, persisted in the pin dir; for tests without the datapath). */
  datapath: 'bpf' | 'fake';
  log: (m: string) => void;
}

const SYNC_TIMEOUT_MS = 15_000;
const WATCH_RETRY_MS = 1000;

async function openDatapath(opts: AgentOptions, cfg: DatapathConfig): Promise<Datapath> {
  if (opts.datapath === 'fake') return new FakeDatapath(cfg, join(opts.pinDir, 'fake-datapath.json'));
  // Loaded by a computed specifier: the libbpf implementation (and koffi) stays out of the CNI plugin's
  // and the unit tests' module graph, and this file compiles whether or not it is there.
  const specifier = './datapath/datapath.js';
  const mod = (await import(specifier)) as { openDatapath(cfg: DatapathConfig): Datapath };
  return mod.openDatapath(cfg);
}

/** The LB maps and the socket-LB hooks: bpf_sock.o loaded into the node's pins, its cgroup hooks attached
 *  when socket LB is on. Same computed-specifier loading as the datapath. */
async function openServiceDatapath(opts: AgentOptions, socketLB: boolean): Promise<{ maps: LbMaps & { close?(): void }; netnsCookie: (ns?: string) => bigint; hooks: string[] }> {
  if (opts.datapath === 'fake') {
    let n = 0n;
    const cookies = new Map<string, bigint>();
    return { maps: new FakeLbMaps(), netnsCookie: (ns = '') => cookies.get(ns) ?? (cookies.set(ns, ++n), n), hooks: [] };
  }
  const [sock, lb, netns] = await Promise.all(['./datapath/sock-lb.js', './datapath/lb-maps.js', './datapath/netns.js'].map((m) => import(m)));
  const objectPath = opts.sockObjectPath ?? join(BPF_BUILD_DIR, 'bpf_sock.o');
  const hooks = (sock.setupSocketLb as (o: object) => string[])({ pinDir: opts.pinDir, objectPath, attach: socketLB });
  return { maps: lb.openLbMaps(opts.pinDir), netnsCookie: netns.netnsCookie, hooks };
}

/** How often the BGP speaker's state is checked for the health report. */
const BGP_CHECK_MS = 1000;

export class Agent implements AgentApi {
  private spec!: ClusterSpec;
  private self!: NodeSpec;
  private datapath!: Datapath;
  private cp: ControlPlaneClient;
  private identityCache: IdentityCache;
  private endpointsMgr!: EndpointManager;
  private ipcacheSync!: IpcacheSync;
  private svc?: ServiceHandling;
  private lbMaps?: LbMaps & { close?(): void };
  private policy!: PolicyController;
  private flowsRing = new FlowRing(4096);
  private server?: Server;
  private stopWatch?: () => void;
  private stopEvents?: () => void;
  private routeQueue: Promise<void> = Promise.resolve();
  private stopping = false;
  /** What is wrong, by source; each source clears only its own problem. */
  private health = new HealthProblems();
  private resyncTimer?: NodeJS.Timeout;
  private bgpTimer?: NodeJS.Timeout;

  constructor(private opts: AgentOptions) {
    this.cp = new ControlPlaneClient(opts.controlSocket, opts.cluster);
    this.identityCache = new IdentityCache((labels) => this.cp.allocateIdentity(labels));
  }

  async start(): Promise<void> {
    const { opts } = this;
    const t0 = performance.now();
    this.spec = JSON.parse(readFileSync(opts.statePath, 'utf8')) as ClusterSpec;
    const self = this.spec.nodes.find((n) => n.name === opts.node);
    if (!self) throw new Error(`node "${opts.node}" is not in cluster "${this.spec.name}" (${opts.statePath})`);
    this.self = self;

    this.datapath = await openDatapath(opts, {
      pinDir: opts.pinDir,
      objectPath: opts.objectPath ?? join(BPF_BUILD_DIR, 'datapath.o'),
      routing: this.spec.routing,
      nodeIp: self.underlayIp,
      routerIp: self.podGateway,
      podCidr: self.podCidr,
    });

    const devices = await setupNodeDevices(this.spec, self);
    if (devices.vxlan) this.datapath.attachOverlayDevice(VXLAN_DEV, devices.vxlan.ifindex);
    this.datapath.attachHostDevice(HOST_DEV, devices.host.ifindex);

    this.ipcacheSync = new IpcacheSync(this.datapath, self.name, this.identityCache, (nodes) => this.onRemoteNodes(nodes), opts.log);
    // Corrupt state files are moved aside (and reported in health) instead of failing every start:
    // IPAM allocations are rebuilt from the endpoints' states by restore().
    const onCorrupt = (e: CorruptStateError) => quarantine(e.file, e.why, opts.log);
    const ipamFile = join(opts.nodeDir, 'ipam.json');
    let ipam: ClusterPoolIpam;
    try {
      ipam = new ClusterPoolIpam(self.podCidr, self.podGateway, ipamFile);
    } catch (e) {
      if (!(e instanceof CorruptStateError)) throw e;
      onCorrupt(e);
      ipam = new ClusterPoolIpam(self.podCidr, self.podGateway, ipamFile);
    }
    this.endpointsMgr = new EndpointManager({
      spec: this.spec,
      node: self,
      datapath: this.datapath,
      ipam,
      identities: this.identityCache,
      states: new EndpointStateStore(join(opts.nodeDir, 'endpoints'), (e) => {
        onCorrupt(e);
        this.reportQuarantined();
      }),
      controlPlane: controlPlaneForEndpoints(this.cp),
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
    });
    this.endpointsMgr.setPolicyHooks(this.policy);
    const { restored, removed } = await this.endpointsMgr.restore();
    this.reportQuarantined();
    // Native routing: from_netdev on the underlay device delivers other nodes' pod traffic, and only
    // once the restored endpoints are in the maps (it would otherwise pass their packets to the stack).
    if (this.spec.routing === 'native') await this.startNativeRouting();
    // Tunnel mode too: from_netdev on the underlay device is where NodePort traffic from outside arrives.
    else await this.attachUnderlay().catch((e: Error) => opts.log(`NodePort from the underlay unavailable: ${e.message}`));

    // Services: the LB maps (and socket LB hooks) before the watch, so the first SYNCED programs them.
    const lb = this.spec.loadBalancer ?? { algorithm: 'random', socketLB: true };
    const svcDp = await openServiceDatapath(opts, lb.socketLB);
    this.lbMaps = svcDp.maps;
    this.svc = new ServiceHandling({
      maps: svcDp.maps,
      nodeName: self.name,
      nodeIp: self.underlayIp,
      algorithm: lb.algorithm,
      watch: (kinds, handler, onEnd) => this.cp.watch(kinds, handler as never, onEnd),
      netnsCookie: svcDp.netnsCookie,
      log: opts.log,
    });
    const servicesSynced = this.svc.start(
      this.endpointsMgr.list().map((e) => ({ netns: e.netns, ip: e.ip, identity: e.identity })),
      SYNC_TIMEOUT_MS,
    );
    opts.log(`services: socket LB ${svcDp.hooks.length ? `attached (${svcDp.hooks.join(', ')})` : 'off (per-packet LB only)'}, algorithm ${lb.algorithm}`);

    const toDate = makeKtimeToDate();
    this.stopEvents = this.datapath.onEvents((ev) => {
      try {
        this.flowsRing.push(decodeFlow(ev, { nodeName: self.name, resolve: (ip, id) => this.resolveEndpoint(ip, id), toDate, service: (id) => this.svc?.manager.serviceOf(id) }));
      } catch (e) {
        opts.log(`flow decode: ${(e as Error).message}`);
      }
    });

    await this.startWatch();
    await servicesSynced;
    this.server = await startAgentServer(opts.agentSocket, this, opts.log);
    opts.log(
      `agent ${self.name} ready in ${Math.round(performance.now() - t0)} ms: ${restored} endpoints restored, ${removed} leftovers removed, ` +
        `${this.ipcacheSync.remoteNodes().length} remote nodes, API on ${opts.agentSocket}`,
    );
  }

  /** Quarantined state files stay a health problem until someone removes them. */
  private reportQuarantined(): void {
    const files = listQuarantined(this.opts.nodeDir);
    if (files.length) this.health.set('state', `quarantined corrupt state files (the agent went on without them; remove them once looked at): ${files.join(', ')}`);
    else this.health.clear('state');
  }

  /**
   * Watch what the ipcache and the policies need; resolves at the first SYNCED. Reconnects when the
   * stream ends. An ipcache update that fails stays a problem until a full resync (a new watch, which
   * lists everything again) goes through without a failure; one is scheduled right away.
   */
  private startWatch(): Promise<void> {
    return new Promise((resolve, reject) => {
      let first = true;
      let failedSinceConnect = false;
      const timer = setTimeout(() => reject(new Error(`no SYNCED from the control plane within ${SYNC_TIMEOUT_MS} ms`)), SYNC_TIMEOUT_MS);
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
        this.stopWatch = this.cp.watch(
          [...new Set(['Node', 'CiliumEndpoint', ...POLICY_WATCH_KINDS])],
          (ev) => {
            this.policy.handle(ev as never);
            try {
              this.ipcacheSync.handle(ev);
            } catch (e) {
              failedSinceConnect = true;
              if (this.health.set('ipcache', `ipcache update failed: ${(e as Error).message}; resyncing`)) this.opts.log(this.health.get('ipcache')!);
              resyncSoon();
            }
            if (ev.type === 'SYNCED') {
              this.health.clear('watch');
              if (!failedSinceConnect) this.health.clear('ipcache');
              if (first) {
                first = false;
                clearTimeout(timer);
                resolve();
              }
            }
          },
          (err) => {
            if (this.stopping) return;
            this.health.set('watch', `control plane watch ended${err ? `: ${err.message}` : ''}; reconnecting`);
            this.opts.log(this.health.get('watch')!);
            setTimeout(connect, WATCH_RETRY_MS).unref();
          },
        );
      };
      connect();
    });
  }

  /** from_netdev on the device holding the node's underlay address (eth0). */
  private async attachUnderlay(): Promise<void> {
    const { self } = this;
    const addrs = JSON.parse((await run(['ip', '-j', 'addr', 'show'], { timeoutMs: 10_000 })).stdout || '[]') as Array<{ ifname: string; ifindex: number; addr_info?: Array<{ local: string }> }>;
    const underlay = addrs.find((l) => l.addr_info?.some((a) => a.local === self.underlayIp)) ?? (await listLinks()).find((l) => l.ifname === 'eth0');
    if (!underlay) throw new Error(`no device holds the node's underlay address ${self.underlayIp}`);
    if (!this.datapath.attachNetdevDevice) throw new Error('this datapath has no attachNetdevDevice');
    this.datapath.attachNetdevDevice(underlay.ifname, underlay.ifindex);
  }

  private async startNativeRouting(): Promise<void> {
    const { opts, self, spec } = this;
    await this.attachUnderlay();
    // bird is daemonized and outlives the agent (routes stay while it restarts); a new agent adopts it.
    const { BgpSpeaker } = await import('./routing/bgp.js');
    const speaker = new BgpSpeaker({
      cluster: opts.cluster,
      node: self.name,
      nodeIp: self.underlayIp,
      podCidr: self.podCidr,
      reflectorIp: spec.underlayGateway,
      podSubnet: spec.podSubnet,
      runDir: opts.nodeDir,
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
    if (this.spec.routing !== 'tunnel') return; // native routing: bird installs the routes
    const cidrs = agentFault('no-remote-routes') ? [] : nodes.map((n) => n.podCidr);
    this.routeQueue = this.routeQueue
      .then(() => syncRemoteRoutes(this.self, this.spec.podMtu, cidrs))
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
    // Each source reports on its own (health.ts); the policy and service handlers keep their own problem.
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
  flows(last: number) {
    return { flows: this.flowsRing.last(last), seen: this.flowsRing.seen, capacity: this.flowsRing.capacity };
  }
  services() {
    return this.svc?.manager.list() ?? [];
  }
  async cniAdd(req: CniRequest) {
    const result = await this.endpointsMgr.add(req);
    const st = this.endpointsMgr.list().find((e) => e.containerId === req.containerId);
    try {
      if (st) this.svc?.endpointAdded({ netns: st.netns, ip: st.ip, identity: st.identity });
    } catch (e) {
      // The pod works without it: its connections to services then take the per-packet path.
      this.opts.log(`services: socket LB not set up for ${st?.podNamespace}/${st?.podName}: ${(e as Error).message}`);
    }
    return result;
  }
  async cniDel(req: CniRequest) {
    const st = this.endpointsMgr.list().find((e) => e.containerId === req.containerId);
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
    if (this.server) stopAgentServer(this.server, this.opts.agentSocket);
    this.stopWatch?.();
    this.svc?.stop();
    this.lbMaps?.close?.();
    this.stopEvents?.();
    this.policy?.stop();
    this.datapath?.close();
  }
}
