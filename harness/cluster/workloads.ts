// The workload kinds (apps/v1 Deployment, ReplicaSet, DaemonSet): their validation and the defaults
// the API server gives them. The pod template is validated as a Pod would be, with field paths under
// spec.template, and the selector must select the template's labels, as Kubernetes requires.
import { InvalidInputError, InvalidInputList } from '../errors.js';
import { matchLabelSelector, normalizeObject, validateObject, type KubeObject, type LabelSelector, type PodSpec } from './objects.js';

export const WORKLOAD_KINDS = ['Deployment', 'ReplicaSet', 'DaemonSet'] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];
export const isWorkloadKind = (k: unknown): k is WorkloadKind => (WORKLOAD_KINDS as readonly unknown[]).includes(k);

export interface PodTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string>; [k: string]: unknown };
  spec: PodSpec;
}
export interface WorkloadSpec {
  replicas?: number;
  selector: LabelSelector;
  template: PodTemplate;
  [k: string]: unknown;
}
export interface Workload extends KubeObject {
  kind: WorkloadKind;
  spec: WorkloadSpec;
  status?: Record<string, unknown>;
}

/** Pods are named <replicaset>-<5 chars> and ReplicaSets <deployment>-<10 chars>; both must stay DNS labels. */
const MAX_NAME: Record<WorkloadKind, number> = { Deployment: 63 - 17, ReplicaSet: 63 - 6, DaemonSet: 63 - 6 };

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function validateWorkload(raw: Record<string, unknown>, where: string): KubeObject {
  const kind = raw.kind as WorkloadKind;
  const problems: InvalidInputError[] = [];
  const add = (path: string, msg: string) => problems.push(new InvalidInputError(`${where}: ${path}`, msg));
  if (raw.apiVersion !== 'apps/v1') add('apiVersion', `expected "apps/v1" for a ${kind}, got ${JSON.stringify(raw.apiVersion)}`);
  const meta = isMap(raw.metadata) ? raw.metadata : {};
  if (!isMap(raw.metadata)) add('metadata', 'required');
  const spec = raw.spec;
  if (!isMap(spec)) {
    add('spec', 'required');
    throw new InvalidInputList(problems);
  }
  if (spec.replicas !== undefined && kind !== 'DaemonSet' && !(Number.isInteger(spec.replicas) && (spec.replicas as number) >= 0)) {
    add('spec.replicas', `expected a whole number >= 0, got ${JSON.stringify(spec.replicas)}`);
  }
  const selector = spec.selector;
  if (!isMap(selector)) add('spec.selector', 'required');
  else if (!isMap(selector.matchLabels) && !Array.isArray(selector.matchExpressions)) add('spec.selector', 'empty selector is invalid for a workload');
  const template = spec.template;
  if (!isMap(template)) add('spec.template', 'required');
  else {
    const tmeta = isMap(template.metadata) ? template.metadata : {};
    // The template is checked as a Pod named like the workload; its problems move under spec.template.
    const asPod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: typeof meta.name === 'string' ? meta.name : 'template', namespace: meta.namespace, labels: tmeta.labels, annotations: tmeta.annotations },
      spec: template.spec,
    };
    try {
      validateObject(asPod, `${where}@template`);
    } catch (e) {
      if (!(e instanceof InvalidInputList)) throw e;
      for (const p of e.problems) {
        const field = p.field.slice(`${where}@template: `.length);
        if (field.startsWith('metadata.name')) continue; // reported below for the workload itself
        problems.push(new InvalidInputError(`${where}: spec.template.${field}`, p.message.slice(p.field.length + 2)));
      }
    }
    if (isMap(selector) && problems.length === 0 && !matchLabelSelector(selector as LabelSelector, tmeta.labels as Record<string, string> | undefined)) {
      add('spec.template.metadata.labels', '`selector` does not match template `labels`');
    }
    const restart = isMap(template.spec) ? template.spec.restartPolicy : undefined;
    if (restart !== undefined && restart !== 'Always') add('spec.template.spec.restartPolicy', `Unsupported value: ${JSON.stringify(restart)}: supported values: "Always"`);
  }
  // The workload's own metadata: reuse the Pod metadata rules through a Namespace-free probe object.
  try {
    validateObject({ apiVersion: 'v1', kind: 'Pod', metadata: { ...meta }, spec: { containers: [{ name: 'c', image: 'i' }] } }, where);
  } catch (e) {
    if (!(e instanceof InvalidInputList)) throw e;
    problems.push(...e.problems.filter((p) => p.field.startsWith(`${where}: metadata`)));
  }
  if (typeof meta.name === 'string' && meta.name.length > MAX_NAME[kind]) {
    add('metadata.name', `"${meta.name}" is ${meta.name.length} characters; a ${kind} name may have at most ${MAX_NAME[kind]} so that its pods' names stay DNS labels`);
  }
  if (problems.length) throw new InvalidInputList(problems);
  return normalizeWorkload(raw as unknown as KubeObject);
}

/** The API server's defaults for apps/v1 workloads (and the Pod defaults inside the template). */
export function normalizeWorkload(input: KubeObject): Workload {
  const obj = structuredClone(input) as Workload;
  obj.metadata = { ...obj.metadata };
  obj.metadata.namespace ??= 'default';
  const spec = obj.spec;
  if (obj.kind !== 'DaemonSet') spec.replicas ??= 1;
  spec.revisionHistoryLimit ??= 10;
  if (obj.kind === 'Deployment') {
    spec.strategy ??= { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } };
    spec.progressDeadlineSeconds ??= 600;
  }
  if (obj.kind === 'DaemonSet') spec.updateStrategy ??= { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } };
  const pod = normalizeObject({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'template', namespace: obj.metadata.namespace }, spec: spec.template.spec } as KubeObject);
  spec.template = { ...spec.template, metadata: { ...(spec.template.metadata ?? {}) }, spec: pod.spec as PodSpec };
  return obj;
}

export function templateOf(w: Workload): PodTemplate {
  return w.spec.template;
}
