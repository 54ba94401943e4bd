// Microbenchmark: the datapath's BPF run time per TCP_CRR-like connection, program by program, through
// BPF_PROG_TEST_RUN (no cluster, no traffic; root for the BPF syscalls). One node's datapath sees both
// ends of two cross-node connections at once, as the two nodes of observer-bench do (tunnel routing):
//   client side  pod A → remote pod R:  from_container gets A's packets, from_overlay R's replies
//   server side  remote pod C → pod B:  from_overlay gets C's packets, from_container B's replies
// Every connection has its own client port, so each one creates, looks up and closes its own conntrack
// (and LB bookkeeping) entries, as a new connection does. Each packet runs once (repeat 1: the kernel's
// per-run duration); the figure per connection is the sum over its packets. Objects given with
// --ref-object run interleaved with this build's, batch by batch, in fresh pin dirs: before/after of a
// datapath change in one run. Not what test_run cannot show: the tunnel key a from_overlay packet lacks
// here (tunnel_src_identity returns world before its ipcache lookup) and the redirect itself.
//   node dist/bench/datapath-conn-bench.js [--connections 4000] [--batch 200] [--observer on|off] [--ref-object PATH]...
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { REPO_ROOT } from '../harness/paths.js';
import { resolve as resolvePath } from 'node:path';
import { BpfObject, mapUpdate, progTestRun } from '../agent/datapath/libbpf.js';
import { u32Key } from '../agent/datapath/codec.js';
import { CONFIG, MAP, OBSERVER_OFF, PROG } from '../agent/datapath/constants.js';
import type { EndpointEntry } from '../agent/datapath/types.js';
import { eth, ETH_P_IP, skbCtx, TCP, tcp } from '../bpf/tests/packets.js';
import { TC_OK_OBJECT } from './tc-hook-cost.js';
import { buildAndMount, Harness, OBJ, otherIfindex, removePinDir, tempPinDir } from '../bpf/tests/fixture.js';
import { machineSummary, median } from './stats.js';

const IFX = otherIfindex() ?? 1;
const A: EndpointEntry = { ifindex: 1, ip: '198.19.1.10', podMac: '02:00:00:00:00:0a', hostMac: '02:00:00:00:01:0a', identity: 1001, endpointId: 10 };
const B: EndpointEntry = { ifindex: IFX, ip: '198.19.1.20', podMac: '02:00:00:00:00:14', hostMac: '02:00:00:00:01:14', identity: 1002, endpointId: 20 };
const R = '198.19.2.30'; // server pod on the other node
const C = '198.19.2.40'; // client pod on the other node
const REMOTE_NODE = '198.18.0.12';
const PORT = 9100;

type Prog = (typeof PROG)[keyof typeof PROG];
interface Pkt { prog: Prog; frame: Buffer; ifindex: number }

/** The packets of one connection as this node's programs see them, client port `sport`. */
function connection(sport: number): Pkt[] {
  const P = TCP.PSH | TCP.ACK;
  const req = Buffer.alloc(64, 1);
  const out = (src: EndpointEntry, dst: string, sp: number, dp: number, flags: number, payload: Buffer<ArrayBuffer> = Buffer.alloc(0)): Pkt => ({ prog: PROG.fromContainer, ifindex: src.ifindex, frame: eth(src.hostMac, src.podMac, ETH_P_IP, tcp(src.ip, dst, sp, dp, flags, payload)) });
  const inn = (src: string, dst: string, sp: number, dp: number, flags: number, payload: Buffer<ArrayBuffer> = Buffer.alloc(0)): Pkt => ({ prog: PROG.fromOverlay, ifindex: 1, frame: eth('02:00:00:00:02:00', '02:00:00:00:02:01', ETH_P_IP, tcp(src, dst, sp, dp, flags, payload)) });
  return [
    // client side: A connects to R
    out(A, R, sport, PORT, TCP.SYN), inn(R, A.ip, PORT, sport, TCP.SYN | TCP.ACK), out(A, R, sport, PORT, TCP.ACK),
    out(A, R, sport, PORT, P, req), inn(R, A.ip, PORT, sport, P, req), inn(R, A.ip, PORT, sport, TCP.FIN | TCP.ACK),
    out(A, R, sport, PORT, TCP.FIN | TCP.ACK), inn(R, A.ip, PORT, sport, TCP.ACK),
    // server side: C connects to B
    inn(C, B.ip, sport, PORT, TCP.SYN), out(B, C, PORT, sport, TCP.SYN | TCP.ACK), inn(C, B.ip, sport, PORT, TCP.ACK),
    inn(C, B.ip, sport, PORT, P, req), out(B, C, PORT, sport, P, req), out(B, C, PORT, sport, TCP.FIN | TCP.ACK),
    inn(C, B.ip, sport, PORT, TCP.FIN | TCP.ACK), out(B, C, PORT, sport, TCP.ACK),
  ];
}

