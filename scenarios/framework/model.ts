// Scenarios as data: what a scenario needs (topology), what it creates (Kubernetes objects), and what
// it checks (probe steps with an expected outcome, or custom checks). Steps are derived from the
// cluster spec and the resolved pods, because pod IPs exist only after setup; the derivation is a
// pure function so the same cluster always yields the same steps in the same order.
import type { ClusterSpec, CniKind, NodeSpec, RoutingMode } from '../../harness/cluster/spec.js';
import type { ControlPlaneClient } from '../../harness/cluster/client.js';
import type { Provider, ProviderKind } from '../../harness/providers/common/provider.js';
import type { FailureMode, ProbeProtocol } from '../../harness/traffic/probe.js';
import type { Evidence, Reachability, Verdict } from '../../reports/model.js';
import type { StepFlowSpec } from './flow-requirements.js';

/** What a probe must end as. 'fail' means a failure the network gave (never a probe tool that broke);
 *  `failure` narrows it to the modes that count. */
export type ExpectedOutcome = 'ok' | 'refused' | 'timeout' | 'fail';

export interface ProbeExpectation {
  outcome: ExpectedOutcome;
  /** When set, the probe's exit code must equal it too (e.g. 28 for an HTTP timeout). */
  exitCode?: number;
  /** 'ok' only: the name the responder must give (a pod's name, a node's name). Reaching *a* server
   *  is not enough: a datapath that delivers to the wrong endpoint also completes the connection. */
  responder?: string;
  /** Failing expectations: the failure modes accepted (e.g. ENETUNREACH for a withdrawn route). */
  failure?: FailureMode[];
}

/** Where traffic starts: a pod (by "namespace/name") or a node's netns. */
export type Source = { pod: string } | { node: string };
/** Where traffic goes: a pod's IP, a node's underlay IP, or a literal address. */
export type Target = { pod: string } | { node: string } | { ip: string; label?: string };

export interface ProbeStep {
  kind: 'probe';
  id: string;
  name: string;
  from: Source;
  to: Target;
  protocol: ProbeProtocol;
  port?: number;
  /** ICMP payload size and DF, for MTU checks. */
  size?: number;
  dontFragment?: boolean;
  timeoutMs?: number;
  expect: ProbeExpectation;
  /** What the probe's flows must show beyond what its expectation implies (flow-requirements.ts). */
  flows?: StepFlowSpec;
  tags?: Record<string, string>;
}

/** What a custom check reports; the runner adds id, name, timing. */
export interface CheckOutcome {
  /** Suffix appended to the step id when one step yields several checks. */
  id?: string;
  name?: string;
  passed: boolean;
  /** Overrides the verdict derived from `passed` (e.g. 'unavailable': evidence could not be had). */
  verdict?: Verdict;
  observed: string;
  expected: string;
  detail?: string;
  command?: string;
  from?: string;
  to?: string;
  protocol?: string;
  port?: number;
  tags?: Record<string, string>;
  reachability?: Reachability;
  evidence?: Evidence[];
}

export interface CustomStep {
  kind: 'check';
  id: string;
  name: string;
  /** Runs alone (never concurrently with other steps), so it may capture or change state. */
  run: (ctx: ScenarioContext) => Promise<CheckOutcome | CheckOutcome[]>;
  tags?: Record<string, string>;
}

export type Step = ProbeStep | CustomStep;

export interface ResolvedPod {
  namespace: string;
  name: string;
  /** "namespace/name" */
  key: string;
  node: string;
  ip: string;
  netns: string;
}

export interface ResolvedNode extends NodeSpec {
  netns: string;
}

export interface ScenarioContext {
  spec: ClusterSpec;
  /** The embedded cluster's control plane: only scenarios limited to the netns provider may use it. */
  client: ControlPlaneClient;
  /** How the cluster is reached (provider-access.ts: providerOf); unset means the embedded cluster's. */
  provider?: Provider;
  pods: Map<string, ResolvedPod>;
  nodes: Map<string, ResolvedNode>;
  /** Per-scenario scratch space for `prepare` to hand things to steps. */
  state: Record<string, unknown>;
  log: (msg: string) => void;
}

export interface Topology {
  /** Minimum number of nodes. */
  nodes: number;
  cni?: CniKind[];
  routing?: RoutingMode[];
  /** Providers the scenario can run through (default: any); e.g. a scenario that reads node namespaces
   *  or the embedded control plane directly is limited to netns. */
  providers?: ProviderKind[];
}

export interface Scenario {
  name: string;
  suite: string;
  description?: string;
  topology: Topology;
  /** Kubernetes objects (Namespace, Pod, ...) applied before the steps; pods are waited for. */
  setup: (spec: ClusterSpec) => unknown[];
  /** Optional extra preparation (servers in node namespaces...). Returns its cleanup. */
  prepare?: (ctx: ScenarioContext) => Promise<() => Promise<void>>;
  steps: (ctx: ScenarioContext) => Step[];
}

export interface Suite {
  name: string;
  scenarios: Scenario[];
  /** Runs once before the suite's scenarios (after their pods are up); returns the suite's cleanup. */
  prepare?: (ctx: ScenarioContext) => Promise<() => Promise<void>>;
  /** false: the suite's own traffic (streams, reconnects around injected faults) lands in the windows of
   *  its probe batches, so the batches' exact metric deltas are not checked; flow requirements are. */
  exactCounters?: false;
}

/** Why a scenario does not apply to a cluster, or undefined when it does. */
export function notApplicable(topology: Topology, spec: Pick<ClusterSpec, 'nodes' | 'cni' | 'routing'>, provider: ProviderKind = 'netns'): string | undefined {
  if (topology.providers && !topology.providers.includes(provider)) return `runs through the ${topology.providers.join('|')} provider only, not ${provider}`;
  if (spec.nodes.length < topology.nodes) return `needs ${topology.nodes} nodes, the cluster has ${spec.nodes.length}`;
  if (topology.cni && !topology.cni.includes(spec.cni)) return `applies to cni ${topology.cni.join('|')}, not ${spec.cni}`;
  if (topology.routing && !topology.routing.includes(spec.routing)) return `applies to routing ${topology.routing.join('|')}, not ${spec.routing}`;
  return undefined;
}
