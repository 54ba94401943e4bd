// The embedded cluster end to end, through the CLI a user runs: up, apply the netpol e2e model,
// get, exec probes across nodes, down; bad input; two clusters side by side; a crashed run swept.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CNILAB, cnilab, leftovers } from '../../testing/cli.js';
import { run } from '../../exec/run.js';
import { REPO_ROOT } from '../../paths.js';
import { sweep } from './sweep.js';

const A = 'rt-a';
const B = 'rt-b';
const XYZ = `${REPO_ROOT}/scenarios/manifests/xyz.yaml`;

interface PodItem {
  metadata: { name: string; namespace: string };
  spec: { nodeName: string };
  status: { phase: string; podIP: string };
}

async function podsOf(cluster: string): Promise<PodItem[]> {
  const r = await cnilab(['get', 'pods', '-A', '-o', 'json', '--name', cluster]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout).items;
}

describe('embedded cluster lifecycle (reference-bridge CNI)', () => {
  beforeAll(async () => {
    await sweep(A);
    await sweep(B);
  });
  afterAll(async () => {
    await sweep(A);
    await sweep(B);
  });

  it('brings up 3 nodes, runs 9 pods and connects them across nodes', async () => {
    const up = await cnilab(['up', '--name', A, '--nodes', '3', '--cni', 'reference-bridge']);
    expect(up.code, up.stderr).toBe(0);
    const applied = await cnilab(['apply', '-f', XYZ, '--wait', '--timeout', '60s', '--name', A]);
    expect(applied.code, applied.stderr).toBe(0);
    const pods = await podsOf(A);
    expect(pods).toHaveLength(9);
    expect(pods.every((p) => p.status.phase === 'Running' && /^198\.19\./.test(p.status.podIP))).toBe(true);
    expect(new Set(pods.map((p) => p.spec.nodeName)).size).toBe(3);

    const wide = await cnilab(['get', 'pods', '-A', '-o', 'wide', '--name', A]);
    expect(wide.stdout.trim().split('\n')).toHaveLength(10);
    expect(wide.stdout).toMatch(/NAMESPACE\s+NAME\s+READY\s+STATUS/);

    const xa = pods.find((p) => p.metadata.namespace === 'x' && p.metadata.name === 'a')!;
    const same = pods.find((p) => p !== xa && p.spec.nodeName === xa.spec.nodeName)!;
    const other = pods.find((p) => p.spec.nodeName !== xa.spec.nodeName)!;
    for (const target of [same, other]) {
      for (const proto of ['tcp', 'udp']) {
        for (const port of [80, 81]) {
          const r = await cnilab(['exec', 'x/a', '--name', A, '--', 'agnhost', 'connect', `${target.status.podIP}:${port}`, '--timeout=2s', `--protocol=${proto}`]);
          expect(r.code, `${proto} ${target.metadata.namespace}/${target.metadata.name}:${port} ${r.stderr}`).toBe(0);
        }
      }
    }
    // A port nobody serves is refused, so the probe can fail: the check above is not vacuous.
    const closed = await cnilab(['exec', 'x/a', '--name', A, '--', 'agnhost', 'connect', `${other.status.podIP}:82`, '--timeout=2s', '--protocol=tcp']);
    expect(closed.code).toBe(1);
    expect(closed.stderr).toMatch(/REFUSED/);
  });

  it('runs a second cluster side by side without interfering', async () => {
    const up = await cnilab(['up', '--name', B, '--nodes', '2', '--cni', 'reference-bridge']);
    expect(up.code, up.stderr).toBe(0);
    // Same names in both clusters, each with its own store.
    const applied = await cnilab(['apply', '-f', '-', '--wait', '--name', B], {
      input: 'apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - {name: c, image: "registry.k8s.io/e2e-test-images/agnhost:2.47", args: [netexec, --http-port=8080]}\n',
    });
    expect(applied.code, applied.stderr).toBe(0);
    expect(await podsOf(B)).toHaveLength(1);
    expect(await podsOf(A)).toHaveLength(9);
    const status = await cnilab(['status', '--name', A]);
    expect(status.stdout).toMatch(/other clusters on this host: .*rt-b/);
    const down = await cnilab(['down', '--name', B]);
    expect(down.code, down.stderr).toBe(0);
    expect(await leftovers(B)).toEqual([]);
    // A is untouched.
    expect(await podsOf(A)).toHaveLength(9);
  });

  it('rejects bad input with exit 2, naming the field, and creates nothing', async () => {
    const badPod = await cnilab(['apply', '--name', A, '-f', '-'], {
      input: 'apiVersion: v1\nkind: Pod\nmetadata: {name: ok, namespace: x}\nspec: {containers: [{name: c, image: busybox, command: [sleep, "1"]}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: Bad_Name, namespace: x}\nspec: {containers: [{name: c, image: busybox}]}\n',
    });
    expect(badPod.code).toBe(2);
    expect(badPod.stderr).toMatch(/metadata.name/);
    const unknownNs = await cnilab(['apply', '--name', A, '-f', '-'], {
      input: 'apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: nowhere}\nspec: {containers: [{name: c, image: busybox, command: [sleep, "1"]}]}\n',
    });
    expect(unknownNs.code).toBe(2);
    expect(unknownNs.stderr).toMatch(/namespace "nowhere" not found/);
    expect(await podsOf(A)).toHaveLength(9);

    const escape = await cnilab(['up', '--name', '../../etc']);
    expect(escape.code).toBe(2);
    expect(escape.stderr).toMatch(/--name/);
    const longNode = await cnilab(['up', '--name', 'rt-c', '--config', '-'], { input: 'nodes:\n  - name: this-name-is-too-long\n' });
    expect(longNode.code).toBe(2);
    expect(longNode.stderr).toMatch(/nodes\[0\]\.name.*15/);
    const routing = await cnilab(['up', '--name', 'rt-c', '--routing', 'bgp']);
    expect(routing.code).toBe(2);
    expect(await leftovers('rt-c')).toEqual([]);
    // A kernel feature this machine lacks is "unsupported", exit 3, before anything is created.
    const geneve = await cnilab(['up', '--name', 'rt-c', '--config', '-'], { input: 'networking: {cni: kernel, routing: tunnel, tunnelProtocol: geneve}\n' });
    expect(geneve.code).toBe(3);
    expect(geneve.stderr).toMatch(/^unsupported: Geneve/m);
    expect(await leftovers('rt-c')).toEqual([]);
    expect(await leftovers('featureprobe')).toEqual([]);
    // The existing cluster cannot be created twice.
    const again = await cnilab(['up', '--name', A]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/already exists/);
  });

  it('deletes a pod, then leaves nothing after down', async () => {
    const del = await cnilab(['delete', 'pod', 'a', '-n', 'y', '--wait', '--name', A]);
    expect(del.code, del.stderr).toBe(0);
    expect(await podsOf(A)).toHaveLength(8);
    expect((await leftovers(A)).filter((l) => l.includes('pod.y.a'))).toEqual([]);
    const down = await cnilab(['down', '--name', A]);
    expect(down.code, down.stderr).toBe(0);
    expect(await leftovers(A)).toEqual([]);
    // A was the last cluster: not even the shared run and pin directories stay (other tests' fixtures are theirs).
    expect(await leftovers(undefined, { fixtures: false })).toEqual([]);
  });

  it('removes what was created when up is interrupted with Ctrl-C', async () => {
    const child = spawn(CNILAB, ['up', '--name', 'rt-int', '--nodes', '4', '--cni', 'reference-bridge'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    // Interrupt as soon as creation has visibly started.
    await new Promise<void>((resolve) => child.stderr!.on('data', () => (/creating/.test(stderr) ? resolve() : undefined)));
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code).toBe(130);
    expect(stderr).toMatch(/interrupted: removing/);
    expect(await leftovers('rt-int')).toEqual([]);
  });

  it('sweeps a run killed with SIGKILL (down --all)', async () => {
    const up = await cnilab(['up', '--name', A, '--nodes', '2', '--cni', 'reference-bridge']);
    expect(up.code, up.stderr).toBe(0);
    // Start an apply that is killed mid-way, then kill the daemon as a crash would.
    const child = spawn(CNILAB, ['apply', '-f', XYZ, '--wait', '--name', A], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 400));
    child.kill('SIGKILL');
    const before = await leftovers(A);
    for (const line of before.filter((l) => l.startsWith('process'))) process.kill(Number(line.split(' ')[1]), 'SIGKILL');
    expect(before.length).toBeGreaterThan(0);
    // What a datapath test killed before its afterAll leaves: a fixture namespace and a pin dir.
    await run(['ip', 'netns', 'add', 'cnilab-dptest-planted']);
    mkdirSync('/sys/fs/bpf/cnilab-test-planted-0000', { recursive: true });
    expect(await leftovers()).toEqual(expect.arrayContaining(['netns cnilab-dptest-planted', 'bpf /sys/fs/bpf/cnilab-test-planted-0000']));
    const sweepAll = await cnilab(['down', '--all']);
    expect(sweepAll.code, sweepAll.stderr).toBe(0);
    expect(await leftovers()).toEqual([]);
  });
});
