// A client's request while the cluster daemon is being restarted by its supervisor (supervisor.ts):
// the control socket refuses connections (ECONNREFUSED: the dead daemon's socket file) or is briefly
// missing (the new daemon recreates it). While the supervisor is alive that is a restart, not a dead
// cluster, so the request waits for the new daemon — bounded — instead of failing the command (an
// `apply` right after a daemon crash failed this way in the 50-cycle soak). Only requests that never
// reached a daemon are repeated: a refused connection carried nothing, so a POST is safe to send again.
import { existsSync, readFileSync } from 'node:fs';
import { processAlive } from '../exec/proc.js';
import { paths } from './names.js';

/** How long a request waits for a restarting daemon (the supervisor's backoff is at most 5 s). */
export const RESTART_WAIT_MS = 30_000;

export function supervisorAlive(cluster: string): boolean {
  try {
    return processAlive(Number(readFileSync(paths.supervisorPid(cluster), 'utf8').trim()));
  } catch {
    return false;
  }
}

const NEVER_REACHED = new Set(['ECONNREFUSED', 'ENOENT']);

/**
 * send(), repeated while it fails without reaching a daemon and the cluster's supervisor lives, for at
 * most waitMs. `missing` is what to throw when there is no socket and nobody will bring it back.
 */
export async function rideRestarts<T>(
  cluster: string,
  socketPath: string,
  send: () => Promise<T>,
  missing: () => Error,
  opts: { waitMs?: number; supervised?: () => boolean } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.waitMs ?? RESTART_WAIT_MS);
  const supervised = opts.supervised ?? (() => supervisorAlive(cluster));
  let pause = 100;
  for (;;) {
    const restarting = () => Date.now() < deadline && supervised();
    if (!existsSync(socketPath) && !restarting()) throw missing();
    if (existsSync(socketPath)) {
      try {
        return await send();
      } catch (e) {
        if (!NEVER_REACHED.has((e as { code?: string }).code ?? '') || !restarting()) throw e;
      }
    }
    await new Promise((r) => setTimeout(r, pause));
    pause = Math.min(pause * 2, 1000);
  }
}
