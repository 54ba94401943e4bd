// The node's observer (Hubble's observer in cilium-agent): it ingests the datapath's records in batches,
// keeps the last N in a ring, counts Hubble's metrics, parses L7 payloads, and serves GetFlows with
// Hubble's semantics (number, first, follow, since, until, whitelist minus blacklist). Losses are
// counted and shown as LostEvents: the datapath's (ring buffer full: PERF_EVENT_RING_BUFFER), a follower
// that fell behind the ring (HUBBLE_RING_BUFFER).
//
// Cost model: ingesting an event reads a few bytes of the record, counts its metrics signature and
// copies the header into the ring; the metric handlers run per signature when the metrics are read,
// and a Flow object is built only for a reader (a GetFlows call, a follower).
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { decodeEvent } from '../datapath/codec.js';
import { EVENT, EVENT_TYPE, EVENT_V1_SIZE } from '../datapath/constants.js';
import type { DatapathEvent } from '../datapath/types.js';
import type { L7PortSpec, MetricSpec } from '../../lib/hubble-config.js';
import { parseGetFlowsRequest, type GetFlowsResponse, type GetFlowsRequest, type ParsedRequest, type ServerStatus } from './api.js';
import { compileFilters, type FlowPredicate } from './filter.js';
import { decodeFlow, flowUuid, rfc3339Nano, type EndpointResolver, type ServiceResolver, type Flow, type FlowEndpoint, type Layer7Json } from './flow.js';
import { L7Decoder } from './l7-decoder.js';
import { HubbleMetrics, type MetricEvent } from './metrics.js';
import { MONITOR_TYPE, tracePointOfObservationPoint, type LostEventSourceName, type VerdictName } from './names.js';
import { RawRing } from './ring.js';
import { SignatureCounter } from './signature-counter.js';

export interface ObserverOptions {
  nodeName: string;
  capacity: number;
  metrics: MetricSpec[];
  l7Visibility: L7PortSpec[];
  resolve: EndpointResolver;
  ifname?: (ifindex: number) => string | undefined;
  /** The Service behind a datapath service id (flows' source_service / destination_service). */
  service?: ServiceResolver;
  /** Monotonic ns (bpf_ktime_get_ns clock) → wall clock. */
  toDate: (ktimeNs: bigint) => Date;
  /** Monotonic ns now (tests replace it). */
  now?: () => bigint;
}

/** Where a GetFlows stream writes: write() false means "wait for drain()". */
export interface FlowSink {
  write(r: GetFlowsResponse): boolean;
  end(): void;
}

export interface FlowStream {
  /** The client went away or is done. */
  cancel(): void;
  /** The sink can take more after write() returned false. */
  resume(): void;
}

interface Follower {
  pred: FlowPredicate;
  sink: FlowSink;
  cursor: number;
  untilK?: bigint;
  paused: boolean;
  done: boolean;
}

/** Entries a follower processes per event-loop turn before yielding (keeps CNI calls responsive). */
const PUMP_SLICE = 2000;

/** A reused view of one raw record for the metrics (no allocation per event). */
export class RecordMetricEvent implements MetricEvent {
  monitorType = 0; subType = 0; verdict: VerdictName = 'FORWARDED'; proto = 0; tcpFlags = 0; dstPort = 0;
  reply = false; icmpType = 0; icmpCode = 0; direction = 0; dropReason = 0; l7?: Layer7Json;
  buf!: Buffer; off = 0; len = 0;
  private ctxCache?: ReturnType<MetricEvent['context']>;
  constructor(private readonly resolve: EndpointResolver) {}

