// Benchmark: what the number of services costs the datapath's own lookup, without a cluster's noise. Two
// datapaths loaded side by side (their own pin dirs), one programmed by the agent's ServiceManager with
// 10 services of 3 backends, the other with 10,000; the two are timed in interleaved rounds (ABBA), and
// the ratio 10k / 10 gets a paired bootstrap interval over the rounds (each round's ratio, its two
// sides measured a moment apart, so the machine's drift cancels), read against ±--bound.
//   --mode repeat (default): bpf/bench_lb_lookup.c — the socket LB's per-service work at connect
//     (lb_lookup_service, lb_select_random, lb_backend: what sock4_xlate_fwd looks up) on each side's
//     pinned maps — run by BPF_PROG_TEST_RUN with the kernel's own repeat (--repeat runs in one syscall,
//     the kernel reporting the mean), twice a round: always the same service (as the cluster benchmark
//     connects to one), and a random one of the side's services each run (its entries out of the cache,
//     as on a node serving many services). sock4_connect itself cannot be test-run on this kernel
//     (no BPF_PROG_TEST_RUN for cgroup/sock_addr programs; the bench tries and prints the kernel's answer).
//     A third timing per round is the miss every packet of a translated connection makes at tc. From
//     these, an inferred bound: the larger count's extra time per connection (one connect-time lookup
//     and --packets misses, each the 97.5th percentile of the rounds' differences) against the time a
//     connection takes at --connections-per-s (the rate measured through a service, e.g. by
//     service-scale-paired-bench.js): the connection rate can lose at most that share. It assumes
//     what the code shows — nothing else on the path depends on the number of services.
//   --mode calls: from_container timed on a pod's TCP SYN to the first service's ClusterIP (per-packet
//     LB, known flow: frontend hash lookup, flow entry, backend, reverse entry, DNAT, then conntrack,
//     policy and the redirect), one run per syscall (a run rewrites the frame, so test_run's repeat
//     would time the backend-addressed copy), --calls per round, the round's median.
//   flock /tmp/cnilab-root.lock node dist/bench/service-scale-lookup-bench.js [--mode repeat|calls]
//     [--rounds 101 (repeat) | 15 (calls)] [--repeat 100000] [--calls 4000] [--counts 10,10000] [--bound 0.03]
//     [--connections-per-s 7000] [--packets 10]
import { parseArgs } from 'node:util';
import { buildAndMount, Harness, removePinDir, tempPinDir } from '../bpf/tests/fixture.js';
import { eth, ETH_P_IP, TCP, tcp } from '../bpf/tests/packets.js';
import { openLbMaps } from '../agent/datapath/lb-maps.js';
import { CONFIG, MAP, PROG, SOCK_PROG, TC_ACT } from '../agent/datapath/constants.js';
import { BpfObject, mapUpdate, progTestRun } from '../agent/datapath/libbpf.js';
import { u32Key } from '../agent/datapath/codec.js';
import { ServiceManager } from '../agent/service/manager.js';
import { machineSummary, median, percentile, spread } from './stats.js';
import { describeBound } from './service-scale-stats.js';
import { MIN_PAIRS_FOR_VERDICT, pairedRatioCi } from './observer-bench-stats.js';
import { CLIENT, clusterIp, LOOKUP_OBJECT, lookupFrame, mapFill, missFrame, programServices, SOCK_LB_OBJECT } from './service-lookup.js';

/** top[i] - base[i], sorted: each round's extra time of the larger count. */
function pairDiffs(top: number[], base: number[]): number[] {
  return top.map((t, i) => t - base[i]!).sort((x, y) => x - y);
}

