// Restart delays for supervised processes (the cluster daemon, node agents, workload hosts): doubling
// from `initialMs` up to `maxMs`, as kubelet's CrashLoopBackOff does, and back to `initialMs` once a
// process has stayed up for `resetAfterMs`. A process that dies at start-up (a corrupt state file, a
// broken build) is then retried a few times a minute instead of five times a second.

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** A run at least this long counts as healthy: the next crash starts over at initialMs. */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 200, maxMs: 10_000, resetAfterMs: 30_000 };

export class Backoff {
  private failures = 0;
  constructor(private readonly opts: BackoffOptions = DEFAULT_BACKOFF) {}

  /** The delay before the next start, given how long the run that just ended lasted. */
  next(ranForMs: number): number {
    if (ranForMs >= this.opts.resetAfterMs) this.failures = 0;
    const delay = Math.min(this.opts.maxMs, this.opts.initialMs * 2 ** Math.min(this.failures, 30));
    this.failures++;
    return delay;
  }

  /** Consecutive failures counted since the last healthy run. */
  get consecutiveFailures(): number {
    return this.failures;
  }
}
