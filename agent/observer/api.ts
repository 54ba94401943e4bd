// The observer API (Hubble's observer.proto GetFlows, served as newline-delimited protojson over HTTP on
// the agent's unix socket and by the relay). Shared by the agent, the relay, the CLI and the UI.
import type { FlowFilter } from './filter.js';
import type { Flow } from './flow.js';
import type { LostEventSourceName } from './names.js';

export interface GetFlowsRequest {
  /** uint64 in protojson: a number or a decimal string. 0 with neither follow nor since: everything held. */
  number?: number | string;
  /** The first `number` flows of the window instead of the last. */
  first?: boolean;
  follow?: boolean;
  /** RFC 3339 times. */
  since?: string;
  until?: string;
  whitelist?: FlowFilter[];
  blacklist?: FlowFilter[];
}

export interface LostEventJson {
  source: LostEventSourceName;
  /** uint64 → string */
  num_events_lost: string;
  /** google.protobuf.Int32Value → a bare number */
  cpu?: number;
}

export type NodeState = 'UNKNOWN_NODE_STATE' | 'NODE_CONNECTED' | 'NODE_UNAVAILABLE' | 'NODE_GONE' | 'NODE_ERROR';

export interface NodeStatusEventJson {
  state_change: NodeState;
  node_names: string[];
  message?: string;
}

export type GetFlowsResponse =
  | { flow: Flow; node_name: string; time: string }
  | { lost_events: LostEventJson; node_name?: string; time: string }
  | { node_status: NodeStatusEventJson; node_name?: string; time: string };

/** observer.proto ServerStatus (a subset), per node and summed by the relay. */
export interface ServerStatus {
  num_flows: string;
  max_flows: string;
  seen_flows: string;
  uptime_ns: string;
  num_connected_nodes?: number;
  num_unavailable_nodes?: number;
  unavailable_nodes?: string[];
  /** Events the datapath could not put into its ring buffer (BPF side), and the observer's own losses. */
  lost_events?: Record<string, string>;
}

export class RequestError extends Error {
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
  }
}

export interface ParsedRequest {
  number: number;
  first: boolean;
  follow: boolean;
  sinceMs?: number;
  untilMs?: number;
  whitelist: FlowFilter[];
  blacklist: FlowFilter[];
}

function time(field: string, v: unknown): number | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  const ms = typeof v === 'string' && /^\d{4}-\d\d-\d\dT/.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(ms)) throw new RequestError(field, `expected an RFC 3339 time like 2024-01-02T03:04:05Z, got ${JSON.stringify(v)}`);
  return ms;
}

/** Validates a GetFlowsRequest from the wire (anything may arrive there). */
export function parseGetFlowsRequest(raw: unknown): ParsedRequest {
  const r = (raw ?? {}) as Record<string, unknown>;
  if (typeof r !== 'object' || Array.isArray(r)) throw new RequestError('request', 'expected a JSON object');
  const known = ['number', 'first', 'follow', 'since', 'until', 'whitelist', 'blacklist'];
  for (const k of Object.keys(r)) if (!known.includes(k)) throw new RequestError(k, `unknown field (expected ${known.join(', ')})`);
  const n = r.number === undefined ? 0 : Number(r.number);
  if (!Number.isSafeInteger(n) || n < 0 || (typeof r.number === 'string' && !/^\d+$/.test(r.number))) throw new RequestError('number', `expected a whole number ≥ 0, got ${JSON.stringify(r.number)}`);
  for (const b of ['first', 'follow'] as const) if (r[b] !== undefined && typeof r[b] !== 'boolean') throw new RequestError(b, 'expected true or false');
  const lists = (k: 'whitelist' | 'blacklist'): FlowFilter[] => {
    const v = r[k] ?? [];
    if (!Array.isArray(v) || v.some((f) => !f || typeof f !== 'object' || Array.isArray(f))) throw new RequestError(k, 'expected a list of FlowFilter objects');
    return v as FlowFilter[];
  };
  const sinceMs = time('since', r.since);
  const untilMs = time('until', r.until);
  if (sinceMs !== undefined && untilMs !== undefined && untilMs < sinceMs) throw new RequestError('until', 'is before since');
  return { number: n, first: r.first === true, follow: r.follow === true, sinceMs, untilMs, whitelist: lists('whitelist'), blacklist: lists('blacklist') };
}

export function isFlowResponse(r: GetFlowsResponse): r is { flow: Flow; node_name: string; time: string } {
  return 'flow' in r;
}
