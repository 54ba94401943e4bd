// The contract between the agent and its eBPF datapath. The agent only ever talks to the datapath
// through this interface; agent/datapath/datapath.ts implements it with libbpf (through koffi).
import type { EndpointPolicy } from '../policy/types.js';

export type RoutingMode = 'tunnel' | 'native';

export interface DatapathConfig {
  /** bpffs directory for this node's pins, e.g. /sys/fs/bpf/cnilab/<cluster>/<node>. */
  pinDir: string;
  /** The compiled BPF object to load (default: bpf/build/datapath.o). Tests load broken variants. */
  objectPath?: string;
  routing: RoutingMode;
  /** This node's underlay address (eth0), the tunnel source. */
  nodeIp: string;
  /** The node's router address in its pod CIDR (on cilium_host), the pods' gateway. */
  routerIp: string;
  /** The node's pod CIDR, e.g. 198.19.1.0/24. */
  podCidr: string;
}

export interface ObserverDatapathConfig {
  traces: boolean;
  /** Trace aggregation in the datapath (hubble.monitorAggregation); medium when absent. */
  monitorAggregation?: 'none' | 'low' | 'medium' | 'maximum';
  l7Ports: Array<{ port: number; protocol: 'TCP' | 'UDP'; parser: 'dns' | 'http' }>;
}

/** A local pod endpoint as the datapath sees it. */
export interface EndpointEntry {
  /** ifindex of the host-side veth (lxcXXXX) in the node netns. */
  ifindex: number;
  /** The pod's IPv4 address. */
  ip: string;
  /** MAC of the pod's eth0 (destination MAC when delivering to the pod). */
  podMac: string;
  /** MAC of the host-side veth (source MAC when delivering, and the answer to the pod's gateway ARP). */
  hostMac: string;
  /** Numeric security identity of the pod. */
  identity: number;
  /** Cilium-style endpoint ID (small integer, unique on the node). */
  endpointId: number;
}

/** What the ipcache knows about an IP or CIDR: its identity and, for remote pods, the node to tunnel to. */
export interface IpcacheEntry {
  identity: number;
  /** Underlay IP of the node hosting it; absent for local endpoints and for the world. Keep it set in
   *  native mode too: the datapath then checks that the FIB's nexthop for the address is that node and
   *  drops with FIB_LOOKUP_FAILED when the node's route is gone (instead of using a default route). */
  tunnelEndpoint?: string;
}

/** Decoded datapath event (the ring buffer's record). Numbers follow Hubble's enums (REFERENCE.md). */
export interface DatapathEvent {
  /** Monotonic kernel time in ns (bpf_ktime_get_ns). */
  ktimeNs: bigint;
  kind: 'drop' | 'trace' | 'policy-verdict' | 'l7-capture' | 'sock-xlate';
  /** For drops: Hubble DropReason number. For policy verdicts: the drop reason when the verdict denied the
   *  connection (133 POLICY_DENIED: no allow entry, 181 POLICY_DENY: an explicit deny), absent when allowed. */
  dropReason?: number;
  /** For policy verdicts and policy drops (133/181): Cilium's policy match type (POLICY_MATCH in
   *  constants.ts: 0 none, 1 L3-only, 2 L3-L4, 3 L4-only, 4 all, 5 L3-proto, 6 proto-only), the kind of
   *  entry that decided, Hubble's policy_match_type. */
  policyMatchType?: number;
  /** For traces: Hubble TraceObservationPoint number. */
  observationPoint?: number;
  /** 1 ingress, 2 egress (Hubble TrafficDirection), 0 unknown. */
  direction: number;
  ifindex: number;
  srcIdentity: number;
  dstIdentity: number;
  srcIp: string;
  dstIp: string;
  /** IP protocol number (6 tcp, 17 udp, 1 icmp). */
  protocol: number;
  srcPort: number;
  dstPort: number;
  /** TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20, ECE 0x40, CWR 0x80). */
  tcpFlags: number;
  /** ICMP type/code when protocol is 1. */
  icmpType?: number;
  icmpCode?: number;
  isReply: boolean;
  /** Length of the packet. */
  length: number;
  /** Ethernet addresses of the frame as the hook saw it (absent in records that do not carry them). */
  ethSrc?: string;
  ethDst?: string;
  /** Hubble TraceReason number (1 NEW, 2 ESTABLISHED, 3 REPLY, ...), from conntrack. */
  traceReason?: number;
  /** The first bytes of the L4 payload, copied for ports configured for L7 visibility. */
  payload?: Buffer;
  /** Socket-LB events: Hubble SocketTranslationPoint (1 pre/2 post forward, 3 pre/4 post reverse). */
  sockXlatePoint?: number;
  /** The service (port) id the packet or socket was load-balanced for (agent/service maps it back). */
  svcId?: number;
}

