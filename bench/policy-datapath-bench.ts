// Benchmark: what policy enforcement costs per packet in the datapath. A cnilab-native cluster (the
// performance scenario's, pods client + server-same on node1, server-other on node2, each server running
// iperf3, sockperf and the CRR server), then, for each policy configuration, TCP throughput (iperf3, one
// stream), request/response latency (sockperf ping-pong, p50/p99) and connection rate (CRR), same node
// and across nodes. The configurations are interleaved round by round (rotating order) so they share
// the machine's noise; each figure is printed with its ratio to the no-policy case (goal: within 3 %).
//
// Policies are hand-built EndpointPolicy objects written into the nodes' pinned maps with the agent's own
// writer (agent/datapath/policy-writer.ts): client egress-enforced, both servers ingress-enforced, each
// with the entries that allow the measured traffic plus N filler entries (other identities, other
// ports) spread over K identities. Every configuration is checked to be really enforced before it is
// measured (a probe to a port no entry allows must time out, not be refused) and to be still in the
// maps afterwards.
//   flock /tmp/cnilab-root.lock node dist/bench/policy-datapath-bench.js [--rounds 4] [--seconds 3] [--quick]
import { performance } from 'node:perf_hooks';
import { paths } from '../harness/cluster/names.js';
import { probe } from '../harness/traffic/probe.js';
import { runIperfClient } from '../harness/traffic/iperf.js';
import { runSockperfPingPong } from '../harness/traffic/sockperf.js';
import { PERF_CONFIGS } from '../scenarios/performance/configs.js';
import { runCrrClient } from '../scenarios/performance/crr.js';
import { bringUp, PORTS, tearDown, type ConfigHandle, type PerfPod } from '../scenarios/performance/workload.js';
import { decodeEndpoint, ipToBytes } from '../agent/datapath/codec.js';
import { ENDPOINT, MAP } from '../agent/datapath/constants.js';
import { closeFd, mapLookup, objGet } from '../agent/datapath/libbpf.js';
import { PolicyMapWriter } from '../agent/datapath/policy-writer.js';
import type { EndpointPolicy, PolicyDirection, PolicyEntry } from '../agent/policy/types.js';
import { machineSummary, median, spread } from './stats.js';

const CLUSTER = 'pb-nat';
const CLOSED_PORT = 9; // no server and no entry: refused without policy, dropped with it
const SETTLE_MS = 1000;

interface PolicyConfig {
  name: string;
  /** undefined: no policy at all (no enforcement, no lookup). */
  entries?: number;
  identities?: number;
}
const CONFIGS: PolicyConfig[] = [
  { name: 'none' },
  { name: 'allow-only', entries: 0, identities: 1 },
  { name: '1k/100id', entries: 1000, identities: 100 },
  { name: '10k/100id', entries: 10_000, identities: 100 },
  { name: '10k/5kid', entries: 10_000, identities: 5000 },
];
const PATHS = ['same', 'other'] as const;
type Path = (typeof PATHS)[number];
const METRICS = ['throughput Gbit/s', 'RR p50 us', 'RR p99 us', 'CRR conn/s'] as const;
type Metric = (typeof METRICS)[number];
/** Which direction of change is worse, for the verdict column. */
const HIGHER_IS_BETTER: Record<Metric, boolean> = { 'throughput Gbit/s': true, 'RR p50 us': false, 'RR p99 us': false, 'CRR conn/s': true };

interface Endpoint {
  pod: PerfPod;
  endpointId: number;
  identity: number;
  writer: PolicyMapWriter;
}

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

