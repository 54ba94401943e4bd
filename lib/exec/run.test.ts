import { describe, expect, it } from 'vitest';
import { CommandError, netnsArgv, run, shellQuote, start } from './run.js';

describe('exec wrapper', () => {
  it('returns output and exit code', async () => {
    const r = await run(['sh', '-c', 'echo out; echo err >&2; exit 0']);
    expect(r.stdout).toBe('out\n');
    expect(r.stderr).toBe('err\n');
    expect(r.code).toBe(0);
  });
  it('throws a CommandError carrying the pasteable command, exit code and stderr', async () => {
    const err = await run(['sh', '-c', 'echo boom >&2; exit 3']).catch((e) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect(err.message).toContain("sh -c 'echo boom >&2; exit 3'");
    expect(err.message).toContain('exited with 3');
    expect(err.detail).toBe('boom');
    expect(err.result.durationMs).toBeGreaterThanOrEqual(0);
  });
  it('kills the whole process group on timeout', async () => {
    const started = Date.now();
    const r = await run(['sh', '-c', 'sleep 30 & sleep 30; wait'], { timeoutMs: 200, allowFailure: true });
    expect(r.timedOut).toBe(true);
    expect(Date.now() - started).toBeLessThan(5000);
  });
  it('feeds stdin and reports a missing executable as exit 127', async () => {
    expect((await run(['cat'], { input: 'hello' })).stdout).toBe('hello');
    const r = await run(['/nonexistent/cmd'], { allowFailure: true });
    expect(r.code).toBe(127);
  });
  it('enters only the network namespace through nsenter', () => {
    expect(netnsArgv(['ip', 'a'], 'cnilab.x.node.n1')).toEqual(['nsenter', '--net=/run/netns/cnilab.x.node.n1', '--', 'ip', 'a']);
    expect(shellQuote(['echo', "it's"])).toBe(`echo 'it'\\''s'`);
  });
  it('stops a background process', async () => {
    const bg = start(['sleep', '30']);
    await bg.stop(200);
    const { signal } = await bg.exited;
    expect(signal).toBe('SIGTERM');
  });
});
