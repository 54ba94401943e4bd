// `apply --wait`'s question and the agents' answers, through the Kubernetes API only: the waiter sets
// the wanted revision on each Node, the agents' NodeStatusPublisher (the real one, over HTTPS with
// its own informer) answers once their policy state says it holds that revision. The policy state
// itself is the test's to set, standing in for each agent's controller.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { startTestApi, type TestApi } from '../cluster/kube/testing.js';
import { startControlServer } from '../cluster/server.js';
import { ControlPlaneClient } from '../cluster/client.js';
import { resolveSpec } from '../cluster/spec.js';
import { waitPodsReady, waitPolicyRealized } from './wait.js';
import { KubeTransport } from '../../agent/k8s/transport.js';
import { KubeInformers } from '../../agent/k8s/informers.js';
import { NodeStatusPublisher, type RealizedState } from '../../agent/k8s/node-status.js';
import { CILIUM_HOST_IP, POLICY_WANTED_REVISION } from '../../lib/k8s/annotations.js';

const dir = mkdtempSync(join(tmpdir(), 'cnilab-wait-'));
let api: TestApi;
let server: Server;
let client: ControlPlaneClient;
const spec = resolveSpec({ name: 'wt', nodes: [{ name: 'node1' }, { name: 'node2' }, { name: 'node3' }] }, 'test');
const state: Record<string, RealizedState> = {};
const agents: Array<{ node: string; t: KubeTransport; inf: KubeInformers; pub: NodeStatusPublisher }> = [];
const checkAll = () => agents.forEach((a) => a.pub.check());

beforeAll(async () => {
  api = await startTestApi({ nodes: 3, controllers: false });
  server = await startControlServer(join(dir, 'control.sock'), api.store, spec, { onShutdown: () => {}, identityGc: false, kube: api.api });
  client = new ControlPlaneClient(join(dir, 'control.sock'), 'wt');
  for (const n of spec.nodes) {
    state[n.name] = { revision: 0 };
    const t = KubeTransport.load(api.kubeconfigPath);
    const inf = new KubeInformers(t, { kinds: ['Node'] });
    inf.start();
    await inf.synced(10_000);
    const pub = new NodeStatusPublisher({ transport: t, informers: inf, node: n, realized: () => state[n.name]!, log: () => {} });
    await pub.start();
    agents.push({ node: n.name, t, inf, pub });
  }
});
afterAll(async () => {
  for (const a of agents) (a.pub.stop(), a.inf.stop(), a.t.close());
  server?.close();
  await api?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('waitPolicyRealized over Node annotations', () => {
  it('the agents announce their node as cilium-agent does (router IP, NetworkUnavailable=False), keeping kubelet\'s conditions', async () => {
    const n = await client.get('Node', undefined, 'node2');
    expect(n.metadata.annotations?.[CILIUM_HOST_IP]).toBe(spec.nodes[1]!.podGateway);
    const conditions = (n.status as { conditions: Array<{ type: string; status: string; reason?: string }> }).conditions;
    expect(conditions).toContainEqual(expect.objectContaining({ type: 'NetworkUnavailable', status: 'False', reason: 'CnilabIsUp' }));
    expect(conditions).toContainEqual(expect.objectContaining({ type: 'Ready', status: 'True' }));
  });

  it('returns once every node has answered with a revision at least the one asked for, not before', async () => {
    const target = api.store.resourceVersion;
    let done = false;
    const waiting = waitPolicyRealized(client, 'wt', target, 10_000).then((r) => ((done = true), r));
    await new Promise((r) => setTimeout(r, 200));
    expect(done).toBe(false);
    const asked = await client.list('Node');
    expect(asked.map((n) => Number(n.metadata.annotations?.[POLICY_WANTED_REVISION]))).toEqual([target, target, target]);
    state.node1 = state.node2 = { revision: target + 100 };
    checkAll();
    await new Promise((r) => setTimeout(r, 200));
    expect(done).toBe(false); // node3 is behind
    state.node3 = { revision: target + 100 };
    checkAll();
    expect(await waiting).toEqual({ waited: true, revision: target, nodes: ['node1', 'node2', 'node3'] });
  });

  it('waits a second round for what an agent wrote while realizing (its last write), on every node', async () => {
    const target = api.store.resourceVersion;
    for (const n of spec.nodes) state[n.name] = { revision: target + 1000 };
    // node2 wrote something (a relabelled pod's CiliumEndpoint) at a revision beyond what was asked.
    agents[1]!.t.lastWriteRevision = target + 5000;
    const waiting = waitPolicyRealized(client, 'wt', target, 10_000);
    await new Promise((r) => setTimeout(r, 50));
    checkAll();
    await new Promise((r) => setTimeout(r, 300));
    // Round two asks for node2's write; the agents hold only up to target + 1000 so far.
    const asked = await client.list('Node');
    expect(asked.map((n) => Number(n.metadata.annotations?.[POLICY_WANTED_REVISION]))).toEqual([target + 5000, target + 5000, target + 5000]);
    for (const n of spec.nodes) state[n.name] = { revision: target + 6000 };
    checkAll();
    expect((await waiting).revision).toBe(target + 5000);
    agents[1]!.t.lastWriteRevision = 0;
  });

  it('fails naming the node whose agent reports a problem that persists', async () => {
    const target = api.store.resourceVersion + 10_000;
    state.node1 = state.node2 = { revision: target };
    state.node3 = { revision: 0, problem: 'this datapath has no policy map' };
    const t0 = Date.now();
    const waiting = waitPolicyRealized(client, 'wt', target, 20_000);
    await expect(waiting).rejects.toThrow(/not enforced on node node3: this datapath has no policy map/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(3000); // the problem had its grace period
  });

  it('times out naming the nodes that are behind and where they are', async () => {
    const target = api.store.resourceVersion + 20_000;
    state.node1 = state.node2 = { revision: target };
    state.node3 = { revision: 7 };
    await expect(waitPolicyRealized(client, 'wt', target, 800)).rejects.toThrow(/behind: node3 at \d+/);
  });

  it('pods: waits through Pending (a sandbox being retried), then times out naming each pod\'s node and why', async () => {
    api.store.apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'wp' } }, { apiVersion: 'v1', kind: 'Pod', metadata: { namespace: 'wp', name: 'a' }, spec: { containers: [{ name: 'c', image: 'i' }] } }]);
    api.store.bindPod('wp', 'a', 'node2');
    const msg = 'FailedCreatePodSandBox on node node2 (attempt 3, again in 4000 ms): CNI ADD by plugin "cnilab" failed (code 11): cnilab agent not reachable';
    api.store.updateStatus('Pod', 'wp', 'a', { phase: 'Pending', reason: 'ContainerCreating', message: msg });
    const err = await waitPodsReady(client, [{ namespace: 'wp', name: 'a' }, { namespace: 'wp', name: 'gone' }], 600).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(`wp/a (node node2, Pending: ContainerCreating: ${msg})`);
    expect((err as Error).message).toContain('wp/gone (not found)');
    // Once the retry works, the same wait returns.
    const waiting = waitPodsReady(client, [{ namespace: 'wp', name: 'a' }], 5000);
    setTimeout(() => api.store.updateStatus('Pod', 'wp', 'a', { phase: 'Running' }), 200);
    await expect(waiting).resolves.toBeUndefined();
  });
});
