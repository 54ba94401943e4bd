// Benchmark: what the number of services costs the datapath's own lookup, without a cluster's noise. Two
// datapaths loaded side by side (their own pin dirs), one programmed by the agent's ServiceManager with
// 10 services of 3 backends, the other with 10,000; BPF_PROG_TEST_RUN runs from_container on a pod's
// TCP SYN to the first service's ClusterIP (the same tuple every time: after the first run, the per-packet
// LB's known-flow path — frontend hash lookup, flow entry, backend, reverse entry, DNAT — then conntrack,
// policy and the redirect), and the kernel reports each run's time. One run per call (a run rewrites the
// frame, so test_run's repeat would time the backend-addressed copy), many calls per round, the two
// datapaths interleaved round by round; the ratio 10k / 10 of the per-round medians gets a bootstrap
// interval. The socket-LB hook (cgroup/connect4) uses the same frontend lookup (lb_lookup_service).
//   flock /tmp/cnilab-root.lock node dist/bench/service-scale-lookup-bench.js [--rounds 15] [--calls 4000] [--counts 10,10000]
import { parseArgs } from 'node:util';
import { buildAndMount, Harness, removePinDir, tempPinDir } from '../bpf/tests/fixture.js';
import { eth, ETH_P_IP, TCP, tcp } from '../bpf/tests/packets.js';
import { openLbMaps } from '../agent/datapath/lb-maps.js';
import { CONFIG, MAP, PROG, TC_ACT } from '../agent/datapath/constants.js';
import { mapUpdate } from '../agent/datapath/libbpf.js';
import { u32Key } from '../agent/datapath/codec.js';
import type { EndpointEntry } from '../agent/datapath/types.js';
import { ServiceManager } from '../agent/service/manager.js';
import { machineSummary, median, spread } from './stats.js';
import { describeRatioCi, ratioOfMediansCi } from './service-scale-stats.js';

const CLIENT: EndpointEntry = { ifindex: 1, ip: '198.19.1.10', podMac: '02:00:00:00:00:0a', hostMac: '02:00:00:00:01:0a', identity: 1001, endpointId: 10 };
const BACKENDS = ['198.19.2.30', '198.19.2.31', '198.19.2.32'];

/** The i-th ClusterIP of 198.18.64.0/18 (room for 16k). */
const clusterIp = (i: number) => `198.18.${64 + (i >> 8)}.${i & 255}`;

function programServices(m: ServiceManager, count: number): void {
  m.handle({ type: 'SYNCED' });
  for (let i = 1; i <= count; i++) {
    const name = `s${i}`;
    m.handle({ type: 'ADDED', object: { kind: 'Service', metadata: { name, namespace: 'b' }, spec: { type: 'ClusterIP', clusterIP: clusterIp(i), ports: [{ name: 'tcp', port: 80, protocol: 'TCP', targetPort: 8080 }] } } as never });
    m.handle({
      type: 'ADDED',
      object: {
        kind: 'EndpointSlice',
        metadata: { name: `${name}-1`, namespace: 'b', labels: { 'kubernetes.io/service-name': name } },
        addressType: 'IPv4',
        endpoints: BACKENDS.map((ip) => ({ addresses: [ip], conditions: { ready: true }, nodeName: 'node2' })),
        ports: [{ name: 'tcp', port: 8080, protocol: 'TCP' }],
      } as never,
    });
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string' }, calls: { type: 'string' }, counts: { type: 'string' } } });
  const rounds = Number(values.rounds ?? 15);
  const calls = Number(values.calls ?? 4000);
  const counts = (values.counts ?? '10,10000').split(',').map(Number);
  if (!(rounds >= 2) || !(calls >= 1) || counts.length !== 2 || counts.some((n) => !Number.isInteger(n) || n < 1 || n > 16000)) {
    process.stderr.write('usage: --rounds N (>= 2) --calls N (>= 1) --counts A,B (1..16000)\n');
    process.exit(2);
  }
  await buildAndMount();
  const sides = counts.map((count) => {
    const pinDir = tempPinDir(`svcscale${count}`);
    const h = new Harness(pinDir);
    // A tunnel device as the agent configures one (the backends are on another node).
    mapUpdate(h.obj.mapFd(MAP.config), u32Key(CONFIG.tunnelIfindex), u32Key(77));
    h.dp.upsertEndpoint(CLIENT);
    h.dp.upsertIpcache('198.19.2.0/24', { identity: 6, tunnelEndpoint: '198.18.0.12' });
    const maps = openLbMaps(pinDir);
    const t0 = performance.now();
    programServices(new ServiceManager({ maps, nodeName: 'node1' }), count);
    return { count, pinDir, h, maps, programMs: performance.now() - t0, perRound: [] as number[] };
  });
  const frame = eth(CLIENT.hostMac, CLIENT.podMac, ETH_P_IP, tcp(CLIENT.ip, clusterIp(1), 40000, 80, TCP.SYN));
  try {
    for (let round = 0; round < rounds; round++) {
      for (const s of round % 2 ? [...sides].reverse() : sides) {
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
      s.maps.close();
      s.h.close();
      removePinDir(s.pinDir);
    }
  }
  const [a, b] = sides as [(typeof sides)[0], (typeof sides)[0]];
  const out = [`service lookup (BPF_PROG_TEST_RUN, from_container, known flow to a ClusterIP): ${machineSummary()}; ${rounds} rounds × ${calls} runs, interleaved`];
  for (const s of sides) out.push(`  ${s.count} services (programmed in ${s.programMs.toFixed(0)} ms in-process): ${median(s.perRound).toFixed(0)} ns per run (round medians ${spread(s.perRound)})`);
  out.push(`  ${b.count} / ${a.count}: ${describeRatioCi(ratioOfMediansCi(b.perRound, a.perRound), 0.03)}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch((e) => {
  process.stderr.write(`service-scale-lookup-bench: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
