// The relay (what hubble-relay is to Hubble): one GetFlows endpoint for the whole cluster. It asks every
// node's agent, merges their answers in time order, and says which nodes could not answer (a
// node_status NODE_UNAVAILABLE event: a node that is down is not a node with no flows).
//
// Without follow, each node returns its last (or first) N matching flows and the relay keeps the last
// (first) N of the merge: filters are applied on the nodes, before `number`. With follow, the history
// is taken the same way, then each node is followed from the newest flow of that history on (flows
// seen twice are recognised by their UUID), through a sort buffer that holds a flow until it is older
// than the drain timeout or the buffer is full, as hubble-relay's does. A follower that does not keep
// up loses the oldest buffered flows, reported as a LostEvent (OBSERVER_EVENTS_QUEUE).
import { getFlowsStream, type FlowStreamClient } from '../../agent/api/flow-stream.js';
import { parseGetFlowsRequest, type GetFlowsRequest, type GetFlowsResponse, type ParsedRequest, type ServerStatus } from '../../agent/observer/api.js';
import { compileFilters } from '../../agent/observer/filter.js';

export interface RelayNode {
  name: string;
  socket: string;
}

export interface RelayOptions {
  /** Flows held for ordering before the oldest is sent anyway (hubble-relay: sort-buffer-len-max). */
  sortBufferMax?: number;
  /** How long a flow waits in the sort buffer at most (hubble-relay: sort-buffer-drain-timeout). */
  drainTimeoutMs?: number;
  /** Responses kept for a slow client before the oldest are dropped and reported. */
  pendingMax?: number;
  connectTimeoutMs?: number;
  /** Follow mode: how often a lost node is tried again. */
  retryMs?: number;
}

export interface RelaySink {
  write(r: GetFlowsResponse): boolean;
  end(): void;
}

const now = () => new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z');

function timeOf(r: GetFlowsResponse): string {
  return r.time;
}

function unavailable(node: string, err: unknown): GetFlowsResponse {
  const e = err as NodeJS.ErrnoException & { body?: { error?: { message?: string } } };
  const message = e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? `agent of ${node} is not reachable (${e.code})` : (e.message ?? String(err));
  return { node_status: { state_change: 'NODE_UNAVAILABLE', node_names: [node], message }, time: now() };
}

/** History of one node (a non-follow GetFlows), or why there is none. */
async function nodeHistory(node: RelayNode, req: GetFlowsRequest, timeoutMs: number): Promise<{ responses: GetFlowsResponse[]; error?: unknown }> {
  const responses: GetFlowsResponse[] = [];
  const s = getFlowsStream(node.socket, '/v1/observer/flows', { ...req, follow: false }, (r) => responses.push(r), { connectTimeoutMs: timeoutMs });
  try {
    await s.done;
    return { responses };
  } catch (error) {
    return { responses, error };
  }
}

export class Relay {
  private readonly o: Required<RelayOptions>;

  constructor(private readonly nodes: () => RelayNode[], opts: RelayOptions = {}) {
    this.o = { sortBufferMax: 100, drainTimeoutMs: 1000, pendingMax: 10_000, connectTimeoutMs: 5000, retryMs: 1000, ...opts };
  }

  /** GetFlows over the cluster. Throws RequestError/FilterError (with `field`) before writing anything. */
  getFlows(raw: GetFlowsRequest, sink: RelaySink): { cancel(): void; resume(): void } {
    const req = parseGetFlowsRequest(raw);
    compileFilters(req.whitelist, req.blacklist); // validate here: a bad filter is one 400, not N node errors
    const run = new RelayRun(this.nodes(), req, raw, sink, this.o);
    void run.start();
    return { cancel: () => run.cancel(), resume: () => run.resume() };
  }

