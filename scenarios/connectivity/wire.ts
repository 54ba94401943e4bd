// What the underlay really carries. Captures on the underlay device of the two nodes involved (the
// device carrying each node's address; on the embedded cluster eth0 of the node namespace), made
// through the provider (provider.startCapture: tcpdump in the node's namespace, or in a privileged
// host-network helper pod on a real cluster), while a cross-node and a same-node probe run, then:
//   tunnel: cross-node pod traffic is VXLAN on UDP 8472 between the nodes' underlay IPs, the inner
//           addresses are the pod IPs, the VNI is the sender's security identity, and no pod IP is
//           on the wire unencapsulated;
//   native: no UDP 8472 at all, and the pod IPs are on the wire directly;
//   both:   same-node pod traffic never reaches the underlay;
//   pod → another node's own address: in tunnel mode through the tunnel both ways (VXLAN to and from
//           that node, the pod IP only inside), never bare with the pod IP on the underlay while the
//           replies come back encapsulated; in native mode bare both ways (pod IPs are routable).
// Absence is only evidence when presence was possible: the "same node never on the wire" check also
// requires that the same-node probes succeeded and that the capture saw the cross-node traffic.
// Everything goes through the provider (objects, probes by exec, captures, the CiliumEndpoints that
// name identities), so the scenario is the same on the embedded cluster and on a cluster from a
// kubeconfig; a packet crossing between the two nodes is seen by both captures (counted twice).
import { shellQuote } from '../../harness/exec/run.js';
import type { CapturedPacket } from '../../harness/traffic/pcap-parse.js';
import type { ProbeResult } from '../../harness/traffic/probe.js';
import type { RunningCapture } from '../../harness/providers/common/provider.js';
import { underlayDevice } from '../../harness/providers/common/capture.js';
import type { CheckOutcome, ResolvedPod, Scenario, ScenarioContext } from '../framework/model.js';
import { probeThrough, providerOf } from '../framework/provider-access.js';
import { CONN_NODES, POD_TCP_PORT, POD_UDP_PORT, connPods, connectivityObjects } from './workload.js';

export const CILIUM_VXLAN_PORT = 8472;

export interface IdentityLookup {
  id?: number;
  source: 'CiliumEndpoint' | 'unavailable';
  detail?: string;
}

/** The security identity of a pod, from its CiliumEndpoint (status.identity.id) read through the
 *  provider: cnilab's agents and Cilium both publish one per pod. */
export async function lookupIdentity(ctx: ScenarioContext, pod: ResolvedPod): Promise<IdentityLookup> {
  try {
    const ceps = (await providerOf(ctx).list('CiliumEndpoint', pod.namespace)).items;
    const cep = ceps.find((o) => o.metadata.name === pod.name);
    const id = (cep?.status as { identity?: { id?: unknown } } | undefined)?.identity?.id;
    if (typeof id === 'number') return { id, source: 'CiliumEndpoint' };
    return { source: 'unavailable', detail: `no CiliumEndpoint ${pod.key} with status.identity.id (${ceps.length} CiliumEndpoints in ${pod.namespace})` };
  } catch (e) {
    return { source: 'unavailable', detail: `list CiliumEndpoint: ${(e as Error).message}` };
  }
}

const between = (h: { srcIp: string; dstIp: string }, a: string, b: string) => h.srcIp === a && h.dstIp === b;
const touchesPair = (h: { srcIp: string; dstIp: string } | undefined, a: string, b: string) => !!h && (between(h, a, b) || between(h, b, a));

interface WireEvidence {
  packets: CapturedPacket[];
  probes: Array<{ label: string; result: ProbeResult }>;
  captureCommand: string;
}

