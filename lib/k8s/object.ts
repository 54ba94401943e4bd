// The shape of a Kubernetes object as cnilab handles it (JSON, as the API serves it): typed metadata,
// everything else open. Shared by the control plane (harness/cluster/objects.ts re-exports it) and
// the agent, which receives these from the Kubernetes API.

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  [key: string]: unknown;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: unknown;
  status?: unknown;
  [key: string]: unknown;
}
