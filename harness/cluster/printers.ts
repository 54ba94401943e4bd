// kubectl-style output for `cnilab get`: the same columns, column spacing, AGE format, selector format
// and List envelope, so what users know from kubectl (and scripts that read it) carries over.
import { stringify } from 'yaml';
import { isNamespaced, type EndpointSlice, type KubeObject, type LabelSelector, type Namespace, type NetworkPolicy, type Pod, type Service } from './objects.js';

export interface TableOptions {
  wide?: boolean;
  allNamespaces?: boolean;
  /** The namespace that was listed, for "No resources found in NS namespace." (default "default"). */
  namespace?: string;
  /** Reference time for AGE; injectable so output is testable. */
  now?: Date | number;
}

/**
 * A table, or kubectl's "No resources found" notice, which kubectl writes to stderr (so that
 * `cnilab get pods | wc -l` counts nothing) and the caller should too. Neither text ends in '\n'
 * except a table, which is newline-terminated like kubectl's.
 */
export type TableResult = { empty: false; text: string } | { empty: true; text: ''; message: string };

export type ListFormat = 'json' | 'yaml';

// ---- AGE, as k8s.io/apimachinery's duration.HumanDuration -----------------------------------------

export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000); // Go's int(d.Seconds()) truncates toward zero
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 8) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.floor(days / 365);
  if (hours < 24 * 365 * 8) return days % 365 === 0 ? `${years}y` : `${years}y${days % 365}d`;
  return `${years}y`;
}

export function formatAge(creationTimestamp: string | undefined, now: Date | number = Date.now()): string {
  const t = creationTimestamp ? Date.parse(creationTimestamp) : NaN;
  if (Number.isNaN(t)) return '<unknown>';
  return humanDuration(+now - t);
}

// ---- Selectors, as metav1.FormatLabelSelector and labels.Set.String --------------------------------

/** `pod=a,tier in (db,web),!legacy`: requirements sorted by key; `<none>` for an empty selector. */
export function formatLabelSelector(sel: LabelSelector | undefined): string {
  const reqs: Array<[string, string]> = Object.entries(sel?.matchLabels ?? {}).map(([k, v]) => [k, `${k}=${v}`]);
  for (const r of sel?.matchExpressions ?? []) {
    const values = [...(r.values ?? [])].sort().join(',');
    const text =
      r.operator === 'In' ? `${r.key} in (${values})`
      : r.operator === 'NotIn' ? `${r.key} notin (${values})`
      : r.operator === 'Exists' ? r.key
      : `!${r.key}`;
    reqs.push([r.key, text]);
  }
  if (!reqs.length) return '<none>';
  return reqs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map((r) => r[1]).join(',');
}

export function formatLabels(labels: Record<string, string> | undefined): string {
  const keys = Object.keys(labels ?? {}).sort();
  return keys.length ? keys.map((k) => `${k}=${labels![k]}`).join(',') : '<none>';
}

/** kubectl's listWithMoreString: the first three, then "+ N more...", "<unset>" when empty. */
export function listWithMore(items: string[], max = 3): string {
  if (items.length === 0) return '<unset>';
  const shown = items.slice(0, max).join(',');
  return items.length > max ? `${shown} + ${items.length - max} more...` : shown;
}

// ---- Columns per kind ------------------------------------------------------------------------------

interface Columns {
  head: string[];
  wideHead?: string[];
  row: (o: KubeObject, age: string) => string[];
  wideRow?: (o: KubeObject) => string[];
}

export function podReady(pod: Pod): string {
  const total = pod.spec?.containers?.length ?? 0;
  const statuses = pod.status?.containerStatuses;
  const ready = statuses ? statuses.filter((s) => s.ready).length : pod.status?.phase === 'Running' ? total : 0;
  return `${ready}/${total}`;
}

/** kubectl's rule, simplified: a waiting or terminated container's reason beats the pod's phase. */
export function podStatus(pod: Pod): string {
  if (pod.metadata.deletionTimestamp) return 'Terminating';
  const st = pod.status ?? {};
  let reason = st.reason || st.phase || 'Pending';
  for (const cs of [...(st.containerStatuses ?? [])].reverse()) {
    const waiting = cs.state?.waiting?.reason;
    const term = cs.state?.terminated;
    if (waiting) reason = waiting;
    else if (term && !(term.reason === 'Completed' && st.phase === 'Running')) {
      reason = term.reason || (term.signal ? `Signal:${term.signal}` : `ExitCode:${term.exitCode ?? 0}`);
    }
  }
  return reason;
}

