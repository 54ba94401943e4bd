// The three PATCH content types of the API server:
//   application/merge-patch+json            RFC 7386 (kubectl label/annotate, patch --type merge)
//   application/strategic-merge-patch+json  Kubernetes' own: lists of structs merge by a key
//                                           (containers by name, ...) (kubectl apply, patch default)
//   application/json-patch+json             RFC 6902 operations (kubectl patch --type json)
// Strategic merge knows its merge keys from Go struct tags; here they are listed by field name,
// which is unambiguous for the kinds cnilab serves (ports: containerPort in a container, port in a
// Service).
import { badRequest } from './status.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonMap = { [k: string]: Json };
const isMap = (v: unknown): v is JsonMap => typeof v === 'object' && v !== null && !Array.isArray(v);
const clone = <T>(v: T): T => structuredClone(v);

export function mergePatch(target: Json, patch: Json): Json {
  if (!isMap(patch)) return clone(patch);
  const out: JsonMap = isMap(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k] ?? null, v);
  }
  return out;
}

/** Merge keys of lists of objects, by field name (patchMergeKey in the Kubernetes types). */
const MERGE_KEYS: Record<string, string | ((items: JsonMap[]) => string)> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  imagePullSecrets: 'name',
  conditions: 'type',
  ownerReferences: 'uid',
  hostAliases: 'ip',
  topologySpreadConstraints: 'topologyKey',
  ports: (items) => (items.some((i) => 'containerPort' in i) ? 'containerPort' : 'port'),
};
/** Lists of scalars whose patch strategy is merge (union) rather than replace. */
const MERGED_SCALAR_LISTS = new Set(['finalizers']);

export function strategicMergePatch(target: Json, patch: Json): Json {
  if (!isMap(patch)) return clone(patch);
  if (patch.$patch === 'delete') return null;
  if (patch.$patch === 'replace') {
    const rest = clone(patch);
    delete rest.$patch;
    return stripDirectives(rest);
  }
  const out: JsonMap = isMap(target) ? clone(target) : {};
  const retain = Array.isArray(patch.$retainKeys) ? (patch.$retainKeys as string[]) : undefined;
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$patch' || k === '$retainKeys' || k.startsWith('$setElementOrder/')) continue;
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const field = k.slice('$deleteFromPrimitiveList/'.length);
      if (Array.isArray(out[field]) && Array.isArray(v)) out[field] = (out[field] as Json[]).filter((x) => !v.includes(x));
      continue;
    }
    if (v === null) {
      delete out[k];
    } else if (Array.isArray(v)) {
      out[k] = mergeList(k, Array.isArray(out[k]) ? (out[k] as Json[]) : [], v);
    } else if (isMap(v)) {
      const merged = strategicMergePatch(out[k] ?? null, v);
      if (merged === null) delete out[k];
      else out[k] = merged;
    } else {
      out[k] = v;
    }
  }
  if (retain) for (const k of Object.keys(out)) if (!retain.includes(k)) delete out[k];
  return out;
}

function mergeList(field: string, target: Json[], patch: Json[]): Json[] {
  const objects = patch.filter(isMap);
  const keySpec = MERGE_KEYS[field];
  if (keySpec && objects.length === patch.length && patch.length > 0) {
    const replaceAll = objects.find((o) => o.$patch === 'replace');
    if (replaceAll) return objects.filter((o) => o !== replaceAll).map((o) => stripDirectives(o) as Json);
    const key = typeof keySpec === 'string' ? keySpec : keySpec([...objects, ...target.filter(isMap)]);
    const out = target.map(clone);
    for (const item of objects) {
      if (!(key in item)) throw badRequest(`map: ${JSON.stringify(item)} does not contain declared merge key: ${key}`);
      const at = out.findIndex((t) => isMap(t) && t[key] === item[key]);
      if (item.$patch === 'delete') {
        if (at >= 0) out.splice(at, 1);
      } else if (at >= 0) out[at] = strategicMergePatch(out[at]!, item);
      else out.push(stripDirectives(item));
    }
    return out;
  }
  if (MERGED_SCALAR_LISTS.has(field)) return [...target, ...patch.filter((v) => !target.includes(v))];
  return patch.map((v) => stripDirectives(v));
}

function stripDirectives(v: Json): Json {
  if (Array.isArray(v)) return v.map(stripDirectives);
  if (!isMap(v)) return v;
  const out: JsonMap = {};
  for (const [k, x] of Object.entries(v)) if (!k.startsWith('$')) out[k] = stripDirectives(x);
  return out;
}

