// The control plane's supervisor: the process `cnilab up` starts, one per cluster. It runs the
// cluster daemon as its child and, when the daemon dies, starts it again after a backoff; the new
// daemon resumes from the persisted store (persist.ts) and re-adopts the pods (recover.ts). If the
// daemon keeps dying (CRASH_LIMIT crashes within CRASH_WINDOW_MS) or says it cannot recover (exit
// EXIT_UNRECOVERABLE: a corrupt store), the supervisor stops trying and writes broken.json with the
// reason: `cnilab status` then reports the cluster broken and exits non-zero, never half-alive.
//   node supervisor.js --cnilab-cluster=NAME      (the flag is also the sweep marker)
// A daemon exiting 0 was shut down on purpose (`cnilab down`): the supervisor exits with it.
import { spawn, type ChildProcess } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { appendFileSync, closeSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { paths, processMarker, validateClusterName } from './names.js';
import { distJs } from '../paths.js';
import { Backoff } from '../exec/backoff.js';

/** The daemon's exit code for "restarting me cannot help" (EX_CONFIG). */
export const EXIT_UNRECOVERABLE = 78;
export const CRASH_LIMIT = 5;
export const CRASH_WINDOW_MS = 60_000;

export interface ControlPlaneState {
  supervisorPid: number;
  daemonPid?: number;
  restarts: number;
  lastExit?: string;
  state: 'running' | 'restarting' | 'broken' | 'stopped';
}

function main(): void {
  const arg = process.argv.find((a) => a.startsWith('--cnilab-cluster='));
  const cluster = validateClusterName(arg?.split('=')[1], '--cnilab-cluster');
  const logFile = paths.daemonLog(cluster);
  const log = (m: string) => appendFileSync(logFile, `${new Date().toISOString()} supervisor: ${m}\n`);
  writeFileSync(paths.supervisorPid(cluster), `${process.pid}\n`);

  const backoff = new Backoff({ initialMs: 200, maxMs: 5000, resetAfterMs: CRASH_WINDOW_MS });
  const crashes: number[] = [];
  const st: ControlPlaneState = { supervisorPid: process.pid, restarts: 0, state: 'running' };
  const save = () => writeFileSync(paths.controlPlaneState(cluster), `${JSON.stringify(st, null, 2)}\n`);
  let child: ChildProcess | undefined;
  let startedAt = 0;
  let stopping = false;

  const launch = () => {
    if (stopping) return;
    const out = openSync(logFile, 'a');
    child = spawn(process.execPath, [distJs('harness/cluster/daemon'), processMarker(cluster), ...(st.restarts ? [`--restart=${st.restarts}`] : [])], {
      stdio: ['ignore', out, out],
    });
    closeSync(out);
    startedAt = Date.now();
    st.daemonPid = child.pid;
    st.state = 'running';
    save();
    const me = child;
    me.on('exit', (code, signal) => onExit(me, code, signal));
  };

  const finish = (code: number) => {
    rmSync(paths.supervisorPid(cluster), { force: true });
    process.exit(code);
  };

  const broken = (reason: string) => {
    st.state = 'broken';
    save();
    writeFileSync(paths.broken(cluster), `${JSON.stringify({ reason, at: new Date().toISOString() }, null, 2)}\n`);
    log(`giving up: ${reason}`);
    finish(1);
  };

  const onExit = (me: ChildProcess, code: number | null, signal: NodeJS.Signals | null) => {
    if (me !== child) return;
    child = undefined;
    st.daemonPid = undefined;
    st.lastExit = `${new Date().toISOString()} code=${code} signal=${signal}`;
    if (stopping || code === 0) {
      st.state = 'stopped';
      save();
      return finish(0);
    }
    const why = signal ? `killed by ${signal}` : `exited with code ${code}`;
    if (code === EXIT_UNRECOVERABLE) return broken(`the cluster daemon ${why}: it cannot recover its state (see ${logFile})`);
    const now = Date.now();
    crashes.push(now);
    while (crashes.length && crashes[0]! < now - CRASH_WINDOW_MS) crashes.shift();
    if (crashes.length >= CRASH_LIMIT) return broken(`the cluster daemon crashed ${crashes.length} times within ${CRASH_WINDOW_MS / 1000} s (last: ${why}; see ${logFile})`);
    const delay = backoff.next(now - startedAt);
    st.restarts++;
    st.state = 'restarting';
    save();
    log(`the cluster daemon ${why}; restart ${st.restarts} in ${delay} ms`);
    setTimeout(launch, delay);
  };

  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log(`${sig}: stopping the cluster daemon`);
    if (!child) return finish(0);
    child.kill('SIGTERM');
    setTimeout(() => child?.kill('SIGKILL'), 5000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  launch();
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
