// The node helper pod a real cluster gets (commands on the node, captures), the exit code read from an
// exec's final status, and the CNI named from a cluster's DaemonSets.
import { describe, expect, it } from 'vitest';
import { helperPod, helperPodName, HELPER_NAMESPACE } from './helper-pod.js';
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