export interface Datapath {
  readonly config: DatapathConfig;
  /** Attach from-container (tc ingress) and to-container (tc egress) on a pod's host-side veth. */
  attachEndpointDevice(ifname: string, ifindex: number): void;
  /** Attach from-overlay on cilium_vxlan (tc ingress) and record its ifindex as the tunnel device. */
  attachOverlayDevice(ifname: string, ifindex: number): void;
  /** Attach the host programs: on cilium_host egress (host → remote pods through the tunnel). */
  attachHostDevice(ifname: string, ifindex: number): void;
  /**
   * Native routing: attach from-netdev on the underlay device (eth0, tc ingress) and record its ifindex.
   * It delivers pod traffic arriving from other nodes straight into the local pods (source identity
   * from the ipcache by source IP) and passes everything else to the stack. Optional only so that
   * existing implementations keep compiling; the real datapath implements it and the agent must call
   * it in native mode (after upserting the endpoints it restored, like attachEndpointDevice).
   */
  attachNetdevDevice?(ifname: string, ifindex: number): void;
  upsertEndpoint(ep: EndpointEntry): void;
  deleteEndpoint(ep: Pick<EndpointEntry, 'ifindex' | 'ip'>): void;
  /** Every endpoint in the pinned maps (what survives an agent restart). */
  listEndpoints(): EndpointEntry[];
  /** key is an IP ("198.19.1.5") or a CIDR ("198.19.2.0/24"). */
  upsertIpcache(key: string, entry: IpcacheEntry): void;
  deleteIpcache(key: string): void;
  listIpcache(): Array<{ key: string } & IpcacheEntry>;
  /** Start polling the ring buffer; returns a function that stops it. */
  onEvents(cb: (ev: DatapathEvent) => void): () => void;
  /**
   * Start reading the ring buffer in batches of raw records ([u32 length][record, padded to 4] ...,
   * `bytes` long), one call per batch; the observer decodes lazily. Returns a function that stops it.
   * Optional: a datapath without it is read through onEvents.
   */
  onEventBatches?(cb: (batch: Buffer, bytes: number) => void): () => void;
  /** Events the ring buffer had no room for, per possible CPU (counted in BPF). */
  lostEventsPerCpu?(): bigint[];
  /**
   * What the datapath reports beyond drops and policy verdicts (hubble.enabled): trace events at the
   * observation points, and payload captures on the given ports for the L7 parsers. Replaces the
   * previous setting.
   */
  setObserverConfig?(cfg: ObserverDatapathConfig): void;
  /** Packets and bytes dropped so far, per Hubble drop reason and direction. */
  dropCounters(): Array<{ reason: number; direction: number; packets: bigint; bytes: bigint }>;
  /** Events the ring buffer had no room for (counted in BPF). */
  lostEvents(): bigint;
  /**
   * Replace the whole policy of one endpoint (see agent/policy/types.ts). Optional so that other
   * implementations keep compiling; the policy engine treats a datapath without it as "cannot enforce".
   * The real datapath writes only what changed and switches to the new policy in one step (new
   * connections see the old policy or the new one, never a mix): see agent/datapath/policy-writer.ts.
   * A bad policy (field out of range, a port without protocol, endPort < port) throws an
   * InvalidInputError naming the field, before anything is written. An empty policy (nothing enforced,
   * no entry) removes everything the endpoint had, like deleteEndpointPolicy.
   */
  setEndpointPolicy?(policy: EndpointPolicy): void;
  /** Remove every policy entry and the enforcement flags of an endpoint (it was deleted). */
  deleteEndpointPolicy?(endpointId: number): void;
  /**
   * What the policy maps hold, per endpoint with a policy (for the debug API and for tests that read the
   * maps), in canonical form: the same verdict for every packet as the policy that was set, with port
   * blocks merged into ranges and entries that decide nothing (nested in an entry with the same verdict)
   * left out. canonicalEndpointPolicy() in agent/datapath/policy-map.ts gives the form to compare with.
   */
  listEndpointPolicies?(): EndpointPolicy[];
  /** Names and entry counts of the pinned maps, for the agent's debug API. */
  describeMaps(): Array<{ name: string; type: string; entries: number; maxEntries: number }>;
  /** Release file descriptors; pins and attached programs stay so forwarding continues. */
  close(): void;
}