/** The allowing entries plus `n` filler entries over `k` identities (cluster-range numbers no pod has). */
function buildPolicy(ep: Endpoint, dir: PolicyDirection, peers: number[], cfg: PolicyConfig): EndpointPolicy {
  const entries: PolicyEntry[] = [];
  for (const identity of peers) {
    for (const port of [PORTS.iperf, PORTS.sockperf, PORTS.crr]) entries.push({ direction: dir, identity, protocol: 6, port, endPort: port, deny: false });
  }
  const k = cfg.identities ?? 1;
  for (let i = 0; i < (cfg.entries ?? 0); i++) {
    const port = 20000 + Math.floor(i / k);
    entries.push({ direction: dir, identity: 100_000 + (i % k), protocol: 6, port, endPort: port, deny: false });
  }
  return { endpointId: ep.endpointId, ingressEnforced: dir === 'ingress', egressEnforced: dir === 'egress', entries };
}

function openEndpoint(h: ConfigHandle, pod: PerfPod, fds: number[]): Endpoint {
  const dir = paths.bpfNodeDir(CLUSTER, pod.node);
  const lxc = objGet(`${dir}/${MAP.lxcByIp}`);
  fds.push(lxc);
  const v = mapLookup(lxc, ipToBytes(pod.ip), ENDPOINT.size);
  if (!v) throw new Error(`pod ${pod.name} (${pod.ip}) is not in ${dir}/${MAP.lxcByIp}`);
  const e = decodeEndpoint(v);
  const pol = objGet(`${dir}/${MAP.policy}`);
  const polEp = objGet(`${dir}/${MAP.policyEndpoint}`);
  fds.push(pol, polEp);
  return { pod, endpointId: e.endpointId, identity: e.identity, writer: new PolicyMapWriter(pol, polEp) };
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const rounds = arg('rounds', quick ? 2 : 4);
  const seconds = arg('seconds', quick ? 1 : 3);
  let aborted = false;
  process.on('SIGINT', () => {
    aborted = true;
    console.error('interrupted: finishing the current sample, then tearing down');
  });
  const fds: number[] = [];
  let h: ConfigHandle | undefined;
  const samples = new Map<string, number[]>(); // `${config}|${path}|${metric}`
  const writes: Array<{ config: string; ms: number }> = [];
  try {
    console.error(`bringing up ${CLUSTER} (cnilab-native)…`);
    h = await bringUp(PERF_CONFIGS['cnilab-native'], CLUSTER);
    const client = openEndpoint(h, h.pods.client, fds);
    const servers: Record<Path, Endpoint> = { same: openEndpoint(h, h.pods['server-same'], fds), other: openEndpoint(h, h.pods['server-other'], fds) };
    const apply = (cfg: PolicyConfig): void => {
      const t0 = performance.now();
      if (cfg.entries === undefined) {
        for (const e of [client, servers.same, servers.other]) e.writer.delete(e.endpointId);
      } else {
        client.writer.set(buildPolicy(client, 'egress', [servers.same.identity, servers.other.identity], cfg));
        for (const s of Object.values(servers)) s.writer.set(buildPolicy(s, 'ingress', [client.identity], cfg));
      }
      writes.push({ config: cfg.name, ms: performance.now() - t0 });
    };
    /** Evidence that the configuration is what the datapath enforces right now. */
    const checkEnforced = async (cfg: PolicyConfig): Promise<void> => {
      const r = await probe({ netns: h!.pods.client.netns, protocol: 'tcp', host: servers.other.pod.ip, port: CLOSED_PORT, timeoutMs: 500 });
      const want = cfg.entries === undefined ? 'refused' : 'timeout';
      if (r.outcome !== want) throw new Error(`policy "${cfg.name}" not in force: a probe to port ${CLOSED_PORT} was ${r.outcome}, expected ${want}`);
      const live = client.writer.list().find((p) => p.endpointId === client.endpointId);
      if ((cfg.entries === undefined) !== (live === undefined)) throw new Error(`policy "${cfg.name}": the client's map entry is ${live ? 'present' : 'gone'}`);
    };
    const record = (cfg: string, path: Path, metric: Metric, v: number) => {
      const k = `${cfg}|${path}|${metric}`;
      samples.set(k, [...(samples.get(k) ?? []), v]);
    };
    const measure = async (cfg: PolicyConfig, path: Path, keep: boolean) => {
      const host = servers[path].pod.ip;
      const netns = h!.pods.client.netns;
      const ip = await runIperfClient({ netns, host, port: PORTS.iperf, durationSec: seconds });
      const rr = await runSockperfPingPong({ netns, host, port: PORTS.sockperf, protocol: 'tcp', durationSec: seconds });
      const crr = await runCrrClient({ netns, host, port: PORTS.crr, durationSec: seconds });
      if (!keep) return;
      record(cfg.name, path, 'throughput Gbit/s', ip.receivedBitsPerSecond / 1e9);
      record(cfg.name, path, 'RR p50 us', rr.p50);
      record(cfg.name, path, 'RR p99 us', rr.p99);
      record(cfg.name, path, 'CRR conn/s', crr.rate);
    };

    // Warm-up: every configuration once, discarded (first runs of each tool, the maps' first fill).
    for (const cfg of CONFIGS) {
      apply(cfg);
      await checkEnforced(cfg);
      await measure(cfg, 'other', false);
    }
    for (let round = 0; round < rounds && !aborted; round++) {
      const order = CONFIGS.map((_, i) => CONFIGS[(i + round) % CONFIGS.length]!);
      for (const cfg of order) {
        if (aborted) break;
        apply(cfg);
        await checkEnforced(cfg);
        // The same quiet second for every configuration before it is measured: the previous one's
        // connection burst (TIME_WAIT sockets, events the agents still decode) and the map writes settle.
        await new Promise((r) => setTimeout(r, SETTLE_MS));
        for (const path of PATHS) await measure(cfg, path, true);
        await checkEnforced(cfg);
        console.error(`round ${round + 1}/${rounds}: ${cfg.name} done`);
      }
    }

    console.log(`machine: ${machineSummary()}`);
    console.log(`cluster: cnilab-native, 2 nodes; ${rounds} rounds × ${seconds} s per test, configurations interleaved (rotating order); median (min–max), ratio to "none"`);
    console.log('policies: client egress + both servers ingress enforced; "allow-only" = just the 6 entries that allow the measured traffic; N/Kid = those plus N filler entries over K identities');
    for (const path of PATHS) {
      console.log(`\n${path === 'same' ? 'same node' : 'across nodes'}`);
      console.log(['config'.padEnd(12), ...METRICS.map((m) => m.padStart(30))].join(''));
      for (const cfg of CONFIGS) {
        const cells = METRICS.map((m) => {
          const xs = samples.get(`${cfg.name}|${path}|${m}`) ?? [];
          const base = samples.get(`none|${path}|${m}`) ?? [];
          if (!xs.length || !base.length) return 'unavailable'.padStart(30);
          const digits = m.startsWith('throughput') ? 2 : m.startsWith('CRR') ? 0 : 1;
          const ratio = median(xs) / median(base);
          const worse = HIGHER_IS_BETTER[m] ? 1 - ratio : ratio - 1;
          const flag = cfg.name === 'none' ? '' : worse > 0.03 ? ' !' : '';
          return `${median(xs).toFixed(digits)} (${spread(xs, digits)}) ×${ratio.toFixed(3)}${flag}`.padStart(30);
        });
        console.log([cfg.name.padEnd(12), ...cells].join(''));
      }
    }
    console.log('\n"!": more than 3 % worse than no policy (the goal is within 3 %)');
    const w = (name: string) => writes.filter((x) => x.config === name).map((x) => x.ms);
    for (const cfg of CONFIGS) {
      const ms = w(cfg.name);
      if (ms.length) console.log(`map writes switching to ${cfg.name.padEnd(10)}: median ${median(ms).toFixed(1)} ms (${spread(ms, 1)}) for 3 endpoints`);
    }
  } finally {
    fds.forEach(closeFd);
    const left = await tearDown(CLUSTER, h);
    if (left.length) console.error(`left behind: ${left.join(', ')}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
