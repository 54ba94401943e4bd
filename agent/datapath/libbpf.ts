// A thin koffi binding to libbpf.so.1 (1.1.x) and the few libc calls it needs. Opts structs are built as
// raw buffers at the offsets of /usr/include/bpf/{libbpf,bpf}.h for libbpf 1.1 (each starts with size_t sz)
// so nothing depends on koffi's struct marshalling. libbpf 1.x returns -errno (or NULL with errno set);
// every failure becomes a LibbpfError naming the libbpf function and strerror.
import koffi from 'koffi';
import { CnilabError } from '../../lib/errors.js';

export class LibbpfError extends CnilabError {
  readonly fn: string;
  readonly errno: number;
  constructor(fn: string, errno: number, what?: string) {
    super('INTERNAL', `${fn}${what ? ` (${what})` : ''}: ${strerror(errno)} (errno ${errno})`);
    this.fn = fn;
    this.errno = errno;
  }
}

export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;
export const BPF_TC_INGRESS = 1;
export const BPF_TC_EGRESS = 2;
export const BPF_TC_F_REPLACE = 1;
const ENOENT = 2;
const EEXIST = 17;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Fn = (...args: any[]) => any;
interface Bindings {
  open_file: Fn; obj_load: Fn; obj_close: Fn; find_prog: Fn; prog_fd: Fn; find_map: Fn; map_fd: Fn;
  next_map: Fn; map_name: Fn; update: Fn; lookup: Fn; delete_: Fn; next_key: Fn; map_info: Fn;
  hook_create: Fn; tc_attach: Fn; tc_detach: Fn; tc_query: Fn; rb_new: Fn; rb_poll: Fn; rb_consume: Fn;
  rb_epoll_fd: Fn; rb_free: Fn; test_run: Fn; num_cpus: Fn; strerror: Fn; sample_fn: ReturnType<typeof koffi.proto>;
  set_print: Fn; vsnprintf: Fn; print_fn: ReturnType<typeof koffi.proto>;
  link_create: Fn; link_update: Fn; link_detach: Fn; obj_pin: Fn;
  lookup_batch: Fn; map_type: Fn; map_key_size: Fn; map_value_size: Fn; map_max_entries: Fn; map_flags: Fn; obj_get: Fn; close: Fn; libbpf_strerror: Fn;
}

