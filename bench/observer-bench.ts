// Benchmark: what visibility costs, measured side by side in one run on 2-node clusters that are all up
// at once, samples interleaved configuration by configuration:
//   kernel-vxlan / baseline   no BPF at all (kernel VXLAN / kernel routing): the limit of this host
//   cnilab-…-off              cnilab with hubble.enabled false: drops only, no traces, no payload copies
//   cnilab-…-on               cnilab with the observer on (the default)
// For each: the cross-node connection rate (TCP_CRR-like, a new connection per transaction) and the TCP
// throughput (iperf3, one stream). On the observer-on clusters, during the connection storm: the events
// the agents read, the events the ring buffer had no room for (goal 0), and the agents' CPU time. Then
// the pod network ready time (CNI ADD → first packet) quiet and during a connection storm of a fixed
// offered rate (--storm-rate, default 2000/s, open loop) on the same node, observer off and on,
// interleaved (bench/pod-ready-storm.ts): the storm's share and the observer's share of any growth,
// apart, each a ratio of medians with a bootstrap interval read against --ready-bound (default 0.10);
// the kernel cluster (no cnilab at all) gets the same quiet/storm pair in the same rounds, so the growth
// a storm causes on this machine anyway is told apart from cnilab's (not with --skip-kernel).
// The rate ratios are also given paired round by round, with a bootstrap interval
// (bench/observer-bench-stats.ts): whether a cost is the observer's or the machine's noise.
// --bpf-stats: the cnilab clusters' BPF run time per connection, per program (bench/bpf-prog-stats.ts).
// --maximum: one more cnilab cluster per routing with hubble.monitorAggregation maximum (no FROM_* traces).
// --ref-object PATH: one more observer-off cnilab cluster per routing loading another datapath object
// (e.g. a copy of bpf/build/datapath.o from before a change): before/after in the same run.
// --ref-tree PATH: one more observer-on cluster per routing whose daemon, agents and CNI plugin come from
// another built checkout (e.g. a copy of this one from before an agent change; its node_modules may be
// a symlink): before/after of the agent's side in the same run, rate and pod-ready split both.
// The agents' CPU during each storm is also read from /proc for every cnilab cluster (observer off too).
//   flock /tmp/cnilab-root.lock node dist/bench/observer-bench.js [--samples 5] [--duration 3] [--routing tunnel|native|both] [--pods 20] [--only rate|ready] [--awake] [--bpf-stats] [--maximum] [--ref-object PATH] [--ref-tree PATH] [--storm-rate 2000] [--ready-bound 0.1] [--skip-kernel]
import { parseArgs } from 'node:util';
import { resolve as resolvePath } from 'node:path';
import { resolveSpec, type ClusterSpec, type RoutingMode } from '../harness/cluster/spec.js';
import type { ControlPlaneClient } from '../harness/cluster/client.js';
import { netnsNames } from '../harness/cluster/names.js';
import { createCluster, destroyCluster } from '../harness/providers/netns/cluster.js';
import { waitPodsReady } from '../harness/cli/wait.js';
import { startIperfServer, runIperfClient } from '../harness/traffic/iperf.js';
import { runCrrClient, startCrrServer } from '../scenarios/performance/crr.js';
import { pausePod } from '../scenarios/framework/pods.js';
import { AgentClient } from '../agent/api/client.js';
import { run } from '../harness/exec/run.js';
import { fetchMetrics } from '../harness/cli/metrics.js';
import { keepCpusAwake, type Awake } from './cpu-awake.js';
import { describeReadySplit, measureReadySplit, summarizeReadySplit, type ReadySplit } from './pod-ready-storm.js';
import { agentCpuSeconds } from './observer-bench-proc.js';
import { atLeastVerdict, describeInterval, pairedRatioCi } from './observer-bench-stats.js';
import { machineSummary, median, spread } from './stats.js';
import { addDelta, clusterPrograms, describeProgramCost, enableBpfStats, programTotals, type ProgTotals } from './bpf-prog-stats.js';

