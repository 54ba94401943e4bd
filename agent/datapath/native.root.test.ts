// Native routing on real devices (bpf/tests/native-topology.ts): two nodes on one underlay bridge, static
// routes in place of BGP, the datapath on lxc0 and eth0 of each node. Proves what BPF_PROG_TEST_RUN cannot:
// bpf_fib_lookup + redirect really put bare pod packets on the underlay to the right node, from_netdev
// delivers them with bpf_redirect_peer and the sender's identity from the ipcache, and a withdrawn route
// fails fast with drop 169 instead of hanging.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, start } from '../../lib/exec/run.js';
import { NativeTopology, REMOTE_NODE_IDENTITY } from '../../bpf/tests/native-topology.js';
import { DIRECTION, DROP_REASON, OBS_POINT } from './constants.js';

const topo = new NativeTopology();
const [A, B] = topo.nodes;
const settle = async (pred: () => boolean) => {
  for (let i = 0; i < 50 && !pred(); i++) await new Promise((r) => setTimeout(r, 20));
};
const ping = (netns: string, dst: string, extra: string[] = []) =>
  run(['ping', '-c', '1', '-W', '5', ...extra, dst], { netns, allowFailure: true, timeoutMs: 15_000 });
const drops169 = () => A.dp!.dropCounters().find((c) => c.reason === DROP_REASON.FIB_LOOKUP_FAILED && c.direction === DIRECTION.egress)?.packets ?? 0n;

