// How often a reader of tcpdump's stderr sees its listening line in pieces, and how often a 20 ms poll
// (as the providers' capture start polls) lands between the pieces: with the old progress reader, which
// took a lone "tcpdump: " for an error line, that is how often a good capture was killed. tcpdump
// writes the line in four write(2) calls on unbuffered stderr. Starts tcpdump on the host's `lo`
// (no namespace, no traffic sent; root), N times in a row; run it beside a CPU load to see the effect.
//   node dist/bench/capture-line-split-bench.js [--starts 300]
import { spawn } from 'node:child_process';
import { captureProgress } from '../harness/providers/common/capture.js';
import { machineSummary } from './stats.js';

/** The reader before the fix: any line starting "tcpdump: ", whole or not, was an error. */
function oldProgress(stderr: string): 'listening' | 'error' | 'waiting' {
  if (/^(tcpdump: )?listening on /m.test(stderr)) return 'listening';
  return stderr.split('\n').some((l) => /^tcpdump: /.test(l) && !/verbose output suppressed/.test(l)) ? 'error' : 'waiting';
}

async function oneStart(): Promise<{ pieces: boolean; oldSawError: boolean; oldPollGaveUp: boolean; newSawError: boolean }> {
  const argv = ['sh', '-c', 'echo cnilab-capture-pid $$ >&2; exec timeout 20 tcpdump -i lo -w - -U --immediate-mode -n -Z root -s 256'];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let chunks = 0;
  let oldSawError = false;
  let newSawError = false;
  let whole = false;
  let oldPollGaveUp = false;
  const poll = (async () => {
    for (;;) {
      const p = oldProgress(stderr);
      if (p === 'listening' || whole) return;
      if (p === 'error') return void (oldPollGaveUp = true);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  await new Promise<void>((resolve, reject) => {
    child.on('exit', (code) => reject(new Error(`tcpdump exited with ${code} before listening: ${stderr}`)));
    child.stderr!.on('data', (b: Buffer) => {
      stderr += b.toString('utf8');
      chunks++;
      if (oldProgress(stderr) === 'error') oldSawError = true;
      if (captureProgress(stderr).error) newSawError = true;
      if (/snapshot length \d+ bytes\n/.test(stderr)) resolve();
    });
  });
  whole = true;
  await poll;
  child.removeAllListeners('exit');
  const exited = new Promise((r) => child.on('exit', r));
  child.kill('SIGTERM');
  await exited;
  // The pid line is one chunk; the listening line in one more unless it came in pieces.
  return { pieces: chunks > 2, oldSawError, oldPollGaveUp, newSawError };
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--starts');
  const n = i > 0 ? Number(process.argv[i + 1]) : 300;
  if (!Number.isInteger(n) || n < 1) throw new Error(`--starts: expected a whole number ≥ 1, got ${process.argv[i + 1]}`);
  const r = { pieces: 0, oldSawError: 0, oldPollGaveUp: 0, newSawError: 0 };
  for (let k = 0; k < n; k++) {
    const s = await oneStart();
    for (const key of Object.keys(r) as Array<keyof typeof r>) if (s[key]) r[key]++;
  }
  console.log(`machine: ${machineSummary()}`);
  console.log(`${n} tcpdump starts: listening line read in pieces ${r.pieces}; a lone "tcpdump: " seen (old reader: error) ${r.oldSawError}`);
  console.log(`  old reader polled every 20 ms gave up on ${r.oldPollGaveUp} (${((100 * r.oldPollGaveUp) / n).toFixed(1)} %); the whole-line reader saw an error ${r.newSawError} times`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
