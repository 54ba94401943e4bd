// Wait until a server started in a netns has its socket open, by asking the kernel (ss) rather than
// parsing the server's output: iperf3 and sockperf buffer stdout when it is a pipe.
import { run, shellQuote, type Background } from '../exec/run.js';
import { CnilabError, WaitTimeoutError } from '../errors.js';

export async function waitForListener(
  bg: Background,
  o: { netns?: string; proto: 'tcp' | 'udp'; port: number; timeoutMs?: number; what: string },
): Promise<void> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void bg.exited.then(() => (exited = true));
  const argv = ['ss', '-H', '-n', o.proto === 'tcp' ? '-lt' : '-lu', `sport = :${o.port}`];
  for (;;) {
    const r = await run(argv, { netns: o.netns, timeoutMs: 5000, allowFailure: true });
    if (r.code === 0 && r.stdout.trim() !== '') return;
    if (exited) {
      const out = bg.output();
      throw new CnilabError('COMMAND_FAILED', `${o.what} exited before listening: ${shellQuote(bg.argv)}`, {
        detail: (out.stderr + out.stdout).trim().split('\n').slice(-20).join('\n'),
      });
    }
    if (Date.now() > deadline) {
      await bg.stop();
      throw new WaitTimeoutError(`${o.what} to listen on ${o.proto}/${o.port}`, timeoutMs, bg.output().stderr.trim());
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
