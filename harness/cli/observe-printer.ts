// How `cnilab observe` prints GetFlowsResponses, in hubble's four formats:
//   compact  Jan _2 15:04:05.000 [node]: src:port (ID:n) -> dst:port (ID:n) to-endpoint FORWARDED (TCP Flags: SYN)
//   json     (= jsonpb) one GetFlowsResponse per line, protojson with proto field names
//   dict     one "KEY: value" block per flow, separated by dashes
//   table    aligned columns TIMESTAMP NODE SOURCE DESTINATION TYPE VERDICT SUMMARY
import type { GetFlowsResponse } from '../../agent/observer/api.js';
import type { Flow, FlowEndpoint } from '../../agent/observer/flow.js';
import { DROP_REASON_TEXT, MONITOR_TYPE, POLICY_MATCH_TEXT, TRACE_POINT_NAMES } from '../../agent/observer/names.js';

export type OutputFormat = 'compact' | 'json' | 'jsonpb' | 'dict' | 'table';
export const OUTPUT_FORMATS: OutputFormat[] = ['compact', 'json', 'jsonpb', 'dict', 'table'];

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const RESERVED_NAMES: Record<number, string> = { 1: 'host', 2: 'world', 3: 'unmanaged', 4: 'health', 5: 'init', 6: 'remote-node', 7: 'kube-apiserver', 8: 'ingress' };

