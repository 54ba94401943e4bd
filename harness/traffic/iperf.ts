// iperf3 throughput tests between netns: the server runs in the background in one netns, the client
// runs to completion in another with -J, and the JSON is reduced to the numbers reports compare.
import { run, start, shellQuote, type Background } from '../exec/run.js';
import { pinned } from './cpu-pin.js';
import { CnilabError } from '../errors.js';
import { waitForListener } from './wait-listen.js';

export interface IperfServerOptions {
  /** Pin the process to this CPU (taskset), for benchmark hygiene. */
  cpu?: number;
  netns?: string;
  port?: number;
  /** Address to bind (-B); default all. */
  bind?: string;
  /** Exit after one test (-1). Default false: one server serves repeated samples. */
  oneOff?: boolean;
}

export interface IperfServer {
  readonly port: number;
  readonly argv: string[];
  stop(): Promise<void>;
}

export interface IperfClientOptions {
  /** Pin the process to this CPU (taskset), for benchmark hygiene. */
  cpu?: number;
  netns?: string;
  host: string;
  port?: number;
  /** Test length in seconds (-t). Default 5. */
  durationSec?: number;
  /** Parallel streams (-P). Default 1. */
  parallel?: number;
  udp?: boolean;
  /** Target bitrate (-b), e.g. "1G"; iperf3 defaults UDP to 1 Mbit/s, so set it for UDP tests. */
  bitrate?: string;
  /** Server sends, client receives (-R). */
  reverse?: boolean;
  /** Omit the first N seconds (TCP slow start) from the totals (-O). */
  omitSec?: number;
  /** Wrapper deadline; default duration + 15 s. */
  timeoutMs?: number;
}

export interface IperfResult {
  protocol: 'tcp' | 'udp';
  durationSec: number;
  /** Sender-side rate; for TCP the receiver's is the one that reached the peer. */
  sentBitsPerSecond: number;
  receivedBitsPerSecond: number;
  bytesSent: number;
  bytesReceived: number;
  /** TCP only (sender side). */
  retransmits?: number;
  /** UDP only. */
  jitterMs?: number;
  lostPackets?: number;
  lostPercent?: number;
  packets?: number;
  cpu?: { hostTotal: number; remoteTotal: number };
  streams: number;
}

export class IperfError extends CnilabError {
  constructor(message: string, detail?: string) {
    super('COMMAND_FAILED', `iperf3: ${message}`, { detail });
  }
}

type Json = Record<string, any>;

/** Reduce `iperf3 -J` output to an IperfResult; throws IperfError on iperf3's own "error" field. */
export function parseIperfJson(text: string): IperfResult {
  let j: Json;
  try {
    j = JSON.parse(text) as Json;
  } catch (e) {
    throw new IperfError(`output is not JSON (${(e as Error).message})`, text.slice(0, 2000));
  }
  if (typeof j.error === 'string') throw new IperfError(j.error);
  const end = j.end as Json | undefined;
  const sent = (end?.sum_sent ?? end?.sum) as Json | undefined;
  const received = (end?.sum_received ?? end?.sum) as Json | undefined;
  if (!end || !sent || !received) throw new IperfError('no end.sum_sent/sum_received in the output', text.slice(0, 2000));
  const udp = j.start?.test_start?.protocol === 'UDP' || end.sum?.jitter_ms !== undefined;
  const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
  const result: IperfResult = {
    protocol: udp ? 'udp' : 'tcp',
    durationSec: num(sent.seconds) ?? 0,
    sentBitsPerSecond: num(sent.bits_per_second) ?? 0,
    receivedBitsPerSecond: num(received.bits_per_second) ?? 0,
    bytesSent: num(sent.bytes) ?? 0,
    bytesReceived: num(received.bytes) ?? 0,
    streams: Array.isArray(end.streams) ? end.streams.length : 1,
  };
  if (!udp && num(sent.retransmits) !== undefined) result.retransmits = sent.retransmits;
  if (udp && end.sum) {
    result.jitterMs = num(end.sum.jitter_ms);
    result.lostPackets = num(end.sum.lost_packets);
    result.lostPercent = num(end.sum.lost_percent);
    result.packets = num(end.sum.packets);
  }
  const cpu = end.cpu_utilization_percent as Json | undefined;
  if (cpu && num(cpu.host_total) !== undefined) result.cpu = { hostTotal: cpu.host_total, remoteTotal: num(cpu.remote_total) ?? 0 };
  return result;
}

export async function startIperfServer(o: IperfServerOptions = {}): Promise<IperfServer> {
  const port = o.port ?? 5201;
  const argv = ['iperf3', '-s', '-p', String(port)];
  if (o.bind) argv.push('-B', o.bind);
  if (o.oneOff) argv.push('-1');
  const bg: Background = start(pinned(argv, o.cpu), { netns: o.netns });
  await waitForListener(bg, { netns: o.netns, proto: 'tcp', port, what: 'iperf3 server' });
  return { port, argv: bg.argv, stop: () => bg.stop() };
}

export function iperfClientArgv(o: IperfClientOptions): string[] {
  const argv = ['iperf3', '-c', o.host, '-p', String(o.port ?? 5201), '-t', String(o.durationSec ?? 5), '-J'];
  if ((o.parallel ?? 1) > 1) argv.push('-P', String(o.parallel));
  if (o.udp) argv.push('-u');
  if (o.bitrate) argv.push('-b', o.bitrate);
  if (o.reverse) argv.push('-R');
  if (o.omitSec) argv.push('-O', String(o.omitSec));
  argv.push('--connect-timeout', '3000');
  return argv;
}

export async function runIperfClient(o: IperfClientOptions): Promise<IperfResult> {
  const argv = pinned(iperfClientArgv(o), o.cpu);
  const timeoutMs = o.timeoutMs ?? ((o.durationSec ?? 5) + (o.omitSec ?? 0) + 15) * 1000;
  // iperf3 may exit 0 with an "error" in its JSON, or non-zero with valid JSON: trust the JSON.
  const r = await run(argv, { netns: o.netns, timeoutMs, allowFailure: true });
  if (r.timedOut) throw new IperfError(`client timed out after ${timeoutMs} ms: ${shellQuote(r.argv)}`, r.stderr);
  try {
    return parseIperfJson(r.stdout);
  } catch (e) {
    if (e instanceof IperfError) throw new IperfError(`${e.message.replace(/^iperf3: /, '')} (${shellQuote(r.argv)})`, e.detail ?? r.stderr);
    throw e;
  }
}
