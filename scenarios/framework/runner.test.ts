// Framework semantics without root: a fake control plane and a fake probe.
import { describe, expect, it } from 'vitest';
import type { ControlPlaneClient } from '../../harness/cluster/client.js';
import { resolveSpec } from '../../harness/cluster/spec.js';
import type { ProbeOptions, ProbeResult } from '../../harness/traffic/probe.js';
import { probeVerdict } from './expectations.js';
import type { ProbeStep, Scenario, Step } from './model.js';
import { runScenario, runSuite, type RunnerEnv } from './runner.js';

const spec = resolveSpec({}, 'test', { name: 'unit', nodes: 2 });

/** Two Running pods, x/a on node1 and x/b on node2. */
function fakeClient(): ControlPlaneClient {
  const pods = [
    { kind: 'Pod', metadata: { namespace: 'x', name: 'a' }, spec: { nodeName: 'node1' }, status: { phase: 'Running', podIP: '198.19.0.2' } },
    { kind: 'Pod', metadata: { namespace: 'x', name: 'b' }, spec: { nodeName: 'node2' }, status: { phase: 'Running', podIP: '198.19.1.2' } },
  ];
  return {
    apply: async (objs: Array<{ kind: string; metadata: { namespace?: string; name: string } }>) => objs.map((o) => ({ kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name, action: 'unchanged' })),
    list: async (kind: string) => (kind === 'Pod' ? pods : []),
  } as unknown as ControlPlaneClient;
}

function fakeProbe(answer: Partial<ProbeResult>, seen: ProbeOptions[] = []): (o: ProbeOptions) => Promise<ProbeResult> {
  return async (o) => {
    seen.push(o);
    return { ok: answer.outcome === 'ok', exitCode: 0, outcome: 'ok', durationMs: 3, stdout: '', stderr: '', command: ['agnhost', 'connect', `${o.host}:${o.port}`], ...answer };
  };
}

const tcpStep = (expect: ProbeStep['expect'], id = 'p1'): ProbeStep => ({ kind: 'probe', id, name: id, from: { pod: 'x/a' }, to: { pod: 'x/b' }, protocol: 'tcp', port: 80, expect });

function scenario(steps: Step[]): Scenario {
  return { name: 's', suite: 'unit', topology: { nodes: 2 }, setup: () => [], steps: () => steps };
}

const env = (probe: RunnerEnv['probe']): RunnerEnv => ({ spec, client: fakeClient(), probe });

describe('probe verdicts are earned', () => {
  it('expected ok passes only on success with exit 0', () => {
    expect(probeVerdict({ outcome: 'ok' }, { outcome: 'ok', exitCode: 0 }).passed).toBe(true);
    expect(probeVerdict({ outcome: 'ok' }, { outcome: 'timeout', exitCode: 1 }).passed).toBe(false);
    expect(probeVerdict({ outcome: 'ok' }, { outcome: 'ok', exitCode: 1 }).passed).toBe(false);
  });

  it('expected refused passes only when refused, not on timeout, success or a tool that did not run', () => {
    const e = { outcome: 'refused' as const };
    expect(probeVerdict(e, { outcome: 'refused', exitCode: 1 }).passed).toBe(true);
    expect(probeVerdict(e, { outcome: 'timeout', exitCode: 1 }).passed).toBe(false);
    expect(probeVerdict(e, { outcome: 'ok', exitCode: 0 }).passed).toBe(false);
    expect(probeVerdict(e, { outcome: 'other', exitCode: 127 }).passed).toBe(false);
    expect(probeVerdict({ outcome: 'refused', exitCode: 1 }, { outcome: 'refused', exitCode: 2 }).passed).toBe(false);
  });

  it('expected timeout passes only on a timeout', () => {
    expect(probeVerdict({ outcome: 'timeout' }, { outcome: 'timeout', exitCode: 1 }).passed).toBe(true);
    expect(probeVerdict({ outcome: 'timeout' }, { outcome: 'refused', exitCode: 1 }).passed).toBe(false);
  });

  it('expected fail accepts any real failure but not success nor a missing tool', () => {
    expect(probeVerdict({ outcome: 'fail' }, { outcome: 'refused', exitCode: 1 }).passed).toBe(true);
    expect(probeVerdict({ outcome: 'fail' }, { outcome: 'other', exitCode: 2 }).passed).toBe(true);
    expect(probeVerdict({ outcome: 'fail' }, { outcome: 'ok', exitCode: 0 }).passed).toBe(false);
    expect(probeVerdict({ outcome: 'fail' }, { outcome: 'other', exitCode: 127 }).passed).toBe(false);
  });
});

