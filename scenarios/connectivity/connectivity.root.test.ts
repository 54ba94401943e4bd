// End to end on a real embedded cluster (reference-bridge CNI, host-gw routes): the connectivity
// suite passes on a healthy network, and on a broken one exactly the affected checks fail.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../harness/exec/run.js';
import { netnsNames } from '../../harness/cluster/names.js';
import { resolveSpec, type ClusterSpec } from '../../harness/cluster/spec.js';
import type { ControlPlaneClient } from '../../harness/cluster/client.js';
import { createCluster, destroyCluster } from '../../harness/providers/netns/cluster.js';
import { distJs, REPO_ROOT } from '../../harness/paths.js';
import type { CheckResult } from '../../reports/model.js';
import { runScenario, runSuite, type RunnerEnv } from '../framework/runner.js';
import { connectivitySuite } from './index.js';
import { connectivityScenario } from './connectivity.js';
import { wireScenario } from './wire.js';

const NAME = 'sc-conn-e2e';
let spec: ClusterSpec;
let client: ControlPlaneClient;

const failures = (checks: CheckResult[]) => checks.filter((c) => !c.passed);
const show = (checks: CheckResult[]) => checks.map((c) => `${c.id}: expected ${c.expected}, observed ${c.observed}\n  ${c.command ?? ''}`).join('\n');

describe('connectivity suite on reference-bridge', () => {
  beforeAll(async () => {
    // Pods run agnhost from dist/; the daemon too. Build if this checkout was never compiled.
    if (!existsSync(distJs('harness/traffic/agnhost/main')) || !existsSync(distJs('harness/cluster/daemon'))) {
      await run(['npx', 'tsc', '-p', 'tsconfig.json'], { cwd: REPO_ROOT, timeoutMs: 120_000 });
    }
    await destroyCluster(NAME);
    spec = resolveSpec({}, 'test', { name: NAME, nodes: 3, cni: 'reference-bridge' });
    client = await createCluster(spec);
  });
  afterAll(async () => {
    await destroyCluster(NAME);
  });

  it('passes every check on a healthy cluster, within a minute', async () => {
    const env: RunnerEnv = { spec, client };
    const t0 = performance.now();
    const suite = await runSuite(env, connectivitySuite);
    const ms = Math.round(performance.now() - t0);
    const checks = suite.scenarios.flatMap((s) => s.checks);
    console.log(`connectivity suite: ${checks.length} checks in ${ms} ms (${suite.scenarios.map((s) => `${s.name} ${s.durationMs} ms`).join(', ')})`);
    expect(suite.scenarios.map((s) => [s.name, s.status, s.reason])).toEqual([
      ['pod-connectivity', 'passed', undefined],
      ['wire', 'passed', undefined],
      // The reference bridge has no service load balancer (no kube-proxy): not applicable, not failed.
      ['services', 'skipped', 'applies to cni cnilab, not reference-bridge'],
    ]);
    expect(failures(checks), show(failures(checks))).toEqual([]);
    expect(suite.passed).toBe(true);
    // 72 ordered pairs x 3 protocols, and the checks that prove probes can fail and the wire is watched.
    expect(checks.filter((c) => c.tags?.kind === 'pod-pod')).toHaveLength(216);
    const ids = checks.map((c) => c.id);
    expect(ids).toContain('control/tcp-unserved/conn-node1-a/conn-node2-a');
    expect(ids).toEqual(expect.arrayContaining(['wire/no-vxlan', 'wire/pod-ips-direct', 'wire/same-node-off-wire']));
    expect(checks.find((c) => c.id.startsWith('control/'))!.observed).toBe('refused (exit 1)');
    expect(ms).toBeLessThan(60_000);
  }, 150_000);

  it('notices a missing host-gw route: exactly the affected cross-node checks fail', async () => {
    const [n1, , n3] = spec.nodes as [ClusterSpec['nodes'][0], unknown, ClusterSpec['nodes'][0]];
    const node3 = netnsNames.node(NAME, n3.name);
    // node3 loses its route to node1's pods: anything needing node3 → node1's pod CIDR breaks,
    // i.e. traffic with a pod on node1 at one end and anything of node3 at the other.
    await run(['ip', '-n', node3, 'route', 'del', n1.podCidr]);
    try {
      const env: RunnerEnv = { spec, client };
      const conn = await runScenario(env, connectivityScenario);
      const wire = await runScenario(env, wireScenario);
      const affected = (c: CheckResult) => {
        const t = c.tags ?? {};
        const podOnN1 = (t.fromNode === n1.name && t.kind !== 'node-pod') || (t.toNode === n1.name && t.kind !== 'pod-node');
        return podOnN1 && ((t.fromNode === n1.name && t.toNode === n3.name) || (t.fromNode === n3.name && t.toNode === n1.name));
      };
      const expected = conn.checks.filter(affected).map((c) => c.id).sort();
      const failed = failures(conn.checks).map((c) => c.id).sort();
      // 3 pods x 3 pods x 2 directions x 3 protocols, node3 → a node1 pod (icmp, tcp), node1 pod → node3 (none by
      // construction), and the node3 → node1 DF pings (2).
      expect(expected.length).toBe(54 + 2 + 2);
      expect(failed).toEqual(expected);
      expect(conn.status).toBe('failed');
      const sameNode = conn.checks.filter((c) => c.tags?.path === 'same-node');
      expect(sameNode.length).toBeGreaterThan(0);
      expect(failures(sameNode)).toEqual([]);
      expect(failures(wire.checks), show(failures(wire.checks))).toEqual([]);
    } finally {
      await run(['ip', '-n', node3, 'route', 'replace', n1.podCidr, 'via', n1.underlayIp, 'dev', 'eth0']);
    }
  }, 150_000);
});
