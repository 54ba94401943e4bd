// What the observer benchmarks read about a cluster's agents without asking them to work for it: their
// CPU time from /proc (a metrics scrape would add its own work to the window it measures), and the
// records one node's observer has taken in (GET /v1/observer/status, a few counters, no map walk).
import { readdirSync, readFileSync } from 'node:fs';
import { paths, processMarker } from '../harness/cluster/names.js';
import { unixJsonRequest } from '../lib/net/unix-http.js';

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ; 100 on Linux). */
const USER_HZ = 100;

/**
 * CPU seconds (user + system, every thread) of the cluster's agent processes — of one node's agent when
 * `node` is given. Read right before and after a window it is the agents' CPU in that window alone; it
 * works on observer-off clusters too (the agents' CPU that is not the observer's).
 */
export function agentCpuSeconds(cluster: string, node?: string): number {
  const marker = processMarker(cluster);
  const config = node === undefined ? undefined : `--config=${paths.agentConfig(cluster, node)}`;
  let ticks = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (!argv.includes(marker) || !argv.some((a) => a.endsWith('agent/main.js'))) continue;
      if (config && !argv.includes(config)) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]); // fields 14 and 15 of proc(5): utime, stime
    } catch {
      /* the process went away */
    }
  }
  return ticks / USER_HZ;
}

/** Records one node's observer has taken from the ring buffer so far (Hubble's ServerStatus.seen_flows). */
export async function observerSeen(cluster: string, node: string): Promise<number> {
  const r = await unixJsonRequest(paths.agentSocket(cluster, node), 'GET', '/v1/observer/status', undefined, 5000);
  if (r.status !== 200) throw new Error(`observer status of ${cluster}/${node}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
  const seen = Number((r.body as { seen_flows?: string }).seen_flows);
  if (!Number.isFinite(seen)) throw new Error(`observer status of ${cluster}/${node}: no seen_flows in ${JSON.stringify(r.body)}`);
  return seen;
}
