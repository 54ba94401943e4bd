// Pure parts of the fault checks: the BGP hold time the cluster runs with, iperf3 per-interval data,
// drop counters, and turning a measured duration or a probe into a verdict. Kept free of I/O so the
// judgements are unit-tested without root.
import { BGP_TIMERS } from '../../harness/providers/netns/bgp.js';
import { shellQuote } from '../../harness/exec/run.js';
import type { FailureMode, ProbeResult } from '../../harness/traffic/probe.js';
import type { CheckOutcome, ProbeExpectation } from '../framework/model.js';
import { describeExpectation, describeObserved, probeEvidence, probeVerdict } from '../framework/expectations.js';

/** FIB_LOOKUP_FAILED: what the native datapath drops with when the remote node's route is gone. */
export const DROP_FIB_LOOKUP_FAILED = 169;

/** Slack on top of the hold time for a withdrawal: polling, bird's reflector propagation, `ip route`. */
export const WITHDRAWAL_MARGIN_MS = 1000;

/** The BGP hold time both ends are configured with, read from the shared timer block so the budget
 *  follows the configuration instead of a copy of its number. */
export function holdTimeMs(timers: readonly string[] = BGP_TIMERS): number {
  for (const t of timers) {
    const m = /^hold time (\d+)\s*;/.exec(t.trim());
    if (m) return Number(m[1]) * 1000;
  }
  throw new Error(`no "hold time N;" in the BGP timers (${timers.join(' ')})`);
}

export interface IperfInterval {
  start: number;
  end: number;
  seconds: number;
  bytes: number;
}

/** The per-interval sums of `iperf3 -J -i N` output (sender side on the client). */
export function parseIperfIntervals(text: string): IperfInterval[] {
  const j = JSON.parse(text) as { intervals?: Array<{ sum?: Partial<IperfInterval> }> };
  return (j.intervals ?? []).map((i, n) => {
    const s = i.sum;
    if (!s || typeof s.bytes !== 'number' || typeof s.start !== 'number' || typeof s.end !== 'number') {
      throw new Error(`iperf3 interval ${n} has no sum.start/end/bytes`);
    }
    return { start: s.start, end: s.end, seconds: typeof s.seconds === 'number' ? s.seconds : s.end - s.start, bytes: s.bytes };
  });
}

/** Intervals that moved no data. iperf3 may close with a sliver of an interval (a few ms) that
 *  legitimately carries nothing, so intervals shorter than `minSeconds` are not judged. */
export function stalledIntervals(intervals: IperfInterval[], minSeconds = 0.1): IperfInterval[] {
  return intervals.filter((i) => i.seconds >= minSeconds && i.bytes === 0);
}

/** Packets dropped for `reason`, summed over directions (shared with the providers' drop counters). */
export { dropPackets } from '../../harness/providers/common/faults.js';

export const msTags = (ms: number, extra: Record<string, string> = {}): Record<string, string> => ({ ms: String(Math.round(ms)), ...extra });

/** A measured duration judged against a budget. `ms` undefined means the wait timed out. */
export function timedOutcome(o: { id: string; name: string; what: string; ms: number | undefined; budgetMs: number; detail?: string; tags?: Record<string, string> }): CheckOutcome {
  const passed = o.ms !== undefined && o.ms <= o.budgetMs;
  return {
    id: o.id,
    name: o.name,
    passed,
    expected: `${o.what} within ${o.budgetMs} ms`,
    observed: o.ms === undefined ? `${o.what}: not within ${o.budgetMs} ms` : `${o.what} in ${o.ms} ms`,
    ...(o.detail ? { detail: o.detail } : {}),
    tags: { ...o.tags, ...(o.ms !== undefined ? msTags(o.ms) : {}), budgetMs: String(o.budgetMs) },
  };
}

/** What a route withdrawn under a pod's feet must look like: the datapath's ICMP net unreachable,
 *  which ping prints and which a TCP connect gets as ENETUNREACH. */
export const UNREACHABLE_MODES: FailureMode[] = ['ICMP_NET_UNREACHABLE', 'ICMP_HOST_UNREACHABLE', 'ENETUNREACH', 'EHOSTUNREACH'];

/** A probe that must fail with one of `modes` (an unreachable error), quickly, not hang until its
 *  timeout. Any other failure — a timeout, a reset, a crashed or unintelligible probe tool — fails, and a
 *  probe tool that broke is 'unavailable' (it says nothing about the network). */
export function failFastVerdict(
  r: Pick<ProbeResult, 'outcome' | 'exitCode' | 'durationMs'> & Partial<Pick<ProbeResult, 'failure'>>,
  fastMs: number,
  modes: FailureMode[] = UNREACHABLE_MODES,
): { passed: boolean; verdict: 'pass' | 'fail' | 'unavailable'; observed: string } {
  const ms = Math.round(r.durationMs);
  const observed = `${r.outcome}${r.failure ? ` ${r.failure}` : ''} (exit ${r.exitCode}) after ${ms} ms`;
  if (r.outcome === 'tool-error') return { passed: false, verdict: 'unavailable', observed };
  const passed = r.exitCode !== 0 && r.failure !== undefined && modes.includes(r.failure) && ms < fastMs;
  return { passed, verdict: passed ? 'pass' : 'fail', observed };
}

/** A probe judged like a scenario's probe step (responder, failure modes, tool errors), as a check. */
export function probeOutcome(
  r: ProbeResult,
  expect: ProbeExpectation,
  base: Omit<CheckOutcome, 'passed' | 'verdict' | 'expected' | 'observed' | 'command' | 'evidence'>,
): CheckOutcome {
  const v = probeVerdict(expect, r);
  const command = shellQuote(r.command);
  const tail = probeTail(r);
  const detail = v.passed ? undefined : [v.why, tail].filter(Boolean).join('\n');
  return {
    ...base,
    passed: v.passed,
    verdict: v.verdict,
    expected: describeExpectation(expect),
    observed: `${describeObserved(r)} in ${Math.round(r.durationMs)} ms`,
    command,
    ...(detail ? { detail } : {}),
    evidence: [probeEvidence(r, command)],
  };
}

/** The last lines of a probe's output: ping's "Net Unreachable", agnhost's "OTHER: … unreachable". */
export function probeTail(r: Pick<ProbeResult, 'stdout' | 'stderr'>, lines = 3): string {
  return `${r.stdout}\n${r.stderr}`.trim().split('\n').filter(Boolean).slice(-lines).join('\n');
}
