// Real attachment: a node netns and a pod netns joined by a veth, from_container/to_container attached
// through openDatapath, the pod resolving its gateway through the BPF ARP responder and pinging it.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../lib/exec/run.js';
import { buildAndMount, removePinDir, tempPinDir } from '../../bpf/tests/fixture.js';
import { openDatapath } from './datapath.js';
import { withNetns } from './netns.js';
import { OBS_POINT, PROG } from './constants.js';
import type { Datapath, DatapathConfig, DatapathEvent } from './types.js';

const tag = randomBytes(3).toString('hex');
const NODE_NS = `cnilab-dptest-${tag}-node`;
const POD_NS = `cnilab-dptest-${tag}-pod`;
const LXC = `lxcdp${tag}`.slice(0, 15);
const POD_IP = '198.19.1.10';
const ROUTER_IP = '198.19.1.1';

async function link(netns: string, dev: string): Promise<{ ifindex: number; address: string }> {
  const r = await run(['ip', '-j', 'link', 'show', 'dev', dev], { netns });
  const [l] = JSON.parse(r.stdout) as Array<{ ifindex: number; address: string }>;
  return { ifindex: l!.ifindex, address: l!.address };
}

async function tcProgs(dev: string): Promise<string[]> {
  const r = await run(['bpftool', '-j', 'net', 'show', 'dev', dev], { netns: NODE_NS });
  const out = JSON.parse(r.stdout) as Array<{ tc?: Array<{ devname: string; kind: string; name: string }> }>;
  // kind is "tcx/ingress" or "clsact/ingress" depending on bpftool/kernel; name may carry ":[prog id]".
  return out.flatMap((o) => o.tc ?? []).map((t) => `${t.kind.split('/').pop()}:${t.name.replace(/:\[\d+\]$/, '')}`).sort();
}

describe('openDatapath in a real node netns', () => {
  let pinDir: string;
  let cfg: DatapathConfig;
  let dp: Datapath | undefined;
  let lxc: { ifindex: number; address: string };
  let pod: { ifindex: number; address: string };

  beforeAll(async () => {
    await buildAndMount();
    pinDir = tempPinDir('attach');
    await run(['ip', 'netns', 'add', NODE_NS]);
    await run(['ip', 'netns', 'add', POD_NS]);
    await run(['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'], { netns: POD_NS });
    await run(['ip', 'link', 'add', LXC, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', POD_NS], { netns: NODE_NS });
    await run(['ip', 'link', 'set', LXC, 'up'], { netns: NODE_NS });
    await run(['ip', 'link', 'set', 'lo', 'up'], { netns: NODE_NS });
    // The node owns the router IP (cilium_host in the agent; lo is enough here) and routes the pod via its lxc.
    await run(['ip', 'addr', 'add', `${ROUTER_IP}/32`, 'dev', 'lo'], { netns: NODE_NS });
    await run(['ip', 'route', 'add', `${POD_IP}/32`, 'dev', LXC], { netns: NODE_NS });
    await run(['ip', 'link', 'set', 'lo', 'up'], { netns: POD_NS });
    await run(['ip', 'addr', 'add', `${POD_IP}/32`, 'dev', 'eth0'], { netns: POD_NS });
    await run(['ip', 'link', 'set', 'eth0', 'up'], { netns: POD_NS });
    await run(['ip', 'route', 'add', ROUTER_IP, 'dev', 'eth0', 'scope', 'link'], { netns: POD_NS });
    await run(['ip', 'route', 'add', 'default', 'via', ROUTER_IP, 'dev', 'eth0'], { netns: POD_NS });
    lxc = await link(NODE_NS, LXC);
    pod = await link(POD_NS, 'eth0');
    cfg = { pinDir, routing: 'tunnel', nodeIp: '198.18.0.11', routerIp: ROUTER_IP, podCidr: '198.19.1.0/24' };
  });

  afterAll(async () => {
    dp?.close();
    await run(['ip', 'netns', 'del', POD_NS], { allowFailure: true });
    await run(['ip', 'netns', 'del', NODE_NS], { allowFailure: true });
    if (pinDir) removePinDir(pinDir);
  });

  it('attaches from_container/to_container on the lxc; re-attaching replaces instead of stacking', async () => {
    const ep = { ifindex: lxc.ifindex, ip: POD_IP, podMac: pod.address, hostMac: lxc.address, identity: 4242, endpointId: 1 };
    withNetns(NODE_NS, () => {
      dp = openDatapath(cfg);
      dp.attachEndpointDevice(LXC, lxc.ifindex);
      dp.upsertEndpoint(ep);
    });
    const expected = [`egress:${PROG.toContainer}`, `ingress:${PROG.fromContainer}`];
    expect(await tcProgs(LXC)).toEqual(expected);

    // Agent restart: new process state, same pins; attach again and find the endpoint still there.
    dp!.close();
    withNetns(NODE_NS, () => {
      dp = openDatapath(cfg);
      dp.attachEndpointDevice(LXC, lxc.ifindex);
    });
    expect(await tcProgs(LXC)).toEqual(expected);
    expect(dp!.listEndpoints()).toEqual([ep]);
    expect(dp!.describeMaps().find((m) => m.name === 'cnilab_lxc_if')).toMatchObject({ type: 'hash', entries: 1 });
  });

  it('the pod resolves its gateway to the lxc MAC through the BPF ARP responder and can ping it', async () => {
    const events: DatapathEvent[] = [];
    const stop = dp!.onEvents((e) => events.push(e));
    try {
      const ping = await run(['ping', '-c', '2', '-i', '0.2', '-W', '2', ROUTER_IP], { netns: POD_NS, allowFailure: true, timeoutMs: 10_000 });
      const neigh = JSON.parse((await run(['ip', '-j', 'neigh', 'show', ROUTER_IP, 'dev', 'eth0'], { netns: POD_NS })).stdout) as Array<{ lladdr?: string }>;
      expect(neigh[0]?.lladdr).toBe(lxc.address);
      expect(ping.code, ping.stdout + ping.stderr).toBe(0);
      for (let i = 0; i < 50 && events.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    } finally {
      stop();
    }
    const icmp = events.filter((e) => e.protocol === 1);
    // One trace per direction of the ping "connection", not one per packet.
    expect(icmp).toMatchObject([
      { kind: 'trace', observationPoint: OBS_POINT.FROM_ENDPOINT, srcIp: POD_IP, dstIp: ROUTER_IP, icmpType: 8, isReply: false, srcIdentity: 4242 },
      { kind: 'trace', observationPoint: OBS_POINT.TO_STACK, srcIp: POD_IP, dstIp: ROUTER_IP, icmpType: 8, isReply: false, srcIdentity: 4242 },
      { kind: 'trace', observationPoint: OBS_POINT.TO_ENDPOINT, srcIp: ROUTER_IP, dstIp: POD_IP, icmpType: 0, isReply: true, dstIdentity: 4242 },
    ]);
  });
});
