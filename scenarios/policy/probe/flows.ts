// Flows as evidence: a watcher that polls every node agent's recent flows (GET /v1/flows) and hands
// each flow of a registered connection (protocol, addresses, ports) to whoever waits for it. A blocked
// probe is confirmed by its drop flow within one poll — milliseconds, not a probe timeout. Only new
// flows count: the first poll of each agent takes its running total as the baseline, and a flow that
// was overwritten in an agent's ring before we read it is counted as missed, never assumed.
import type { Flow } from '../../../agent/observer/flow.js';

export interface FlowSource {
  node: string;
  fetch(last: number): Promise<{ flows: Flow[]; seen: number; capacity: number }>;
}

/** A connection as flows name it, in the direction of its first packet. */
export interface ConnectionKey {
  protocol: 'TCP' | 'UDP';
  srcIp: string;
  srcPort: number;
  dstIp: string;
  dstPort: number;
}

export interface ObservedFlow {
  node: string;
  verdict: Flow['verdict'];
  dropReason?: string;
  direction: string;
  observationPoint?: string;
  /** The flow goes from the destination back to the source (a reply). */
  reverse: boolean;
  tcpFlags?: string[];
  time: string;
}

export interface FlowWatchStats {
  polls: number;
  flowsRead: number;
  /** Flows overwritten in an agent's ring before they could be read. */
  missed: number;
  errors: number;
}

export const keyString = (k: ConnectionKey) => `${k.protocol}|${k.srcIp}|${k.srcPort}|${k.dstIp}|${k.dstPort}`;

function flowKeys(f: Flow): string[] | undefined {
  const l4 = f.l4?.TCP ? { p: 'TCP', f: f.l4.TCP } : f.l4?.UDP ? { p: 'UDP', f: f.l4.UDP } : undefined;
  if (!l4) return undefined;
  const fwd = `${l4.p}|${f.IP.source}|${l4.f.source_port}|${f.IP.destination}|${l4.f.destination_port}`;
  const rev = `${l4.p}|${f.IP.destination}|${l4.f.destination_port}|${f.IP.source}|${l4.f.source_port}`;
  return [fwd, rev];
}

interface Interest {
  flows: ObservedFlow[];
  onFlow: Array<(f: ObservedFlow) => void>;
}

export class FlowWatch {
  readonly stats: FlowWatchStats = { polls: 0, flowsRead: 0, missed: 0, errors: 0 };
  private interests = new Map<string, Interest>();
  private baseline = new Map<string, number>();
  private nextLast = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private inFlight: Promise<void> | undefined;

  constructor(
    private readonly sources: FlowSource[],
    private readonly intervalMs = 20,
  ) {}

  /** Take each agent's baseline (flows before now are never evidence), then poll until stop(). */
  async start(): Promise<void> {
    await Promise.all(
      this.sources.map(async (s) => {
        const r = await s.fetch(1);
        this.baseline.set(s.node, r.seen);
      }),
    );
    this.running = true;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.inFlight;
  }

  /** Start collecting flows of a connection; call before its first packet leaves. */
  watch(k: ConnectionKey): void {
    const key = keyString(k);
    if (!this.interests.has(key)) this.interests.set(key, { flows: [], onFlow: [] });
  }

  /** Stop collecting; returns what was seen. */
  release(k: ConnectionKey): ObservedFlow[] {
    const key = keyString(k);
    const i = this.interests.get(key);
    this.interests.delete(key);
    return i?.flows ?? [];
  }

  flowsOf(k: ConnectionKey): ObservedFlow[] {
    return this.interests.get(keyString(k))?.flows ?? [];
  }

  /** Resolves with the first DROPPED flow of the connection (already seen or still to come). */
  nextDrop(k: ConnectionKey, signal: AbortSignal): Promise<ObservedFlow | undefined> {
    const i = this.interests.get(keyString(k));
    if (!i) return Promise.resolve(undefined);
    const seen = i.flows.find((f) => f.verdict === 'DROPPED');
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => {
      const cb = (f: ObservedFlow) => {
        if (f.verdict !== 'DROPPED') return;
        i.onFlow = i.onFlow.filter((x) => x !== cb);
        resolve(f);
      };
      i.onFlow.push(cb);
      signal.addEventListener('abort', () => {
        i.onFlow = i.onFlow.filter((x) => x !== cb);
        resolve(undefined);
      }, { once: true });
    });
  }

  /** One poll of every agent right now (also used to collect late flows before a verdict). */
  async pollNow(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    this.inFlight = Promise.all(this.sources.map((s) => this.pollSource(s)))
      .then(() => undefined)
      .finally(() => (this.inFlight = undefined));
    return this.inFlight;
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      void this.pollNow().finally(() => this.schedule());
    }, this.intervalMs);
  }

  private async pollSource(s: FlowSource): Promise<void> {
    let prev = this.baseline.get(s.node) ?? 0;
    try {
      let r = await s.fetch(this.nextLast.get(s.node) ?? 64);
      if (r.seen < prev) prev = 0; // the agent restarted: its count started over
      let fresh = r.seen - prev;
      // More happened than we asked for: ask again for all of it, with room for what arrives
      // meanwhile (up to the ring's size).
      for (let i = 0; i < 3 && fresh > r.flows.length && r.flows.length < r.capacity; i++) {
        r = await s.fetch(Math.min(2 * fresh + 256, r.capacity));
        fresh = r.seen - prev;
      }
      const got = Math.min(Math.max(fresh, 0), r.flows.length);
      this.stats.polls++;
      this.stats.flowsRead += got;
      this.stats.missed += Math.max(0, fresh - got);
      this.baseline.set(s.node, r.seen);
      this.nextLast.set(s.node, Math.min(r.capacity, Math.max(128, 3 * fresh)));
      for (const f of r.flows.slice(r.flows.length - got)) this.dispatch(f);
    } catch {
      this.stats.errors++;
    }
  }

  private dispatch(f: Flow): void {
    // A service translation (socket or per-packet LB) is no policy verdict; the forwarded or dropped
    // flow of the translated packet follows it.
    if (f.verdict === 'TRANSLATED') return;
    const keys = flowKeys(f);
    if (!keys) return;
    for (const [n, key] of keys.entries()) {
      const i = this.interests.get(key);
      if (!i) continue;
      const tcp = f.l4?.TCP?.flags ? Object.keys(f.l4.TCP.flags) : undefined;
      const o: ObservedFlow = {
        node: f.node_name,
        verdict: f.verdict,
        ...(f.drop_reason_desc ? { dropReason: f.drop_reason_desc } : {}),
        direction: f.traffic_direction ?? 'TRAFFIC_DIRECTION_UNKNOWN',
        ...(f.trace_observation_point ? { observationPoint: f.trace_observation_point } : {}),
        reverse: n === 1,
        ...(tcp ? { tcpFlags: tcp } : {}),
        time: f.time,
      };
      i.flows.push(o);
      for (const cb of [...i.onFlow]) cb(o);
      return;
    }
  }
}
