// Found 3 of issue 12, "checks that pass without measuring": every check below is fed the failure mode
// that used to slip through and must now fail (or say 'unavailable'), never pass.
import { describe, expect, it } from 'vitest';
import { classifyProbe, failureMode, responderOf, type ProbeResult } from '../../harness/traffic/probe.js';
import { convergenceGaps, parseIpRoutesJson, waitWithdrawn, WithdrawalUnknownError, type ConvergenceResult } from '../../harness/providers/netns/bgp-convergence.js';
import { resolveSpec } from '../../harness/cluster/spec.js';
import { WaitTimeoutError } from '../../harness/errors.js';
import { longestGap } from '../../harness/traffic/gap-meter.js';
import { probeVerdict } from './expectations.js';
import { failFastVerdict } from '../faults/measure.js';
import { convergedOutcome } from '../faults/bgp-peer-loss.js';
import { gapOutcome } from '../faults/agent-restart.js';
import { arpAnsweredByDatapath, gatewayNeighbour } from '../connectivity/pod-config.js';

const spec = resolveSpec({}, 'test', { name: 'unit', nodes: 3, cni: 'cnilab', routing: 'native' });
const [n1, n2, n3] = spec.nodes;

describe('BGP withdrawal: an unreadable table is not "no route"', () => {
  it('parses ip -j route output and refuses anything else', () => {
    expect(parseIpRoutesJson('[{"dst":"198.19.2.0/24","gateway":"198.18.0.12"}]')).toEqual([{ dst: '198.19.2.0/24', gateway: '198.18.0.12', dev: undefined }]);
    expect(parseIpRoutesJson('[]\n')).toEqual([]);
    expect(() => parseIpRoutesJson('Cannot open network namespace "x": No such file')).toThrow(/unreadable|no JSON/);
    expect(() => parseIpRoutesJson('{"dst":1}')).toThrow(/unexpected/);
  });
  it('waitWithdrawn does not conclude a withdrawal while ip fails; it times out as unreadable', async () => {
    const failing = async () => {
      throw new Error('ip exited 1: Cannot open network namespace');
    };
    const e = await waitWithdrawn(spec, n3!.name, 120, { routesOf: failing, pollMs: 20 }).catch((x) => x);
    expect(e).toBeInstanceOf(WithdrawalUnknownError);
    expect((e as WithdrawalUnknownError).unreadable).toBe(true);
    expect((e as WithdrawalUnknownError).detail).toMatch(/unreadable on node1 .*node2/);
  });
  it('one node still routing, another unreadable: a plain timeout (contrary evidence)', async () => {
    const routesOf = async (ns: string) => {
      if (ns.endsWith('node1')) return [{ dst: n3!.podCidr, gateway: n3!.underlayIp }];
      throw new Error('ip timed out');
    };
    const e = await waitWithdrawn(spec, n3!.name, 80, { routesOf, pollMs: 20 }).catch((x) => x);
    expect(e).toBeInstanceOf(WithdrawalUnknownError);
    expect((e as WithdrawalUnknownError).unreadable).toBe(false);
  });
  it('a withdrawal read from every other node is measured', async () => {
    expect(await waitWithdrawn(spec, n3!.name, 500, { routesOf: async () => [], pollMs: 10 })).toBeGreaterThanOrEqual(0);
  });
});

describe('convergence check judges what it read', () => {
  const est = [{ name: 'rr', state: 'up', info: 'Established' }];
  const full = (): ConvergenceResult => {
    const kernelRoutes = Object.fromEntries(spec.nodes.map((n) => [n.name, spec.nodes.filter((o) => o !== n).map((o) => ({ dst: o.podCidr, gateway: o.underlayIp }))]));
    return { ms: 1200, sessions: Object.fromEntries(spec.nodes.map((n) => [n.name, est])), routes: Object.fromEntries(Object.entries(kernelRoutes).map(([k, v]) => [k, v.map((r) => `${r.dst} via ${r.gateway}`)])), kernelRoutes };
  };
  it('passes a full mesh with evidence per node', () => {
    const o = convergedOutcome(spec, full());
    expect(o.passed).toBe(true);
    expect(o.evidence).toHaveLength(3);
  });
  it('fails a result with a missing route, a route via the wrong node, a session down, or an unreadable table', () => {
    const missing = full();
    missing.kernelRoutes[n1!.name] = [missing.kernelRoutes[n1!.name]![0]!];
    expect(convergedOutcome(spec, missing)).toMatchObject({ passed: false, observed: expect.stringMatching(/node1: no 198\.19\.2\.0\/24/) });
    const wrongGw = full();
    wrongGw.kernelRoutes[n2!.name] = wrongGw.kernelRoutes[n2!.name]!.map((r) => ({ ...r, gateway: n2!.underlayIp }));
    expect(convergedOutcome(spec, wrongGw).passed).toBe(false);
    const down = full();
    down.sessions[n3!.name] = [{ name: 'rr', state: 'start', info: 'Active' }];
    expect(convergedOutcome(spec, down).passed).toBe(false);
    const unreadable = full();
    unreadable.kernelRoutes[n2!.name] = undefined;
    expect(convergedOutcome(spec, unreadable).observed).toMatch(/node2: routes unreadable/);
    expect(convergedOutcome(spec, new WaitTimeoutError('BGP convergence', 10_000, 'node1: session none')).passed).toBe(false);
  });
  it('convergenceGaps names every gap', () => {
    expect(convergenceGaps(spec.nodes, [{ node: 'node1', sessions: [], routes: [] }])).toEqual(['node1: session none', `node1: no ${n2!.podCidr} via ${n2!.underlayIp}`, `node1: no ${n3!.podCidr} via ${n3!.underlayIp}`]);
  });
});

