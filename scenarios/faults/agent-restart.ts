// agent-restart: the agents on both ends of a cross-node TCP stream are SIGKILLed mid-stream. The
// datapath lives in pinned maps and attached programs, so forwarding must not notice: the stream ends
// without error and the longest forwarding gap, measured by a 5 ms UDP heartbeat beside the stream
// (harness/traffic/gap-meter.ts), stays under MAX_GAP_MS. (Bytes per 0.5 s interval could not see a
// 0.9 s outage that straddles two intervals.) The supervisor restarts the agents (measured
// until healthz is ok on new processes); the restarted agents must still serve new pods, and the old
// pods keep their networking.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { NETNS_DIR, netnsNames } from '../../harness/cluster/names.js';
import { shellQuote } from '../../harness/exec/run.js';
import { UnsupportedError } from '../../harness/errors.js';
import { iperfClientArgv, parseIperfJson } from '../../harness/traffic/iperf.js';
import type { CheckOutcome, ResolvedPod, Scenario, ScenarioContext, Step } from '../framework/model.js';
import { applyThrough, execThrough, providerOf } from '../framework/provider-access.js';
import { faultsOf, probeFrom, sleep, unsupportedOutcome, waitAgentsHealthy } from './live.js';
import { msTags, parseIperfIntervals, probeOutcome, stalledIntervals, timedOutcome } from './measure.js';
import { distJs } from '../../harness/paths.js';
import { longestGap, parseReceiverOutput, parseSenderOutput, type GapReport } from '../../harness/traffic/gap-meter.js';

/** The no-stall verdict from the gap meter's report; no report (the meter failed) is unavailable. */
export function gapOutcome(report: GapReport | Error, command: string): CheckOutcome {
  const base = { id: 'stream/no-stall', name: `longest forwarding gap while the agents restarted ≤ ${MAX_GAP_MS} ms`, expected: `longest gap ≤ ${MAX_GAP_MS} ms (UDP heartbeat every ${HEARTBEAT_MS} ms)`, command };
  if (report instanceof Error) return { ...base, passed: false, verdict: 'unavailable', observed: `no measurement: ${report.message}` };
  const passed = report.sent > 0 && report.longestGapMs <= MAX_GAP_MS;
  return {
    ...base,
    passed,
    observed: `longest gap ${report.longestGapMs} ms at ${report.atMs} ms; ${report.received}/${report.sent} heartbeats delivered`,
    tags: msTags(report.longestGapMs, { measure: 'longest-gap', lost: String(report.lost) }),
    evidence: [{ kind: 'stream', command, observed: `${report.sent} sent, ${report.lost} lost, longest gap ${report.longestGapMs} ms` }],
  };
}
import { FAULTS_NAMESPACE, FAULT_TCP_PORT, faultPods, faultsObjects, netexecPod } from './workload.js';

export const STREAM_SECONDS = 5;
export const INTERVAL_SECONDS = 0.5;
/** Heartbeat spacing of the gap meter, and the longest gap tolerated: a restart that costs forwarding
 *  nothing shows gaps of a few intervals at most (queueing behind the stream). */
export const HEARTBEAT_MS = 5;
export const MAX_GAP_MS = 300;
const GAP_PORT = 5299;
/** When the agents are killed, into the stream: after slow start, well before its end. */
export const KILL_AFTER_MS = 1500;
/** Supervisor delay (200 ms) + Node start-up + BPF object load + control-plane resync, with room for a
 *  loaded 2-core machine. */
export const AGENTS_HEALTHY_BUDGET_MS = 15_000;
const IPERF_PORT = 5201;
const NEW_POD = 'fault-new';

/** A command run in a pod through the provider. */
const inPod = (ctx: ScenarioContext, pod: ResolvedPod, argv: string[], timeoutMs: number) => execThrough(providerOf(ctx), { pod }, argv, timeoutMs);

/** Until something listens on `port` in the pod (`ss` there), or the deadline. */
async function waitListening(ctx: ScenarioContext, pod: ResolvedPod, proto: 'tcp' | 'udp', port: number, what: string, running: () => boolean): Promise<void> {
  const deadline = performance.now() + 30_000;
  for (;;) {
    const r = await inPod(ctx, pod, ['ss', '-Hln', proto === 'tcp' ? '-t' : '-u', `sport = :${port}`], 5000);
    if (r.code === 0 && r.stdout.trim()) return;
    if (!running()) throw new Error(`${what} in ${pod.key} ended before it listened`);
    if (performance.now() > deadline) throw new Error(`${what} in ${pod.key} not listening on ${proto} ${port} after 30 s: ${r.stderr.trim()}`);
    await sleep(100);
  }
}

/** A pod command that cannot have run (no such tool in the pod's image: exit 126/127) says nothing
 *  about the network. */
const toolMissing = (code: number) => code === 126 || code === 127;

/** A process in a pod that runs until stopped: started through exec (which resolves when it ends); its
 *  shell's pid kept in a file, so stop() can signal it through a second exec (closing an exec stream
 *  does not end the process on a real kubelet). `timeout` ends it if stop() never comes. */
