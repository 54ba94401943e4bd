// Plain Kubernetes JSON ⇄ @kubernetes/client-node's typed models. KubernetesObjectApi serializes what it
// is given with the model of its apiVersion and kind, and the models rename JSON fields that are
// reserved words in TypeScript (NetworkPolicy's `from` is `_from`): a plain manifest sent as is loses
// those fields without an error (an ingress rule's peers vanish, and it allows everyone). So manifests
// are turned into models before they are sent, and what comes back into plain JSON again. Kinds
// without a model (CRDs such as CiliumNetworkPolicy) pass through unchanged.
// The package has no exports map; its serializer is not re-exported from the root.
import { ObjectSerializer } from '@kubernetes/client-node/dist/gen/models/ObjectSerializer.js';

/** The model's name, as the client derives it ("networking.k8s.io/v1" + "NetworkPolicy" → V1NetworkPolicy). */
export function modelType(apiVersion: string | undefined, kind: string | undefined): string {
  const version = (apiVersion ?? '').split('/').pop() ?? '';
  return `${version.charAt(0).toUpperCase()}${version.slice(1)}${kind ?? ''}`;
}

type Obj = { apiVersion?: string; kind?: string };

/** A plain manifest as the model the client serializes back to the same JSON. */
export function toModel<T extends Obj>(obj: T): T {
  return ObjectSerializer.deserialize(obj, modelType(obj.apiVersion, obj.kind), '') as T;
}

/** What the client returned, as plain JSON (field names as the API spells them). */
export function fromModel<T>(obj: unknown, apiVersion: string | undefined, kind: string | undefined): T {
  return JSON.parse(JSON.stringify(ObjectSerializer.serialize(obj, modelType(apiVersion, kind), ''))) as T;
}
