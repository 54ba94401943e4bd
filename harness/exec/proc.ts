// Whether a process is still running. kill(pid, 0) alone is not enough: an exited process whose
// parent has not reaped it (an orphan whose new parent, pid 1 in a container, never calls wait) is a
// zombie that kill() still finds, and waiting for it to "die" would wait forever.
import { readFileSync } from 'node:fs';

export function processAlive(pid: number | undefined): boolean {
  if (!pid || !Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // /proc/PID/stat: "pid (comm) S ..."; comm may contain spaces and parentheses, so split at the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}
