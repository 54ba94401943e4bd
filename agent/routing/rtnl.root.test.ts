// rtnl.ts for real, as root: the calls run in a child Node process inside a fresh "node" netns (as the
// agent runs in its node's), against fresh pod netns; everything is compared with what the `ip`
// commands the agent used before made, and the failures are checked for their words and for what
// they leave behind (nothing undone, as documented: the caller's rollback deletes the host side).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../lib/exec/run.js';
import { REPO_ROOT } from '../../lib/paths.js';

const id = randomBytes(3).toString('hex');
const nodeNs = `cnilab-rtnltest-${id}-node`;
const podNs = (n: string) => `cnilab-rtnltest-${id}-${n}`;
const made: string[] = [];
const tmp = mkdtempSync(join(tmpdir(), 'cnilab-rtnltest-'));
const GW = '198.19.1.1';
const MTU = 1450;

interface OpResult {
  ok: boolean;
  value?: number | boolean;
  errno?: number;
  errnoName?: string;
  name?: string;
  message?: string;
}
interface ChildOut {
  results: OpResult[];
  /** The netns inode of every thread of the child after the calls, and the process's own. */
  threadNetns: string[];
  selfNetns: string;
}

// The child: runs the ops (all at once when `parallel`), then reports every thread's netns.
const CHILD = `
import { readdirSync, readlinkSync } from 'node:fs';
const rtnl = await import(process.argv[1]);
const { ops, parallel } = JSON.parse(process.argv[2]);
const one = async (op) => {
  try {
    const value = op.op === 'add' ? await rtnl.addPodLink(op.spec) : await rtnl.deleteLink(op.name);
    return { ok: true, value };
  } catch (e) {
    return { ok: false, name: e.name, errno: e.errno, errnoName: e.errnoName, message: e.message };
  }
};
const results = [];
if (parallel) results.push(...(await Promise.all(ops.map(one))));
else for (const op of ops) results.push(await one(op));
const threadNetns = readdirSync('/proc/self/task').map((t) => readlinkSync('/proc/self/task/' + t + '/ns/net'));
process.stdout.write(JSON.stringify({ results, threadNetns, selfNetns: readlinkSync('/proc/self/ns/net') }));
`;

async function inNode(ops: Array<Record<string, unknown>>, parallel = false): Promise<ChildOut> {
  const res = await run([process.execPath, '--input-type=module', '-e', CHILD, join(REPO_ROOT, 'dist/agent/routing/rtnl.js'), JSON.stringify({ ops, parallel })], {
    netns: nodeNs,
    timeoutMs: 60_000,
  });
  return JSON.parse(res.stdout) as ChildOut;
}

async function addNetns(name: string): Promise<string> {
  await run(['ip', 'netns', 'add', name]);
  made.push(name);
  return `/run/netns/${name}`;
}

const spec = (n: number, netns: string, over: Record<string, unknown> = {}) => ({
  hostIfname: `lxcrtnl${n.toString().padStart(4, '0')}`,
  podIfname: 'eth0',
  netns,
  hostMac: `02:00:00:00:01:${n.toString(16).padStart(2, '0')}`,
  podMac: `02:00:00:00:02:${n.toString(16).padStart(2, '0')}`,
  mtu: MTU,
  podIp: `198.19.1.${10 + n}`,
  gateway: GW,
  routes: ['0.0.0.0/0'],
  ...over,
});

const ipJ = async (args: string[], netns?: string) => JSON.parse((await run(['ip', '-j', ...args], { netns })).stdout || '[]') as Array<Record<string, any>>;

beforeAll(async () => {
  await run(['npx', 'tsc', '-p', 'tsconfig.json'], { cwd: REPO_ROOT, allowFailure: true, timeoutMs: 110_000 });
  await addNetns(nodeNs);
}, 120_000);

afterAll(async () => {
  for (const ns of made.reverse()) await run(['ip', 'netns', 'del', ns], { allowFailure: true });
  rmSync(tmp, { recursive: true, force: true });
});

