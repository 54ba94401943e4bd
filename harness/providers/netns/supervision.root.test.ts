// The control plane is supervised: a killed cluster daemon comes back with its objects and re-adopts
// its pods (and, with the cnilab CNI, replaces the agents); a daemon that cannot come back leaves a
// cluster that says it is broken; `down` cleans everything in every case.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cnilab, leftovers } from '../../testing/cli.js';
import { bodyOf, rawGet, rawTcp } from '../../testing/raw-socket.js';
import { netnsNames, paths } from '../../cluster/names.js';
import { ControlPlaneClient } from '../../cluster/client.js';
import { listNetns, sweep } from './sweep.js';
import { containerLogPath } from './container-log.js';
import { run } from '../../exec/run.js';
import { AgentClient } from '../../../agent/api/client.js';

const A = 'hard-sv';
const B = 'hard-sb';
const G = 'hard-ag';
const AGNHOST = 'registry.k8s.io/e2e-test-images/agnhost:2.47';
const pod = (name: string, node: string) => `
apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  nodeName: ${node}
  containers:
  - {name: c, image: "${AGNHOST}", args: [netexec, --http-port=8080, --udp-port=-1]}
---`;
const ONCE = `
apiVersion: v1
kind: Pod
metadata: {name: once}
spec:
  nodeName: node1
  restartPolicy: Never
  containers: [{name: main, image: debian:12, command: [sh, -c, 'echo ran once']}]
`;
const pidOf = (file: string) => Number(readFileSync(file, 'utf8'));

