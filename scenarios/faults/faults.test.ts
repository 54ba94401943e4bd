// The faults suite's pure parts: timer budget, iperf3 intervals, drop counters, verdicts, roles and
// applicability. The live behaviour is in faults.root.test.ts.
import { describe, expect, it } from 'vitest';
import { resolveSpec } from '../../harness/cluster/spec.js';
import { BGP_TIMERS } from '../../harness/providers/netns/bgp.js';
import { SUITES } from '../../harness/cli/run.js';
import { notApplicable } from '../framework/model.js';
import { agentRestartScenario } from './agent-restart.js';
import { BIRD_FAULTS, bgpPeerLossScenario } from './bgp-peer-loss.js';
import { faultsSuite } from './index.js';
import { linkDownScenario } from './link-down.js';
import { dropPackets, failFastVerdict, holdTimeMs, parseIperfIntervals, stalledIntervals, timedOutcome } from './measure.js';
import { FAULTS_NAMESPACE, faultNodes, faultsObjects } from './workload.js';

const iperfJson = (bytes: Array<[number, number, number]>) =>
  JSON.stringify({
    start: { test_start: { protocol: 'TCP' } },
    intervals: bytes.map(([start, end, b]) => ({ streams: [], sum: { start, end, seconds: end - start, bytes: b, bits_per_second: (b * 8) / (end - start) } })),
    end: { sum_sent: { seconds: 5, bytes: 10, bits_per_second: 16 }, sum_received: { seconds: 5, bytes: 10, bits_per_second: 16 } },
  });

describe('holdTimeMs', () => {
  it('reads the hold time from the shared BGP timer block', () => {
    expect(holdTimeMs(BGP_TIMERS)).toBe(3000);
    expect(holdTimeMs(['keepalive time 3;', 'hold time 9;'])).toBe(9000);
    expect(() => holdTimeMs(['keepalive time 1;'])).toThrow(/hold time/);
  });
});

describe('iperf3 intervals', () => {
  it('parses per-interval sums and finds the ones without data', () => {
    const iv = parseIperfIntervals(iperfJson([[0, 0.5, 100], [0.5, 1, 0], [1, 1.5, 300], [1.5, 1.502, 0]]));
    expect(iv).toHaveLength(4);
    expect(iv[1]).toEqual({ start: 0.5, end: 1, seconds: 0.5, bytes: 0 });
    // The closing 2 ms sliver is no stall; the empty half second is.
    expect(stalledIntervals(iv).map((i) => i.start)).toEqual([0.5]);
    expect(stalledIntervals(parseIperfIntervals(iperfJson([[0, 0.5, 1], [0.5, 1, 2]])))).toEqual([]);
  });
  it('refuses intervals without sums', () => {
    expect(() => parseIperfIntervals(JSON.stringify({ intervals: [{ streams: [] }] }))).toThrow(/interval 0/);
    expect(parseIperfIntervals('{}')).toEqual([]);
  });
});

describe('dropPackets', () => {
  it('sums one reason over directions as u64 strings', () => {
    const drops = [
      { reason: 169, packets: '18446744073709551000' },
      { reason: 169, packets: '2' },
      { reason: 133, packets: '7' },
    ];
    expect(dropPackets(drops, 169)).toBe(18446744073709551002n);
    expect(dropPackets(drops, 160)).toBe(0n);
  });
});

describe('verdicts', () => {
  it('judges a duration against its budget and records it in tags', () => {
    const ok = timedOutcome({ id: 'w', name: 'n', what: 'gone', ms: 2800, budgetMs: 4000 });
    expect(ok).toMatchObject({ passed: true, observed: 'gone in 2800 ms', tags: { ms: '2800', budgetMs: '4000' } });
    expect(timedOutcome({ id: 'w', name: 'n', what: 'gone', ms: 4001, budgetMs: 4000 }).passed).toBe(false);
    const never = timedOutcome({ id: 'w', name: 'n', what: 'gone', ms: undefined, budgetMs: 4000 });
    expect(never.passed).toBe(false);
    expect(never.tags).not.toHaveProperty('ms');
  });
  it('passes a fail-fast probe only for an unreachable error well before the timeout', () => {
    expect(failFastVerdict({ outcome: 'other', exitCode: 1, durationMs: 40, failure: 'ENETUNREACH' }, 1000)).toEqual({ passed: true, verdict: 'pass', observed: 'other ENETUNREACH (exit 1) after 40 ms' });
    // "other" without the expected mode (a crash's stack trace, permission denied) is no evidence of a withdrawn route.
    expect(failFastVerdict({ outcome: 'other', exitCode: 1, durationMs: 40 }, 1000).passed).toBe(false);
    expect(failFastVerdict({ outcome: 'timeout', exitCode: 1, durationMs: 3000 }, 1000).passed).toBe(false);
    expect(failFastVerdict({ outcome: 'other', exitCode: 1, durationMs: 1500, failure: 'ENETUNREACH' }, 1000).passed).toBe(false);
    expect(failFastVerdict({ outcome: 'ok', exitCode: 0, durationMs: 5 }, 1000).passed).toBe(false);
  });
});

