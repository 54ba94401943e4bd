import { describe, expect, it } from 'vitest';
import { RawRing } from './ring.js';

describe('RawRing', () => {
  it('stores the same bytes whether the source is word-aligned (word copy) or not (Buffer.copy)', () => {
    const rec = Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 7 + 3) & 0xff));
    const backing = Buffer.alloc(4 + 64 + 4 + 64 + 3);
    // Aligned: the record 4 bytes into the batch; unaligned: 1 byte into a sliced view (odd byteOffset).
    rec.copy(backing, 4);
    const odd = backing.subarray(1);
    rec.copy(odd, 72);
    const ring = new RawRing(4, 64);
    const a = ring.pushRecord(backing, 4, 64);
    const b = ring.pushRecord(odd, 72, 64);
    const c = ring.pushRecord(odd, 72, 60); // a shorter record (an older layout)
    for (const seq of [a, b]) {
      const r = ring.record(seq)!;
      expect(Buffer.from(r.buf.subarray(r.off, r.off + r.len))).toEqual(rec);
    }
    const r = ring.record(c)!;
    expect(r.len).toBe(60);
    expect(Buffer.from(r.buf.subarray(r.off, r.off + 60))).toEqual(rec.subarray(0, 60));
    // Wrapping around overwrites the oldest slot.
    ring.pushRecord(backing, 4, 64);
    ring.pushRecord(backing, 4, 64);
    expect(ring.has(a)).toBe(false);
    expect(ring.first).toBe(1);
  });
});