/** Go's "Jan _2 15:04:05.000" (time.StampMilli) in local time. */
export function stampMilli(rfc3339: string): string {
  const d = new Date(rfc3339);
  if (Number.isNaN(d.getTime())) return rfc3339;
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

function ports(f: Flow): { src?: number; dst?: number } {
  const l4 = f.l4?.TCP ?? f.l4?.UDP;
  return l4 ? { src: l4.source_port ?? 0, dst: l4.destination_port ?? 0 } : {};
}

function endpointText(e: FlowEndpoint | undefined, ip: string | undefined, port: number | undefined): string {
  const who = e?.pod_name ? `${e.namespace ? `${e.namespace}/` : ''}${e.pod_name}` : (ip ?? '');
  return port !== undefined ? `${who}:${port}` : who;
}

function identityText(e: FlowEndpoint | undefined): string {
  const id = e?.identity ?? 0;
  return RESERVED_NAMES[id] ? `(${RESERVED_NAMES[id]})` : `(ID:${id})`;
}

/** hubble's GetFlowType: the observation point, the drop reason, the policy verdict or the L7 kind. */
export function flowType(f: Flow): string {
  if (f.l7) return `${f.l7.http ? 'http' : f.l7.dns ? 'dns' : 'l7'}-${f.l7.type.toLowerCase()}`;
  switch (f.event_type.type) {
    case MONITOR_TYPE.trace:
      return TRACE_POINT_NAMES[f.event_type.sub_type ?? 0] ?? String(f.event_type.sub_type);
    case MONITOR_TYPE.drop:
      return DROP_REASON_TEXT[f.event_type.sub_type ?? 0] ?? String(f.event_type.sub_type ?? 0);
    case MONITOR_TYPE['policy-verdict']:
      return `policy-verdict:${POLICY_MATCH_TEXT[f.policy_match_type ?? 0] ?? 'unknown'} ${f.traffic_direction ?? 'TRAFFIC_DIRECTION_UNKNOWN'}`;
    default:
      return 'UNKNOWN';
  }
}

/** hubble's verdict word: policy verdicts say ALLOWED / DENIED / AUDITED. */
export function verdictText(f: Flow): string {
  if (f.event_type.type !== MONITOR_TYPE['policy-verdict']) return f.verdict;
  return f.verdict === 'FORWARDED' || f.verdict === 'REDIRECTED' ? 'ALLOWED' : f.verdict === 'AUDIT' ? 'AUDITED' : 'DENIED';
}

function sides(f: Flow): { left: string; arrow: string; right: string } {
  const { src, dst } = ports(f);
  const s = `${endpointText(f.source, f.IP?.source, src)} ${identityText(f.source)}`;
  const d = `${endpointText(f.destination, f.IP?.destination, dst)} ${identityText(f.destination)}`;
  // hubble: unknown direction "<>", a reply printed from the connection's initiator with "<-".
  if (f.is_reply === undefined) return { left: s, arrow: '<>', right: d };
  return f.is_reply ? { left: d, arrow: '<-', right: s } : { left: s, arrow: '->', right: d };
}

export function compactFlow(f: Flow): string {
  const { left, arrow, right } = sides(f);
  return `${stampMilli(f.time)} [${f.node_name}]: ${left} ${arrow} ${right} ${flowType(f)} ${verdictText(f)}${f.Summary ? ` (${f.Summary})` : ''}`;
}

function lostText(r: Extract<GetFlowsResponse, { lost_events: unknown }>): string {
  const l = r.lost_events;
  return `EVENTS LOST: ${l.source}${l.cpu !== undefined ? ` CPU(${l.cpu})` : ''} ${l.num_events_lost}`;
}

/** A node status event, as a warning line (compact, dict and table print it on stderr). */
export function nodeStatusText(r: GetFlowsResponse): string | undefined {
  if (!('node_status' in r)) return undefined;
  const s = r.node_status;
  const what = s.state_change === 'NODE_UNAVAILABLE' ? 'unavailable' : s.state_change === 'NODE_CONNECTED' ? 'connected' : s.state_change.toLowerCase();
  return `${s.state_change === 'NODE_CONNECTED' ? 'Info' : 'Warning'}: node ${s.node_names.join(', ')} ${what}${s.message ? `: ${s.message}` : ''}`;
}

function dictBlock(f: Flow): string {
  const { src, dst } = ports(f);
  const rows: Array<[string, string]> = [
    ['TIMESTAMP', stampMilli(f.time)],
    ['NODE', f.node_name],
    ['SOURCE', endpointText(f.source, f.IP?.source, src)],
    ['DESTINATION', endpointText(f.destination, f.IP?.destination, dst)],
    ['TYPE', flowType(f)],
    ['VERDICT', verdictText(f)],
    ['SUMMARY', f.Summary ?? ''],
  ];
  return rows.map(([k, v]) => `${k.padStart(11)}: ${v}`).join('\n');
}

const TABLE_HEADER = ['TIMESTAMP', 'NODE', 'SOURCE', 'DESTINATION', 'TYPE', 'VERDICT', 'SUMMARY'];

function tableRow(f: Flow): string[] {
  const { src, dst } = ports(f);
  return [stampMilli(f.time), f.node_name, endpointText(f.source, f.IP?.source, src), endpointText(f.destination, f.IP?.destination, dst), flowType(f), verdictText(f), f.Summary ?? ''];
}

/** Writes responses in one format; table rows are aligned per write batch (all at once without follow). */
export class FlowPrinter {
  private dictCount = 0;
  private tableHeaderDone = false;
  private widths = TABLE_HEADER.map((h) => h.length);

  constructor(private readonly format: OutputFormat, private readonly out: (s: string) => void, private readonly err: (s: string) => void) {}

  print(batch: GetFlowsResponse[]): void {
    if (this.format === 'json' || this.format === 'jsonpb') {
      for (const r of batch) this.out(`${JSON.stringify(r)}\n`);
      return;
    }
    const rows: string[][] = [];
    for (const r of batch) {
      const warn = nodeStatusText(r);
      if (warn) {
        this.err(`${warn}\n`);
        continue;
      }
      if ('lost_events' in r) {
        if (this.format === 'table') rows.push([stampMilli(r.time), r.node_name ?? '', '', '', 'LOST', '', lostText(r)]);
        else this.out(`${this.format === 'dict' && this.dictCount++ ? '------------\n' : ''}${lostText(r)}\n`);
        continue;
      }
      if (!('flow' in r)) continue;
      if (this.format === 'compact') this.out(`${compactFlow(r.flow)}\n`);
      else if (this.format === 'dict') this.out(`${this.dictCount++ ? '------------\n' : ''}${dictBlock(r.flow)}\n`);
      else rows.push(tableRow(r.flow));
    }
    if (this.format === 'table' && (rows.length || !this.tableHeaderDone)) {
      for (const row of rows) row.forEach((c, i) => (this.widths[i] = Math.max(this.widths[i]!, c.length)));
      const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(this.widths[i]! + 2))).join('').trimEnd();
      if (!this.tableHeaderDone) {
        this.out(`${line(TABLE_HEADER)}\n`);
        this.tableHeaderDone = true;
      }
      for (const row of rows) this.out(`${line(row)}\n`);
    }
  }
}
