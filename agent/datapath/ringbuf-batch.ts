// The datapath's ring buffer read in batches through the small C library of ./native (one FFI call per
// batch of records instead of one JavaScript callback per record). A batch is a Buffer of
//   [u32 length (little-endian)][record, padded to 4 bytes] ...
// which forEachRecord walks without copying.
import koffi from 'koffi';
import { LibbpfError } from './libbpf.js';
import { nativeLibraryPath } from './native-lib.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Fn = (...args: any[]) => any;
let lib: { new_: Fn; drain: Fn; epoll: Fn; free: Fn } | undefined;
function bindings() {
  if (lib) return lib;
  const l = koffi.load(nativeLibraryPath('libcnilab_ringbuf.so', 'the batched ring buffer reader'));
  koffi.opaque('cnilab_rb');
  lib = {
    new_: l.func('cnilab_rb *cnilab_rb_new(int map_fd, uint32_t max_record)'),
    drain: l.func('int cnilab_rb_drain(cnilab_rb *h, void *buf, uint32_t cap, void *out)'),
    epoll: l.func('int cnilab_rb_epoll_fd(cnilab_rb *h)'),
    free: l.func('void cnilab_rb_free(cnilab_rb *h)'),
  };
  return lib;
}

export const DEFAULT_BATCH_BYTES = 256 * 1024;

export class BatchRingBuffer {
  private h: unknown;
  private readonly out = new Uint32Array(3);
  readonly buf: Buffer;

  /** maxRecord: the largest record the datapath emits (the batch always keeps room for one). */
  constructor(mapFd: number, maxRecord: number, batchBytes = DEFAULT_BATCH_BYTES) {
    this.buf = Buffer.alloc(Math.max(batchBytes, 4 * (maxRecord + 8)));
    const h = bindings().new_(mapFd, maxRecord);
    if (!h) throw new LibbpfError('ring_buffer__new', koffi.errno() || 2);
    this.h = h;
  }

  /** One batch: the bytes used in `buf`, how many records, whether more are waiting (the batch filled). */
  drain(): { bytes: number; count: number; more: boolean } {
    if (!this.h) return { bytes: 0, count: 0, more: false };
    const ret = bindings().drain(this.h, this.buf, this.buf.length, this.out) as number;
    if (ret < 0) throw new LibbpfError('ring_buffer__consume', -ret);
    return { bytes: ret, count: this.out[0]!, more: this.out[1] === 1 };
  }

  /** Records the helper had to skip because they exceeded maxRecord (a layout mismatch). */
  get oversize(): number {
    return this.out[2]!;
  }

  epollFd(): number {
    return bindings().epoll(this.h);
  }

  free(): void {
    if (this.h) bindings().free(this.h);
    this.h = null;
  }
}

/** Calls fn(buf, offset, length) for each record of a batch. */
export function forEachRecord(batch: Buffer, bytes: number, fn: (buf: Buffer, off: number, len: number) => void): void {
  let off = 0;
  while (off + 4 <= bytes) {
    const len = batch.readUInt32LE(off);
    if (off + 4 + len > bytes) return;
    fn(batch, off + 4, len);
    off += 4 + ((len + 3) & ~3);
  }
}
