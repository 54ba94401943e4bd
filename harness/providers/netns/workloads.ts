// The pod servers of the embedded cluster run in one workload process per node (host-process.ts),
// never in the cluster daemon: a pod can send anything, and whatever breaks, breaks that node's
// workload process only. This module is the daemon's side: it starts the process (early, with
// prestart), asks it to start and stop containers and keeps their logs; when the process dies, every
// container it hosted has exited (137 and a message naming the workload process: the pod runtime's
// ContainerRunner then restarts them per restartPolicy, as kubelet would), and the process itself is
// started again after a backoff. A container started while the process is down waits for it.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { processMarker } from '../../cluster/names.js';
import { distJs } from '../../paths.js';
import { Backoff, DEFAULT_BACKOFF, type BackoffOptions } from '../../exec/backoff.js';
import type { HostMessage, HostRequest } from '../../traffic/agnhost/host-process.js';
import type { Proto } from '../../traffic/agnhost/context.js';

export interface ContainerSpecForHost {
  netnsPath: string;
  podName: string;
  args: string[];
}

export interface ContainerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why, when it was not the container's own doing (its workload process died). */
  message?: string;
}

export interface WorkloadContainer {
  readonly id: string;
  readonly ports: Array<{ proto: Proto; port: number }>;
  /** Resolves when the container ends: by itself (netexec /exit), or with its workload process. */
  readonly exited: Promise<ContainerExit>;
  /** Log lines so far (the last LOG_CAP). */
  logs(): string[];
  stop(): Promise<void>;
}

interface Entry {
  id: string;
  spec: ContainerSpecForHost;
  logs: string[];
  ports: Array<{ proto: Proto; port: number }>;
  exit: (e: ContainerExit) => void;
  /** Pending until the container first serves. */
  first?: { resolve: () => void; reject: (e: Error) => void };
  onStopped?: () => void;
}

export interface WorkloadProcessStatus {
  node: string;
  pid?: number;
  state: 'idle' | 'starting' | 'running' | 'backoff' | 'stopped';
  restarts: number;
  containers: number;
  lastExit?: string;
  nextStartInMs?: number;
}

const LOG_CAP = 1000;
const STOP_TIMEOUT_MS = 5000;

/** Signal numbers for the exit code a shell would show (128 + n). */
const SIGNO: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };

export class NodeWorkloads {
  private child?: ChildProcess;
  private state: WorkloadProcessStatus['state'] = 'idle';
  private entries = new Map<string, Entry>();
  private backoff: Backoff;
  private startedAt = 0;
  private restarts = 0;
  private lastExit?: string;
  private restartTimer?: NodeJS.Timeout;
  private restartAt?: number;
  private stopping = false;

  constructor(
    private readonly cluster: string,
    readonly node: string,
    private readonly log: (m: string) => void,
    backoff: BackoffOptions = DEFAULT_BACKOFF,
  ) {
    this.backoff = new Backoff(backoff);
  }

  /** Start the process now (it boots while the rest of the cluster is made). */
  prestart(): void {
    if (this.state === 'idle') this.spawn();
  }

