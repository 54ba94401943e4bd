// The node helper pod a real cluster gets (commands on the node, captures), the exit code read from an
// exec's final status, and the CNI named from a cluster's DaemonSets.
import { describe, expect, it } from 'vitest';
import { ensureHelperPod, helperPod, helperPodName, helperPodState, HELPER_NAMESPACE, type HelperPodView } from './helper-pod.js';
import { exitCodeOf } from './provider.js';
import { cniFromDaemonSets } from './cni.js';

describe('node helper pod', () => {
  const pod = helperPod('worker-1') as any;
  it('is privileged, in the node\'s network namespace, pinned to the node, tolerating every taint', () => {
    expect(pod.metadata).toMatchObject({ name: 'cnilab-node-worker-1', namespace: HELPER_NAMESPACE });
    expect(pod.spec).toMatchObject({ nodeName: 'worker-1', hostNetwork: true, tolerations: [{ operator: 'Exists' }] });
    expect(pod.spec.containers[0].securityContext).toMatchObject({ privileged: true, capabilities: { add: ['NET_ADMIN', 'NET_RAW'] } });
  });
  it('keeps its name a valid object name for long node names', () => {
    expect(helperPodName('n'.repeat(80)).length).toBeLessThanOrEqual(63);
  });
});

describe('exec exit codes', () => {
  it('reads Success as 0 and NonZeroExitCode from its cause', () => {
    expect(exitCodeOf({ status: 'Success' })).toBe(0);
    expect(exitCodeOf({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '28' }] } })).toBe(28);
    expect(exitCodeOf({ status: 'Failure', message: 'container not found' })).toBe(1);
    expect(exitCodeOf(undefined)).toBe(1);
  });
});

describe('CNI found on a cluster', () => {
  it('is named from the usual CNIs\' DaemonSets', () => {
    expect(cniFromDaemonSets(['coredns', 'cilium', 'cilium-envoy'])).toBe('cilium');
    expect(cniFromDaemonSets(['kindnet', 'kube-proxy'])).toBe('kindnet');
    expect(cniFromDaemonSets(['cnilab-agent'])).toBe('cnilab');
    expect(cniFromDaemonSets(['kube-proxy'])).toBeUndefined();
  });
});

describe('helper pod lifecycle', () => {
  const running: HelperPodView = { status: { phase: 'Running', containerStatuses: [{ name: 'helper', ready: true }] } };
  it('uses a running pod, never a terminating one', () => {
    expect(helperPodState(undefined)).toBe('absent');
    expect(helperPodState(running)).toBe('ready');
    expect(helperPodState({ ...running, metadata: { deletionTimestamp: '2026-12-01T21:00:00Z' } })).toBe('terminating');
    expect(helperPodState({ status: { phase: 'Pending' } })).toBe('starting');
    expect(helperPodState({ status: { phase: 'Running', containerStatuses: [{ name: 'helper', ready: false }] } })).toBe('starting');
  });

  /** A scripted API: the pod reads as each entry in turn (the last one repeats). */
  function fakeApi(reads: Array<HelperPodView | undefined>, createErrors: Array<Error | undefined> = []) {
    let t = 0;
    const calls = { reads: 0, creates: 0 };
    return {
      calls,
      io: {
        read: async () => reads[Math.min(calls.reads++, reads.length - 1)],
        create: async () => {
          const e = createErrors[calls.creates++];
          if (e) throw e;
        },
        sleep: async (ms: number) => void (t += ms),
        now: () => t,
        timeoutMs: 5_000,
        what: 'helper pod cnilab-system/cnilab-node-n1',
      },
    };
  }

  it('waits out a terminating pod of a previous run, then creates a new one and waits for it', async () => {
    const terminating = { ...running, metadata: { deletionTimestamp: 'x' } };
    const api = fakeApi([terminating, terminating, undefined, { status: { phase: 'Pending' } }, running]);
    await ensureHelperPod(api.io);
    expect(api.calls).toEqual({ reads: 5, creates: 1 });
  });

  it('retries a create refused while the namespace is terminating, and throws any other refusal at once', async () => {
    const ns = new Error('create Pod cnilab-system/cnilab-node-n1: HTTP 403: pods "cnilab-node-n1" is forbidden: unable to create new content in namespace cnilab-system because it is being terminated');
    const retried = fakeApi([undefined, undefined, running], [ns]);
    await ensureHelperPod(retried.io);
    expect(retried.calls.creates).toBe(2);

    const rbac = new Error('HTTP 403: pods is forbidden: User "x" cannot create resource "pods"');
    const refused = fakeApi([undefined], [rbac]);
    await expect(ensureHelperPod(refused.io)).rejects.toThrow(/cannot create resource/);
    expect(refused.calls.creates).toBe(1);
  });

  it('times out naming the pod and what it last saw', async () => {
    const api = fakeApi([{ ...running, metadata: { deletionTimestamp: 'x' } }]);
    await expect(ensureHelperPod(api.io)).rejects.toThrow(/helper pod cnilab-system\/cnilab-node-n1 to be ready/);
    await expect(ensureHelperPod(fakeApi([{ status: { phase: 'Pending' } }]).io)).rejects.toMatchObject({ detail: 'last seen: starting' });
  });
});
