// The result model: what a `cnilab run` produced, written as result.json (the source of truth; every
// other report is rendered from it). Versioned so `compare` and CI tooling can refuse what they do not
// understand. Bump SCHEMA_VERSION on any change that removes or re-means a field.

export const SCHEMA_VERSION = 1 as const;

/**
 * pass: the check earned its verdict. fail: the datapath did something other than expected.
 * unavailable: the evidence needed could not be obtained (an API missing, a tool absent): not a pass.
 */
export type Verdict = 'pass' | 'fail' | 'unavailable';

/** One piece of what a check saw: the command it ran and how it ended, and the fact read from it (a
 *  responder's name, a flow, a counter's delta, a route). A verdict without evidence is not earned. */
export interface Evidence {
  /** What kind of fact: a probe's answer, a datapath counter, a flow, a route table, a capture… */
  kind: 'probe' | 'counter' | 'flow' | 'route' | 'capture' | 'link' | 'neighbour' | 'api' | 'timing' | 'stream';
  /** Pasteable command that produced it, when there is one. */
  command?: string;
  exit?: number;
  /** The fact, in words ("RESPONDER: conn-node2-a", "+3 packets, reason 169", "no 198.19.3.0/24"). */
  observed: string;
}

export interface CheckResult {
  /** Stable within a scenario, e.g. "pod-pod/tcp/conn-n1-a/conn-n2-b". */
  id: string;
  name: string;
  from?: string;
  to?: string;
  protocol?: string;
  port?: number;
  /** What had to happen, in words ("ok (exit 0)", "refused", "mtu 1450"). */
  expected: string;
  /** What did happen, in the same words. */
  observed: string;
  /** verdict === 'pass'. Kept as its own field so consumers need not know the verdict values. */
  passed: boolean;
  verdict: Verdict;
  durationMs: number;
  /** Pasteable shell command that reproduces the observation, when there is one. */
  command?: string;
  detail?: string;
  /** Free-form facets for grouping and matrices: kind, fromNode, toNode, matrix, ... */
  tags?: Record<string, string>;
  /** A policy check's reachability truth tables (expected by the oracle, observed, compared). */
  reachability?: Reachability;
  /** What the verdict rests on. */
  evidence?: Evidence[];
}

/**
 * One probe set of the policy suite, as the upstream netpol e2e prints it. Each table string is a row
 * (a source), each character a column (a destination): '.' connected / allowed, 'X' blocked, '?' could
 * not tell, '-' not probed. In `comparison`, '.' is a probe whose observation matched the oracle in
 * connectivity and evidence, 'X' one that did not.
 */
export interface ReachabilityTable {
  protocol: string;
  port: number;
  expected: string[];
  observed: string[];
  comparison: string[];
}

export interface ReachabilityMismatch {
  from: string;
  to: string;
  protocol: string;
  port: number;
  expected: 'allowed' | 'blocked';
  /** What was seen: "connected", "dropped POLICY_DENIED INGRESS on node2", "timeout", ... */
  observed: string;
  why: string;
  /** The oracle's reason for its expectation. */
  oracle: string;
  attempts: number;
}

export interface Reachability {
  rows: string[];
  columns: string[];
  tables: ReachabilityTable[];
  correct: number;
  incorrect: number;
  /** What could not be probed on this machine; never counted as correct. */
  unsupported?: string[];
  /** How probes were settled: answer, drop-flow, timeout, refused, wrong-answer, error. */
  evidence: Record<string, number>;
  /** Whether blocked probes had to be confirmed by the agents' drop flows. */
  flows: 'agents' | 'none';
  /** Flows the agents overwrote before they could be read while this step probed (evidence lost, never assumed). */
  flowsMissed?: number;
  retries: { firstTryIncorrect: number; retriedProbes: number; reprobes: number; secondTry: boolean };
  probeMs: number;
  mismatches: ReachabilityMismatch[];
}

export type ScenarioStatus = 'passed' | 'failed' | 'error' | 'skipped';