function podProcess(ctx: ScenarioContext, pod: ResolvedPod, argv: string[], lifetimeS: number) {
  const pidFile = `/tmp/cnilab-fault-${randomBytes(4).toString('hex')}.pid`;
  let running = true;
  const done = inPod(ctx, pod, ['sh', '-c', `echo $$ > ${pidFile}; exec timeout -s TERM "$0" "$@"`, String(lifetimeS), ...argv], (lifetimeS + 10) * 1000).finally(() => (running = false));
  return {
    done,
    running: () => running,
    stop: async () => {
      if (running) await inPod(ctx, pod, ['sh', '-c', `kill -TERM "$(cat ${pidFile})"; rm -f ${pidFile}`], 5000);
      else await inPod(ctx, pod, ['rm', '-f', pidFile], 5000);
      return done;
    },
  };
}

async function streamThroughRestart(ctx: ScenarioContext): Promise<CheckOutcome[]> {
  const { client, peer } = faultPods(ctx);
  const nodes = [...new Set([client.node, peer.node])];
  const faults = faultsOf(ctx);
  const lifetimeS = STREAM_SECONDS + 40;
  // The stream's server and the gap meter's receiver run in the peer pod, their clients in the client pod.
  const server = podProcess(ctx, peer, ['iperf3', '-s', '-1', '-p', String(IPERF_PORT)], lifetimeS);
  const argv = [...iperfClientArgv({ host: peer.ip, port: IPERF_PORT, durationSec: STREAM_SECONDS }), '-i', String(INTERVAL_SECONDS)];
  const meter = distJs('harness/traffic/gap-meter');
  const receiver = podProcess(ctx, peer, [process.execPath, meter, 'recv', String(GAP_PORT)], lifetimeS);
  const out: CheckOutcome[] = [];
  try {
    await waitListening(ctx, peer, 'tcp', IPERF_PORT, 'iperf3 server', server.running);
    await waitListening(ctx, peer, 'udp', GAP_PORT, 'gap-meter receiver', receiver.running);
    const sendArgv = [process.execPath, meter, 'send', peer.ip, String(GAP_PORT), String(STREAM_SECONDS * 1000), String(HEARTBEAT_MS)];
    const heartbeat = inPod(ctx, client, sendArgv, (STREAM_SECONDS + 15) * 1000);
    const stream = inPod(ctx, client, argv, (STREAM_SECONDS + 15) * 1000);
    await sleep(KILL_AFTER_MS);
    const killedAt = performance.now();
    let killed: Map<string, number>;
    try {
      killed = await faults.killAgents(nodes);
    } catch (e) {
      await Promise.all([stream, heartbeat]);
      if (e instanceof UnsupportedError) return [unsupportedOutcome('agents-killed', `agents of ${nodes.join(', ')} SIGKILLed under a stream`, e)];
      throw e;
    }
    // Measured while the stream runs, so the figure is the restart's and not the stream's length.
    const healthy = waitAgentsHealthy(faults, killed, killedAt, AGENTS_HEALTHY_BUDGET_MS).then(
      (ms) => ({ ms, detail: undefined as string | undefined }),
      (e: Error & { detail?: string }) => ({ ms: undefined, detail: `${e.message}\n${e.detail ?? ''}`.trim() }),
    );
    const r = await stream;
    const hb = await heartbeat;
    await sleep(100); // the last heartbeats in flight
    const rec = await receiver.stop();
    let gap: GapReport | Error;
    try {
      if (hb.code !== 0) throw new Error(`sender exited ${hb.code}: ${hb.stderr.trim()}`);
      gap = longestGap(parseReceiverOutput(rec.stdout), parseSenderOutput(hb.stdout));
    } catch (e) {
      gap = e as Error;
    }
    const command = shellQuote(argv);
    let summary: string;
    let completed = false;
    let intervalsOutcome: CheckOutcome;
    try {
      const res = parseIperfJson(r.stdout);
      completed = r.code === 0 && res.bytesReceived > 0;
      summary = `exit ${r.code}, ${res.bytesReceived} bytes received, ${(res.receivedBitsPerSecond / 1e6).toFixed(0)} Mbit/s, ${res.retransmits ?? 0} retransmits`;
      const intervals = parseIperfIntervals(r.stdout);
      const stalled = stalledIntervals(intervals);
      const min = intervals.length ? Math.min(...intervals.map((i) => i.bytes)) : 0;
      intervalsOutcome = {
        id: 'stream/no-empty-interval',
        name: `no ${INTERVAL_SECONDS} s interval without data while the agents restarted`,
        passed: intervals.length > 0 && stalled.length === 0,
        expected: `every ${INTERVAL_SECONDS} s interval carries data`,
        observed: stalled.length
          ? `${stalled.length} of ${intervals.length} intervals carried nothing: ${stalled.map((i) => `${i.start.toFixed(1)}-${i.end.toFixed(1)} s`).join(', ')}`
          : `${intervals.length} intervals, the smallest ${min} bytes`,
        command,
        tags: { intervals: String(intervals.length), minIntervalBytes: String(min) },
      };
    } catch (e) {
      summary = `exit ${r.code}: ${(e as Error).message}`;
      intervalsOutcome = { id: 'stream/no-empty-interval', passed: false, verdict: 'unavailable', expected: 'per-interval data', observed: `none: ${(e as Error).message}`, command };
    }
    out.push({
      id: 'stream/completed',
      name: `iperf3 ${client.key} → ${peer.key} completes while the agents of ${nodes.join(', ')} are SIGKILLed at ${KILL_AFTER_MS} ms`,
      passed: completed,
      // iperf3 missing from the pod's image: no stream ran, nothing was learnt about forwarding.
      ...(toolMissing(r.code) ? { verdict: 'unavailable' as const } : {}),
      expected: 'exit 0, bytes received > 0',
      observed: summary,
      command,
      from: client.key,
      to: peer.key,
      protocol: 'tcp',
      port: IPERF_PORT,
      ...(completed ? {} : { detail: r.stderr.trim().split('\n').slice(-5).join('\n') }),
    });
    out.push(intervalsOutcome);
    out.push(gapOutcome(gap, shellQuote(sendArgv)));
    const h = await healthy;
    out.push(
      timedOutcome({
        id: 'agents-healthy',
        name: `agents of ${nodes.join(', ')} restarted and healthy`,
        what: `new agent processes on ${nodes.join(', ')} answering healthz ok`,
        ms: h.ms,
        budgetMs: AGENTS_HEALTHY_BUDGET_MS,
        detail: h.detail ?? `killed pids ${[...killed.entries()].map(([n, p]) => `${n}:${p}`).join(', ')}`,
        tags: { measure: 'agent-restart' },
      }),
    );
  } finally {
    await receiver.stop().catch(() => undefined);
    await server.stop().catch(() => undefined);
  }
  return out;
}