const CRR_PORT = 9100;
const IPERF_PORT = 5301;
/** Pause before each sample: the previous sample's processes and softirq backlog are gone. */
const SETTLE_MS = 1000;

interface Config {
  label: string;
  spec: ClusterSpec;
  observer?: boolean;
  /** Environment for the cluster's daemon and agents (CNILAB_BPF_OBJECT: another datapath object). */
  env?: Record<string, string>;
  /** Another checkout (its dist/) whose daemon and agents run this cluster (--ref-tree). */
  tree?: string;
  client?: ControlPlaneClient;
  netns?: { client: string; server: string };
  serverIp?: string;
  stop?: Array<() => Promise<void>>;
}

function configs(routing: RoutingMode, extra: { maximum?: boolean; refObject?: string; refTree?: string } = {}): Config[] {
  const tag = routing === 'tunnel' ? 't' : 'n';
  const base = routing === 'tunnel' ? 'kernel-vxlan' : 'baseline';
  return [
    { label: base, spec: resolveSpec({}, 'bench', { name: `hub-k${tag}`, nodes: 2, cni: 'kernel', routing }) },
    { label: `cnilab-${routing}-off`, observer: false, spec: resolveSpec({ hubble: { enabled: false } }, 'bench', { name: `hub-f${tag}`, nodes: 2, cni: 'cnilab', routing }) },
    { label: `cnilab-${routing}-on`, observer: true, spec: resolveSpec({}, 'bench', { name: `hub-o${tag}`, nodes: 2, cni: 'cnilab', routing }) },
    ...(extra.maximum ? [{ label: `cnilab-${routing}-on-max`, observer: true, spec: resolveSpec({ hubble: { monitorAggregation: 'maximum' } }, 'bench', { name: `hub-m${tag}`, nodes: 2, cni: 'cnilab', routing }) }] : []),
    ...(extra.refTree ? [{ label: `cnilab-${routing}-on-ref`, observer: true, tree: extra.refTree, spec: resolveSpec({}, 'bench', { name: `hub-x${tag}`, nodes: 2, cni: 'cnilab', routing }) }] : []),
    ...(extra.refObject ? [{ label: `cnilab-${routing}-off-ref`, observer: false, env: { CNILAB_BPF_OBJECT: extra.refObject }, spec: resolveSpec({ hubble: { enabled: false } }, 'bench', { name: `hub-r${tag}`, nodes: 2, cni: 'cnilab', routing }) }] : []),
  ];
}

/** createCluster / destroyCluster of this checkout, or of the --ref-tree one (whose daemon then starts
 *  that tree's agents and CNI plugin: its distJs resolves from its own location). */
async function provider(c: Config): Promise<{ createCluster: typeof createCluster; destroyCluster: typeof destroyCluster }> {
  if (!c.tree) return { createCluster, destroyCluster };
  return (await import(resolvePath(c.tree, 'dist/harness/providers/netns/cluster.js'))) as { createCluster: typeof createCluster; destroyCluster: typeof destroyCluster };
}

async function bringUp(c: Config): Promise<void> {
  const p = await provider(c);
  await p.destroyCluster(c.spec.name);
  c.client = await p.createCluster(c.spec, c.env ? { env: c.env } : {});
  await c.client.apply([pausePod({ name: 'client', namespace: 'default', node: 'node1', labels: { app: 'client' } }), pausePod({ name: 'server', namespace: 'default', node: 'node2', labels: { app: 'server' } })]);
  await waitPodsReady(c.client, [{ namespace: 'default', name: 'client' }, { namespace: 'default', name: 'server' }], 60_000);
  c.serverIp = ((await c.client.get('Pod', 'default', 'server')).status as { podIP: string }).podIP;
  c.netns = { client: netnsNames.pod(c.spec.name, 'default', 'client'), server: netnsNames.pod(c.spec.name, 'default', 'server') };
  const crr = await startCrrServer({ netns: c.netns.server, port: CRR_PORT });
  const iperf = await startIperfServer({ netns: c.netns.server, port: IPERF_PORT });
  c.stop = [() => crr.stop(), () => iperf.stop()];
}

