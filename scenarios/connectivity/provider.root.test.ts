// The connectivity suite through two providers on one embedded cluster (cnilab, tunnel): the netns
// provider (nsenter) and the kubeconfig provider pointed at the cluster's own kubeconfig (objects
// through the API, probes through pods/exec over WebSocket, node commands through a host-network
// helper pod), the latter through `cnilab run --provider kubeconfig` as a user runs it (which includes
// the services and wire scenarios). Every check
// gets the same verdict both ways, except the checks that read cnilab's agents, which the kubeconfig
// provider cannot reach: those must say "unavailable", never pass. Then node3's tunnel device is taken
// down on purpose, and both providers must see the same cross-node checks fail.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../harness/exec/run.js';
import { netnsNames, paths } from '../../harness/cluster/names.js';
import { resolveSpec, type ClusterSpec } from '../../harness/cluster/spec.js';
import { createCluster, destroyCluster } from '../../harness/providers/netns/cluster.js';
import { NetnsProvider } from '../../harness/providers/netns/provider.js';
import { KubeconfigProvider } from '../../harness/providers/kubeconfig/provider.js';
import { HELPER_NAMESPACE } from '../../harness/providers/kubeconfig/helper-pod.js';
import { REPO_ROOT } from '../../harness/paths.js';
import { cnilab } from '../../harness/testing/cli.js';
import type { CheckResult, ConfigurationResult, RunResult } from '../../reports/model.js';
import { runThroughProvider } from '../framework/provider-run.js';
import type { Suite } from '../framework/model.js';
import { connectivitySuite } from './index.js';
import { connectivityScenario } from './connectivity.js';

const NAME = 'prv-conn';
let spec: ClusterSpec;

/** Checks of cnilab's agents (their API is on the embedded cluster's host): unavailable elsewhere. */
const AGENT_CHECK = /^(identity|pod-deleted|flows\/|control\/unassigned\/drop-)/;
/** Added by the runner from the agents' relay (flows of each probe, metric deltas): netns only. */
const RELAY_CHECK = (c: CheckResult) => c.tags?.kind === 'flows' || c.tags?.kind === 'metrics';

const checksOf = (cfg: ConfigurationResult, scenario: string) => cfg.suites.flatMap((s) => s.scenarios).find((s) => s.name === scenario)?.checks ?? [];

/** Compare two runs' checks of one scenario; returns the disagreements, in words. */
function disagreements(viaNetns: CheckResult[], viaKube: CheckResult[]): string[] {
  const kube = new Map(viaKube.map((c) => [c.id, c]));
  const out: string[] = [];
  for (const c of viaNetns) {
    const k = kube.get(c.id);
    kube.delete(c.id);
    if (!k) {
      if (!RELAY_CHECK(c)) out.push(`${c.id}: missing through kubeconfig`);
      continue;
    }
    if (AGENT_CHECK.test(c.id)) {
      if (k.verdict !== 'unavailable') out.push(`${c.id}: needs the agents, yet ${k.verdict} through kubeconfig (${k.observed})`);
      continue;
    }
    if (k.verdict !== c.verdict) out.push(`${c.id}: ${c.verdict} via netns (${c.observed}), ${k.verdict} via kubeconfig (${k.observed})`);
  }
  for (const id of kube.keys()) out.push(`${id}: only through kubeconfig`);
  return out;
}

