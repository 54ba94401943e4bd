// Privileged actions on a node, and the node-side readings that judge them, for the faults suite: kill
// the CNI agent, stop the node's BGP speaker (bird), pull the node's link. Every provider implements
// them in its folder's faults.ts: the embedded cluster on this host (pids, the fabric's bridge port), a
// cluster from a kubeconfig through the node's privileged helper pod (hostNetwork + hostPID). What a
// provider cannot do on the cluster it found (no bird on a CNI that speaks BGP otherwise, an agent it
// does not know) throws UnsupportedError ("unsupported: WHAT (needs NEED)"), which the fault checks
// report as such — never a pass, never a fail.
import type { BgpSession } from '../../../lib/bgp/bird.js';
import { UnsupportedError } from '../../errors.js';

/** How a node's bird is disturbed and put back (see scenarios/faults/bgp-peer-loss.ts):
 *  kill SIGKILL, down `birdc down`, freeze SIGSTOP, thaw SIGCONT, restore: running again whatever
 *  happened (continued, or started with the agent's own conf/ctl/pid files). */
export type BirdAction = 'kill' | 'down' | 'freeze' | 'thaw' | 'restore';

/** A `proto bird` route of a node's main table. */
export interface NodeRoute {
  dst: string;
  gateway?: string;
  dev?: string;
}

export interface AgentHealth {
  ok: boolean;
  message?: string;
}

export interface NodeFaults {
  /** How often the node readings below may be polled while a wait runs; undefined: as fast as the
   *  waits like (this host's own reads). Each reading through a helper pod is an exec, and polling
   *  those every 25 ms loads the API server and the node enough to slow what is being waited for. */
  readonly pollMs?: number;
  /** SIGKILL the CNI agent of each node; the pid killed per node (the node's supervisor restarts it:
   *  cnilab's on the embedded cluster, kubelet for a DaemonSet). Throws when a node has no agent. */
  killAgents(nodes: string[]): Promise<Map<string, number>>;
  /** The node's agent process now, undefined when none runs. */
  agentPid(node: string): Promise<number | undefined>;
  /** The agent's own health answer (GET /v1/healthz). */
  agentHealth(node: string): Promise<AgentHealth>;
  /** Packets the node's datapath dropped for `reason` so far (the agent's drop counters). */
  dropCount(node: string, reason: number): Promise<bigint>;
  bird(node: string, action: BirdAction): Promise<void>;
  /** The node's underlay link down (its cable pulled) or up again. */
  setLink(node: string, state: 'up' | 'down'): Promise<void>;
  /** The node's `proto bird` kernel routes; throws when the table cannot be read. */
  birdRoutes(node: string): Promise<NodeRoute[]>;
  /** The node's bird's BGP sessions; throws when bird does not answer. */
  bgpSessions(node: string): Promise<BgpSession[]>;
}

/** A fault this provider cannot inject on this cluster. */
export const faultUnsupported = (what: string, needs: string) => new UnsupportedError(what, needs);

/** Packets dropped for `reason` in an agent's drop counters (GET /v1/maps), summed over directions.
 *  Counters are decimal strings (u64). */
export function dropPackets(drops: Array<{ reason: number; packets: string }>, reason: number): bigint {
  return drops.filter((d) => d.reason === reason).reduce((sum, d) => sum + BigInt(d.packets), 0n);
}
