// The connectivity scenario's objects and steps without a cluster: the pod→node servers are plain
// host-network pods (any provider creates them), and an unknown pod MTU drops the DF probe at that
// size instead of probing a made-up number.
import { describe, expect, it } from 'vitest';
import { resolveSpec } from '../../harness/cluster/spec.js';
import type { ResolvedPod, ScenarioContext } from '../framework/model.js';
import { connectivitySteps } from './connectivity.js';
import { CONN_NAMESPACE, NODE_TCP_PORT, PODS_PER_NODE, connPodName, connectivityObjects, nodeServerPodName } from './workload.js';

const spec = resolveSpec({}, 'test', { name: 'unit', nodes: 3, cni: 'reference-bridge' });

function ctxFor(podMtu: number): ScenarioContext {
  const pods = new Map<string, ResolvedPod>();
  spec.nodes.forEach((n, ni) => {
    for (let i = 0; i < PODS_PER_NODE; i++) {
      const name = connPodName(n.name, i);
      pods.set(`${CONN_NAMESPACE}/${name}`, { namespace: CONN_NAMESPACE, name, key: `${CONN_NAMESPACE}/${name}`, node: n.name, ip: `198.19.${ni}.${10 + i}`, netns: 'x' });
    }
  });
  return { spec: { ...spec, podMtu }, client: undefined as never, pods, nodes: new Map(spec.nodes.map((n) => [n.name, { ...n, netns: 'x' }])), state: {}, log: () => undefined };
}

describe('connectivity scenario', () => {
  it('serves pod→node TCP from a host-network pod per node', () => {
    const servers = (connectivityObjects(spec) as Array<{ kind: string; metadata: { name: string }; spec: { hostNetwork?: boolean; nodeName: string; containers: Array<{ args: string[] }> } }>).filter((o) => o.kind === 'Pod' && o.spec.hostNetwork);
    expect(servers.map((s) => [s.metadata.name, s.spec.nodeName])).toEqual(spec.nodes.map((n) => [nodeServerPodName(n.name), n.name]));
    expect(servers[0]!.spec.containers[0]!.args).toContain(`--http-port=${NODE_TCP_PORT}`);
  });

  it('probes at the pod MTU only when the pod MTU is known', () => {
    const ids = (mtu: number) => connectivitySteps(ctxFor(mtu)).map((s) => s.id).filter((id) => id.startsWith('mtu/'));
    expect(ids(1500).filter((id) => id.includes('pod-mtu'))).toHaveLength(3);
    expect(ids(0).filter((id) => id.includes('pod-mtu'))).toEqual([]);
    expect(ids(0).filter((id) => id.includes('df-1400'))).toHaveLength(3);
  });
});