interface Subject { label: string; object: string; pinDir: string; h: Harness; perConn: Record<string, number[]>; perPacket: number[][]; conns: number; port: number }

function open(label: string, object: string, observer: boolean): Subject {
  const pinDir = tempPinDir('dpcost');
  const h = new Harness(pinDir, object);
  h.dp.upsertEndpoint(A);
  h.dp.upsertEndpoint(B);
  h.dp.upsertIpcache('198.19.2.0/24', { identity: 2000, tunnelEndpoint: REMOTE_NODE });
  h.dp.upsertIpcache(`${R}/32`, { identity: 2001, tunnelEndpoint: REMOTE_NODE });
  h.dp.upsertIpcache(`${C}/32`, { identity: 2002, tunnelEndpoint: REMOTE_NODE });
  mapUpdate(h.obj.mapFd(MAP.config), u32Key(CONFIG.tunnelIfindex), u32Key(IFX));
  if (!observer) mapUpdate(h.obj.mapFd(MAP.config), u32Key(CONFIG.observerOff), u32Key(OBSERVER_OFF.traces | OBSERVER_OFF.l7));
  return { label, object, pinDir, h, perConn: {}, perPacket: [], conns: 0, port: 20000 };
}

function runBatch(s: Subject, n: number): void {
  for (let i = 0; i < n; i++) {
    const sums: Record<string, number> = {};
    for (const [j, p] of connection(s.port++).entries()) {
      const r = s.h.run(p.prog, p.frame, p.ifindex);
      sums[p.prog] = (sums[p.prog] ?? 0) + r.durationNs;
      (s.perPacket[j] ??= []).push(r.durationNs);
    }
    for (const [k, v] of Object.entries(sums)) (s.perConn[k] ??= []).push(v);
    s.conns++;
  }
  s.h.events(); // drain the ring (observer on): a full ring would turn emission into the lost path
}

