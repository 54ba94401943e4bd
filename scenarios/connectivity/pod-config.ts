// Checks of each pod's own network configuration, read from inside the pod with `ip` (through the
// provider: nsenter on the embedded cluster, pods/exec elsewhere):
// eth0's MTU must be the cluster's pod MTU (1450 under VXLAN, so full-size packets fit the tunnel),
// and no neighbour entry may be PERMANENT (the datapath answers ARP; pods need no static entries).
import { shellQuote } from '../../harness/exec/run.js';
import type { Provider } from '../../harness/providers/common/provider.js';
import type { CheckOutcome, ResolvedPod, ScenarioContext } from '../framework/model.js';
import { execThrough, providerOf, type ExecWhere } from '../framework/provider-access.js';
import { connPods } from './workload.js';

/** The MTU from `ip -o link show DEV` output, or undefined. */
export function parseLinkMtu(text: string): number | undefined {
  const m = /\bmtu (\d+)\b/.exec(text);
  return m ? Number(m[1]) : undefined;
}

async function podMtuOutcome(provider: Provider, pod: ResolvedPod, want: number): Promise<CheckOutcome> {
  const r = await execThrough(provider, { pod }, ['ip', '-o', 'link', 'show', 'eth0']);
  const mtu = r.code === 0 ? parseLinkMtu(r.stdout) : undefined;
  if (!want) {
    // Nothing to compare with: a cluster from a kubeconfig whose pod MTU was not given.
    return { id: pod.name, name: `eth0 MTU of ${pod.key}`, from: pod.key, passed: false, verdict: 'unavailable', expected: 'the cluster pod MTU (not known: give --pod-mtu)', observed: mtu === undefined ? `unreadable (exit ${r.code})` : `mtu ${mtu}`, command: shellQuote(r.argv), tags: { kind: 'pod-mtu', fromNode: pod.node } };
  }
  return {
    id: pod.name,
    name: `eth0 MTU of ${pod.key}`,
    from: pod.key,
    passed: mtu === want,
    ...(mtu === undefined ? { verdict: 'unavailable' as const } : {}),
    evidence: [{ kind: 'link', command: shellQuote(r.argv), exit: r.code, observed: r.stdout.trim() || r.stderr.trim() }],
    expected: `mtu ${want}`,
    observed: mtu === undefined ? `unreadable (exit ${r.code})` : `mtu ${mtu}`,
    command: shellQuote(r.argv),
    ...(mtu === want ? {} : { detail: (r.stdout + r.stderr).trim() }),
    tags: { kind: 'pod-mtu', fromNode: pod.node },
  };
}

async function permanentNeighOutcome(provider: Provider, pod: ResolvedPod): Promise<CheckOutcome> {
  const r = await execThrough(provider, { pod }, ['ip', 'neigh', 'show', 'nud', 'permanent']);
  const entries = r.stdout.trim().split('\n').filter(Boolean);
  const ok = r.code === 0 && entries.length === 0;
  return {
    id: pod.name,
    name: `no static neighbour entries in ${pod.key}`,
    from: pod.key,
    passed: ok,
    ...(r.code !== 0 ? { verdict: 'unavailable' as const } : {}),
    evidence: [{ kind: 'neighbour', command: shellQuote(r.argv), exit: r.code, observed: r.stdout.trim() || '(none)' }],
    expected: 'no PERMANENT neighbour entries',
    observed: r.code !== 0 ? `ip failed (exit ${r.code})` : entries.length === 0 ? 'none' : `${entries.length} PERMANENT: ${entries.join('; ')}`,
    command: shellQuote(r.argv),
    ...(r.code !== 0 ? { detail: r.stderr.trim() } : {}),
    tags: { kind: 'pod-neigh', fromNode: pod.node },
  };
}

export async function checkPodMtus(ctx: ScenarioContext): Promise<CheckOutcome[]> {
  return Promise.all(connPods(ctx).map((p) => podMtuOutcome(providerOf(ctx), p, ctx.spec.podMtu)));
}

export async function checkNoPermanentNeighbours(ctx: ScenarioContext): Promise<CheckOutcome[]> {
  return Promise.all(connPods(ctx).map((p) => permanentNeighOutcome(providerOf(ctx), p)));
}

/** The pod's view of its gateway after an ARP exchange: the neighbour entry of `gw` on eth0. */
export function gatewayNeighbour(ipNeighJson: string, gw: string): { mac?: string; state: string } | undefined {
  const entries = JSON.parse(ipNeighJson.trim() || '[]') as Array<{ dst?: string; lladdr?: string; state?: string[] }>;
  const e = entries.find((n) => n.dst === gw);
  return e ? { ...(e.lladdr ? { mac: e.lladdr.toLowerCase() } : {}), state: (e.state ?? []).join(',') } : undefined;
}

