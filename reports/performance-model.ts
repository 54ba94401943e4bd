// The performance result model: what `cnilab bench` produced, written as perf.json (the source of truth;
// perf.md, perf.html and `cnilab report compare` are all computed from it). Versioned and tagged with
// `kind: 'performance'` so compare can refuse a connectivity result or a future schema it does not know.
// Bump PERF_SCHEMA_VERSION on any change that removes or re-means a field.
import type { Environment } from './model.js';

export const PERF_SCHEMA_VERSION = 1 as const;
export const PERF_KIND = 'performance' as const;

/** The five configurations compared, in report order: baselines first, then ours. */
export const PERF_CONFIG_NAMES = ['baseline', 'kernel-vxlan', 'reference-bridge', 'cnilab-tunnel', 'cnilab-native'] as const;
export type PerfConfigName = (typeof PERF_CONFIG_NAMES)[number];

/** same: client and server pods on node1. other: client on node1, server on node2 (crosses the underlay). */
export const PATHS = ['same', 'other'] as const;
export type PathKind = (typeof PATHS)[number];

/** tcp-1 / tcp-4: iperf3 TCP with 1 and 4 streams. udp: iperf3 UDP at a fixed offered rate.
 *  rr: sockperf TCP ping-pong (TCP_RR). crr: connect, 1 byte each way, close (TCP_CRR).
 *  http: HTTP load (wrk, keep-alive connections) against agnhost netexec behind a Service's ClusterIP —
 *  cnilab's load balancer, or kube-proxy-style iptables rules where the CNI has none. */
export const TESTS = ['tcp-1', 'tcp-4', 'udp', 'rr', 'crr', 'http'] as const;
export type TestKind = (typeof TESTS)[number];

export type Quantity = 'throughput' | 'retransmits' | 'cpuPerGB' | 'loss' | 'p50' | 'p90' | 'p99' | 'tps' | 'rate' | 'rps';

export type Direction = 'higher-is-better' | 'lower-is-better';

export interface QuantityInfo {
  unit: string;
  direction: Direction;
  label: string;
  /** Differences smaller than this (in the unit) are never a regression: a run going from 0 to 3
   *  retransmits is +∞ % but means nothing. Undefined: relative change only. */
  absFloor?: number;
}

export const QUANTITIES: Record<Quantity, QuantityInfo> = {
  throughput: { unit: 'bit/s', direction: 'higher-is-better', label: 'throughput' },
  // Retransmits of a multi-Gbit/s sample swing by thousands between identical runs on this host.
  retransmits: { unit: 'segments', direction: 'lower-is-better', label: 'TCP retransmits', absFloor: 1000 },
  cpuPerGB: { unit: 'CPU s/GB', direction: 'lower-is-better', label: 'CPU seconds per GB', absFloor: 0.02 },
  loss: { unit: '%', direction: 'lower-is-better', label: 'UDP loss', absFloor: 0.5 },
  p50: { unit: 'µs', direction: 'lower-is-better', label: 'latency p50' },
  p90: { unit: 'µs', direction: 'lower-is-better', label: 'latency p90' },
  p99: { unit: 'µs', direction: 'lower-is-better', label: 'latency p99' },
  tps: { unit: 'transactions/s', direction: 'higher-is-better', label: 'transactions/s' },
  rate: { unit: 'connections/s', direction: 'higher-is-better', label: 'connection rate' },
  rps: { unit: 'requests/s', direction: 'higher-is-better', label: 'HTTP requests/s' },
};

/** What each test yields. */
export const TEST_QUANTITIES: Record<TestKind, Quantity[]> = {
  'tcp-1': ['throughput', 'retransmits', 'cpuPerGB'],
  'tcp-4': ['throughput', 'retransmits', 'cpuPerGB'],
  udp: ['throughput', 'loss', 'cpuPerGB'],
  rr: ['p50', 'p90', 'p99', 'tps'],
  crr: ['rate'],
  http: ['rps', 'p50', 'p90', 'p99'],
};

/** A metric id, e.g. "tcp-1.other.throughput"; with a configuration, "baseline:tcp-1.other.throughput". */
export function metricId(test: TestKind, path: PathKind, quantity: Quantity): string {
  return `${test}.${path}.${quantity}`;
}

export function parseMetricId(id: string): { test: TestKind; path: PathKind; quantity: Quantity } | undefined {
  const [test, path, quantity, ...rest] = id.split('.');
  if (rest.length || !(TESTS as readonly string[]).includes(test!) || !(PATHS as readonly string[]).includes(path!) || !(quantity! in QUANTITIES)) return undefined;
  return { test: test as TestKind, path: path as PathKind, quantity: quantity as Quantity };
}

