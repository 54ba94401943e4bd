// The policy suite must fail when the datapath's policy code is wrong on purpose, and name the cases
// that caught it: a policy lookup that ignores the port, one that ignores the protocol, and conntrack
// that lets a denied connection's first packet through (bpf/Makefile builds the three variants; the
// agents load the one named by CNILAB_BPF_OBJECT, which the cluster daemon passes on). One cluster at
// a time, each torn down before the next.
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveSpec } from '../../harness/cluster/spec.js';
import { createCluster, destroyCluster } from '../../harness/providers/netns/cluster.js';
import { POLICY_FAULT_OBJECTS } from '../../agent/datapath/datapath.js';
import type { SuiteResult } from '../../reports/model.js';
import { runSuite } from '../framework/runner.js';
import { buildPolicySuite } from './index.js';

const NAME = 'pol-broken';

async function runWith(file: string): Promise<SuiteResult> {
  expect(existsSync(file), `${file} (built by make -C bpf)`).toBe(true);
  const spec = resolveSpec({}, 'test', { name: NAME, nodes: 3, cni: 'cnilab', routing: 'tunnel' });
  process.env.CNILAB_BPF_OBJECT = file;
  try {
    const client = await createCluster(spec);
    // A short retry window: a broken datapath is wrong every time, retrying only costs time.
    const suite = buildPolicySuite({ sets: ['upstream', 'cni-bugs', 'cilium'], probe: { retry: { intervalMs: 200, windowMs: 400, secondTry: false } } });
    return await runSuite({ spec, client }, suite);
  } finally {
    delete process.env.CNILAB_BPF_OBJECT;
    await destroyCluster(NAME);
  }
}

const caught = (r: SuiteResult) => r.scenarios.filter((s) => s.status !== 'passed').map((s) => s.name);

describe('the policy suite notices a broken policy datapath', () => {
  afterAll(async () => {
    delete process.env.CNILAB_BPF_OBJECT;
    await destroyCluster(NAME);
  });

  it('a lookup that ignores the port: port-specific cases fail, port-agnostic ones pass', async () => {
    const r = await runWith(POLICY_FAULT_OBJECTS.ignorePort);
    expect(r.passed).toBe(false);
    const names = caught(r);
    expect(names).toEqual(expect.arrayContaining(['ports-tcp-81-from-namespace', 'named-port-ingress', 'bug-endport-enforced', 'bug-named-port-on-destination', 'cilium-echo-ingress']));
    // What does not depend on the port still passes: the suite points at the port, not at everything.
    expect(names).not.toContain('default-deny-ingress');
    expect(names).not.toContain('allow-from-pod-selector');
    // The mismatches are exactly the pairs the port rule governs (y's pods into x/a), reported with
    // what was seen: the allowed port dropped, or another port let through.
    const step = r.scenarios.find((s) => s.name === 'ports-tcp-81-from-namespace')!.checks[0]!;
    const mm = step.reachability!.mismatches;
    expect(mm.length).toBeGreaterThan(0);
    for (const m of mm) expect(`${m.from} -> ${m.to}`).toMatch(/^y\/[abc] -> x\/a$/);
    expect(mm.every((m) => (m.expected === 'allowed' && m.observed.startsWith('dropped')) || (m.expected === 'blocked' && m.observed === 'connected'))).toBe(true);
  }, 180_000);

  it('a lookup that ignores the protocol: UDP/SCTP-only and TCP-only rules fail', async () => {
    const r = await runWith(POLICY_FAULT_OBJECTS.ignoreProto);
    expect(r.passed).toBe(false);
    const names = caught(r);
    expect(names).toEqual(expect.arrayContaining(['bug-udp-only-rule-no-tcp', 'bug-port-without-protocol-is-tcp', 'bug-sctp-only-rule-isolates']));
    expect(names).not.toContain('default-deny-all');
    const step = r.scenarios.find((s) => s.name === 'bug-udp-only-rule-no-tcp')!.checks[0]!;
    expect(step.reachability!.mismatches.some((m) => m.protocol === 'TCP' && m.port === 81 && m.observed === 'connected')).toBe(true);
  }, 180_000);

  it('conntrack that lets a denied first packet through: deny cases fail', async () => {
    const r = await runWith(POLICY_FAULT_OBJECTS.ctLeak);
    expect(r.passed).toBe(false);
    const names = caught(r);
    expect(names).toEqual(expect.arrayContaining(['default-deny-ingress', 'default-deny-all', 'cilium-all-ingress-deny']));
  }, 180_000);
});