describe('fail-fast: the expected failure mode, not any error', () => {
  const r = (outcome: ProbeResult['outcome'], exitCode: number, stderr: string, durationMs = 40, protocol: 'tcp' | 'icmp' = 'tcp') => ({
    outcome,
    exitCode,
    durationMs,
    failure: failureMode(protocol, outcome, protocol === 'icmp' ? stderr : '', protocol === 'icmp' ? '' : stderr),
  });
  it('passes ENETUNREACH and ICMP net unreachable, quickly', () => {
    expect(failFastVerdict(r('other', 1, 'OTHER: dial tcp 198.19.2.5:8080: connect: network is unreachable\n'), 1000)).toMatchObject({ passed: true, verdict: 'pass' });
    expect(failFastVerdict(r('other', 1, 'From 198.19.0.1 icmp_seq=1 Destination Net Unreachable', 20, 'icmp'), 1000).passed).toBe(true);
  });
  it('fails a crashed probe tool (unavailable), a reset, an unrecognised error, a timeout, and a slow unreachable', () => {
    const crashed = classifyProbe('tcp', 134, '', 'node:internal/process: Aborted', false);
    expect(crashed).toBe('tool-error');
    expect(failFastVerdict({ outcome: crashed, exitCode: 134, durationMs: 30 }, 1000)).toMatchObject({ passed: false, verdict: 'unavailable' });
    // A stack trace with exit 1 is no agnhost answer either.
    expect(classifyProbe('tcp', 1, '', 'TypeError: x is not a function\n    at connectTcp', false)).toBe('tool-error');
    expect(failFastVerdict(r('refused', 1, 'REFUSED\n'), 1000).passed).toBe(false);
    expect(failFastVerdict(r('other', 1, 'OTHER: dial tcp: connect: permission denied\n'), 1000).passed).toBe(false);
    expect(failFastVerdict(r('timeout', 1, 'TIMEOUT\n', 3000), 1000).passed).toBe(false);
    expect(failFastVerdict(r('other', 1, 'OTHER: dial tcp: connect: network is unreachable\n', 1500), 1000).passed).toBe(false);
  });
});

describe('a wrapper timeout is the tool hanging, not the network timing out', () => {
  it('classifies it as tool-error, which no expectation accepts', () => {
    expect(classifyProbe('tcp', 143, '', '', true)).toBe('tool-error');
    expect(classifyProbe('icmp', 1, '', '', true)).toBe('tool-error');
    for (const outcome of ['timeout', 'fail', 'refused', 'ok'] as const) {
      const v = probeVerdict({ outcome }, { outcome: 'tool-error', exitCode: 143 });
      expect(v).toMatchObject({ passed: false, verdict: 'unavailable' });
    }
  });
  it('keeps the network outcomes', () => {
    expect(classifyProbe('tcp', 1, '', 'TIMEOUT\n', false)).toBe('timeout');
    expect(classifyProbe('tcp', 127, '', 'nsenter: failed to execute agnhost', false)).toBe('tool-error');
    expect(classifyProbe('icmp', 2, 'ping: connect: Network is unreachable', '', false)).toBe('other');
    expect(failureMode('icmp', 'other', 'ping: connect: Network is unreachable', '')).toBe('ENETUNREACH');
    expect(failureMode('udp', 'refused', '', 'REFUSED\n')).toBe('ICMP_PORT_UNREACHABLE');
  });
});