/** Verdict of the ARP check: resolved (not FAILED/INCOMPLETE), to the lxc's MAC, while the node's
 *  kernel was forbidden to answer. */
export function arpAnsweredByDatapath(neigh: { mac?: string; state: string } | undefined, lxcMac: string): { passed: boolean; observed: string } {
  if (!neigh) return { passed: false, observed: 'no neighbour entry for the gateway after the ping' };
  const resolved = !!neigh.mac && !/FAILED|INCOMPLETE/.test(neigh.state);
  const passed = resolved && neigh.mac === lxcMac.toLowerCase();
  return { passed, observed: resolved ? `gateway resolved to ${neigh.mac} (${neigh.state}); lxc MAC ${lxcMac}` : `gateway unresolved (${neigh.state})` };
}

async function arpOutcome(provider: Provider, pod: ResolvedPod): Promise<CheckOutcome> {
  const base = { id: pod.name, name: `${pod.key}'s ARP for its gateway is answered by the datapath`, from: pod.key, expected: 'gateway resolved to the lxc MAC with the node kernel barred from answering (arp_ignore=8)', tags: { kind: 'pod-arp', fromNode: pod.node } };
  const evidence: NonNullable<CheckOutcome['evidence']> = [];
  const inPod: ExecWhere = { pod };
  const onNode: ExecWhere = { node: pod.node };
  const step = async (argv: string[], where: ExecWhere) => {
    const r = await execThrough(provider, where, argv);
    evidence.push({ kind: 'neighbour', command: shellQuote(r.argv), exit: r.code, observed: (r.stdout + r.stderr).trim().slice(0, 200) || '(no output)' });
    return r;
  };
  const unavailable = (why: string): CheckOutcome => ({ ...base, passed: false, verdict: 'unavailable', observed: why, evidence });
  const route = await step(['ip', '-j', 'route', 'show', 'default'], inPod);
  const gw = route.code === 0 ? (JSON.parse(route.stdout || '[]') as Array<{ gateway?: string }>)[0]?.gateway : undefined;
  const link = await step(['ip', '-j', 'link', 'show', 'eth0'], inPod);
  const peerIndex = link.code === 0 ? (JSON.parse(link.stdout || '[]') as Array<{ link_index?: number }>)[0]?.link_index : undefined;
  if (!gw || !peerIndex) return unavailable('cannot read the pod\'s gateway or its veth peer');
  const links = await execThrough(provider, onNode, ['ip', '-j', 'link', 'show']);
  const lxc = (JSON.parse(links.stdout || '[]') as Array<{ ifindex: number; ifname: string; address?: string }>).find((l) => l.ifindex === peerIndex);
  if (!lxc?.address) return unavailable(`no link with ifindex ${peerIndex} on node ${pod.node}`);
  const knob = `/proc/sys/net/ipv4/conf/${lxc.ifname}/arp_ignore`;
  const old = await execThrough(provider, onNode, ['cat', knob]);
  if (old.code !== 0) return unavailable(`cannot read ${knob}`);
  try {
    // 8: the kernel answers no ARP request on this device, so whatever answers is the datapath.
    await step(['sh', '-c', `echo 8 > ${knob}`], onNode);
    await step(['ip', 'neigh', 'flush', 'dev', 'eth0'], inPod);
    await step(['ping', '-n', '-c', '1', '-W', '1', gw], inPod);
    const neigh = await step(['ip', '-j', 'neigh', 'show', 'dev', 'eth0'], inPod);
    if (neigh.code !== 0) return unavailable('ip neigh failed');
    const v = arpAnsweredByDatapath(gatewayNeighbour(neigh.stdout, gw), lxc.address);
    return { ...base, passed: v.passed, observed: v.observed, evidence };
  } finally {
    await execThrough(provider, onNode, ['sh', '-c', `echo ${old.stdout.trim()} > ${knob}`]);
  }
}

/** cnilab answers ARP in its datapath (bpf arp_respond); the kernel answers it too when left alone, so
 *  the check bars the kernel first. One pod per node. */
export async function checkArpByDatapath(ctx: ScenarioContext): Promise<CheckOutcome[]> {
  const reps = [...new Map(connPods(ctx).map((p) => [p.node, p])).values()];
  return Promise.all(reps.map((p) => arpOutcome(providerOf(ctx), p)));
}
