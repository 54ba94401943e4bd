// bird2 plumbing shared by the fabric's route reflector (harness/providers/netns/bgp.ts) and the node
// speakers (agent/routing/bgp.ts): the cluster AS, the timer block, file layout, commands over bird's
// control socket, the parsers of their output, and starting/stopping a daemonized bird.
import { existsSync, readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { run } from '../exec/run.js';
import { CnilabError, WaitTimeoutError } from '../errors.js';

/** The cluster's AS: first of the 16-bit private range (RFC 6996). */
export const CLUSTER_ASN = 64512;

/**
 * Timers shared by both ends. hold 3 s / keepalive 1 s: a silent peer's routes go within ~3 s (bird
 * randomizes timers down to 75%, so 2.25-3 s). connect delay 1 s (default 5 s; bird never waits less
 * than 1 s, see bgp_active) is most of the time to the first session. error wait 0: no extra backoff
 * after a failed session, since that 1 s floor on every connect already limits a node to one attempt
 * a second; with the default a node cut off and reconnected waited 1 s more. Graceful restart is off
 * on purpose: a dead node's pod CIDR must be withdrawn, not kept as stale routes.
 */
export const BGP_TIMERS = [
  'hold time 3;',
  'keepalive time 1;',
  'connect delay time 1;',
  'connect retry time 1;',
  'error wait time 0, 5;',
  'graceful restart off;',
];

export const birdFiles = (dir: string, base = 'bird') => ({
  conf: join(dir, `${base}.conf`),
  ctl: join(dir, `${base}.ctl`),
  pid: join(dir, `${base}.pid`),
  log: join(dir, `${base}.log`),
});

/** bird symbols are [A-Za-z_][A-Za-z0-9_]*; node names are DNS labels ('-', leading digits). */
export function birdSymbol(prefix: string, name: string): string {
  return `${prefix}_${name.replace(/-/g, '_')}`;
}

// ---- birdc and its output ----

export interface BgpSession {
  name: string;
  proto: string;
  state: string;
  since: string;
  /** For BGP: "Established", "Active", "Connect"…, possibly followed by the last error. */
  info: string;
}

/** Parse `birdc show protocols`. The Since column is one token with bird's default time format and
 *  two with `iso long` ("2024-01-02 10:11:12"), so it is read by shape rather than by offset. */
export function parseShowProtocols(text: string): BgpSession[] {
  const out: BgpSession[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim() || /^BIRD \S+ ready\.$/.test(line.trim()) || /^Name\s+Proto\s+Table\s+State/.test(line)) continue;
    const tok = line.trim().split(/\s+/);
    if (tok.length < 4) continue;
    const [name, proto, , state] = tok as [string, string, string, string];
    let i = 4;
    let since = tok[i++] ?? '';
    if (/^\d{4}-\d\d-\d\d$/.test(since) && /^\d\d:\d\d:\d\d/.test(tok[i] ?? '')) since += ` ${tok[i++]}`;
    out.push({ name, proto, state, since, info: tok.slice(i).join(' ') });
  }
  return out;
}

/** Parse `birdc show route ... count`: "3 of 3 routes for 3 networks in table master4". */
export function parseRouteCount(text: string): number {
  const m = /(\d+) of (\d+) routes/.exec(text);
  if (!m) throw new CnilabError('INTERNAL', `unexpected output of birdc show route count: ${text.trim().slice(0, 200)}`);
  return Number(m[1]);
}

export const isEstablished = (s: BgpSession) => s.proto === 'BGP' && s.state === 'up' && s.info.startsWith('Established');

/** One command over bird's control socket, answered as `birdc` prints it: the text of every reply line
 *  (code stripped, code 0000 silent, continuation lines without their leading space; no greeting).
 *  Spoken directly rather than through the birdc program: the agent asks bird every second for its
 *  health, and a fork/exec of birdc per question cost each native node ~35 ms of CPU a second here
 *  (README, "An idle cluster's own CPU"). A reply code of 8000 or more is bird refusing the command
 *  (8xxx run-time, 9xxx parse errors): thrown, as birdc exits non-zero then. Unix sockets are
 *  reachable from any netns. */
