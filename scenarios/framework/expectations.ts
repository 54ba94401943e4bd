// Turning a probe's result into a verdict. Verdicts are earned: "ok" needs exit 0 and a successful
// classification; an expected failure passes only when the probe failed in the expected way, so a
// probe that could not even run (nsenter missing, exit 127) never satisfies "refused" or "timeout".
import type { ProbeOutcome, ProbeResult } from '../../harness/traffic/probe.js';
import type { ProbeExpectation } from './model.js';

export function describeExpectation(e: ProbeExpectation): string {
  const base = e.outcome === 'ok' ? 'ok' : e.outcome === 'fail' ? 'fail (any)' : e.outcome;
  const code = e.exitCode ?? (e.outcome === 'ok' ? 0 : undefined);
  return code === undefined ? base : `${base} (exit ${code})`;
}

export function describeObserved(r: Pick<ProbeResult, 'outcome' | 'exitCode'>): string {
  return `${r.outcome} (exit ${r.exitCode})`;
}

// `why` is set only when it adds to "expected X, observed Y" (which the report always shows).
/** Exit codes that mean the probe tool itself could not run, not that the network said no. */
const TOOL_FAILURE_CODES = new Set([126, 127]);

export function probeVerdict(expect: ProbeExpectation, r: Pick<ProbeResult, 'outcome' | 'exitCode'>): { passed: boolean; why?: string } {
  if (expect.exitCode !== undefined && r.exitCode !== expect.exitCode) {
    return { passed: false, why: `exit code ${r.exitCode}, expected ${expect.exitCode}` };
  }
  const outcome: ProbeOutcome = r.outcome;
  switch (expect.outcome) {
    case 'ok':
      if (outcome === 'ok' && r.exitCode === 0) return { passed: true };
      return { passed: false };
    case 'refused':
    case 'timeout':
      if (r.exitCode === 0) return { passed: false };
      if (outcome === expect.outcome) return { passed: true };
      return { passed: false };
    case 'fail':
      if (r.exitCode === 0 || outcome === 'ok') return { passed: false };
      if (TOOL_FAILURE_CODES.has(r.exitCode)) return { passed: false, why: `the probe tool did not run (exit ${r.exitCode})` };
      return { passed: true };
  }
}