/** Captures on both nodes' underlay devices while the probes run (each capture listening first). */
async function captureDuring(ctx: ScenarioContext, a: ResolvedPod, b: ResolvedPod, c: ResolvedPod, remoteNodeIp: string): Promise<WireEvidence> {
  const provider = providerOf(ctx);
  const captures: Array<{ node: string; capture: RunningCapture }> = [];
  const probes: Array<{ label: string; result: ProbeResult }> = [];
  // Every capture is stopped (and cleaned up) before any stop's error is thrown: a tcpdump that died
  // before its stop fails it with the reason, and the whole step is then an error, never a verdict.
  const stopAll = async () => {
    const settled = await Promise.allSettled(captures.map(async (x) => ({ node: x.node, command: x.capture.command, result: await x.capture.stop() })));
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  };
  try {
    for (const node of [a.node, b.node]) {
      const iface = await underlayDevice(provider, { name: node, ip: ctx.nodes.get(node)!.underlayIp });
      captures.push({ node, capture: await provider.startCapture(node, { iface, maxDurationMs: 120_000 }) });
    }
    const from = { pod: a };
    const plan: Array<[string, Parameters<typeof probeThrough>[2]]> = [
      [`icmp ${a.key} → ${b.key} (cross-node)`, { protocol: 'icmp', host: b.ip, timeoutMs: 1500 }],
      [`tcp ${a.key} → ${b.key}:${POD_TCP_PORT} (cross-node)`, { protocol: 'tcp', host: b.ip, port: POD_TCP_PORT, timeoutMs: 1500 }],
      [`udp ${a.key} → ${b.key}:${POD_UDP_PORT} (cross-node)`, { protocol: 'udp', host: b.ip, port: POD_UDP_PORT, timeoutMs: 1500 }],
      [`icmp ${a.key} → ${c.key} (same-node)`, { protocol: 'icmp', host: c.ip, timeoutMs: 1500 }],
      [`tcp ${a.key} → ${c.key}:${POD_TCP_PORT} (same-node)`, { protocol: 'tcp', host: c.ip, port: POD_TCP_PORT, timeoutMs: 1500 }],
      [`icmp ${a.key} → ${remoteNodeIp} (another node's address)`, { protocol: 'icmp', host: remoteNodeIp, timeoutMs: 1500 }],
    ];
    for (const [label, o] of plan) probes.push({ label, result: await probeThrough(provider, from, o) });
  } catch (e) {
    await stopAll().catch(() => undefined);
    throw e;
  }
  const stopped = await stopAll();
  return {
    packets: stopped.flatMap((x) => x.result.packets),
    probes,
    captureCommand: stopped.map((x) => `on ${x.node}: ${x.command}`).join('; '),
  };
}

function probeOutcomes(ev: WireEvidence): CheckOutcome[] {
  return ev.probes.map(({ label, result }, i) => ({
    id: `probe-${i + 1}`,
    name: `wire traffic: ${label}`,
    passed: result.ok && result.exitCode === 0,
    expected: 'ok (exit 0)',
    observed: `${result.outcome} (exit ${result.exitCode})`,
    command: shellQuote(result.command),
    protocol: label.split(' ')[0],
    tags: { kind: 'wire' },
  }));
}

function vniOf(packets: CapturedPacket[], src: string, dst: string): number[] {
  return [...new Set(packets.filter((p) => p.vxlan && p.inner && between(p.inner, src, dst)).map((p) => p.vxlan!.vni))];
}

