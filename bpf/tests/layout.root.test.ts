// agent/datapath/constants.ts must agree with the C headers: struct sizes/offsets, #defines and map
// names are read from BTF (bpftool btf dump) and compared. Root project because it needs clang+bpftool,
// which the unit environment does not promise.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../harness/exec/run.js';
import * as C from '../../agent/datapath/constants.js';
import { buildAndMount, OBJ } from './fixture.js';

interface BtfType { id: number; kind: string; name?: string; size?: number; members?: Array<{ name: string; bits_offset: number }>; values?: Array<{ name: string; val: number }>; vars?: Array<{ type_id: number }> }

async function btf(file: string): Promise<BtfType[]> {
  const r = await run(['bpftool', '-j', 'btf', 'dump', 'file', file]);
  return (JSON.parse(r.stdout) as { types: BtfType[] }).types;
}

// C member name -> constants.ts field, per struct.
const STRUCTS: Array<[string, Record<string, number>, Record<string, string>]> = [
  ['cnilab_endpoint', C.ENDPOINT, { ifindex: 'ifindex', ip: 'ip', identity: 'identity', ep_id: 'epId', pod_mac: 'podMac', host_mac: 'hostMac' }],
  ['cnilab_ipcache_key', C.IPCACHE_KEY, { prefixlen: 'prefixlen', ip: 'ip' }],
  ['cnilab_ipcache_val', C.IPCACHE_VALUE, { identity: 'identity', tunnel_endpoint: 'tunnelEndpoint', flags: 'flags' }],
  ['cnilab_ct_key', C.CT_KEY, { saddr: 'saddr', daddr: 'daddr', sport: 'sport', dport: 'dport', proto: 'proto', dir: 'dir' }],
  ['cnilab_ct_val', C.CT_VALUE, {
    packets_fwd: 'packetsFwd', bytes_fwd: 'bytesFwd', packets_rep: 'packetsRep', bytes_rep: 'bytesRep', last_seen: 'lastSeen',
    last_report: 'lastReport', flags_seen_fwd: 'flagsSeenFwd', flags_seen_rep: 'flagsSeenRep', reported_fwd: 'reportedFwd',
    reported_rep: 'reportedRep', flags: 'flags',
  }],
  ['cnilab_event', C.EVENT, {
    ktime: 'ktime', type: 'type', subtype: 'subtype', direction: 'direction', proto: 'proto', ifindex: 'ifindex',
    src_identity: 'srcIdentity', dst_identity: 'dstIdentity', saddr: 'saddr', daddr: 'daddr', sport: 'sport', dport: 'dport',
    tcp_flags: 'tcpFlags', icmp_type: 'icmpType', icmp_code: 'icmpCode', is_reply: 'isReply', length: 'length', ethertype: 'ethertype',
    policy_match: 'policyMatch', trace_reason: 'traceReason', eth_dst: 'ethDst', eth_src: 'ethSrc', payload_len: 'payloadLen', svc_id: 'svcId',
  }],
  ['cnilab_drop_key', C.DROP_KEY, { reason: 'reason', direction: 'direction' }],
  ['cnilab_drop_val', C.DROP_VALUE, { packets: 'packets', bytes: 'bytes' }],
  ['cnilab_policy_key', C.POLICY_KEY, { prefixlen: 'prefixlen', identity: 'identity', ep_id: 'epId', dir_gen: 'dirGen', proto: 'proto', dport: 'dport' }],
  ['cnilab_policy_val', C.POLICY_VALUE, { flags: 'flags', l4_prefix: 'l4Prefix' }],
  ['cnilab_policy_ep', C.POLICY_EP, { ingress: 'ingress', egress: 'egress', gen: 'gen' }],
  ['cnilab_lb_key', C.LB_KEY, { addr: 'addr', dport: 'dport', slot: 'slot', proto: 'proto', scope: 'scope' }],
  ['cnilab_lb_svc', C.LB_SVC, { backend_id: 'backendId', count: 'count', svc_id: 'svcId', affinity_timeout: 'affinityTimeout', flags: 'flags' }],
  ['cnilab_lb_backend', C.LB_BACKEND, { addr: 'addr', port: 'port', proto: 'proto', flags: 'flags' }],
  ['cnilab_lb_ns_val', C.LB_NS, { identity: 'identity', ip: 'ip', flags: 'flags' }],
  ['cnilab_lb_sk_key', C.LB_SK_KEY, { cookie: 'cookie', addr: 'addr', port: 'port' }],
  ['cnilab_lb_sk_val', C.LB_SK_VALUE, { addr: 'addr', port: 'port', svc_id: 'svcId' }],
];