async function removeNewPod(ctx: ScenarioContext): Promise<void> {
  const provider = providerOf(ctx);
  await provider.remove('Pod', FAULTS_NAMESPACE, NEW_POD).catch(() => undefined);
  const deadline = Date.now() + 15_000;
  while ((await provider.pods(FAULTS_NAMESPACE)).some((p) => p.name === NEW_POD) && Date.now() < deadline) await sleep(100);
  // The embedded runtime tears the sandbox down after the object goes: a pod of the same name made
  // before that would meet the old namespace.
  const ns = `${NETNS_DIR}/${netnsNames.pod(ctx.spec.name, FAULTS_NAMESPACE, NEW_POD)}`;
  while (provider.kind === 'netns' && existsSync(ns) && Date.now() < deadline) await sleep(50);
}

async function podsAfterRestart(ctx: ScenarioContext): Promise<CheckOutcome[]> {
  const { client, peer, victim } = faultPods(ctx);
  const provider = providerOf(ctx);
  const out: CheckOutcome[] = [];
  await removeNewPod(ctx); // a leftover from an earlier run would make "new" a lie
  try {
    const t0 = performance.now();
    await applyThrough(provider, [netexecPod(NEW_POD, client.node, 'new')], 30_000);
    const readyMs = Math.round(performance.now() - t0);
    const ip = (await provider.pods(FAULTS_NAMESPACE)).find((p) => p.name === NEW_POD)?.ip;
    const key = `${FAULTS_NAMESPACE}/${NEW_POD}`;
    out.push({ id: 'new-pod/ready', name: `a pod created after the restart on ${client.node} gets an IP`, passed: !!ip, expected: 'Running with a pod IP', observed: ip ? `Running, ${ip}, in ${readyMs} ms` : 'no pod IP', tags: msTags(readyMs, { measure: 'pod-ready' }) });
    const newPod = { namespace: FAULTS_NAMESPACE, name: NEW_POD };
    const probes: Array<[string, { namespace: string; name: string }, string, ResolvedPod]> = [
      ['new-pod/to-old', newPod, key, peer],
      ['old-pods/client-peer', client, client.key, peer],
      ['old-pods/client-victim', client, client.key, victim],
    ];
    for (const [id, from, fromKey, to] of probes) {
      const r = await probeFrom(ctx, from, { protocol: 'tcp', host: to.ip, port: FAULT_TCP_PORT, timeoutMs: 1500, identify: true });
      out.push(probeOutcome(r, { outcome: 'ok', responder: to.name }, { id, name: `after the restart: tcp ${fromKey} → ${to.key}`, from: fromKey, to: to.key, protocol: 'tcp', port: FAULT_TCP_PORT }));
    }
  } finally {
    await removeNewPod(ctx);
  }
  return out;
}

export function agentRestartSteps(): Step[] {
  return [
    { kind: 'check', id: 'restart', name: 'agents SIGKILLed under a running stream', run: streamThroughRestart },
    { kind: 'check', id: 'after', name: 'pods after the agent restart', run: podsAfterRestart },
  ];
}

export const agentRestartScenario: Scenario = {
  name: 'agent-restart',
  suite: 'faults',
  description: 'the agents on both ends of a TCP stream are SIGKILLed: the stream does not stall, agents come back, new pods get networking',
  topology: { nodes: 2, cni: ['cnilab'] },
  setup: faultsObjects,
  steps: agentRestartSteps,
};
