// The wire scenario reaches the cluster only through the provider: here a provider with no network
// namespace behind it at all (the embedded cluster's client throws if touched) answers the device
// query, the probes and the CiliumEndpoint list, and hands back captured packets. A healthy capture
// passes every check; a pod IP bare on the wire, a wrong VNI, a capture that saw nothing, or a
// CiliumEndpoint without an identity each fail (or are unavailable) where they should.
import { describe, expect, it } from 'vitest';
import type { RunResult } from '../../harness/exec/run.js';
import type { CapturedPacket } from '../../harness/traffic/pcap-parse.js';
import type { Provider, ProviderObject } from '../../harness/providers/common/provider.js';
import type { ClusterSpec } from '../../harness/cluster/spec.js';
import type { ResolvedNode, ResolvedPod, ScenarioContext } from '../framework/model.js';
import { wireChecks } from './wire.js';
import { CONN_NAMESPACE, connPodName } from './workload.js';

const NODES = [
  { name: 'node1', underlayIp: '198.18.0.11', podCidr: '198.19.0.0/24' },
  { name: 'node2', underlayIp: '198.18.0.12', podCidr: '198.19.1.0/24' },
  { name: 'node3', underlayIp: '198.18.0.13', podCidr: '198.19.2.0/24' },
];
const podIp = (n: number, i: number) => `198.19.${n}.${10 + i}`;
const A = podIp(0, 0); // conn-node1-a
const B = podIp(1, 0); // conn-node2-a
const [U1, U2] = [NODES[0]!.underlayIp, NODES[1]!.underlayIp];
const IDS: Record<string, number> = { 'conn-node1-a': 1001, 'conn-node2-a': 1002 };

const hdr = (srcIp: string, dstIp: string, proto = 'icmp', dstPort?: number) => ({ ipVersion: 4 as const, srcIp, dstIp, proto, ttl: 63, ipLength: 84, ...(dstPort ? { srcPort: 40000, dstPort } : {}) });
const vx = (os: string, od: string, is: string, id: string, vni: number): CapturedPacket => ({ ts: 0, outer: hdr(os, od, 'udp', 8472), vxlan: { vni }, inner: hdr(is, id), length: 134, capturedLength: 134 });
const bare = (s: string, d: string): CapturedPacket => ({ ts: 0, outer: hdr(s, d), length: 98, capturedLength: 98 });

/** What a healthy tunnel puts on node1's and node2's underlay. */
function healthy(vniA = IDS['conn-node1-a']!, vniB = IDS['conn-node2-a']!): CapturedPacket[] {
  return [vx(U1, U2, A, B, vniA), vx(U2, U1, B, A, vniB), vx(U1, U2, A, U2, vniA), vx(U2, U1, U2, A, 1)];
}

function setup(packets: { node1: CapturedPacket[]; node2: CapturedPacket[] }, ceps: ProviderObject[] = Object.entries(IDS).map(([name, id]) => ({ metadata: { name, namespace: CONN_NAMESPACE }, status: { identity: { id } } })), diedOn?: string) {
  const calls: string[] = [];
  const ok = (argv: string[], stdout = ''): RunResult => ({ argv: ['kubectl-exec', ...argv], code: 0, signal: null, stdout, stderr: '', durationMs: 2, timedOut: false });
  const provider: Provider = {
    kind: 'kubeconfig',
    create: async () => undefined,
    nodes: async () => NODES.map((n) => ({ name: n.name, ip: n.underlayIp, podCidr: n.podCidr })),
    execOnNode: async (node, argv) => {
      calls.push(`node/${node}: ${argv.join(' ')}`);
      const ip = NODES.find((n) => n.name === node)!.underlayIp;
      return ok(argv, JSON.stringify([{ ifname: 'lo', addr_info: [{ family: 'inet', local: '127.0.0.1' }] }, { ifname: 'ens5', addr_info: [{ family: 'inet', local: ip }] }]));
    },
    execInPod: async (ns, pod, argv) => {
      calls.push(`${ns}/${pod}: ${argv.join(' ')}`);
      return ok(argv, argv[0] === 'ping' ? `64 bytes from ${argv[argv.length - 1]}: icmp_seq=1 ttl=63\n` : '');
    },
    apply: async (o) => o,
    list: async (kind) => ({ items: kind === 'CiliumEndpoint' ? ceps : [], resourceVersion: '1' }),
    remove: async () => undefined,
    mergePatch: async () => ({ metadata: { name: 'x' } }),
    pods: async () => [],
    waitPodsReady: async () => [],
    capture: async () => Buffer.alloc(0),
    startCapture: async (node, o) => {
      calls.push(`capture ${node} ${o.iface}`);
      return {
        command: `tcpdump -i ${o.iface}`,
        stop: async () => {
          // As both providers' stop() when tcpdump ended before it (tests the scenario's side only).
          if (node === diedOn) throw new Error(`capture on node ${node}: tcpdump ended before the capture was stopped (killed by SIGKILL), so the capture missed what came after`);
          await new Promise((r) => setTimeout(r, 20));
          calls.push(`stopped ${node}`);
          return { pcap: Buffer.alloc(0), packets: packets[node as 'node1' | 'node2'] ?? [], stderr: '' };
        },
      };
    },
    cni: async () => 'cnilab',
    collectLogs: async () => [],
    destroy: async () => undefined,
  };
  const spec = { name: 'fake', routing: 'tunnel', cni: 'cnilab', nodes: NODES.map((n, index) => ({ ...n, index, labels: {}, podGateway: '' })) } as unknown as ClusterSpec;
  const pods = new Map<string, ResolvedPod>();
  NODES.forEach((n, ni) => [0, 1, 2].forEach((i) => {
    const name = connPodName(n.name, i);
    pods.set(`${CONN_NAMESPACE}/${name}`, { namespace: CONN_NAMESPACE, name, key: `${CONN_NAMESPACE}/${name}`, node: n.name, ip: podIp(ni, i), netns: 'never-used' });
  }));
  const nodes = new Map<string, ResolvedNode>(spec.nodes.map((n) => [n.name, { ...n, netns: 'never-used' }]));
  const untouchable = new Proxy({}, { get: () => { throw new Error('the wire scenario touched the embedded control plane'); } });
  const ctx = { spec, client: untouchable, provider, pods, nodes, state: {}, log: () => undefined } as unknown as ScenarioContext;
  return { ctx, calls };
}

