// The policy suite on cnilab's own CNI, tunnel mode, on one cluster: every case of every set passes
// (observed equals the oracle for every probe, every block confirmed by its drop flow with the right
// reason, direction and node), `cnilab observe --verdict DROPPED` shows each denied probe with
// POLICY_DENIED and its direction, and the suite leaves no policy and no external host behind.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveSpec, type ClusterSpec } from '../../harness/cluster/spec.js';
import type { ControlPlaneClient } from '../../harness/cluster/client.js';
import { createCluster, destroyCluster } from '../../harness/providers/netns/cluster.js';
import { listNetns } from '../../harness/providers/netns/sweep.js';
import { cnilab, leftovers } from '../../harness/testing/cli.js';
import type { Flow } from '../../agent/observer/flow.js';
import type { SuiteResult } from '../../reports/model.js';
import { runSuite } from '../framework/runner.js';
import { buildPolicySuite } from './index.js';

const NAME = 'pol-tun';
let spec: ClusterSpec;
let client: ControlPlaneClient;

const failures = (r: SuiteResult) =>
  r.scenarios.flatMap((s) => [...(s.reason ? [`${s.name}: ${s.reason}`] : []), ...s.checks.filter((c) => !c.passed).map((c) => `${c.name}: ${c.observed}\n${c.reachability?.mismatches.slice(0, 5).map((m) => `  ${m.from} -> ${m.to} ${m.protocol}/${m.port}: ${m.why}`).join('\n') ?? c.detail}`)]);

describe('policy suite on cnilab, tunnel mode', () => {
  beforeAll(async () => {
    await destroyCluster(NAME);
    spec = resolveSpec({}, 'test', { name: NAME, nodes: 3, cni: 'cnilab', routing: 'tunnel' });
    client = await createCluster(spec);
  });
  afterAll(async () => {
    await destroyCluster(NAME);
  });

  it('passes every case of every set, each block confirmed by its drop flow', async () => {
    const result = await runSuite({ spec, client }, buildPolicySuite());
    expect(failures(result)).toEqual([]);
    expect(result.passed).toBe(true);
    const checks = result.scenarios.flatMap((s) => s.checks);
    expect(result.scenarios.length).toBeGreaterThanOrEqual(95);
    const evidence = (k: string) => checks.reduce((n, c) => n + (c.reachability!.evidence[k] ?? 0), 0);
    expect(evidence('drop-flow')).toBeGreaterThan(3000);
    expect(evidence('answer')).toBeGreaterThan(20000);
    // Nothing else settled a probe: no timeout, no refusal, no error.
    for (const c of checks) expect(Object.keys(c.reachability!.evidence).filter((k) => k !== 'answer' && k !== 'drop-flow'), c.name).toEqual([]);
    expect(await client.list('NetworkPolicy')).toEqual([]);
    expect(await client.list('CiliumNetworkPolicy')).toEqual([]);
    expect(listNetns(NAME).filter((n) => n.includes('.ext.'))).toEqual([]);
  }, 240_000);

  it('cnilab observe --verdict DROPPED shows each denied probe with POLICY_DENIED and its direction', async () => {
    const result = await runSuite({ spec, client }, buildPolicySuite({ only: ['default-deny-all'] }));
    expect(failures(result)).toEqual([]);
    const r = await cnilab(['observe', '--name', NAME, '--verdict', 'DROPPED', '--last', '4000', '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const flows = r.stdout.trim().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { flow: Flow }).flow);
    const ipOf = new Map((await client.list('Pod')).map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, (p.status as { podIP: string }).podIP]));
    const table = result.scenarios[0]!.checks[0]!.reachability!;
    let denied = 0;
    for (const t of table.tables) {
      table.rows.forEach((from, i) => {
        table.columns.forEach((to, j) => {
          if (t.expected[i]![j] !== 'X') return;
          denied++;
          // x denies all: traffic out of x is dropped leaving its source, traffic into x arriving at its destination.
          const direction = from.startsWith('x/') ? 'EGRESS' : 'INGRESS';
          const seen = flows.some((f) => {
            const l4 = t.protocol === 'TCP' ? f.l4?.TCP : f.l4?.UDP;
            return f.IP.source === ipOf.get(from) && f.IP.destination === ipOf.get(to) && l4?.destination_port === t.port && f.drop_reason_desc === 'POLICY_DENIED' && f.traffic_direction === direction;
          });
          expect(seen, `${from} -> ${to} ${t.protocol}/${t.port}: no ${direction} POLICY_DENIED flow in cnilab observe`).toBe(true);
        });
      });
    }
    // Each of x's 3 pods to the 8 others, and each of the 6 others into x's 3 pods, on 4 port/protocols.
    expect(denied).toBe(4 * (3 * 8 + 6 * 3));
  }, 120_000);

  it('leaves nothing behind', async () => {
    await destroyCluster(NAME);
    expect(await leftovers(NAME)).toEqual([]);
  });
});