/** --ops: the building blocks' cost (bench/bpf/op-cost.bpf.c), ns per operation over op_none. */
function opCosts(frame: Buffer): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'cnilab-opcost-'));
  try {
    const out = join(dir, 'op-cost.o');
    const arch = execFileSync('uname', ['-m'], { encoding: 'utf8' }).trim();
    execFileSync('clang', ['-O2', '-g', '-target', 'bpf', `-I/usr/include/${arch}-linux-gnu`, '-c', resolve(REPO_ROOT, 'bench/bpf/op-cost.bpf.c'), '-o', out]);
    const o = BpfObject.open(out);
    try {
      o.load();
      const ctx = skbCtx(1);
      progTestRun(o.programFd('op_setup'), frame, ctx);
      const ops = ['op_ktime', 'op_ktime_coarse', 'op_hash_hit', 'op_hash_miss', 'op_lru_hit', 'op_lru_miss', 'op_lru_delete_miss', 'op_lru_update_new', 'op_lru_pcpu_update_new', 'op_hash_update_new', 'op_lpm', 'op_atomic', 'op_load_bytes', 'op_store_bytes', 'op_l3_csum', 'op_tunnel_key'];
      const got: Record<string, number[]> = {};
      // Rounds, each op once per round with 500 repeats (its mean per run), minus op_none of the round.
      for (let round = 0; round < 15; round++) {
        const none = progTestRun(o.programFd('op_none'), frame, ctx, 500).durationNs;
        for (const op of ops) (got[op] ??= []).push((progTestRun(o.programFd(op), frame, ctx, 500).durationNs - none) / 16);
      }
      return ops.map((op) => `  ${op.slice(3).padEnd(18)} ${median(got[op]!).toFixed(1).padStart(7)} ns per operation (median of 15 rounds)`);
    } finally {
      o.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { connections: { type: 'string' }, batch: { type: 'string' }, observer: { type: 'string' }, 'ref-object': { type: 'string', multiple: true }, 'per-packet': { type: 'boolean' }, ops: { type: 'boolean' } } });
  const total = Number(values.connections ?? 4000);
  const batch = Number(values.batch ?? 200);
  if (!Number.isInteger(total) || total < 10 || total > 30000) throw new Error(`--connections: ${values.connections} is out of range (10–30000)`);
  if (!Number.isInteger(batch) || batch < 1) throw new Error(`--batch: ${values.batch} is out of range`);
  if (values.observer !== undefined && values.observer !== 'on' && values.observer !== 'off') throw new Error(`--observer: expected on or off, got ${values.observer}`);
  const observer = values.observer !== 'off';
  await buildAndMount();
  const subjects: Subject[] = [];
  try {
    subjects.push(open('this build', OBJ, observer));
    for (const r of values['ref-object'] ?? []) subjects.push(open(r, resolvePath(r), observer));
    // Warm-up (maps, caches), then interleaved batches, the order rotating.
    for (const s of subjects) runBatch(s, 50);
    for (const s of subjects) { s.perConn = {}; s.perPacket = []; s.conns = 0; }
    for (let done = 0, k = 0; done < total; done += batch, k++) {
      for (const s of [...subjects.slice(k % subjects.length), ...subjects.slice(0, k % subjects.length)]) runBatch(s, Math.min(batch, total - done));
    }
    console.log(`datapath BPF run time per connection (BPF_PROG_TEST_RUN, ${total} connections, 16 packets each: both ends of a cross-node TCP_CRR connection, tunnel routing, observer ${observer ? 'on' : 'off'}; ${machineSummary()})`);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    for (const s of subjects) {
      const progs = Object.keys(s.perConn).sort();
      const all = s.perConn[progs[0]!]!.map((_, i) => progs.reduce((a, p) => a + s.perConn[p]![i]!, 0));
      console.log(`${s.label.padEnd(28)} ${progs.map((p) => `${p} median ${median(s.perConn[p]!).toFixed(0)} / mean ${mean(s.perConn[p]!).toFixed(0)} ns`).join(', ')}; all median ${median(all).toFixed(0)} / mean ${mean(all).toFixed(0)} ns per connection`);
    }
    // The floor: what one test run of a program that does nothing measures (bpf/tc_ok.c).
    const ok = BpfObject.open(TC_OK_OBJECT);
    ok.load();
    const floor: number[] = [];
    for (let i = 0; i < 2000; i++) floor.push(progTestRun(ok.programFd('tc_ok'), connection(1)[0]!.frame, skbCtx(1)).durationNs);
    ok.close();
    console.log(`floor: tc_ok (returns TC_ACT_OK) median ${median(floor).toFixed(0)} ns per test run (× 16 packets = ${(16 * median(floor)).toFixed(0)} ns per connection)`);
    if (values['per-packet']) {
      const names = ['A SYN', 'R SYN-ACK', 'A ACK', 'A req', 'R resp', 'R FIN', 'A FIN', 'R ACK', 'C SYN', 'B SYN-ACK', 'C ACK', 'C req', 'B resp', 'B FIN', 'C FIN', 'B ACK'];
      for (const s of subjects) console.log(`${s.label}: per packet (median ns): ${s.perPacket.map((xs, j) => `${names[j]} ${median(xs).toFixed(0)}`).join(', ')}`);
    }
    if (values.ops) console.log(['building blocks (bench/bpf/op-cost.bpf.c, BPF_PROG_TEST_RUN):', ...opCosts(connection(1)[0]!.frame)].join('\n'));
    if (subjects.length > 1) {
      const tot = (s: Subject) => median(Object.keys(s.perConn).map((p) => s.perConn[p]!).reduce((acc, xs) => acc.map((a, i) => a + xs[i]!), new Array(s.conns).fill(0) as number[]));
      for (const s of subjects.slice(1)) console.log(`this build / ${s.label}: ${(tot(subjects[0]!) / tot(s)).toFixed(2)}× the BPF time per connection (medians)`);
    }
  } finally {
    for (const s of subjects) {
      s.h.close();
      removePinDir(s.pinDir);
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
