// The small interface every cluster backend implements, so scenarios never know which one they run on.
// The embedded `netns` provider is the default; kind and k3s implement the same file set.
import type { RunOptions, RunResult } from '../../exec/run.js';
import type { ClusterSpec } from '../../cluster/spec.js';

export interface ProviderNode {
  name: string;
  /** Address on the underlay / node network. */
  ip: string;
  podCidr: string;
}

export interface Provider {
  readonly kind: 'netns' | 'kind' | 'k3s';
  create(spec: ClusterSpec, opts?: { onProgress?: (msg: string) => void }): Promise<void>;
  nodes(): Promise<ProviderNode[]>;
  /** Run a command in a node's (host) network namespace. */
  execOnNode(node: string, argv: string[], opts?: RunOptions): Promise<RunResult>;
  /** Run a command in a pod's network namespace. */
  execInPod(namespace: string, pod: string, argv: string[], opts?: RunOptions): Promise<RunResult>;
  /** Apply Kubernetes objects. */
  apply(objects: unknown[]): Promise<unknown>;
  collectLogs(dir: string): Promise<string[]>;
  destroy(): Promise<void>;
}
