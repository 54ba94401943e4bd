// labelSelector and fieldSelector query parameters, with the API server's syntax and semantics:
//   labels: a=b, a==b, a!=b, a in (x,y), a notin (x,y), a, !a   (comma = and)
//   fields: a=b, a==b, a!=b on the fields each kind supports (metadata.name, metadata.namespace,
//           spec.nodeName, status.phase for pods, ...); an unsupported field is a 400, as there.
import type { KubeObject } from '../objects.js';
import { badRequest } from './status.js';
import { splitTop } from '../../../lib/k8s/selectors.js';

export type Requirement =
  | { key: string; op: 'eq' | 'neq'; value: string }
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | 'notexists' };

const KEY = /^[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

export function parseLabelSelector(s: string | null | undefined): Requirement[] {
  if (!s) return [];
  return splitTop(s).map((term) => {
    let m: RegExpExecArray | null;
    if ((m = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(term))) {
      const values = m[3]!.split(',').map((v) => v.trim()).filter((v) => v !== '');
      check(m[1]!, values, term);
      return { key: m[1]!, op: m[2] as 'in' | 'notin', values };
    }
    if ((m = /^!\s*(\S+)$/.exec(term))) {
      check(m[1]!, [], term);
      return { key: m[1]!, op: 'notexists' };
    }
    if ((m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term))) {
      check(m[1]!, [m[3]!], term);
      return { key: m[1]!, op: m[2] === '!=' ? 'neq' : 'eq', value: m[3]! };
    }
    if (KEY.test(term)) return { key: term, op: 'exists' };
    throw badRequest(`unable to parse requirement: invalid label selector "${s}": "${term}"`);
  });
}

function check(key: string, values: string[], term: string): void {
  if (!KEY.test(key)) throw badRequest(`unable to parse requirement: invalid label key "${key}" in "${term}"`);
  for (const v of values) if (!VALUE.test(v) || v.length > 63) throw badRequest(`unable to parse requirement: invalid label value "${v}" in "${term}"`);
}

export function matchRequirements(reqs: Requirement[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return reqs.every((r) => {
    const has = Object.hasOwn(l, r.key);
    switch (r.op) {
      case 'eq':
        return has && l[r.key] === r.value;
      case 'neq':
        return !has || l[r.key] !== r.value;
      case 'in':
        return has && r.values.includes(l[r.key]!);
      case 'notin':
        return !has || !r.values.includes(l[r.key]!);
      case 'exists':
        return has;
      case 'notexists':
        return !has;
    }
  });
}

export interface FieldRequirement {
  field: string;
  op: 'eq' | 'neq';
  value: string;
}

/** The field selectors each kind supports beyond metadata.name and metadata.namespace. */
const FIELDS: Record<string, string[]> = {
  Pod: ['spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'status.phase', 'status.podIP', 'status.nominatedNodeName'],
  Event: ['involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name', 'involvedObject.uid', 'involvedObject.apiVersion', 'involvedObject.resourceVersion', 'involvedObject.fieldPath', 'reason', 'reportingComponent', 'source', 'type'],
  Namespace: ['status.phase'],
  Node: ['spec.unschedulable'],
  ReplicaSet: ['status.replicas'],
};

export function parseFieldSelector(s: string | null | undefined, kind: string): FieldRequirement[] {
  if (!s) return [];
  const allowed = new Set(['metadata.name', 'metadata.namespace', ...(FIELDS[kind] ?? [])]);
  return splitTop(s).map((term) => {
    const m = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) throw badRequest(`invalid field selector: "${term}"`);
    if (!allowed.has(m[1]!)) throw badRequest(`field label not supported: ${m[1]}`);
    return { field: m[1]!, op: m[2] === '!=' ? 'neq' : 'eq', value: m[3]!.trim() };
  });
}

function fieldValue(obj: KubeObject, path: string): string {
  let v: unknown = obj;
  for (const p of path.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined;
  return v === undefined || v === null ? '' : String(v);
}

export function matchFields(reqs: FieldRequirement[], obj: KubeObject): boolean {
  return reqs.every((r) => (fieldValue(obj, r.field) === r.value) === (r.op === 'eq'));
}

/** Both selectors of one request, ready to test objects. */
export interface Selection {
  labels: Requirement[];
  fields: FieldRequirement[];
}

export function parseSelection(params: URLSearchParams, kind: string): Selection {
  return { labels: parseLabelSelector(params.get('labelSelector')), fields: parseFieldSelector(params.get('fieldSelector'), kind) };
}

export const selects = (sel: Selection, obj: KubeObject) => matchRequirements(sel.labels, obj.metadata.labels) && matchFields(sel.fields, obj);