// ---- RFC 6902 ------------------------------------------------------------------------------------

interface Op {
  op: string;
  path: string;
  from?: string;
  value?: Json;
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw badRequest(`json patch: path "${path}" must start with /`);
  return path.slice(1).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(doc: Json, parts: string[], path: string): { parent: JsonMap | Json[]; last: string } {
  let cur: Json = doc;
  for (const p of parts.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[Number(p)] ?? null;
    else if (isMap(cur)) cur = cur[p] ?? null;
    else cur = null;
    if (cur === null) throw badRequest(`json patch: path "${path}" does not exist`);
  }
  if (!isMap(cur) && !Array.isArray(cur)) throw badRequest(`json patch: path "${path}" does not exist`);
  return { parent: cur, last: parts[parts.length - 1]! };
}

function getAt(doc: Json, path: string): Json {
  let cur: Json = doc;
  for (const p of pointer(path)) {
    const next: Json | undefined = Array.isArray(cur) ? cur[Number(p)] : isMap(cur) ? cur[p] : undefined;
    if (next === undefined) throw badRequest(`json patch: path "${path}" does not exist`);
    cur = next;
  }
  return cur;
}

function removeAt(doc: Json, path: string): Json {
  const { parent, last } = parentOf(doc, pointer(path), path);
  if (Array.isArray(parent)) {
    const i = Number(last);
    if (!(i >= 0 && i < parent.length)) throw badRequest(`json patch: path "${path}" does not exist`);
    return parent.splice(i, 1)[0]!;
  }
  if (!(last in parent)) throw badRequest(`json patch: path "${path}" does not exist`);
  const v = parent[last]!;
  delete parent[last];
  return v;
}

function addAt(doc: Json, path: string, value: Json, replace: boolean): Json {
  const parts = pointer(path);
  if (parts.length === 0) return clone(value);
  const { parent, last } = parentOf(doc, parts, path);
  if (Array.isArray(parent)) {
    const i = last === '-' ? parent.length : Number(last);
    if (!(i >= 0 && i <= parent.length) || (replace && i >= parent.length)) throw badRequest(`json patch: index in "${path}" is out of range`);
    parent.splice(i, replace ? 1 : 0, clone(value));
  } else {
    if (replace && !(last in parent)) throw badRequest(`json patch: path "${path}" does not exist`);
    parent[last] = clone(value);
  }
  return doc;
}

export function jsonPatch(target: Json, ops: unknown): Json {
  if (!Array.isArray(ops)) throw badRequest('json patch: expected a list of operations');
  let doc = clone(target);
  for (const raw of ops as Op[]) {
    if (!isMap(raw) || typeof raw.path !== 'string') throw badRequest(`json patch: invalid operation ${JSON.stringify(raw)}`);
    switch (raw.op) {
      case 'add':
        doc = addAt(doc, raw.path, raw.value ?? null, false);
        break;
      case 'replace':
        doc = addAt(doc, raw.path, raw.value ?? null, true);
        break;
      case 'remove':
        removeAt(doc, raw.path);
        break;
      case 'move':
        doc = addAt(doc, raw.path, removeAt(doc, String(raw.from)), false);
        break;
      case 'copy':
        doc = addAt(doc, raw.path, getAt(doc, String(raw.from)), false);
        break;
      case 'test':
        if (JSON.stringify(getAt(doc, raw.path)) !== JSON.stringify(raw.value)) throw badRequest(`json patch: test failed at ${raw.path}`);
        break;
      default:
        throw badRequest(`json patch: unknown operation "${raw.op}"`);
    }
  }
  return doc;
}

export type PatchType = 'merge' | 'strategic' | 'json' | 'apply';

export function patchTypeOf(contentType: string | undefined): PatchType | undefined {
  const ct = (contentType ?? '').split(';')[0]!.trim();
  if (ct === 'application/merge-patch+json') return 'merge';
  if (ct === 'application/strategic-merge-patch+json') return 'strategic';
  if (ct === 'application/json-patch+json') return 'json';
  if (ct === 'application/apply-patch+yaml') return 'apply';
  return undefined;
}

export function applyPatch(type: 'merge' | 'strategic' | 'json', target: unknown, patch: unknown): unknown {
  if (type === 'json') return jsonPatch(target as Json, patch);
  if (!isMap(patch)) throw badRequest(`${type} patch: expected a JSON object`);
  return type === 'merge' ? mergePatch(target as Json, patch) : strategicMergePatch(target as Json, patch);
}