const COLUMNS: Record<string, Columns> = {
  Pod: {
    head: ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE'],
    wideHead: ['IP', 'NODE'],
    row: (o, age) => {
      const pod = o as Pod;
      const restarts = (pod.status?.containerStatuses ?? []).reduce((n, s) => n + (s.restartCount ?? 0), 0);
      return [pod.metadata.name, podReady(pod), podStatus(pod), String(restarts), age];
    },
    wideRow: (o) => [(o as Pod).status?.podIP || '<none>', (o as Pod).spec?.nodeName || '<none>'],
  },
  Service: {
    head: ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE'],
    wideHead: ['SELECTOR'],
    row: (o, age) => {
      const s = (o as Service).spec ?? { ports: [] };
      const ports = (s.ports ?? []).map((p) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ''}/${p.protocol ?? 'TCP'}`).join(',');
      return [o.metadata.name, s.type ?? 'ClusterIP', s.clusterIP || '<none>', s.externalIPs?.join(',') || '<none>', ports || '<none>', age];
    },
    wideRow: (o) => [formatLabels((o as Service).spec?.selector)],
  },
  EndpointSlice: {
    head: ['NAME', 'ADDRESSTYPE', 'PORTS', 'ENDPOINTS', 'AGE'],
    row: (o, age) => {
      const s = o as EndpointSlice;
      const ports = (s.ports ?? []).map((p) => (p.port !== undefined ? String(p.port) : p.name ? p.name : '*'));
      const addrs = (s.endpoints ?? []).flatMap((e) => e.addresses ?? []);
      return [o.metadata.name, s.addressType ?? '', listWithMore(ports), listWithMore(addrs), age];
    },
  },
  NetworkPolicy: {
    head: ['NAME', 'POD-SELECTOR', 'AGE'],
    row: (o, age) => [o.metadata.name, formatLabelSelector((o as NetworkPolicy).spec?.podSelector), age],
  },
  Namespace: {
    head: ['NAME', 'STATUS', 'AGE'],
    row: (o, age) => [o.metadata.name, (o as Namespace).status?.phase ?? 'Active', age],
  },
};
// CiliumNetworkPolicy and anything else: NAME AGE, as kubectl prints a resource it has no columns for.
const DEFAULT_COLUMNS: Columns = { head: ['NAME', 'AGE'], row: (o, age) => [o.metadata.name, age] };

/**
 * Align like kubectl's tabwriter (minwidth 6, padding 3): each column but the last is as wide as its
 * longest cell plus 3; the last is not padded, so lines carry no trailing blanks.
 */
export function renderColumns(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(Math.max(widths[c]! + 3, 6)))).join('')).join('\n') + '\n';
}

export function noResourcesMessage(kind: string, opts: { namespace?: string; allNamespaces?: boolean } = {}): string {
  return opts.allNamespaces || !isNamespaced(kind) ? 'No resources found' : `No resources found in ${opts.namespace ?? 'default'} namespace.`;
}

const byNamespaceThenName = (a: KubeObject, b: KubeObject) =>
  (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') || a.metadata.name.localeCompare(b.metadata.name);

/** `cnilab get KIND`: the table for one kind, NAMESPACE first with -A (namespaced kinds only). */
export function printTable(kind: string, objects: KubeObject[], opts: TableOptions = {}): TableResult {
  if (objects.length === 0) return { empty: true, text: '', message: noResourcesMessage(kind, opts) };
  const cols = COLUMNS[kind] ?? DEFAULT_COLUMNS;
  const withNs = opts.allNamespaces === true && isNamespaced(kind);
  const wide = opts.wide === true && cols.wideRow !== undefined;
  const now = opts.now ?? Date.now();
  const rows = [[...(withNs ? ['NAMESPACE'] : []), ...cols.head, ...(wide ? cols.wideHead! : [])]];
  for (const o of [...objects].sort(byNamespaceThenName)) {
    const age = formatAge(o.metadata.creationTimestamp, now);
    rows.push([...(withNs ? [o.metadata.namespace ?? ''] : []), ...cols.row(o, age), ...(wide ? cols.wideRow!(o) : [])]);
  }
  return { empty: false, text: renderColumns(rows) };
}

// ---- -o json / -o yaml -------------------------------------------------------------------------------

// kubectl prints objects with their keys sorted (Go marshals maps that way); doing the same makes the
// output stable and familiar.
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (typeof v !== 'object' || v === null) return v;
  return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
}

function render(value: unknown, format: ListFormat): string {
  const sorted = sortKeys(value);
  // kubectl: 4-space JSON; block YAML with list items at their parent's indentation, no line folding.
  return format === 'json' ? `${JSON.stringify(sorted, null, 4)}\n` : stringify(sorted, { indentSeq: false, lineWidth: 0 });
}

/** `-o json|yaml` of a listing: a v1 List, printed even when empty (kubectl prints no notice then). */
export function printList(objects: KubeObject[], format: ListFormat): string {
  return render({ apiVersion: 'v1', items: objects, kind: 'List', metadata: { resourceVersion: '' } }, format);
}

/** `-o json|yaml` of one object asked for by name (kubectl prints the object itself, not a List). */
export function printObject(obj: KubeObject, format: ListFormat): string {
  return render(obj, format);
}

/** `-o name`: `pod/a`, `networkpolicy.networking.k8s.io/deny`, as kubectl names resources. */
export function printNames(objects: KubeObject[]): string {
  return objects
    .map((o) => {
      const group = o.apiVersion.includes('/') ? `.${o.apiVersion.split('/')[0]}` : '';
      return `${o.kind.toLowerCase()}${group}/${o.metadata.name}\n`;
    })
    .join('');
}
