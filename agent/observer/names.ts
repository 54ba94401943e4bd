// Hubble's enum names and numbers (api/v1/flow/flow.proto) and the Cilium monitor numbers Hubble's
// printer, filters and metrics read (pkg/monitor/api), for the flows the agent serves.
export const VERDICT = { VERDICT_UNKNOWN: 0, FORWARDED: 1, DROPPED: 2, ERROR: 3, AUDIT: 4, REDIRECTED: 5, TRACED: 6, TRANSLATED: 7 } as const;
export type VerdictName = keyof typeof VERDICT;
export const VERDICT_NAMES = Object.keys(VERDICT) as VerdictName[];

export const TRAFFIC_DIRECTION = { TRAFFIC_DIRECTION_UNKNOWN: 0, INGRESS: 1, EGRESS: 2 } as const;
export type TrafficDirectionName = keyof typeof TRAFFIC_DIRECTION;
export const TRAFFIC_DIRECTION_NAMES: Record<number, TrafficDirectionName> = { 0: 'TRAFFIC_DIRECTION_UNKNOWN', 1: 'INGRESS', 2: 'EGRESS' };

/** TraceObservationPoint: the flow's `trace_observation_point`. */
export const OBSERVATION_POINT_NAMES: Record<number, string> = {
  0: 'UNKNOWN_POINT',
  1: 'TO_PROXY',
  2: 'TO_HOST',
  3: 'TO_STACK',
  4: 'TO_OVERLAY',
  5: 'FROM_ENDPOINT',
  6: 'FROM_PROXY',
  7: 'FROM_HOST',
  8: 'FROM_STACK',
  9: 'FROM_OVERLAY',
  10: 'FROM_NETWORK',
  11: 'TO_NETWORK',
  101: 'TO_ENDPOINT',
};

/**
 * Cilium's monitor trace points (TRACE_TO_LXC = 0, TRACE_TO_PROXY = 1, ...): the `event_type.sub_type` of
 * a trace flow, which `hubble observe` prints ("to-endpoint") and `--type trace:to-endpoint` matches.
 * They equal the TraceObservationPoint numbers except to-endpoint, which is 0 here and 101 there.
 */
export const TRACE_POINT_NAMES: Record<number, string> = {
  0: 'to-endpoint',
  1: 'to-proxy',
  2: 'to-host',
  3: 'to-stack',
  4: 'to-overlay',
  5: 'from-endpoint',
  6: 'from-proxy',
  7: 'from-host',
  8: 'from-stack',
  9: 'from-overlay',
  10: 'from-network',
  11: 'to-network',
  12: 'from-crypto',
  13: 'to-crypto',
};
export const TRACE_POINT_BY_NAME: Record<string, number> = Object.fromEntries(Object.entries(TRACE_POINT_NAMES).map(([n, s]) => [s, Number(n)]));

/** Monitor trace point (sub-type) → TraceObservationPoint. */
export function observationPointOfTracePoint(subType: number): number {
  return subType === 0 ? 101 : subType;
}
/** TraceObservationPoint → monitor trace point (sub-type). */
export function tracePointOfObservationPoint(point: number): number {
  return point === 101 ? 0 : point;
}

export const DROP_REASON_NAMES: Record<number, string> = {
  0: 'DROP_REASON_UNKNOWN',
  130: 'INVALID_SOURCE_MAC',
  131: 'INVALID_DESTINATION_MAC',
  132: 'INVALID_SOURCE_IP',
  133: 'POLICY_DENIED',
  134: 'INVALID_PACKET_DROPPED',
  135: 'CT_TRUNCATED_OR_INVALID_HEADER',
  136: 'CT_MISSING_TCP_ACK_FLAG',
  137: 'CT_UNKNOWN_L4_PROTOCOL',
  138: 'CT_CANNOT_CREATE_ENTRY_FROM_PACKET',
  139: 'UNSUPPORTED_L3_PROTOCOL',
  140: 'MISSED_TAIL_CALL',
  141: 'ERROR_WRITING_TO_PACKET',
  142: 'UNKNOWN_L4_PROTOCOL',
  150: 'UNKNOWN_L3_TARGET_ADDRESS',
  151: 'STALE_OR_UNROUTABLE_IP',
  152: 'NO_MATCHING_LOCAL_CONTAINER_FOUND',
  155: 'CT_MAP_INSERTION_FAILED',
  158: 'SERVICE_BACKEND_NOT_FOUND',
  160: 'NO_TUNNEL_OR_ENCAPSULATION_ENDPOINT',
  166: 'UNSUPPORTED_L2_PROTOCOL',
  167: 'NO_MAPPING_FOR_NAT_MASQUERADE',
  169: 'FIB_LOOKUP_FAILED',
  171: 'INVALID_IDENTITY',
  174: 'IS_A_CLUSTERIP',
  181: 'POLICY_DENY',
  196: 'TTL_EXCEEDED',
};
export const DROP_REASON_BY_NAME: Record<string, number> = Object.fromEntries(Object.entries(DROP_REASON_NAMES).map(([n, s]) => [s, Number(n)]));