describe('reachability confirms who answered', () => {
  it('reads the responder from the probe output', () => {
    expect(responderOf({ protocol: 'tcp' }, 'RESPONDER: conn-node2-a\n')).toBe('conn-node2-a');
    expect(responderOf({ protocol: 'tcp' }, '')).toBeUndefined();
    expect(responderOf({ protocol: 'icmp' }, '64 bytes from 198.19.1.3: icmp_seq=1 ttl=63 time=0.1 ms')).toBe('198.19.1.3');
  });
  it('fails a connection answered by the wrong pod, or by a server that did not say who it is', () => {
    const ok = { outcome: 'ok' as const, exitCode: 0 };
    expect(probeVerdict({ outcome: 'ok', responder: 'b' }, { ...ok, responder: 'b' }).passed).toBe(true);
    expect(probeVerdict({ outcome: 'ok', responder: 'b' }, { ...ok, responder: 'c' })).toMatchObject({ passed: false, why: 'answered by c, not b' });
    expect(probeVerdict({ outcome: 'ok', responder: 'b' }, ok)).toMatchObject({ passed: false, why: expect.stringMatching(/did not name itself/) });
  });
  it('an expected failure must be of the named mode', () => {
    expect(probeVerdict({ outcome: 'fail', failure: ['ENETUNREACH'] }, { outcome: 'other', exitCode: 1, failure: 'ENETUNREACH' }).passed).toBe(true);
    expect(probeVerdict({ outcome: 'fail', failure: ['ENETUNREACH'] }, { outcome: 'timeout', exitCode: 1, failure: 'TIMEOUT' }).passed).toBe(false);
  });
});

describe('agent restart: the longest gap, not bytes per interval', () => {
  const sender = { sent: 1001, lastSentMs: 5000, intervalMs: 5 };
  const every = (from: number, to: number) => Array.from({ length: Math.floor((to - from) / 5) + 1 }, (_, i) => [from / 5 + i, from + i * 5] as [number, number]);
  it('sees a 0.9 s outage that two 0.5 s intervals would hide', () => {
    // Delivered 0..1300 ms and 2200..5000 ms: each 0.5 s interval (1.0-1.5, 2.0-2.5) still carries data.
    const g = longestGap([...every(0, 1300), ...every(2200, 5000)], sender);
    expect(g.longestGapMs).toBe(895);
    expect(g.atMs).toBe(1300);
    expect(gapOutcome(g, 'gap-meter send …')).toMatchObject({ passed: false });
  });
  it('counts a path that never came back to the end, and nothing delivered as a whole-run gap', () => {
    expect(longestGap(every(0, 2000), sender).longestGapMs).toBe(3000);
    expect(longestGap([], sender).longestGapMs).toBe(5005);
  });
  it('passes an uninterrupted path and is unavailable without a measurement', () => {
    const g = longestGap(every(0, 5000), sender);
    expect(g).toMatchObject({ longestGapMs: 0, lost: 0 });
    expect(gapOutcome(g, 'x').passed).toBe(true);
    expect(gapOutcome(new Error('sender exited 1'), 'x')).toMatchObject({ passed: false, verdict: 'unavailable' });
  });
});

describe("pod ARP: the datapath's answer, not the kernel's", () => {
  const neigh = (lladdr: string | undefined, state: string) => JSON.stringify([{ dst: '198.19.0.1', dev: 'eth0', ...(lladdr ? { lladdr } : {}), state: [state] }]);
  it('passes the gateway resolved to the lxc MAC while the kernel was barred', () => {
    expect(arpAnsweredByDatapath(gatewayNeighbour(neigh('AA:BB:CC:00:00:01', 'REACHABLE'), '198.19.0.1'), 'aa:bb:cc:00:00:01').passed).toBe(true);
  });
  it('fails an unresolved gateway, another MAC, and no entry', () => {
    expect(arpAnsweredByDatapath(gatewayNeighbour(neigh(undefined, 'FAILED'), '198.19.0.1'), 'aa:bb:cc:00:00:01').passed).toBe(false);
    expect(arpAnsweredByDatapath(gatewayNeighbour(neigh('aa:bb:cc:00:00:02', 'REACHABLE'), '198.19.0.1'), 'aa:bb:cc:00:00:01').passed).toBe(false);
    expect(arpAnsweredByDatapath(gatewayNeighbour('[]', '198.19.0.1'), 'aa:bb:cc:00:00:01').passed).toBe(false);
  });
});