describe('cross-node forwarding in native routing mode', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'cnilab-native-'));
    await topo.up();
  });
  afterAll(async () => {
    await topo.down();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('pod a pings pod b: routed twice (TTL 62), TO_NETWORK on a, TO_ENDPOINT on b with a\'s identity from the ipcache', async () => {
    A.events.length = B.events.length = 0;
    const r = await run(['ping', '-c', '3', '-i', '0.2', '-W', '2', B.podIp], { netns: A.podNs, allowFailure: true, timeoutMs: 15_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('ttl=62'); // each node decremented it, as a kernel router would
    await settle(() => A.events.length >= 4 && B.events.length >= 4);
    // Each node reports where a packet enters its datapath and where it leaves it, once per direction.
    expect(A.events.filter((e) => e.protocol === 1)).toMatchObject([
      { observationPoint: OBS_POINT.FROM_ENDPOINT, direction: DIRECTION.egress, srcIdentity: A.identity, isReply: false },
      { observationPoint: OBS_POINT.TO_NETWORK, direction: DIRECTION.egress, ifindex: A.ifindex.eth0, srcIdentity: A.identity, dstIdentity: B.identity, isReply: false },
      { observationPoint: OBS_POINT.FROM_NETWORK, direction: DIRECTION.egress, srcIdentity: B.identity, isReply: true },
      { observationPoint: OBS_POINT.TO_ENDPOINT, direction: DIRECTION.egress, srcIdentity: B.identity, dstIdentity: A.identity, isReply: true },
    ]);
    expect(B.events.filter((e) => e.protocol === 1)).toMatchObject([
      { observationPoint: OBS_POINT.FROM_NETWORK, direction: DIRECTION.ingress, srcIdentity: A.identity, isReply: false },
      { observationPoint: OBS_POINT.TO_ENDPOINT, direction: DIRECTION.ingress, srcIdentity: A.identity, dstIdentity: B.identity, srcIp: A.podIp, isReply: false },
      { observationPoint: OBS_POINT.FROM_ENDPOINT, direction: DIRECTION.ingress, srcIdentity: B.identity, isReply: true },
      { observationPoint: OBS_POINT.TO_NETWORK, srcIdentity: B.identity, dstIdentity: A.identity, isReply: true },
    ]);
    expect(A.dp!.dropCounters()).toEqual([]);
    expect(B.dp!.dropCounters()).toEqual([]);
  });

  it('TCP across nodes: a 20 MB transfer with full-size (1500 MTU) segments', async () => {
    const size = 20_000_000;
    const server = start([process.execPath, '-e',
      `require('net').createServer((s) => s.end(Buffer.alloc(${size}, 120))).listen(8080, () => console.log('up'))`], { netns: B.podNs });
    try {
      await settle(() => server.output().stdout.includes('up'));
      const c = await run([process.execPath, '-e',
        `const s = require('net').connect(8080, '${B.podIp}'); let n = 0; s.on('data', (d) => (n += d.length)); s.on('end', () => console.log(n)); setTimeout(() => process.exit(3), 20000).unref();`],
        { netns: A.podNs, timeoutMs: 30_000 });
      expect(c.stdout.trim()).toBe(String(size));
    } finally {
      await server.stop();
    }
  });

  it('the underlay carries bare pod IPs, no VXLAN (capture on the fabric bridge port)', async () => {
    for (const n of topo.nodes) {
      const links = JSON.parse((await run(['ip', '-d', '-j', 'link', 'show'], { netns: n.nodeNs })).stdout) as Array<{ linkinfo?: { info_kind?: string } }>;
      expect(links.filter((l) => l.linkinfo?.info_kind === 'vxlan')).toEqual([]);
    }
    const pcap = join(tmp, 'a.pcap');
    // Immediate mode: otherwise packets sit in the capture ring's block until a timeout and a stop loses them.
    const dump = start(['tcpdump', '-i', A.fabricPort, '--immediate-mode', '-nn', '-U', '-c', '4', '-w', pcap, 'ip'], { netns: topo.fabricNs });
    try {
      await settle(() => dump.output().stderr.includes('listening on'));
      expect((await run(['ping', '-c', '2', '-i', '0.2', B.podIp], { netns: A.podNs, timeoutMs: 10_000 })).code).toBe(0);
      await Promise.race([dump.exited, new Promise((r) => setTimeout(r, 3000))]);
    } finally {
      await dump.stop();
    }
    const lines = (await run(['tcpdump', '-nn', '-r', pcap])).stdout.split('\n').filter(Boolean);
    expect(lines.filter((l) => l.includes(`${A.podIp} > ${B.podIp}: ICMP echo request`))).toHaveLength(2);
    expect(lines.filter((l) => l.includes(`${B.podIp} > ${A.podIp}: ICMP echo reply`))).toHaveLength(2);
    expect(lines.filter((l) => /\.8472[: ]|UDP|VXLAN/i.test(l))).toEqual([]);
  });

  it('node a\'s host reaches pod b by the kernel\'s route; b sees the remote-node identity', async () => {
    B.events.length = 0;
    const r = await run(['ping', '-c', '2', '-i', '0.2', '-W', '2', B.podIp], { netns: A.nodeNs, allowFailure: true, timeoutMs: 15_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await settle(() => B.events.some((e) => e.protocol === 1));
    expect(B.events.filter((e) => e.protocol === 1 && e.observationPoint === OBS_POINT.TO_ENDPOINT)[0]).toMatchObject({
      observationPoint: OBS_POINT.TO_ENDPOINT, srcIp: A.nodeIp, srcIdentity: REMOTE_NODE_IDENTITY, dstIdentity: B.identity,
    });
  });

  it('route to node b withdrawn: pod a\'s probes fail at once (net unreachable, drop 169); restored: works again', async () => {
    await run(['ip', 'route', 'del', B.podCidr], { netns: A.nodeNs });
    try {
      const before = drops169();
      const t0 = Date.now();
      const r = await ping(A.podNs, B.podIp);
      expect(r.code).not.toBe(0);
      expect(r.stdout).toMatch(/Net Unreachable/i);
      expect(Date.now() - t0).toBeLessThan(4_000); // not the 5 s reply timeout (-W 5); a margin for a busy machine
      // TCP: connect() fails with ENETUNREACH right away instead of retrying SYNs for minutes.
      // Timed inside the client (connect() to the error), so a slow start of node on a busy machine does not count.
      const c = await run([process.execPath, '-e',
        `const t = Date.now(); require('net').connect(8080, '${B.podIp}').on('error', (e) => { console.log(e.code, Date.now() - t); process.exit(0); }).on('connect', () => process.exit(4)); setTimeout(() => process.exit(3), 10000).unref();`],
        { netns: A.podNs, allowFailure: true, timeoutMs: 15_000 });
      const [code, ms] = c.stdout.trim().split(' ');
      expect(code).toBe('ENETUNREACH');
      expect(Number(ms)).toBeLessThan(2_000);
      expect(drops169()).toBe(before + 2n);
    } finally {
      await run(['ip', 'route', 'add', B.podCidr, 'via', B.nodeIp, 'dev', 'eth0'], { netns: A.nodeNs });
    }
    const r = await ping(A.podNs, B.podIp);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });
});
