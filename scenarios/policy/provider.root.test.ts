// The policy suite through two providers on one embedded cluster (cnilab, tunnel): the netns provider
// (the socket prober in the pods' namespaces, every block confirmed by its drop flow) and the
// kubeconfig provider pointed at the cluster's own kubeconfig (policies and labels through the
// Kubernetes API, probes through pods/exec over WebSocket, blocks seen as timeouts). A representative
// subset of cases (default deny, a port rule, a relabelled pod, a UDP-only rule, a Cilium-style echo
// ingress and egress deny), their x/y/z matrices narrowed to five pods to keep the file short: every
// step gets the same verdict and the same truth tables both ways; through kubeconfig the drop-flow
// confirmation and the probes of hosts outside the cluster say "unavailable", never pass. Then a
// datapath whose policy lookup ignores the port (bpf/Makefile's fault variant, loaded by a second
// cluster) must fail the port case through either provider, with the same mismatched pairs.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paths } from '../../harness/cluster/names.js';
import { resolveSpec, type ClusterSpec } from '../../harness/cluster/spec.js';
import { createCluster, destroyCluster } from '../../harness/providers/netns/cluster.js';
import { NetnsProvider } from '../../harness/providers/netns/provider.js';
import { KubeconfigProvider } from '../../harness/providers/kubeconfig/provider.js';
import { POLICY_FAULT_OBJECTS } from '../../agent/datapath/datapath.js';
import { cnilab } from '../../harness/testing/cli.js';
import type { CheckResult, ConfigurationResult, RunResult } from '../../reports/model.js';
import { runThroughProvider } from '../framework/provider-run.js';
import { buildPolicySuite, selectCases } from './index.js';
import { isMatrix, type PolicyCase } from './cases/types.js';
import { XYZ_PORTS, XYZ_PROTOCOLS } from './workload.js';

const NAME = 'pol-prv';
const PODS = ['x/a', 'x/b', 'y/a', 'y/b', 'z/c'];
const CASES = ['default-deny-ingress', 'ports-tcp-81-from-namespace', 'updated-pod-labels', 'bug-udp-only-rule-no-tcp', 'cilium-echo-ingress', 'cilium-all-egress-deny'];
/** A wrong datapath is wrong every time: a short retry window. */
const RETRY = { retry: { intervalMs: 200, windowMs: 400, secondTry: false } };

/** The case with its x/y/z matrices narrowed to PODS (same policies, same ports and protocols). */
function narrowed(c: PolicyCase): PolicyCase {
  return {
    ...c,
    steps: c.steps.map((s) => (isMatrix(s.probe) ? { ...s, probe: { targets: { from: PODS, to: PODS, ports: s.probe.matrix.ports ?? [...XYZ_PORTS], protocols: s.probe.matrix.protocols ?? [...XYZ_PROTOCOLS] } } } : s)),
  };
}

const suiteOf = (names: string[]) => buildPolicySuite({ sets: [], cases: selectCases({ only: names }).map(narrowed), probe: RETRY });
const scenariosOf = (cfg: ConfigurationResult) => cfg.suites.flatMap((s) => s.scenarios);
const isStep = (c: CheckResult) => /^step-\d+$/.test(c.id);

/** Step by step: the same verdict and the same truth tables, in words where they differ. */
function disagreements(viaNetns: ConfigurationResult, viaKube: ConfigurationResult): string[] {
  const out: string[] = [];
  const kube = new Map(scenariosOf(viaKube).map((s) => [s.name, s]));
  for (const s of scenariosOf(viaNetns)) {
    const k = kube.get(s.name);
    if (!k) {
      out.push(`${s.name}: missing through kubeconfig`);
      continue;
    }
    const kchecks = new Map(k.checks.map((c) => [c.id, c]));
    for (const c of s.checks.filter(isStep)) {
      const kc = kchecks.get(c.id);
      if (!kc) out.push(`${s.name} ${c.id}: missing through kubeconfig`);
      else if (kc.verdict !== c.verdict) out.push(`${s.name} ${c.id}: ${c.verdict} via netns (${c.observed}), ${kc.verdict} via kubeconfig (${kc.observed})`);
      else if (!kchecks.has(`${c.id}/hosts`)) {
        // Where both probed the same pairs, the tables must match cell by cell.
        const t = (x: CheckResult) => JSON.stringify(x.reachability?.tables.map((tb) => [tb.protocol, tb.port, tb.expected, tb.observed]));
        if (t(c) !== t(kc)) out.push(`${s.name} ${c.id}: tables differ\n netns ${t(c)}\n kube  ${t(kc)}`);
      }
    }
  }
  return out;
}