export async function birdc(socket: string, args: string[], timeoutMs = 5000): Promise<string> {
  const command = args.join(' ');
  if (/[\r\n]/.test(command)) throw new CnilabError('INVALID_INPUT', `a bird command is one line, got ${JSON.stringify(command)}`);
  return new Promise((resolve, reject) => {
    const conn = createConnection(socket);
    const out: string[] = [];
    let greeted = false;
    let failed: string | undefined;
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      conn.destroy();
      if (err) reject(err);
      else resolve(out.map((l) => `${l}\n`).join(''));
    };
    const timer = setTimeout(() => finish(new WaitTimeoutError(`bird on ${socket} to answer "${command}"`, timeoutMs)), timeoutMs);
    const failedSocket = (e: Error) => finish(new CnilabError('COMMAND_FAILED', `bird control socket ${socket}: ${e.message}`));
    conn.on('error', failedSocket);
    conn.on('close', () => finish(new CnilabError('COMMAND_FAILED', `bird closed its control socket ${socket} before answering "${command}"`)));
    // node:readline splits the reply into lines, however the socket cut it (and passes on its errors).
    const lines = createInterface({ input: conn, crlfDelay: Infinity });
    lines.on('error', failedSocket);
    lines.on('line', (line) => {
      if (settled) return;
      const reply = parseBirdReplyLine(line);
      if (!greeted) {
        // "0001 BIRD 2.0.12 ready.": then the command.
        if (reply.last) {
          greeted = true;
          conn.write(`${command}\n`);
        }
        return;
      }
      if (reply.code !== undefined && reply.code >= 8000) failed ??= reply.text;
      if (reply.text !== undefined) out.push(reply.text);
      if (reply.last) finish(failed === undefined ? undefined : new CnilabError('COMMAND_FAILED', `bird refused "${command}": ${failed}`, { detail: out.join('\n') }));
    });
  });
}

/** One line of bird's control protocol: "CODE-text" (more follows), "CODE text" (the last line of the
 *  reply), " text" (continues the previous code), "+text" (an asynchronous message). text is what
 *  birdc prints for it (nothing for code 0000). */
export function parseBirdReplyLine(line: string): { code?: number; text?: string; last: boolean } {
  const m = /^(\d{4})([ -])(.*)$/.exec(line);
  if (m) {
    const code = Number(m[1]);
    return { code, ...(code !== 0 ? { text: m[3] } : {}), last: m[2] === ' ' };
  }
  if (line.startsWith(' ')) return { text: line.slice(1), last: false };
  if (line.startsWith('+')) return { text: `>>> ${line.slice(1)}`, last: false };
  return { text: `??? <${line}>`, last: false };
}

/** Check a config with `bird -p` so a mistake reads as a parse error, not as a daemon that died. */
export async function checkBirdConfig(conf: string): Promise<void> {
  await run(['bird', '-p', '-c', conf], { timeoutMs: 10_000 });
}

/** The pid in bird's pidfile when that process is alive and is bird; undefined otherwise. */
export function runningBirdPid(pidFile: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    // A pidfile outlives its bird, and the number may since be anyone's. A killed bird stays a zombie
    // until its reaper gets to it: that is a dead bird too.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8'); // "PID (COMM) STATE ..."
    const m = /^\d+ \((.*)\) (\S)/.exec(stat);
    if (!m || m[1] !== 'bird' || m[2] === 'Z' || m[2] === 'X') return undefined;
  } catch {
    return undefined;
  }
  return pid;
}

/** Start bird (it daemonizes) and wait until its control socket answers. */
export async function startBird(files: ReturnType<typeof birdFiles>, netns?: string, timeoutMs = 5000): Promise<void> {
  await checkBirdConfig(files.conf);
  await run(['bird', '-c', files.conf, '-s', files.ctl, '-P', files.pid], { netns, timeoutMs: 10_000 });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let seen: string;
    try {
      seen = await birdc(files.ctl, ['show', 'status'], 2000);
      if (/Daemon is up and running/.test(seen)) return;
    } catch (e) {
      seen = (e as Error).message;
    }
    if (Date.now() > deadline) throw new WaitTimeoutError(`bird (${files.conf}) to answer on ${files.ctl}`, timeoutMs, seen.trim());
    await sleep(50);
  }
}

/** Stop bird: `down` lets it withdraw its routes and close sessions with a Cease; SIGKILL if it lingers. */
export async function stopBird(files: ReturnType<typeof birdFiles>, timeoutMs = 5000): Promise<void> {
  const pid = runningBirdPid(files.pid);
  if (pid === undefined) return;
  // birdc, not the socket client: bird may close the socket without finishing its answer to `down`.
  await run(['birdc', '-s', files.ctl, 'down'], { allowFailure: true, timeoutMs: 3000 });
  const deadline = Date.now() + timeoutMs;
  while (runningBirdPid(files.pid) === pid && Date.now() < deadline) await sleep(50);
  if (runningBirdPid(files.pid) === pid) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone meanwhile */
    }
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