describe('workload and applicability', () => {
  const spec = (nodes: number, cni: 'cnilab' | 'reference-bridge', routing: 'tunnel' | 'native') => resolveSpec({}, 'test', { name: 'unit', nodes, cni, routing });

  it('puts the client first, the peer second and the victim last', () => {
    expect(faultNodes(spec(3, 'cnilab', 'native'))).toEqual({ client: 'node1', peer: 'node2', victim: 'node3' });
    expect(faultNodes(spec(2, 'cnilab', 'native'))).toEqual({ client: 'node1', peer: 'node2', victim: 'node2' });
    expect(() => faultNodes(spec(1, 'cnilab', 'native'))).toThrow(/2 nodes/);
    const objs = faultsObjects(spec(3, 'cnilab', 'native')) as Array<{ kind: string; metadata: { name: string; namespace?: string }; spec?: { nodeName?: string } }>;
    expect(objs.map((o) => `${o.kind}/${o.metadata.name}@${o.spec?.nodeName ?? ''}`)).toEqual([
      `Namespace/${FAULTS_NAMESPACE}@`,
      'Pod/fault-client@node1',
      'Pod/fault-peer@node2',
      'Pod/fault-victim@node3',
    ]);
  });

  it('runs bgp-peer-loss on cnilab native only, agent-restart on cnilab, link-down everywhere with 2 nodes', () => {
    expect(notApplicable(bgpPeerLossScenario.topology, spec(3, 'cnilab', 'native'))).toBeUndefined();
    expect(notApplicable(bgpPeerLossScenario.topology, spec(3, 'cnilab', 'tunnel'))).toMatch(/routing native/);
    expect(notApplicable(bgpPeerLossScenario.topology, spec(3, 'reference-bridge', 'native'))).toMatch(/cni cnilab/);
    expect(notApplicable(agentRestartScenario.topology, spec(3, 'cnilab', 'tunnel'))).toBeUndefined();
    expect(notApplicable(agentRestartScenario.topology, spec(3, 'reference-bridge', 'native'))).toMatch(/cni cnilab/);
    expect(notApplicable(linkDownScenario.topology, spec(2, 'reference-bridge', 'native'))).toBeUndefined();
    expect(notApplicable(linkDownScenario.topology, spec(1, 'cnilab', 'tunnel'))).toMatch(/needs 2 nodes/);
  });

  it('is a registered suite of three scenarios, with three distinct bird faults', () => {
    expect(Object.keys(SUITES)).toContain('faults');
    expect(faultsSuite.scenarios.map((s) => `${s.suite}/${s.name}`)).toEqual(['faults/agent-restart', 'faults/bgp-peer-loss', 'faults/link-down']);
    expect(new Set(BIRD_FAULTS.map((f) => f.mode)).size).toBe(BIRD_FAULTS.length);
  });
});

describe('a fault the provider cannot inject', () => {
  it('is reported as unsupported (verdict unavailable), neither a pass nor a fail', async () => {
    const { measureWithdrawal: measure } = await import('./bgp-peer-loss.js');
    const { KubeconfigNodeFaults } = await import('../../harness/providers/kubeconfig/faults.js');
    const spec = resolveSpec({}, 'test', { name: 'ft-unsup', nodes: 3, cni: 'cnilab', routing: 'native' });
    const faults = new KubeconfigNodeFaults({ cni: async () => 'calico', nodes: async () => [], execOnNode: async () => { throw new Error('no node may be reached'); } });
    const provider = { kind: 'kubeconfig', nodeFaults: () => faults } as unknown as import('../../harness/providers/common/provider.js').Provider;
    const out = await measure({ spec, provider }, 'node3', BIRD_FAULTS.find((f) => f.mode === 'freeze')!);
    expect(out).toMatchObject({ passed: false, verdict: 'unavailable', observed: expect.stringMatching(/^unsupported: bird freeze on CNI calico \(needs bird/) });
  });
});