/** The monitor's human text for a drop reason: the middle token of a compact drop line. */
export const DROP_REASON_TEXT: Record<number, string> = {
  130: 'Invalid source mac',
  131: 'Invalid destination mac',
  132: 'Invalid source ip',
  133: 'Policy denied',
  134: 'Invalid packet',
  135: 'CT: Truncated or invalid header',
  136: 'CT: Missing TCP ACK flag',
  137: 'CT: Unknown L4 protocol',
  138: "CT: Can't create entry from packet",
  139: 'Unsupported L3 protocol',
  140: 'Missed tail call',
  141: 'Error writing to packet',
  142: 'Unknown L4 protocol',
  150: 'Unknown L3 target address',
  151: 'Stale or unroutable IP',
  152: 'No matching local container found',
  155: 'CT: Map insertion failed',
  158: 'Service backend not found',
  160: 'No tunnel/encapsulation endpoint (datapath BUG!)',
  166: 'Unsupported L2 protocol',
  167: 'No mapping for NAT masquerade',
  169: 'FIB lookup failed',
  171: 'Invalid identity',
  174: 'Is a ClusterIP',
  181: 'Policy denied by denylist',
  196: 'TTL exceeded',
};

export function dropReasonName(reason: number): string {
  return DROP_REASON_NAMES[reason] ?? `DROP_REASON_${reason}`;
}

/** Cilium monitor message types (pkg/monitor/api MessageType*): Hubble's `event_type.type`. */
export const MONITOR_TYPE = { drop: 1, debug: 2, capture: 3, trace: 4, 'policy-verdict': 5, 'trace-sock': 7, l7: 129, agent: 130 } as const;
export type MonitorTypeName = keyof typeof MONITOR_TYPE;

/** Hubble SocketTranslationPoint (flow.proto), for socket-LB (trace sock) flows. */
export const SOCK_XLATE_POINT_NAMES: Record<number, string> = {
  0: 'SOCK_XLATE_POINT_UNKNOWN',
  1: 'SOCK_XLATE_POINT_PRE_DIRECTION_FWD',
  2: 'SOCK_XLATE_POINT_POST_DIRECTION_FWD',
  3: 'SOCK_XLATE_POINT_PRE_DIRECTION_REV',
  4: 'SOCK_XLATE_POINT_POST_DIRECTION_REV',
};

/** TraceReason (flow.proto): why a trace point forwarded the packet, from conntrack. */
export const TRACE_REASON_NAMES: Record<number, string> = {
  0: 'TRACE_REASON_UNKNOWN',
  1: 'NEW',
  2: 'ESTABLISHED',
  3: 'REPLY',
  4: 'RELATED',
  5: 'REOPENED',
  6: 'SRV6_ENCAP',
  7: 'SRV6_DECAP',
  8: 'ENCRYPT_OVERLAY',
};

/** Cilium's policy match types (pkg/monitor/api PolicyMatch*): a policy-verdict flow's policy_match_type. */
export const POLICY_MATCH_TEXT: Record<number, string> = {
  0: 'none',
  1: 'L3-Only',
  2: 'L3-L4',
  3: 'L4-Only',
  4: 'all',
  5: 'L3-Proto',
  6: 'Proto-Only',
};

export const LOST_EVENT_SOURCE = { UNKNOWN_LOST_EVENT_SOURCE: 0, PERF_EVENT_RING_BUFFER: 1, OBSERVER_EVENTS_QUEUE: 2, HUBBLE_RING_BUFFER: 3 } as const;
export type LostEventSourceName = keyof typeof LOST_EVENT_SOURCE;

export const TCP_FLAG_BITS: Array<[string, number]> = [
  ['FIN', 0x01],
  ['SYN', 0x02],
  ['RST', 0x04],
  ['PSH', 0x08],
  ['ACK', 0x10],
  ['URG', 0x20],
  ['ECE', 0x40],
  ['CWR', 0x80],
];

/** gopacket's ICMPv4 type names (what hubble_icmp_total's `type` label and the compact summary say). */
export const ICMPV4_TYPE_NAMES: Record<number, string> = {
  0: 'EchoReply',
  3: 'DestinationUnreachable',
  4: 'SourceQuench',
  5: 'Redirect',
  8: 'EchoRequest',
  9: 'RouterAdvertisement',
  10: 'RouterSolicitation',
  11: 'TimeExceeded',
  12: 'ParameterProblem',
  13: 'TimestampRequest',
  14: 'TimestampReply',
};
/** gopacket's code names for the types that have codes: "DestinationUnreachable(Port)". */
const ICMPV4_CODE_NAMES: Record<number, Record<number, string>> = {
  3: { 0: 'Net', 1: 'Host', 2: 'Protocol', 3: 'Port', 4: 'FragmentationNeeded', 5: 'SourceRoutingFailed', 6: 'NetUnknown', 7: 'HostUnknown', 9: 'NetAdminProhibited', 10: 'HostAdminProhibited', 13: 'CommAdminProhibited' },
  11: { 0: 'TTLExceeded', 1: 'FragmentReassemblyTimeExceeded' },
};

/** gopacket's ICMPv4TypeCode.String(). */
export function icmpv4TypeCodeName(type: number, code: number): string {
  const t = ICMPV4_TYPE_NAMES[type];
  if (!t) return `${type}(${code})`;
  const codes = ICMPV4_CODE_NAMES[type];
  if (!codes) return t;
  return `${t}(${codes[code] ?? `Code: ${code}`})`;
}

/** IANA DNS RCODE names as Hubble's dns metrics print them. */
export const DNS_RCODE_NAMES: Record<number, string> = {
  0: 'No Error',
  1: 'Format Error',
  2: 'Server Failure',
  3: 'Non-Existent Domain',
  4: 'Not Implemented',
  5: 'Query Refused',
};

/** DNS RR types by number (RFC 1035 and later) for qtypes / rrtypes. */
export const DNS_TYPE_NAMES: Record<number, string> = {
  1: 'A',
  2: 'NS',
  5: 'CNAME',
  6: 'SOA',
  12: 'PTR',
  15: 'MX',
  16: 'TXT',
  28: 'AAAA',
  33: 'SRV',
  41: 'OPT',
  65: 'HTTPS',
  255: 'ANY',
};