  load(buf: Buffer, off: number, len: number, l7?: Layer7Json): boolean {
    this.buf = buf; this.off = off; this.len = len; this.l7 = l7; this.ctxCache = undefined;
    const type = buf[off + EVENT.type]!;
    const sub = buf[off + EVENT.subtype]!;
    this.proto = buf[off + EVENT.proto]!;
    this.tcpFlags = buf[off + EVENT.tcpFlags]!;
    this.direction = buf[off + EVENT.direction]!;
    const hasPorts = this.proto === 6 || this.proto === 17;
    this.dstPort = hasPorts ? buf.readUInt16BE(off + EVENT.dport) : 0;
    this.icmpType = buf[off + EVENT.icmpType]!;
    this.icmpCode = buf[off + EVENT.icmpCode]!;
    const isReply = buf[off + EVENT.isReply] !== 0;
    this.dropReason = 0;
    this.subType = 0;
    switch (type) {
      case EVENT_TYPE.trace:
        this.monitorType = MONITOR_TYPE.trace;
        this.subType = len >= EVENT.size ? sub : tracePointOfObservationPoint(sub);
        this.verdict = 'FORWARDED';
        this.reply = isReply;
        return true;
      case EVENT_TYPE.drop:
        this.monitorType = MONITOR_TYPE.drop;
        this.subType = sub;
        this.dropReason = sub;
        this.verdict = 'DROPPED';
        this.reply = false;
        return true;
      case EVENT_TYPE.policyVerdict: {
        this.monitorType = MONITOR_TYPE['policy-verdict'];
        this.verdict = sub ? 'DROPPED' : 'FORWARDED';
        this.dropReason = sub;
        this.reply = false;
        return true;
      }
      case EVENT_TYPE.sockXlate:
        // Socket LB (bpf_sock.c): Hubble's trace-sock events, verdict TRANSLATED.
        this.monitorType = MONITOR_TYPE['trace-sock'];
        this.subType = sub;
        this.verdict = 'TRANSLATED';
        this.reply = isReply;
        return true;
      case EVENT_TYPE.l7Capture:
        if (!l7) return false;
        this.monitorType = MONITOR_TYPE.l7;
        this.verdict = 'FORWARDED';
        this.reply = l7.type === 'RESPONSE';
        return true;
      default:
        return false;
    }
  }

  context() {
    if (this.ctxCache) return this.ctxCache;
    const ip = (o: number) => `${this.buf[o]}.${this.buf[o + 1]}.${this.buf[o + 2]}.${this.buf[o + 3]}`;
    const srcIp = ip(this.off + EVENT.saddr);
    const dstIp = ip(this.off + EVENT.daddr);
    const ep = (addr: string, id: number): FlowEndpoint => ({ ...(id ? { identity: id } : {}), ...this.resolve(addr, id) });
    this.ctxCache = {
      srcIp,
      dstIp,
      source: ep(srcIp, this.buf.readUInt32LE(this.off + EVENT.srcIdentity)),
      destination: ep(dstIp, this.buf.readUInt32LE(this.off + EVENT.dstIdentity)),
    };
    return this.ctxCache;
  }
}

export class Observer {
  readonly ring: RawRing;
  readonly metrics: HubbleMetrics;
  private readonly uuidPrefix = randomBytes(16);
  private readonly followers = new Set<Follower>();
  private readonly view: RecordMetricEvent;
  /** Counts records by signature for the metrics (no context labels configured), else undefined. */
  private readonly sig: SignatureCounter | undefined;
  private readonly l7: L7Decoder;
  private readonly now: () => bigint;
  private readonly startedK: bigint;
  private pumpScheduled = false;
  /** Counters for the agent's own metrics and the status call. */
  readonly stats = { events: 0, l7Unparsed: 0, badRecords: 0, ingestNs: 0n, decodeNs: 0n, flowsBuilt: 0, lost: {} as Record<string, number> };

  constructor(private readonly o: ObserverOptions) {
    // Slots hold a record header; L7 payloads are parsed on ingest and kept as their parsed form.
    this.ring = new RawRing(o.capacity, EVENT.size);
    this.metrics = new HubbleMetrics(o.metrics);
    this.view = new RecordMetricEvent(o.resolve);
    this.sig = this.metrics.contextFree ? new SignatureCounter(this.view, this.metrics) : undefined;
    this.l7 = new L7Decoder(o.l7Visibility);
    this.now = o.now ?? (() => process.hrtime.bigint());
    this.startedK = this.now();
  }

  get followerCount(): number {
    return this.followers.size;
  }

  /** One batch from the native reader: [u32 len][record, padded to 4] ... */
  ingestBatch(batch: Buffer, bytes: number): number {
    const t0 = process.hrtime.bigint();
    let n = 0;
    let off = 0;
    // Lengths read as 32-bit words where the batch is aligned (the native reader's buffer is): no
    // bounds-checked readUInt32LE call per record. The helper writes them in the host's order (LE).
    const words = this.wordsOf(batch);
    while (off + 4 <= bytes) {
      const len = words ? words[off >>> 2]! : batch.readUInt32LE(off);
      if (off + 4 + len > bytes) break;
      this.ingest(batch, off + 4, len);
      off += 4 + ((len + 3) & ~3);
      n++;
    }
    this.stats.events += n;
    this.stats.ingestNs += process.hrtime.bigint() - t0;
    if (n) this.schedulePump();
    return n;
  }

  private batchBuf?: Buffer;
  private batchWords?: Uint32Array;
  private wordsOf(batch: Buffer): Uint32Array | undefined {
    if (batch === this.batchBuf) return this.batchWords;
    this.batchBuf = batch;
    this.batchWords = batch.byteOffset % 4 === 0 && os.endianness() === 'LE' ? new Uint32Array(batch.buffer, batch.byteOffset, batch.length >>> 2) : undefined;
    return this.batchWords;
  }

