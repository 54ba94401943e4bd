// Exec probes (the policy suite through a provider other than netns): the probe command's result, as
// the provider's exec returns it, becomes the prober's observation; a tool that could not run is an
// error (the probe could not tell), never a block; the probes from one pod share one exec.
import { describe, expect, it } from 'vitest';
import type { RunResult } from '../../../harness/exec/run.js';
import type { Provider } from '../../../harness/providers/common/provider.js';
import { execAttempt } from './exec-probe.js';
import { judge, type ProbeRequest } from './prober.js';

type TargetAnswer = { code?: number; stdout?: string; stderr?: string };

/** A provider whose pods run cnilab-whoami-many: `answer` says what each target's whoami gave. */
function fakeProvider(answer: (target: string) => TargetAnswer, seen: string[][] = []): Provider {
  return rawProvider((argv) => {
    const targets = argv.slice(3);
    return { stdout: targets.map((target) => JSON.stringify({ target, code: 0, stdout: '', stderr: '', ms: 2, ...answer(target) })).join('\n') + '\n' };
  }, seen);
}

/** A provider whose exec returns `exec(argv)` as is (a tool that did not run, a garbled answer). */
function rawProvider(exec: (argv: string[]) => Partial<RunResult>, seen: string[][] = []): Provider {
  return {
    kind: 'kubeconfig',
    execInPod: async (ns: string, pod: string, argv: string[]) => {
      seen.push([`${ns}/${pod}`, ...argv]);
      return { argv, code: 0, signal: null, stdout: '', stderr: '', durationMs: 3, timedOut: false, ...exec(argv) };
    },
  } as unknown as Provider;
}

const req = (allowed: boolean, from = 'x/a', port = 81): ProbeRequest => ({ from: { key: from, ip: '198.19.1.10', netns: '' }, to: { key: 'y/b', ip: '198.19.2.11', answer: 'b' }, protocol: 'UDP', port, expect: { allowed, reason: 'oracle' } });

describe('execAttempt', () => {
  it('runs the whoami probe in the source pod and reads the responder', async () => {
    const seen: string[][] = [];
    const o = await execAttempt(fakeProvider(() => ({ stdout: 'RESPONDER: b\n' }), seen), 1000)(req(true));
    expect(seen[0]).toEqual(['x/a', 'agnhost', 'cnilab-whoami-many', '--timeout=1000ms', 'udp:198.19.2.11:81']);
    expect(o).toMatchObject({ connected: true, evidence: 'answer', answer: 'b' });
    expect(judge(req(true), o, false)).toEqual({ correct: true });
    const wrong = await execAttempt(fakeProvider(() => ({ stdout: 'RESPONDER: c\n' })), 1000)(req(true));
    expect(wrong).toMatchObject({ connected: true, evidence: 'wrong-answer', answer: 'c' });
    expect(judge(req(true), wrong, false).correct).toBe(false);
  });

  it('a timeout or a refusal is a block (the evidence where no flows are read); unreachable too', async () => {
    const t = await execAttempt(fakeProvider(() => ({ code: 1, stderr: 'TIMEOUT\n' })), 1000)(req(false));
    expect(t).toMatchObject({ connected: false, evidence: 'timeout' });
    expect(judge(req(false), t, false)).toEqual({ correct: true });
    expect(await execAttempt(fakeProvider(() => ({ code: 1, stderr: 'REFUSED\n' })), 1000)(req(false))).toMatchObject({ connected: false, evidence: 'refused' });
    expect(await execAttempt(fakeProvider(() => ({ code: 1, stderr: 'OTHER: connect EHOSTUNREACH\n' })), 1000)(req(false))).toMatchObject({ connected: false, evidence: 'unreachable' });
  });

  it('a probe tool that could not run tells nothing: an error, judged incorrect either way', async () => {
    const o = await execAttempt(rawProvider(() => ({ code: 127, stderr: 'agnhost: not found\n' })), 1000)(req(false));
    expect(o).toMatchObject({ connected: undefined, evidence: 'error' });
    expect(o.error).toMatch(/exit 127: agnhost: not found/);
    expect(judge(req(false), o, false).correct).toBe(false);
    const stack = await execAttempt(fakeProvider(() => ({ code: 1, stderr: 'TypeError: boom\n' })), 1000)(req(false));
    expect(stack.evidence).toBe('error');
    // An exec that exits 0 without one line per target (an old agnhost, a garbled answer) is no block either.
    const garbled = await execAttempt(rawProvider(() => ({ stdout: 'hello\n' })), 1000)(req(false));
    expect(garbled).toMatchObject({ connected: undefined, evidence: 'error' });
    const wrongTarget = await execAttempt(rawProvider(() => ({ stdout: JSON.stringify({ target: 'udp:1.2.3.4:81', code: 1, stdout: '', stderr: 'TIMEOUT\n' }) + '\n' })), 1000)(req(false));
    expect(wrongTarget.evidence).toBe('error');
  });

  it('probes from one pod that arrive together share one exec; each gets its own line', async () => {
    const seen: string[][] = [];
    const attempt = execAttempt(fakeProvider((t) => (t.endsWith(':80') ? { stdout: 'RESPONDER: b\n' } : { code: 1, stderr: 'TIMEOUT\n' }), seen), 1000);
    const [a80, a81, c80] = await Promise.all([attempt(req(true, 'x/a', 80)), attempt(req(false, 'x/a', 81)), attempt(req(true, 'x/c', 80))]);
    expect(seen.map((s) => s[0])).toEqual(['x/a', 'x/c']);
    expect(seen[0]!.slice(4)).toEqual(['udp:198.19.2.11:80', 'udp:198.19.2.11:81']);
    expect([a80.evidence, a81.evidence, c80.evidence]).toEqual(['answer', 'timeout', 'answer']);
  });

  it('has no exec path from nodes or hosts outside the cluster', async () => {
    await expect(execAttempt(fakeProvider(() => ({})), 1000)(req(false, 'node/node1'))).rejects.toThrow(/only pods/);
  });
});
