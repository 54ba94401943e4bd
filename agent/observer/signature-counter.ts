// Hubble's metrics counted by record signature: the ingest path of every event only counts how many
// records of each signature it saw, and the metric handlers run once per signature, with that count,
// when the registry is read (a scrape) — instead of once per event.
//
// Why: at a connection storm's 70–260k events/s, running every handler on every record (the reused view
// filled from the record, then seven handlers deciding and bumping their series) was most of the
// agent's CPU per connection. A storm's records fall into a few dozen signatures (the points a
// connection's packets pass, their TCP flags, the server port), so counting them costs two Map
// increments per record, and the handlers' work per scrape is per signature, not per event.
//
// A signature holds exactly the record fields the handlers without context labels read, through the
// view's load(): type, sub-type, layout (v1/v2: the trace sub-type mapping), protocol, TCP flags (TCP
// only), is_reply, and the destination port (TCP/UDP) or ICMP type and code (ICMPv4). Two fields are
// left out where no such handler reads them, which keeps a storm's signatures few: the port of a reply
// trace (port-distribution counts requests only; a reply's destination port is the client's ephemeral
// one, a new signature per connection) and the direction (only context labels and the HTTP reporter
// read it). The signature-counter test runs both paths over the same records and compares every series.
// Records with a payload to parse (L7) and a configuration with context labels (they need the addresses
// and endpoints of each record) take the per-event path.
import { EVENT, EVENT_TYPE, EVENT_V1_SIZE } from '../datapath/constants.js';
import type { HubbleMetrics, MetricEvent } from './metrics.js';

/** A view that can be (re)loaded from a raw record, as the observer's RecordMetricEvent. */
export interface LoadableMetricEvent extends MetricEvent {
  load(buf: Buffer, off: number, len: number): boolean;
}

/** Distinct signatures held between two scrapes before they are folded into the metrics anyway (a pod
 *  sending to every port with every flag must not grow the table without bound). */
const MAX_PENDING = 16384;

export class SignatureCounter {
  // The pending counts live in an open-addressing table of typed arrays (linear probing, at most half
  // full): a record costs one hash and, in a storm, one or two probes. The two nested Maps this replaces
  // (get, get, set per record) were a third of the ingest time (decode-bench --synthetic profile).
  private readonly bits: number;
  private readonly keyLo: Int32Array;
  /** The high half of the key; -1 marks a free slot (a real one is 0..65535). */
  private readonly keyHi: Int32Array;
  private readonly counts: Float64Array;
  /** Slots in use, in the order they were taken: what a flush walks and frees. */
  private readonly used: Int32Array;
  private size = 0;
  /** Times the pending counts were folded into the metrics (scrapes and a full table). */
  flushes = 0;
  private readonly rec = Buffer.alloc(EVENT.size);

  constructor(
    private readonly view: LoadableMetricEvent,
    private readonly metrics: HubbleMetrics,
    private readonly maxPending = MAX_PENDING,
  ) {
    if (!Number.isInteger(maxPending) || maxPending < 1) throw new RangeError(`maxPending must be a whole number ≥ 1, got ${maxPending}`);
    this.bits = Math.max(4, Math.ceil(Math.log2(2 * maxPending)));
    const slots = 1 << this.bits;
    this.keyLo = new Int32Array(slots);
    this.keyHi = new Int32Array(slots).fill(-1);
    this.counts = new Float64Array(slots);
    this.used = new Int32Array(maxPending);
    metrics.beforeCollect(() => this.flush());
  }

  /** Counts one record; false when it is not one this path counts (L7 capture, unknown type): the
   *  caller takes the per-event path for it. */
  count(buf: Buffer, off: number, len: number): boolean {
    const type = buf[off + EVENT.type]!;
    const trace = type === EVENT_TYPE.trace || type === EVENT_TYPE.sockXlate;
    if (!trace && type !== EVENT_TYPE.drop && type !== EVENT_TYPE.policyVerdict) return false;
    const proto = buf[off + EVENT.proto]!;
    const reply = buf[off + EVENT.isReply] !== 0 ? 1 : 0;
    // 3 + 8 + 1 + 1 + 8 + 8 bits: a small integer (V8 Smi), no allocation for the key.
    const lo = type | (buf[off + EVENT.subtype]! << 3) | ((len >= EVENT.size ? 1 : 0) << 11) | (reply << 12) | (proto << 13) | ((proto === 6 ? buf[off + EVENT.tcpFlags]! : 0) << 21);
    let hi = 0;
    if (proto === 6 || proto === 17) hi = reply && trace ? 0 : (buf[off + EVENT.dport]! << 8) | buf[off + EVENT.dport + 1]!;
    else if (proto === 1) hi = (buf[off + EVENT.icmpType]! << 8) | buf[off + EVENT.icmpCode]!;
    const mask = (1 << this.bits) - 1;
    let slot = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b) >>> (32 - this.bits);
    for (;;) {
      const h = this.keyHi[slot]!;
      if (h === -1) break;
      if (h === hi && this.keyLo[slot] === lo) {
        this.counts[slot]!++;
        return true;
      }
      slot = (slot + 1) & mask;
    }
    this.keyLo[slot] = lo;
    this.keyHi[slot] = hi;
    this.counts[slot] = 1;
    this.used[this.size++] = slot;
    if (this.size >= this.maxPending) this.flush();
    return true;
  }

  /** Runs the handlers once per signature seen since the last flush, with its count. */
  flush(): void {
    if (this.size === 0) return;
    this.flushes++;
    const r = this.rec;
    for (let i = 0; i < this.size; i++) {
      const slot = this.used[i]!;
      const lo = this.keyLo[slot]!;
      const hi = this.keyHi[slot]!;
      const n = this.counts[slot]!;
      this.keyHi[slot] = -1;
      r.fill(0);
      const type = lo & 7;
      const proto = (lo >>> 13) & 0xff;
      r[EVENT.type] = type;
      r[EVENT.subtype] = (lo >>> 3) & 0xff;
      r[EVENT.isReply] = (lo >>> 12) & 1;
      r[EVENT.proto] = proto;
      r[EVENT.tcpFlags] = (lo >>> 21) & 0xff;
      const len = (lo >>> 11) & 1 ? EVENT.size : EVENT_V1_SIZE;
      if (proto === 6 || proto === 17) r.writeUInt16BE(hi, EVENT.dport);
      else if (proto === 1) {
        r[EVENT.icmpType] = hi >>> 8;
        r[EVENT.icmpCode] = hi & 0xff;
      }
      if (this.view.load(r, 0, len)) this.metrics.observe(this.view, n);
    }
    this.size = 0;
  }
}
