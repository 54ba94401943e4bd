// Hidden subcommand `agnhost cnilab-whoami-many [--timeout=1s] PROTO:HOST:PORT...`: cnilab-whoami for
// many targets from one process. A policy step run through a provider's exec probes dozens of peers
// from each pod; one process (one Node.js start-up) per probe made the policy suite ~18x slower through
// kubeconfig than through netns. Every target is dialled at once, each with its own timeout, as
// separate cnilab-whoami runs started together would be; the answer is one JSON line per target, in the
// order given: {"target","code","stdout","stderr","ms"}, holding exactly the exit code and the text that
// `cnilab-whoami` would have exited with and printed for it (so the caller classifies it the same way).
import { performance } from 'node:perf_hooks';
import { parseConnectArgs } from './connect.js';
import { whoami } from './whoami.js';

export interface WhoamiManyLine {
  target: string;
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** One target's cnilab-whoami, as its own process would have ended. Never throws. */
async function one(target: string, timeoutFlag: string | undefined): Promise<WhoamiManyLine> {
  const t0 = performance.now();
  const m = /^(tcp|udp):(.+):(\d+)$/.exec(target);
  const done = (code: number, stdout: string, stderr: string): WhoamiManyLine => ({ target, code, stdout, stderr, ms: Math.round(performance.now() - t0) });
  if (!m) return done(1, '', `UNKNOWN: target ${JSON.stringify(target)} is not PROTO:HOST:PORT (tcp or udp)\n`);
  try {
    const opts = parseConnectArgs([`${m[2]}:${m[3]}`, `--protocol=${m[1]}`, ...(timeoutFlag ? [timeoutFlag] : [])]);
    const r = await whoami(opts);
    return done(r.code, r.responder ? `RESPONDER: ${r.responder}\n` : '', r.stderr);
  } catch (e) {
    return done(1, '', `UNKNOWN: ${(e as Error).message}\n`);
  }
}

/** The lines for a command line's arguments; a bad --timeout is every target's UNKNOWN. */
export async function whoamiMany(args: string[]): Promise<WhoamiManyLine[]> {
  const timeoutFlag = args.find((a) => a.startsWith('--timeout='));
  const targets = args.filter((a) => !a.startsWith('--'));
  return Promise.all(targets.map((t) => one(t, timeoutFlag)));
}

export async function whoamiManyMain(args: string[]): Promise<number> {
  const unknown = args.find((a) => a.startsWith('--') && !a.startsWith('--timeout='));
  if (unknown) {
    process.stderr.write(`UNKNOWN: unknown flag ${unknown}\n`);
    return 1;
  }
  const lines = await whoamiMany(args);
  process.stdout.write(lines.map((l) => JSON.stringify(l)).join('\n') + (lines.length ? '\n' : ''));
  return 0;
}