let B: Bindings | undefined;
function b(): Bindings {
  if (B) return B;
  const lib = koffi.load('libbpf.so.1');
  const libc = koffi.load('libc.so.6');
  koffi.opaque('bpf_object');
  koffi.opaque('bpf_program');
  koffi.opaque('bpf_map');
  koffi.opaque('ring_buffer');
  const sample_fn = koffi.proto('int cnilab_rb_sample_fn(void *ctx, void *data, size_t size)');
  // va_list arrives as a pointer on x86_64 and aarch64 alike, so it can be handed to vsnprintf as void *.
  const print_fn = koffi.proto('int cnilab_libbpf_print_fn(int level, const char *fmt, void *ap)');
  B = {
    set_print: lib.func('void *libbpf_set_print(cnilab_libbpf_print_fn *fn)'),
    vsnprintf: libc.func('int vsnprintf(_Out_ uint8_t *buf, size_t size, const char *fmt, void *ap)'),
    print_fn,
    open_file: lib.func('bpf_object *bpf_object__open_file(const char *path, void *opts)'),
    obj_load: lib.func('int bpf_object__load(bpf_object *obj)'),
    obj_close: lib.func('void bpf_object__close(bpf_object *obj)'),
    find_prog: lib.func('bpf_program *bpf_object__find_program_by_name(bpf_object *obj, const char *name)'),
    prog_fd: lib.func('int bpf_program__fd(bpf_program *prog)'),
    find_map: lib.func('bpf_map *bpf_object__find_map_by_name(bpf_object *obj, const char *name)'),
    map_fd: lib.func('int bpf_map__fd(bpf_map *map)'),
    next_map: lib.func('bpf_map *bpf_object__next_map(bpf_object *obj, bpf_map *prev)'),
    map_name: lib.func('const char *bpf_map__name(bpf_map *map)'),
    update: lib.func('int bpf_map_update_elem(int fd, void *key, void *value, uint64_t flags)'),
    lookup: lib.func('int bpf_map_lookup_elem(int fd, void *key, _Out_ void *value)'),
    delete_: lib.func('int bpf_map_delete_elem(int fd, void *key)'),
    next_key: lib.func('int bpf_map_get_next_key(int fd, void *key, _Out_ void *next_key)'),
    lookup_batch: lib.func('int bpf_map_lookup_batch(int fd, void *in_batch, void *out_batch, void *keys, void *values, void *count, void *opts)'),
    map_info: lib.func('int bpf_obj_get_info_by_fd(int fd, _Inout_ void *info, _Inout_ uint32_t *len)'),
    hook_create: lib.func('int bpf_tc_hook_create(void *hook)'),
    tc_attach: lib.func('int bpf_tc_attach(void *hook, _Inout_ void *opts)'),
    tc_detach: lib.func('int bpf_tc_detach(void *hook, void *opts)'),
    tc_query: lib.func('int bpf_tc_query(void *hook, _Inout_ void *opts)'),
    rb_new: lib.func('ring_buffer *ring_buffer__new(int map_fd, cnilab_rb_sample_fn *cb, void *ctx, void *opts)'),
    rb_poll: lib.func('int ring_buffer__poll(ring_buffer *rb, int timeout_ms)'),
    rb_consume: lib.func('int ring_buffer__consume(ring_buffer *rb)'),
    rb_epoll_fd: lib.func('int ring_buffer__epoll_fd(ring_buffer *rb)'),
    rb_free: lib.func('void ring_buffer__free(ring_buffer *rb)'),
    test_run: lib.func('int bpf_prog_test_run_opts(int prog_fd, _Inout_ void *opts)'),
    num_cpus: lib.func('int libbpf_num_possible_cpus(void)'),
    map_type: lib.func('int bpf_map__type(bpf_map *map)'),
    map_key_size: lib.func('uint32_t bpf_map__key_size(bpf_map *map)'),
    map_value_size: lib.func('uint32_t bpf_map__value_size(bpf_map *map)'),
    map_max_entries: lib.func('uint32_t bpf_map__max_entries(bpf_map *map)'),
    map_flags: lib.func('uint32_t bpf_map__map_flags(bpf_map *map)'),
    obj_get: lib.func('int bpf_obj_get(const char *pathname)'),
    obj_pin: lib.func('int bpf_obj_pin(int fd, const char *pathname)'),
    link_create: lib.func('int bpf_link_create(int prog_fd, int target_fd, int attach_type, void *opts)'),
    link_update: lib.func('int bpf_link_update(int link_fd, int new_prog_fd, void *opts)'),
    link_detach: lib.func('int bpf_link_detach(int link_fd)'),
    close: libc.func('int close(int fd)'),
    libbpf_strerror: lib.func('int libbpf_strerror(int err, _Out_ uint8_t *buf, size_t size)'),
    strerror: libc.func('const char *strerror(int errnum)'),
    sample_fn,
  };
  installPrint(B);
  return B;
}

export type LibbpfLogLevel = 'warn' | 'info' | 'debug';
export type LibbpfLogger = (level: LibbpfLogLevel, message: string) => void;
const LEVELS: LibbpfLogLevel[] = ['warn', 'info', 'debug'];

/** Messages that are expected and harmless: bpf_tc_hook_create on a device that already has clsact. */
const BENIGN = [/Exclusivity flag on, cannot modify/];

let logger: LibbpfLogger = (level, message) => {
  if (level !== 'debug') process.stderr.write(`libbpf: ${message}${message.endsWith('\n') ? '' : '\n'}`);
};

/** Route libbpf's own messages (verifier logs on load failure, pinning problems) somewhere else. */
export function setLibbpfLogger(fn: LibbpfLogger): void {
  logger = fn;
}