/** What the kernel says to BPF_PROG_TEST_RUN on the socket LB's connect4 program (expected: not supported). */
function trySockTestRun(pinDir: string): string {
  const o = BpfObject.open(SOCK_LB_OBJECT, { pinRootPath: pinDir });
  try {
    o.load();
    progTestRun(o.programFd(SOCK_PROG.connect4.name), Buffer.alloc(0), Buffer.alloc(72));
    return 'ran (this kernel test-runs cgroup/sock_addr programs: time sock4_connect itself)';
  } catch (e) {
    return `refused: ${(e as Error).message}`;
  } finally {
    o.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { mode: { type: 'string' }, rounds: { type: 'string' }, calls: { type: 'string' }, repeat: { type: 'string' }, counts: { type: 'string' }, bound: { type: 'string' }, 'connections-per-s': { type: 'string' }, packets: { type: 'string' } } });
  const mode = values.mode ?? 'repeat';
  const rounds = Number(values.rounds ?? (mode === 'calls' ? 15 : 101));
  const calls = Number(values.calls ?? 4000);
  const repeat = Number(values.repeat ?? 100_000);
  const bound = Number(values.bound ?? 0.03);
  const counts = (values.counts ?? '10,10000').split(',').map(Number);
  const connPerS = Number(values['connections-per-s'] ?? 7000);
  const packets = Number(values.packets ?? 10);
  const usage = (why: string) => {
    process.stderr.write(`service-scale-lookup-bench: ${why}\nusage: --mode repeat|calls --rounds N (>= 8) --repeat N --calls N --counts A,B (1..16000) --bound F (0..1)\n`);
    process.exit(2);
  };
  if (mode !== 'repeat' && mode !== 'calls') usage(`--mode: repeat or calls, got "${mode}"`);
  if (!(Number.isInteger(rounds) && rounds >= MIN_PAIRS_FOR_VERDICT)) usage(`--rounds: a whole number >= ${MIN_PAIRS_FOR_VERDICT} (a bootstrap over fewer rounds gives too narrow an interval)`);
  if (!(Number.isInteger(calls) && calls >= 1)) usage('--calls: a whole number >= 1');
  if (!(Number.isInteger(repeat) && repeat >= 1 && repeat < 2 ** 31)) usage('--repeat: a whole number >= 1');
  if (!(bound > 0 && bound < 1)) usage('--bound: a fraction in (0, 1)');
  if (!(connPerS > 0)) usage('--connections-per-s: the measured connection rate through a service, > 0');
  if (!(Number.isInteger(packets) && packets >= 0)) usage('--packets: packets per connection through tc, a whole number >= 0');
  if (counts.length !== 2 || counts.some((n) => !Number.isInteger(n) || n < 1 || n > 16000)) usage('--counts: A,B in 1..16000');
  await buildAndMount();
  // Ctrl-C or a timeout's SIGTERM mid-run must not leave the pin dirs (programming 10k services takes seconds).
  const pinDirs: string[] = [];
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      for (const d of pinDirs) removePinDir(d);
      process.exit(130);
    });
  }
  const sides = counts.map((count) => {
    const pinDir = tempPinDir(`svcscale${count}`);
    pinDirs.push(pinDir);
    const h = new Harness(pinDir);
    // A tunnel device as the agent configures one (the backends are on another node).
    mapUpdate(h.obj.mapFd(MAP.config), u32Key(CONFIG.tunnelIfindex), u32Key(77));
    h.dp.upsertEndpoint(CLIENT);
    h.dp.upsertIpcache('198.19.2.0/24', { identity: 6, tunnelEndpoint: '198.18.0.12' });
    const maps = openLbMaps(pinDir);
    const t0 = performance.now();
    programServices(new ServiceManager({ maps, nodeName: 'node1' }), count);
    const lookup = mode === 'repeat' ? BpfObject.open(LOOKUP_OBJECT, { pinRootPath: pinDir }) : undefined;
    lookup?.load();
    return { count, pinDir, h, maps, lookup, programMs: performance.now() - t0, fill: mapFill(pinDir), perRound: [] as number[], spreadRound: [] as number[], missRound: [] as number[] };
  });
  let sockTestRun = '';
  const frame = eth(CLIENT.hostMac, CLIENT.podMac, ETH_P_IP, tcp(CLIENT.ip, clusterIp(1), 40000, 80, TCP.SYN));
  const t0 = performance.now();
  try {
    sockTestRun = trySockTestRun(sides[0]!.pinDir);
    for (let round = 0; round < rounds; round++) {
      for (const s of round % 2 ? [...sides].reverse() : sides) {
        if (s.lookup) {
          const fd = s.lookup.programFd('lb_lookup_bench');
          for (const [spread, into] of [[0, s.perRound], [s.count, s.spreadRound]] as const) {
            const r = progTestRun(fd, lookupFrame(spread), undefined, repeat);
            // A run that found no backend timed a miss, not the lookup.
            if (r.retval !== TC_ACT.OK) throw new Error(`${s.count} services: the lookup found no backend (retval ${r.retval}, spread ${spread})`);
            into.push(r.durationNs);
          }
          const miss = progTestRun(fd, missFrame(), undefined, repeat);
          if (miss.retval !== TC_ACT.SHOT) throw new Error(`${s.count} services: a backend address was found as a service (retval ${miss.retval})`);
          s.missRound.push(miss.durationNs);
          continue;
        }
        const ns: number[] = [];
        for (let i = 0; i < calls; i++) {
          const r = s.h.run(PROG.fromContainer, frame);
          // Translated and sent on (the tunnel or the stack): a run that did not translate times nothing.
          if (r.retval === TC_ACT.SHOT || r.dataOut.readUInt16BE(14 + 20 + 2) !== 8080) throw new Error(`${s.count} services: the SYN was not translated (retval ${r.retval})`);
          ns.push(r.durationNs);
        }
        s.perRound.push(median(ns));
      }
    }
  } finally {
    for (const s of sides) {
      s.lookup?.close();
      s.maps.close();
      s.h.close();
      removePinDir(s.pinDir);
    }
  }
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  const [a, b] = sides as [(typeof sides)[0], (typeof sides)[0]];
  const out: string[] = [];
  if (mode === 'repeat') {
    out.push(`service lookup (BPF_PROG_TEST_RUN repeat ${repeat}, bench_lb_lookup: frontend, random backend slot, backend): ${machineSummary()}; ${rounds} rounds, ABBA; ${secs} s`);
    out.push(`  BPF_PROG_TEST_RUN on cgroup/connect4 (sock4_connect): ${sockTestRun}`);
    for (const s of sides) out.push(`  ${s.count} services (programmed in ${s.programMs.toFixed(0)} ms in-process): one service ${median(s.perRound)} ns per run (round means ${spread(s.perRound)}), a random one of ${s.count} ${median(s.spreadRound)} ns (${spread(s.spreadRound)})`);
    out.push(`  ${b.count} / ${a.count}, always the same service: ${describeBound(pairedRatioCi(b.perRound, a.perRound), bound)}`);
    out.push(`  ${b.count} / ${a.count}, a random one of each side's services: ${describeBound(pairedRatioCi(b.spreadRound, a.spreadRound), bound)}`);
    out.push(`  ${b.count} / ${a.count}, a miss (a packet to a backend, as every packet of a translated connection at tc): ${describeBound(pairedRatioCi(b.missRound, a.missRound), bound)} (${median(a.missRound)} vs ${median(b.missRound)} ns)`);
    // What the lookups' extra time can do to a connection's: per connection one connect-time lookup
    // and --packets misses at tc, against the time one connection takes at --connections-per-s.
    const extra = (base: number[], top: number[]) => Math.max(0, percentile(pairDiffs(top, base), 97.5));
    const worst = (spreadLookups: boolean) => (spreadLookups ? extra(a.spreadRound, b.spreadRound) : extra(a.perRound, b.perRound)) + packets * extra(a.missRound, b.missRound);
    const budgetNs = 1e9 / connPerS;
    for (const [what, w] of [['one service', worst(false)], ['a random service each time', worst(true)]] as const) {
      const share = w / budgetNs;
      out.push(`  inferred bound, ${what}: ≤ ${w.toFixed(0)} ns more per connection (97.5th percentile of the rounds' differences; 1 lookup + ${packets} misses) of ${(budgetNs / 1000).toFixed(0)} µs per connection at ${connPerS}/s: connection rate ≥ ×${(1 / (1 + share)).toFixed(4)}: within ${bound * 100} %: ${share <= bound ? 'met (inferred)' : 'not shown'}`);
    }
  } else {
    out.push(`service lookup (BPF_PROG_TEST_RUN, from_container, known flow to a ClusterIP): ${machineSummary()}; ${rounds} rounds × ${calls} runs, ABBA; ${secs} s`);
    for (const s of sides) out.push(`  ${s.count} services (programmed in ${s.programMs.toFixed(0)} ms in-process): ${median(s.perRound).toFixed(0)} ns per run (round medians ${spread(s.perRound)})`);
    out.push(`  ${b.count} / ${a.count}: ${describeBound(pairedRatioCi(b.perRound, a.perRound), bound)}`);
  }
  for (const s of sides) out.push(`  map entries with ${s.count} services: ${s.fill}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch((e) => {
  process.stderr.write(`service-scale-lookup-bench: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
