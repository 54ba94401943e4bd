// cnilab's own CNI and eBPF datapath (tunnel mode) on a real 3-node embedded cluster: the connectivity
// suite passes, programs sit where they should, pod deletion cleans the datapath, an agent killed with
// SIGKILL does not interrupt a running stream, and a deliberately broken datapath is noticed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../harness/exec/run.js';
import { netnsNames } from '../../harness/cluster/names.js';
import { resolveSpec, type ClusterSpec } from '../../harness/cluster/spec.js';
import type { ControlPlaneClient } from '../../harness/cluster/client.js';
import { createCluster, destroyCluster } from '../../harness/providers/netns/cluster.js';
import { listProcesses } from '../../harness/providers/netns/sweep.js';
import { waitPodsReady } from '../../harness/cli/wait.js';
import { startIperfServer, runIperfClient } from '../../harness/traffic/iperf.js';
import { probe } from '../../harness/traffic/probe.js';
import { AgentClient } from '../../agent/api/client.js';
import { BROKEN_REMOTE_OBJECT } from '../../agent/datapath/datapath.js';
import type { CheckResult } from '../../reports/model.js';
import { runScenario, runSuite } from '../framework/runner.js';
import { connectivitySuite } from './index.js';
import { connectivityScenario } from './connectivity.js';
import { pausePod as pausePodOf } from '../framework/pods.js';

const NAME = 'sc-cnilab';
const BROKEN = 'sc-cnilab-broken';
let spec: ClusterSpec;
let client: ControlPlaneClient;

const pausePod = (name: string, node: string) => pausePodOf({ name, namespace: 'default', node, labels: { app: name } });

async function podIp(name: string): Promise<string> {
  const p = await client.get('Pod', 'default', name);
  return (p.status as { podIP: string }).podIP;
}

const failures = (checks: CheckResult[]) => checks.filter((c) => !c.passed);