function installPrint(bb: Bindings): void {
  const buf = Buffer.alloc(64 * 1024);
  const cb = koffi.register((level: number, fmt: string, ap: bigint): number => {
    try {
      const n = bb.vsnprintf(buf, buf.length, fmt, ap) as number;
      const msg = buf.subarray(0, Math.max(0, Math.min(n, buf.length - 1))).toString('utf8');
      if (!BENIGN.some((re) => re.test(msg))) logger(LEVELS[level] ?? 'debug', msg.replace(/^libbpf: /, ''));
    } catch {
      /* never throw into libbpf */
    }
    return 0;
  }, koffi.pointer(bb.print_fn));
  bb.set_print(cb); // kept registered for the life of the process
}

export function strerror(errno: number): string {
  try {
    // libbpf's own codes (LIBBPF_ERRNO__*, 4000+: bad ELF, verifier failure, …) are unknown to libc.
    if (errno >= 4000) {
      const buf = Buffer.alloc(256);
      b().libbpf_strerror(errno, buf, buf.length);
      return buf.subarray(0, Math.max(0, buf.indexOf(0))).toString('utf8');
    }
    return String(b().strerror(errno));
  } catch {
    return `errno ${errno}`;
  }
}

/** libbpf int returns: negative = -errno. */
function check(fn: string, ret: number, what?: string): number {
  if (ret < 0) throw new LibbpfError(fn, -ret, what);
  return ret;
}

/** Pointer returns: NULL with errno set. */
function checkPtr<T>(fn: string, ptr: T | null, what?: string): T {
  if (ptr === null || ptr === undefined) throw new LibbpfError(fn, koffi.errno() || ENOENT, what);
  return ptr;
}

const addr = (buf: Buffer): bigint => koffi.address(buf) as bigint;

let cpus: number | undefined;
export function numPossibleCpus(): number {
  cpus ??= check('libbpf_num_possible_cpus', b().num_cpus());
  return cpus;
}

export interface MapHandle {
  name: string;
  fd: number;
}

/** A map as the object defines it (before load: what a pinned map must match to be reused). */
export interface MapDef {
  name: string;
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
}

/** An opened-and-loaded BPF object. Programs and maps stay valid until close(). */
export class BpfObject {
  private obj: unknown;
  // Kept alive while libbpf may still read the pointers stored in the opts buffer.
  private readonly keep: Buffer[];

  private constructor(obj: unknown, keep: Buffer[]) {
    this.obj = obj;
    this.keep = keep;
  }

  /** bpf_object__open_file with pin_root_path: maps marked LIBBPF_PIN_BY_NAME are pinned there on
   *  load, or reused if a compatible pin already exists (how an agent restart keeps its state). */
  static open(path: string, opts: { pinRootPath?: string } = {}): BpfObject {
    const o = Buffer.alloc(80); // sizeof(struct bpf_object_open_opts) in libbpf 1.1
    o.writeBigUInt64LE(80n, 0);
    const keep = [o];
    if (opts.pinRootPath) {
      const s = Buffer.from(`${opts.pinRootPath}\0`);
      keep.push(s);
      o.writeBigUInt64LE(addr(s), 24); // pin_root_path
    }
    const obj = checkPtr('bpf_object__open_file', b().open_file(path, o), path);
    return new BpfObject(obj, keep);
  }

  load(): void {
    check('bpf_object__load', b().obj_load(this.handle()));
  }

  programFd(name: string): number {
    const prog = checkPtr('bpf_object__find_program_by_name', b().find_prog(this.handle(), name), name);
    return check('bpf_program__fd', b().prog_fd(prog), name);
  }

  mapFd(name: string): number {
    const map = checkPtr('bpf_object__find_map_by_name', b().find_map(this.handle(), name), name);
    return check('bpf_map__fd', b().map_fd(map), name);
  }

