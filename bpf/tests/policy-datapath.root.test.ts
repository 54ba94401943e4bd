// Policy through the real datapath (tc programs on veth, VXLAN or native routing, real TCP between pod
// namespaces), with endpoint policies written by hand through Datapath.setEndpointPolicy (no policy
// engine): same node, across nodes, egress at the source, deny precedence, an established connection
// across policy changes, the maps emptied by a delete (read from the pins), and what the host identity
// becomes on the wire. One topology per routing mode, shared by that mode's cases. (In bpf/tests/, not
// agent/datapath/: it drives traffic with the harness's tools, which nothing under agent/ may import.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, start, type Background } from '../../harness/exec/run.js';
import { probe } from '../../harness/traffic/probe.js';
import { waitForListener } from '../../harness/traffic/wait-listen.js';
import { startCapture } from '../../harness/traffic/pcap.js';
import { PolicyTopology, type TopoPod } from './policy-topology.js';
import { closeFd, mapKeys, objGet } from '../../agent/datapath/libbpf.js';
import { DIRECTION, DROP_REASON, MAP, POLICY_KEY, RESERVED_IDENTITY } from '../../agent/datapath/constants.js';
import type { EndpointPolicy, PolicyEntry } from '../../agent/policy/types.js';

const ing = (x: Partial<PolicyEntry>): PolicyEntry => ({ direction: 'ingress', identity: 0, protocol: 0, port: 0, endPort: 0, deny: false, ...x });
const egr = (x: Partial<PolicyEntry>): PolicyEntry => ing({ direction: 'egress', ...x });

// Echo server on 80 and 81; a client that writes a line every 100 ms on one connection and prints each
// echo, so that the test can watch one established connection across policy changes.
const SERVER = `const net = require('net');
for (const p of [80, 81]) net.createServer((s) => { s.on('error', () => {}); s.pipe(s); }).listen(p);`;
const STREAMER = (host: string) => `const s = require('net').connect(80, '${host}');
let n = 0; s.on('data', (d) => { for (const l of d.toString().split('\\n')) if (l) console.log('echo ' + l); });
s.on('error', (e) => console.log('error ' + e.code));
setInterval(() => s.write((n++) + '\\n'), 100);`;