describe('cnilab CNI and eBPF datapath, tunnel mode', () => {
  beforeAll(async () => {
    await destroyCluster(NAME);
    await destroyCluster(BROKEN);
    spec = resolveSpec({}, 'test', { name: NAME, nodes: 3, cni: 'cnilab', routing: 'tunnel' });
    client = await createCluster(spec);
  });
  afterAll(async () => {
    await destroyCluster(NAME);
    await destroyCluster(BROKEN);
  });

  it('passes the connectivity suite: every pair over ICMP, TCP and UDP, MTU 1450, VXLAN on the wire', async () => {
    const suite = await runSuite({ spec, client }, connectivitySuite);
    const checks = suite.scenarios.flatMap((s) => s.checks);
    expect(failures(checks).map((c) => `${c.id}: ${c.observed}`)).toEqual([]);
    expect(checks.filter((c) => c.tags?.kind === 'pod-pod')).toHaveLength(216);
    const ids = checks.map((c) => c.id);
    expect(ids).toContain('wire/vxlan-encapsulated');
    expect(ids.some((id) => id.startsWith('wire/vni-'))).toBe(true);
    expect(suite.passed).toBe(true);
  }, 180_000);

  it('has its programs on every lxc device and on cilium_vxlan, and deleting a pod cleans the datapath', async () => {
    await client.apply([pausePod('probe-a', 'node1'), pausePod('probe-b', 'node2')]);
    await waitPodsReady(client, [{ namespace: 'default', name: 'probe-a' }, { namespace: 'default', name: 'probe-b' }], 30_000);
    const node1 = netnsNames.node(NAME, 'node1');
    const net = JSON.parse((await run(['bpftool', '-j', 'net', 'show'], { netns: node1 })).stdout) as Array<{ tc: Array<{ devname: string; kind: string; name: string }> }>;
    const tc = net.flatMap((n) => n.tc);
    const lxcs = (await run(['ip', '-o', 'link', 'show'], { netns: node1 })).stdout.match(/lxc[0-9a-f]{12}/g) ?? [];
    expect(lxcs.length).toBeGreaterThan(0);
    for (const dev of new Set(lxcs)) {
      const attached = tc.filter((t) => t.devname === dev).map((t) => `${t.kind.split('/').pop()}:${t.name.replace(/:\[\d+\]$/, '')}`);
      expect(attached.sort(), dev).toEqual(['egress:to_container', 'ingress:from_container']);
    }
    expect(tc.some((t) => t.devname === 'cilium_vxlan' && t.name.startsWith('from_overlay'))).toBe(true);

    const agent = new AgentClient(NAME, 'node1');
    const ip = await podIp('probe-a');
    const ep = (await agent.endpoints()).find((e) => e.podName === 'probe-a')!;
    expect(ep.ip).toBe(ip);
    expect((await agent.ipcache()).some((e) => e.key === ip || e.key === `${ip}/32`)).toBe(true);
    await client.delete('Pod', 'default', 'probe-a');
    const deadline = Date.now() + 15_000;
    while ((await agent.endpoints()).some((e) => e.podName === 'probe-a') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect((await agent.endpoints()).some((e) => e.podName === 'probe-a')).toBe(false);
    expect((await agent.ipcache()).some((e) => e.key === ip || e.key === `${ip}/32`)).toBe(false);
    expect((await run(['ip', 'link', 'show', ep.hostIfname], { netns: node1, allowFailure: true })).code).not.toBe(0);
    // The other node forgets the deleted pod too (its ipcache learns from the control plane).
    const d2 = Date.now() + 10_000;
    const remote = new AgentClient(NAME, 'node2');
    while ((await remote.ipcache()).some((e) => e.key === ip || e.key === `${ip}/32`) && Date.now() < d2) await new Promise((r) => setTimeout(r, 100));
    expect((await remote.ipcache()).some((e) => e.key === ip || e.key === `${ip}/32`)).toBe(false);
  }, 60_000);

  it('keeps a cross-node iperf3 stream flowing while the agents are killed with SIGKILL, then serves new pods', async () => {
    await client.apply([pausePod('ip-client', 'node1'), pausePod('ip-server', 'node2')]);
    await waitPodsReady(client, [{ namespace: 'default', name: 'ip-client' }, { namespace: 'default', name: 'ip-server' }], 30_000);
    const serverNs = netnsNames.pod(NAME, 'default', 'ip-server');
    const clientNs = netnsNames.pod(NAME, 'default', 'ip-client');
    const server = await startIperfServer({ netns: serverNs, port: 5201 });
    try {
      const stream = runIperfClient({ netns: clientNs, host: await podIp('ip-server'), port: 5201, durationSec: 6 });
      await new Promise((r) => setTimeout(r, 1500));
      const agents = listProcesses([], NAME).filter((p) => p.cmd.includes('agent/main.js'));
      expect(agents.length).toBe(3);
      for (const a of agents) process.kill(a.pid, 'SIGKILL');
      const result = await stream;
      // The connection survived and kept moving data for the whole test.
      expect(result.bytesReceived).toBeGreaterThan(0);
      expect(result.receivedBitsPerSecond).toBeGreaterThan(50e6);
    } finally {
      await server.stop();
    }
    // The supervisor restarts the agents; a new pod gets networking and reaches an old one.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const healthy = await Promise.all(spec.nodes.map((n) => new AgentClient(NAME, n.name).healthz().then((h) => h.ok, () => false)));
      if (healthy.every(Boolean)) break;
      if (Date.now() > deadline) throw new Error('agents did not come back within 20 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    await client.apply([pausePod('after-restart', 'node1')]);
    await waitPodsReady(client, [{ namespace: 'default', name: 'after-restart' }], 30_000);
    const r = await probe({ netns: netnsNames.pod(NAME, 'default', 'after-restart'), protocol: 'icmp', host: await podIp('ip-server'), timeoutMs: 2000 });
    expect(r.ok, r.stderr).toBe(true);
    const old = await probe({ netns: clientNs, protocol: 'icmp', host: await podIp('ip-server'), timeoutMs: 2000 });
    expect(old.ok, old.stderr).toBe(true);
  }, 90_000);

  it('notices a datapath with remote delivery broken: cross-node checks fail, same-node ones pass', async () => {
    const brokenSpec = resolveSpec({}, 'test', { name: BROKEN, nodes: 3, cni: 'cnilab', routing: 'tunnel' });
    // The agents load the object named by CNILAB_BPF_OBJECT; the daemon passes its environment on.
    process.env.CNILAB_BPF_OBJECT = BROKEN_REMOTE_OBJECT;
    let brokenClient: ControlPlaneClient;
    try {
      brokenClient = await createCluster(brokenSpec);
    } finally {
      delete process.env.CNILAB_BPF_OBJECT;
    }
    const result = await runScenario({ spec: brokenSpec, client: brokenClient }, connectivityScenario);
    expect(result.checks.length, `${result.status}: ${result.reason}`).toBeGreaterThan(0);
    const podPod = result.checks.filter((c) => c.tags?.kind === 'pod-pod');
    const cross = podPod.filter((c) => c.tags?.path === 'cross-node');
    const same = podPod.filter((c) => c.tags?.path === 'same-node');
    expect(cross.length).toBeGreaterThan(0);
    expect(same.length).toBeGreaterThan(0);
    expect(failures(cross)).toHaveLength(cross.length);
    expect(failures(same)).toEqual([]);
    expect(result.status).toBe('failed');
    // The drops were counted with the reason the broken variant uses.
    const maps = await new AgentClient(BROKEN, 'node1').maps();
    expect(maps.drops.some((d) => d.reason === 160 && BigInt(d.packets) > 0n)).toBe(true);
    await destroyCluster(BROKEN);
  }, 180_000);
});
