// A pod container that is a plain process (not agnhost): started in the pod's network namespace, its
// stdout and stderr written to the CRI log file that pods/log reads. Its `exited` resolves only once
// that log is complete. The process's 'exit' event is not enough: it can come while output the
// process wrote just before exiting still sits in the pipes, so a client that waited for phase
// Succeeded and then read the log found it empty (CI saw `kubectl logs done` return nothing).
// So: on exit, the rest of the container's process group goes too (as everything in a pid namespace
// dies with its init), the pipes then end, and the log file is flushed and closed before `exited`.
import type { Readable } from 'node:stream';
import { start, type Background } from '../../exec/run.js';
import { ContainerLogWriter } from './container-log.js';
import type { StartedContainer } from './containers.js';

export interface ContainerProcessOptions {
  /** The pod's network namespace (a name under /run/netns or a path); none runs in the caller's. */
  netns?: string;
  env: Record<string, string>;
  /** The pod's log directory and the container's name: the log is <logDir>/<container>.log. */
  logDir: string;
  container: string;
}

/** Resolves once the stream has ended or closed (or failed): nothing more will come from it. */
function drained(stream: Readable | null | undefined): Promise<void> {
  if (!stream || stream.destroyed || stream.readableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
    stream.once('error', () => resolve());
  });
}

export function startContainerProcess(argv: string[], opts: ContainerProcessOptions): StartedContainer & { proc: Background } {
  const proc = start(argv, { netns: opts.netns, env: opts.env });
  const log = new ContainerLogWriter(opts.logDir, opts.container);
  log.attach(proc.child.stdout, 'stdout');
  log.attach(proc.child.stderr, 'stderr');
  const outputDone = Promise.all([drained(proc.child.stdout), drained(proc.child.stderr)]);
  const exited = proc.exited.then(async (r) => {
    // A background process the container left would hold the pipes open: it dies with the container.
    if (proc.child.pid !== undefined) {
      try {
        process.kill(-proc.child.pid, 'SIGKILL');
      } catch {
        /* the group is gone already */
      }
    }
    await outputDone;
    await log.close();
    return r;
  });
  return { proc, exited, stop: () => proc.stop() };
}