describe.each(['tunnel', 'native'] as const)('policy through the real datapath (%s)', (mode) => {
  const topo = new PolicyTopology(mode);
  const servers: Background[] = [];
  const [nodeA, nodeB] = topo.nodes;
  const a1 = topo.pod('a1');
  const a2 = topo.pod('a2');
  const b1 = topo.pod('b1');
  const set = (pod: TopoPod, entries: PolicyEntry[], ingressEnforced = true, egressEnforced = false): void =>
    topo.nodeOf(pod).dp!.setEndpointPolicy!({ endpointId: pod.endpointId, ingressEnforced, egressEnforced, entries } satisfies EndpointPolicy);
  const clear = (): void => {
    for (const n of topo.nodes) for (const p of n.pods) n.dp!.deleteEndpointPolicy!(p.endpointId);
  };
  const tcpProbe = (from: TopoPod, to: TopoPod, port: number) => probe({ netns: from.netns, protocol: 'tcp', host: to.ip, port, timeoutMs: 1000 });
  const policyDrops = (n: typeof nodeA, reason: number, dst: TopoPod, port: number) =>
    n.events.filter((e) => e.kind === 'drop' && e.dropReason === reason && e.dstIp === dst.ip && e.dstPort === port);

  beforeAll(async () => {
    await topo.up();
    for (const p of [a2, b1]) {
      const s = start([process.execPath, '-e', SERVER], { netns: p.netns });
      servers.push(s);
      await waitForListener(s, { netns: p.netns, proto: 'tcp', port: 81, what: `echo server in ${p.name}` });
    }
  }, 120_000);

  afterAll(async () => {
    for (const s of servers) await s.stop();
    await topo.down();
  });

  it('same node: the receiver\'s ingress allow-list is enforced before delivery; a denied SYN is dropped with POLICY_DENIED, ingress', async () => {
    clear();
    set(a2, [ing({ identity: a1.identity, protocol: 6, port: 80 })]);
    await topo.settleEvents();
    expect((await tcpProbe(a1, a2, 80)).outcome).toBe('ok');
    expect((await tcpProbe(a1, a2, 81)).outcome).toBe('timeout');
    expect(await topo.waitEvents(() => policyDrops(nodeA, DROP_REASON.POLICY_DENIED, a2, 81).length > 0)).toBe(true);
    expect(policyDrops(nodeA, DROP_REASON.POLICY_DENIED, a2, 81)[0]).toMatchObject({ direction: DIRECTION.ingress, srcIdentity: a1.identity, dstIdentity: a2.identity });
    expect(nodeA.events.some((e) => e.kind === 'policy-verdict' && e.dstPort === 80 && e.dropReason === undefined)).toBe(true);
  });

  it('across nodes: ingress is decided on the receiving node with the sender\'s identity', async () => {
    clear();
    set(b1, [ing({ identity: a1.identity, protocol: 6, port: 80 })]);
    await topo.settleEvents();
    expect((await tcpProbe(a1, b1, 80)).outcome).toBe('ok');
    expect((await tcpProbe(a2, b1, 80)).outcome).toBe('timeout'); // another identity
    expect((await tcpProbe(a1, b1, 81)).outcome).toBe('timeout');
    expect(await topo.waitEvents(() => policyDrops(nodeB, DROP_REASON.POLICY_DENIED, b1, 81).length > 0)).toBe(true);
    expect(policyDrops(nodeB, DROP_REASON.POLICY_DENIED, b1, 80)[0]).toMatchObject({ direction: DIRECTION.ingress, srcIdentity: a2.identity });
    expect(policyDrops(nodeB, DROP_REASON.POLICY_DENIED, b1, 81)[0]).toMatchObject({ direction: DIRECTION.ingress, srcIdentity: a1.identity });
    expect(nodeA.events.filter((e) => e.kind === 'drop')).toEqual([]); // the sender's node let it go
  });

  it('egress is decided at the source, for local and remote destinations', async () => {
    clear();
    set(a1, [egr({ identity: b1.identity, protocol: 6, port: 80 })], false, true);
    await topo.settleEvents();
    expect((await tcpProbe(a1, b1, 80)).outcome).toBe('ok');
    expect((await tcpProbe(a1, b1, 81)).outcome).toBe('timeout');
    expect((await tcpProbe(a1, a2, 80)).outcome).toBe('timeout');
    expect(await topo.waitEvents(() => policyDrops(nodeA, DROP_REASON.POLICY_DENIED, a2, 80).length > 0)).toBe(true);
    expect(policyDrops(nodeA, DROP_REASON.POLICY_DENIED, b1, 81)[0]).toMatchObject({ direction: DIRECTION.egress });
    expect(nodeB.events.filter((e) => e.kind === 'drop'), JSON.stringify(nodeB.events.filter((e) => e.kind === 'drop'), (k, v) => (typeof v === 'bigint' ? String(v) : v))).toEqual([]); // never left node a
  });

  it('an explicit deny wins over an allow (POLICY_DENY, 181)', async () => {
    clear();
    set(b1, [ing({ identity: a1.identity }), ing({ protocol: 6, port: 81, deny: true })]);
    await topo.settleEvents();
    expect((await tcpProbe(a1, b1, 80)).outcome).toBe('ok');
    expect((await tcpProbe(a1, b1, 81)).outcome).toBe('timeout');
    expect(await topo.waitEvents(() => policyDrops(nodeB, DROP_REASON.POLICY_DENY, b1, 81).length > 0)).toBe(true);
  });

  it('an established connection survives a policy change that still allows it, and stops at one that does not', async () => {
    clear();
    set(b1, [ing({ identity: a1.identity, protocol: 6, port: 80 })]);
    const client = start([process.execPath, '-e', STREAMER(b1.ip)], { netns: a1.netns });
    const echoes = () => client.output().stdout.split('\n').filter((l) => l.startsWith('echo ')).length;
    const waitEchoes = (n: number) => topo.waitEvents(() => echoes() >= n, 5000);
    try {
      expect(await waitEchoes(3), client.output().stdout + client.output().stderr).toBe(true);
      // Still allowed, by other entries: the connection carries on.
      set(b1, [ing({ identity: a1.identity, protocol: 6, port: 70, endPort: 90 }), ing({ identity: 999, protocol: 17 })]);
      const before = echoes();
      expect(await waitEchoes(before + 5)).toBe(true);
      // No longer allowed: its next segments are dropped on node b (established connections are re-checked).
      topo.clearEvents();
      set(b1, [ing({ identity: a1.identity, protocol: 6, port: 81 })]);
      expect(await topo.waitEvents(() => policyDrops(nodeB, DROP_REASON.POLICY_DENIED, b1, 80).length > 0)).toBe(true);
      const cut = echoes();
      await new Promise((r) => setTimeout(r, 1000));
      expect(echoes()).toBeLessThanOrEqual(cut + 1); // at most one echo already in flight
    } finally {
      await client.stop();
    }
  });

  it('deleting every endpoint policy restores connectivity and leaves nothing in the pinned policy maps', async () => {
    set(b1, [ing({ identity: a1.identity, protocol: 6, port: 80 }), ing({ protocol: 17, port: 53, deny: true })], true, true);
    set(a2, [ing({ identity: 77 })]);
    clear();
    for (const n of topo.nodes) {
      for (const name of [MAP.policy, MAP.policyEndpoint]) {
        const fd = objGet(`${n.pinDir}/${name}`);
        try {
          expect(mapKeys(fd, name === MAP.policy ? POLICY_KEY.size : 4), `${n.name}: ${name}`).toEqual([]);
        } finally {
          closeFd(fd);
        }
      }
      expect(n.dp!.listEndpointPolicies!()).toEqual([]);
    }
    expect((await tcpProbe(a1, b1, 81)).outcome).toBe('ok');
    expect((await tcpProbe(b1, a2, 81)).outcome).toBe('ok');
  });

  it('node a\'s own traffic reaches node b as remote-node, never as host', async () => {
    clear();
    const fromNodeA = () => run(['ping', '-c', '1', '-W', '1', b1.ip], { netns: nodeA.netns, allowFailure: true, timeoutMs: 10_000 });
    set(b1, [ing({ identity: RESERVED_IDENTITY.host })]); // node b's own host, not node a
    await topo.settleEvents();
    const cap = mode === 'tunnel' ? await startCapture({ netns: topo.fabricNs, iface: nodeA.fabricPort, filter: 'udp port 8472' }) : undefined;
    expect((await fromNodeA()).code).not.toBe(0);
    const captured = await cap?.stop();
    expect(await topo.waitEvents(() => nodeB.events.some((e) => e.kind === 'drop' && e.protocol === 1))).toBe(true);
    expect(nodeB.events.find((e) => e.kind === 'drop' && e.protocol === 1)).toMatchObject({
      dropReason: DROP_REASON.POLICY_DENIED, direction: DIRECTION.ingress, srcIdentity: RESERVED_IDENTITY.remoteNode,
    });
    if (captured) {
      const vnis = captured.packets.filter((p) => p.inner?.srcIp === nodeA.routerIp && p.inner.dstIp === b1.ip).map((p) => p.vxlan?.vni);
      expect(vnis.length).toBeGreaterThan(0);
      expect(new Set(vnis)).toEqual(new Set([RESERVED_IDENTITY.remoteNode])); // not 1 on the wire
    }
    set(b1, [ing({ identity: RESERVED_IDENTITY.remoteNode })]);
    expect((await fromNodeA()).code).toBe(0);
  });
});
