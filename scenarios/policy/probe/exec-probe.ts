// A probe through a provider's exec (pods/exec over WebSocket on a cluster from a kubeconfig): the
// connectivity suite's probe (cnilab-whoami: connect, and read the responder's hostname) run inside the
// source pod, its result turned into the prober's observation. Used where the prober cannot open
// sockets in the pods' namespaces itself (any provider but netns). No source port is chosen (the pod's
// kernel picks it) and no flows are watched: a block's evidence is the timeout or the refusal, and the
// step says that drop flows could not confirm it.
//
// Batched: the requests from one pod that arrive together (the prober hands a step's probes out at
// once) share one exec of `agnhost cnilab-whoami-many`, which dials every target at once, each with its
// own timeout, and prints per target what cnilab-whoami would have exited with and printed. One exec
// per probe (one Node.js start-up each) made the policy suite ~18x slower through kubeconfig than
// through netns.
import type { Provider } from '../../../harness/providers/common/provider.js';
import { probeResultOf, probeWrapperTimeoutMs, type ProbeOptions, type ProbeResult } from '../../../harness/traffic/probe.js';
import { execThrough } from '../../framework/provider-access.js';
import type { ProbeObservation, ProbeRequest } from './prober.js';

/** Targets per exec at most (a pod's whole share of a step is usually below this). */
const MAX_BATCH = 64;
/** How long requests are gathered before their execs start. */
const GATHER_MS = 5;

/** "ns/name" of a pod source; node and external sources have no exec path here. */
function podOf(key: string): { namespace: string; name: string } {
  const m = /^([^/]+)\/([^/]+)$/.exec(key);
  if (!m || m[1] === 'node' || m[1] === 'external') throw new Error(`${key}: only pods can be probed from through this provider`);
  return { namespace: m[1]!, name: m[2]! };
}

const goMs = (ms: number) => `${Math.max(0, Math.round(ms))}ms`;

interface Waiting {
  opts: ProbeOptions;
  resolve: (r: ProbeResult) => void;
}

/** Gathers probes per source pod and runs each pod's batch as one exec. */
class ExecBatcher {
  private waiting = new Map<string, Waiting[]>();
  private timer?: NodeJS.Timeout;

  constructor(private provider: Provider, private timeoutMs: number) {}

  probe(podKey: string, opts: ProbeOptions): Promise<ProbeResult> {
    return new Promise((resolve) => {
      const list = this.waiting.get(podKey) ?? [];
      list.push({ opts, resolve });
      this.waiting.set(podKey, list);
      if (list.length >= MAX_BATCH) this.flushPod(podKey);
      else this.timer ??= setTimeout(() => this.flushAll(), GATHER_MS);
    });
  }

  private flushAll(): void {
    this.timer = undefined;
    for (const key of [...this.waiting.keys()]) this.flushPod(key);
  }

  private flushPod(podKey: string): void {
    const batch = this.waiting.get(podKey) ?? [];
    this.waiting.delete(podKey);
    if (batch.length) void this.run(podKey, batch);
  }

  private async run(podKey: string, batch: Waiting[]): Promise<void> {
    const targets = batch.map((w) => `${w.opts.protocol}:${w.opts.host}:${w.opts.port}`);
    const argv = ['agnhost', 'cnilab-whoami-many', `--timeout=${goMs(this.timeoutMs)}`, ...targets];
    // Every target is dialled at once: the batch takes one probe's time, plus the process's start-up.
    const r = await execThrough(this.provider, { pod: podOf(podKey) }, argv, probeWrapperTimeoutMs({ timeoutMs: this.timeoutMs }) + 5000);
    const lines = r.code === 0 ? parseLines(r.stdout, targets) : undefined;
    batch.forEach((w, i) => {
      const line = lines?.[i];
      // The tool did not run, or answered something else than one line per target: each probe is the
      // exec's failure (an error, never a block).
      const one = line ?? { code: r.code === 0 ? 127 : r.code, stdout: '', stderr: r.stderr || `cnilab-whoami-many gave no line for ${targets[i]}\n`, ms: r.durationMs };
      w.resolve(probeResultOf(w.opts, { code: one.code, stdout: one.stdout, stderr: one.stderr, timedOut: false, durationMs: one.ms, argv: [...argv.slice(0, 3), targets[i]!] }));
    });
  }
}

/** cnilab-whoami-many's lines, in target order; undefined unless each target has its line. */
function parseLines(stdout: string, targets: string[]): Array<{ code: number; stdout: string; stderr: string; ms: number }> | undefined {
  const out = [];
  const lines = stdout.split('\n').filter((l) => l.trim());
  if (lines.length !== targets.length) return undefined;
  for (let i = 0; i < lines.length; i++) {
    try {
      const l = JSON.parse(lines[i]!) as { target?: unknown; code?: unknown; stdout?: unknown; stderr?: unknown; ms?: unknown };
      if (l.target !== targets[i] || typeof l.code !== 'number' || typeof l.stdout !== 'string' || typeof l.stderr !== 'string') return undefined;
      out.push({ code: l.code, stdout: l.stdout, stderr: l.stderr, ms: typeof l.ms === 'number' ? l.ms : 0 });
    } catch {
      return undefined;
    }
  }
  return out;
}

export function execAttempt(provider: Provider, timeoutMs: number): (req: ProbeRequest) => Promise<ProbeObservation> {
  const batcher = new ExecBatcher(provider, timeoutMs);
  return async (req) => {
    const opts: ProbeOptions = { netns: '', agnhost: 'agnhost', protocol: req.protocol === 'TCP' ? 'tcp' : 'udp', host: req.to.ip, port: req.port, timeoutMs, identify: true };
    podOf(req.from.key); // node and external sources: thrown here, as before batching
    const r = await batcher.probe(req.from.key, opts);
    const base = { sourcePort: 0, ms: r.durationMs, flows: [] };
    switch (r.outcome) {
      case 'ok':
        return { ...base, connected: true, evidence: r.responder === req.to.answer ? 'answer' : 'wrong-answer', ...(r.responder !== undefined ? { answer: r.responder } : {}) };
      case 'timeout':
        return { ...base, connected: false, evidence: 'timeout' };
      case 'refused':
        return { ...base, connected: false, evidence: 'refused' };
      case 'other':
        // Unreachable, reset: the network said no in another way; still not connected.
        return { ...base, connected: false, evidence: 'unreachable', error: (r.failure ?? 'OTHER') + (r.stderr ? `: ${r.stderr.trim().split('\n')[0]}` : '') };
      default:
        return { ...base, connected: undefined, evidence: 'error', error: `${r.command.join(' ')}: exit ${r.exitCode}${r.stderr ? `: ${r.stderr.trim().split('\n').slice(-1)[0]}` : ''}` };
    }
  };
}
