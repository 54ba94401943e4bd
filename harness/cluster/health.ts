// Is a cluster's control plane alive? Read from what the supervisor and the daemon leave in the run
// directory plus one health request, so `cnilab status` (and every other command that cannot reach
// the daemon) says what is wrong instead of "ECONNREFUSED": a crashed daemon being restarted, a
// cluster given up as broken (with the supervisor's reason), or a control plane that is simply gone.
import { existsSync, readFileSync } from 'node:fs';
import { paths } from './names.js';
import { processAlive } from '../exec/proc.js';
import { ControlPlaneClient } from './client.js';
import type { ControlPlaneState } from './supervisor.js';

export interface ControlPlaneHealth {
  /** running: the API answers; restarting: the supervisor is bringing a crashed daemon back;
   *  broken: nobody will bring it back (`cnilab down` is the way out); absent: no such cluster. */
  state: 'running' | 'restarting' | 'broken' | 'absent';
  message: string;
  restarts: number;
  supervisorPid?: number;
  daemonPid?: number;
  /** The API answers but nothing would restart the daemon if it died. */
  unsupervised?: boolean;
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

const alive = processAlive;

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** The last lines of the daemon's log, for a message about a dead control plane. */
export function daemonLogTail(cluster: string, lines = 5): string {
  try {
    return readFileSync(paths.daemonLog(cluster), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export async function controlPlaneHealth(cluster: string, timeoutMs = 2000): Promise<ControlPlaneHealth> {
  if (!existsSync(paths.runDir(cluster))) return { state: 'absent', message: `cluster "${cluster}" does not exist`, restarts: 0 };
  const st = readJson<ControlPlaneState>(paths.controlPlaneState(cluster));
  const supervisorPid = readPid(paths.supervisorPid(cluster)) ?? st?.supervisorPid;
  const daemonPid = readPid(paths.daemonPid(cluster));
  const restarts = st?.restarts ?? 0;
  const base = { restarts, ...(supervisorPid ? { supervisorPid } : {}), ...(daemonPid ? { daemonPid } : {}) };
  const broken = readJson<{ reason: string }>(paths.broken(cluster));
  if (broken) return { ...base, state: 'broken', message: broken.reason };
  let answering = false;
  try {
    answering = (await new ControlPlaneClient(paths.controlSocket(cluster), cluster).healthz(timeoutMs)).ok;
  } catch {
    answering = false;
  }
  const supervised = alive(supervisorPid);
  if (answering) {
    return { ...base, state: 'running', message: `running (daemon pid ${daemonPid ?? '?'}, ${restarts} restarts)`, ...(supervised ? {} : { unsupervised: true }) };
  }
  if (supervised) return { ...base, state: 'restarting', message: `the cluster daemon is being restarted by its supervisor (restart ${restarts}; last exit ${st?.lastExit ?? 'unknown'})` };
  const why = alive(daemonPid) ? `the cluster daemon (pid ${daemonPid}) does not answer on ${paths.controlSocket(cluster)}` : 'the cluster daemon and its supervisor are not running';
  return { ...base, state: 'broken', message: why };
}