  /** Every node's ServerStatus summed, with which nodes answered. */
  async status(): Promise<ServerStatus & { nodes: Array<{ name: string; state: 'NODE_CONNECTED' | 'NODE_UNAVAILABLE'; message?: string; status?: ServerStatus }> }> {
    const { unixJsonRequest } = await import('../exec/unix-http.js');
    const nodes = await Promise.all(
      this.nodes().map(async (n) => {
        try {
          const r = await unixJsonRequest(n.socket, 'GET', '/v1/observer/status', undefined, this.o.connectTimeoutMs);
          if (r.status !== 200) throw new Error(r.body?.error?.message ?? `HTTP ${r.status}`);
          return { name: n.name, state: 'NODE_CONNECTED' as const, status: r.body as ServerStatus };
        } catch (e) {
          return { name: n.name, state: 'NODE_UNAVAILABLE' as const, message: (unavailable(n.name, e) as { node_status: { message?: string } }).node_status.message };
        }
      }),
    );
    const sum = (k: 'num_flows' | 'max_flows' | 'seen_flows') => String(nodes.reduce((a, n) => a + BigInt(n.status?.[k] ?? 0), 0n));
    const down = nodes.filter((n) => n.state !== 'NODE_CONNECTED').map((n) => n.name);
    return {
      num_flows: sum('num_flows'),
      max_flows: sum('max_flows'),
      seen_flows: sum('seen_flows'),
      uptime_ns: String(process.uptime() * 1e9),
      num_connected_nodes: nodes.length - down.length,
      num_unavailable_nodes: down.length,
      ...(down.length ? { unavailable_nodes: down } : {}),
      nodes,
    };
  }
}

/** One GetFlows call through the relay. */
class RelayRun {
  private cancelled = false;
  private paused = false;
  private ended = false;
  private readonly out: GetFlowsResponse[] = [];
  private readonly sortBuf: Array<{ r: GetFlowsResponse; at: number }> = [];
  private readonly streams = new Map<string, FlowStreamClient>();
  private readonly seen = new Set<string>();
  private drainTimer?: NodeJS.Timeout;
  private retryTimers = new Set<NodeJS.Timeout>();
  private droppedForSlowClient = 0;

  constructor(
    private readonly nodes: RelayNode[],
    private readonly req: ParsedRequest,
    private readonly raw: GetFlowsRequest,
    private readonly sink: RelaySink,
    private readonly o: Required<RelayOptions>,
  ) {}

  async start(): Promise<void> {
    const wantHistory = this.req.number > 0 || this.req.sinceMs !== undefined || !this.req.follow;
    const started = now();
    const results = await Promise.all(this.nodes.map((n) => (wantHistory ? nodeHistory(n, this.raw, this.o.connectTimeoutMs) : Promise.resolve({ responses: [] as GetFlowsResponse[] }))));
    if (this.cancelled) return;
    const statuses: GetFlowsResponse[] = [];
    const merged: GetFlowsResponse[] = [];
    results.forEach((res, i) => {
      if ('error' in res && res.error) statuses.push(unavailable(this.nodes[i]!.name, res.error));
      merged.push(...res.responses);
    });
    merged.sort((a, b) => (timeOf(a) < timeOf(b) ? -1 : timeOf(a) > timeOf(b) ? 1 : 0));
    let history = merged;
    if (this.req.number > 0) {
      // Keep N flows; lost-event notices inside the kept window stay with them.
      const flows = merged.filter((r) => 'flow' in r);
      const kept = this.req.first ? flows.slice(0, this.req.number) : flows.slice(-this.req.number);
      if (kept.length) {
        const lo = timeOf(kept[0]!);
        const hi = timeOf(kept[kept.length - 1]!);
        const keep = new Set<GetFlowsResponse>(kept);
        history = merged.filter((r) => keep.has(r) || (!('flow' in r) && timeOf(r) >= lo && timeOf(r) <= hi));
      } else history = merged.filter((r) => !('flow' in r));
    }
    for (const s of statuses) this.emit(s);
    for (const r of history) this.emit(r);
    if (!this.req.follow || (this.req.first && this.req.number > 0)) return this.finish();
    // Follow each node from the newest flow we have shown (or from when we started).
    const newest = history.filter((r) => 'flow' in r).map(timeOf).pop();
    for (const r of history) if ('flow' in r && r.flow.uuid && timeOf(r) === newest) this.seen.add(r.flow.uuid);
    const since = newest ?? (wantHistory ? started : undefined);
    const failed = new Set(statuses.map((s) => ('node_status' in s ? s.node_status.node_names[0]! : '')));
    for (const n of this.nodes) this.follow(n, since, failed.has(n.name));
  }

