// One sample: one test, one path, one configuration, from the client pod to a server pod. Each tool's
// output is reduced to the quantities the report aggregates; a tool failure throws, and the caller
// records the sample as failed (never as a number).
import { runIperfClient } from '../../harness/traffic/iperf.js';
import { runSockperfPingPong } from '../../harness/traffic/sockperf.js';
import type { PathKind, Quantity, TestKind } from '../../reports/performance-model.js';
import { cpuSecondsBetween, cpuSecondsPerGB, readCpuTicks } from './cpu.js';
import { runCrrClient } from './crr.js';
import { runWrk } from '../../harness/traffic/wrk.js';
import { benchCpus } from '../../harness/traffic/cpu-pin.js';
import { PORTS, serverFor, type ConfigHandle } from './workload.js';

export interface MeasureParams {
  durationSec: number;
  latencyDurationSec: number;
  udpBitrate: string;
}

export type SampleValues = Partial<Record<Quantity, number>>;

export async function measure(h: ConfigHandle, test: TestKind, path: PathKind, p: MeasureParams): Promise<SampleValues> {
  const from = h.pods.client.netns;
  const host = h.pods[serverFor(path)].ip;
  const cpu = benchCpus()?.client;
  switch (test) {
    case 'tcp-1':
    case 'tcp-4':
    case 'udp': {
      const udp = test === 'udp';
      const before = readCpuTicks();
      const r = await runIperfClient({
        netns: from,
        cpu,
        host,
        port: PORTS.iperf,
        durationSec: p.durationSec,
        parallel: test === 'tcp-4' ? 4 : 1,
        ...(udp ? { udp: true, bitrate: p.udpBitrate } : {}),
      });
      const cpuSec = cpuSecondsBetween(before, readCpuTicks());
      // The receiver's figure: what reached the server pod, not what the client managed to send.
      const v: SampleValues = { throughput: r.receivedBitsPerSecond };
      const perGB = cpuSecondsPerGB(cpuSec, r.bytesReceived);
      if (perGB !== undefined) v.cpuPerGB = perGB;
      if (udp) {
        if (r.lostPercent !== undefined) v.loss = r.lostPercent;
      } else if (r.retransmits !== undefined) v.retransmits = r.retransmits;
      if (!(r.receivedBitsPerSecond > 0)) throw new Error(`iperf3 reported no data received from ${host}`);
      return v;
    }
    case 'rr': {
      const r = await runSockperfPingPong({ netns: from, cpu, host, port: PORTS.sockperf, protocol: 'tcp', durationSec: p.latencyDurationSec });
      if (r.validRunTimeSec <= 0 || r.receivedMessages === 0) throw new Error(`sockperf measured no round trip to ${host}`);
      // sockperf prints one-way latency (half the round trip); ratios are unaffected.
      return { p50: r.p50, p90: r.p90, p99: r.p99, tps: r.receivedMessages / r.validRunTimeSec };
    }
    case 'crr': {
      const r = await runCrrClient({ netns: from, cpu, host, port: PORTS.crr, durationSec: p.latencyDurationSec });
      return { rate: r.rate };
    }
    case 'http': {
      const role = serverFor(path) as 'server-same' | 'server-other';
      const r = await runWrk({ netns: from, cpu, url: `http://${h.serviceIps[role]}:80/hostname`, durationSec: p.latencyDurationSec });
      return { rps: r.requestsPerSec, p50: r.p50, p90: r.p90, p99: r.p99 };
    }
  }
}