describe('the connectivity suite through the netns and kubeconfig providers', () => {
  beforeAll(async () => {
    await run(['npx', 'tsc', '-p', 'tsconfig.json'], { cwd: REPO_ROOT, allowFailure: true, timeoutMs: 120_000 });
    await destroyCluster(NAME);
    spec = resolveSpec({}, 'test', { name: NAME, nodes: 3, cni: 'cnilab', routing: 'tunnel' });
    await createCluster(spec);
  }, 180_000);
  afterAll(async () => {
    await destroyCluster(NAME);
  }, 60_000);

  it('gives every check the same verdict both ways; the report names the provider and the CNI', async () => {
    const viaNetns = await runThroughProvider(new NetnsProvider(NAME), [connectivitySuite], { name: NAME, spec });
    expect(viaNetns.error).toBeUndefined();
    const conn = checksOf(viaNetns, 'pod-connectivity');
    expect(conn.filter((c) => !c.passed).map((c) => `${c.id}: ${c.observed}`)).toEqual([]);
    expect(conn.filter((c) => c.tags?.kind === 'pod-pod')).toHaveLength(216);
    expect(conn.filter((c) => c.tags?.kind === 'pod-node' && c.protocol === 'tcp' && c.passed)).toHaveLength(18);

    const out = mkdtempSync(join(tmpdir(), 'prv-'));
    const r = await cnilab(['run', '--provider', 'kubeconfig', '--kubeconfig', paths.kubeconfig(NAME), '--pod-mtu', String(spec.podMtu), '--out', out, '-q'], { timeoutMs: 300_000 });
    const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as RunResult;
    const viaKube = result.configurations[0]!;
    expect(viaKube.error, r.stderr).toBeUndefined();
    // The report names the provider and the CNI it found.
    expect(viaKube.provider).toBe('kubeconfig');
    expect(viaKube.cni).toMatch(/^cnilab/);
    expect(r.stdout).toMatch(/provider kubeconfig, cni cnilab/);
    // Unavailable is not a pass: the run does not exit 0.
    expect(r.code, r.stderr).toBe(1);
    const kconn = checksOf(viaKube, 'pod-connectivity');
    expect(disagreements(conn, kconn)).toEqual([]);
    const unavailable = kconn.filter((c) => c.verdict === 'unavailable').map((c) => c.id);
    expect(unavailable.length).toBeGreaterThanOrEqual(6);
    expect(unavailable.every((id) => AGENT_CHECK.test(id))).toBe(true);
    expect(kconn.filter((c) => c.verdict === 'fail')).toEqual([]);
    // Probes went through exec, node commands through the helper pod (the ARP check writes a node sysctl).
    expect(kconn.find((c) => c.tags?.kind === 'pod-pod')!.command).toMatch(/^kubectl-exec /);
    expect(kconn.filter((c) => c.tags?.kind === 'pod-arp' && c.passed)).toHaveLength(3);
    // Every scenario of the suite runs through the provider; the wire captures through the helper
    // pods pass (compared check by check with netns in wire-provider.root.test.ts).
    expect(viaKube.suites[0]!.scenarios.filter((s) => s.status === 'skipped').map((s) => s.name)).toEqual([]);
    const kwire = checksOf(viaKube, 'wire');
    expect(kwire.length).toBe(12);
    expect(kwire.filter((c) => !c.passed).map((c) => `${c.id}: ${c.observed}`)).toEqual([]);
    // The services scenario runs through kubeconfig too (compared check by check in
    // services-provider.root.test.ts): nothing fails, what needs the embedded host is unavailable.
    const ksvc = checksOf(viaKube, 'services');
    expect(ksvc.length).toBeGreaterThanOrEqual(25);
    expect(ksvc.filter((c) => c.verdict === 'fail').map((c) => `${c.id}: ${c.observed}`)).toEqual([]);
    // The node helpers are gone afterwards (only what cnilab put there).
    const kube = new KubeconfigProvider(paths.kubeconfig(NAME));
    const deadline = Date.now() + 20_000;
    while ((await kube.pods(HELPER_NAMESPACE)).length && Date.now() < deadline) await new Promise((res) => setTimeout(res, 200));
    expect(await kube.pods(HELPER_NAMESPACE)).toEqual([]);
  }, 420_000);

  it('notices a broken tunnel on node3 through either provider, with the same failed checks', async () => {
    // node3 can neither send nor receive VXLAN: every cross-node path with node3 at one end breaks.
    await run(['ip', 'link', 'set', 'cilium_vxlan', 'down'], { netns: netnsNames.node(NAME, 'node3') });
    const only: Suite = { name: 'connectivity', scenarios: [connectivityScenario] };
    const viaNetns = await runThroughProvider(new NetnsProvider(NAME), [only], { name: NAME, spec });
    const kube = new KubeconfigProvider(paths.kubeconfig(NAME));
    let viaKube: ConfigurationResult;
    try {
      viaKube = await runThroughProvider(kube, [only], { name: NAME, podMtu: spec.podMtu });
    } finally {
      await kube.destroy();
    }
    const conn = checksOf(viaNetns, 'pod-connectivity');
    const kconn = checksOf(viaKube, 'pod-connectivity');
    expect(disagreements(conn, kconn)).toEqual([]);
    const failedKube = kconn.filter((c) => c.verdict === 'fail');
    const crossNode3 = kconn.filter((c) => c.tags?.kind === 'pod-pod' && c.tags.path === 'cross-node' && (c.tags.fromNode === 'node3' || c.tags.toNode === 'node3'));
    // 3 pods of node3 x 6 pods elsewhere x 2 directions x 3 protocols.
    expect(crossNode3).toHaveLength(108);
    expect(crossNode3.filter((c) => c.passed)).toEqual([]);
    expect(failedKube.length).toBeGreaterThanOrEqual(108);
    // Paths without node3 are untouched.
    const elsewhere = kconn.filter((c) => c.tags?.kind === 'pod-pod' && c.tags.fromNode !== 'node3' && c.tags.toNode !== 'node3');
    expect(elsewhere.length).toBeGreaterThan(0);
    expect(elsewhere.filter((c) => !c.passed)).toEqual([]);
    expect(viaKube.suites[0]!.passed).toBe(false);
  }, 300_000);
});
