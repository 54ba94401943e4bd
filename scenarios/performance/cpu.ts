// CPU cost of moving bytes: /proc/stat deltas around a throughput sample. All CPUs, user + nice +
// system + irq + softirq, because in a namespace-only cluster the datapath runs in softirq on whatever
// CPU the packet lands on and the tools run in user space; idle and iowait are left out. Other work on
// the machine counts too, which is why samples are repeated and compared in the same run.
import { readFileSync } from 'node:fs';

/** Linux reports /proc/stat in USER_HZ, which is 100 on every architecture the kernel supports. */
const USER_HZ = 100;

export interface CpuTicks {
  busy: number;
}

export function parseProcStat(text: string): CpuTicks {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('no aggregate "cpu" line in /proc/stat');
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal ...
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = f;
  return { busy: user + nice + system + irq + softirq };
}

export function readCpuTicks(): CpuTicks {
  return parseProcStat(readFileSync('/proc/stat', 'utf8'));
}

/** CPU seconds spent between two readings. */
export function cpuSecondsBetween(a: CpuTicks, b: CpuTicks): number {
  return (b.busy - a.busy) / USER_HZ;
}

/** CPU seconds per 10^9 bytes delivered; undefined when nothing was delivered. */
export function cpuSecondsPerGB(cpuSec: number, bytes: number): number | undefined {
  return bytes > 0 ? cpuSec / (bytes / 1e9) : undefined;
}
