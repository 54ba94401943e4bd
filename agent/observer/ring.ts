// The observer's ring: the last N events of the node, kept as the datapath's raw records (a copy of the
// fixed-size header in one preallocated buffer) so that ingesting an event costs a memcpy, and a Flow is
// built only when somebody reads it. Entries are numbered by a sequence that never repeats, which is
// how a follower knows what it has not seen yet and how much was overwritten before it could read it.
import type { Layer7Json } from './flow.js';
import type { LostEventSourceName } from './names.js';

export interface LostEntry {
  source: LostEventSourceName;
  count: number;
  cpu?: number;
  /** When the loss was noticed (CLOCK_MONOTONIC ns, like the records' ktime). */
  ktime: bigint;
}

export class RawRing {
  readonly slotBytes: number;
  private readonly data: Buffer;
  private readonly lens: Uint16Array;
  /** Side data for the rare entries that are not plain records: lost-event markers, parsed L7. */
  private readonly lost = new Map<number, LostEntry>();
  private readonly l7 = new Map<number, Layer7Json>();
  /** Sequence number the next entry gets; entries [next - size, next) are readable. */
  next = 0;

  constructor(readonly capacity: number, slotBytes: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring capacity must be a whole number ≥ 1, got ${capacity}`);
    this.slotBytes = slotBytes;
    this.data = Buffer.alloc(capacity * slotBytes);
    this.lens = new Uint16Array(capacity);
  }

  get size(): number {
    return Math.min(this.next, this.capacity);
  }

  /** The oldest sequence number still held. */
  get first(): number {
    return this.next - this.size;
  }

  private evict(slot: number, seq: number): void {
    if (seq >= this.capacity) {
      const old = seq - this.capacity;
      if (this.lens[slot] === 0) this.lost.delete(old);
      this.l7.delete(old);
    }
  }

  /** Stores the record's header (first slotBytes bytes); returns its sequence number. */
  pushRecord(buf: Buffer, off: number, len: number, l7?: Layer7Json): number {
    const seq = this.next++;
    const slot = seq % this.capacity;
    this.evict(slot, seq);
    const n = Math.min(len, this.slotBytes);
    buf.copy(this.data, slot * this.slotBytes, off, off + n);
    this.lens[slot] = n;
    if (l7) this.l7.set(seq, l7);
    return seq;
  }

  pushLost(entry: LostEntry): number {
    const seq = this.next++;
    const slot = seq % this.capacity;
    this.evict(slot, seq);
    this.lens[slot] = 0;
    this.lost.set(seq, entry);
    return seq;
  }

  has(seq: number): boolean {
    return seq >= this.first && seq < this.next;
  }

  /** Every record starts with its u64 ktime; a lost-event marker keeps its own. */
  ktime(seq: number): bigint {
    const slot = seq % this.capacity;
    return this.lens[slot] ? this.data.readBigUInt64LE(slot * this.slotBytes) : (this.lost.get(seq)?.ktime ?? 0n);
  }

  /** The stored record, or undefined for a lost-event marker. The view is only valid until the slot is reused. */
  record(seq: number): { buf: Buffer; off: number; len: number } | undefined {
    const slot = seq % this.capacity;
    const len = this.lens[slot]!;
    return len ? { buf: this.data, off: slot * this.slotBytes, len } : undefined;
  }

  lostAt(seq: number): LostEntry | undefined {
    return this.lost.get(seq);
  }

  l7At(seq: number): Layer7Json | undefined {
    return this.l7.get(seq);
  }
}
