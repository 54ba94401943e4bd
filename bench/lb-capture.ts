// lb-modes-bench --capture DIR: what it takes to explain one client reset of the CRR samples afterwards.
// tcpdump in the client pod (the tuples the client believes in: ClusterIP or pod IP) and in the server
// pod (the tuples the backend sees after translation) for the whole run, CRR port only, headers only;
// after every CRR sample, the per-packet LB's flow and reverse maps and conntrack of both nodes as JSON.
// The TCP sequence number is never rewritten by the LB, so a SYN is matched across the two captures by
// it. bench/lb-reset-explain.ts reads the result. Prints nothing; asserts nothing.
import { mkdirSync, writeFileSync } from 'node:fs';
import { paths } from '../harness/cluster/names.js';
import { run, start, type Background } from '../harness/exec/run.js';

export interface PodCapture {
  stop(): Promise<void>;
}

/** tcpdump -w DIR/NAME.pcap in each pod's netns (eth0), filtered to one TCP port. */
export async function startPodCaptures(dir: string, pods: Record<string, string>, port: number): Promise<PodCapture> {
  mkdirSync(dir, { recursive: true });
  const bgs: Array<[string, Background]> = [];
  for (const [name, netns] of Object.entries(pods)) {
    // -s 128: headers and options (the timestamps); -B 64 MiB: a CRR burst must not overflow the buffer.
    bgs.push([name, start(['tcpdump', '-i', 'eth0', '-nn', '-s', '128', '-B', '65536', '-U', '-w', `${dir}/${name}.pcap`, 'tcp', 'port', String(port)], { netns })]);
  }
  await new Promise((r) => setTimeout(r, 1000)); // tcpdump attached
  return {
    async stop() {
      for (const [name, b] of bgs) {
        b.child.kill('SIGINT'); // tcpdump flushes and reports its drops on SIGINT
        await Promise.race([b.exited, new Promise((r) => setTimeout(r, 5000))]);
        await b.stop();
        writeFileSync(`${dir}/${name}.tcpdump.txt`, b.output().stderr);
      }
    },
  };
}

const MAPS = ['cnilab_ct', 'cnilab_lb_fwd', 'cnilab_lb_rev'] as const;

/** bpftool's JSON dump of the LB maps and conntrack of every node into DIR/TAG-NODE-MAP.json. */
export async function dumpLbMaps(dir: string, tag: string, cluster: string, nodes: string[]): Promise<void> {
  for (const node of nodes) {
    for (const m of MAPS) {
      const r = await run(['bpftool', '-j', 'map', 'dump', 'pinned', `${paths.bpfNodeDir(cluster, node)}/${m}`], { allowFailure: true, timeoutMs: 120_000 });
      writeFileSync(`${dir}/${tag}-${node}-${m}.json`, r.stdout);
    }
  }
}
