// Benchmark: what a service costs, by where it is translated. One cnilab cluster (tunnel, 2 nodes), the
// client pod on node1 and one server pod on node2, measured three ways in interleaved rounds:
//   direct      the server pod's IP (no service at all)
//   socket LB   its Service's ClusterIP, translated once at connect() by the cgroup hooks
//   per-packet  the same ClusterIP with the cgroup hooks detached on every node, so every packet is
//               translated at tc (DNAT in from_container, reverse NAT on the way back)
// TCP throughput (iperf3, 1 stream) and connection rate (TCP_CRR-like). Prints medians and ratios to direct.
//   node dist/bench/lb-modes-bench.js [--samples 5] [--duration 3] [--modes direct,socket LB,per-packet] [--diag] [--capture DIR]
// --diag prints, after every sample, what could make samples drift: TIME_WAIT sockets and TCP counters in
// the client and server pods, the fill of the conntrack and per-packet LB maps on both nodes (bench/lb-state.ts),
// and the CPU contention from other jobs during the sample (PSI cpu wait share, steal).
// --capture DIR records the CRR port in the client and server pods and dumps the LB maps after every CRR
// sample (bench/lb-capture.ts), for bench/lb-reset-explain.ts; it slows the samples, so its rates are not
// the ones to report.
import { parseArgs } from 'node:util';
import { paths } from '../harness/cluster/names.js';
import type { Service } from '../harness/cluster/objects.js';
import { destroyCluster } from '../harness/providers/netns/cluster.js';
import { runIperfClient } from '../harness/traffic/iperf.js';
import { setupSocketLb } from '../agent/datapath/sock-lb.js';
import { BPF_BUILD_DIR } from '../harness/paths.js';
import { runCrrClient } from '../scenarios/performance/crr.js';
import { PORTS, PERF_NAMESPACE } from '../scenarios/performance/workload.js';
import { bringUpScale } from './service-scale.js';
import { machineSummary, median, spread } from './stats.js';
import { dumpLbMaps, startPodCaptures, type PodCapture } from './lb-capture.js';
import { writeFileSync } from 'node:fs';
import { contentionBetween, describeLbState, readCpuContention, readLbState, type LbState } from './lb-state.js';

