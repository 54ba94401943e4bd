// Turning a probe's result into a verdict. Verdicts are earned: "ok" needs exit 0, a successful
// classification and, when the step names one, the right responder; an expected failure passes only
// when the probe failed in the expected way (and mode), so a probe that could not even run, hung past
// the wrapper's deadline or crashed never satisfies "refused", "timeout" or "fail": its evidence is
// unavailable.
import type { ProbeResult } from '../../harness/traffic/probe.js';
import type { Evidence, Verdict } from '../../reports/model.js';
import type { ProbeExpectation } from './model.js';

export function describeExpectation(e: ProbeExpectation): string {
  const base = e.outcome === 'ok' ? 'ok' : e.outcome === 'fail' ? (e.failure ? `fail (${e.failure.join('|')})` : 'fail (any network failure)') : e.outcome;
  const code = e.exitCode ?? (e.outcome === 'ok' ? 0 : undefined);
  const who = e.responder ? `, answered by ${e.responder}` : '';
  return code === undefined ? `${base}${who}` : `${base} (exit ${code})${who}`;
}

type Observed = Pick<ProbeResult, 'outcome' | 'exitCode'> & Partial<Pick<ProbeResult, 'failure' | 'responder'>>;

export function describeObserved(r: Observed): string {
  const mode = r.failure && r.failure !== 'TIMEOUT' && r.failure !== 'RST' ? ` ${r.failure}` : '';
  const who = r.responder ? `, answered by ${r.responder}` : '';
  return `${r.outcome}${mode} (exit ${r.exitCode})${who}`;
}

export interface ProbeJudgement {
  passed: boolean;
  verdict: Verdict;
  /** Set only when it adds to "expected X, observed Y" (which the report always shows). */
  why?: string;
}

const pass: ProbeJudgement = { passed: true, verdict: 'pass' };
const fail = (why?: string): ProbeJudgement => ({ passed: false, verdict: 'fail', ...(why ? { why } : {}) });

export function probeVerdict(expect: ProbeExpectation, r: Observed): ProbeJudgement {
  if (r.outcome === 'tool-error' || r.exitCode === 126 || r.exitCode === 127 || r.exitCode >= 128) {
    return { passed: false, verdict: 'unavailable', why: `the probe tool itself failed (exit ${r.exitCode}): no evidence about the network` };
  }
  if (expect.exitCode !== undefined && r.exitCode !== expect.exitCode) return fail(`exit code ${r.exitCode}, expected ${expect.exitCode}`);
  if (expect.outcome === 'ok') {
    if (r.outcome !== 'ok' || r.exitCode !== 0) return fail();
    if (expect.responder === undefined) return pass;
    if (r.responder === undefined) return fail(`connected, but the responder did not name itself (expected ${expect.responder})`);
    return r.responder === expect.responder ? pass : fail(`answered by ${r.responder}, not ${expect.responder}`);
  }
  if (r.exitCode === 0 || r.outcome === 'ok') return fail();
  if (expect.outcome !== 'fail' && r.outcome !== expect.outcome) return fail();
  if (expect.failure && !(r.failure && expect.failure.includes(r.failure))) {
    return fail(`failed as ${r.failure ?? 'an unrecognised error'}, expected ${expect.failure.join(' or ')}`);
  }
  return pass;
}

/** The probe's evidence record: the command, its exit and what it said. */
export function probeEvidence(r: Pick<ProbeResult, 'command' | 'exitCode' | 'outcome' | 'stdout' | 'stderr'> & Partial<Pick<ProbeResult, 'failure' | 'responder'>>, command: string): Evidence {
  const said = `${r.stdout}\n${r.stderr}`.trim().split('\n').filter(Boolean).slice(-2).join(' | ');
  const fact = r.responder ? `responder ${r.responder}` : r.failure ? `failure ${r.failure}` : r.outcome;
  return { kind: 'probe', command, exit: r.exitCode, observed: said ? `${fact}: ${said}` : fact };
}
