// TCP_CRR (a new TCP connection per transaction), netperf style: connect, send 1 byte, read 1 byte,
// close, repeat, one transaction in flight. netperf is not in Debian 12 main, so client and server are
// a few lines of Node run with `node -e` inside the pod netns (through the one exec wrapper, so no build
// step and no extra file to ship). Node's own per-connection overhead dominates the figure on this
// machine: connection rates are comparable between configurations of one run, not with netperf's.
import { run, shellQuote, start, type Background } from '../../harness/exec/run.js';
import { CnilabError } from '../../harness/errors.js';
import { waitForListener } from '../../harness/traffic/wait-listen.js';

export const CRR_PROGRAM = String.raw`
const net = require('node:net');
const [mode, a, b, c] = process.argv.slice(1);
if (mode === 'server') {
  const srv = net.createServer((s) => {
    s.setNoDelay(true);
    s.on('error', () => {});
    s.once('data', (d) => s.end(d.subarray(0, 1)));
  });
  srv.listen(Number(a), '0.0.0.0');
} else {
  const host = a, port = Number(b), until = Date.now() + Number(c) * 1000;
  let n = 0, errors = 0;
  const t0 = process.hrtime.bigint();
  let finished = false;
  const done = () => {
    if (finished) return;
    finished = true;
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    process.stdout.write(JSON.stringify({ transactions: n, errors, seconds }) + '\n');
  };
  const one = () => {
    if (finished) return;
    if (Date.now() >= until) return done();
    const s = net.connect({ host, port, noDelay: true });
    let next = false;
    const go = () => { if (!next) { next = true; setImmediate(one); } };
    s.once('connect', () => s.write('x'));
    // Close and go on at once, as netperf's TCP_CRR does (close() does not wait for the FIN handshake).
    s.once('data', () => { n++; s.end(); go(); });
    s.on('error', () => { errors++; if (n === 0 && errors > 1000) done(); else go(); });
    s.once('close', go);
  };
  one();
}
`;

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

export async function startCrrServer(o: { netns: string; port: number }): Promise<CrrServer> {
  const bg: Background = start([process.execPath, '-e', CRR_PROGRAM, 'server', String(o.port)], { netns: o.netns });
  await waitForListener(bg, { netns: o.netns, proto: 'tcp', port: o.port, what: 'crr server' });
  return { port: o.port, stop: () => bg.stop() };
}

export async function runCrrClient(o: { netns: string; host: string; port: number; durationSec: number }): Promise<CrrResult> {
  const argv = [process.execPath, '-e', CRR_PROGRAM, 'client', o.host, String(o.port), String(o.durationSec)];
  const r = await run(argv, { netns: o.netns, timeoutMs: (o.durationSec + 15) * 1000, allowFailure: true });
  if (r.code !== 0) throw new CnilabError('COMMAND_FAILED', `crr client exited with ${r.code}: ${shellQuote(r.argv.slice(0, 4))} … ${o.host} ${o.port}`, { detail: r.stderr });
  return parseCrrOutput(r.stdout);
}