const NAME = 'lbm-cni';
const MODES = ['direct', 'socket LB', 'per-packet'] as const;
type Mode = (typeof MODES)[number];

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { samples: { type: 'string' }, duration: { type: 'string' }, diag: { type: 'boolean' }, modes: { type: 'string' }, capture: { type: 'string' } } });
  const modes = values.modes ? values.modes.split(',').map((m) => m.trim()) : [...MODES];
  const unknown = modes.filter((m) => !(MODES as readonly string[]).includes(m));
  if (unknown.length || !modes.length) throw new Error(`--modes: a comma-separated subset of ${MODES.join(', ')} (got ${unknown.join(', ') || 'none'})`);
  const samples = Number(values.samples ?? 5);
  const duration = Number(values.duration ?? 3);
  const results = new Map<Mode, { gbps: number[]; crr: number[]; failures: string[] }>(MODES.map((m) => [m, { gbps: [], crr: [], failures: [] }]));
  const t0 = Date.now();
  process.on('SIGINT', () => void destroyCluster(NAME).then(() => process.exit(130)));
  const c = await bringUpScale('cnilab-tunnel', NAME);
  try {
    const server = c.handle.pods['server-other'];
    await c.handle.client.apply([
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'lbm', namespace: PERF_NAMESPACE },
        spec: { selector: { role: 'server-other' }, ports: [{ name: 'iperf', port: PORTS.iperf, targetPort: PORTS.iperf }, { name: 'crr', port: PORTS.crr, targetPort: PORTS.crr }] },
      },
    ]);
    const clusterIp = ((await c.handle.client.get('Service', PERF_NAMESPACE, 'lbm')) as Service).spec.clusterIP!;
    await new Promise((r) => setTimeout(r, 500)); // the agents program it
    const sockObject = `${BPF_BUILD_DIR}/bpf_sock.o`;
    const setMode = (mode: Mode) => {
      for (const n of c.handle.spec.nodes) setupSocketLb({ pinDir: paths.bpfNodeDir(NAME, n.name), objectPath: sockObject, attach: mode !== 'per-packet' });
    };
    const diagPods = { client: c.handle.pods.client.netns, server: server.netns };
    const nodes = c.handle.spec.nodes.map((n) => n.name);
    let last: LbState | undefined = values.diag ? await readLbState(NAME, nodes, diagPods) : undefined;
    const captureDir = values.capture;
    const windows: Array<{ round: number; mode: string; host: string; start: number; end: number }> = [];
    let capture: PodCapture | undefined = captureDir ? await startPodCaptures(captureDir, diagPods, PORTS.crr) : undefined;
    try {
    for (let round = 0; round < samples; round++) {
      const order = modes.map((_, i) => modes[(i + round) % modes.length]! as Mode);
      for (const mode of order) {
        setMode(mode);
        const host = mode === 'direct' ? server.ip : clusterIp;
        const r = results.get(mode)!;
        // A sample that fails is reported as such (a connection whose reply never came hangs the CRR
        // client until its timeout), never as a number, and the other modes go on.
        const sample = async (what: string, fn: () => Promise<number>, into: number[]) => {
          try {
            into.push(await fn());
          } catch (e) {
            r.failures.push(`round ${round + 1} ${what}: ${(e as Error).message.split('\n')[0]}`);
          }
        };
        await sample('iperf3', async () => (await runIperfClient({ netns: c.handle.pods.client.netns, host, port: PORTS.iperf, durationSec: duration, parallel: 1 })).receivedBitsPerSecond / 1e9, r.gbps);
        let crrErrors = 0;
        const busyBefore = readCpuContention();
        const crrStart = Date.now() / 1000;
        await sample('crr', async () => {
          const x = await runCrrClient({ netns: c.handle.pods.client.netns, host, port: PORTS.crr, durationSec: duration });
          crrErrors = x.errors;
          return x.rate;
        }, r.crr);
        const busy = contentionBetween(busyBefore, readCpuContention());
        if (captureDir) {
          windows.push({ round: round + 1, mode, host, start: crrStart, end: Date.now() / 1000 });
          await dumpLbMaps(captureDir, `r${round + 1}-${mode.replace(/ /g, '-')}`, NAME, nodes);
        }
        process.stderr.write(`round ${round + 1} ${mode}: ${r.gbps.at(-1)?.toFixed(2)} Gbit/s, ${r.crr.at(-1)?.toFixed(0)} conn/s (${crrErrors} connect errors; CPU wait ${(busy.waitShare * 100).toFixed(0)} %, steal ${busy.stealPerS.toFixed(0)}/s)${r.failures.length ? ` (${r.failures.length} failed samples)` : ''}\n`);
        if (values.diag) {
          const now = await readLbState(NAME, nodes, diagPods);
          process.stderr.write(`${describeLbState(now, last)}\n`);
          last = now;
        }
      }
    }
    } finally {
      await capture?.stop();
      capture = undefined;
      if (captureDir) writeFileSync(`${captureDir}/samples.json`, JSON.stringify({ clusterIp, server: server.ip, client: c.handle.pods.client.ip, windows }, null, 1));
    }
    setMode('socket LB');
  } finally {
    await c.handle.stopServers();
    await destroyCluster(NAME);
  }
  const direct = results.get('direct')!;
  const out = [`LB modes: ${machineSummary()}; ${samples} interleaved rounds of ${duration} s, client node1 → server pod node2 (tunnel); ${Math.round((Date.now() - t0) / 1000)} s`];
  out.push('| path | TCP 1 stream (Gbit/s) | ratio | connections/s | ratio |', '|---|---|---|---|---|');
  const cell = (xs: number[], base: number[], digits: number) =>
    xs.length ? [`${median(xs).toFixed(digits)} (${spread(xs, digits)}; ${xs.length}/${samples} samples)`, base.length ? (median(xs) / median(base)).toFixed(3) : '–'] : ['failed', '–'];
  for (const mode of modes as Mode[]) {
    const r = results.get(mode)!;
    out.push(`| ${mode} | ${cell(r.gbps, direct.gbps, 2).join(' | ')} | ${cell(r.crr, direct.crr, 0).join(' | ')} |`);
  }
  for (const mode of modes as Mode[]) for (const f of results.get(mode)!.failures) out.push(`failed sample, ${mode}: ${f}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch(async (e) => {
  process.stderr.write(`lb-modes-bench: ${(e as Error).stack ?? e}\n`);
  await destroyCluster(NAME).catch(() => undefined);
  process.exit(1);
});