/** The machine (as for a suite run), plus the traffic tools' versions and the date. */
export interface PerfEnvironment extends Environment {
  /** Versions of the traffic tools, as they print them. */
  tools: Record<string, string>;
  date: string;
}

export interface PerfParameters {
  samples: number;
  /** Seconds per throughput sample (tcp-1, tcp-4, udp). */
  durationSec: number;
  /** Seconds per rr and crr sample. */
  latencyDurationSec: number;
  /** iperf3 -b for the UDP test, e.g. "1G". */
  udpBitrate: string;
  /** Discarded round(s) before the measured ones, and what they ran. */
  warmup: { rounds: number; tests: TestKind[]; durationSec: number };
  quick: boolean;
  configs: string[];
  tests: TestKind[];
  /** Configuration order rotates by one every round so no configuration always runs first. */
  order: 'interleaved-rotating';
  /** CPUs the load generators and the servers were pinned to (taskset); absent: not pinned. */
  cpuPinning?: { client: number; server: number };
}

export interface PerfConfiguration {
  name: string;
  cni: string;
  routing: string;
  description: string;
  clusterName: string;
  status: 'ok' | 'unavailable';
  /** Why it could not be measured (never replaced by numbers). */
  reason?: string;
  podMtu?: number;
  setupMs?: number;
  pods?: Record<string, { ip: string; node: string }>;
}

export interface PerfSample {
  config: string;
  /** 0-based; warm-up rounds are negative and excluded from every aggregate. */
  round: number;
  warmup: boolean;
  test: TestKind;
  path: PathKind;
  /** Wall clock of the sample's start, ISO and epoch milliseconds (the latter proves interleaving). */
  startedAt: string;
  startMs: number;
  durationMs: number;
  values?: Partial<Record<Quantity, number>>;
  /** The sample failed: the tool's message. No value is recorded for a failed sample. */
  error?: string;
}

export interface MetricAggregate {
  config: string;
  /** e.g. "tcp-1.other.throughput" */
  metric: string;
  test: TestKind;
  path: PathKind;
  quantity: Quantity;
  unit: string;
  direction: Direction;
  /** Samples that produced a value, and samples that failed. */
  n: number;
  failed: number;
  median: number;
  min: number;
  max: number;
  mean: number;
  /** 95 % confidence interval of the mean (Student t); absent with fewer than 2 samples. */
  ci95?: [number, number];
}

export interface PerfRatio {
  config: string;
  metric: string;
  /** The configuration it is divided by (always "baseline" here). */
  versus: string;
  ratio: number;
}

export interface PerfTarget {
  id: string;
  description: string;
  config: string;
  versus: string;
  metric: string;
  comparator: '>=' | '<=';
  threshold: number;
  ratio?: number;
  /** met / missed from measured medians; unavailable when either side has no numbers. */
  status: 'met' | 'missed' | 'unavailable';
  reason?: string;
}

export interface PerfResult {
  schemaVersion: typeof PERF_SCHEMA_VERSION;
  kind: typeof PERF_KIND;
  runId: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  /** Cut short by SIGINT/SIGTERM: partial. */
  interrupted?: boolean;
  environment: PerfEnvironment;
  parameters: PerfParameters;
  configurations: PerfConfiguration[];
  samples: PerfSample[];
  metrics: MetricAggregate[];
  ratios: PerfRatio[];
  targets: PerfTarget[];
}

/** Why a parsed JSON value is not a PerfResult this code understands, or undefined if it is one. */
export function perfResultProblem(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const o = v as Record<string, unknown>;
  if (o.kind !== PERF_KIND) return `not a cnilab performance result (kind is ${JSON.stringify(o.kind)}, expected "${PERF_KIND}")`;
  if (o.schemaVersion !== PERF_SCHEMA_VERSION) return `schema version ${JSON.stringify(o.schemaVersion)} is not supported (this cnilab reads ${PERF_SCHEMA_VERSION})`;
  for (const f of ['metrics', 'configurations', 'samples'] as const) if (!Array.isArray(o[f])) return `field "${f}" is missing or not a list`;
  for (const [i, m] of (o.metrics as unknown[]).entries()) {
    const a = m as Partial<MetricAggregate>;
    if (typeof a?.config !== 'string' || typeof a.metric !== 'string' || typeof a.median !== 'number') return `metrics[${i}] lacks config, metric or a numeric median`;
  }
  return undefined;
}
