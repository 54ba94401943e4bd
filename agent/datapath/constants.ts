// Every constant userspace must share with the BPF datapath. Each group names the C header it mirrors;
// change both sides together. bpf/tests/layout.root.test.ts checks the struct layouts against the BTF of
// the compiled object, and the C side has _Static_asserts on the sizes.

/** Map names (BPF_OBJ_NAME_LEN: at most 15 characters). Must match the map definitions in
 *  bpf/lib/maps.h, bpf/lib/events.h, bpf/lib/conntrack.h, bpf/lib/policy.h and bpf/lib/l7.h. */
export const MAP = {
  lxcByIfindex: 'cnilab_lxc_if',
  lxcByIp: 'cnilab_lxc_ip',
  ipcache: 'cnilab_ipcache',
  config: 'cnilab_config',
  ct: 'cnilab_ct',
  events: 'cnilab_events',
  drops: 'cnilab_drops',
  lost: 'cnilab_lost',
  policy: 'cnilab_policy',
  policyEndpoint: 'cnilab_pol_ep',
  l7Ports: 'cnilab_l7_ports',
  // service load balancing (bpf/lib/lb.h, bpf/lib/nodeport.h); LB_MAP below names the ones the agent writes
  lbSvc: 'cnilab_lb_svc',
  lbBackends: 'cnilab_lb_be',
  lbMaglev: 'cnilab_lb_mgl',
  lbSock: 'cnilab_lb_sk',
  lbAffinity: 'cnilab_lb_aff',
  lbNetns: 'cnilab_lb_ns',
  lbFwd: 'cnilab_lb_fwd',
  lbRev: 'cnilab_lb_rev',
} as const;
export type MapName = (typeof MAP)[keyof typeof MAP];
export const ALL_MAPS: readonly MapName[] = Object.values(MAP);

/** Program (function) names in bpf/bpf_lxc.c, bpf_overlay.c and bpf_host.c (linked into one object). */
export const PROG = {
  fromContainer: 'from_container',
  toContainer: 'to_container',
  fromOverlay: 'from_overlay',
  fromHost: 'from_host',
  fromNetdev: 'from_netdev',
} as const;

/** tc attachment: one fixed handle/priority per hook so a re-attach (agent restart) replaces the program
 *  instead of stacking a second filter. */
export const TC_HANDLE = 1;
export const TC_PRIORITY = 1;

// must match bpf/lib/maps.h: struct cnilab_endpoint (addresses in network byte order)
export const ENDPOINT = { size: 28, ifindex: 0, ip: 4, identity: 8, epId: 12, podMac: 14, hostMac: 20 } as const;
// must match bpf/lib/maps.h: struct cnilab_ipcache_key / cnilab_ipcache_val (LPM trie)
export const IPCACHE_KEY = { size: 8, prefixlen: 0, ip: 4 } as const;
export const IPCACHE_VALUE = { size: 12, identity: 0, tunnelEndpoint: 4, flags: 8 } as const;

// must match bpf/lib/maps.h: CFG_* indexes of cnilab_config (u32 values; addresses in network order)
export const CONFIG = {
  tunnelIfindex: 0,
  nodeIp: 1,
  routerIp: 2,
  podCidrNet: 3,
  podCidrMask: 4,
  hostIfindex: 5,
  routingMode: 6,
  netdevIfindex: 7,
  observerOff: 8,
  max: 9,
} as const;
// must match bpf/lib/events.h: OBSERVER_OFF_* (bits of CONFIG.observerOff)
export const OBSERVER_OFF = { traces: 0x01, l7: 0x02 } as const;
// must match bpf/lib/conntrack.h: OBSERVER_AGG_* (bits 4-6 of CONFIG.observerOff; 0 is medium, the default)
export const OBSERVER_AGG = { medium: 0x00, none: 0x10, low: 0x20, maximum: 0x30 } as const;
// must match bpf/lib/conntrack.h: CT_F_* (CT_VALUE.flags)
export const CT_FLAG = { replySeen: 0x01, closing: 0x02, svc: 0x04 } as const;
// must match bpf/lib/l7.h: L7_PARSER_* and the index of cnilab_l7_ports ((UDP ? 1 : 0) << 16 | port)
export const L7_PARSER = { dns: 1, http: 2 } as const;
export const L7_PORTS_UDP_BASE = 1 << 16;
// must match bpf/lib/fib.h: ROUTING_TUNNEL / ROUTING_NATIVE
export const ROUTING_MODE = { tunnel: 0, native: 1 } as const;