export interface ScenarioResult {
  name: string;
  suite: string;
  description?: string;
  status: ScenarioStatus;
  /** Why a scenario was skipped (not applicable to this configuration) or errored. */
  reason?: string;
  startedAt: string;
  setupMs: number;
  durationMs: number;
  checks: CheckResult[];
}

export interface SuiteResult {
  name: string;
  /** passed only when at least one scenario ran and every scenario that ran passed. */
  passed: boolean;
  /** Set when the suite itself is at fault (no scenario, unknown suite). */
  error?: string;
  durationMs: number;
  scenarios: ScenarioResult[];
}

export interface ConfigurationResult {
  /** Configuration name as given to --config, e.g. "reference-bridge", "cnilab-tunnel". */
  name: string;
  /** The CNI: as configured (embedded cluster), or as the provider found it (a cluster from a kubeconfig). */
  cni: string;
  routing: string;
  nodes: number;
  podMtu?: number;
  clusterName: string;
  /** How the cluster was reached (netns, kubeconfig, …); absent in results of older versions (netns). */
  provider?: string;
  /** Cluster up (namespaces, underlay, control plane, agents). */
  clusterUpMs?: number;
  /** Scenario pods applied and Running. */
  podsReadyMs?: number;
  /** clusterUpMs + podsReadyMs. */
  bringUpMs?: number;
  /** All suites of this configuration. */
  suiteMs?: number;
  teardownMs?: number;
  /** A failure outside any check (cluster would not come up, teardown left things behind). */
  error?: string;
  suites: SuiteResult[];
  summary: Summary;
}

export interface Environment {
  kernel: string;
  cpuModel: string;
  cpuCount: number;
  memoryBytes: number;
  nodeVersion: string;
  cnilabVersion: string;
  gitCommit?: string;
  gitDirty?: boolean;
  hostname: string;
  platform: string;
}

export interface Summary {
  configurations: number;
  suites: number;
  scenarios: number;
  scenariosFailed: number;
  scenariosSkipped: number;
  checks: number;
  passed: number;
  failed: number;
  unavailable: number;
}

export interface RunResult {
  schemaVersion: typeof SCHEMA_VERSION;
  runId: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  /** True when the run was cut short (SIGINT/SIGTERM): results are partial. */
  interrupted?: boolean;
  environment: Environment;
  configurations: ConfigurationResult[];
  summary: Summary;
}

export function emptySummary(): Summary {
  return { configurations: 0, suites: 0, scenarios: 0, scenariosFailed: 0, scenariosSkipped: 0, checks: 0, passed: 0, failed: 0, unavailable: 0 };
}

export function summarizeSuites(suites: SuiteResult[]): Summary {
  const s = emptySummary();
  for (const suite of suites) {
    s.suites++;
    for (const sc of suite.scenarios) {
      s.scenarios++;
      if (sc.status === 'skipped') s.scenariosSkipped++;
      else if (sc.status !== 'passed') s.scenariosFailed++;
      for (const c of sc.checks) {
        s.checks++;
        if (c.verdict === 'pass') s.passed++;
        else if (c.verdict === 'unavailable') s.unavailable++;
        else s.failed++;
      }
    }
  }
  return s;
}

export function summarizeRun(configs: ConfigurationResult[]): Summary {
  const s = emptySummary();
  for (const c of configs) {
    s.configurations++;
    for (const k of Object.keys(c.summary) as Array<keyof Summary>) if (k !== 'configurations') s[k] += c.summary[k];
  }
  return s;
}

/** A configuration passed when it has suites, none errored, and every suite passed. */
export function configurationPassed(c: ConfigurationResult): boolean {
  return !c.error && c.suites.length > 0 && c.suites.every((s) => s.passed);
}

/** The whole run passed: at least one configuration, all passed, not interrupted. */
export function runPassed(r: RunResult): boolean {
  return !r.interrupted && r.configurations.length > 0 && r.configurations.every(configurationPassed);
}

export function failedChecks(sc: ScenarioResult): CheckResult[] {
  return sc.checks.filter((c) => !c.passed);
}
