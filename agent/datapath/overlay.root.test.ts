// Two nodes joined by an underlay veth, each with a collect_md VXLAN device (UDP 8472), a
// cilium_host/cilium_net pair and one pod; the datapath attached on all of them. Proves what
// BPF_PROG_TEST_RUN cannot: the tunnel key really encapsulates to the right node, the source identity
// travels in the VNI, from_overlay delivers with bpf_redirect_peer, and from_host tunnels host traffic.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, start } from '../../lib/exec/run.js';
import { buildAndMount, removePinDir, tempPinDir } from '../../bpf/tests/fixture.js';
import { BROKEN_REMOTE_OBJECT, openDatapath } from './datapath.js';
import { withNetns } from './netns.js';
import { OBS_POINT, RESERVED_IDENTITY } from './constants.js';
import type { Datapath, DatapathEvent } from './types.js';

const tag = randomBytes(3).toString('hex');
const ns = (what: string): string => `cnilab-dptest-${tag}-${what}`;

interface TestNode {
  name: string;
  nodeNs: string;
  podNs: string;
  nodeIp: string;
  routerIp: string;
  podCidr: string;
  podIp: string;
  identity: number;
  pinDir: string;
  dp?: Datapath;
  events: DatapathEvent[];
}

const mk = (name: string, n: number): TestNode => ({
  name, nodeNs: ns(`${name}`), podNs: ns(`${name}-pod`), nodeIp: `198.18.0.${10 + n}`, routerIp: `198.19.${n}.1`,
  podCidr: `198.19.${n}.0/24`, podIp: `198.19.${n}.10`, identity: 5000 + n, pinDir: '', events: [],
});
const A = mk('a', 1);
const B = mk('b', 2);

async function ifinfo(netns: string, dev: string): Promise<{ ifindex: number; address: string }> {
  const [l] = JSON.parse((await run(['ip', '-j', 'link', 'show', 'dev', dev], { netns })).stdout) as Array<{ ifindex: number; address: string }>;
  return l!;
}

