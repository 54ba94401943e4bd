// Native routing's BGP on real namespaces, without the cluster daemon or the agent: a fabric netns with
// the underlay bridge and the route reflector, three node netns each with a BgpSpeaker and a stand-in
// "pod" address inside its pod CIDR. Measures convergence, withdrawal of a killed speaker (TCP close)
// and of a cut-off node (hold timer), adoption by a restarted agent, and a pod CIDR change.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../exec/run.js';
import type { ClusterSpec, NodeSpec } from '../../cluster/spec.js';
import { BgpSpeaker } from '../../../agent/routing/bgp.js';
import { birdFiles, reflectorStatus, runningBirdPid, startRouteReflector, stopRouteReflector } from './bgp.js';
import { birdKernelRoutes, measureConvergence, waitWithdrawn } from './bgp-convergence.js';

const tag = `cnilab-bgptest-${Math.random().toString(36).slice(2, 8)}`;
const fabricNs = `${tag}-f`;
const nodeNs = (n: NodeSpec) => `${tag}-${n.name}`;
const dir = mkdtempSync(join(tmpdir(), 'cnilab-bgptest-'));
const nodeDir = (n: NodeSpec) => join(dir, n.name);

const nodes: NodeSpec[] = [1, 2, 3].map((i) => ({
  name: `node${i}`,
  index: i - 1,
  labels: {},
  underlayIp: `198.18.0.${10 + i}`,
  podCidr: `198.19.${i - 1}.0/24`,
  podGateway: `198.19.${i - 1}.1`,
}));
const spec: ClusterSpec = {
  name: 'bgptest',
  routing: 'native',
  cni: 'cnilab',
  underlaySubnet: '198.18.0.0/24',
  underlayGateway: '198.18.0.1',
  podSubnet: '198.19.0.0/16',
  serviceSubnet: '198.18.128.0/20',
  nodeMaskSize: 24,
  mtu: 1500,
  podMtu: 1500,
  nodes,
};
const rrOpts = { netns: fabricNs, runDir: dir };
const where = { birdSocketOf: (n: NodeSpec) => birdFiles(nodeDir(n)).ctl, netnsOf: nodeNs };
const [n1, n2, n3] = nodes as [NodeSpec, NodeSpec, NodeSpec];

function speaker(n: NodeSpec, podCidr = n.podCidr): BgpSpeaker {
  return new BgpSpeaker({
    cluster: spec.name,
    node: n.name,
    nodeIp: n.underlayIp,
    podCidr,
    reflectorIp: spec.underlayGateway,
    podSubnet: spec.podSubnet,
    runDir: nodeDir(n),
    netns: nodeNs(n),
  });
}

const ipBatch = (netns: string | undefined, lines: string[]) =>
  run(netns ? ['ip', '-n', netns, '-batch', '-'] : ['ip', '-batch', '-'], { input: `${lines.join('\n')}\n` });

beforeAll(async () => {
  await ipBatch(undefined, [fabricNs, ...nodes.map(nodeNs)].map((ns) => `netns add ${ns}`));
  await ipBatch(fabricNs, [
    'link set lo up',
    'link add underlay type bridge',
    'addr add 198.18.0.1/24 dev underlay',
    'link set underlay up',
    ...nodes.flatMap((n) => [`link add ${n.name} type veth peer name eth0 netns ${nodeNs(n)}`, `link set ${n.name} master underlay up`]),
  ]);
  for (const n of nodes) {
    await ipBatch(nodeNs(n), [
      'link set lo up',
      `addr add ${n.underlayIp}/24 dev eth0`,
      'link set eth0 up',
      // Something to route to inside the pod CIDR (this kernel has no dummy driver: a veth pair).
      'link add pods type veth peer name pods-peer',
      'link set pods-peer up',
      `addr add ${n.podGateway}/24 dev pods`,
      'link set pods up',
    ]);
  }
});

afterAll(async () => {
  const files = [...nodes.map((n) => birdFiles(nodeDir(n))), birdFiles(dir, 'bird-fabric')];
  await stopRouteReflector(spec, rrOpts).catch(() => {});
  await Promise.all(nodes.map((n) => speaker(n).stop().catch(() => {})));
  for (const f of files) {
    const pid = runningBirdPid(f.pid);
    if (pid !== undefined) process.kill(pid, 'SIGKILL');
  }
  for (const ns of [fabricNs, ...nodes.map(nodeNs)]) await run(['ip', 'netns', 'del', ns], { allowFailure: true });
  rmSync(dir, { recursive: true, force: true });
});

