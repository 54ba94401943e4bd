// The mutation catalogue of `cnilab selftest`: deliberately broken datapath builds, agent behaviours and
// harness judgements, each run against the suites to prove that some check notices. One entry = a
// name, how the mutation is switched on, where it runs (configurations, suites) and the checks expected
// to catch it. To add one:
//   datapath: a -D macro in bpf/ (the code it breaks says `#ifdef CNILAB_MUT_…`), its variant in
//             bpf/Makefile's MUTANTS (built on demand as build/datapath-mut-<name>.o), and an entry here;
//   agent:    a fault in agent/faults.ts (CNILAB_FAULT_AGENT) used where it breaks, and an entry here;
//   harness:  a fault in harness/faults.ts (CNILAB_FAULT_HARNESS), and an entry here.
// Policy and services mutations belong to those suites' owners: same shape, their suites in `suites`.
import type { AgentFault } from '../../agent/faults.js';
import type { HarnessFault } from '../../harness/faults.js';

export type MutationConfig = 'cnilab-tunnel' | 'cnilab-native';

export type Enable =
  /** bpf/Makefile variant datapath-mut-<name>.o, built with the macro; the agents load it. */
  | { datapath: string }
  | { agent: AgentFault }
  | { harness: HarnessFault };

export interface Mutation {
  name: string;
  /** What is broken, in words. */
  what: string;
  enable: Enable;
  configs: MutationConfig[];
  suites: string[];
  /** Check ids (prefixes, "scenario/check…") expected among the failures: the report says whether the
   *  catching checks were the expected ones. Detection itself is any failing check. */
  expectCaughtBy: string[];
  /** Costs only speed: judged by the A/B gate (base = the working tree's datapath), not the suites. */
  speed?: boolean;
}

// Tried and dropped, as equivalent mutants (no observable difference, so no check could or should
// catch them): local delivery without the MAC rewrite — bpf_redirect_peer keeps the packet type the lxc
// gave it, so the pod accepts the frame whatever its destination MAC (the rewrite is kept for captures
// and for bpf_redirect, where the MACs are read).
const BOTH: MutationConfig[] = ['cnilab-tunnel', 'cnilab-native'];
const CONN = ['connectivity'];