  maps(): MapHandle[] {
    const out: MapHandle[] = [];
    for (let m = b().next_map(this.handle(), null); m; m = b().next_map(this.handle(), m)) {
      const name = String(b().map_name(m));
      if (name.startsWith('.')) continue; // .rodata/.bss internals
      out.push({ name, fd: b().map_fd(m) });
    }
    return out;
  }

  mapDefs(): MapDef[] {
    const out: MapDef[] = [];
    for (let m = b().next_map(this.handle(), null); m; m = b().next_map(this.handle(), m)) {
      const name = String(b().map_name(m));
      if (name.startsWith('.')) continue;
      out.push({
        name,
        type: b().map_type(m),
        keySize: b().map_key_size(m),
        valueSize: b().map_value_size(m),
        maxEntries: b().map_max_entries(m),
        flags: b().map_flags(m),
      });
    }
    return out;
  }

  /** Closes the object's fds. Pinned maps and tc-attached programs live on in the kernel. */
  close(): void {
    if (this.obj) b().obj_close(this.obj);
    this.obj = null;
    this.keep.length = 0;
  }

  private handle(): unknown {
    if (!this.obj) throw new CnilabError('INTERNAL', 'BPF object already closed');
    return this.obj;
  }
}

export function mapUpdate(fd: number, key: Buffer, value: Buffer, flags = BPF_ANY): void {
  check('bpf_map_update_elem', b().update(fd, key, value, flags));
}

/** undefined when the key is absent. valueSize is the full size (per-CPU maps: size * cpus, 8-aligned). */
export function mapLookup(fd: number, key: Buffer, valueSize: number): Buffer | undefined {
  const out = Buffer.alloc(valueSize);
  const ret = b().lookup(fd, key, out);
  if (ret === -ENOENT) return undefined;
  check('bpf_map_lookup_elem', ret);
  return out;
}

/** false when the key was absent. */
export function mapDelete(fd: number, key: Buffer): boolean {
  const ret = b().delete_(fd, key);
  if (ret === -ENOENT) return false;
  check('bpf_map_delete_elem', ret);
  return true;
}

/** The first `n` values of an array map whose values are `valueSize` bytes, in one syscall per chunk
 *  (BPF_MAP_LOOKUP_BATCH) instead of one per element. */
export function mapLookupBatchArray(fd: number, n: number, valueSize = 1): Buffer {
  const out = Buffer.alloc(n * valueSize);
  const chunk = 8192;
  const keys = Buffer.alloc(chunk * 4);
  const values = Buffer.alloc(chunk * valueSize);
  const count = new Uint32Array(1);
  const inBatch = Buffer.alloc(4);
  const outBatch = Buffer.alloc(4);
  let got = 0;
  for (let first = true; got < n; first = false) {
    count[0] = Math.min(chunk, n - got);
    const ret = b().lookup_batch(fd, first ? null : inBatch, outBatch, keys, values, count, null);
    const read = count[0]!;
    for (let i = 0; i < read; i++) {
      const k = keys.readUInt32LE(i * 4);
      if (k < n) values.copy(out, k * valueSize, i * valueSize, (i + 1) * valueSize);
    }
    got += read;
    if (ret === -ENOENT || read === 0) break; // the last chunk
    check('bpf_map_lookup_batch', ret);
    outBatch.copy(inBatch);
  }
  return out;
}

/** All keys (snapshot; entries may change while iterating, as with any BPF map walk). */
export function mapKeys(fd: number, keySize: number): Buffer[] {
  const keys: Buffer[] = [];
  let prev: Buffer | null = null;
  for (;;) {
    const next = Buffer.alloc(keySize);
    const ret = b().next_key(fd, prev, next);
    if (ret === -ENOENT) return keys;
    check('bpf_map_get_next_key', ret);
    keys.push(next);
    prev = next;
  }
}

export interface MapInfo {
  type: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  name: string;
}

/** Opens a pinned object (bpf_obj_get); the caller closes the fd with closeFd. */
export function objGet(path: string): number {
  const fd = b().obj_get(path);
  if (fd < 0) throw new LibbpfError('bpf_obj_get', -fd, path);
  return fd;
}

