// TCP_CRR (a new TCP connection per transaction), netperf style: connect, send 1 byte, read 1 byte,
// close, repeat, one transaction in flight. netperf is not in Debian 12 main, so client and server are
// cnilab's own C program (harness/traffic/crr/crr.c, built by bootstrap into bin/cnilab-crr): a Node.js
// client was bounded by Node's own per-connection cost, not by the path it was meant to measure.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { run, shellQuote, start, type Background } from '../../harness/exec/run.js';
import { CnilabError } from '../../harness/errors.js';
import { REPO_ROOT } from '../../harness/paths.js';
import { pinned } from '../../harness/traffic/cpu-pin.js';
import { waitForListener } from '../../harness/traffic/wait-listen.js';

export const CRR_BIN = resolve(REPO_ROOT, 'bin/cnilab-crr');

function crrBin(): string {
  if (!existsSync(CRR_BIN)) throw new CnilabError('NOT_FOUND', `${CRR_BIN} is not built: run scripts/bootstrap.sh (make -C harness/traffic/crr)`);
  return CRR_BIN;
}

export interface CrrResult {
  transactions: number;
  errors: number;
  seconds: number;
  /** Completed transactions (connections) per second. */
  rate: number;
}

export interface CrrServer {
  readonly port: number;
  stop(): Promise<void>;
}

export function parseCrrOutput(text: string): CrrResult {
  const line = text.trim().split('\n').pop() ?? '';
  let j: { transactions?: unknown; errors?: unknown; seconds?: unknown };
  try {
    j = JSON.parse(line);
  } catch {
    throw new CnilabError('COMMAND_FAILED', `crr: client printed no result`, { detail: text.slice(-2000) });
  }
  const { transactions, errors, seconds } = j;
  if (typeof transactions !== 'number' || typeof errors !== 'number' || typeof seconds !== 'number' || seconds <= 0) {
    throw new CnilabError('COMMAND_FAILED', `crr: malformed result ${line}`);
  }
  if (transactions === 0) throw new CnilabError('COMMAND_FAILED', `crr: no transaction completed (${errors} connection errors)`);
  return { transactions, errors, seconds, rate: transactions / seconds };
}

export async function startCrrServer(o: { netns: string; port: number; cpu?: number }): Promise<CrrServer> {
  const bg: Background = start(pinned([crrBin(), 'server', String(o.port)], o.cpu), { netns: o.netns });
  await waitForListener(bg, { netns: o.netns, proto: 'tcp', port: o.port, what: 'crr server' });
  return { port: o.port, stop: () => bg.stop() };
}

export async function runCrrClient(o: { netns: string; host: string; port: number; durationSec: number; cpu?: number }): Promise<CrrResult> {
  const argv = pinned([crrBin(), 'client', o.host, String(o.port), String(o.durationSec)], o.cpu);
  const r = await run(argv, { netns: o.netns, timeoutMs: (o.durationSec + 15) * 1000, allowFailure: true });
  if (r.code !== 0) throw new CnilabError('COMMAND_FAILED', `crr client exited with ${r.code}: ${shellQuote(r.argv)}`, { detail: r.stderr });
  return parseCrrOutput(r.stdout);
}