/** TcpExt TCPSynRetrans of a namespace: a SYN the client had to send again costs 1 s with one
 *  transaction in flight, so a few of them explain a sample that collapsed. */
async function synRetrans(netns: string): Promise<number> {
  const lines = (await run(['cat', '/proc/net/netstat'], { netns })).stdout.split('\n').filter((l) => l.startsWith('TcpExt:'));
  const names = lines[0]?.split(/\s+/) ?? [];
  const values = lines[1]?.split(/\s+/) ?? [];
  const i = names.indexOf('TCPSynRetrans');
  return i > 0 ? Number(values[i]) : NaN;
}

/** Observer counters of a cnilab cluster, summed over its nodes. */
async function observerCounters(c: Config): Promise<{ events: number; lost: bigint; cpu: number }> {
  const { text } = await fetchMetrics(c.spec.name);
  const get = (re: RegExp) => text.split('\n').filter((l) => re.test(l)).reduce((a, l) => a + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  let lost = 0n;
  for (const n of c.spec.nodes) lost += BigInt((await new AgentClient(c.spec.name, n.name).maps()).lostEvents);
  return { events: get(/^cnilab_observer_events_total /), lost, cpu: get(/^cnilab_agent_cpu_seconds_total\{/) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { samples: { type: 'string' }, duration: { type: 'string' }, routing: { type: 'string' }, pods: { type: 'string' }, only: { type: 'string' }, awake: { type: 'boolean' }, 'bpf-stats': { type: 'boolean' }, maximum: { type: 'boolean' }, 'ref-object': { type: 'string' }, 'ref-tree': { type: 'string' }, 'storm-rate': { type: 'string' }, 'ready-bound': { type: 'string' }, 'skip-kernel': { type: 'boolean' } } });
  const extra = { maximum: values.maximum, refObject: values['ref-object'] ? resolvePath(values['ref-object']) : undefined, refTree: values['ref-tree'] ? resolvePath(values['ref-tree']) : undefined };
  if (values.only !== undefined && values.only !== 'rate' && values.only !== 'ready') throw new Error(`--only: expected rate or ready, got ${values.only}`);
  const doRate = values.only !== 'ready';
  const doReady = values.only !== 'rate';
  const samples = Number(values.samples ?? 5);
  const duration = Number(values.duration ?? 3);
  const pods = Number(values.pods ?? 20);
  // The pod-ready storm's offered connections/s: the same for both clusters, well below what this host
  // sustains with one connection in flight (4–10k/s), so neither cluster's storm is bounded by its path.
  const stormRate = Number(values['storm-rate'] ?? 2000);
  // "Pod network ready does not grow": met when the 95 % interval of the ratio ends below 1 + this.
  const readyBound = Number(values['ready-bound'] ?? 0.1);
  for (const [name, v, ok] of [['--samples', samples, samples >= 2], ['--duration', duration, duration > 0], ['--pods', pods, pods >= 4], ['--storm-rate', stormRate, stormRate >= 1 && stormRate <= 100000], ['--ready-bound', readyBound, readyBound > 0 && readyBound < 1]] as const) {
    if (!Number.isFinite(v) || !ok) throw new Error(`${name}: ${v} is out of range`);
  }
  const routings: RoutingMode[] = values.routing === 'native' ? ['native'] : values.routing === 'tunnel' ? ['tunnel'] : ['tunnel', 'native'];
  // The kernel clusters: the rate comparison's limit, and the pod-ready split's reference for the growth
  // a storm causes without cnilab. --skip-kernel: on and off only (twice the rate rounds in the same time).
  const all = routings.flatMap((r) => configs(r, extra)).filter((c) => !values['skip-kernel'] || c.observer !== undefined);
  const crr: Record<string, number[]> = {};
  const tput: Record<string, number[]> = {};
  const synRetransmits: Record<string, number> = {};
  const storm: Record<string, { events: number; lost: bigint; cpu: number; seconds: number; connections: number }> = {};
  /** Agents' CPU during the storms from /proc (every cnilab configuration, observer off too). */
  const stormCpu: Record<string, { cpu: number; connections: number; perSample: number[] }> = {};
  const bpfCost: Record<string, { acc: Map<string, ProgTotals>; connections: number }> = {};
  const progIds = new Map<string, Map<number, string>>();
  let restoreStats: (() => void) | undefined;
  let awake: Awake | undefined;
  try {
    for (const c of all) await bringUp(c);
    if (values['bpf-stats']) {
      restoreStats = enableBpfStats();
      for (const c of all) if (c.observer !== undefined) progIds.set(c.label, await clusterPrograms(c.spec.name, c.spec.nodes.map((n) => n.name)));
    }
    // --awake: every CPU kept out of idle during the rate samples (bench/cpu-awake.ts says why).
    awake = values.awake && doRate ? keepCpusAwake() : undefined;
    for (let s = 0; s < (doRate ? samples : 0); s++) {
      // The order rotates sample by sample (no configuration always runs right after another's iperf3),
      // and every sample starts after the same pause, whether or not its counters are read first.
      for (const c of [...all.slice(s % all.length), ...all.slice(0, s % all.length)]) {
        // The counters (a metrics scrape: the agent walks its maps) are read before the pause, so every
        // configuration's sample starts after the same quiet second, scraped or not.
        const before = c.observer ? await observerCounters(c) : undefined;
        await new Promise((r) => setTimeout(r, SETTLE_MS));
        const syn0 = await synRetrans(c.netns!.client);
        const ids = progIds.get(c.label);
        const prog0 = ids ? await programTotals(ids) : undefined;
        const cpu0 = c.observer !== undefined ? agentCpuSeconds(c.spec.name) : 0;
        const r = await runCrrClient({ netns: c.netns!.client, host: c.serverIp!, port: CRR_PORT, durationSec: duration });
        if (c.observer !== undefined) {
          const cpu = agentCpuSeconds(c.spec.name) - cpu0;
          const sc = (stormCpu[c.label] ??= { cpu: 0, connections: 0, perSample: [] });
          sc.cpu += cpu;
          sc.connections += r.transactions;
          sc.perSample.push((1e6 * cpu) / r.transactions);
        }
        if (ids && prog0) {
          const pc = (bpfCost[c.label] ??= { acc: new Map(), connections: 0 });
          addDelta(pc.acc, prog0, await programTotals(ids));
          pc.connections += r.transactions;
        }
        (crr[c.label] ??= []).push(r.rate);
        synRetransmits[c.label] = (synRetransmits[c.label] ?? 0) + (await synRetrans(c.netns!.client)) - syn0;
        if (before) {
          const after = await observerCounters(c);
          const acc = (storm[c.label] ??= { events: 0, lost: 0n, cpu: 0, seconds: 0, connections: 0 });
          acc.connections += r.transactions;
          acc.events += after.events - before.events;
          acc.lost += after.lost - before.lost;
          acc.cpu += after.cpu - before.cpu;
          acc.seconds += r.seconds;
        }
        const t = await runIperfClient({ netns: c.netns!.client, host: c.serverIp!, port: IPERF_PORT, durationSec: duration });
        (tput[c.label] ??= []).push(t.receivedBitsPerSecond / 1e9);
      }
    }
    await awake?.stop();
    awake = undefined;
    // Pod network ready on node1, quiet and during a connection storm, observer off and on.
    const split: Record<string, ReadySplit> = {};
    if (doReady) {
      for (const routing of routings) {
        const targetOf = (c: (typeof all)[number]) => ({ spec: c.spec, clientNetns: c.netns!.client, host: c.serverIp!, port: CRR_PORT });
        const target = (suffix: 'off' | 'on' | 'on-ref') => targetOf(all.find((x) => x.label === `cnilab-${routing}-${suffix}`)!);
        const kernel = all.find((x) => x.observer === undefined && x.spec.routing === routing);
        split[routing] = await measureReadySplit(target('off'), target('on'), pods, stormRate, 4, kernel && targetOf(kernel));
        // --ref-tree: the same split with the other checkout's observer-on cluster as "on".
        if (extra.refTree) split[`${routing}, on = ref tree`] = await measureReadySplit(target('off'), target('on-ref'), pods, stormRate);
      }
    }

    if (doRate) console.log(`observer cost, 2-node clusters, ${samples} samples of ${duration} s, interleaved${values.awake ? ', every CPU kept awake' : ''} (${machineSummary()})`);
    if (doRate) console.log(`${'configuration'.padEnd(22)} ${'connections/s'.padStart(14)} ${'(min–max)'.padStart(12)} ${'SYN retrans'.padStart(12)} ${'TCP Gbit/s'.padStart(11)} ${'(min–max)'.padStart(12)}`);
    if (doRate) for (const c of all) console.log(`${c.label.padEnd(22)} ${median(crr[c.label]!).toFixed(0).padStart(14)} ${spread(crr[c.label]!).padStart(12)} ${String(synRetransmits[c.label]).padStart(12)} ${median(tput[c.label]!).toFixed(2).padStart(11)} ${spread(tput[c.label]!, 2).padStart(12)}`);
    const summary: Record<string, unknown> = {};
    for (const routing of doRate ? routings : []) {
      const [k, off, on2] = configs(routing).map((c) => c.label);
      const r = (a: string, b: string, m: Record<string, number[]>) => median(m[a]!) / median(m[b]!);
      const goal = (x: number) => (x >= 0.95 ? 'met' : 'TARGET MISSED');
      const onVsOff = r(on2!, off!, crr);
      // --skip-kernel: no kernel cluster, so no ratio against it (NaN in the JSON).
      const withKernel = !!crr[k!];
      const onVsKernel = withKernel ? r(on2!, k!, crr) : NaN;
      console.log(`${routing}: connection rate on/off ${onVsOff.toFixed(2)}× (${goal(onVsOff)}), throughput on/off ${r(on2!, off!, tput).toFixed(2)}× (${goal(r(on2!, off!, tput))})${withKernel ? `, on/${k} connections ${onVsKernel.toFixed(2)}× (${goal(onVsKernel)}), off/${k} connections ${r(off!, k!, crr).toFixed(2)}×, throughput ${r(on2!, k!, tput).toFixed(2)}×` : ''}`);
      // The same ratios paired round by round (observer-bench-stats.ts says why), with their intervals:
      // whether the observer's cost is real or the machine's noise.
      const pci = (a: string, b: string, m: Record<string, number[]>) => pairedRatioCi(m[a]!, m[b]!);
      const paired = { crrOnOff: pci(on2!, off!, crr), tputOnOff: pci(on2!, off!, tput), ...(withKernel ? { crrOnKernel: pci(on2!, k!, crr), crrOffKernel: pci(off!, k!, crr) } : {}) };
      console.log(`${routing}: paired by round: connections on/off ${describeInterval(paired.crrOnOff)} ≥ 0.95: ${atLeastVerdict(paired.crrOnOff, 0.95, samples)}; throughput on/off ${describeInterval(paired.tputOnOff)}: ${atLeastVerdict(paired.tputOnOff, 0.95, samples)}${paired.crrOnKernel && paired.crrOffKernel ? `; on/${k} ${describeInterval(paired.crrOnKernel)}: ${atLeastVerdict(paired.crrOnKernel, 0.95, samples)}; off/${k} ${describeInterval(paired.crrOffKernel)}` : ''}`);
      const st = storm[on2!]!;
      console.log(`${routing}: during the connection storms the agents read ${(st.events / st.seconds).toFixed(0)} events/s (both nodes), ${(st.events / st.connections).toFixed(1)} per connection, lost ${st.lost} (goal 0), agent CPU ${((100 * st.cpu) / st.seconds).toFixed(1)} % of a core, ${((1e6 * st.cpu) / st.connections).toFixed(1)} µs per connection`);
      for (const c of configs(routing, extra).slice(3)) {
        const x = c.label;
        console.log(`${routing}: ${x} connections ${r(x, off!, crr).toFixed(2)}× of off, ${r(x, on2!, crr).toFixed(2)}× of on${withKernel ? `, ${r(x, k!, crr).toFixed(2)}× of ${k}` : ''}; paired by round: ${x}/off ${describeInterval(pci(x, off!, crr))}, on/${x} ${describeInterval(pci(on2!, x, crr))}`);
        const sx = storm[x];
        if (sx) console.log(`${routing}: ${x} during the storms: ${(sx.events / sx.seconds).toFixed(0)} events/s, ${(sx.events / sx.connections).toFixed(1)} events per connection (on: ${(st.events / st.connections).toFixed(1)}), lost ${sx.lost}, agent CPU ${((1e6 * sx.cpu) / sx.connections).toFixed(1)} µs per connection`);
      }
      summary[routing] = { crrOnOff: onVsOff, crrOnKernel: onVsKernel, crrOffKernel: withKernel ? r(off!, k!, crr) : NaN, tputOnOff: r(on2!, off!, tput), eventsPerSec: st.events / st.seconds, lost: String(st.lost), agentCpuPct: (100 * st.cpu) / st.seconds, agentCpuUsPerConnection: (1e6 * st.cpu) / st.connections, paired };
    }
    if (doRate) {
      // The agents' CPU during the storm windows alone (/proc), observer off as well: on − off is what
      // the observer itself costs per connection; the scrape-based figures above include one scrape.
      for (const routing of routings) {
        const cs = configs(routing, extra).filter((c) => stormCpu[c.label]);
        const us = (l: string) => (1e6 * stormCpu[l]!.cpu) / stormCpu[l]!.connections;
        const off = cs.find((c) => c.observer === false && !c.env)?.label;
        console.log(`${routing}: agents' CPU during the storms (/proc, both nodes): ${cs.map((c) => `${c.label} ${us(c.label).toFixed(1)} µs/conn`).join(', ')}${off ? `; observer's share (on − off): ${cs.filter((c) => c.observer).map((c) => `${c.label} ${(us(c.label) - us(off)).toFixed(1)} µs/conn`).join(', ')}` : ''}`);
        // Sample by sample: whether the share is steady or one sample's outlier.
        console.log(`${routing}: agents' CPU per connection by sample: ${cs.map((c) => `${c.label} ${median(stormCpu[c.label]!.perSample).toFixed(1)} (${spread(stormCpu[c.label]!.perSample, 1)}) µs`).join(', ')}`);
        (summary[routing] as Record<string, unknown> | undefined ?? {}).agentCpuProcUsPerConnection = Object.fromEntries(cs.map((c) => [c.label, us(c.label)]));
      }
    }
    for (const [label, pc] of Object.entries(bpfCost)) for (const l of describeProgramCost(label, pc.acc, pc.connections)) console.log(l);
    for (const routing of Object.keys(split)) for (const l of describeReadySplit(`${routing} (${pods} pods per cell, rounds of 4, cells interleaved)`, split[routing]!, readyBound)) console.log(l);
    const podReady = Object.fromEntries(Object.entries(split).map(([r, x]) => [r, summarizeReadySplit(x)]));
    console.log(JSON.stringify({ bench: 'observer', machine: machineSummary(), samples, duration, awake: !!values.awake, synRetransmits, crr: Object.fromEntries(Object.entries(crr).map(([k, v]) => [k, median(v)])), tput: Object.fromEntries(Object.entries(tput).map(([k, v]) => [k, median(v)])), summary, podReady }));
  } finally {
    await awake?.stop();
    restoreStats?.();
    for (const c of all) {
      for (const s of c.stop ?? []) await s().catch(() => undefined);
      await (await provider(c)).destroyCluster(c.spec.name).catch(() => undefined);
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
