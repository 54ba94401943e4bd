// The tc hooks' own cost: a program that only returns TC_ACT_OK (bpf/tc_ok.c) attached, on a cluster
// without BPF (cni kernel), at the hooks where cnilab's datapath sits — ingress and egress of every pod's
// host-side veth (from_container, to_container), ingress of the VXLAN device (from_overlay) and of the
// underlay eth0 (from_netdev). The same clsact qdisc and cls_bpf direct-action filter the agent creates
// (libbpf's bpf_tc_attach), through iproute2's tc. What such a cluster loses against the bare kernel one
// is what the hooks cost before any of the datapath's work: the part of the datapath's gap that no change
// to its programs can remove.
import { resolve } from 'node:path';
import { run } from '../harness/exec/run.js';
import { netnsNames } from '../harness/cluster/names.js';
import { REPO_ROOT } from '../harness/paths.js';

export const TC_OK_OBJECT = resolve(REPO_ROOT, 'bpf/build/tc_ok.o');

interface Link { ifname: string; linkinfo?: { info_kind?: string } }

/** Where the datapath's programs would sit in one node's netns: [device, 'ingress' | 'egress']. */
export function datapathHooks(links: Link[]): Array<[string, 'ingress' | 'egress']> {
  const hooks: Array<[string, 'ingress' | 'egress']> = [];
  for (const l of links) {
    const kind = l.linkinfo?.info_kind;
    if (l.ifname === 'eth0' || kind === 'vxlan') hooks.push([l.ifname, 'ingress']);
    else if (kind === 'veth') hooks.push([l.ifname, 'ingress'], [l.ifname, 'egress']);
  }
  return hooks;
}

/** Attaches tc_ok at the datapath's hooks on every node of a cluster; returns the number attached. */
export async function attachTrivialTc(cluster: string, nodes: string[]): Promise<number> {
  let n = 0;
  for (const node of nodes) {
    const netns = netnsNames.node(cluster, node);
    const links = JSON.parse((await run(['ip', '-j', '-d', 'link', 'show'], { netns })).stdout) as Link[];
    const hooks = datapathHooks(links);
    for (const dev of new Set(hooks.map(([d]) => d))) await run(['tc', 'qdisc', 'replace', 'dev', dev, 'clsact'], { netns });
    for (const [dev, dir] of hooks) {
      await run(['tc', 'filter', 'replace', 'dev', dev, dir, 'prio', '1', 'handle', '1', 'bpf', 'da', 'obj', TC_OK_OBJECT, 'sec', 'tc'], { netns });
      n++;
    }
  }
  return n;
}