describe('constants.ts matches bpf/lib/*.h', () => {
  let dir: string;
  let probe: BtfType[];
  let real: BtfType[];
  beforeAll(async () => {
    await buildAndMount();
    dir = mkdtempSync(join(tmpdir(), 'cnilab-layout-'));
    const out = join(dir, 'probe.o');
    const src = resolve(import.meta.dirname, 'layout_probe.c');
    await run(['clang', '-O2', '-g', '-target', 'bpf', `-I/usr/include/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`, '-c', src, '-o', out]);
    probe = await btf(out);
    real = await btf(OBJ);
  });
  afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

  it.each(STRUCTS)('struct %s', (name, layout, fields) => {
    const t = probe.find((x) => x.kind === 'STRUCT' && x.name === name);
    expect(t, name).toBeDefined();
    expect(t!.size).toBe(layout.size);
    for (const m of t!.members!) {
      if (m.name.startsWith('pad') || m.name === '') continue;
      const key = fields[m.name];
      expect(key, `${name}.${m.name} has no mirror in constants.ts`).toBeDefined();
      expect(layout[key!], `${name}.${m.name}`).toBe(m.bits_offset / 8);
    }
  });

  it('#defines', () => {
    const e = probe.find((x) => x.kind === 'ENUM' && x.name === 'cnilab_probe_consts')!;
    const v = Object.fromEntries(e.values!.map((x) => [x.name.replace(/^P_/, ''), x.val]));
    expect(v).toMatchObject({
      DROP_POLICY_DENIED: C.DROP_REASON.POLICY_DENIED,
      DROP_INVALID_PACKET: C.DROP_REASON.INVALID_PACKET_DROPPED,
      DROP_UNSUPPORTED_L3: C.DROP_REASON.UNSUPPORTED_L3_PROTOCOL,
      DROP_STALE_OR_UNROUTABLE_IP: C.DROP_REASON.STALE_OR_UNROUTABLE_IP,
      DROP_NO_TUNNEL_ENDPOINT: C.DROP_REASON.NO_TUNNEL_OR_ENCAPSULATION_ENDPOINT,
      DROP_FIB_LOOKUP_FAILED: C.DROP_REASON.FIB_LOOKUP_FAILED,
      DROP_TTL_EXCEEDED: C.DROP_REASON.TTL_EXCEEDED,
      TRACE_TO_STACK: C.TRACE_POINT.TO_STACK,
      TRACE_TO_OVERLAY: C.TRACE_POINT.TO_OVERLAY,
      TRACE_FROM_ENDPOINT: C.TRACE_POINT.FROM_ENDPOINT,
      TRACE_FROM_HOST: C.TRACE_POINT.FROM_HOST,
      TRACE_FROM_OVERLAY: C.TRACE_POINT.FROM_OVERLAY,
      TRACE_FROM_NETWORK: C.TRACE_POINT.FROM_NETWORK,
      TRACE_TO_NETWORK: C.TRACE_POINT.TO_NETWORK,
      TRACE_TO_ENDPOINT: C.TRACE_POINT.TO_ENDPOINT,
      TRACE_REASON_NEW: C.TRACE_REASON.new,
      TRACE_REASON_ESTABLISHED: C.TRACE_REASON.established,
      TRACE_REASON_REPLY: C.TRACE_REASON.reply,
      EVENT_L7_CAPTURE: C.EVENT_TYPE.l7Capture,
      L7_PAYLOAD_MAX: C.L7_PAYLOAD_MAX,
      L7_PARSER_DNS: C.L7_PARSER.dns,
      L7_PARSER_HTTP: C.L7_PARSER.http,
      L7_PORTS_UDP_BASE: C.L7_PORTS_UDP_BASE,
      CFG_OBSERVER_OFF: C.CONFIG.observerOff,
      OBSERVER_OFF_TRACES: C.OBSERVER_OFF.traces,
      OBSERVER_OFF_L7: C.OBSERVER_OFF.l7,
      EVENT_DROP: C.EVENT_TYPE.drop,
      EVENT_TRACE: C.EVENT_TYPE.trace,
      EVENT_POLICY_VERDICT: C.EVENT_TYPE.policyVerdict,
      CFG_TUNNEL_IFINDEX: C.CONFIG.tunnelIfindex,
      CFG_NODE_IP: C.CONFIG.nodeIp,
      CFG_ROUTER_IP: C.CONFIG.routerIp,
      CFG_POD_CIDR_NET: C.CONFIG.podCidrNet,
      CFG_POD_CIDR_MASK: C.CONFIG.podCidrMask,
      CFG_HOST_IFINDEX: C.CONFIG.hostIfindex,
      CFG_ROUTING_MODE: C.CONFIG.routingMode,
      CFG_NETDEV_IFINDEX: C.CONFIG.netdevIfindex,
      ROUTING_TUNNEL: C.ROUTING_MODE.tunnel,
      ROUTING_NATIVE: C.ROUTING_MODE.native,
      CFG_MAX: C.CONFIG.max,
      DIR_INGRESS: C.DIRECTION.ingress,
      DIR_EGRESS: C.DIRECTION.egress,
      IDENTITY_HOST: C.RESERVED_IDENTITY.host,
      IDENTITY_WORLD: C.RESERVED_IDENTITY.world,
      IDENTITY_REMOTE_NODE: C.RESERVED_IDENTITY.remoteNode,
      IDENTITY_CLUSTER_MIN: C.IDENTITY_CLUSTER_MIN,
      IDENTITY_LOCAL_SCOPE_MIN: C.IDENTITY_LOCAL_SCOPE_MIN,
      DROP_POLICY_DENY: C.DROP_REASON.POLICY_DENY,
      POLICY_MATCH_NONE: C.POLICY_MATCH.none,
      POLICY_MATCH_L3_ONLY: C.POLICY_MATCH.l3Only,
      POLICY_MATCH_L3_L4: C.POLICY_MATCH.l3L4,
      POLICY_MATCH_L4_ONLY: C.POLICY_MATCH.l4Only,
      POLICY_MATCH_ALL: C.POLICY_MATCH.all,
      POLICY_MATCH_L3_PROTO: C.POLICY_MATCH.l3Proto,
      POLICY_MATCH_PROTO_ONLY: C.POLICY_MATCH.protoOnly,
      POLICY_STATIC_PREFIX: C.POLICY_PREFIX.static,
      POLICY_PROTO_PREFIX: C.POLICY_PREFIX.proto,
      POLICY_FULL_PREFIX: C.POLICY_PREFIX.full,
      POLICY_DIR_MASK: C.POLICY_DIR_GEN.dirMask,
      POLICY_GEN_BIT: C.POLICY_DIR_GEN.genBit,
      POLICY_F_DENY: C.POLICY_FLAG.deny,
      POLICY_EP_ENFORCED: C.POLICY_EP_FLAG.enforced,
      POLICY_EP_HAS_DENY: C.POLICY_EP_FLAG.hasDeny,
      DROP_SERVICE_BACKEND_NOT_FOUND: C.DROP_REASON.SERVICE_BACKEND_NOT_FOUND,
      DROP_NAT_NO_MAPPING: C.DROP_REASON.NO_MAPPING_FOR_NAT_MASQUERADE,
      EVENT_SOCK_XLATE: C.EVENT_TYPE.sockXlate,
      LB_SCOPE_EXT: C.LB_SCOPE.ext,
      LB_SCOPE_INT: C.LB_SCOPE.int,
      LB_F_NODEPORT: C.LB_FLAG.nodePort,
      LB_F_LOCAL: C.LB_FLAG.local,
      LB_F_TWO_SCOPES: C.LB_FLAG.twoScopes,
      LB_F_MAGLEV: C.LB_FLAG.maglev,
      LB_F_AFFINITY: C.LB_FLAG.affinity,
      LB_BE_LOCAL: C.LB_BACKEND_FLAG.local,
      LB_NS_HOST: C.LB_NS_FLAG.host,
      LB_MAGLEV_M: C.LB_MAGLEV_M,
      POLICY_EP_HAS_ID: C.POLICY_EP_FLAG.hasIdentity,
      POLICY_EP_HAS_ANY: C.POLICY_EP_FLAG.hasAnyIdentity,
    });
  });

  it('map and program names of the built object', () => {
    const maps = real.find((x) => x.kind === 'DATASEC' && x.name === '.maps')!;
    const names = maps.vars!.map((v) => real.find((t) => t.id === v.type_id)!.name);
    expect(new Set(names)).toEqual(new Set(C.ALL_MAPS));
    for (const n of C.ALL_MAPS) expect(n.length).toBeLessThanOrEqual(15);
    const funcs = real.filter((x) => x.kind === 'FUNC').map((x) => x.name);
    for (const p of Object.values(C.PROG)) expect(funcs).toContain(p);
  });
});
