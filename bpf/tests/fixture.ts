// Shared setup for the BPF_PROG_TEST_RUN tests: a throwaway pin dir, the datapath opened through the
// agent's own code (openDatapath), and a second BpfObject opened on the same pins to get program fds
// (which also exercises pinned-map reuse). Events are read synchronously from the ring buffer.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { run } from '../../harness/exec/run.js';
import { REPO_ROOT } from '../../harness/paths.js';
import { openDatapath } from '../../agent/datapath/datapath.js';
import { bytesToIp, decodeEvent } from '../../agent/datapath/codec.js';
import { BpfObject, mapKeys, progTestRun, RingBuffer, type TestRunResult } from '../../agent/datapath/libbpf.js';
import { CT_KEY, MAP, POLICY_KEY, PROG } from '../../agent/datapath/constants.js';
import type { Datapath, DatapathEvent, RoutingMode } from '../../agent/datapath/types.js';
import { skbCtx } from './packets.js';

export const BPF_DIR = resolve(REPO_ROOT, 'bpf'); // from the sources and from dist/ alike
export const OBJ = resolve(BPF_DIR, 'build/datapath.o');
export const OBJ_BROKEN = resolve(BPF_DIR, 'build/datapath-broken-remote.o');
export const OBJ_POLICY_IGNORE_PORT = resolve(BPF_DIR, 'build/datapath-policy-ignore-port.o');
export const OBJ_POLICY_IGNORE_PROTO = resolve(BPF_DIR, 'build/datapath-policy-ignore-proto.o');
export const OBJ_POLICY_CT_LEAK = resolve(BPF_DIR, 'build/datapath-policy-ct-leak.o');
export const OBJ_NO_FROM_TRACE = resolve(BPF_DIR, 'build/datapath-no-from-trace.o');

export async function buildAndMount(): Promise<void> {
  await run(['make', '-s', '-C', BPF_DIR], { timeoutMs: 120_000 });
  const mounted = readFileSync('/proc/self/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === '/sys/fs/bpf' && l.split(' ')[2] === 'bpf');
  if (!mounted) await run(['mount', '-t', 'bpf', 'bpf', '/sys/fs/bpf']);
}

export function tempPinDir(tag: string): string {
  const dir = `/sys/fs/bpf/cnilab-test-${tag}-${randomBytes(4).toString('hex')}`;
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function removePinDir(dir: string): void {
  if (dir.startsWith('/sys/fs/bpf/cnilab-test-') && existsSync(dir)) rmSync(dir, { recursive: true, force: true });
}

/** Any ifindex in this netns other than lo: test_run only accepts ifindexes of existing devices, and
 *  the program never transmits, so the device is only a number here. */
export function otherIfindex(): number | undefined {
  for (const name of readdirSync('/sys/class/net')) {
    const idx = Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8'));
    if (idx > 1) return idx;
  }
  return undefined;
}

export const NODE = {
  nodeIp: '198.18.0.11',
  routerIp: '198.19.1.1',
  podCidr: '198.19.1.0/24',
};

export class Harness {
  readonly dp: Datapath;
  readonly obj: BpfObject;
  private readonly rb: RingBuffer;
  private readonly pending: DatapathEvent[] = [];

  constructor(readonly pinDir: string, objectPath = OBJ, routing: RoutingMode = 'tunnel') {
    this.dp = openDatapath({ pinDir, objectPath, routing, ...NODE });
    this.obj = BpfObject.open(objectPath, { pinRootPath: pinDir });
    this.obj.load();
    this.rb = new RingBuffer(this.obj.mapFd(MAP.events), (b) => this.pending.push(decodeEvent(b)));
  }

  /** Run a program on a frame as if it arrived on ifindex (default lo = 1), with skb->mark. */
  run(prog: (typeof PROG)[keyof typeof PROG], frame: Buffer, ifindex = 1, mark = 0): TestRunResult {
    return progTestRun(this.obj.programFd(prog), frame, skbCtx(ifindex, mark));
  }

  /** The connections conntrack holds, as "saddr:sport>daddr:dport/proto". */
  ctEntries(): string[] {
    const fd = this.obj.mapFd(MAP.ct);
    return mapKeys(fd, CT_KEY.size).map((k) =>
      `${bytesToIp(k, CT_KEY.saddr)}:${k.readUInt16BE(CT_KEY.sport)}>${bytesToIp(k, CT_KEY.daddr)}:${k.readUInt16BE(CT_KEY.dport)}/${k[CT_KEY.proto]}`);
  }

  /** Raw entry counts of the two policy maps (both generations), read from the pinned maps. */
  policyMapSizes(): { entries: number; endpoints: number } {
    return {
      entries: mapKeys(this.obj.mapFd(MAP.policy), POLICY_KEY.size).length,
      endpoints: mapKeys(this.obj.mapFd(MAP.policyEndpoint), 4).length,
    };
  }

  /** Events emitted since the last call. */
  events(): DatapathEvent[] {
    this.rb.consume();
    return this.pending.splice(0);
  }

  close(): void {
    this.rb.free();
    this.obj.close();
    this.dp.close();
  }
}