async function tunnelOutcomes(ctx: ScenarioContext, ev: WireEvidence, a: ResolvedPod, b: ResolvedPod): Promise<CheckOutcome[]> {
  const ua = ctx.nodes.get(a.node)!.underlayIp;
  const ub = ctx.nodes.get(b.node)!.underlayIp;
  const vx = ev.packets.filter((p) => p.vxlan && p.outer.proto === 'udp' && p.outer.dstPort === CILIUM_VXLAN_PORT);
  const fwd = vx.filter((p) => p.inner && between(p.inner, a.ip, b.ip) && between(p.outer, ua, ub));
  const rev = vx.filter((p) => p.inner && between(p.inner, b.ip, a.ip) && between(p.outer, ub, ua));
  const bare = ev.packets.filter((p) => [a.ip, b.ip].includes(p.outer.srcIp) || [a.ip, b.ip].includes(p.outer.dstIp));
  const out: CheckOutcome[] = [
    {
      id: 'vxlan-encapsulated',
      name: `cross-node pod traffic is VXLAN on UDP ${CILIUM_VXLAN_PORT} between the node IPs`,
      passed: fwd.length > 0 && rev.length > 0,
      expected: `VXLAN ${ua}→${ub} inner ${a.ip}→${b.ip}, and the reverse`,
      observed: `${fwd.length} forward, ${rev.length} reverse VXLAN packets (${vx.length} on UDP ${CILIUM_VXLAN_PORT} in all)`,
      command: ev.captureCommand,
    },
    {
      id: 'no-bare-pod-ips',
      name: 'no pod IP on the underlay without encapsulation',
      // Absence counts only from a capture that saw the pods' traffic (encapsulated) at all.
      passed: bare.length === 0 && fwd.length + rev.length > 0,
      expected: '0 packets with a pod IP as outer address (in a capture that saw the tunnelled traffic)',
      observed: `${bare.length} packets${fwd.length + rev.length ? '' : '; the capture saw no tunnelled pod traffic either, so absence proves nothing'}`,
      command: ev.captureCommand,
      ...(bare.length ? { detail: bare.slice(0, 5).map((p) => `${p.outer.proto} ${p.outer.srcIp} → ${p.outer.dstIp}`).join('\n') } : {}),
    },
  ];
  for (const [src, dst] of [[a, b], [b, a]] as Array<[ResolvedPod, ResolvedPod]>) {
    const ident = await lookupIdentity(ctx, src);
    const vnis = vniOf(ev.packets, src.ip, dst.ip);
    const base = { id: `vni-${src.name}`, name: `VNI of ${src.key} → ${dst.key} is the sender's security identity`, command: ev.captureCommand };
    if (ident.id === undefined) {
      out.push({ ...base, passed: false, verdict: 'unavailable', expected: `VNI = identity of ${src.key}`, observed: `identity unavailable; VNIs seen: ${vnis.join(', ') || 'none'}`, detail: ident.detail });
      continue;
    }
    out.push({
      ...base,
      passed: vnis.length === 1 && vnis[0] === ident.id,
      expected: `VNI ${ident.id} (identity from ${ident.source})`,
      observed: vnis.length ? `VNI ${vnis.join(', ')}` : 'no VXLAN packet for this direction',
    });
  }
  return out;
}

function nativeOutcomes(ev: WireEvidence, a: ResolvedPod, b: ResolvedPod): CheckOutcome[] {
  const udp8472 = ev.packets.filter((p) => p.outer.proto === 'udp' && (p.outer.dstPort === CILIUM_VXLAN_PORT || p.outer.srcPort === CILIUM_VXLAN_PORT));
  const fwd = ev.packets.filter((p) => !p.vxlan && between(p.outer, a.ip, b.ip));
  const rev = ev.packets.filter((p) => !p.vxlan && between(p.outer, b.ip, a.ip));
  return [
    {
      id: 'no-vxlan',
      name: `no UDP ${CILIUM_VXLAN_PORT} on the underlay in native routing`,
      // Absence counts only from a capture that saw the pods' traffic (bare) at all.
      passed: udp8472.length === 0 && fwd.length + rev.length > 0,
      expected: `0 packets on UDP ${CILIUM_VXLAN_PORT} (in a capture that saw the pods' traffic)`,
      observed: `${udp8472.length} packets${fwd.length + rev.length ? '' : '; the capture saw no pod traffic either, so absence proves nothing'}`,
      command: ev.captureCommand,
    },
    {
      id: 'pod-ips-direct',
      name: 'cross-node pod traffic carries the pod IPs on the wire',
      passed: fwd.length > 0 && rev.length > 0,
      expected: `packets ${a.ip}→${b.ip} and ${b.ip}→${a.ip}, unencapsulated`,
      observed: `${fwd.length} forward, ${rev.length} reverse`,
      command: ev.captureCommand,
    },
  ];
}