const verdicts = async (ctx: ScenarioContext) => Object.fromEntries((await wireChecks(ctx)).map((o) => [o.id, o.verdict ?? (o.passed ? 'pass' : 'fail')]));

describe('the wire scenario through a provider', () => {
  it('captures on both nodes\' underlay devices, probes by exec, and passes a healthy tunnel', async () => {
    const { ctx, calls } = setup({ node1: healthy(), node2: healthy() });
    const out = await wireChecks(ctx);
    expect(out.filter((o) => !o.passed).map((o) => `${o.id}: ${o.observed}`)).toEqual([]);
    expect(out).toHaveLength(12);
    expect(calls).toContain('capture node1 ens5');
    expect(calls).toContain('capture node2 ens5');
    expect(calls.filter((c) => c.startsWith(`${CONN_NAMESPACE}/conn-node1-a: `))).toHaveLength(6);
    expect(out.find((o) => o.id === 'vxlan-encapsulated')!.command).toBe('on node1: tcpdump -i ens5; on node2: tcpdump -i ens5');
  });
  it('fails a pod IP bare on the wire and a VNI that is not the sender\'s identity', async () => {
    const leak = setup({ node1: [...healthy(), bare(A, U2)], node2: healthy() });
    expect(await verdicts(leak.ctx)).toMatchObject({ 'no-bare-pod-ips': 'fail', 'pod-to-node-tunnelled': 'fail', 'vxlan-encapsulated': 'pass' });
    const wrongVni = setup({ node1: healthy(1002, 1003), node2: healthy(1002, 1003) });
    expect(await verdicts(wrongVni.ctx)).toMatchObject({ 'vni-conn-node1-a': 'fail', 'vni-conn-node2-a': 'fail', 'no-bare-pod-ips': 'pass' });
  });
  it('makes the step an error naming the capture that died, never verdicts from what it caught, after stopping the other', async () => {
    const { ctx, calls } = setup({ node1: healthy(), node2: healthy() }, undefined, 'node1');
    await expect(wireChecks(ctx)).rejects.toThrow(/capture on node node1: tcpdump ended before the capture was stopped \(killed by SIGKILL\)/);
    expect(calls).toContain('stopped node2');
  });
  it('passes nothing on an empty capture, and says unavailable without an identity to compare with', async () => {
    const empty = await verdicts(setup({ node1: [], node2: [] }).ctx);
    expect(Object.entries(empty).filter(([id, v]) => !id.startsWith('probe-') && v === 'pass')).toEqual([]);
    // Native routing: pod IPs bare both ways pass; an empty capture passes neither the absence of VXLAN nor anything else.
    const native = setup({ node1: [bare(A, B), bare(B, A), bare(A, U2), bare(U2, A)], node2: [] });
    (native.ctx.spec as { routing: string }).routing = 'native';
    expect(Object.values(await verdicts(native.ctx)).every((v) => v === 'pass')).toBe(true);
    const nativeEmpty = setup({ node1: [], node2: [] });
    (nativeEmpty.ctx.spec as { routing: string }).routing = 'native';
    expect(await verdicts(nativeEmpty.ctx)).toMatchObject({ 'no-vxlan': 'fail', 'pod-ips-direct': 'fail', 'pod-to-node-direct': 'fail', 'same-node-off-wire': 'fail' });
    const noCep = await verdicts(setup({ node1: healthy(), node2: healthy() }, []).ctx);
    expect(noCep).toMatchObject({ 'vni-conn-node1-a': 'unavailable', 'vni-conn-node2-a': 'unavailable', 'vxlan-encapsulated': 'pass' });
  });
});