  /** One record (struct cnilab_event, either layout) at buf[off, off+len). */
  ingestRecord(buf: Buffer, off: number, len: number): void {
    this.stats.events++;
    this.ingest(buf, off, len);
  }

  /** ingestRecord without the events counter (a batch adds its count once). */
  private ingest(buf: Buffer, off: number, len: number): void {
    if (len < EVENT_V1_SIZE) {
      this.stats.badRecords++;
      return;
    }
    // The common case: the metrics count the record by its signature (signature-counter.ts).
    if (this.sig?.count(buf, off, len)) {
      this.ring.pushRecord(buf, off, len);
      return;
    }
    let l7: Layer7Json | undefined;
    if (buf[off + EVENT.type] === EVENT_TYPE.l7Capture) {
      l7 = this.l7.decode(buf, off, len);
      if (!l7) {
        this.stats.l7Unparsed++;
        return;
      }
    }
    if (!this.view.load(buf, off, len, l7)) {
      this.stats.badRecords++;
      return;
    }
    this.metrics.observe(this.view);
    this.ring.pushRecord(buf, off, len, l7);
  }

  /** A decoded event (the fake datapath's path; the real one hands over raw batches). */
  ingestEvent(ev: DatapathEvent, encode: (ev: DatapathEvent) => Buffer): void {
    const b = encode(ev);
    this.ingestRecord(b, 0, b.length);
    this.schedulePump();
  }

  /** Events lost before they reached us (or by us): counted, and put in the stream as a LostEvent. */
  noteLost(source: LostEventSourceName, count: number, cpu?: number): void {
    if (count <= 0) return;
    this.stats.lost[source] = (this.stats.lost[source] ?? 0) + count;
    this.metrics.lostEvents(source, count);
    this.ring.pushLost({ source, count, ...(cpu !== undefined ? { cpu } : {}), ktime: this.now() });
    this.schedulePump();
  }

  private ktimeOfMs(ms: number): bigint {
    // Inverse of toDate, from one sample of both clocks.
    const k = this.now();
    const wall = this.o.toDate(k).getTime();
    return k + BigInt(Math.round(ms - wall)) * 1_000_000n;
  }

  /** The response for ring entry `seq`, or undefined when it is not a flow the predicate admits. */
  private responseAt(seq: number, pred: FlowPredicate, cache?: Map<number, Flow | null>): GetFlowsResponse | undefined {
    const lost = this.ring.lostAt(seq);
    if (lost) {
      const when = this.o.toDate(lost.ktime);
      return {
        lost_events: { source: lost.source, num_events_lost: String(lost.count), ...(lost.cpu !== undefined ? { cpu: lost.cpu } : {}) },
        node_name: this.o.nodeName,
        time: rfc3339Nano(when, lost.ktime),
      };
    }
    let flow = cache?.get(seq);
    if (flow === undefined) {
      flow = this.flowAt(seq) ?? null;
      cache?.set(seq, flow);
    }
    if (!flow || !pred(flow)) return undefined;
    return { flow, node_name: this.o.nodeName, time: flow.time };
  }

  /** Builds the Flow of ring entry `seq` (lazy decoding). */
  flowAt(seq: number): Flow | undefined {
    const rec = this.ring.record(seq);
    if (!rec) return undefined;
    const t0 = process.hrtime.bigint();
    let flow: Flow | undefined;
    try {
      const ev = decodeEvent(rec.buf, rec.off, rec.len);
      flow = decodeFlow(ev, { nodeName: this.o.nodeName, resolve: this.o.resolve, ifname: this.o.ifname, service: this.o.service, toDate: this.o.toDate }, { uuid: flowUuid(this.uuidPrefix, seq), l7: this.ring.l7At(seq) });
      this.stats.flowsBuilt++;
    } catch {
      this.stats.badRecords++;
    }
    this.stats.decodeNs += process.hrtime.bigint() - t0;
    return flow;
  }