/** Pod → another node's own address (see the file comment). Pure over the capture. */
export function podToNodeOutcomes(packets: CapturedPacket[], a: { ip: string; key: string }, ua: string, ub: string, tunnel: boolean, captureCommand: string): CheckOutcome[] {
  const icmp = (p: CapturedPacket, h: { srcIp: string; dstIp: string } | undefined, src: string, dst: string) => !!h && between(h, src, dst) && (p.inner ?? p.outer).proto === 'icmp';
  const bareOut = packets.filter((p) => !p.vxlan && icmp(p, p.outer, a.ip, ub));
  const bareBack = packets.filter((p) => !p.vxlan && icmp(p, p.outer, ub, a.ip));
  const encOut = packets.filter((p) => p.vxlan && between(p.outer, ua, ub) && icmp(p, p.inner, a.ip, ub));
  const encBack = packets.filter((p) => p.vxlan && between(p.outer, ub, ua) && icmp(p, p.inner, ub, a.ip));
  const seen = `${encOut.length} out / ${encBack.length} back in VXLAN, ${bareOut.length} out / ${bareBack.length} back bare`;
  if (tunnel) {
    return [
      {
        id: 'pod-to-node-tunnelled',
        name: `pod → another node's address (${a.key} → ${ub}) goes through the tunnel both ways`,
        passed: encOut.length > 0 && encBack.length > 0 && bareOut.length === 0 && bareBack.length === 0,
        expected: `VXLAN ${ua}→${ub} inner ${a.ip}→${ub} and back; nothing with ${a.ip} bare on the underlay`,
        observed: seen,
        command: captureCommand,
        evidence: [{ kind: 'capture', command: captureCommand, observed: seen }],
      },
    ];
  }
  return [
    {
      id: 'pod-to-node-direct',
      name: `pod → another node's address (${a.key} → ${ub}) is routed bare both ways`,
      passed: bareOut.length > 0 && bareBack.length > 0 && encOut.length + encBack.length === 0,
      expected: `${a.ip}→${ub} and back unencapsulated`,
      observed: seen,
      command: captureCommand,
      evidence: [{ kind: 'capture', command: captureCommand, observed: seen }],
    },
  ];
}

function sameNodeOutcome(ev: WireEvidence, a: ResolvedPod, b: ResolvedPod, c: ResolvedPod): CheckOutcome {
  const leaked = ev.packets.filter((p) => touchesPair(p.outer, a.ip, c.ip) || touchesPair(p.inner, a.ip, c.ip));
  const sameOk = ev.probes.filter((p) => p.label.includes('same-node')).every((p) => p.result.ok);
  const sawCross = ev.packets.some((p) => touchesPair(p.outer, a.ip, b.ip) || touchesPair(p.inner, a.ip, b.ip));
  const problems = [!sameOk && 'the same-node probes failed, so absence proves nothing', !sawCross && 'the capture saw no cross-node traffic either, so it may not be seeing anything'].filter(Boolean);
  return {
    id: 'same-node-off-wire',
    name: `same-node traffic ${a.key} ↔ ${c.key} never reaches the underlay`,
    passed: leaked.length === 0 && problems.length === 0,
    expected: '0 packets between the same-node pods on the underlay (with the probes succeeding)',
    observed: `${leaked.length} packets${problems.length ? `; ${problems.join('; ')}` : ''}`,
    command: ev.captureCommand,
  };
}

export async function wireChecks(ctx: ScenarioContext): Promise<CheckOutcome[]> {
  const pods = connPods(ctx);
  const nodes = [...new Set(pods.map((p) => p.node))];
  const a = pods.find((p) => p.node === nodes[0])!;
  const c = pods.find((p) => p.node === nodes[0] && p !== a)!;
  const b = pods.find((p) => p.node === nodes[1])!;
  const ua = ctx.nodes.get(a.node)!.underlayIp;
  const ub = ctx.nodes.get(b.node)!.underlayIp;
  const ev = await captureDuring(ctx, a, b, c, ub);
  const tunnel = ctx.spec.routing === 'tunnel';
  const specific = tunnel ? await tunnelOutcomes(ctx, ev, a, b) : nativeOutcomes(ev, a, b);
  // Only cnilab's tunnel claims to carry pod traffic to nodes through the tunnel; the kernel-VXLAN
  // baseline routes it like native.
  const podToNode = podToNodeOutcomes(ev.packets, a, ua, ub, tunnel && ctx.spec.cni === 'cnilab', ev.captureCommand);
  const all = [...probeOutcomes(ev), ...specific, ...podToNode, sameNodeOutcome(ev, a, b, c)];
  const mode = tunnel ? 'tunnel' : 'native';
  return all.map((o) => ({ ...o, from: o.from ?? a.key, to: o.to ?? (o.id === 'same-node-off-wire' ? c.key : b.key), tags: { kind: 'wire', mode, fromNode: a.node, toNode: o.id === 'same-node-off-wire' ? c.node : b.node, ...o.tags } }));
}

export const wireScenario: Scenario = {
  name: 'wire',
  suite: 'connectivity',
  description: 'what the underlay carries: VXLAN with the identity in the VNI (tunnel) or bare pod IPs (native); same-node traffic stays off it',
  topology: { nodes: CONN_NODES },
  setup: connectivityObjects,
  steps: () => [{ kind: 'check', id: 'wire', name: 'underlay capture', run: wireChecks }],
};