// must match bpf/lib/conntrack.h: struct cnilab_ct_key / cnilab_ct_val
export const CT_KEY = { size: 16, saddr: 0, daddr: 4, sport: 8, dport: 10, proto: 12, dir: 13 } as const;
export const CT_VALUE = {
  size: 56,
  packetsFwd: 0,
  bytesFwd: 8,
  packetsRep: 16,
  bytesRep: 24,
  lastSeen: 32,
  lastReport: 40,
  flagsSeenFwd: 48,
  flagsSeenRep: 49,
  reportedFwd: 50,
  reportedRep: 51,
  flags: 52,
} as const;

// must match bpf/lib/events.h: struct cnilab_event (addresses and ports in network byte order). A record
// is this header, followed for EVENT_TYPE.l7Capture by payloadLen bytes of the packet's L4 payload.
// Records of the first layout (48 bytes: no ethernet, trace reason or payload; trace sub-type as the
// TraceObservationPoint number) are still decoded, so an agent reads a datapath built before it.
export const EVENT = {
  size: 64,
  ktime: 0,
  type: 8,
  subtype: 9,
  direction: 10,
  proto: 11,
  ifindex: 12,
  srcIdentity: 16,
  dstIdentity: 20,
  saddr: 24,
  daddr: 28,
  sport: 32,
  dport: 34,
  tcpFlags: 36,
  icmpType: 37,
  icmpCode: 38,
  isReply: 39,
  length: 40,
  ethertype: 44,
  policyMatch: 46,
  traceReason: 47,
  ethDst: 48,
  ethSrc: 54,
  payloadLen: 60,
  svcId: 62,
} as const;
/** Size of the first record layout (see EVENT). */
export const EVENT_V1_SIZE = 48;
/** Payload bytes copied for L7 parsing (must match bpf/lib/events.h L7_PAYLOAD_MAX). */
export const L7_PAYLOAD_MAX = 192;
/** The largest record the datapath emits. */
export const EVENT_MAX_SIZE = EVENT.size + L7_PAYLOAD_MAX;
// must match bpf/lib/events.h: struct cnilab_drop_key / cnilab_drop_val (per-CPU values)
export const DROP_KEY = { size: 2, reason: 0, direction: 1 } as const;
export const DROP_VALUE = { size: 16, packets: 0, bytes: 8 } as const;
/** cnilab_lost: per-CPU array, one u64 slot. */
export const LOST_VALUE_SIZE = 8;
export const RINGBUF_BYTES = 1 << 20;

// must match bpf/lib/events.h: EVENT_*
export const EVENT_TYPE = { drop: 1, trace: 2, policyVerdict: 3, l7Capture: 4, sockXlate: 5 } as const;

// must match bpf/lib/common.h: DROP_* (Hubble DropReason)
export const DROP_REASON = {
  POLICY_DENIED: 133,
  INVALID_PACKET_DROPPED: 134,
  UNSUPPORTED_L3_PROTOCOL: 139,
  STALE_OR_UNROUTABLE_IP: 151,
  SERVICE_BACKEND_NOT_FOUND: 158,
  NO_MAPPING_FOR_NAT_MASQUERADE: 167,
  NO_TUNNEL_OR_ENCAPSULATION_ENDPOINT: 160,
  FIB_LOOKUP_FAILED: 169,
  POLICY_DENY: 181,
  TTL_EXCEEDED: 196,
} as const;

// must match bpf/lib/common.h: TRACE_* (Cilium's monitor trace points: the sub-type of a trace record)
export const TRACE_POINT = {
  TO_ENDPOINT: 0,
  TO_STACK: 3,
  TO_OVERLAY: 4,
  FROM_ENDPOINT: 5,
  FROM_HOST: 7,
  FROM_OVERLAY: 9,
  FROM_NETWORK: 10,
  TO_NETWORK: 11,
} as const;
// must match bpf/lib/common.h: TRACE_REASON_* (Hubble TraceReason)
export const TRACE_REASON = { new: 1, established: 2, reply: 3 } as const;

/** Hubble TraceObservationPoint: what DatapathEvent.observationPoint holds once a record is decoded (the
 *  trace point, but TO_ENDPOINT is 101 here where the monitor's to-endpoint is 0). */
export const OBS_POINT = { ...TRACE_POINT, TO_ENDPOINT: 101 } as const;

// must match bpf/lib/common.h: DIR_* (Hubble TrafficDirection)
export const DIRECTION = { unknown: 0, ingress: 1, egress: 2 } as const;

// must match bpf/lib/common.h: IDENTITY_* (Cilium reserved identities)
export const RESERVED_IDENTITY = { unknown: 0, host: 1, world: 2, remoteNode: 6 } as const;
// must match bpf/lib/common.h: IDENTITY_CLUSTER_MIN / IDENTITY_LOCAL_SCOPE_MIN
export const IDENTITY_CLUSTER_MIN = 256;
export const IDENTITY_LOCAL_SCOPE_MIN = 2 ** 24;