  /**
   * GetFlows. Throws RequestError / FilterError (naming the field) on a bad request, before anything is
   * written. History is written synchronously; with follow, new flows follow as they are ingested.
   */
  getFlows(raw: GetFlowsRequest, sink: FlowSink): FlowStream {
    const req: ParsedRequest = parseGetFlowsRequest(raw);
    const pred = compileFilters(req.whitelist, req.blacklist);
    const sinceK = req.sinceMs !== undefined ? this.ktimeOfMs(req.sinceMs) : undefined;
    const untilK = req.untilMs !== undefined ? this.ktimeOfMs(req.untilMs) : undefined;
    const inWindow = (seq: number) => {
      const k = this.ring.ktime(seq);
      return (sinceK === undefined || k >= sinceK) && (untilK === undefined || k <= untilK);
    };
    const history: GetFlowsResponse[] = [];
    const { first: firstSeq, next } = { first: this.ring.first, next: this.ring.next };
    // Without since, follow alone starts at "now" (Hubble: --follow without --last shows only new flows).
    const wantHistory = req.number > 0 || req.sinceMs !== undefined || !req.follow;
    if (wantHistory) {
      if (req.number > 0 && !req.first) {
        let flows = 0;
        for (let s = next - 1; s >= firstSeq && flows < req.number; s--) {
          if (!inWindow(s)) {
            if (sinceK !== undefined && this.ring.ktime(s) < sinceK) break;
            continue;
          }
          const r = this.responseAt(s, pred);
          if (!r) continue;
          history.push(r);
          if ('flow' in r) flows++;
        }
        history.reverse();
      } else {
        let flows = 0;
        for (let s = firstSeq; s < next; s++) {
          if (!inWindow(s)) continue;
          const r = this.responseAt(s, pred);
          if (!r) continue;
          history.push(r);
          if ('flow' in r && req.number > 0 && ++flows >= req.number) break;
        }
      }
    }
    const f: Follower = { pred, sink, cursor: next, untilK, paused: false, done: false };
    let i = 0;
    const writeHistory = (): boolean => {
      while (i < history.length) if (!sink.write(history[i++]!)) return false;
      return true;
    };
    const historyDone = writeHistory();
    if (!req.follow || (req.first && req.number > 0)) {
      if (historyDone) {
        f.done = true;
        sink.end();
        return { cancel() {}, resume() {} };
      }
      // The sink is full: finish the history when it drains, then end.
      return {
        cancel: () => { f.done = true; },
        resume: () => { if (!f.done && writeHistory()) { f.done = true; sink.end(); } },
      };
    }
    f.paused = !historyDone;
    this.followers.add(f);
    return {
      cancel: () => {
        f.done = true;
        this.followers.delete(f);
      },
      resume: () => {
        if (f.done) return;
        if (!writeHistory()) return;
        f.paused = false;
        this.schedulePump();
      },
    };
  }

  private schedulePump(): void {
    if (this.pumpScheduled || this.followers.size === 0) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Brings every follower up to date, a slice at a time. */
  private pump(): void {
    const cache = new Map<number, Flow | null>();
    let more = false;
    for (const f of this.followers) {
      if (f.paused || f.done) continue;
      if (f.cursor < this.ring.first) {
        // The ring overwrote entries this follower had not read yet.
        const missed = this.ring.first - f.cursor;
        f.cursor = this.ring.first;
        this.stats.lost.HUBBLE_RING_BUFFER = (this.stats.lost.HUBBLE_RING_BUFFER ?? 0) + missed;
        this.metrics.lostEvents('HUBBLE_RING_BUFFER', missed);
        const k = this.now();
        if (!f.sink.write({ lost_events: { source: 'HUBBLE_RING_BUFFER', num_events_lost: String(missed) }, node_name: this.o.nodeName, time: rfc3339Nano(this.o.toDate(k), k) })) {
          f.paused = true;
          continue;
        }
      }
      const end = Math.min(this.ring.next, f.cursor + PUMP_SLICE);
      while (f.cursor < end) {
        const seq = f.cursor++;
        if (f.untilK !== undefined && this.ring.ktime(seq) > f.untilK) {
          this.finish(f);
          break;
        }
        const r = this.responseAt(seq, f.pred, cache);
        if (r && !f.sink.write(r)) {
          f.paused = true;
          break;
        }
      }
      if (!f.done && !f.paused && f.cursor < this.ring.next) more = true;
    }
    if (more) this.schedulePump();
  }

  private finish(f: Follower): void {
    f.done = true;
    this.followers.delete(f);
    f.sink.end();
  }

  /** Ends follow streams whose `until` has passed (called on a timer by the agent). */
  expireFollowers(): void {
    const k = this.now();
    for (const f of this.followers) if (f.untilK !== undefined && k > f.untilK && f.cursor >= this.ring.next) this.finish(f);
  }

  /** Ends every stream (agent shutdown). */
  close(): void {
    for (const f of [...this.followers]) this.finish(f);
  }

  status(): ServerStatus {
    const lost: Record<string, string> = {};
    for (const [k, v] of Object.entries(this.stats.lost)) lost[k] = String(v);
    return {
      num_flows: String(this.ring.size),
      max_flows: String(this.ring.capacity),
      seen_flows: String(this.ring.next),
      uptime_ns: String(this.now() - this.startedK),
      ...(Object.keys(lost).length ? { lost_events: lost } : {}),
    };
  }
}
