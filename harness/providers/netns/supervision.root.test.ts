// The control plane is supervised: a killed cluster daemon comes back with its objects and re-adopts
// its pods (and, with the cnilab CNI, replaces the agents); a daemon that cannot come back leaves a
// cluster that says it is broken; `down` cleans everything in every case.
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cnilab, leftovers } from '../../testing/cli.js';
import { bodyOf, rawGet, rawTcp } from '../../testing/raw-socket.js';
import { netnsNames, paths } from '../../cluster/names.js';
import { ControlPlaneClient } from '../../cluster/client.js';
import { listNetns, sweep } from './sweep.js';

const A = 'hard-sv';
const B = 'hard-sb';
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
  });
  afterAll(async () => {
    await sweep(A);
    await sweep(B);
  });

  it('a SIGKILLed daemon is restarted with its objects; pods are adopted (same IP, restartCount+1), agents replaced', async () => {
    const up = await cnilab(['up', '--name', A, '--nodes', '2', '-q']);
    expect(up.code, up.stderr).toBe(0);
    expect((await cnilab(['apply', '--name', A, '-f', '-', '--wait'], { input: pod('p1', 'node1') + pod('p2', 'node2') })).code).toBe(0);
    const before = await podsOf(A);
    const agentsBefore = await new ControlPlaneClient(paths.controlSocket(A), A).getPath<Array<{ pid: number }>>('/v1/agents');
    const daemon = pidOf(paths.daemonPid(A));

    process.kill(daemon, 'SIGKILL');
    const during = await cnilab(['status', '--name', A]);
    expect(during.code).toBe(1);
    expect(during.stdout).toMatch(/RESTARTING|restarted/);

    const status = await until('status to be healthy again', () => cnilab(['status', '--name', A]), (r) => r.code === 0 && /ok|healthy/.test(r.stdout) && !/unreachable/.test(r.stdout));
    expect(status.stdout).toMatch(/control plane: running \(daemon pid \d+, 1 restarts\)/);
    expect(pidOf(paths.daemonPid(A))).not.toBe(daemon);
    const after = await until('the pods to run again', () => podsOf(A), (ps) => Array.isArray(ps) && ps.length === 2 && ps.every((p) => p.status.containerStatuses?.[0]?.ready && p.status.containerStatuses[0].restartCount === 1));
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
    expect(listNetns(A).filter((n) => n.includes('.pod.'))).toEqual([netnsNames.pod(A, 'default', 'p2'), netnsNames.pod(A, 'default', 'p3')]);
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