describe('runner', () => {
  it('fails a scenario that makes no check', async () => {
    const r = await runScenario(env(fakeProbe({})), scenario([]));
    expect(r.status).toBe('failed');
    expect(r.reason).toMatch(/no check/);
  });

  it('fails a suite with no scenario, and one whose scenarios all skip', async () => {
    const empty = await runSuite(env(fakeProbe({})), { name: 'empty', scenarios: [] });
    expect(empty.passed).toBe(false);
    expect(empty.error).toMatch(/no scenario/);
    const big = { ...scenario([tcpStep({ outcome: 'ok' })]), topology: { nodes: 5 } };
    const skipped = await runSuite(env(fakeProbe({})), { name: 'skips', scenarios: [big] });
    expect(skipped.scenarios[0]!.status).toBe('skipped');
    expect(skipped.passed).toBe(false);
  });

  it('an expected-refused probe passes on REFUSED and fails when the connection succeeds', async () => {
    const refused = await runScenario(env(fakeProbe({ outcome: 'refused', exitCode: 1, stderr: 'REFUSED\n' })), scenario([tcpStep({ outcome: 'refused' })]));
    expect(refused.status).toBe('passed');
    expect(refused.checks[0]).toMatchObject({ passed: true, verdict: 'pass', expected: 'refused', observed: 'refused (exit 1)', from: 'x/a', to: 'x/b', protocol: 'tcp', port: 80 });
    const open = await runScenario(env(fakeProbe({ outcome: 'ok', exitCode: 0 })), scenario([tcpStep({ outcome: 'refused' })]));
    expect(open.status).toBe('failed');
    expect(open.checks[0]).toMatchObject({ passed: false, verdict: 'fail', observed: 'ok (exit 0)' });
  });

  it('resolves pods to netns and IPs, records a pasteable command, keeps declared order under concurrency', async () => {
    const seen: ProbeOptions[] = [];
    const steps = Array.from({ length: 10 }, (_, i) => tcpStep({ outcome: 'ok' }, `p${i}`));
    const r = await runScenario({ ...env(fakeProbe({ outcome: 'ok' }, seen)), concurrency: 3 }, scenario(steps));
    expect(r.checks.map((c) => c.id)).toEqual(steps.map((s) => s.id));
    expect(seen[0]).toMatchObject({ netns: 'cnilab.unit.pod.x.a', host: '198.19.1.2', port: 80, protocol: 'tcp' });
    expect(r.checks[0]!.command).toBe('agnhost connect 198.19.1.2:80');
  });

  it('a probe from a pod that is not running fails instead of being skipped', async () => {
    const step: ProbeStep = { ...tcpStep({ outcome: 'fail' }), from: { pod: 'x/missing' } };
    const r = await runScenario(env(fakeProbe({ outcome: 'refused', exitCode: 1 })), scenario([step]));
    expect(r.checks[0]).toMatchObject({ passed: false, observed: 'not run' });
  });

  it('custom checks: several verdicts per step, errors become failures, unavailable is not a pass', async () => {
    const r = await runScenario(
      env(fakeProbe({})),
      scenario([
        { kind: 'check', id: 'multi', name: 'multi', run: async () => [{ id: 'one', passed: true, expected: 'x', observed: 'x' }, { id: 'two', passed: false, verdict: 'unavailable', expected: 'y', observed: 'no API' }] },
        { kind: 'check', id: 'boom', name: 'boom', run: async () => { throw new Error('kaput'); } },
        { kind: 'check', id: 'empty', name: 'empty', run: async () => [] },
      ]),
    );
    expect(r.checks.map((c) => [c.id, c.verdict])).toEqual([['multi/one', 'pass'], ['multi/two', 'unavailable'], ['boom', 'fail'], ['empty', 'fail']]);
    expect(r.checks[2]!.observed).toBe('error: kaput');
    expect(r.status).toBe('failed');
  });

  it('duplicate check ids fail the scenario', async () => {
    const r = await runScenario(env(fakeProbe({ outcome: 'ok' })), scenario([tcpStep({ outcome: 'ok' }), tcpStep({ outcome: 'ok' })]));
    expect(r.status).toBe('failed');
    expect(r.reason).toMatch(/duplicate/);
  });
});