/** Pins any BPF object fd (map, program, link) at a bpffs path. */
export function objPin(fd: number, path: string): void {
  check('bpf_obj_pin', b().obj_pin(fd, path), path);
}

/** A BPF link attaching a program to a target (a cgroup fd for cgroup hooks); returns the link fd. Links
 *  compose with other programs on the same hook (multi-attach) and detach when their last reference
 *  (an fd or a pin) goes away. */
export function linkCreate(progFd: number, targetFd: number, attachType: number): number {
  return check('bpf_link_create', b().link_create(progFd, targetFd, attachType, null), `attach type ${attachType}`);
}

/** Replace the program of an existing link atomically (an agent restart loading a new object). */
export function linkUpdate(linkFd: number, newProgFd: number): void {
  check('bpf_link_update', b().link_update(linkFd, newProgFd, null));
}

/** Detach a link from its hook now (BPF_LINK_DETACH). Why not just unpin it: the last reference of a
 *  pinned link goes with the bpffs inode, which the kernel frees after an RCU grace period and then
 *  releases from a workqueue, so the program can keep running for a while after the unlink (CI saw a
 *  connect translated right after the pins were gone). */
export function linkDetach(linkFd: number): void {
  check('bpf_link_detach', b().link_detach(linkFd));
}

export function closeFd(fd: number): void {
  b().close(fd);
}

export function mapInfo(fd: number): MapInfo {
  const info = Buffer.alloc(88); // struct bpf_map_info
  const len = [88];
  check('bpf_obj_get_info_by_fd', b().map_info(fd, info, len));
  const nameRaw = info.subarray(24, 40);
  const nul = nameRaw.indexOf(0);
  return {
    type: info.readUInt32LE(0),
    keySize: info.readUInt32LE(8),
    valueSize: info.readUInt32LE(12),
    maxEntries: info.readUInt32LE(16),
    flags: info.readUInt32LE(20),
    name: nameRaw.subarray(0, nul < 0 ? 16 : nul).toString('latin1'),
  };
}

function tcHook(ifindex: number, attachPoint: number): Buffer {
  const h = Buffer.alloc(24); // struct bpf_tc_hook
  h.writeBigUInt64LE(24n, 0);
  h.writeInt32LE(ifindex, 8);
  h.writeUInt32LE(attachPoint, 12);
  return h;
}

function tcOpts(progFd: number, flags: number, handle: number, priority: number): Buffer {
  const o = Buffer.alloc(32); // struct bpf_tc_opts
  o.writeBigUInt64LE(32n, 0);
  o.writeInt32LE(progFd, 8);
  o.writeUInt32LE(flags, 12);
  o.writeUInt32LE(handle, 20);
  o.writeUInt32LE(priority, 24);
  return o;
}

/** Creates the clsact qdisc if missing (EEXIST is fine). */
export function tcHookCreate(ifindex: number, attachPoint: number): void {
  const ret = b().hook_create(tcHook(ifindex, attachPoint));
  if (ret !== -EEXIST) check('bpf_tc_hook_create', ret, `ifindex ${ifindex}`);
}

/** Attaches (or replaces, same handle/priority) a direct-action cls_bpf filter. Returns the prog id. */
export function tcAttach(ifindex: number, attachPoint: number, progFd: number, handle: number, priority: number): number {
  tcHookCreate(ifindex, attachPoint);
  const opts = tcOpts(progFd, BPF_TC_F_REPLACE, handle, priority);
  check('bpf_tc_attach', b().tc_attach(tcHook(ifindex, attachPoint), opts), `ifindex ${ifindex}`);
  return opts.readUInt32LE(16);
}

/** The prog id attached at handle/priority, or undefined if none. */
export function tcQuery(ifindex: number, attachPoint: number, handle: number, priority: number): number | undefined {
  const opts = tcOpts(0, 0, handle, priority);
  const ret = b().tc_query(tcHook(ifindex, attachPoint), opts);
  if (ret === -ENOENT) return undefined;
  check('bpf_tc_query', ret, `ifindex ${ifindex}`);
  return opts.readUInt32LE(16);
}