describe('addPodLink', () => {
  it('makes what `ip` made: the pair, MTUs, MACs, no link-local, the host /32 and the pod routes', async () => {
    const viaRtnl = await addNetns(podNs('a'));
    const viaIp = await addNetns(podNs('b'));
    const s = spec(1, viaRtnl, { routes: ['198.19.0.0/16', '10.96.0.0/12'] });
    const out = await inNode([{ op: 'add', spec: s }]);
    expect(out.results[0]).toMatchObject({ ok: true });
    const ifindex = out.results[0]!.value as number;

    // The same pod set up with the commands the agent ran before (host and pod side).
    const r = spec(2, viaIp, { routes: ['198.19.0.0/16', '10.96.0.0/12'] });
    await run(['ip', '-batch', '-'], {
      netns: nodeNs,
      input: [
        `link add ${r.hostIfname} mtu ${MTU} address ${r.hostMac} type veth peer name eth0 mtu ${MTU} address ${r.podMac} netns ${viaIp}`,
        `link set dev ${r.hostIfname} addrgenmode none`,
        `link set dev ${r.hostIfname} up`,
        `route replace ${r.podIp}/32 dev ${r.hostIfname}`,
      ].join('\n') + '\n',
    });
    await run(['ip', '-batch', '-'], {
      netns: viaIp,
      input: [
        'link set dev eth0 addrgenmode none',
        `addr add ${r.podIp}/32 dev eth0`,
        'link set dev eth0 up',
        'link set dev lo up',
        `route replace ${GW} dev eth0 scope link`,
        `route replace 198.19.0.0/16 via ${GW} dev eth0 mtu ${MTU}`,
        `route replace 10.96.0.0/12 via ${GW} dev eth0 mtu ${MTU}`,
      ].join('\n') + '\n',
    });

    // Host side.
    const [hostA] = await ipJ(['-d', 'link', 'show', 'dev', s.hostIfname], nodeNs);
    const [hostB] = await ipJ(['-d', 'link', 'show', 'dev', r.hostIfname], nodeNs);
    expect(hostA!.ifindex).toBe(ifindex);
    expect(hostA!.address).toBe(s.hostMac);
    expect(hostA!.linkinfo.info_kind).toBe('veth');
    const hostShape = (l: Record<string, any>) => ({ mtu: l.mtu, flags: l.flags, kind: l.linkinfo.info_kind, genmode: l.inet6_addr_gen_mode, netnsid: typeof l.link_netnsid });
    expect(hostShape(hostA!)).toEqual(hostShape(hostB!));
    expect(hostShape(hostA!)).toMatchObject({ mtu: MTU, genmode: 'none' });
    const hostRoute = async (dev: string) => (await ipJ(['route', 'show', 'dev', dev], nodeNs)).map(({ dst: _dst, ...rest }) => rest);
    expect(await hostRoute(s.hostIfname)).toEqual(await hostRoute(r.hostIfname));
    expect(await ipJ(['route', 'show', 'dev', s.hostIfname], nodeNs)).toEqual([expect.objectContaining({ dst: s.podIp, scope: 'link' })]);
    expect((await ipJ(['-6', 'addr', 'show', 'dev', s.hostIfname], nodeNs)).flatMap((l) => l.addr_info ?? [])).toEqual([]);

    // Pod side: links, addresses and routes alike, but for the pod's own IP and MAC.
    const podView = async (netns: string, ip: string, mac: string) => {
      const links = await ipJ(['-d', 'link', 'show'], netns);
      const addrs = (await ipJ(['addr', 'show'], netns)).map((l) => ({
        ifname: l.ifname, mtu: l.mtu, flags: l.flags, address: l.address === mac ? 'POD' : l.address,
        genmode: links.find((k) => k.ifname === l.ifname)?.inet6_addr_gen_mode,
        addrs: (l.addr_info ?? []).map((a: Record<string, any>) => ({ ...a, local: a.local === ip ? 'IP' : a.local })),
      }));
      return { addrs, routes: await ipJ(['route', 'show'], netns), neigh: await ipJ(['neigh', 'show'], netns) };
    };
    // The carrier's operational state follows a moment later (linkwatch): compare once both settled.
    for (let i = 0; i < 40; i++) {
      const flags = [...(await ipJ(['link', 'show'], viaRtnl)), ...(await ipJ(['link', 'show'], viaIp))].flatMap((l) => l.flags as string[]);
      if (!flags.includes('NO-CARRIER')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const a = await podView(viaRtnl, s.podIp, s.podMac);
    expect(a).toEqual(await podView(viaIp, r.podIp, r.podMac));
    expect(a.addrs.find((l) => l.ifname === 'eth0')).toMatchObject({ mtu: MTU, address: 'POD', genmode: 'none', addrs: [expect.objectContaining({ family: 'inet', local: 'IP', prefixlen: 32 })] });
    expect(a.addrs.find((l) => l.ifname === 'lo')!.flags).toContain('UP');
    expect(a.routes).toHaveLength(3);
    expect(a.routes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ dst: '10.96.0.0/12', gateway: GW, dev: 'eth0', metrics: [{ mtu: MTU }] }),
        expect.objectContaining({ dst: GW, dev: 'eth0', scope: 'link' }),
        expect.objectContaining({ dst: '198.19.0.0/16', gateway: GW, dev: 'eth0', metrics: [{ mtu: MTU }] }),
      ]),
    );

    const del = await inNode([{ op: 'del', name: s.hostIfname }, { op: 'del', name: s.hostIfname }, { op: 'del', name: r.hostIfname }]);
    expect(del.results.map((x) => x.value)).toEqual([true, false, true]);
    expect((await ipJ(['link', 'show'], viaRtnl)).map((l) => l.ifname)).toEqual(['lo']);
  });

  it('a default route has no destination attribute, as ip makes it', async () => {
    const ns = await addNetns(podNs('default'));
    const s = spec(3, ns);
    expect((await inNode([{ op: 'add', spec: s }])).results[0]!.ok).toBe(true);
    expect(await ipJ(['route', 'show', 'default'], ns)).toEqual([expect.objectContaining({ dst: 'default', gateway: GW, dev: 'eth0', metrics: [{ mtu: MTU }] })]);
    await inNode([{ op: 'del', name: s.hostIfname }]);
  });

  it('names the step and the reason when the kernel refuses, and makes nothing then', async () => {
    const ns = await addNetns(podNs('err'));
    const notNetns = join(tmp, 'not-a-netns');
    writeFileSync(notNetns, '');
    const ok = spec(4, ns);
    const out = await inNode([
      { op: 'add', spec: ok },
      // The host side's name is taken.
      { op: 'add', spec: spec(5, ns, { hostIfname: ok.hostIfname, podIfname: 'eth1' }) },
      // The pod already has an eth0.
      { op: 'add', spec: spec(6, ns) },
      // Not a network namespace; no such file.
      { op: 'add', spec: spec(7, notNetns) },
      { op: 'add', spec: spec(8, '/run/netns/cnilab-rtnltest-no-such-netns') },
      { op: 'del', name: 'bad/name' },
    ]);
    const [first, taken, podTaken, notNs, missing, badName] = out.results;
    expect(first!.ok).toBe(true);
    expect(taken).toMatchObject({ ok: false, name: 'NetlinkError', errnoName: 'EEXIST' });
    expect(taken!.message).toMatch(new RegExp(`^rtnetlink: link add ${ok.hostIfname} type veth peer name eth1 netns ${ns}: File exists`));
    expect(podTaken).toMatchObject({ ok: false, errnoName: 'EEXIST' });
    expect(notNs).toMatchObject({ ok: false, errnoName: 'EINVAL' });
    expect(notNs!.message).toContain('link add');
    expect(missing).toMatchObject({ ok: false, errnoName: 'ENOENT' });
    expect(missing!.message).toContain('open netns /run/netns/cnilab-rtnltest-no-such-netns');
    expect(badName).toMatchObject({ ok: false, errnoName: 'EINVAL' });
    // The refused ADDs made nothing; the first one's pair is all there is.
    const hostLinks = async () => (await ipJ(['link', 'show'], nodeNs)).map((l) => l.ifname).filter((n: string) => n.startsWith('lxcrtnl')).sort();
    expect(await hostLinks()).toEqual([ok.hostIfname]);
    expect((await ipJ(['link', 'show'], ns)).map((l) => l.ifname).sort()).toEqual(['eth0', 'lo']);
    expect((await inNode([{ op: 'del', name: ok.hostIfname }])).results[0]!.value).toBe(true);
    expect(await hostLinks()).toEqual([]);
    expect((await ipJ(['link', 'show'], ns)).map((l) => l.ifname)).toEqual(['lo']);
  });

  it('an MTU under IPv6\'s 1280: the devices have no IPv6 to turn off, and the pod is made (ip failed here)', async () => {
    const ns = await addNetns(podNs('mtu1000'));
    const s = spec(10, ns, { mtu: 1000 });
    expect((await inNode([{ op: 'add', spec: s }])).results[0]).toMatchObject({ ok: true });
    expect((await ipJ(['link', 'show', 'dev', s.hostIfname], nodeNs))[0]!.mtu).toBe(1000);
    expect((await ipJ(['addr', 'show', 'dev', 'eth0'], ns))[0]).toMatchObject({ mtu: 1000, addr_info: [expect.objectContaining({ family: 'inet', local: s.podIp })] });
    expect(await ipJ(['route', 'show', 'default'], ns)).toEqual([expect.objectContaining({ gateway: GW, metrics: [{ mtu: 1000 }] })]);
    await inNode([{ op: 'del', name: s.hostIfname }]);
  });

  it('sixteen pods at once: all made, and no thread of the process is left in a pod netns', async () => {
    const specs = [];
    for (let i = 0; i < 16; i++) specs.push(spec(20 + i, await addNetns(podNs(`p${i}`))));
    const out = await inNode(specs.map((s) => ({ op: 'add', spec: s })), true);
    expect(out.results.every((x) => x.ok)).toBe(true);
    expect(new Set(out.results.map((x) => x.value)).size).toBe(16);
    expect(new Set(out.threadNetns)).toEqual(new Set([out.selfNetns]));
    for (const s of specs) expect((await ipJ(['addr', 'show', 'dev', 'eth0'], s.netns))[0]!.addr_info[0].local).toBe(s.podIp);
    const del = await inNode(specs.map((s) => ({ op: 'del', name: s.hostIfname })), true);
    expect(del.results.every((x) => x.value === true)).toBe(true);
  });
});
