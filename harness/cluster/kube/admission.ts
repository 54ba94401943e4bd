// What the API server does to an object between the request and storage: validation (422 Invalid
// with a cause per field), defaults, server-owned metadata (uid, resourceVersion, generation,
// creationTimestamp are never taken from the client), immutable fields, and generateName.
import { randomBytes } from 'node:crypto';
import { InvalidInputError, InvalidInputList } from '../../errors.js';
import { validateObject, type KubeObject } from '../objects.js';
import { isDns1123Label } from '../names.js';
import type { ResourceType } from './resources.js';
import { ApiError, badRequest, invalid } from './status.js';

/** validateObject prefixes every field with "<where>: "; the API reports bare field paths. */
const WHERE = '@';
const PREFIX = `${WHERE}: `;

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** Kubernetes' random suffix alphabet (no vowels, no look-alikes): names never spell words. */
export function randomSuffix(n = 5): string {
  return [...randomBytes(n)].map((b) => ALPHABET[b % ALPHABET.length]).join('');
}

function validate(rt: ResourceType, obj: KubeObject): KubeObject {
  const name = obj.metadata?.name ?? '';
  try {
    // Kinds with a full schema (objects.ts, workloads.ts); Cilium's own resources only need a valid name.
    if (rt.crd && rt.kind !== 'CiliumNetworkPolicy') {
      if (typeof name !== 'string' || name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
        throw new InvalidInputError(`${PREFIX}metadata.name`, `Invalid value: ${JSON.stringify(name)}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`);
      }
      return structuredClone(obj);
    }
    return validateObject(obj, WHERE);
  } catch (e) {
    if (e instanceof InvalidInputList) throw invalid(rt.kind, rt.group, String(name), e.problems, PREFIX);
    if (e instanceof InvalidInputError) throw invalid(rt.kind, rt.group, String(name), [e], PREFIX);
    throw e;
  }
}

/** The body of a create, ready for the store (namespace taken from the URL, generateName resolved). */
export function admitCreate(rt: ResourceType, body: unknown, urlNamespace: string | undefined, exists: (name: string) => boolean): KubeObject {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('the body of the request must be a JSON object');
  const obj = structuredClone(body) as KubeObject;
  obj.apiVersion ??= rt.group ? `${rt.group}/${rt.version}` : rt.version;
  obj.kind ??= rt.kind;
  if (obj.kind !== rt.kind) throw badRequest(`the kind of the object (${obj.kind}) does not match the resource ${rt.plural} (${rt.kind})`);
  obj.metadata = { ...(obj.metadata ?? {}) } as KubeObject['metadata'];
  if (rt.namespaced) {
    if (obj.metadata.namespace && urlNamespace && obj.metadata.namespace !== urlNamespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    obj.metadata.namespace = urlNamespace ?? obj.metadata.namespace ?? 'default';
  }
  if (!obj.metadata.name && typeof obj.metadata.generateName === 'string') {
    for (let i = 0; i < 8; i++) {
      const candidate = `${obj.metadata.generateName}${randomSuffix()}`;
      if (!exists(candidate)) {
        obj.metadata.name = candidate;
        break;
      }
    }
  }
  if (!obj.metadata.name) throw invalid(rt.kind, rt.group, '', [new InvalidInputError(`${PREFIX}metadata.name`, 'Required value: name or generateName is required')], PREFIX);
  for (const k of ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'managedFields'] as const) delete obj.metadata[k];
  const out = validate(rt, obj);
  // Status belongs to controllers (subresource); a created object starts with the server's own.
  if (rt.subresources?.includes('status') || rt.kind === 'Pod') delete out.status;
  if (rt.kind === 'Pod') out.status = { phase: 'Pending', qosClass: 'BestEffort' };
  if (rt.kind === 'Namespace') out.status = { phase: 'Active' };
  return out;
}

/**
 * The body of an update merged with the stored object: server-owned metadata kept, status kept
 * unless this is the status subresource (then only status changes), immutable fields checked.
 */
export function admitUpdate(rt: ResourceType, body: unknown, old: KubeObject, opts: { subresource?: 'status' } = {}): KubeObject {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('the body of the request must be a JSON object');
  const incoming = structuredClone(body) as KubeObject;
  const name = old.metadata.name;
  if (incoming.metadata?.name !== undefined && incoming.metadata.name !== name) {
    throw badRequest(`the name of the object (${incoming.metadata.name}) does not match the name on the URL (${name})`);
  }
  if (incoming.metadata?.uid !== undefined && incoming.metadata.uid !== old.metadata.uid) {
    throw new ApiError(409, 'Conflict', `Precondition failed: UID in precondition: ${incoming.metadata.uid}, UID in object meta: ${old.metadata.uid}`);
  }
  let next: KubeObject;
  if (opts.subresource === 'status') {
    next = { ...structuredClone(old), status: incoming.status };
  } else {
    next = { ...incoming, apiVersion: incoming.apiVersion ?? old.apiVersion, kind: incoming.kind ?? old.kind } as KubeObject;
    next.metadata = { ...(incoming.metadata ?? {}), name, ...(rt.namespaced ? { namespace: old.metadata.namespace } : {}) } as KubeObject['metadata'];
    if (rt.subresources?.includes('status') || rt.kind === 'Pod') next.status = old.status;
    next = validate(rt, next);
    if (rt.kind === 'Pod') {
      const oldSpec = old.spec as Record<string, unknown>;
      const newSpec = { ...(next.spec as Record<string, unknown>), nodeName: (next.spec as Record<string, unknown>).nodeName ?? oldSpec.nodeName };
      if (JSON.stringify(oldSpec) !== JSON.stringify(newSpec)) {
        throw invalid('Pod', '', name, [new InvalidInputError(`${PREFIX}spec`, 'Forbidden: pod updates may not change fields other than labels, annotations and metadata (cnilab keeps a pod\'s spec as created)')], PREFIX);
      }
      next.spec = newSpec;
    }
    if (rt.kind === 'Namespace') next.status = old.status ?? { phase: 'Active' };
  }
  for (const k of ['uid', 'creationTimestamp', 'generation', 'deletionTimestamp'] as const) {
    if (old.metadata[k] !== undefined) (next.metadata as Record<string, unknown>)[k] = old.metadata[k];
    else delete next.metadata[k];
  }
  next.metadata.resourceVersion = old.metadata.resourceVersion;
  return next;
}

/** The resourceVersion precondition of an update (empty means unconditional, as kubectl's patches are). */
export function checkResourceVersion(body: unknown, old: KubeObject): boolean {
  const rv = (body as KubeObject)?.metadata?.resourceVersion;
  return rv === undefined || rv === '' || rv === old.metadata.resourceVersion;
}

export const isValidName = (rt: ResourceType, name: string) => (rt.kind === 'CiliumIdentity' || rt.crd ? DNS1123_SUBDOMAIN.test(name) : isDns1123Label(name));
