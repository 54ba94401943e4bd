// The agent's datapath: loads the compiled BPF object with libbpf (koffi), keeps its maps pinned under
// the node's pin dir (so forwarding and state survive an agent restart), attaches the tc programs with a
// fixed handle/priority (re-attach replaces), and turns map contents and ring buffer records into the
// types of ./types.ts. Runs inside the node's network namespace.
import { existsSync, mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import koffi from 'koffi';
import { CnilabError, UnsupportedError } from '../../lib/errors.js';
import type { Datapath, DatapathConfig, DatapathEvent, EndpointEntry, IpcacheEntry } from './types.js';
import {
  ALL_MAPS, CONFIG, DROP_KEY, L7_PARSER, L7_PORTS_UDP_BASE, OBSERVER_AGG, OBSERVER_OFF, DROP_VALUE, ENDPOINT, EVENT_MAX_SIZE, IPCACHE_KEY, IPCACHE_VALUE, LOST_VALUE_SIZE, MAP,
  MAP_TYPE_NAMES, PROG, ROUTING_MODE, TC_HANDLE, TC_PRIORITY, type MapName,
} from './constants.js';
import {
  decodeEndpoint, decodeEvent, decodeIpcacheKey, decodeIpcacheValue, encodeEndpoint, encodeIpcacheKey,
  encodeIpcacheValue, ipToBytes, parseCidr, prefixMaskBytes, u32Key,
} from './codec.js';
import {
  BPF_TC_EGRESS, BPF_TC_INGRESS, BpfObject, closeFd, mapDelete, mapInfo, mapKeys, mapLookup, mapLookupBatchArray, mapUpdate,
  numPossibleCpus, objGet, RingBuffer, tcAttach,
} from './libbpf.js';
import { BatchRingBuffer, forEachRecord } from './ringbuf-batch.js';
import { PolicyMapWriter } from './policy-writer.js';

export { decodeEvent } from './codec.js';

const here = dirname(fileURLToPath(import.meta.url));
/** bpf/build of this checkout, found upwards from this module (TypeScript sources and dist/ alike). */
function bpfBuildDir(): string {
  let dir = here;
  for (let i = 0; i < 6; i++, dir = dirname(dir)) if (existsSync(join(dir, 'bpf', 'Makefile'))) return join(dir, 'bpf', 'build');
  return resolve(here, '../../bpf/build');
}
const BUILD = bpfBuildDir();
/** bpf/build/datapath.o of this checkout (`make -C bpf`). */
export const DEFAULT_OBJECT = join(BUILD, 'datapath.o');
export const BROKEN_REMOTE_OBJECT = join(BUILD, 'datapath-broken-remote.o');
/** Deliberately wrong policy enforcement (bpf/Makefile, bpf/lib/policy.h), for the policy suite's mutation tests. */
export const POLICY_FAULT_OBJECTS = {
  ignorePort: join(BUILD, 'datapath-policy-ignore-port.o'),
  ignoreProto: join(BUILD, 'datapath-policy-ignore-proto.o'),
  ctLeak: join(BUILD, 'datapath-policy-ct-leak.o'),
} as const;

// The datapath wakes the agent only when a batch of events has built up (bpf/lib/events.h), so the
// agent drains the ring on this timer; it bounds how stale `cnilab observe` can be.
const RINGBUF_SWEEP_MS = 50;

/** The bpffs mount that holds `path`, or undefined. */
export function bpffsMountFor(path: string): string | undefined {
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f[2] === 'bpf')
    .map((f) => f[1]!.replace(/\\040/g, ' '));
  return mounts.filter((m) => path === m || path.startsWith(m.endsWith('/') ? m : `${m}/`)).sort((a, b) => b.length - a.length)[0];
}

/** Removes pins whose definition no longer matches the object (a datapath upgrade changed a layout);
 *  libbpf would otherwise refuse to load. Compatible pins are kept and reused. */
