// Hubble's enum names and numbers (api/v1/flow/flow.proto), for flows the agent serves.
export const VERDICT = { VERDICT_UNKNOWN: 0, FORWARDED: 1, DROPPED: 2, ERROR: 3, AUDIT: 4, REDIRECTED: 5, TRACED: 6, TRANSLATED: 7 } as const;
export type VerdictName = keyof typeof VERDICT;

export const TRAFFIC_DIRECTION_NAMES: Record<number, string> = { 0: 'TRAFFIC_DIRECTION_UNKNOWN', 1: 'INGRESS', 2: 'EGRESS' };

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
  139: 'UNSUPPORTED_L3_PROTOCOL',
  140: 'MISSED_TAIL_CALL',
  151: 'STALE_OR_UNROUTABLE_IP',
  158: 'SERVICE_BACKEND_NOT_FOUND',
  160: 'NO_TUNNEL_OR_ENCAPSULATION_ENDPOINT',
  169: 'FIB_LOOKUP_FAILED',
  181: 'POLICY_DENY',
  196: 'TTL_EXCEEDED',
};

/** Cilium monitor message types (pkg/monitor/api): Hubble's event_type.type. */
export const MONITOR_TYPE = { drop: 1, trace: 4, 'policy-verdict': 5, 'sock-xlate': 7 } as const;

/** Hubble SocketTranslationPoint (flow.proto), for socket-LB (trace sock) flows. */
export const SOCK_XLATE_POINT_NAMES: Record<number, string> = {
  0: 'SOCK_XLATE_POINT_UNKNOWN',
  1: 'SOCK_XLATE_POINT_PRE_DIRECTION_FWD',
  2: 'SOCK_XLATE_POINT_POST_DIRECTION_FWD',
  3: 'SOCK_XLATE_POINT_PRE_DIRECTION_REV',
  4: 'SOCK_XLATE_POINT_POST_DIRECTION_REV',
};

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
