// Deliberately slowing one configuration's datapath, to prove the regression gate notices: a tbf
// qdisc on the host-side veth of a server pod, in the node's netns, shapes everything sent towards
// that pod (iperf3 data goes client → server). netem is absent on this kernel; tbf is there.
import { run } from '../../harness/exec/run.js';
import { netnsNames } from '../../harness/cluster/names.js';
import type { PathKind } from '../../reports/performance-model.js';
import { serverFor, type ConfigHandle } from './workload.js';

/** The node-side end of a pod's eth0: found by the peer ifindex the pod's veth reports. */
export async function hostSideVeth(podNetns: string, nodeNetns: string): Promise<string> {
  const pod = JSON.parse((await run(['ip', '-j', 'link', 'show', 'eth0'], { netns: podNetns })).stdout) as Array<{ link_index?: number }>;
  const peer = pod[0]?.link_index;
  if (peer === undefined) throw new Error(`eth0 in ${podNetns} is not a veth with a peer`);
  const links = JSON.parse((await run(['ip', '-j', 'link', 'show'], { netns: nodeNetns })).stdout) as Array<{ ifindex: number; ifname: string }>;
  const l = links.find((x) => x.ifindex === peer);
  if (!l) throw new Error(`no link with ifindex ${peer} in ${nodeNetns}`);
  return l.ifname;
}

/** Limit traffic towards the server pod of `path` to `rate` (tc syntax, e.g. "200mbit"). */
export async function slowServerPath(h: ConfigHandle, path: PathKind, rate: string): Promise<string> {
  const server = h.pods[serverFor(path)];
  const nodeNetns = netnsNames.node(h.spec.name, server.node);
  const dev = await hostSideVeth(server.netns, nodeNetns);
  await run(['tc', 'qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', rate, 'burst', '32kb', 'latency', '50ms'], { netns: nodeNetns });
  return `${nodeNetns} dev ${dev}`;
}