  private spawn(): void {
    this.restartTimer = undefined;
    this.restartAt = undefined;
    if (this.stopping) return;
    const child = spawn(process.execPath, [distJs('harness/traffic/agnhost/host-process'), processMarker(this.cluster), `--node=${this.node}`], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.child = child;
    this.state = 'starting';
    this.startedAt = Date.now();
    const out = (b: Buffer) => this.log(`workloads ${this.node}: ${b.toString().trimEnd()}`);
    child.stdout!.on('data', out);
    child.stderr!.on('data', out);
    child.on('message', (m: HostMessage) => this.onMessage(m));
    child.on('error', (e) => this.log(`workloads ${this.node}: ${e.message}`));
    child.on('exit', (code, signal) => this.onExit(child, code, signal));
  }

  private send(req: HostRequest): void {
    if (this.child?.connected) this.child.send(req);
  }

  private onMessage(m: HostMessage): void {
    switch (m.type) {
      case 'ready':
        this.state = 'running';
        for (const e of this.entries.values()) this.send({ op: 'start', id: e.id, ...e.spec });
        return;
      case 'started': {
        const e = this.entries.get(m.id);
        if (!e) return this.send({ op: 'stop', id: m.id }); // stopped while starting
        e.ports = m.ports;
        e.first?.resolve();
        e.first = undefined;
        return;
      }
      case 'startFailed': {
        const e = this.entries.get(m.id);
        if (!e) return;
        this.entries.delete(m.id);
        e.first?.reject(Object.assign(new Error(m.error.message), { name: m.error.name }));
        return;
      }
      case 'stopped':
        return this.entries.get(m.id)?.onStopped?.();
      case 'exited': {
        // The container ended by itself (netexec /exit).
        const e = this.entries.get(m.id);
        if (!e) return;
        this.entries.delete(m.id);
        e.exit({ code: m.code, signal: null });
        return;
      }
      case 'logs':
        for (const [id, line] of m.lines) {
          const e = this.entries.get(id);
          if (!e) continue;
          e.logs.push(line);
          if (e.logs.length > LOG_CAP) e.logs.splice(0, e.logs.length - LOG_CAP);
        }
        return;
    }
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (child !== this.child) return;
    this.child = undefined;
    const ranMs = Date.now() - this.startedAt;
    const finishedAt = new Date().toISOString();
    this.lastExit = `${finishedAt} code=${code} signal=${signal}`;
    if (this.stopping) {
      this.state = 'stopped';
      return;
    }
    const delay = this.backoff.next(ranMs);
    this.restarts++;
    this.state = 'backoff';
    this.restartAt = Date.now() + delay;
    const why = signal ? `killed by ${signal}` : `exited with code ${code}`;
    this.log(`workload process of node ${this.node} ${why} after ${ranMs} ms; its ${this.entries.size} containers have exited; restarting it in ${delay} ms`);
    const message = `the workload process of node ${this.node} ${why}`;
    for (const e of [...this.entries.values()]) {
      if (e.onStopped) {
        e.onStopped(); // being stopped anyway
        continue;
      }
      if (e.first) continue; // not started yet: it starts in the new process
      this.entries.delete(e.id);
      e.exit({ code: code ?? 128 + (SIGNO[signal ?? ''] ?? 0), signal, message });
    }
    this.restartTimer = setTimeout(() => this.spawn(), delay);
  }

  /** Start a container; resolves once it serves, rejects if it cannot start (bad flags, port in use). */
  async startContainer(spec: ContainerSpecForHost): Promise<WorkloadContainer> {
    if (this.stopping) throw new Error(`the workload process of node ${this.node} is stopping`);
    if (this.state === 'idle') this.spawn();
    const id = randomUUID();
    let exit!: (x: ContainerExit) => void;
    const exited = new Promise<ContainerExit>((resolve) => (exit = resolve));
    const e: Entry = { id, spec, logs: [], ports: [], exit };
    const started = new Promise<void>((resolve, reject) => (e.first = { resolve, reject }));
    this.entries.set(id, e);
    if (this.state === 'running') this.send({ op: 'start', id, ...spec });
    await started;
    return {
      id,
      get ports() {
        return e.ports;
      },
      exited,
      logs: () => [...e.logs],
      stop: () => this.stopContainer(e),
    };
  }

  private stopContainer(e: Entry): Promise<void> {
    if (!this.entries.has(e.id)) return Promise.resolve();
    e.first?.reject(new Error('stopped before it started'));
    e.first = undefined;
    if (!this.child?.connected || this.state !== 'running') {
      this.entries.delete(e.id);
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.entries.delete(e.id);
        resolve();
      };
      const timer = setTimeout(done, STOP_TIMEOUT_MS);
      e.onStopped = done;
      this.send({ op: 'stop', id: e.id });
    });
  }

  status(): WorkloadProcessStatus {
    return {
      node: this.node,
      pid: this.child?.pid,
      state: this.state,
      restarts: this.restarts,
      containers: this.entries.size,
      ...(this.lastExit ? { lastExit: this.lastExit } : {}),
      ...(this.restartAt ? { nextStartInMs: Math.max(0, this.restartAt - Date.now()) } : {}),
    };
  }

  /** Stop the process and do not restart it (daemon shutdown). */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    for (const e of this.entries.values()) e.first?.reject(new Error('the cluster is shutting down'));
    this.entries.clear();
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      this.state = 'stopped';
      return;
    }
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  }
}

/** One NodeWorkloads per node of a cluster. */
export class WorkloadSupervisor {
  private nodes = new Map<string, NodeWorkloads>();
  constructor(
    private readonly cluster: string,
    private readonly log: (m: string) => void,
    private readonly backoff: BackoffOptions = DEFAULT_BACKOFF,
  ) {}

  node(name: string): NodeWorkloads {
    let n = this.nodes.get(name);
    if (!n) this.nodes.set(name, (n = new NodeWorkloads(this.cluster, name, this.log, this.backoff)));
    return n;
  }

  status(): WorkloadProcessStatus[] {
    return [...this.nodes.values()].map((n) => n.status());
  }

  async stop(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.stop()));
  }
}