export const CATALOGUE: Mutation[] = [
  // ---- datapath (bpf/) ----
  { name: 'remote-wrong-node', what: 'remote pods are tunnelled to the next node instead of theirs', enable: { datapath: 'CNILAB_MUT_REMOTE_WRONG_NODE' }, configs: ['cnilab-tunnel'], suites: CONN, expectCaughtBy: ['pod-connectivity/pod-pod/'] },
  { name: 'wrong-vni', what: 'the VNI carries the source identity + 1', enable: { datapath: 'CNILAB_MUT_WRONG_VNI' }, configs: ['cnilab-tunnel'], suites: CONN, expectCaughtBy: ['wire/wire/vni-'] },
  { name: 'drop-without-event', what: 'drops are counted but emit no flow event', enable: { datapath: 'CNILAB_MUT_DROP_NO_EVENT' }, configs: BOTH, suites: CONN, expectCaughtBy: ['pod-connectivity/control/unassigned/drop-flow'] },
  { name: 'drop-not-counted', what: 'drops emit their event but are not counted', enable: { datapath: 'CNILAB_MUT_DROP_NO_COUNT' }, configs: ['cnilab-tunnel'], suites: CONN, expectCaughtBy: ['pod-connectivity/control/unassigned/drop-counter'] },
  { name: 'no-arp-answer', what: "the datapath leaves the pods' ARP to the kernel", enable: { datapath: 'CNILAB_MUT_NO_ARP' }, configs: ['cnilab-tunnel'], suites: CONN, expectCaughtBy: ['pod-connectivity/pod-arp/'] },
  { name: 'ttl-not-decremented', what: 'forwarded packets keep their TTL (no router hop)', enable: { datapath: 'CNILAB_MUT_NO_TTL_DEC' }, configs: BOTH, suites: CONN, expectCaughtBy: ['pod-connectivity/ttl/'] },
  { name: 'wrong-event-identity', what: 'trace events carry the destination identity as the source', enable: { datapath: 'CNILAB_MUT_EVENT_WRONG_IDENTITY' }, configs: ['cnilab-tunnel'], suites: CONN, expectCaughtBy: ['pod-connectivity/flows/'] },
  { name: 'ct-reply-not-marked', what: 'conntrack never marks replies (every reply is reported as a new connection)', enable: { datapath: 'CNILAB_MUT_CT_NO_REPLY' }, configs: ['cnilab-tunnel'], suites: CONN, expectCaughtBy: ['pod-connectivity/flows/'] },
  { name: 'local-delivery-wrong-pod', what: 'same-node traffic is delivered to another local pod', enable: { datapath: 'CNILAB_MUT_LOCAL_WRONG_POD' }, configs: ['cnilab-tunnel'], suites: CONN, expectCaughtBy: ['pod-connectivity/pod-pod/'] },
  { name: 'remote-node-bare', what: 'pod → other node traffic leaves bare on the underlay (the found-4 bug)', enable: { datapath: 'CNILAB_MUT_REMOTE_NODE_BARE' }, configs: ['cnilab-tunnel'], suites: CONN, expectCaughtBy: ['wire/wire/pod-to-node-'] },
  { name: 'no-icmp-unreachable', what: 'native: an unroutable packet is dropped silently (no ICMP error to the pod)', enable: { datapath: 'CNILAB_MUT_NO_ICMP_ERROR' }, configs: ['cnilab-native'], suites: ['faults'], expectCaughtBy: ['bgp-peer-loss/bird-'] },
  { name: 'overlay-not-host', what: 'from_overlay hands the node\'s own traffic to the stack without marking it for this host', enable: { datapath: 'CNILAB_MUT_OVERLAY_NOT_HOST' }, configs: ['cnilab-tunnel'], suites: CONN, expectCaughtBy: ['pod-connectivity/pod-node/', 'wire/wire/probe-'] },
  { name: 'lb-no-revnat', what: "per-packet LB: a NodePort flow's replies are not translated back (the client sees the backend, SNAT never undone)", enable: { datapath: 'CNILAB_FAULT_LB_NO_REVNAT' }, configs: ['cnilab-tunnel'], suites: CONN, expectCaughtBy: ['services/svc/outside-nodeport-cluster/', 'services/svc/nodeport-other-node/'] },
  { name: 'slow-lookups', what: 'from_container makes 64 extra ipcache lookups per packet (costs only speed)', enable: { datapath: 'CNILAB_MUT_SLOW_LOOKUPS' }, configs: ['cnilab-tunnel'], suites: [], expectCaughtBy: ['ab-gate'], speed: true },
  // ---- agent (agent/faults.ts) ----
  { name: 'stale-ipcache', what: 'ipcache entries of deleted pods are never removed', enable: { agent: 'stale-ipcache' }, configs: ['cnilab-tunnel'], suites: CONN, expectCaughtBy: ['pod-connectivity/pod-deleted'] },
  { name: 'agent-wrong-tunnel-endpoint', what: 'the agent writes remote pods with another node as tunnel endpoint', enable: { agent: 'wrong-tunnel-endpoint' }, configs: ['cnilab-tunnel'], suites: CONN, expectCaughtBy: ['pod-connectivity/pod-pod/', 'pod-connectivity/identity'] },
  { name: 'pod-mtu-underlay', what: 'pods get the underlay MTU (1500) under VXLAN', enable: { agent: 'pod-mtu-underlay' }, configs: ['cnilab-tunnel'], suites: CONN, expectCaughtBy: ['pod-connectivity/pod-mtu/', 'pod-connectivity/mtu/df-pod-mtu'] },
  { name: 'identity-ignores-labels', what: "a pod's identity ignores its labels", enable: { agent: 'identity-ignores-labels' }, configs: ['cnilab-tunnel'], suites: CONN, expectCaughtBy: ['pod-connectivity/identity'] },
  { name: 'no-remote-routes', what: "the node's routes to remote pod CIDRs are never installed", enable: { agent: 'no-remote-routes' }, configs: ['cnilab-tunnel'], suites: CONN, expectCaughtBy: ['pod-connectivity/node-pod/'] },
  { name: 'ipcache-wrong-identity', what: 'remote pods get the wrong identity in the ipcache', enable: { agent: 'ipcache-wrong-identity' }, configs: ['cnilab-tunnel'], suites: CONN, expectCaughtBy: ['pod-connectivity/identity'] },
  { name: 'health-always-ok', what: 'agent health is ok even with its BGP speaker down', enable: { agent: 'health-always-ok' }, configs: ['cnilab-native'], suites: ['faults'], expectCaughtBy: ['bgp-peer-loss/bird-'] },
  // ---- harness (harness/faults.ts) ----
  { name: 'probe-timeout-is-ok', what: "the probe's timeout is read as success", enable: { harness: 'probe-timeout-is-ok' }, configs: ['cnilab-tunnel'], suites: CONN, expectCaughtBy: ['pod-connectivity/control/unassigned/probe'] },
  { name: 'probe-refused-is-ok', what: "the probe's refusal is read as success", enable: { harness: 'probe-refused-is-ok' }, configs: ['cnilab-tunnel'], suites: CONN, expectCaughtBy: ['pod-connectivity/control/tcp-unserved/'] },
];

/** The few representative mutations the CI root test runs (one per kind). */
export const CI_MUTATIONS = ['wrong-vni', 'stale-ipcache', 'probe-timeout-is-ok'];

/** The bpf/Makefile variant a datapath mutation builds. */
export function mutantVariant(m: Mutation): string | undefined {
  return 'datapath' in m.enable ? `datapath-mut-${m.name}` : undefined;
}
