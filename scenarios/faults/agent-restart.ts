// agent-restart: the agents on both ends of a cross-node TCP stream are SIGKILLed mid-stream. The
// datapath lives in pinned maps and attached programs, so forwarding must not notice: the stream ends
// without error and the longest forwarding gap, measured by a 5 ms UDP heartbeat beside the stream
// (harness/traffic/gap-meter.ts), stays under MAX_GAP_MS. (Bytes per 0.5 s interval could not see a
// 0.9 s outage that straddles two intervals.) The supervisor restarts the agents (measured
// until healthz is ok on new processes); the restarted agents must still serve new pods, and the old
// pods keep their networking.
import { existsSync } from 'node:fs';
import { netnsNames } from '../../harness/cluster/names.js';
import { run, shellQuote } from '../../harness/exec/run.js';
import { waitPodsReady } from '../../harness/cli/wait.js';
import { iperfClientArgv, parseIperfJson, startIperfServer } from '../../harness/traffic/iperf.js';
import { probe } from '../../harness/traffic/probe.js';
import type { CheckOutcome, Scenario, ScenarioContext, Step } from '../framework/model.js';
import { killAgents, sleep, waitAgentsHealthy } from './live.js';
import { msTags, parseIperfIntervals, probeOutcome, stalledIntervals, timedOutcome } from './measure.js';
import { distJs } from '../../harness/paths.js';
import { start } from '../../harness/exec/run.js';
import { waitForListener } from '../../harness/traffic/wait-listen.js';
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

async function streamThroughRestart(ctx: ScenarioContext): Promise<CheckOutcome[]> {
  const { client, peer } = faultPods(ctx);
  const nodes = [...new Set([client.node, peer.node])];
  const server = await startIperfServer({ netns: peer.netns, port: IPERF_PORT });
  const argv = [...iperfClientArgv({ host: peer.ip, port: IPERF_PORT, durationSec: STREAM_SECONDS }), '-i', String(INTERVAL_SECONDS)];
  const meter = distJs('harness/traffic/gap-meter');
  const receiver = start([process.execPath, meter, 'recv', String(GAP_PORT)], { netns: peer.netns });
  const out: CheckOutcome[] = [];
  try {
    await waitForListener(receiver, { netns: peer.netns, proto: 'udp', port: GAP_PORT, what: 'gap-meter receiver' });
    const sendArgv = [process.execPath, meter, 'send', peer.ip, String(GAP_PORT), String(STREAM_SECONDS * 1000), String(HEARTBEAT_MS)];
    const heartbeat = run(sendArgv, { netns: client.netns, timeoutMs: (STREAM_SECONDS + 15) * 1000, allowFailure: true });
    const stream = run(argv, { netns: client.netns, timeoutMs: (STREAM_SECONDS + 15) * 1000, allowFailure: true });
    await sleep(KILL_AFTER_MS);
    const killedAt = performance.now();
    const killed = killAgents(ctx.spec.name, nodes);
    // Measured while the stream runs, so the figure is the restart's and not the stream's length.
    const healthy = waitAgentsHealthy(ctx.spec.name, killed, killedAt, AGENTS_HEALTHY_BUDGET_MS).then(
      (ms) => ({ ms, detail: undefined as string | undefined }),
      (e: Error & { detail?: string }) => ({ ms: undefined, detail: `${e.message}\n${e.detail ?? ''}`.trim() }),
    );
    const r = await stream;
    const hb = await heartbeat;
    await new Promise((res) => setTimeout(res, 100)); // the last heartbeats in flight
    await receiver.stop();
    let gap: GapReport | Error;
    try {
      if (hb.code !== 0) throw new Error(`sender exited ${hb.code}: ${hb.stderr.trim()}`);
      gap = longestGap(parseReceiverOutput(receiver.output().stdout), parseSenderOutput(hb.stdout));
    } catch (e) {
      gap = e as Error;
    }
    const command = shellQuote(r.argv);
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
    await receiver.stop();
    await server.stop();
  }
  return out;
}

async function removeNewPod(ctx: ScenarioContext): Promise<void> {
  await ctx.client.delete('Pod', FAULTS_NAMESPACE, NEW_POD).catch(() => undefined);
  const ns = netnsNames.pod(ctx.spec.name, FAULTS_NAMESPACE, NEW_POD);
  const deadline = Date.now() + 15_000;
  while (existsSync(`/run/netns/${ns}`) && Date.now() < deadline) await sleep(50);
}

async function podsAfterRestart(ctx: ScenarioContext): Promise<CheckOutcome[]> {
  const { client, peer, victim } = faultPods(ctx);
  const out: CheckOutcome[] = [];
  await removeNewPod(ctx); // a leftover from an earlier run would make "new" a lie
  try {
    const t0 = performance.now();
    await ctx.client.apply([netexecPod(NEW_POD, client.node, 'new')]);
    await waitPodsReady(ctx.client, [{ namespace: FAULTS_NAMESPACE, name: NEW_POD }], 30_000);
    const readyMs = Math.round(performance.now() - t0);
    const ip = ((await ctx.client.get('Pod', FAULTS_NAMESPACE, NEW_POD)).status as { podIP?: string } | undefined)?.podIP;
    const key = `${FAULTS_NAMESPACE}/${NEW_POD}`;
    out.push({ id: 'new-pod/ready', name: `a pod created after the restart on ${client.node} gets an IP`, passed: !!ip, expected: 'Running with a pod IP', observed: ip ? `Running, ${ip}, in ${readyMs} ms` : 'no pod IP', tags: msTags(readyMs, { measure: 'pod-ready' }) });
    const netns = netnsNames.pod(ctx.spec.name, FAULTS_NAMESPACE, NEW_POD);
    const probes: Array<[string, string, string, string]> = [
      ['new-pod/to-old', netns, key, peer.key],
      ['old-pods/client-peer', client.netns, client.key, peer.key],
      ['old-pods/client-victim', client.netns, client.key, victim.key],
    ];
    const ipOf = new Map([[peer.key, peer.ip], [victim.key, victim.ip]]);
    for (const [id, ns, from, to] of probes) {
      const r = await probe({ netns: ns, protocol: 'tcp', host: ipOf.get(to)!, port: FAULT_TCP_PORT, timeoutMs: 1500, identify: true });
      out.push(probeOutcome(r, { outcome: 'ok', responder: to.split('/')[1] }, { id, name: `after the restart: tcp ${from} → ${to}`, from, to, protocol: 'tcp', port: FAULT_TCP_PORT }));
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
