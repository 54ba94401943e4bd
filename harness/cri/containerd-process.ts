// The containerd a node's start-up just spawned, watched through its own process handle. Whether it
// has exited comes from the child's 'exit' event, not from probing a pid file and /proc/PID/cmdline:
// right after spawn, nsenter and then containerd are still inside execve, and while a process is
// between switching to its new memory and setting up its arguments, its cmdline reads as empty. A
// probe in that window (the first check ran at once after spawn; on a loaded machine the window is
// long enough to hit) took a starting containerd for one that had "exited during start-up".
// What it wrote is kept apart from earlier runs' output in the same log file (opened for append), so
// an error shows this start's stderr tail, not an older one.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readSync, fstatSync } from 'node:fs';

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface LoggedProcess {
  pid: number;
  /** Set once the process has exited (or could not be started). */
  exit(): ExitStatus | undefined;
  /** "exited with code 1" / "killed by SIGKILL". */
  describeExit(): string | undefined;
  /** The last `lines` lines this process wrote to the log (nothing from before it started). */
  output(lines?: number): string;
}

function sizeOf(fd: number): number {
  return fstatSync(fd).size;
}

/** Spawn argv detached (it outlives this process), stdout and stderr appended to `logPath`. */
export async function spawnLogged(argv: string[], logPath: string): Promise<LoggedProcess> {
  const fd = openSync(logPath, 'a');
  let offset: number;
  let child;
  try {
    offset = sizeOf(fd);
    child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  let status: ExitStatus | undefined;
  child.once('exit', (code, signal) => (status = { code, signal }));
  const pid = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('spawn', () => resolve(child.pid!));
  });
  child.unref();
  return {
    pid,
    exit: () => status,
    describeExit: () => (status ? (status.signal ? `killed by ${status.signal}` : `exited with code ${status.code}`) : undefined),
    output: (lines = 20) => readSince(logPath, offset).trim().split('\n').slice(-lines).join('\n'),
  };
}

function readSince(path: string, offset: number): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return '';
  }
  try {
    const size = sizeOf(fd);
    if (size <= offset) return '';
    const buf = Buffer.alloc(Math.min(size - offset, 64 * 1024));
    // The end of what it wrote: the tail is what explains an exit.
    readSync(fd, buf, 0, buf.length, size - buf.length);
    return buf.toString('utf8');
  } finally {
    closeSync(fd);
  }
}
