// The services scenario on a real 3-node cluster (cnilab, tunnel): it passes, and it fails when the load
// balancer is broken on purpose — the socket-LB object swapped, on every node, for a variant that skips
// the reverse translation or connects to the wrong backend port (what an agent restart with another
// object does: the pinned links get the new program), and a cluster whose tc datapath skips the reverse
// NAT of NodePort flows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { paths } from '../../harness/cluster/names.js';
import { resolveSpec, type ClusterSpec } from '../../harness/cluster/spec.js';
import type { ControlPlaneClient } from '../../harness/cluster/client.js';
import { createCluster, destroyCluster } from '../../harness/providers/netns/cluster.js';
import { setupSocketLb, SOCK_OBJECT, SOCK_OBJECT_BROKEN_PORT, SOCK_OBJECT_BROKEN_REVNAT, cgroup2Root } from '../../agent/datapath/sock-lb.js';
import type { CheckResult } from '../../reports/model.js';
import { runScenario } from '../framework/runner.js';
import { servicesScenario, servicesSteps } from './services.js';
import type { Scenario } from '../framework/model.js';

/** The scenario cut down to some checks: a broken build times out on most of them, 1 s each. */
const only = (ids: string[]): Scenario => ({ ...servicesScenario, steps: (ctx) => servicesSteps(ctx).filter((st) => ids.includes(st.id)) });

const NAME = 'svc-suite';
const BROKEN = 'svc-suite-bad';
const NATIVE = 'svc-suite-nat';
const TC_NO_REVNAT = resolve(import.meta.dirname, '../../bpf/build/datapath-lb-no-revnat.o');
let spec: ClusterSpec;
let client: ControlPlaneClient;
const failed = (checks: CheckResult[]) => checks.filter((c) => !c.passed).map((c) => c.id);

function swapSocketLb(objectPath: string): void {
  for (const n of spec.nodes) setupSocketLb({ pinDir: paths.bpfNodeDir(NAME, n.name), attach: true, objectPath });
}

/** Programs attached to the root cgroup whose name is one of ours. */
function ourCgroupPrograms(): string[] {
  const out = execFileSync('bpftool', ['-j', 'cgroup', 'show', cgroup2Root()!], { encoding: 'utf8' });
  return (JSON.parse(out.trim() || '[]') as Array<{ name?: string }>).map((p) => p.name ?? '').filter((n) => n.startsWith('sock4_'));
}

describe('services scenario (socket LB)', () => {
  beforeAll(async () => {
    await destroyCluster(NAME);
    await destroyCluster(BROKEN);
    await destroyCluster(NATIVE);
    spec = resolveSpec({}, 'test', { name: NAME, nodes: 3, cni: 'cnilab', routing: 'tunnel' });
    client = await createCluster(spec);
  });
  afterAll(async () => {
    await destroyCluster(NAME);
    await destroyCluster(BROKEN);
    await destroyCluster(NATIVE);
  });

  it('passes: ClusterIP and NodePort from pods and nodes, no endpoints, affinity, backend deletion, flows', async () => {
    const r = await runScenario({ spec, client }, servicesScenario);
    expect(r.checks.length, `${r.status}: ${r.reason}`).toBeGreaterThan(10);
    expect(r.checks.filter((c) => !c.passed).map((c) => `${c.id}: ${c.observed}`)).toEqual([]);
    expect(r.status).toBe('passed');
    // Every verdict rests on recorded evidence.
    expect(r.checks.filter((c) => !c.evidence?.length).map((c) => c.id)).toEqual([]);
  }, 120_000);

  it('fails with reverse translation skipped: the client sees the backend as its peer', async () => {
    swapSocketLb(SOCK_OBJECT_BROKEN_REVNAT);
    try {
      const r = await runScenario({ spec, client }, only(['svc/clusterip-tcp/node1', 'svc/clusterip-udp/node1', 'svc/node-clusterip/node1', 'svc/affinity']));
      expect(r.status).toBe('failed');
      const ids = failed(r.checks);
      expect(ids).toEqual(expect.arrayContaining(['svc/clusterip-tcp/node1', 'svc/clusterip-udp/node1', 'svc/node-clusterip/node1']));
    } finally {
      swapSocketLb(SOCK_OBJECT);
    }
  }, 120_000);

  it('fails with the wrong backend port: connections are refused', async () => {
    swapSocketLb(SOCK_OBJECT_BROKEN_PORT);
    try {
      const r = await runScenario({ spec, client }, only(['svc/clusterip-tcp/node2', 'svc/flows-translated']));
      expect(r.status).toBe('failed');
      const c = r.checks.find((x) => x.id === 'svc/clusterip-tcp/node2')!;
      expect(c.passed).toBe(false);
      expect(c.observed).toContain('ECONNREFUSED');
      // The failure mode is named in the observation and in the evidence.
      expect(c.evidence?.[0]?.observed).toMatch(/failures \{"RST":\d+\}/);
    } finally {
      swapSocketLb(SOCK_OBJECT);
    }
  }, 120_000);

  it('fails when the tc datapath skips the reverse NAT: NodePort answers come from the wrong address', async () => {
    const badSpec = resolveSpec({}, 'test', { name: BROKEN, nodes: 3, cni: 'cnilab', routing: 'tunnel' });
    // The agents load the object named by CNILAB_BPF_OBJECT; the daemon passes its environment on.
    process.env.CNILAB_BPF_OBJECT = TC_NO_REVNAT;
    let badClient: ControlPlaneClient;
    try {
      badClient = await createCluster(badSpec);
    } finally {
      delete process.env.CNILAB_BPF_OBJECT;
    }
    try {
      const r = await runScenario({ spec: badSpec, client: badClient }, only(['svc/outside-nodeport-cluster/node1', 'svc/nodeport-other-node/node1', 'svc/clusterip-tcp/node1']));
      expect(r.status).toBe('failed');
      const ids = failed(r.checks);
      expect(ids).toEqual(expect.arrayContaining(['svc/outside-nodeport-cluster/node1', 'svc/nodeport-other-node/node1']));
      // socket LB is untouched, so the ClusterIP checks still pass: the failures are the tc path's
      expect(ids).not.toContain('svc/clusterip-tcp/node1');
    } finally {
      await destroyCluster(BROKEN);
    }
  }, 180_000);

  it('passes on native routing too (NodePort from other nodes arrives on the underlay, not the tunnel)', async () => {
    const nspec = resolveSpec({}, 'test', { name: NATIVE, nodes: 3, cni: 'cnilab', routing: 'native' });
    const nclient = await createCluster(nspec);
    try {
      const r = await runScenario({ spec: nspec, client: nclient }, servicesScenario);
      expect(r.checks.length, `${r.status}: ${r.reason}`).toBeGreaterThan(10);
      expect(r.checks.filter((c) => !c.passed).map((c) => `${c.id}: ${c.observed}`)).toEqual([]);
    } finally {
      await destroyCluster(NATIVE);
    }
  }, 180_000);

  it('down detaches the hooks: no cgroup program of the cluster is left', async () => {
    expect(ourCgroupPrograms().length).toBeGreaterThanOrEqual(4 * spec.nodes.length);
    await destroyCluster(NAME);
    expect(ourCgroupPrograms()).toEqual([]);
  });
});
