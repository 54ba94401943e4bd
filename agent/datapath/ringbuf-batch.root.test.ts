// The native batched reader (native/ringbuf_batch.c) against a real BPF ring buffer: a small BPF program
// (bench/bpf/event-gen.bpf.c, run with BPF_PROG_TEST_RUN) fills a ring of the datapath's size with
// numbered records; the reader must hand every one over exactly once, in order, across batches that fill
// up and across the ring's wrap-around, and must give the space back (the producer never finds it full).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../lib/paths.js';
import { BpfObject, mapLookup, progTestRun } from './libbpf.js';
import { u32Key } from './codec.js';
import { BatchRingBuffer, forEachRecord } from './ringbuf-batch.js';
import { EVENT_MAX_SIZE } from './constants.js';

const EVENTS_PER_RUN = 32; // event-gen.bpf.c
const RUNS = 360; // 11 520 records of 72 ring bytes: most of the 1 MiB ring
/** Drains one fill may take at most (~56 records a batch here): a reader that never moves on (its
 *  position not kept) must fail the test, not spin in it forever. */
const MAX_DRAINS = 1000;

describe('batched ring buffer reader', () => {
  let dir: string;
  let obj: BpfObject;
  let produce: () => void;
  let ringFull: () => bigint;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cnilab-test-ringbuf-'));
    const out = join(dir, 'event-gen.o');
    const arch = execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim();
    execFileSync('clang', ['-O2', '-g', '-target', 'bpf', `-I/usr/include/${arch}-linux-gnu`, '-c', resolve(REPO_ROOT, 'bench/bpf/event-gen.bpf.c'), '-o', out]);
    obj = BpfObject.open(out);
    obj.load();
    const prog = obj.programFd('gen');
    produce = () => void progTestRun(prog, Buffer.alloc(64), undefined, RUNS);
    ringFull = () => mapLookup(obj.mapFd('gen_counters'), u32Key(1), 8)!.readBigUInt64LE(0);
  });
  afterAll(() => {
    obj?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('hands over every record once and in order, through small batches and around the ring', () => {
    // A batch of ~56 records: nearly every drain stops because the batch is full.
    const rb = new BatchRingBuffer(obj.mapFd('gen_events'), EVENT_MAX_SIZE, 4096);
    try {
      let expected = 0; // the generator numbers its records in the source-port field (u16)
      let lastKtime = 0n;
      let fullBatches = 0;
      let outOfOrder = 0;
      let badLength = 0;
      // Five fills of most of the ring: the read position wraps around the ring several times.
      for (let fill = 0; fill < 5; fill++) {
        produce();
        for (let drains = 0; ; drains++) {
          expect(drains).toBeLessThan(MAX_DRAINS);
          const { bytes, count, more } = rb.drain();
          let seen = 0;
          forEachRecord(rb.buf, bytes, (buf, off, len) => {
            seen++;
            if (len !== 64) badLength++;
            if (buf.readUInt16LE(off + 32) !== (expected & 0xffff)) outOfOrder++;
            const k = buf.readBigUInt64LE(off);
            if (k < lastKtime) outOfOrder++;
            lastKtime = k;
            expected++;
          });
          expect(seen).toBe(count);
          if (!more) break;
          fullBatches++;
        }
      }
      expect(expected).toBe(5 * RUNS * EVENTS_PER_RUN);
      expect(outOfOrder).toBe(0);
      expect(badLength).toBe(0);
      expect(fullBatches).toBeGreaterThan(100);
      // The consumer position was given back after each drain: the producer never ran out of room.
      expect(ringFull()).toBe(0n);
      expect(rb.oversize).toBe(0);
      // Nothing left.
      expect(rb.drain().count).toBe(0);
    } finally {
      rb.free();
    }
  });

  it('leaves records it has not read in the ring: a reader that stops drains them later', () => {
    const fd = obj.mapFd('gen_events');
    const before = ringFull();
    const rb = new BatchRingBuffer(fd, EVENT_MAX_SIZE, 4096);
    try {
      produce();
      const first = rb.drain(); // one batch only, then the reader goes away
      expect(first.more).toBe(true);
      rb.free();
      // A new reader (an agent restarted) finds the rest, none skipped.
      const rb2 = new BatchRingBuffer(fd, EVENT_MAX_SIZE);
      try {
        let n = first.count;
        for (let drains = 0; ; drains++) {
          expect(drains).toBeLessThan(MAX_DRAINS);
          const { count, more } = rb2.drain();
          n += count;
          if (!more) break;
        }
        expect(n).toBe(RUNS * EVENTS_PER_RUN);
        // A second fill goes in whole: the space was released.
        produce();
        expect(ringFull()).toBe(before);
      } finally {
        rb2.free();
      }
    } finally {
      rb.free();
    }
  });
});