// must match bpf/lib/events.h: POLICY_MATCH_* (Cilium's policy match types, Hubble's policy_match_type)
export const POLICY_MATCH = { none: 0, l3Only: 1, l3L4: 2, l4Only: 3, all: 4, l3Proto: 5, protoOnly: 6 } as const;

// must match bpf/lib/policy.h: struct cnilab_policy_key / cnilab_policy_val / cnilab_policy_ep and flags.
// The key's identity and ep_id are host byte order (little-endian here), dport network order.
export const POLICY_KEY = { size: 16, prefixlen: 0, identity: 4, epId: 8, dirGen: 10, proto: 11, dport: 12 } as const;
export const POLICY_VALUE = { size: 4, flags: 0, l4Prefix: 1 } as const;
export const POLICY_EP = { size: 4, ingress: 0, egress: 1, gen: 2 } as const;
export const POLICY_PREFIX = { static: 56, proto: 64, full: 80 } as const;
export const POLICY_DIR_GEN = { dirMask: 0x03, genBit: 0x80 } as const;
export const POLICY_FLAG = { deny: 0x01 } as const;
export const POLICY_EP_FLAG = { enforced: 0x01, hasDeny: 0x02, hasIdentity: 0x04, hasAnyIdentity: 0x08 } as const;

/** TC return codes (linux/pkt_cls.h). */
export const TC_ACT = { OK: 0, SHOT: 2, REDIRECT: 7 } as const;

/** Linux bpf_map_type numbers used by describeMaps (linux/bpf.h). */
export const MAP_TYPE_NAMES: Record<number, string> = {
  1: 'hash',
  2: 'array',
  5: 'percpu_hash',
  6: 'percpu_array',
  9: 'lru_hash',
  11: 'lpm_trie',
  27: 'ringbuf',
};

// ---- Service load balancing: bpf/lib/lb.h and bpf/bpf_sock.c ------------------------------------

/** LB map names (bpf/lib/lb.h). Pinned next to the datapath's maps; written by agent/service. */
export const LB_MAP = {
  svc: 'cnilab_lb_svc',
  backends: 'cnilab_lb_be',
  maglev: 'cnilab_lb_mgl',
  sock: 'cnilab_lb_sk',
  affinity: 'cnilab_lb_aff',
  netns: 'cnilab_lb_ns',
} as const;
export type LbMapName = (typeof LB_MAP)[keyof typeof LB_MAP];

// must match bpf/lib/lb.h: struct cnilab_lb_key / cnilab_lb_svc / cnilab_lb_backend / cnilab_lb_ns_val
export const LB_KEY = { size: 12, addr: 0, dport: 4, slot: 6, proto: 8, scope: 9 } as const;
export const LB_SVC = { size: 16, backendId: 0, count: 4, svcId: 6, affinityTimeout: 8, flags: 12 } as const;
export const LB_BACKEND = { size: 8, addr: 0, port: 4, proto: 6, flags: 7 } as const;
export const LB_NS = { size: 12, identity: 0, ip: 4, flags: 8 } as const;
export const LB_SK_KEY = { size: 16, cookie: 0, addr: 8, port: 12 } as const;
export const LB_SK_VALUE = { size: 8, addr: 0, port: 4, svcId: 6 } as const;
// must match bpf/lib/lb.h: LB_SCOPE_*, LB_F_*, LB_BE_*, LB_NS_*, LB_MAGLEV_M
export const LB_SCOPE = { ext: 0, int: 1 } as const;
export const LB_FLAG = { nodePort: 0x01, local: 0x02, twoScopes: 0x04, maglev: 0x08, affinity: 0x10 } as const;
export const LB_BACKEND_FLAG = { local: 0x01 } as const;
export const LB_NS_FLAG = { host: 0x01 } as const;
export const LB_MAGLEV_M = 16381;

/** Program names in bpf/bpf_sock.c and the cgroup attach type of each (enum bpf_attach_type). */
export const SOCK_PROG = {
  connect4: { name: 'sock4_connect', attachType: 10 /* BPF_CGROUP_INET4_CONNECT */ },
  sendmsg4: { name: 'sock4_sendmsg', attachType: 14 /* BPF_CGROUP_UDP4_SENDMSG */ },
  recvmsg4: { name: 'sock4_recvmsg', attachType: 19 /* BPF_CGROUP_UDP4_RECVMSG */ },
  getpeername4: { name: 'sock4_getpeername', attachType: 29 /* BPF_CGROUP_INET4_GETPEERNAME */ },
} as const;

// Hubble SocketTranslationPoint (flow.proto); must match bpf/bpf_sock.c XLATE_*
export const SOCK_XLATE_POINT = { PRE_DIRECTION_FWD: 1, POST_DIRECTION_FWD: 2, PRE_DIRECTION_REV: 3, POST_DIRECTION_REV: 4 } as const;
