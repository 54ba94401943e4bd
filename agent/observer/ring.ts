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
  /** data as 32-bit words, and the last source batch as words: a 64-byte header is copied as 16 word
   *  moves, which costs a fraction of Buffer.copy's per-call overhead at a million records a second. */
  private readonly words: Uint32Array | undefined;
  private srcBuf: Buffer | undefined;
  private srcWords: Uint32Array | undefined;
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
    this.words = this.data.byteOffset % 4 === 0 && slotBytes % 4 === 0 ? new Uint32Array(this.data.buffer, this.data.byteOffset, this.data.length / 4) : undefined;
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
    // Most rings never hold a lost marker or an L7 record: no Map lookups per push then.
    if (seq >= this.capacity && (this.lost.size !== 0 || this.l7.size !== 0)) {
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
    const dst = slot * this.slotBytes;
    if (this.words && ((buf.byteOffset + off) | n) % 4 === 0) {
      if (this.srcBuf !== buf) {
        this.srcBuf = buf;
        this.srcWords = new Uint32Array(buf.buffer, buf.byteOffset - (buf.byteOffset % 4), (buf.length + (buf.byteOffset % 4)) >>> 2);
      }
      const src = this.srcWords!;
      const s = (buf.byteOffset % 4 + off) >>> 2;
      const d = dst >>> 2;
      for (let i = 0; i < n >>> 2; i++) this.words[d + i] = src[s + i]!;
    } else buf.copy(this.data, dst, off, off + n);
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