export function tcDetach(ifindex: number, attachPoint: number, handle: number, priority: number): void {
  const ret = b().tc_detach(tcHook(ifindex, attachPoint), tcOpts(0, 0, handle, priority));
  if (ret !== -ENOENT) check('bpf_tc_detach', ret, `ifindex ${ifindex}`);
}

/** A libbpf ring buffer consumer. The callback gets a copy of each record, synchronously, on the JS
 *  thread that calls consume()/poll(). */
export class RingBuffer {
  private rb: unknown;
  private cb: bigint | null;

  constructor(mapFd: number, onRecord: (data: Buffer) => void) {
    const fn = (_ctx: unknown, data: bigint, size: number | bigint): number => {
      try {
        onRecord(Buffer.from(koffi.view(data, Number(size)).slice(0)));
      } catch {
        // A throwing consumer must not unwind through libbpf; the record is simply skipped.
      }
      return 0;
    };
    this.cb = koffi.register(fn, koffi.pointer(b().sample_fn));
    const rb = b().rb_new(mapFd, this.cb, null, null);
    if (!rb) {
      const errno = koffi.errno() || ENOENT;
      koffi.unregister(this.cb);
      this.cb = null;
      throw new LibbpfError('ring_buffer__new', errno);
    }
    this.rb = rb;
  }

  /** Process every available record without waiting; returns how many. */
  consume(): number {
    if (!this.rb) return 0;
    return check('ring_buffer__consume', b().rb_consume(this.rb));
  }

  /** Blocks up to timeoutMs (use 0 from the event loop). */
  poll(timeoutMs: number): number {
    if (!this.rb) return 0;
    const ret = b().rb_poll(this.rb, timeoutMs);
    if (ret === -4) return 0; // EINTR
    return check('ring_buffer__poll', ret);
  }

  epollFd(): number {
    return b().rb_epoll_fd(this.rb);
  }

  free(): void {
    if (this.rb) b().rb_free(this.rb);
    this.rb = null;
    if (this.cb !== null) koffi.unregister(this.cb);
    this.cb = null;
  }
}

export interface TestRunResult {
  retval: number;
  dataOut: Buffer;
  ctxOut?: Buffer;
  durationNs: number;
}

/** BPF_PROG_TEST_RUN for tests: runs the program `repeat` times (default once) on `data` (a full
 *  Ethernet frame). `ctx` is an optional struct __sk_buff (192 bytes) for tc programs. */
export function progTestRun(progFd: number, data: Buffer, ctx?: Buffer, repeat = 1): TestRunResult {
  const dataIn = Buffer.from(data);
  const dataOut = Buffer.alloc(Math.max(256, data.length + 256));
  const ctxOut = ctx ? Buffer.alloc(ctx.length) : undefined;
  const o = Buffer.alloc(80); // struct bpf_test_run_opts
  o.writeBigUInt64LE(80n, 0);
  o.writeBigUInt64LE(addr(dataIn), 8);
  o.writeBigUInt64LE(addr(dataOut), 16);
  o.writeUInt32LE(dataIn.length, 24);
  o.writeUInt32LE(dataOut.length, 28);
  if (ctx && ctxOut) {
    o.writeBigUInt64LE(addr(ctx), 32);
    o.writeBigUInt64LE(addr(ctxOut), 40);
    o.writeUInt32LE(ctx.length, 48);
    o.writeUInt32LE(ctxOut.length, 52);
  }
  o.writeInt32LE(repeat, 60); // repeat (durationNs is then the mean per run)
  check('bpf_prog_test_run_opts', b().test_run(progFd, o));
  return {
    retval: o.readUInt32LE(56),
    dataOut: dataOut.subarray(0, o.readUInt32LE(28)),
    ctxOut: ctxOut?.subarray(0, o.readUInt32LE(52)),
    durationNs: o.readUInt32LE(64),
  };
}
