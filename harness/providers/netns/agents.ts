// Supervision of the per-node agents (with the cnilab CNI): one agent process per node, started in
// the node's network namespace and restarted when it dies, as kubelet restarts a DaemonSet pod:
// after an exponential backoff, so an agent that cannot start (a broken build, an unreadable
// cluster file) is retried a few times a minute rather than five times a second.
import { existsSync } from 'node:fs';
import { start, type Background } from '../../exec/run.js';
import type { ClusterSpec, NodeSpec } from '../../cluster/spec.js';
import { netnsNames, paths, processMarker } from '../../cluster/names.js';
import { distJs } from '../../paths.js';
import { Backoff, DEFAULT_BACKOFF, type BackoffOptions } from '../../exec/backoff.js';

interface AgentProcess {
  node: NodeSpec;
  proc?: Background;
  restarts: number;
  startedAt?: string;
  startedAtMs?: number;
  lastExit?: string;
  backoff: Backoff;
  /** The delay chosen before the last restart. */
  lastDelayMs?: number;
}

export class AgentSupervisor {
  private agents: AgentProcess[];
  private stopped = false;
  private log: (m: string) => void;

  constructor(
    private spec: ClusterSpec,
    opts: { log?: (m: string) => void; backoff?: BackoffOptions } = {},
  ) {
    this.log = opts.log ?? console.log;
    this.agents = spec.nodes.map((node) => ({ node, restarts: 0, backoff: new Backoff(opts.backoff ?? DEFAULT_BACKOFF) }));
  }

  async start(): Promise<void> {
    for (const a of this.agents) this.launch(a);
  }

  private launch(a: AgentProcess): void {
    if (this.stopped) return;
    const argv = [process.execPath, distJs('agent/main'), processMarker(this.spec.name), `--node=${a.node.name}`];
    const proc = start(argv, { netns: netnsNames.node(this.spec.name, a.node.name) });
    a.proc = proc;
    a.startedAt = new Date().toISOString();
    a.startedAtMs = Date.now();
    proc.child.stdout?.on('data', (b: Buffer) => this.log(`agent ${a.node.name}: ${b.toString().trimEnd()}`));
    proc.child.stderr?.on('data', (b: Buffer) => this.log(`agent ${a.node.name}: ${b.toString().trimEnd()}`));
    void proc.exited.then(({ code, signal }) => {
      a.lastExit = `${new Date().toISOString()} code=${code} signal=${signal}`;
      if (this.stopped) return;
      const delay = a.backoff.next(Date.now() - (a.startedAtMs ?? 0));
      a.lastDelayMs = delay;
      a.restarts++;
      this.log(`agent ${a.node.name} exited (code ${code}, signal ${signal}); restarting in ${delay} ms`);
      setTimeout(() => this.launch(a), delay);
    });
  }

  status(): Array<{ node: string; pid?: number; restarts: number; lastDelayMs?: number; startedAt?: string; lastExit?: string; socket: boolean }> {
    return this.agents.map((a) => ({
      node: a.node.name,
      pid: a.proc?.child.pid,
      restarts: a.restarts,
      lastDelayMs: a.lastDelayMs,
      startedAt: a.startedAt,
      lastExit: a.lastExit,
      socket: existsSync(paths.agentSocket(this.spec.name, a.node.name)),
    }));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.agents.map((a) => a.proc?.stop(2000)));
  }
}
