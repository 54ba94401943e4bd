// The faults suite on real 3-node cnilab clusters: in native routing every scenario runs and every
// check passes, with the measured withdrawal inside the hold time + margin; the same suite through the
// kubeconfig provider on the cluster's own kubeconfig (node faults through privileged helper pods,
// probes by exec) gives every check the same verdict; the withdrawal check fails, through either
// provider, when the fault did nothing; in tunnel mode bgp-peer-loss is skipped and the rest passes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveSpec, type ClusterSpec } from '../../harness/cluster/spec.js';
import type { ControlPlaneClient } from '../../harness/cluster/client.js';
import { createCluster, destroyCluster } from '../../harness/providers/netns/cluster.js';
import { paths } from '../../harness/cluster/names.js';
import { KubeconfigProvider } from '../../harness/providers/kubeconfig/provider.js';
import { runThroughProvider } from '../framework/provider-run.js';
import { measureConvergence } from '../../harness/providers/netns/bgp-convergence.js';
import type { CheckResult } from '../../reports/model.js';
import { runSuite } from '../framework/runner.js';
import { measureWithdrawal } from './bgp-peer-loss.js';
import { faultsSuite } from './index.js';
import { WITHDRAWAL_MARGIN_MS, holdTimeMs } from './measure.js';

const NATIVE = 'ft-faults-nat';
const TUNNEL = 'ft-faults-tun';
let spec: ClusterSpec;
let client: ControlPlaneClient;
let kube: KubeconfigProvider;
/** The native run's checks through netns, which the kubeconfig run is compared with. */
let viaNetns: CheckResult[] = [];

const failures = (checks: CheckResult[]) => checks.filter((c) => !c.passed).map((c) => `${c.id}: ${c.observed}${c.detail ? ` (${c.detail})` : ''}`);
const figures = (checks: CheckResult[]) => checks.filter((c) => c.tags?.ms !== undefined).map((c) => `${c.id}: ${c.tags!.ms} ms`);

describe('faults suite', () => {
  beforeAll(async () => {
    await destroyCluster(NATIVE);
    await destroyCluster(TUNNEL);
    spec = resolveSpec({}, 'test', { name: NATIVE, nodes: 3, cni: 'cnilab', routing: 'native' });
    client = await createCluster(spec);
    kube = new KubeconfigProvider(paths.kubeconfig(NATIVE));
  });
  afterAll(async () => {
    await kube?.destroy().catch(() => undefined);
    await destroyCluster(NATIVE);
    await destroyCluster(TUNNEL);
  });

  it('passes every fault scenario on a native-routing cluster, withdrawals within the hold time + margin', async () => {
    const suite = await runSuite({ spec, client }, faultsSuite);
    const checks = suite.scenarios.flatMap((s) => s.checks);
    viaNetns = checks;
    console.log(`faults (native) figures:\n  ${figures(checks).join('\n  ')}`);
    // The failing checks first: they say what went wrong, the scenario list only that something did.
    expect(failures(checks)).toEqual([]);
    expect(suite.scenarios.map((s) => `${s.name}: ${s.status}${s.reason ? ` ${s.reason}` : ''}`)).toEqual(['agent-restart: passed', 'bgp-peer-loss: passed', 'link-down: passed']);
    expect(suite.passed).toBe(true);

    const budget = holdTimeMs() + WITHDRAWAL_MARGIN_MS;
    const withdrawals = checks.filter((c) => c.tags?.measure === 'withdrawal');
    // sigkill, down, freeze and link-down each measured one.
    expect(withdrawals.map((c) => c.tags?.fault).sort()).toEqual(['down', 'freeze', 'link-down', 'sigkill']);
    for (const c of withdrawals) expect(Number(c.tags!.ms), c.id).toBeLessThanOrEqual(budget);
    const fast = checks.filter((c) => c.tags?.measure === 'fail-fast');
    expect(fast).toHaveLength(6);
    for (const c of fast) expect(Number(c.tags!.ms), c.id).toBeLessThan(1000);
    expect(checks.filter((c) => c.id.endsWith('/drop-fib-lookup-failed'))).toHaveLength(3);
    // The suite left the cluster whole.
    await measureConvergence(spec, { timeoutMs: 5000 });
  }, 120_000);

  it('gives every check the same verdict through the kubeconfig provider on the same cluster', async () => {
    expect(viaNetns.length).toBeGreaterThan(0);
    const cfg = await runThroughProvider(kube, [faultsSuite], { name: NATIVE, spec });
    expect(cfg.error).toBeUndefined();
    expect(cfg.provider).toBe('kubeconfig');
    const checks = cfg.suites.flatMap((s) => s.scenarios).flatMap((s) => s.checks);
    console.log(`faults (native, through kubeconfig) figures:\n  ${figures(checks).join('\n  ')}`);
    const kubeById = new Map(checks.map((c) => [c.id, c]));
    // The baseline probes' flow and metric checks read the agents' relay (the embedded host's unix
    // socket): made through netns only, as in every suite through kubeconfig.
    const relayOnly = (id: string) => /\/flows$/.test(id) || /^metrics(\/|$)/.test(id);
    const compared = viaNetns.filter((c) => !relayOnly(c.id));
    expect(checks.filter((c) => relayOnly(c.id))).toEqual([]);
    const differ = compared.filter((c) => kubeById.get(c.id)?.verdict !== c.verdict).map((c) => `${c.id}: ${c.verdict} via netns, ${kubeById.get(c.id)?.verdict ?? 'missing'} via kubeconfig (${kubeById.get(c.id)?.observed ?? ''})`);
    expect(differ).toEqual([]);
    expect(checks.map((c) => c.id).sort()).toEqual(compared.map((c) => c.id).sort());
    expect(cfg.suites[0]!.scenarios.map((s) => `${s.name}: ${s.status}`)).toEqual(['agent-restart: passed', 'bgp-peer-loss: passed', 'link-down: passed']);
    await measureConvergence(spec, { timeoutMs: 5000 });
  }, 150_000);

  it('fails the withdrawal check when the bird was not actually stopped, through either provider', async () => {
    for (const provider of [undefined, kube]) {
      const outcome = await measureWithdrawal({ spec, provider }, 'node3', { mode: 'noop', inject: async () => undefined });
      expect(outcome.passed, provider?.kind ?? 'netns').toBe(false);
      expect(outcome.verdict, provider?.kind ?? 'netns').toBeUndefined();
      expect(outcome.observed).toMatch(/not within 4000 ms/);
      expect(outcome.detail).toMatch(/still routed by node1, node2/);
    }
  }, 40_000);

  it('skips bgp-peer-loss in tunnel mode and passes the other fault scenarios', async () => {
    const tspec = resolveSpec({}, 'test', { name: TUNNEL, nodes: 3, cni: 'cnilab', routing: 'tunnel' });
    const tclient = await createCluster(tspec);
    const suite = await runSuite({ spec: tspec, client: tclient }, faultsSuite);
    const checks = suite.scenarios.flatMap((s) => s.checks);
    console.log(`faults (tunnel) figures:\n  ${figures(checks).join('\n  ')}`);
    expect(suite.scenarios.map((s) => `${s.name}: ${s.status}`)).toEqual(['agent-restart: passed', 'bgp-peer-loss: skipped', 'link-down: passed']);
    expect(failures(checks)).toEqual([]);
    expect(checks.some((c) => c.tags?.measure === 'withdrawal')).toBe(false);
    await destroyCluster(TUNNEL);
  }, 90_000);
});
