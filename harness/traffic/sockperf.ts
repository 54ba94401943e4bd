// sockperf request/response latency (ping-pong) between netns: `sockperf sr` in one netns,
// `sockperf pp` in another; the client's text summary becomes percentiles in microseconds.
// sockperf exits 0 even when it cannot connect, so the parser, not the exit code, decides.
import { run, start, shellQuote, type Background } from '../exec/run.js';
import { pinned } from './cpu-pin.js';
import { CnilabError } from '../errors.js';
import { waitForListener } from './wait-listen.js';

export interface SockperfServerOptions {
  /** Pin the process to this CPU (taskset), for benchmark hygiene. */
  cpu?: number;
  netns?: string;
  /** Address to listen on (-i); sockperf needs one. Default 0.0.0.0. */
  host?: string;
  port?: number;
  protocol?: 'tcp' | 'udp';
}

export interface SockperfServer {
  readonly port: number;
  readonly argv: string[];
  stop(): Promise<void>;
}

export interface SockperfClientOptions {
  /** Pin the process to this CPU (taskset), for benchmark hygiene. */
  cpu?: number;
  netns?: string;
  host: string;
  port?: number;
  protocol?: 'tcp' | 'udp';
  durationSec?: number;
  /** Message size in bytes (--msg-size). */
  msgSize?: number;
  timeoutMs?: number;
}

export interface SockperfResult {
  protocol: 'tcp' | 'udp';
  avgUsec: number;
  stdDevUsec?: number;
  observations: number;
  p25: number;
  p50: number;
  p75: number;
  p90: number;
  p99: number;
  p999: number;
  p9999: number;
  minUsec: number;
  maxUsec: number;
  /** Every "percentile X = Y" line, keyed by X as printed ("99.900"). */
  percentiles: Record<string, number>;
  dropped: number;
  duplicated: number;
  outOfOrder: number;
  /** The measured part of the run (after warm-up). */
  validRunTimeSec: number;
  sentMessages: number;
  receivedMessages: number;
}

export class SockperfError extends CnilabError {
  constructor(message: string, detail?: string) {
    super('COMMAND_FAILED', `sockperf: ${message}`, { detail });
  }
}

const ANSI = /\x1b\[[0-9;]*m/g;

export function parseSockperfPingPong(raw: string): SockperfResult {
  const text = raw.replace(ANSI, '');
  const err = /sockperf: ERROR: (.*)/.exec(text);
  if (err) throw new SockperfError(err[1]!.trim(), text.slice(-2000));
  const need = (re: RegExp, what: string): RegExpExecArray => {
    const m = re.exec(text);
    if (!m) throw new SockperfError(`no ${what} in the output`, text.slice(-2000));
    return m;
  };
  const avg = need(/avg-latency=([\d.]+)(?: \(std-dev=([\d.]+))?/, 'avg-latency');
  const obs = need(/Total (\d+) observations/, 'observation count');
  const valid = need(/\[Valid Duration\] RunTime=([\d.]+) sec; SentMessages=(\d+); ReceivedMessages=(\d+)/, 'valid-duration line');
  const counts = /# dropped messages = (\d+); # duplicated messages = (\d+); # out-of-order messages = (\d+)/.exec(text);
  const percentiles: Record<string, number> = {};
  for (const m of text.matchAll(/---> percentile ([\d.]+) =\s*([\d.]+)/g)) percentiles[m[1]!] = Number(m[2]);
  const pct = (key: string) => {
    const v = percentiles[key];
    if (v === undefined) throw new SockperfError(`no percentile ${key} in the output`, text.slice(-2000));
    return v;
  };
  const protocol = /# TCP/.test(text) ? 'tcp' : 'udp';
  return {
    protocol,
    avgUsec: Number(avg[1]),
    ...(avg[2] !== undefined ? { stdDevUsec: Number(avg[2]) } : {}),
    observations: Number(obs[1]),
    p25: pct('25.000'),
    p50: pct('50.000'),
    p75: pct('75.000'),
    p90: pct('90.000'),
    p99: pct('99.000'),
    p999: pct('99.900'),
    p9999: pct('99.990'),
    minUsec: Number(need(/<MIN> observation =\s*([\d.]+)/, 'MIN observation')[1]),
    maxUsec: Number(need(/<MAX> observation =\s*([\d.]+)/, 'MAX observation')[1]),
    percentiles,
    dropped: Number(counts?.[1] ?? 0),
    duplicated: Number(counts?.[2] ?? 0),
    outOfOrder: Number(counts?.[3] ?? 0),
    validRunTimeSec: Number(valid[1]),
    sentMessages: Number(valid[2]),
    receivedMessages: Number(valid[3]),
  };
}

export async function startSockperfServer(o: SockperfServerOptions = {}): Promise<SockperfServer> {
  const port = o.port ?? 11111;
  const protocol = o.protocol ?? 'tcp';
  const argv = ['sockperf', 'sr', '-i', o.host ?? '0.0.0.0', '-p', String(port)];
  if (protocol === 'tcp') argv.push('--tcp');
  const bg: Background = start(pinned(argv, o.cpu), { netns: o.netns });
  await waitForListener(bg, { netns: o.netns, proto: protocol, port, what: 'sockperf server' });
  return { port, argv: bg.argv, stop: () => bg.stop() };
}

export function sockperfClientArgv(o: SockperfClientOptions): string[] {
  const argv = ['sockperf', 'ping-pong', '-i', o.host, '-p', String(o.port ?? 11111), '-t', String(o.durationSec ?? 5)];
  if ((o.protocol ?? 'tcp') === 'tcp') argv.push('--tcp');
  if (o.msgSize !== undefined) argv.push('--msg-size', String(o.msgSize));
  return argv;
}

export async function runSockperfPingPong(o: SockperfClientOptions): Promise<SockperfResult> {
  const argv = pinned(sockperfClientArgv(o), o.cpu);
  const timeoutMs = o.timeoutMs ?? ((o.durationSec ?? 5) + 15) * 1000;
  const r = await run(argv, { netns: o.netns, timeoutMs, allowFailure: true });
  if (r.timedOut) throw new SockperfError(`client timed out after ${timeoutMs} ms: ${shellQuote(r.argv)}`, r.stderr);
  try {
    return parseSockperfPingPong(r.stdout + r.stderr);
  } catch (e) {
    if (e instanceof SockperfError) throw new SockperfError(`${e.message.replace(/^sockperf: /, '')} (${shellQuote(r.argv)})`, e.detail);
    throw e;
  }
}
