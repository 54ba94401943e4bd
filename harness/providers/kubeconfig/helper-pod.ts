// The helper pod that stands for a node on a real cluster: privileged, in the node's network
// namespace (hostNetwork) and process table (hostPID), pinned to the node, tolerating every taint, running a shell that waits.
// Commands "on the node" (ip, tcpdump) are exec'd in it; captures stream back over exec's stdout.
import { WaitTimeoutError } from '../../errors.js';

export const HELPER_NAMESPACE = 'cnilab-system';
/** An image with tcpdump, iproute2 and ping; any image with those works (`helperImage`). */
export const DEFAULT_HELPER_IMAGE = 'docker.io/nicolaka/netshoot:v0.13';

export const helperPodName = (node: string) => `cnilab-node-${node}`.slice(0, 63).replace(/-+$/, '');

export function helperPod(node: string, image = DEFAULT_HELPER_IMAGE): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: helperPodName(node), namespace: HELPER_NAMESPACE, labels: { 'app.kubernetes.io/name': 'cnilab-node-helper', 'app.kubernetes.io/managed-by': 'cnilab' } },
    spec: {
      nodeName: node,
      hostNetwork: true,
      // The node's processes: the faults suite signals the CNI agent and bird (kubeconfig/faults.ts).
      hostPID: true,
      dnsPolicy: 'ClusterFirstWithHostNet',
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 1,
      tolerations: [{ operator: 'Exists' }],
      containers: [
        {
          name: 'helper',
          image,
          command: ['sleep', 'infinity'],
          securityContext: { privileged: true, capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } },
        },
      ],
    },
  };
}

/** What the provider can do with the helper pod it read: use it, wait for it to start, wait for a
 *  terminating one to go (a previous run's teardown deletes the namespace; its pod may still show
 *  Running for its grace period, and an exec into it dies half-way), or create it. */
export type HelperPodState = 'absent' | 'terminating' | 'ready' | 'starting';

export interface HelperPodView {
  metadata?: { deletionTimestamp?: unknown };
  status?: { phase?: string; containerStatuses?: Array<{ name?: string; ready?: boolean }> };
}

export function helperPodState(pod: HelperPodView | undefined): HelperPodState {
  if (!pod) return 'absent';
  if (pod.metadata?.deletionTimestamp) return 'terminating';
  if (pod.status?.phase !== 'Running') return 'starting';
  const helper = pod.status.containerStatuses?.find((c) => c.name === 'helper');
  // A Running pod whose container is not ready (restarting after a crash) cannot take an exec yet.
  return helper && helper.ready === false ? 'starting' : 'ready';
}

/** A create refused because the namespace is still being deleted (a previous run's teardown): the
 *  API server answers 403 "... because it is being terminated"; it succeeds once the namespace is gone. */
export const NAMESPACE_TERMINATING = /being terminated/i;

/** Reads the pod until it is ready, creating it when it is absent; a terminating pod (or namespace) is
 *  waited out, never used. `read` answers undefined for 404. Any other create error (RBAC, a bad image
 *  name, admission) is thrown at once: waiting would not change it. */
export async function ensureHelperPod(io: {
  read(): Promise<HelperPodView | undefined>;
  create(): Promise<void>;
  sleep(ms: number): Promise<void>;
  now(): number;
  timeoutMs: number;
  what: string;
}): Promise<void> {
  const deadline = io.now() + io.timeoutMs;
  let last: string = 'absent';
  for (;;) {
    const state = helperPodState(await io.read());
    if (state === 'ready') return;
    last = state;
    if (state === 'absent') {
      try {
        await io.create();
      } catch (e) {
        if (!NAMESPACE_TERMINATING.test((e as Error).message)) throw e;
        last = `namespace ${HELPER_NAMESPACE} still terminating`;
      }
    }
    if (io.now() > deadline) throw new WaitTimeoutError(`${io.what} to be ready`, io.timeoutMs, `last seen: ${last}`);
    await io.sleep(200);
  }
}
