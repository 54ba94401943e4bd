// Throughput of native routing, reported not asserted (machine noise): iperf3 TCP pod a → pod b across
// nodes with the datapath attached vs the same devices and routes with no BPF at all (plain kernel
// routing), samples interleaved. Opt-in, it takes ~40 s:
//   CNILAB_BENCH_NATIVE=1 npx vitest run --project root bpf/tests/native-bench
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, start, type Background } from '../../harness/exec/run.js';
import { NativeTopology } from './native-topology.js';

const SAMPLES = Number(process.env.CNILAB_BENCH_SAMPLES ?? 3);
const SECONDS = Number(process.env.CNILAB_BENCH_SECONDS ?? 5);

describe.runIf(process.env.CNILAB_BENCH_NATIVE === '1')('native routing throughput: datapath vs kernel routing', () => {
  const topo = new NativeTopology();
  const [A, B] = topo.nodes;
  let server: Background;

  beforeAll(async () => {
    await topo.up();
    server = start(['iperf3', '-s'], { netns: B.podNs });
    for (let i = 0; i < 50 && !server.output().stdout.includes('listening'); i++) await new Promise((r) => setTimeout(r, 50));
  });
  afterAll(async () => {
    await server?.stop();
    await topo.down();
  });

  const mode = async (bpf: boolean): Promise<void> => {
    topo.nodes.forEach((n) => (bpf ? topo.attach(n) : topo.detach(n)));
    for (const n of topo.nodes) {
      const out = JSON.parse((await run(['bpftool', '-j', 'net', 'show'], { netns: n.nodeNs })).stdout) as Array<{ tc?: unknown[] }>;
      expect(out.flatMap((o) => o.tc ?? []).length, `tc programs on node ${n.name}`).toBe(bpf ? 4 : 0);
    }
  };
  const sample = async (): Promise<number> => {
    const r = await run(['iperf3', '-c', B.podIp, '-t', String(SECONDS), '-J'], { netns: A.podNs, timeoutMs: (SECONDS + 20) * 1000 });
    const j = JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } };
    return j.end.sum_received.bits_per_second / 1e9;
  };

  it(`iperf3 TCP, ${SAMPLES} interleaved samples of ${SECONDS} s each`, { timeout: 600_000 }, async () => {
    const got = { bpf: [] as number[], kernel: [] as number[] };
    for (let i = 0; i < SAMPLES; i++) {
      // Alternate which goes first so drift (thermal, other load) does not favour one side.
      for (const bpf of i % 2 === 0 ? [true, false] : [false, true]) {
        await mode(bpf);
        expect((await run(['ping', '-c', '1', '-W', '2', B.podIp], { netns: A.podNs, allowFailure: true })).code).toBe(0);
        (bpf ? got.bpf : got.kernel).push(await sample());
      }
    }
    await mode(true);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const fmt = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(', ');
    console.log(`native datapath: ${fmt(got.bpf)} Gbit/s (mean ${mean(got.bpf).toFixed(2)})\n` +
      `kernel routing:  ${fmt(got.kernel)} Gbit/s (mean ${mean(got.kernel).toFixed(2)})\n` +
      `ratio datapath/kernel: ${(mean(got.bpf) / mean(got.kernel)).toFixed(3)}`);
    console.log(`drops a: ${JSON.stringify(A.dp!.dropCounters(), (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`);
  });
});
