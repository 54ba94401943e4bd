// What the connection-rate benchmarks leave behind between samples, to explain a rate that drifts:
// TIME_WAIT sockets in the client and server pods, the kernel's TCP counters that tell a clean handshake
// from a disturbed one (SYN retransmissions, resets, PAWS rejects, TIME_WAIT recycling), and the fill
// of the datapath's LRU maps (conntrack, the per-packet LB's flow and reverse tables) on every node.
// Used by lb-modes-bench --diag and service-scale-bench --diag; prints, asserts nothing.
import { paths } from '../harness/cluster/names.js';
import { readFileSync } from 'node:fs';
import { run } from '../harness/exec/run.js';

/** TCP counters (nstat names) worth watching for connection churn. */
const COUNTERS = [
  'TcpActiveOpens',
  'TcpPassiveOpens',
  'TcpAttemptFails',
  'TcpOutRsts',
  'TcpRetransSegs',
  'TcpExtTCPSynRetrans',
  'TcpExtTW',
  'TcpExtTWRecycled',
  'TcpExtTCPTimeWaitOverflow',
  'TcpExtPAWSEstabRejected',
  'TcpExtTCPChallengeACK',
  'TcpExtTCPACKSkippedTimeWait',
  'TcpExtTCPAbortOnData',
  'TcpExtListenOverflows',
] as const;

const MAPS = ['cnilab_ct', 'cnilab_lb_fwd', 'cnilab_lb_rev'] as const;

export interface LbState {
  timeWait: Record<string, number>;
  counters: Record<string, Record<string, number>>;
  maps: Record<string, Record<string, number>>;
}

async function timeWaitCount(netns: string): Promise<number> {
  const r = await run(['ss', '-Htan', 'state', 'time-wait'], { netns, allowFailure: true });
  return r.code === 0 ? r.stdout.split('\n').filter((l) => l.trim()).length : NaN;
}

async function tcpCounters(netns: string): Promise<Record<string, number>> {
  // -a absolute, -s keep no history (other readers are not disturbed), -z zeros too.
  const r = await run(['nstat', '-asz', ...COUNTERS], { netns, allowFailure: true });
  const out: Record<string, number> = {};
  for (const line of r.stdout.split('\n')) {
    const m = /^(\w+)\s+(\d+)/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

async function mapEntries(pin: string): Promise<number> {
  // Without BTF bpftool's dump ends with "Found N elements"; with BTF (these maps) it prints one
  // {"key": …, "value": …} object per element.
  const r = await run(['bpftool', 'map', 'dump', 'pinned', pin], { allowFailure: true, timeoutMs: 60_000 });
  if (r.code !== 0) return NaN;
  const m = /Found (\d+) element/.exec(r.stdout);
  return m ? Number(m[1]) : (r.stdout.match(/"key":/g) ?? []).length;
}

export async function readLbState(cluster: string, nodes: string[], pods: Record<string, string>): Promise<LbState> {
  const s: LbState = { timeWait: {}, counters: {}, maps: {} };
  for (const [name, netns] of Object.entries(pods)) {
    s.timeWait[name] = await timeWaitCount(netns);
    s.counters[name] = await tcpCounters(netns);
  }
  for (const node of nodes) {
    s.maps[node] = {};
    for (const m of MAPS) s.maps[node][m] = await mapEntries(`${paths.bpfNodeDir(cluster, node)}/${m}`);
  }
  return s;
}

/** One line: TIME_WAIT per pod, map fill per node, and the counters that moved since `before`. */
export function describeLbState(now: LbState, before?: LbState): string {
  const tw = Object.entries(now.timeWait).map(([p, n]) => `${p} ${n}`).join(', ');
  const maps = Object.entries(now.maps)
    .map(([node, m]) => `${node} ${MAPS.map((k) => `${k.replace('cnilab_', '')}=${m[k]}`).join(' ')}`)
    .join('; ');
  const moved: string[] = [];
  for (const [pod, c] of Object.entries(now.counters)) {
    const d = COUNTERS.map((k) => [k, (c[k] ?? 0) - (before?.counters[pod]?.[k] ?? 0)] as const).filter(([, v]) => v !== 0);
    if (d.length) moved.push(`${pod}: ${d.map(([k, v]) => `${k.replace(/^Tcp(Ext)?/, '')} ${v}`).join(' ')}`);
  }
  return `  TIME_WAIT ${tw} | maps ${maps}\n  counters since last: ${moved.join(' | ') || 'none'}`;
}

/** The machine's CPU contention so far: PSI's cpu "some" total (µs in which a runnable task waited for
 *  a CPU) and steal (jiffies the hypervisor ran something else), to tell a sample slowed by other jobs
 *  on this shared machine from one slowed by state left behind. */
export interface CpuContention {
  at: number;
  waitUs: number;
  stealJiffies: number;
}

export function readCpuContention(): CpuContention {
  let waitUs = NaN;
  let stealJiffies = NaN;
  try {
    waitUs = Number(/some .*total=(\d+)/.exec(readFileSync('/proc/pressure/cpu', 'utf8'))?.[1] ?? NaN);
  } catch {
    /* no PSI in this kernel: unavailable */
  }
  try {
    stealJiffies = Number(readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/)[8] ?? NaN);
  } catch {
    /* unavailable */
  }
  return { at: performance.now(), waitUs, stealJiffies };
}

/** Over an interval: the share of wall time some task waited for a CPU (0–1), and steal per second. */
export function contentionBetween(a: CpuContention, b: CpuContention): { waitShare: number; stealPerS: number } {
  const s = (b.at - a.at) / 1000;
  return { waitShare: (b.waitUs - a.waitUs) / 1e6 / s, stealPerS: (b.stealJiffies - a.stealJiffies) / s };
}
