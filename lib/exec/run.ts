// The one child-process wrapper. Every external command cnilab runs (ip, tc, bird, iperf3, tcpdump,
// CNI plugins, clang) goes through here: argument arrays only, an explicit timeout, the whole process
// group killed on timeout (SIGTERM, then SIGKILL), and errors that carry a pasteable command line.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { CnilabError } from '../errors.js';

export interface RunOptions {
  /** Run inside this network namespace (a name under /run/netns, or an absolute path to an ns file). */
  netns?: string;
  /** Milliseconds before the process group is killed. Default 30 s. */
  timeoutMs?: number;
  /** Written to the child's stdin, then stdin is closed. */
  input?: string | Buffer;
  /** Environment: replaces process.env when `replaceEnv`, otherwise is merged into it. */
  env?: Record<string, string | undefined>;
  replaceEnv?: boolean;
  cwd?: string;
  /** Do not throw on a non-zero exit; the caller inspects `code`. */
  allowFailure?: boolean;
}

export interface RunResult {
  argv: string[];
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
}

const KILL_GRACE_MS = 1000;

/** The argv actually executed: commands for a netns are prefixed with nsenter, entering only the
 *  network namespace (never `ip netns exec`, which remounts /sys and hides bpffs). */
export function netnsArgv(argv: string[], netns?: string): string[] {
  if (!netns) return argv;
  const path = netns.startsWith('/') ? netns : `/run/netns/${netns}`;
  return ['nsenter', `--net=${path}`, '--', ...argv];
}

/** Quote an argv so it can be pasted into a shell. */
export function shellQuote(argv: string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_./:=@%+,-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

export class CommandError extends CnilabError {
  readonly result: RunResult;
  constructor(result: RunResult) {
    const why = result.timedOut
      ? `timed out after ${result.durationMs} ms`
      : result.signal
        ? `killed by ${result.signal}`
        : `exited with ${result.code}`;
    const stderr = result.stderr.trim();
    super('COMMAND_FAILED', `command ${why} after ${result.durationMs} ms: ${shellQuote(result.argv)}`, {
      exitCode: 1,
      detail: stderr ? stderr.split('\n').slice(-20).join('\n') : undefined,
    });
    this.result = result;
  }
}

function spawnOptions(opts: RunOptions, detached: boolean): SpawnOptions {
  const env = opts.replaceEnv ? { ...opts.env } : { ...process.env, ...opts.env };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  return { cwd: opts.cwd, env: env as NodeJS.ProcessEnv, detached, stdio: ['pipe', 'pipe', 'pipe'] };
}

/** Kill a process group: SIGTERM, then SIGKILL if it is still there after the grace period. */
export function killGroup(child: ChildProcess, graceMs = KILL_GRACE_MS): void {
  if (child.pid === undefined) return;
  const pid = child.pid;
  try {
    process.kill(-pid, 'SIGTERM');
  } catch {
    return;
  }
  const t = setTimeout(() => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }, graceMs);
  t.unref();
  child.once('exit', () => clearTimeout(t));
}

/** Run a command to completion. Throws CommandError on failure unless `allowFailure`. */
export function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  const full = netnsArgv(argv, opts.netns);
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    // detached: the child leads its own process group, so a timeout kills everything it started.
    const child = spawn(full[0]!, full.slice(1), spawnOptions(opts, true));
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, timeoutMs);
    const finish = (code: number, signal: NodeJS.Signals | null, spawnError?: Error) => {
      clearTimeout(timer);
      const result: RunResult = {
        argv: full,
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: spawnError ? `${spawnError.message}\n` : Buffer.concat(err).toString('utf8'),
        durationMs: Math.round(performance.now() - started),
        timedOut,
      };
      if ((code !== 0 || timedOut) && !opts.allowFailure) reject(new CommandError(result));
      else resolve(result);
    };
    let spawnFailed = false;
    child.on('error', (e) => {
      spawnFailed = true;
      finish(127, null, e);
    });
    child.on('close', (code, signal) => {
      if (!spawnFailed) finish(code ?? (signal ? 128 : 1), signal);
    });
    child.stdin!.on('error', () => {
      /* the child may exit without reading its stdin */
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    else child.stdin!.end();
  });
}

export interface Background {
  child: ChildProcess;
  argv: string[];
  /** Resolves with the exit status when the process ends. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything written so far (kept in memory, capped). */
  output(): { stdout: string; stderr: string };
  /** SIGTERM the group, SIGKILL after a grace period; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

const OUTPUT_CAP = 4 * 1024 * 1024;

/** Start a long-running command (a server, a capture, a load generator) in its own process group. */
export function start(argv: string[], opts: Omit<RunOptions, 'timeoutMs' | 'allowFailure' | 'input'> = {}): Background {
  const full = netnsArgv(argv, opts.netns);
  const child = spawn(full[0]!, full.slice(1), spawnOptions(opts, true));
  child.stdin!.end();
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (b: Buffer) => {
    if (stdout.length < OUTPUT_CAP) stdout += b.toString('utf8');
  });
  child.stderr!.on('data', (b: Buffer) => {
    if (stderr.length < OUTPUT_CAP) stderr += b.toString('utf8');
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('error', (e) => {
      stderr += `${e.message}\n`;
      resolve({ code: 127, signal: null });
    });
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  return {
    child,
    argv: full,
    exited,
    output: () => ({ stdout, stderr }),
    async stop(graceMs = KILL_GRACE_MS) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      killGroup(child, graceMs);
      await exited;
    },
  };
}

/** Run a command with the terminal attached (stdin, stdout, stderr inherited), e.g. `cnilab exec`.
 *  Resolves with its exit status (128+signal when killed). */
export function runAttached(argv: string[], opts: Pick<RunOptions, 'netns' | 'env' | 'cwd'> = {}): Promise<number> {
  const full = netnsArgv(argv, opts.netns);
  return new Promise((resolve) => {
    const child = spawn(full[0]!, full.slice(1), { cwd: opts.cwd, env: { ...process.env, ...opts.env } as NodeJS.ProcessEnv, stdio: 'inherit' });
    child.on('error', (e) => {
      process.stderr.write(`${shellQuote(full)}: ${e.message}\n`);
      resolve(127);
    });
    child.on('exit', (code, signal) => resolve(code ?? 128 + (signal ? (({ SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }) as Record<string, number>)[signal] ?? 1 : 1)));
  });
}
