// Tests' side of harness/testing/kube-api-factory.ts (a vitest globalSetup): a real embedded Kubernetes
// API for a test that may not import harness code (the agent's tests). What a test gets is what the
// agent gets on a node: a kubeconfig. Extra powers for tests: writes as the control plane itself makes
// them (Nodes), dropping every connection, and taking the API away for a while.
import { inject } from 'vitest';
import { unixJsonRequest } from '../net/unix-http.js';
import type { KubeObject } from '../k8s/object.js';

export interface TestKubeApi {
  /** A kubeconfig for this process (HTTPS on 127.0.0.1, CA and token inline). */
  kubeconfig: string;
  /** With `netns`: a kubeconfig for a process inside that network namespace. */
  netnsKubeconfig?: string;
  url: string;
  /** Write objects as the control plane's own components do (no API validation, any kind). */
  storeApply(objects: KubeObject[]): Promise<{ resourceVersion: number }>;
  storeDelete(kind: string, namespace: string | undefined, name: string): Promise<{ resourceVersion: number }>;
  /** Close every open connection (watches break; clients must reconnect). */
  disconnect(): Promise<void>;
  /** Stop listening for `ms` (clients see refused connections), then listen again on the same port. */
  pause(ms: number): Promise<void>;
  close(): Promise<void>;
}

export interface TestKubeApiOptions {
  /** Node objects to start with (default: node1..node3 with pod CIDRs 198.19.N.0/24). */
  nodes?: KubeObject[];
  historyLimit?: number;
  bookmarkIntervalMs?: number;
  /** Run the workload controllers (Deployments...): default off. */
  controllers?: boolean;
  /** Also serve the API on 127.0.0.1:6443 inside this network namespace (root only). */
  netns?: string;
}

async function call(path: string, method: string, body?: unknown): Promise<any> {
  const socket = inject('kubeApiFactory');
  if (!socket) throw new Error('no kubeApiFactory: run under vitest with harness/testing/kube-api-factory.ts as globalSetup');
  const res = await unixJsonRequest(socket, method, path, body ?? {}, 60_000);
  if (res.status >= 300) throw new Error(`kube API factory ${method} ${path}: ${res.body.error}`);
  return res.body;
}

export async function startKubeApi(opts: TestKubeApiOptions = {}): Promise<TestKubeApi> {
  const r = await call('/apis', 'POST', opts);
  const id = r.id as string;
  return {
    kubeconfig: r.kubeconfig,
    netnsKubeconfig: r.netnsKubeconfig,
    url: r.url,
    storeApply: (objects) => call(`/apis/${id}/store`, 'POST', { apply: objects }),
    storeDelete: (kind, namespace, name) => call(`/apis/${id}/store`, 'POST', { delete: [{ kind, namespace, name }] }),
    disconnect: () => call(`/apis/${id}/disconnect`, 'POST'),
    pause: (ms) => call(`/apis/${id}/pause`, 'POST', { ms }),
    close: () => call(`/apis/${id}`, 'DELETE'),
  };
}

/** A Node object as the embedded control plane makes it. */
export function testNode(name: string, podCidr: string, internalIp: string, labels: Record<string, string> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels },
    spec: { podCIDR: podCidr, podCIDRs: [podCidr] },
    status: { addresses: [{ type: 'InternalIP', address: internalIp }], conditions: [{ type: 'Ready', status: 'True' }] },
  };
}