describe('native routing BGP (route reflector + node speakers)', () => {
  it('converges: every node routes the other pod CIDRs via their underlay IPs', async () => {
    const t0 = performance.now();
    await startRouteReflector(spec, rrOpts);
    await Promise.all(nodes.map((n) => speaker(n).start()));
    const conv = await measureConvergence(spec, { timeoutMs: 15_000, since: t0, ...where });
    console.log(`BGP convergence (3 nodes, from bird start): ${conv.ms} ms`, JSON.stringify(conv.routes));
    expect(conv.ms).toBeLessThan(8000);
    for (const n of nodes) {
      const others = nodes.filter((o) => o !== n).map((o) => `${o.podCidr} via ${o.underlayIp}`);
      expect(conv.routes[n.name]?.sort()).toEqual(others.sort()); // and never its own CIDR
      const st = await speaker(n).status();
      expect(st).toMatchObject({ running: true, established: true, routesImported: 2 });
      expect(st.sessions).toEqual([expect.objectContaining({ name: 'reflector', state: 'up', info: 'Established' })]);
    }
    const rr = await reflectorStatus(spec, rrOpts);
    expect(rr.established).toBe(3);
    expect(rr.sessions.map((s) => s.node).sort()).toEqual(['node1', 'node2', 'node3']);
  });

  it('forwards across nodes over the learned route', async () => {
    const res = await run(['ping', '-c', '2', '-i', '0.2', '-W', '1', n3.podGateway], { netns: nodeNs(n1), allowFailure: true });
    expect(res.code, res.stdout + res.stderr).toBe(0);
  });

  it('withdraws a killed speaker at once (TCP close) and relearns it on restart', async () => {
    const pid = runningBirdPid(birdFiles(nodeDir(n2)).pid)!;
    const t0 = performance.now();
    process.kill(pid, 'SIGKILL');
    const ms = await waitWithdrawn(spec, n2.name, 6000, { since: t0, netnsOf: nodeNs });
    console.log(`withdrawal after SIGKILL of node2's bird: ${ms} ms`);
    expect(ms).toBeLessThan(3000 + 1500);

    const t1 = performance.now();
    await speaker(n2).start(); // the pidfile's bird is dead: a new one starts and prunes its stale routes
    console.log(`speaker start (bird launched and answering): ${Math.round(performance.now() - t1)} ms`);
    const conv = await measureConvergence(spec, { timeoutMs: 15_000, since: t1, ...where });
    console.log(`reconvergence after restarting node2's bird: ${conv.ms} ms`);
    expect(conv.routes[n2.name]?.sort()).toEqual([`${n1.podCidr} via ${n1.underlayIp}`, `${n3.podCidr} via ${n3.underlayIp}`]);
  });

  it('a restarted agent adopts the running bird without a session flap', async () => {
    const files = birdFiles(nodeDir(n1));
    const pid = runningBirdPid(files.pid);
    const before = (await speaker(n1).status()).sessions[0]!;
    await speaker(n1).start();
    expect(runningBirdPid(files.pid)).toBe(pid);
    const after = await speaker(n1).status();
    expect(after.established).toBe(true);
    expect(after.sessions[0]).toEqual(before);
  });

  it('withdraws a node cut off the fabric within the hold time', async () => {
    const t0 = performance.now();
    // The fabric side of node3's link goes down: the reflector hears nothing more and must rely on
    // its hold timer (node3's own bird sees carrier loss and drops the session at once).
    await run(['ip', '-n', fabricNs, 'link', 'set', n3.name, 'down']);
    const ms = await waitWithdrawn(spec, n3.name, 8000, { since: t0, netnsOf: nodeNs });
    console.log(`withdrawal after cutting node3 off the fabric: ${ms} ms`);
    expect(ms).toBeLessThan(3000 + 1500);
    const t1 = performance.now();
    await run(['ip', '-n', fabricNs, 'link', 'set', n3.name, 'up']);
    const conv = await measureConvergence(spec, { timeoutMs: 15_000, since: t1, ...where });
    console.log(`reconvergence after reconnecting node3: ${conv.ms} ms`);
  });

  it('reconfigure announces a new pod CIDR in place', async () => {
    const moved = '198.19.10.0/24';
    const s = speaker(n1);
    await s.reconfigure({ podCidr: moved });
    const deadline = Date.now() + 5000;
    let routes = await birdKernelRoutes(nodeNs(n2));
    while (!routes.some((r) => r.dst === moved) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      routes = await birdKernelRoutes(nodeNs(n2));
    }
    expect(routes.map((r) => `${r.dst} via ${r.gateway}`).sort()).toEqual([`${moved} via ${n1.underlayIp}`, `${n3.podCidr} via ${n3.underlayIp}`]);
    expect((await s.status()).established).toBe(true);
  });
});