async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch((e: Error) => e as unknown as T);
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${v instanceof Error ? v.message : JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface PodJson {
  metadata: { name: string; uid: string };
  status: { phase: string; podIP: string; containerStatuses: Array<{ ready: boolean; restartCount: number; lastState: { terminated?: { message?: string } } }> };
}
const podsOf = async (c: string): Promise<PodJson[]> => JSON.parse((await cnilab(['get', 'pods', '--name', c, '-o', 'json'])).stdout).items;

describe('control plane supervision', () => {
  beforeAll(async () => {
    await sweep(A);
    await sweep(B);
    await sweep(G);
  });
  afterAll(async () => {
    await sweep(A);
    await sweep(B);
    await sweep(G);
  });

  it('a SIGKILLed daemon is restarted with its objects; pods are adopted (same IP, restartCount+1), agents replaced', async () => {
    const up = await cnilab(['up', '--name', A, '--nodes', '2', '-q']);
    expect(up.code, up.stderr).toBe(0);
    expect((await cnilab(['apply', '--name', A, '-f', '-', '--wait'], { input: pod('p1', 'node1') + pod('p2', 'node2') })).code).toBe(0);
    // A completed pod (restartPolicy Never): terminal, whatever happens to the daemon.
    expect((await cnilab(['apply', '--name', A, '-f', '-'], { input: ONCE })).code).toBe(0);
    const onceLog = containerLogPath(paths.podLogDir(A, 'default', 'once'), 'main');
    const once = await until('the completed pod', () => podsOf(A), (ps) => Array.isArray(ps) && ps.find((p) => p.metadata.name === 'once')?.status.phase === 'Succeeded');
    const onceBefore = { status: once.find((p) => p.metadata.name === 'once')!.status, log: readFileSync(onceLog, 'utf8') };
    expect(onceBefore.log).toMatch(/ran once\n$/);
    const before = (await podsOf(A)).filter((p) => p.metadata.name !== 'once');
    const agentsBefore = await new ControlPlaneClient(paths.controlSocket(A), A).getPath<Array<{ pid: number }>>('/v1/agents');
    const daemon = pidOf(paths.daemonPid(A));

    process.kill(daemon, 'SIGKILL');
    const during = await cnilab(['status', '--name', A]);
    expect(during.code).toBe(1);
    expect(during.stdout).toMatch(/RESTARTING|restarted/);

    const status = await until('status to be healthy again', () => cnilab(['status', '--name', A]), (r) => r.code === 0 && /ok|healthy/.test(r.stdout) && !/unreachable/.test(r.stdout));
    expect(status.stdout).toMatch(/control plane: running \(daemon pid \d+, 1 restarts\)/);
    expect(pidOf(paths.daemonPid(A))).not.toBe(daemon);
    const all = await until('the pods to run again', () => podsOf(A), (ps) => Array.isArray(ps) && ps.length === 3 && ps.filter((p) => p.metadata.name !== 'once').every((p) => p.status.containerStatuses?.[0]?.ready && p.status.containerStatuses[0].restartCount === 1));
    const after = all.filter((p) => p.metadata.name !== 'once');
    // The completed pod was not run again: same status (phase, restarts, its container's end), same log.
    const onceAfter = all.find((p) => p.metadata.name === 'once')!.status;
    expect({ phase: onceAfter.phase, podIP: onceAfter.podIP, containers: onceAfter.containerStatuses }).toEqual({ phase: 'Succeeded', podIP: onceBefore.status.podIP, containers: onceBefore.status.containerStatuses });
    expect(readFileSync(onceLog, 'utf8')).toBe(onceBefore.log);
    expect(existsSync(containerLogPath(paths.podLogDir(A, 'default', 'once'), 'main', true))).toBe(false);
    for (const p of after) {
      const b = before.find((x) => x.metadata.name === p.metadata.name)!;
      expect(p.metadata.uid).toBe(b.metadata.uid);
      expect(p.status.podIP).toBe(b.status.podIP);
      expect(p.status.containerStatuses[0]!.lastState.terminated?.message).toMatch(/the cluster daemon restarted/);
    }
    const agentsAfter = await new ControlPlaneClient(paths.controlSocket(A), A).getPath<Array<{ pid: number }>>('/v1/agents');
    expect(agentsAfter.map((a) => a.pid)).not.toEqual(agentsBefore.map((a) => a.pid));
    for (const a of agentsBefore) expect(() => process.kill(a.pid, 0)).toThrow(); // the old ones are gone
    // The adopted pods serve across nodes, from p1's netns to p2.
    const p2 = after.find((p) => p.metadata.name === 'p2')!;
    const r = await rawTcp(p2.status.podIP, 8080, rawGet('/hostname'), { netns: netnsNames.pod(A, 'default', 'p1') });
    expect(bodyOf(r.data)).toBe('p2');
    // The restarted control plane still makes and removes pods, including adopted ones.
    expect((await cnilab(['apply', '--name', A, '-f', '-', '--wait'], { input: pod('p3', 'node1') })).code).toBe(0);
    expect((await cnilab(['delete', '--name', A, 'pod', 'p1', '--wait'])).code).toBe(0);
    expect(listNetns(A).filter((n) => n.includes('.pod.'))).toEqual([netnsNames.pod(A, 'default', 'once'), netnsNames.pod(A, 'default', 'p2'), netnsNames.pod(A, 'default', 'p3')]);
    // A command right after a daemon crash waits for the restart instead of failing (the 50-cycle soak's
    // daemon kill before apply); status still tells the restart as it is.
    process.kill(pidOf(paths.daemonPid(A)), 'SIGKILL');
    const applied = await cnilab(['apply', '--name', A, '-f', '-', '--wait'], { input: pod('p4', 'node2') });
    expect(applied.code, applied.stderr).toBe(0);
    expect((await podsOf(A)).map((p) => p.metadata.name).sort()).toEqual(['once', 'p2', 'p3', 'p4']);
    // The completed pod's sandbox goes with it on delete.
    expect((await cnilab(['delete', '--name', A, 'pod', 'once', '--wait'])).code).toBe(0);
    expect(listNetns(A).filter((n) => n.endsWith('.once'))).toEqual([]);
    expect((await cnilab(['down', '--name', A])).code).toBe(0);
    expect(await leftovers(A)).toEqual([]);
  });

  it('a daemon that cannot come back leaves a cluster reported broken, and down removes it all', async () => {
    const up = await cnilab(['up', '--name', B, '--nodes', '1', '--cni', 'reference-bridge', '-q']);
    expect(up.code, up.stderr).toBe(0);
    expect((await cnilab(['apply', '--name', B, '-f', '-', '--wait'], { input: pod('q1', 'node1') })).code).toBe(0);
    // A corrupt persisted store: restarting cannot help, so the supervisor gives up at once.
    await new Promise((r) => setTimeout(r, 100));
    writeFileSync(paths.storeSnapshot(B), '{"resourceVersion": 3, "objects": [');
    process.kill(pidOf(paths.daemonPid(B)), 'SIGKILL');
    const st = await until('the cluster to be reported broken', () => cnilab(['status', '--name', B]), (r) => /BROKEN/.test(r.stdout));
    expect(st.code).toBe(1);
    expect(st.stdout).toMatch(/cannot recover its state/);
    expect(st.stdout).toMatch(/persisted store is corrupt/); // the daemon's own last words
    expect(st.stdout).toMatch(/cnilab down --name hard-sb/);
    const get = await cnilab(['get', 'pods', '--name', B]);
    expect(get.code).toBe(1);
    expect(get.stderr).toMatch(/cnilab status --name hard-sb/);
    expect((await cnilab(['down', '--name', B])).code).toBe(0);
    expect(await leftovers(B)).toEqual([]);

    // A daemon that dies at every start (its cluster file is unreadable) is given up after the limit.
    expect((await cnilab(['up', '--name', B, '--nodes', '1', '--cni', 'reference-bridge', '-q'])).code).toBe(0);
    writeFileSync(paths.state(B), 'not json');
    process.kill(pidOf(paths.daemonPid(B)), 'SIGKILL');
    const loop = await until('the crash loop to be given up', () => cnilab(['status', '--name', B]), (r) => /BROKEN/.test(r.stdout), 60_000);
    expect(loop.stdout).toMatch(/crashed 5 times within 60 s/);
    expect((await cnilab(['down', '--name', B])).code).toBe(0);
    expect(await leftovers(B)).toEqual([]);
  });
});

interface AgentStatus {
  node: string;
  pid?: number;
  restarts: number;
  lastDelayMs?: number;
}

describe('agent health and supervision', () => {
  const cp = new ControlPlaneClient(paths.controlSocket(G), G);
  const agents = () => cp.getPath<AgentStatus[]>('/v1/agents');
  const health = () => new AgentClient(G, 'node1').healthz();
  const nodeNs = netnsNames.node(G, 'node1');
  beforeAll(async () => {
    const up = await cnilab(['up', '--name', G, '--nodes', '1', '-q']);
    expect(up.code, up.stderr).toBe(0);
    expect((await cnilab(['apply', '--name', G, '-f', '-', '--wait'], { input: pod('g1', 'node1') })).code).toBe(0);
  });
  afterAll(async () => {
    await cnilab(['down', '--name', G]);
  });

  it('a route sync failure keeps the agent unhealthy whatever other watch events arrive, until routes sync again', async () => {
    await until('the agent to be healthy', health, (h) => h.ok === true);
    // Break route sync on purpose: without cilium_host, routes to other nodes' pod CIDRs cannot be made.
    await run(['ip', 'link', 'del', 'cilium_host'], { netns: nodeNs });
    const node = (name: string, cidr: string) => ({
      apiVersion: 'v1', kind: 'Node', metadata: { name }, spec: { podCIDR: cidr, podCIDRs: [cidr] },
      status: { addresses: [{ type: 'InternalIP', address: '198.18.0.99' }] },
    });
    await cp.apply([node('node9', '198.19.9.0/24')], true);
    const broken = await until('the route failure in health', health, (h) => h.ok === false);
    expect(broken.message).toMatch(/routes/);
    // Unrelated watch events (a remote endpoint coming and changing) must not paper over it.
    const ce = (i: number) => ({
      apiVersion: 'cilium.io/v2', kind: 'CiliumEndpoint', metadata: { name: 'remote', namespace: 'default', labels: { n: String(i) } },
      status: { id: 9, identity: { id: 256 + i, labels: [`k8s:n=${i}`] }, networking: { addressing: [{ ipv4: '198.19.9.5' }], node: '198.18.0.99' }, nodeName: 'node9', state: 'ready' },
    });
    for (let i = 0; i < 5; i++) await cp.apply([ce(i)], true);
    await new Promise((r) => setTimeout(r, 500));
    const still = await health();
    expect(still.ok, JSON.stringify(still)).toBe(false);
    expect(still.message).toMatch(/routes/);
    // A restarted agent makes cilium_host again; routes sync and health clears.
    process.kill((await agents())[0]!.pid!, 'SIGKILL');
    await until('the agent to be healthy again', health, (h) => h.ok === true);
    await cp.delete('CiliumEndpoint', 'default', 'remote');
    await cp.delete('Node', undefined, 'node9', true); // Nodes are cnilab's own: not deletable through the API
  });

  it('a corrupt state file is quarantined and reported in health, not a crash loop', async () => {
    const dir = paths.nodeDir(G, 'node1');
    const before = (await agents())[0]!;
    writeFileSync(`${dir}/ipam.json`, '{"version":1,"podCidr":');
    process.kill(before.pid!, 'SIGKILL');
    const h = await until('the agent to report the quarantined file', health, (x) => x.ok === false && /quarantined/.test(x.message ?? ''));
    expect(h.message).toMatch(/ipam\.json/);
    expect(readdirSync(dir).some((f) => /^ipam\.json\.corrupt-\d+$/.test(f))).toBe(true);
    // IPAM is rebuilt from the endpoint states: the pod keeps its endpoint and its address.
    expect(h.endpoints).toBe(1);
    const podIP = (await podsOf(G))[0]!.status.podIP;
    expect(JSON.parse(readFileSync(`${dir}/ipam.json`, 'utf8')).allocations[podIP]).toBeDefined();
    expect((await agents())[0]!.restarts).toBe(before.restarts + 1); // one restart: the kill, no loop
  });

  it('an agent that cannot start is restarted with an exponential backoff, then recovers', async () => {
    const config = paths.agentConfig(G, 'node1');
    const state = readFileSync(config, 'utf8');
    const start = (await agents())[0]!;
    writeFileSync(config, 'not: [valid'); // the agent's config file: it cannot start at all
    process.kill(start.pid!, 'SIGKILL');
    const looping = await until('3 failed restarts', agents, (a) => a[0]!.restarts >= start.restarts + 3, 30_000);
    // 200, 400, 800 ms: each delay doubles (the supervisor reports the last one it chose).
    expect(looping[0]!.lastDelayMs).toBeGreaterThanOrEqual(800);
    writeFileSync(config, state);
    await until('the agent to be back', health, (h) => h.ok !== undefined, 30_000);
  });
});
