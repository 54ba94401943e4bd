// Deliberate agent faults for mutation testing (`cnilab selftest`, scenarios/mutations/). Read here and
// nowhere else, from one environment variable, so a production agent can be audited for them at a
// glance: CNILAB_FAULT_AGENT=name[,name…]. Each fault breaks one agent step the way a real bug would,
// and the selftest proves a check of the suites notices. Unset (always, outside selftest): no effect.
export const AGENT_FAULTS = {
  /** ipcache: entries of remote endpoints that went away are never removed (a stale ipcache). */
  'stale-ipcache': 'remote endpoints that went away stay in the ipcache',
  /** ipcache: remote endpoints are written with the next node's underlay IP as tunnel endpoint. */
  'wrong-tunnel-endpoint': "remote pods are tunnelled to another node than theirs",
  /** endpoint: the pod gets the underlay MTU, not the one the tunnel leaves (1500 instead of 1450). */
  'pod-mtu-underlay': 'pods get the underlay MTU instead of the tunnel-adjusted one',
  /** identity: allocated from the namespace alone, so pods with other labels share an identity. */
  'identity-ignores-labels': "a pod's identity ignores its labels (namespace only)",
  /** routing: the routes to other nodes' pod CIDRs through cilium_host are never installed (tunnel). */
  'no-remote-routes': "the node's routes to remote pod CIDRs are never installed",
  /** ipcache: remote endpoints are written with their identity + 1. */
  'ipcache-wrong-identity': 'remote pods get the wrong identity in the ipcache',
  /** health: always ok, whatever the BGP speaker does. */
  'health-always-ok': 'health reports ok even while the BGP speaker is down',
} as const;

export type AgentFault = keyof typeof AGENT_FAULTS;

const active = new Set(
  (process.env.CNILAB_FAULT_AGENT ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);
for (const f of active) if (!(f in AGENT_FAULTS)) throw new Error(`CNILAB_FAULT_AGENT: unknown fault "${f}"; known: ${Object.keys(AGENT_FAULTS).join(', ')}`);

/** Whether the named fault is injected into this agent. */
export function agentFault(name: AgentFault): boolean {
  return active.has(name);
}

/** The faults in effect, for the agent's start-up log line (a mutated agent says so). */
export function activeAgentFaults(): string[] {
  return [...active];
}