export function dropIncompatiblePins(obj: BpfObject, pinDir: string): string[] {
  const dropped: string[] = [];
  for (const def of obj.mapDefs()) {
    const pin = join(pinDir, def.name);
    if (!existsSync(pin)) continue;
    const fd = objGet(pin);
    try {
      const info = mapInfo(fd);
      if (info.type !== def.type || info.keySize !== def.keySize || info.valueSize !== def.valueSize ||
          info.maxEntries !== def.maxEntries || info.flags !== def.flags) {
        unlinkSync(pin);
        dropped.push(def.name);
      }
    } finally {
      closeFd(fd);
    }
  }
  return dropped;
}

function sumPerCpu(buf: Buffer, stride: number, offset: number): bigint {
  let total = 0n;
  for (let off = 0; off + stride <= buf.length; off += stride) total += buf.readBigUInt64LE(off + offset);
  return total;
}

/** Per-CPU map values are copied out as one slot per possible CPU, each rounded up to 8 bytes. */
function perCpuStride(valueSize: number): number {
  return Math.ceil(valueSize / 8) * 8;
}

export function openDatapath(cfg: DatapathConfig): Datapath {
  const pinDir = resolve(cfg.pinDir);
  if (!bpffsMountFor(pinDir)) {
    if (!bpffsMountFor('/sys/fs/bpf'))
      throw new UnsupportedError('pinning BPF maps', 'bpffs mounted at /sys/fs/bpf: mount -t bpf bpf /sys/fs/bpf');
    throw new CnilabError('INVALID_INPUT', `datapath pin dir ${pinDir} is not on a bpffs mount (use a path under /sys/fs/bpf)`);
  }
  const objectPath = cfg.objectPath ?? DEFAULT_OBJECT;
  if (!existsSync(objectPath))
    throw new CnilabError('NOT_FOUND', `BPF object ${objectPath} not found: build it with \`make -C bpf\``);
  const pod = parseCidr(cfg.podCidr, 'podCidr');
  mkdirSync(pinDir, { recursive: true });

  const obj = BpfObject.open(objectPath, { pinRootPath: pinDir });
  const fds = new Map<MapName, number>();
  const progFds = new Map<string, number>();
  try {
    dropIncompatiblePins(obj, pinDir);
    obj.load();
    for (const name of ALL_MAPS) fds.set(name, obj.mapFd(name));
    for (const p of Object.values(PROG)) progFds.set(p, obj.programFd(p));
  } catch (e) {
    obj.close();
    throw e;
  }
  const fd = (name: MapName): number => fds.get(name)!;
  const prog = (name: string): number => progFds.get(name)!;
  const setConfig = (idx: number, value: Buffer | number): void => {
    const v = typeof value === 'number' ? u32Key(value) : value;
    mapUpdate(fd(MAP.config), u32Key(idx), v);
  };

  // Everything except the device ifindexes, which the attach calls record (and which survive a restart).
  setConfig(CONFIG.nodeIp, ipToBytes(cfg.nodeIp, 'nodeIp'));
  setConfig(CONFIG.routerIp, ipToBytes(cfg.routerIp, 'routerIp'));
  setConfig(CONFIG.podCidrNet, ipToBytes(pod.ip));
  setConfig(CONFIG.podCidrMask, prefixMaskBytes(pod.prefixLen));
  setConfig(CONFIG.routingMode, ROUTING_MODE[cfg.routing]);

  const policies = new PolicyMapWriter(fd(MAP.policy), fd(MAP.policyEndpoint));
  const ringBuffers = new Set<{ stop(): void }>();
  let l7PortsSet = new Set<number>();
  // The ports a previous agent configured are found by scanning: the array has no key iteration worth
  // the name (every index exists), so read the 128k entries once, at start.
  {
    const all = mapLookupBatchArray(fd(MAP.l7Ports), 2 << 16);
    for (let i = 0; i < all.length; i++) if (all[i]) l7PortsSet.add(i);
  }
  let closed = false;

  const attach = (ifname: string, ifindex: number, point: number, progName: string): void => {
    try {
      tcAttach(ifindex, point, prog(progName), TC_HANDLE, TC_PRIORITY);
    } catch (e) {
      const where = point === BPF_TC_INGRESS ? 'ingress' : 'egress';
      throw new CnilabError('INTERNAL', `attaching ${progName} to ${ifname} (ifindex ${ifindex}) tc ${where}: ${(e as Error).message}`, { cause: e });
    }
  };

  const dp: Datapath = {
    config: cfg,

    attachEndpointDevice(ifname, ifindex) {
      attach(ifname, ifindex, BPF_TC_INGRESS, PROG.fromContainer);
      attach(ifname, ifindex, BPF_TC_EGRESS, PROG.toContainer);
    },

    attachOverlayDevice(ifname, ifindex) {
      // Record the tunnel device first so from_container can redirect as soon as from_overlay is live.
      setConfig(CONFIG.tunnelIfindex, ifindex);
      attach(ifname, ifindex, BPF_TC_INGRESS, PROG.fromOverlay);
    },

    attachHostDevice(ifname, ifindex) {
      setConfig(CONFIG.hostIfindex, ifindex);
      attach(ifname, ifindex, BPF_TC_EGRESS, PROG.fromHost);
    },

    attachNetdevDevice(ifname, ifindex) {
      setConfig(CONFIG.netdevIfindex, ifindex);
      attach(ifname, ifindex, BPF_TC_INGRESS, PROG.fromNetdev);
    },

    upsertEndpoint(ep) {
      const v = encodeEndpoint(ep);
      // By IP first: once the ifindex entry exists the pod's traffic is handled and replies must find it.
      mapUpdate(fd(MAP.lxcByIp), ipToBytes(ep.ip, 'endpoint.ip'), v);
      mapUpdate(fd(MAP.lxcByIfindex), u32Key(ep.ifindex), v);
    },

    deleteEndpoint(ep) {
      mapDelete(fd(MAP.lxcByIfindex), u32Key(ep.ifindex));
      const byIp = mapLookup(fd(MAP.lxcByIp), ipToBytes(ep.ip, 'endpoint.ip'), ENDPOINT.size);
      // Only remove the IP entry if it still belongs to this device (the IP may have been reassigned).
      if (byIp && decodeEndpoint(byIp).ifindex === ep.ifindex) mapDelete(fd(MAP.lxcByIp), ipToBytes(ep.ip));
    },

    listEndpoints() {
      const out: EndpointEntry[] = [];
      for (const k of mapKeys(fd(MAP.lxcByIfindex), 4)) {
        const v = mapLookup(fd(MAP.lxcByIfindex), k, ENDPOINT.size);
        if (v) out.push(decodeEndpoint(v));
      }
      return out.sort((a, b) => a.ifindex - b.ifindex);
    },

    upsertIpcache(key, entry) {
      mapUpdate(fd(MAP.ipcache), encodeIpcacheKey(key), encodeIpcacheValue(entry));
    },

    deleteIpcache(key) {
      mapDelete(fd(MAP.ipcache), encodeIpcacheKey(key));
    },

    listIpcache() {
      const out: Array<{ key: string } & IpcacheEntry> = [];
      for (const k of mapKeys(fd(MAP.ipcache), IPCACHE_KEY.size)) {
        const v = mapLookup(fd(MAP.ipcache), k, IPCACHE_VALUE.size);
        if (v) out.push({ key: decodeIpcacheKey(k), ...decodeIpcacheValue(v) });
      }
      return out;
    },

    onEvents(cb: (ev: DatapathEvent) => void) {
      return dp.onEventBatches!((batch, bytes) =>
        forEachRecord(batch, bytes, (buf, off, len) => {
          let ev: DatapathEvent;
          try {
            ev = decodeEvent(buf, off, len);
          } catch {
            return; // a record of an unknown layout: skip rather than kill the consumer
          }
          cb(ev);
        }),
      );
    },

    onEventBatches(cb: (batch: Buffer, bytes: number) => void) {
      const rb = new BatchRingBuffer(fd(MAP.events), EVENT_MAX_SIZE);
      let stopped = false;
      let draining = false;
      // One batch per turn of the event loop: a burst of events never holds the loop (and the CNI
      // calls it serves) for longer than one batch takes to ingest.
      const drain = (): void => {
        if (stopped || draining) return;
        draining = true;
        let more = false;
        try {
          const { bytes, more: m } = rb.drain();
          more = m;
          if (bytes > 0) cb(rb.buf, bytes);
        } catch {
          /* consume only fails on a corrupted ring; the sweep retries */
        } finally {
          draining = false;
        }
        if (more) setImmediate(drain);
      };
      // libuv watches libbpf's epoll fd for the datapath's batch wakeups (a ring filling up fast), and
      // the timer drains whatever smaller batch has arrived since the last turn.
      const poller = koffi.node.poll(rb.epollFd(), { readable: true }, drain);
      poller.unref();
      const sweep = setInterval(drain, RINGBUF_SWEEP_MS);
      sweep.unref();
      const handle = {
        stop() {
          if (stopped) return;
          clearInterval(sweep);
          poller.stop();
          poller.close();
          for (let i = 0; i < 64; i++) {
            const { bytes, more } = rb.drain();
            if (bytes > 0) cb(rb.buf, bytes);
            if (!more) break;
          }
          stopped = true;
          rb.free();
          ringBuffers.delete(handle);
        },
      };
      ringBuffers.add(handle);
      drain();
      return () => handle.stop();
    },

    setObserverConfig(o) {
      // Ports first, then the switch: a capture never looks at half-written ports.
      const want = new Map<number, number>();
      for (const p of o.l7Ports) want.set((p.protocol === 'UDP' ? L7_PORTS_UDP_BASE : 0) | p.port, L7_PARSER[p.parser]);
      const one = Buffer.alloc(1);
      for (const [idx, parser] of want) mapUpdate(fd(MAP.l7Ports), u32Key(idx), Buffer.from([parser]));
      // Clear what an earlier configuration (a previous agent's) left: the array keeps its values.
      for (const idx of l7PortsSet) if (!want.has(idx)) mapUpdate(fd(MAP.l7Ports), u32Key(idx), one);
      l7PortsSet = new Set(want.keys());
      setConfig(CONFIG.observerOff, (o.traces ? 0 : OBSERVER_OFF.traces | OBSERVER_OFF.l7) | OBSERVER_AGG[o.monitorAggregation ?? 'medium']);
    },

    lostEventsPerCpu() {
      const stride = perCpuStride(LOST_VALUE_SIZE);
      const v = mapLookup(fd(MAP.lost), u32Key(0), stride * numPossibleCpus());
      const out: bigint[] = [];
      for (let off = 0; v && off + stride <= v.length; off += stride) out.push(v.readBigUInt64LE(off));
      return out;
    },

    setEndpointPolicy(policy) {
      policies.set(policy);
    },

    deleteEndpointPolicy(endpointId) {
      policies.delete(endpointId);
    },

    listEndpointPolicies() {
      return policies.list();
    },

    dropCounters() {
      const stride = perCpuStride(DROP_VALUE.size);
      const size = stride * numPossibleCpus();
      const out: Array<{ reason: number; direction: number; packets: bigint; bytes: bigint }> = [];
      for (const k of mapKeys(fd(MAP.drops), DROP_KEY.size)) {
        const v = mapLookup(fd(MAP.drops), k, size);
        if (!v) continue;
        out.push({
          reason: k[DROP_KEY.reason]!,
          direction: k[DROP_KEY.direction]!,
          packets: sumPerCpu(v, stride, DROP_VALUE.packets),
          bytes: sumPerCpu(v, stride, DROP_VALUE.bytes),
        });
      }
      return out.sort((a, b) => a.reason - b.reason || a.direction - b.direction);
    },

    lostEvents() {
      return dp.lostEventsPerCpu!().reduce((a, b) => a + b, 0n);
    },

    describeMaps() {
      return ALL_MAPS.map((name) => {
        const info = mapInfo(fd(name));
        const type = MAP_TYPE_NAMES[info.type] ?? `type_${info.type}`;
        let entries: number;
        if (type === 'ringbuf') entries = 0; // a byte ring, not entries
        else if (type === 'array' || type === 'percpu_array') entries = info.maxEntries;
        else entries = mapKeys(fd(name), info.keySize).length;
        return { name, type, entries, maxEntries: info.maxEntries };
      });
    },

    close() {
      if (closed) return;
      closed = true;
      for (const rb of [...ringBuffers]) rb.stop();
      obj.close();
    },
  };
  return dp;
}
