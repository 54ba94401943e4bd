// The small interface every cluster backend implements, so scenarios never know which one they run on.
// The embedded `netns` provider is the default; `kubeconfig` (any existing cluster), `kind` and `k3s`
// implement the same interface, each in a folder with the same file names where they mean the same
// thing (provider.ts the implementation, cluster.ts creation and removal, preflight.ts what the machine
// must have).
import type { RunOptions, RunResult } from '../../exec/run.js';
import type { ClusterSpec } from '../../cluster/spec.js';
import type { CapturedPacket } from '../../traffic/pcap-parse.js';
import type { NodeFaults } from './faults.js';

export type ProviderKind = 'netns' | 'kubeconfig' | 'kind' | 'k3s';
export const PROVIDER_KINDS: readonly ProviderKind[] = ['netns', 'kubeconfig', 'kind', 'k3s'];

export interface ProviderNode {
  name: string;
  /** Address on the underlay / node network. */
  ip: string;
  podCidr: string;
}

/** A pod as the scenarios need it: where it runs and its address. */
export interface ProviderPod {
  namespace: string;
  name: string;
  node: string;
  ip: string;
  phase: string;
  labels: Record<string, string>;
  /** Runs in its node's network namespace (its ip is the node's). */
  hostNetwork?: boolean;
}

/** An object as the API returns it (kind and apiVersion filled in on list items too). */
export interface ProviderObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; resourceVersion?: string };
  spec?: unknown;
  status?: unknown;
  [k: string]: unknown;
}

export interface CaptureOptions {
  /** Interface on the node; default any. */
  iface?: string;
  /** A tcpdump filter expression, as separate words. */
  filter?: string[];
  durationMs: number;
  maxPackets?: number;
}

/** A capture started on a node (`startCapture`): tcpdump is listening when the promise resolves, so
 *  traffic sent after that is seen. */
export interface RunningCapture {
  /** The capture as a person would type it on the node (for reports). */
  readonly command: string;
  /** Stop tcpdump (it flushes what it has), then hand back what it wrote, decoded. */
  stop(): Promise<NodeCaptureResult>;
}

export interface NodeCaptureResult {
  /** The pcap file tcpdump wrote (classic libpcap format). */
  pcap: Buffer;
  packets: CapturedPacket[];
  /** tcpdump's own summary ("N packets captured … dropped by kernel"), and any error. */
  stderr: string;
}

export interface StartCaptureOptions {
  /** The interface on the node (see `underlayDevice` for the one carrying the node's address). */
  iface: string;
  /** A tcpdump filter expression, as separate words. */
  filter?: string[];
  /** Bytes kept per packet; default 256 (outer + VXLAN + inner headers). */
  snaplen?: number;
  /** tcpdump stops after this many packets. */
  maxPackets?: number;
  /** tcpdump ends by itself after this long if stop() never comes (a crashed run); default 120 s. */
  maxDurationMs?: number;
}

export interface Provider {
  readonly kind: ProviderKind;
  create(spec: ClusterSpec, opts?: { onProgress?: (msg: string) => void }): Promise<void>;
  nodes(): Promise<ProviderNode[]>;
  /** Run a command in a node's (host) network namespace. */
  execOnNode(node: string, argv: string[], opts?: RunOptions): Promise<RunResult>;
  /** Run a command in a pod's network namespace. */
  execInPod(namespace: string, pod: string, argv: string[], opts?: RunOptions): Promise<RunResult>;
  /** Apply Kubernetes objects (create, or replace what exists). */
  apply(objects: unknown[]): Promise<unknown>;
  /** The objects of a kind (of a namespace, or all) and the list's resourceVersion (the API's current
   *  revision). A kind the cluster does not serve (no such CRD) lists as empty. */
  list(kind: string, namespace?: string): Promise<{ items: ProviderObject[]; resourceVersion: string }>;
  /** Delete an object; one that is already gone is no error. */
  remove(kind: string, namespace: string | undefined, name: string): Promise<void>;
  /** A JSON merge patch (RFC 7386) of one object: what `kubectl label` and annotations need. */
  mergePatch(kind: string, namespace: string | undefined, name: string, patch: unknown): Promise<ProviderObject>;
  /** The pods (of a namespace, or all) as they are now, ready or not. */
  pods(namespace?: string): Promise<ProviderPod[]>;
  /** Wait until every pod (of a namespace, or all) is Running with an IP; returns them. */
  waitPodsReady(namespace: string | undefined, timeoutMs: number): Promise<ProviderPod[]>;
  /** Capture packets on a node for a fixed time: a pcap file's bytes. */
  capture(node: string, opts: CaptureOptions): Promise<Buffer>;
  /** Start a capture on a node (tcpdump in its network namespace); resolves once it is listening. */
  startCapture(node: string, opts: StartCaptureOptions): Promise<RunningCapture>;
  /** Privileged actions on nodes for the faults suite (kill the agent, stop bird, pull a link) and the
   *  node-side readings that judge them (faults.ts of each provider's folder). */
  nodeFaults(): NodeFaults;
  /** The CNI the cluster runs, as the provider found it (what a report names). */
  cni(): Promise<string>;
  collectLogs(dir: string): Promise<string[]>;
  destroy(): Promise<void>;
}
