// Keeps every vCPU out of its idle state for the duration of a measurement: one busy loop per CPU at
// the lowest priority (nice 19), so any real work preempts it at once. Why: on this machine (a
// Firecracker guest, no cpuidle driver) an idle vCPU halts and the next wakeup costs a VM exit, so a
// latency-bound benchmark with one transaction in flight (TCP_CRR) runs faster whenever something
// else keeps the CPUs busy — an agent decoding events included. With every CPU kept awake for every
// configuration, that effect is the same for all of them and the ratios compare the paths.
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';

export interface Awake {
  stop(): Promise<void>;
}

/** The loops end with this process too (they spin only while it lives): a crash or Ctrl-C leaks none. */
export function keepCpusAwake(cpus = availableParallelism()): Awake {
  const loops: ChildProcess[] = [];
  for (let i = 0; i < cpus; i++) {
    loops.push(spawn('taskset', ['-c', String(i), 'nice', '-n', '19', 'sh', '-c', `while kill -0 ${process.pid} 2>/dev/null; do :; done`], { stdio: 'ignore' }));
  }
  return {
    async stop() {
      await Promise.all(
        loops.map(
          (p) =>
            new Promise<void>((resolve) => {
              if (p.exitCode !== null || p.signalCode !== null) return resolve();
              p.once('exit', () => resolve());
              p.kill('SIGKILL');
            }),
        ),
      );
    },
  };
}
