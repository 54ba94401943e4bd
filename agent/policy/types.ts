// The contract between the agent's policy engine (agent/policy/, which turns NetworkPolicy and
// CiliumNetworkPolicy objects into per-endpoint rules on security identities) and the datapath
// (which writes them into its BPF policy map and enforces them). Neither side knows how the other
// works: the engine never sees map layouts, the datapath never sees selectors.

/** Hubble's TrafficDirection numbers: 1 ingress, 2 egress. */
export type PolicyDirection = 'ingress' | 'egress';

/**
 * One rule of one endpoint, on security identities. Fields set to 0 are wildcards:
 * identity 0 = any peer, protocol 0 = any protocol (ports must then be 0 too), port 0 = any port.
 * A port range is port..endPort inclusive (endPort = port for a single port, 0 when port is 0).
 */
export interface PolicyEntry {
  direction: PolicyDirection;
  /** Remote peer's security identity (a pod identity, a CIDR identity, or a reserved one); 0 = any. */
  identity: number;
  /** IP protocol number (6 TCP, 17 UDP, 132 SCTP); 0 = any. */
  protocol: number;
  port: number;
  endPort: number;
  /** An explicit deny (CiliumNetworkPolicy ingressDeny/egressDeny): wins over every allow. */
  deny: boolean;
}

/**
 * The full policy of one local endpoint. When a direction is not enforced, all traffic in that
 * direction is allowed (unless an explicit deny entry matches); when it is enforced, only traffic
 * matching an allow entry (and no deny entry) passes. Replacing an endpoint's policy is atomic from
 * the point of view of new connections.
 */
export interface EndpointPolicy {
  endpointId: number;
  ingressEnforced: boolean;
  egressEnforced: boolean;
  entries: PolicyEntry[];
}
