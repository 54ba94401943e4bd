// One container's life in the embedded runtime, as kubelet runs it: started, watched, and when it
// exits restarted or not per the pod's restartPolicy (Always; OnFailure for a non-zero exit; Never),
// with a doubling back-off between restarts (1 s, 2 s, ... 60 s; reset after a minute of running)
// shown as CrashLoopBackOff, restartCount, and the last termination in lastState. The pod's status
// is derived from its containers (podStatusOf): Running, or Succeeded/Failed once all are done.
export interface StartedContainer {
  /** `message` says why when the container did not end by itself (its workload process died). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; message?: string }>;
  stop(): Promise<void>;
}

type State =
  | { running: { startedAt: string } }
  | { waiting: { reason: string; message?: string } }
  | { terminated: { exitCode: number; signal?: number; reason: string; startedAt: string; finishedAt: string; message?: string } };

const BACKOFF = { firstMs: 1000, maxMs: 60_000, resetAfterMs: 60_000 };
const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGSEGV: 11, SIGTERM: 15, SIGABRT: 6 };

export class ContainerRunner {
  restartCount = 0;
  state: State = { waiting: { reason: 'ContainerCreating' } };
  lastState?: State;
  private current?: StartedContainer;
  private stopping = false;
  private backoffMs = BACKOFF.firstMs;
  private timer?: NodeJS.Timeout;

  constructor(
    readonly name: string,
    readonly image: string,
    private restartPolicy: 'Always' | 'OnFailure' | 'Never',
    private launch: () => Promise<StartedContainer>,
    private onChange: () => void,
  ) {}

  /** Start the container the first time; throws when it cannot be started at all. */
  async start(): Promise<void> {
    await this.run();
  }

  private async run(): Promise<void> {
    const started = Date.now();
    const startedAt = now();
    this.current = await this.launch();
    if (this.stopping) return void (await this.current.stop());
    this.state = { running: { startedAt } };
    this.onChange();
    void this.current.exited.then(({ code, signal, message }) => this.exited(code, signal, startedAt, Date.now() - started, message));
  }

  private exited(code: number | null, signal: NodeJS.Signals | null, startedAt: string, ranMs: number, message?: string): void {
    if (this.stopping) return;
    const exitCode = code ?? 128 + (signal ? (SIGNALS[signal] ?? 0) : 0);
    const terminated: State = {
      terminated: { exitCode, ...(signal ? { signal: SIGNALS[signal] ?? 0 } : {}), reason: exitCode === 0 ? 'Completed' : 'Error', startedAt, finishedAt: now(), ...(message ? { message } : {}) },
    };
    const restart = this.restartPolicy === 'Always' || (this.restartPolicy === 'OnFailure' && exitCode !== 0);
    if (!restart) {
      this.state = terminated;
      this.onChange();
      return;
    }
    if (ranMs > BACKOFF.resetAfterMs) this.backoffMs = BACKOFF.firstMs;
    this.lastState = terminated;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF.maxMs);
    this.state = { waiting: { reason: 'CrashLoopBackOff', message: `back-off ${Math.round(delay / 1000)}s restarting failed container=${this.name}` } };
    this.onChange();
    this.timer = setTimeout(() => {
      this.restartCount++;
      this.run().catch((err: Error) => {
        this.state = { waiting: { reason: 'RunContainerError', message: err.message } };
        this.onChange();
      });
    }, delay);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    await this.current?.stop().catch(() => undefined);
  }

  status(): Record<string, unknown> {
    const ready = 'running' in this.state;
    return { name: this.name, image: this.image, ready, started: ready, restartCount: this.restartCount, state: this.state, ...(this.lastState ? { lastState: this.lastState } : {}) };
  }
}

/** A pod's phase and conditions from its containers' states, as kubelet computes them. */
export function podStatusOf(containers: ContainerRunner[]): { phase: string; conditions: Array<Record<string, string>>; containerStatuses: Array<Record<string, unknown>> } {
  const statuses = containers.map((c) => c.status());
  const terminated = containers.map((c) => ('terminated' in c.state ? c.state.terminated : undefined));
  let phase = 'Running';
  if (terminated.every((t) => t !== undefined)) phase = terminated.every((t) => t!.exitCode === 0) ? 'Succeeded' : 'Failed';
  else if (containers.every((c) => 'waiting' in c.state && c.restartCount === 0 && c.state.waiting.reason === 'ContainerCreating')) phase = 'Pending';
  const allReady = statuses.every((s) => s.ready);
  const t = now();
  const cond = (type: string, ok: boolean, reason?: string) => ({ type, status: ok ? 'True' : 'False', lastProbeTime: '', lastTransitionTime: t, ...(ok || !reason ? {} : { reason }) });
  const doneReason = phase === 'Succeeded' || phase === 'Failed' ? 'PodCompleted' : 'ContainersNotReady';
  return {
    phase,
    conditions: [cond('PodReadyToStartContainers', true), cond('Initialized', true), cond('Ready', allReady, doneReason), cond('ContainersReady', allReady, doneReason), cond('PodScheduled', true)],
    containerStatuses: statuses,
  };
}