  private follow(node: RelayNode, since: string | undefined, wasDown: boolean): void {
    if (this.cancelled) return;
    let lastTime = since;
    const req: GetFlowsRequest = { ...this.raw, follow: true, number: 0, first: false, ...(since ? { since } : {}) };
    if (!since) delete req.since;
    const s = getFlowsStream(node.socket, '/v1/observer/flows', req, (r) => {
      if ('flow' in r && r.flow.uuid) {
        if (this.seen.has(r.flow.uuid)) return;
        if (lastTime !== undefined && timeOf(r) === lastTime) this.seen.add(r.flow.uuid);
      }
      lastTime = timeOf(r);
      this.buffer(r);
    }, {
      connectTimeoutMs: this.o.connectTimeoutMs,
      onOpen: () => {
        if (wasDown) this.emit({ node_status: { state_change: 'NODE_CONNECTED', node_names: [node.name] }, time: now() });
      },
    });
    this.streams.set(node.name, s);
    s.done.then(
      () => this.lost(node, new Error(`the agent of ${node.name} ended the stream`), lastTime),
      (e) => this.lost(node, e, lastTime),
    );
  }

  private lost(node: RelayNode, err: unknown, lastTime: string | undefined): void {
    if (this.cancelled || this.ended) return;
    const untilPassed = this.req.untilMs !== undefined && Date.now() > this.req.untilMs;
    if (untilPassed) {
      this.streams.delete(node.name);
      if (this.streams.size === 0) this.finish();
      return;
    }
    this.emit(unavailable(node.name, err));
    const t = setTimeout(() => {
      this.retryTimers.delete(t);
      this.follow(node, lastTime, true);
    }, this.o.retryMs);
    this.retryTimers.add(t);
  }

  /** Sort buffer: flows wait until they are drainTimeout old or the buffer is full. */
  private buffer(r: GetFlowsResponse): void {
    const at = Date.now();
    const t = timeOf(r);
    let i = this.sortBuf.length;
    while (i > 0 && timeOf(this.sortBuf[i - 1]!.r) > t) i--;
    this.sortBuf.splice(i, 0, { r, at });
    while (this.sortBuf.length > this.o.sortBufferMax) this.emit(this.sortBuf.shift()!.r);
    this.scheduleDrain();
  }

  private scheduleDrain(): void {
    if (this.drainTimer || this.sortBuf.length === 0) return;
    const oldest = Math.min(...this.sortBuf.map((e) => e.at));
    this.drainTimer = setTimeout(() => {
      this.drainTimer = undefined;
      const cut = Date.now() - this.o.drainTimeoutMs;
      // Everything up to the last entry that has waited long enough goes out, in order.
      let last = -1;
      this.sortBuf.forEach((e, i) => {
        if (e.at <= cut) last = i;
      });
      for (const e of this.sortBuf.splice(0, last + 1)) this.emit(e.r);
      this.scheduleDrain();
    }, Math.max(0, oldest + this.o.drainTimeoutMs - Date.now()) + 1);
  }

  private emit(r: GetFlowsResponse): void {
    if (this.cancelled || this.ended) return;
    if (this.paused) {
      this.out.push(r);
      if (this.out.length > this.o.pendingMax) {
        this.out.shift();
        this.droppedForSlowClient++;
      }
      return;
    }
    if (this.droppedForSlowClient > 0) {
      const n = this.droppedForSlowClient;
      this.droppedForSlowClient = 0;
      if (!this.sink.write({ lost_events: { source: 'OBSERVER_EVENTS_QUEUE', num_events_lost: String(n) }, time: now() })) this.paused = true;
    }
    if (!this.sink.write(r)) this.paused = true;
  }

  resume(): void {
    this.paused = false;
    while (!this.paused && this.out.length) {
      const r = this.out.shift()!;
      this.emit(r);
    }
    if (!this.paused && this.pendingEnd) this.finish();
  }

  private pendingEnd = false;

  private finish(): void {
    if (this.ended) return;
    if (this.paused && this.out.length) {
      this.pendingEnd = true;
      return;
    }
    for (const e of this.sortBuf.splice(0)) this.sink.write(e.r);
    this.ended = true;
    this.stopAll();
    this.sink.end();
  }

  cancel(): void {
    this.cancelled = true;
    this.stopAll();
  }

  private stopAll(): void {
    if (this.drainTimer) clearTimeout(this.drainTimer);
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
    for (const s of this.streams.values()) s.cancel();
    this.streams.clear();
  }
}