async function setupNode(n: TestNode, peer: TestNode): Promise<void> {
  const ip = (args: string[], netns = n.nodeNs) => run(['ip', ...args], { netns });
  await ip(['link', 'set', 'lo', 'up']);
  await run(['sysctl', '-qw', 'net.ipv4.conf.all.rp_filter=0'], { netns: n.nodeNs });
  // Overlay: collect_md VXLAN like Cilium's cilium_vxlan.
  await ip(['link', 'add', 'cilium_vxlan', 'type', 'vxlan', 'external', 'dstport', '8472']);
  await run(['sysctl', '-qw', 'net.ipv4.conf.cilium_vxlan.rp_filter=0'], { netns: n.nodeNs });
  await ip(['link', 'set', 'cilium_vxlan', 'up']);
  // Router IP on cilium_host; remote pod CIDRs routed through it (from_host tunnels them).
  await ip(['link', 'add', 'cilium_host', 'type', 'veth', 'peer', 'name', 'cilium_net']);
  // NOARP (as Cilium does): the kernel would otherwise ARP for the router IP, its own address, and never
  // get an answer, so nothing would ever be sent to cilium_host.
  await ip(['link', 'set', 'cilium_host', 'arp', 'off']);
  await ip(['link', 'set', 'cilium_net', 'arp', 'off']);
  await ip(['link', 'set', 'cilium_host', 'up']);
  await ip(['link', 'set', 'cilium_net', 'up']);
  await ip(['addr', 'add', `${n.routerIp}/32`, 'dev', 'cilium_host']);
  await ip(['route', 'add', peer.podCidr, 'via', n.routerIp, 'dev', 'cilium_host', 'src', n.routerIp, 'mtu', '1450']);
  // Pod.
  await ip(['link', 'add', 'lxc0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n.podNs]);
  await ip(['link', 'set', 'lxc0', 'up']);
  await ip(['route', 'add', `${n.podIp}/32`, 'dev', 'lxc0']);
  await ip(['link', 'set', 'lo', 'up'], n.podNs);
  await ip(['addr', 'add', `${n.podIp}/32`, 'dev', 'eth0'], n.podNs);
  await ip(['link', 'set', 'eth0', 'mtu', '1450', 'up'], n.podNs);
  await ip(['route', 'add', n.routerIp, 'dev', 'eth0', 'scope', 'link'], n.podNs);
  await ip(['route', 'add', 'default', 'via', n.routerIp, 'dev', 'eth0'], n.podNs);

  const lxc = await ifinfo(n.nodeNs, 'lxc0');
  const pod = await ifinfo(n.podNs, 'eth0');
  const vxlan = await ifinfo(n.nodeNs, 'cilium_vxlan');
  const host = await ifinfo(n.nodeNs, 'cilium_host');
  n.pinDir = tempPinDir(`ovl-${n.name}`);
  withNetns(n.nodeNs, () => {
    const dp = openDatapath({ pinDir: n.pinDir, routing: 'tunnel', nodeIp: n.nodeIp, routerIp: n.routerIp, podCidr: n.podCidr });
    n.dp = dp;
    dp.attachOverlayDevice('cilium_vxlan', vxlan.ifindex);
    dp.attachHostDevice('cilium_host', host.ifindex);
    dp.upsertEndpoint({ ifindex: lxc.ifindex, ip: n.podIp, podMac: pod.address, hostMac: lxc.address, identity: n.identity, endpointId: 1 });
    dp.upsertIpcache(peer.podCidr, { identity: 6, tunnelEndpoint: peer.nodeIp });
    dp.upsertIpcache(peer.podIp, { identity: peer.identity, tunnelEndpoint: peer.nodeIp });
    dp.attachEndpointDevice('lxc0', lxc.ifindex);
  });
  n.dp!.onEvents((e) => n.events.push(e));
}

describe('cross-node forwarding over the VXLAN overlay', () => {
  beforeAll(async () => {
    await buildAndMount();
    for (const n of [A, B]) for (const x of [n.nodeNs, n.podNs]) await run(['ip', 'netns', 'add', x]);
    // IPv4-only pods (the datapath drops IPv6 as UNSUPPORTED_L3_PROTOCOL, which would show in the counters).
    for (const n of [A, B]) await run(['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'], { netns: n.podNs });
    // Underlay: a veth between the two nodes.
    await run(['ip', 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', B.nodeNs], { netns: A.nodeNs });
    for (const n of [A, B]) {
      await run(['ip', 'addr', 'add', `${n.nodeIp}/24`, 'dev', 'eth0'], { netns: n.nodeNs });
      await run(['ip', 'link', 'set', 'eth0', 'up'], { netns: n.nodeNs });
    }
    await setupNode(A, B);
    await setupNode(B, A);
  });

  afterAll(async () => {
    for (const n of [A, B]) {
      n.dp?.close();
      for (const x of [n.podNs, n.nodeNs]) await run(['ip', 'netns', 'del', x], { allowFailure: true });
      if (n.pinDir) removePinDir(n.pinDir);
    }
  });

  const settle = async (pred: () => boolean) => {
    for (let i = 0; i < 50 && !pred(); i++) await new Promise((r) => setTimeout(r, 20));
  };

  it('pod on node a pings pod on node b; node b sees node a\'s pod identity from the VNI', async () => {
    A.events.length = B.events.length = 0;
    const r = await run(['ping', '-c', '3', '-i', '0.2', '-W', '2', B.podIp], { netns: A.podNs, allowFailure: true, timeoutMs: 15_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await settle(() => A.events.length >= 4 && B.events.length >= 4);
    const icmpA = A.events.filter((e) => e.protocol === 1);
    const icmpB = B.events.filter((e) => e.protocol === 1);
    expect(icmpA).toMatchObject([
      { observationPoint: OBS_POINT.FROM_ENDPOINT, srcIdentity: A.identity, isReply: false },
      { observationPoint: OBS_POINT.TO_OVERLAY, srcIdentity: A.identity, dstIdentity: B.identity, isReply: false },
      { observationPoint: OBS_POINT.FROM_OVERLAY, srcIdentity: B.identity, isReply: true },
      { observationPoint: OBS_POINT.TO_ENDPOINT, srcIdentity: B.identity, dstIdentity: A.identity, isReply: true },
    ]);
    expect(icmpB).toMatchObject([
      { observationPoint: OBS_POINT.FROM_OVERLAY, srcIdentity: A.identity, isReply: false },
      { observationPoint: OBS_POINT.TO_ENDPOINT, srcIdentity: A.identity, dstIdentity: B.identity, isReply: false },
      { observationPoint: OBS_POINT.FROM_ENDPOINT, srcIdentity: B.identity, isReply: true },
      { observationPoint: OBS_POINT.TO_OVERLAY, srcIdentity: B.identity, isReply: true },
    ]);
    expect(A.dp!.dropCounters()).toEqual([]);
  });

  it('TCP across nodes works with a full-size payload (MTU 1450 inside the tunnel)', async () => {
    // node itself as server/client: no dependency on netcat being installed.
    const server = start([process.execPath, '-e',
      "require('net').createServer((s) => s.end(Buffer.alloc(200000, 120))).listen(8080, () => console.log('up'))"], { netns: B.podNs });
    try {
      await settle(() => server.output().stdout.includes('up'));
      const c = await run([process.execPath, '-e',
        `const s = require('net').connect(8080, '${B.podIp}'); let n = 0; s.on('data', (d) => (n += d.length)); s.on('end', () => console.log(n)); setTimeout(() => process.exit(3), 5000).unref();`],
        { netns: A.podNs, timeoutMs: 10_000 });
      expect(c.stdout.trim()).toBe('200000');
    } finally {
      await server.stop();
    }
  });

  it('node a\'s host reaches pod b through cilium_host (from_host); on the wire its identity is remote-node, not host', async () => {
    A.events.length = B.events.length = 0;
    const r = await run(['ping', '-c', '2', '-i', '0.2', '-W', '2', B.podIp], { netns: A.nodeNs, allowFailure: true, timeoutMs: 15_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await settle(() => B.events.some((e) => e.protocol === 1));
    expect(A.events.filter((e) => e.protocol === 1).slice(0, 2)).toMatchObject([
      { observationPoint: OBS_POINT.FROM_HOST, srcIdentity: RESERVED_IDENTITY.host },
      { observationPoint: OBS_POINT.TO_OVERLAY, srcIdentity: RESERVED_IDENTITY.host },
    ]);
    // "host" means "this node" wherever it is read: node b must see node a as a remote node.
    expect(B.events.filter((e) => e.protocol === 1 && e.observationPoint === OBS_POINT.TO_ENDPOINT)[0]).toMatchObject({ srcIdentity: RESERVED_IDENTITY.remoteNode, srcIp: A.routerIp });
  });

  it('traffic to a pod-CIDR address with no endpoint is dropped on the receiving node as STALE_OR_UNROUTABLE_IP', async () => {
    await run(['ping', '-c', '1', '-W', '1', '198.19.2.99'], { netns: A.podNs, allowFailure: true, timeoutMs: 10_000 });
    await settle(() => B.dp!.dropCounters().length > 0);
    expect(B.dp!.dropCounters()).toEqual([{ reason: 151, direction: 1, packets: 1n, bytes: 98n }]);
  });

  it('swapping in datapath-broken-remote.o (agent restart, same pins) breaks cross-node traffic with drop 160', async () => {
    const attachAll = (objectPath?: string) => withNetns(A.nodeNs, () => {
      A.dp!.close();
      A.dp = openDatapath({ pinDir: A.pinDir, objectPath, routing: 'tunnel', nodeIp: A.nodeIp, routerIp: A.routerIp, podCidr: A.podCidr });
      const [ep] = A.dp.listEndpoints(); // survived the restart in the pinned maps
      A.dp.attachEndpointDevice('lxc0', ep!.ifindex);
    });
    const ping = () => run(['ping', '-c', '1', '-W', '1', B.podIp], { netns: A.podNs, allowFailure: true, timeoutMs: 10_000 });
    attachAll(BROKEN_REMOTE_OBJECT);
    try {
      expect((await ping()).code).not.toBe(0);
      expect(A.dp!.dropCounters()).toEqual([{ reason: 160, direction: 2, packets: 1n, bytes: expect.any(BigInt) }]);
    } finally {
      attachAll();
    }
    expect((await ping()).code).toBe(0);
  });
});