/** The pairs a failed step got wrong, as "from -> to proto/port expected". */
const mismatches = (cfg: ConfigurationResult, scenario: string) =>
  scenariosOf(cfg)
    .find((s) => s.name === scenario)!
    .checks.filter(isStep)
    .flatMap((c) => c.reachability!.mismatches.map((m) => `${m.from} -> ${m.to} ${m.protocol}/${m.port} ${m.expected}`))
    .sort();

describe('the policy suite through the netns and kubeconfig providers', () => {
  let spec: ClusterSpec;
  beforeAll(async () => {
    await destroyCluster(NAME);
    spec = resolveSpec({}, 'test', { name: NAME, nodes: 3, cni: 'cnilab', routing: 'tunnel' });
    await createCluster(spec);
  }, 180_000);
  afterAll(async () => {
    delete process.env.CNILAB_BPF_OBJECT;
    await destroyCluster(NAME);
  }, 60_000);

  it('gives every step the same verdict and tables both ways; flows and outside hosts are unavailable through kubeconfig', async () => {
    const suite = suiteOf(CASES);
    const viaNetns = await runThroughProvider(new NetnsProvider(NAME), [suite], { name: NAME, spec });
    expect(viaNetns.error).toBeUndefined();
    const nchecks = scenariosOf(viaNetns).flatMap((s) => s.checks);
    expect(nchecks.filter((c) => c.verdict !== 'pass').map((c) => `${c.id} ${c.name}: ${c.observed}`)).toEqual([]);
    expect(scenariosOf(viaNetns).map((s) => s.name)).toEqual(CASES);

    const kube = new KubeconfigProvider(paths.kubeconfig(NAME));
    let viaKube: ConfigurationResult;
    try {
      viaKube = await runThroughProvider(kube, [suite], { name: NAME, podMtu: spec.podMtu });
    } finally {
      await kube.destroy();
    }
    expect(viaKube.error).toBeUndefined();
    expect(viaKube.provider).toBe('kubeconfig');
    expect(viaKube.cni).toMatch(/^cnilab/);
    expect(disagreements(viaNetns, viaKube)).toEqual([]);

    const kchecks = scenariosOf(viaKube).flatMap((s) => s.checks);
    // The probes' own verdicts are earned: every step check passes, on answers and timeouts.
    expect(kchecks.filter(isStep).filter((c) => c.verdict !== 'pass')).toEqual([]);
    const evidence = (cs: CheckResult[], k: string) => cs.filter(isStep).reduce((n, c) => n + (c.reachability!.evidence[k] ?? 0), 0);
    expect(evidence(nchecks, 'drop-flow')).toBeGreaterThan(50);
    expect(evidence(kchecks, 'drop-flow')).toBe(0);
    expect(evidence(kchecks, 'timeout')).toBeGreaterThan(50);
    expect(evidence(kchecks, 'answer')).toBeGreaterThan(100);
    // Every other check through kubeconfig says what it could not have, and is not a pass.
    const others = kchecks.filter((c) => !isStep(c));
    expect(others.every((c) => c.verdict === 'unavailable' && /^unavailable: /.test(c.observed))).toBe(true);
    const flowChecks = others.filter((c) => c.id.endsWith('/drop-flows'));
    // One per step that saw a block: all steps here but cilium-echo-ingress's (world-a/b are its blocked sources).
    expect(flowChecks.length).toBeGreaterThanOrEqual(6);
    expect(flowChecks[0]!.observed).toMatch(/agent API/);
    const hosts = others.filter((c) => c.id.endsWith('/hosts')).map((c) => c.tags?.case);
    expect(hosts.sort()).toEqual(['cilium-all-egress-deny', 'cilium-echo-ingress']);
    // Nothing passes on no evidence: the suite as a whole is not a pass through kubeconfig.
    expect(viaKube.suites[0]!.passed).toBe(false);
    // The suite left no policy behind, through either path.
    expect((await new NetnsProvider(NAME).list('NetworkPolicy')).items).toEqual([]);
    expect((await new NetnsProvider(NAME).list('CiliumNetworkPolicy')).items).toEqual([]);
  }, 300_000);

  it('cnilab run --provider kubeconfig --suite policy --policy-set cilium: a report naming the provider, unavailable where the fabric is needed', async () => {
    const out = mkdtempSync(join(tmpdir(), 'pol-prv-'));
    const r = await cnilab(['run', '--provider', 'kubeconfig', '--kubeconfig', paths.kubeconfig(NAME), '--suite', 'policy', '--policy-set', 'cilium', '--out', out, '-q'], { timeoutMs: 300_000 });
    const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as RunResult;
    const cfg = result.configurations[0]!;
    expect(cfg.error, r.stderr).toBeUndefined();
    expect(r.stdout).toMatch(/provider kubeconfig, cni cnilab/);
    // Unavailable is not a pass.
    expect(r.code, r.stderr).toBe(1);
    const scenarios = scenariosOf(cfg);
    expect(scenarios).toHaveLength(14);
    const checks = scenarios.flatMap((s) => s.checks);
    expect(checks.filter((c) => c.verdict === 'fail').map((c) => `${c.tags?.case} ${c.id}: ${c.observed}`)).toEqual([]);
    // Policies naming the hosts outside the cluster cannot be applied as meant: the whole case is unavailable.
    for (const name of ['cilium-to-cidr-except', 'cilium-from-cidr']) {
      const s = scenarios.find((x) => x.name === name)!;
      expect(s.checks.map((c) => c.verdict)).toEqual(['unavailable']);
    }
    // The others probed their pod pairs and passed them.
    expect(checks.filter((c) => isStep(c) && c.verdict === 'pass').length).toBeGreaterThanOrEqual(12);
  }, 360_000);

  it('notices a policy lookup that ignores the port through either provider, with the same mismatched pairs', async () => {
    await destroyCluster(NAME);
    process.env.CNILAB_BPF_OBJECT = POLICY_FAULT_OBJECTS.ignorePort;
    await createCluster(spec);
    const suite = suiteOf(['default-deny-ingress', 'ports-tcp-81-from-namespace']);
    const viaNetns = await runThroughProvider(new NetnsProvider(NAME), [suite], { name: NAME, spec });
    const kube = new KubeconfigProvider(paths.kubeconfig(NAME));
    let viaKube: ConfigurationResult;
    try {
      viaKube = await runThroughProvider(kube, [suite], { name: NAME, podMtu: spec.podMtu });
    } finally {
      await kube.destroy();
    }
    expect(disagreements(viaNetns, viaKube)).toEqual([]);
    for (const cfg of [viaNetns, viaKube]) {
      const status = Object.fromEntries(scenariosOf(cfg).map((s) => [s.name, s.checks.find(isStep)!.verdict]));
      expect(status).toEqual({ 'default-deny-ingress': 'pass', 'ports-tcp-81-from-namespace': 'fail' });
    }
    const wrong = mismatches(viaNetns, 'ports-tcp-81-from-namespace');
    expect(wrong.length).toBeGreaterThan(0);
    // Only y's pods into x/a (the pairs the port rule governs) are wrong, and the same ones both ways.
    for (const m of wrong) expect(m).toMatch(/^y\/[ab] -> x\/a /);
    expect(mismatches(viaKube, 'ports-tcp-81-from-namespace')).toEqual(wrong);
  }, 300_000);
});
