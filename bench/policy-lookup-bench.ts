// Benchmark: the policy lookup's own cost per packet, without a cluster's noise. BPF_PROG_TEST_RUN runs
// from_container many times on one packet of an established same-node connection (conntrack hit, the
// sender's egress and the receiver's ingress policy re-checked: four LPM lookups, then the redirect), and
// the kernel reports the mean time per run. Measured for no policy and for growing policy maps, the
// configurations interleaved over several rounds; the difference to "none" is what policy adds to every
// forward packet. Complements bench/policy-datapath-bench.ts (the same configurations under real traffic).
// test_run's repeat reruns the program on ONE skb, so what a run writes is what the next run reads: local
// delivery is a router hop (TTL decremented), so one frame survives at most TTL - 1 runs. The frame is
// sent with TTL 255 and timed in batches of BATCH runs (the kernel's mean per batch, batches weighted
// alike); each batch's output is checked (redirected, TTL down by exactly the batch's run count).
//   flock /tmp/cnilab-root.lock node dist/bench/policy-lookup-bench.js [--rounds 7] [--repeat 200000]
import { buildAndMount, Harness, otherIfindex, removePinDir, tempPinDir } from '../bpf/tests/fixture.js';
import { eth, ETH_P_IP, TCP, tcp, withTtl } from '../bpf/tests/packets.js';
import { skbCtx } from '../bpf/tests/packets.js';
import { progTestRun } from '../agent/datapath/libbpf.js';
import { PROG, TC_ACT } from '../agent/datapath/constants.js';
import type { EndpointEntry } from '../agent/datapath/types.js';
import type { EndpointPolicy, PolicyDirection, PolicyEntry } from '../agent/policy/types.js';
import { machineSummary, median, spread } from './stats.js';

const A: EndpointEntry = { ifindex: 1, ip: '198.19.1.10', podMac: '02:00:00:00:00:0a', hostMac: '02:00:00:00:01:0a', identity: 1001, endpointId: 10 };
const B: EndpointEntry = { ifindex: otherIfindex() ?? 4000, ip: '198.19.1.20', podMac: '02:00:00:00:00:14', hostMac: '02:00:00:00:01:14', identity: 1002, endpointId: 20 };
const PORT = 5201;
const TTL = 255;
const BATCH = 250; // < TTL: every run of a batch forwards, none hits TTL_EXCEEDED

/** Mean ns per run of the program over `repeat` runs of the frame, in batches on fresh copies of it. */
function meanNsPerRun(name: string, fd: number, frame: Buffer, ctx: Buffer, repeat: number): number {
  let totalNs = 0;
  for (let done = 0; done < repeat;) {
    const n = Math.min(BATCH, repeat - done);
    const r = progTestRun(fd, frame, ctx, n);
    if (r.retval !== TC_ACT.REDIRECT) throw new Error(`${name}: the ACK was not delivered (retval ${r.retval})`);
    const ttl = r.dataOut[14 + 8];
    if (ttl !== TTL - n) throw new Error(`${name}: TTL ${ttl} after ${n} runs, expected ${TTL - n} (a run did not forward)`);
    totalNs += r.durationNs * n;
    done += n;
  }
  return totalNs / repeat;
}

const CONFIGS = [
  { name: 'none' },
  { name: 'allow-only', entries: 0, identities: 1 },
  { name: '1k/100id', entries: 1000, identities: 100 },
  { name: '10k/100id', entries: 10_000, identities: 100 },
  { name: '10k/5kid', entries: 10_000, identities: 5000 },
  { name: '50k/5kid', entries: 50_000, identities: 5000 },
];

function policy(ep: EndpointEntry, dir: PolicyDirection, peer: number, n: number, k: number): EndpointPolicy {
  const entries: PolicyEntry[] = [{ direction: dir, identity: peer, protocol: 6, port: PORT, endPort: PORT, deny: false }];
  for (let i = 0; i < n; i++) {
    const port = 20000 + Math.floor(i / k);
    entries.push({ direction: dir, identity: 100_000 + (i % k), protocol: 6, port, endPort: port, deny: false });
  }
  return { endpointId: ep.endpointId, ingressEnforced: dir === 'ingress', egressEnforced: dir === 'egress', entries };
}

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

async function main(): Promise<void> {
  const rounds = arg('rounds', 7);
  const repeat = arg('repeat', 200_000);
  await buildAndMount();
  const dir = tempPinDir('lookup-bench');
  const h = new Harness(dir);
  try {
    h.dp.upsertEndpoint(A);
    h.dp.upsertEndpoint(B);
    const frame = (flags: number) => eth(A.hostMac, A.podMac, ETH_P_IP, tcp(A.ip, B.ip, 40000, PORT, flags));
    // Open the connection (its SYN creates the conntrack entry) with every policy allowing it.
    if (h.run(PROG.fromContainer, frame(TCP.SYN), A.ifindex).retval !== TC_ACT.REDIRECT) throw new Error('the SYN was not delivered');
    const ack = withTtl(frame(TCP.ACK), TTL);
    const ctx = skbCtx(A.ifindex);
    const fd = h.obj.programFd(PROG.fromContainer);
    const ns = new Map<string, number[]>();
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < CONFIGS.length; i++) {
        const cfg = CONFIGS[(i + round) % CONFIGS.length]!;
        if (cfg.entries === undefined) {
          h.dp.deleteEndpointPolicy!(A.endpointId);
          h.dp.deleteEndpointPolicy!(B.endpointId);
        } else {
          h.dp.setEndpointPolicy!(policy(A, 'egress', B.identity, cfg.entries, cfg.identities));
          h.dp.setEndpointPolicy!(policy(B, 'ingress', A.identity, cfg.entries, cfg.identities));
        }
        ns.set(cfg.name, [...(ns.get(cfg.name) ?? []), meanNsPerRun(cfg.name, fd, ack, ctx, repeat)]);
      }
      h.events(); // nothing is expected (an established connection's ACK), but never let the ring fill
    }
    console.log(`machine: ${machineSummary()}`);
    console.log(`from_container on an established same-node connection's ACK, ${repeat} runs per sample (batches of ${BATCH}), ${rounds} rounds interleaved; mean ns per packet`);
    const base = median(ns.get('none')!);
    for (const cfg of CONFIGS) {
      const xs = ns.get(cfg.name)!;
      console.log(`${cfg.name.padEnd(11)} ${median(xs).toFixed(0).padStart(5)} ns (${spread(xs)})  +${(median(xs) - base).toFixed(0)} ns over none`);
    }
  } finally {
    h.close();
    removePinDir(dir);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
