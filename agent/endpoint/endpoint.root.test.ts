// The agent for real, as root: its own node netns and control plane, the real datapath, the CNI plugin
// executed through the runtime's conflist (chained with the reference tuning and portmap plugins).
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../lib/exec/run.js';
import { REPO_ROOT } from '../../lib/paths.js';
import { cniAdd, cniCheck, cniDel, cniGc, cniStatus, CniPluginError, type CniConfList, type CniResult } from '../../lib/cni/runtime.js';
import type { KubeObject } from '../../lib/k8s/object.js';
import { AgentTestEnv } from '../testing/agent-env.js';
import { hostIfnameFor } from './state.js';
import { identityObject } from '../identity/crd-allocator.js';

const env = new AgentTestEnv();
const CNI_PATH = [join(REPO_ROOT, 'bin/cni'), '/usr/lib/cni'];
const node = env.spec.nodes[0]!;
const router = node.podGateway;

const conf = (extra: Array<Record<string, unknown> & { type: string }> = []): CniConfList => ({
  cniVersion: '1.0.0',
  name: 'cnilab-agtest',
  plugins: [{ type: 'cnilab', agentSocket: env.agentSocket, mtu: env.spec.podMtu }, ...extra],
});
const chained = conf([
  { type: 'tuning', sysctl: { 'net.ipv4.conf.eth0.arp_notify': '1' } },
  { type: 'portmap', capabilities: { portMappings: true } },
]);
const inv = (containerId: string, netns: string, pod: string, namespace = 'x') => ({
  containerId,
  netns,
  ifname: 'eth0',
  cniPath: CNI_PATH,
  args: { IgnoreUnknown: 'true', K8S_POD_NAMESPACE: namespace, K8S_POD_NAME: pod },
  runInNetns: env.nodeNetns,
});
const inNode = (argv: string[]) => run(argv, { netns: env.nodeNetns });
const lxcDevices = async () =>
  (JSON.parse((await inNode(['ip', '-j', 'link', 'show'])).stdout) as Array<{ ifname: string }>).map((l) => l.ifname).filter((n) => n.startsWith('lxc'));
// Pod a's security labels: its namespace's labels too (the API sets kubernetes.io/metadata.name), as Cilium.
const NS_X_LABELS = ['k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=x', 'k8s:io.kubernetes.pod.namespace=x', 'k8s:pod=a'];
const ipOf = (r: CniResult) => r.ips![0]!.address.split('/')[0]!;

let podA: string;
let resultA: CniResult;

beforeAll(async () => {
  // The agent runs from dist/: make sure it is current (incremental, quick when nothing changed).
  await run(['npx', 'tsc', '-p', 'tsconfig.json'], { cwd: REPO_ROOT, allowFailure: true, timeoutMs: 110_000 });
  await env.setUp();
  await env.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'a', namespace: 'x', labels: { pod: 'a' } }, spec: { containers: [{ name: 'c', image: 'agnhost' }] } } as KubeObject);
  // Another label set's identity at 300: fresh numbers start above it, leaving free ones below (see
  // the identity-convergence case).
  await env.create(identityObject(300, ['k8s:cnilab-test=placeholder']));
  await env.startAgent();
});

afterAll(async () => {
  await env.tearDown();
});

describe('agent start-up', () => {
  it('sets up cilium_host, cilium_net, cilium_vxlan and the route to the other node', async () => {
    const addrs = JSON.parse((await inNode(['ip', '-j', 'addr', 'show', 'dev', 'cilium_host'])).stdout);
    expect(addrs[0].addr_info.map((a: { local: string; prefixlen: number }) => `${a.local}/${a.prefixlen}`)).toContain(`${router}/32`);
    expect(addrs[0].flags).toEqual(expect.arrayContaining(['UP', 'NOARP']));
    const vx = JSON.parse((await inNode(['ip', '-j', '-d', 'link', 'show', 'dev', 'cilium_vxlan'])).stdout)[0];
    expect(vx.linkinfo.info_data).toMatchObject({ external: true, port: 8472 });
    expect(vx.mtu).toBe(env.spec.mtu);
    const routes = JSON.parse((await inNode(['ip', '-j', 'route', 'show', env.spec.nodes[1]!.podCidr])).stdout);
    expect(routes[0]).toMatchObject({ gateway: router, dev: 'cilium_host', prefsrc: router });
    expect(routes[0].metrics).toContainEqual({ mtu: env.spec.podMtu });
    expect(await env.client.healthz()).toMatchObject({ ok: true, node: 'node1', endpoints: 0 });
    const ipcache = await env.client.ipcache();
    expect(ipcache).toContainEqual({ key: env.spec.nodes[1]!.podCidr, identity: 6, tunnelEndpoint: env.spec.nodes[1]!.underlayIp });
  });
});

describe('CNI ADD through a chain (cnilab → tuning → portmap)', () => {
  it('gives the pod its IP, gateway route and MTU', async () => {
    podA = await env.addPodNetns('pod-a');
    resultA = await cniAdd(chained, inv('ctr-a', podA, 'a'));
    expect(resultA.ips![0]).toMatchObject({ address: expect.stringMatching(new RegExp(`^${node.podCidr.replace(/\.0\/24$/, '').replace(/\./g, '\\.')}\\.\\d+/32$`)), gateway: router });
    expect(resultA.interfaces![1]).toMatchObject({ name: 'eth0', sandbox: podA });
    const eth0 = JSON.parse((await run(['ip', '-j', 'addr', 'show', 'dev', 'eth0'], { netns: podA })).stdout)[0];
    expect(eth0.mtu).toBe(env.spec.podMtu);
    expect(eth0.addr_info.some((a: { local: string }) => a.local === ipOf(resultA))).toBe(true);
    const def = JSON.parse((await run(['ip', '-j', 'route', 'show', 'default'], { netns: podA })).stdout)[0];
    expect(def).toMatchObject({ gateway: router, dev: 'eth0' });
    expect(def.metrics).toContainEqual({ mtu: env.spec.podMtu });
    // The tuning plugin read our prevResult and applied its sysctl inside the pod.
    const notify = await run(['cat', '/proc/sys/net/ipv4/conf/eth0/arp_notify'], { netns: podA });
    expect(notify.stdout.trim()).toBe('1');
  });

  it('lets the pod ping its router, with the gateway learnt by ARP (no static neighbour)', async () => {
    await run(['ping', '-c', '2', '-i', '0.2', '-W', '2', router], { netns: podA, timeoutMs: 10_000 });
    const neigh = JSON.parse((await run(['ip', '-j', 'neigh', 'show', 'dev', 'eth0'], { netns: podA })).stdout) as Array<{ dst: string; lladdr: string; state: string[] }>;
    const gw = neigh.find((n) => n.dst === router);
    expect(gw?.lladdr).toBe(resultA.interfaces![0]!.mac);
    expect(gw?.state).not.toContain('PERMANENT');
  });

  it('fills the datapath maps, the ipcache and publishes a CiliumEndpoint', async () => {
    const [ep] = await env.client.endpoints();
    expect(ep).toMatchObject({ containerId: 'ctr-a', ip: ipOf(resultA), hostIfname: hostIfnameFor('ctr-a', 'eth0'), podNamespace: 'x', podName: 'a' });
    expect(ep!.labels).toEqual(NS_X_LABELS);
    expect(ep!.identity).toBeGreaterThanOrEqual(256);
    expect(await env.client.ipcache()).toContainEqual({ key: ipOf(resultA), identity: ep!.identity });
    const maps = await env.client.maps();
    expect(maps.maps.find((m) => m.name === 'cnilab_lxc_if')?.entries).toBe(1);
    const cep = (await env.get('CiliumEndpoint', 'x', 'a')) as KubeObject & { status: any };
    expect(cep.status).toMatchObject({ identity: { id: ep!.identity }, networking: { addressing: [{ ipv4: ipOf(resultA) }], node: node.underlayIp }, nodeName: 'node1' });
  });

  it('moves the endpoint to a lower number that appears for its labels (two agents that raced converge)', async () => {
    const [ep] = await env.client.endpoints();
    expect(ep!.identity).toBeGreaterThan(300);
    // What another agent that had not seen the endpoint's identity yet would have created.
    await env.create(identityObject(299, ep!.labels));
    const deadline = Date.now() + 10_000;
    while ((await env.client.endpoints())[0]?.identity !== 299 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect((await env.client.endpoints())[0]).toMatchObject({ containerId: 'ctr-a', identity: 299, labels: NS_X_LABELS });
    expect(await env.client.ipcache()).toContainEqual({ key: ipOf(resultA), identity: 299 });
    const cep = (await env.get('CiliumEndpoint', 'x', 'a')) as KubeObject & { status: any };
    expect(cep.status.identity.id).toBe(299);
    expect(env.agentLog).toMatch(/a lower identity holds its labels, identity \d+ → 299/);
  });

  it('passes CHECK through the chain', async () => {
    await cniCheck(chained, inv('ctr-a', podA, 'a'), resultA);
  });

  it('decodes the datapath\'s events of the pod\'s traffic into flows', async () => {
    await run(['ping', '-c', '1', '-W', '2', router], { netns: podA });
    const deadline = Date.now() + 5000;
    let flows = await env.client.flows(100);
    const isPing = (f: (typeof flows.flows)[number]) => f.IP.source === ipOf(resultA) && f.l4?.ICMPv4?.type === 8;
    while (!flows.flows.some(isPing) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      flows = await env.client.flows(100);
    }
    expect(flows.capacity).toBe(4096);
    const ping = flows.flows.find(isPing);
    expect(ping, JSON.stringify(flows.flows.slice(-5), null, 1)).toBeDefined();
    expect(ping).toMatchObject({ verdict: 'FORWARDED', node_name: 'node1', source: { namespace: 'x', pod_name: 'a', labels: NS_X_LABELS } });
  });
});

describe('CNI 1.1', () => {
  const conf11: CniConfList = { cniVersion: '1.1.0', name: 'cnilab-agtest', plugins: [{ type: 'cnilab', agentSocket: env.agentSocket, mtu: env.spec.podMtu }] };
  const invIf = (containerId: string, netns: string, pod: string, ifname: string) => ({ ...inv(containerId, netns, pod, 'default'), ifname });
  const inPod = (ns: string, argv: string[]) => run(argv, { netns: ns, allowFailure: true });
  let podM: string;
  let eth0: CniResult;

  it('STATUS answers ready from the agent', async () => {
    expect(await cniStatus(conf11, { cniPath: CNI_PATH, runInNetns: env.nodeNetns })).toBe('ready');
  });

  it('keys attachments by (container ID, ifname): two interfaces of one container, DEL of one leaves the other', async () => {
    podM = await env.addPodNetns('pod-m');
    eth0 = await cniAdd(conf11, invIf('ctr-m', podM, 'm', 'eth0'));
    expect(eth0.cniVersion).toBe('1.1.0');
    await cniCheck(conf11, invIf('ctr-m', podM, 'm', 'eth0'), eth0);
    const net1 = await cniAdd(conf11, invIf('ctr-m', podM, 'm', 'net1'));
    expect(ipOf(net1)).not.toBe(ipOf(eth0));
    const mine = (await env.client.endpoints()).filter((e) => e.containerId === 'ctr-m');
    expect(mine.map((e) => [e.podIfname, e.hostIfname]).sort()).toEqual([
      ['eth0', hostIfnameFor('ctr-m', 'eth0')],
      ['net1', hostIfnameFor('ctr-m', 'net1')],
    ]);
    expect(await env.get('CiliumEndpoint', 'default', 'm')).toBeDefined();
    expect(await env.get('CiliumEndpoint', 'default', 'm.net1')).toBeDefined();
    await cniDel(conf11, invIf('ctr-m', podM, 'm', 'net1'));
    const left = (await env.client.endpoints()).filter((e) => e.containerId === 'ctr-m');
    expect(left.map((e) => e.podIfname)).toEqual(['eth0']);
    expect(await lxcDevices()).toContain(hostIfnameFor('ctr-m', 'eth0'));
    expect(await lxcDevices()).not.toContain(hostIfnameFor('ctr-m', 'net1'));
    expect(Object.keys(JSON.parse(readFileSync(join(env.nodeDir, 'ipam.json'), 'utf8')).allocations)).not.toContain(ipOf(net1));
    expect(await env.get('CiliumEndpoint', 'default', 'm.net1')).toBeUndefined();
    expect((await inPod(podM, ['ip', 'link', 'show', 'net1'])).code).not.toBe(0);
  });

  it('CHECK compares the kernel with prevResult: a removed address or a wrong prevResult fails', async () => {
    // Both attachments route through the same gateway, so net1 took the gateway and default routes
    // with it when it went: CHECK says so, until eth0's are back.
    await expect(cniCheck(conf11, invIf('ctr-m', podM, 'm', 'eth0'), eth0)).rejects.toThrow(/no route 0\.0\.0\.0\/0 via/);
    await run(['ip', 'route', 'replace', router, 'dev', 'eth0', 'scope', 'link'], { netns: podM });
    await run(['ip', 'route', 'replace', 'default', 'via', router, 'dev', 'eth0'], { netns: podM });
    await cniCheck(conf11, invIf('ctr-m', podM, 'm', 'eth0'), eth0);
    const wrong = structuredClone(eth0);
    wrong.ips![0]!.address = '198.19.0.250/32';
    await expect(cniCheck(conf11, invIf('ctr-m', podM, 'm', 'eth0'), wrong)).rejects.toThrow(/does not give eth0 the address/);
    await run(['ip', 'addr', 'del', `${ipOf(eth0)}/32`, 'dev', 'eth0'], { netns: podM });
    await expect(cniCheck(conf11, invIf('ctr-m', podM, 'm', 'eth0'), eth0)).rejects.toThrow(new RegExp(`eth0 in \\S+ does not have ${ipOf(eth0).replace(/\./g, '\\.')}`));
  });

  it('GC removes every attachment missing from cni.dev/valid-attachments, and only those', async () => {
    const podG = await env.addPodNetns('pod-g');
    const g = await cniAdd(conf11, invIf('ctr-g', podG, 'g', 'eth0'));
    await cniGc(conf11, { cniPath: CNI_PATH, runInNetns: env.nodeNetns }, [
      { containerID: 'ctr-a', ifname: 'eth0' },
      { containerID: 'ctr-m', ifname: 'eth0' },
    ]);
    const eps = await env.client.endpoints();
    expect(eps.map((e) => `${e.containerId}/${e.podIfname}`).sort()).toEqual(['ctr-a/eth0', 'ctr-m/eth0']);
    expect(await lxcDevices()).not.toContain(hostIfnameFor('ctr-g', 'eth0'));
    expect(Object.keys(JSON.parse(readFileSync(join(env.nodeDir, 'ipam.json'), 'utf8')).allocations)).not.toContain(ipOf(g));
    expect((await env.client.ipcache()).some((e) => e.key === ipOf(g))).toBe(false);
    expect(await env.get('CiliumEndpoint', 'default', 'g')).toBeUndefined();
    // The survivor still forwards.
    await run(['ping', '-c', '1', '-W', '2', router], { netns: podA });
    await cniDel(conf11, invIf('ctr-m', podM, 'm', 'eth0'));
  });

  it('chained after ptp: adopts its veth pair, passes its result on, and DEL leaves the pair to ptp', async () => {
    const podP = await env.addPodNetns('pod-p');
    const chain: CniConfList = {
      cniVersion: '1.0.0',
      name: 'cnilab-agtest-chain',
      plugins: [
        { type: 'ptp', ipMasq: false, mtu: env.spec.podMtu, ipam: { type: 'host-local', ranges: [[{ subnet: node.podCidr, rangeStart: node.podCidr.replace(/\.0\/24$/, '.200'), rangeEnd: node.podCidr.replace(/\.0\/24$/, '.210') }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: join(env.runDir, 'host-local') } },
        { type: 'cnilab', agentSocket: env.agentSocket, mtu: env.spec.podMtu },
      ],
    };
    const r = await cniAdd(chain, inv('ctr-p', podP, 'p', 'default'));
    // ptp's interfaces only: cnilab made none of its own.
    expect(r.interfaces!.map((i) => i.name)).toEqual([expect.stringMatching(/^veth/), 'eth0']);
    const hostVeth = r.interfaces![0]!.name;
    const ep = (await env.client.endpoints()).find((e) => e.containerId === 'ctr-p');
    expect(ep).toMatchObject({ adopted: true, hostIfname: hostVeth, ip: ipOf(r), podIfname: 'eth0' });
    expect((await env.client.ipcache()).find((e) => e.key === ipOf(r))?.identity).toBe(ep!.identity);
    const filters = (await inNode(['tc', 'filter', 'show', 'dev', hostVeth, 'ingress'])).stdout;
    expect(filters).toMatch(/bpf/);
    await cniCheck(chain, inv('ctr-p', podP, 'p', 'default'), r);
    // The adopted pod is on cnilab's datapath: it reaches the cnilab pod a on this node and back.
    const ping = await run(['ping', '-c', '1', '-W', '2', ipOf(resultA)], { netns: podP, allowFailure: true });
    expect(ping.code, ping.stdout + ping.stderr).toBe(0);
    expect((await run(['ping', '-c', '1', '-W', '2', ipOf(r)], { netns: podA, allowFailure: true })).code).toBe(0);
    await cniDel(chain, inv('ctr-p', podP, 'p', 'default'), r);
    expect((await env.client.endpoints()).some((e) => e.containerId === 'ctr-p')).toBe(false);
    expect((await env.client.ipcache()).some((e) => e.key === ipOf(r))).toBe(false);
    expect((await run(['ip', 'link', 'show', hostVeth], { netns: env.nodeNetns, allowFailure: true })).code).not.toBe(0); // ptp's DEL removed it
  });
});

describe('failed ADDs leave nothing behind', () => {
  const snapshot = async () => ({
    lxc: await lxcDevices(),
    endpoints: (await env.client.endpoints()).length,
    ipam: JSON.parse(readFileSync(join(env.nodeDir, 'ipam.json'), 'utf8')).allocations,
    states: readdirSync(join(env.nodeDir, 'endpoints')).sort(),
    ceps: (await env.list('CiliumEndpoint')).length,
    ipcache: (await env.client.ipcache()).length,
  });

  it('rolls back when the control plane rejects the CiliumEndpoint (last step)', async () => {
    const before = await snapshot();
    const ns = await env.addPodNetns('pod-bad1');
    await expect(cniAdd(conf(), inv('ctr-bad1', ns, 'bad', 'no-such-namespace'))).rejects.toThrow(CniPluginError);
    expect(await snapshot()).toEqual(before);
  });

  it('rolls back when the pod netns is not a network namespace', async () => {
    const before = await snapshot();
    const notNetns = join(env.runDir, 'vanished-netns');
    writeFileSync(notNetns, '');
    await expect(cniAdd(conf(), inv('ctr-bad2', notNetns, 'bad2'))).rejects.toThrow(/cnilab/);
    expect(await snapshot()).toEqual(before);
  });

  it('answers 4 for a netns path that no longer exists', async () => {
    const err = await cniAdd(conf(), inv('ctr-bad3', '/run/netns/cnilab-agtest-gone', 'bad3')).catch((e) => e);
    expect(err).toBeInstanceOf(CniPluginError);
    expect((err as CniPluginError).cniCode).toBe(4);
  });
});

describe('ADD latency', () => {
  it('measures ADD (single plugin) to first packet', async () => {
    const total: number[] = [];
    const add: number[] = [];
    for (let i = 0; i < 7; i++) {
      const ns = await env.addPodNetns(`pod-t${i}`);
      const t0 = performance.now();
      await cniAdd(conf(), inv(`ctr-t${i}`, ns, `t${i}`, 'default'));
      add.push(performance.now() - t0);
      await run(['ping', '-c', '1', '-W', '1', router], { netns: ns });
      total.push(performance.now() - t0);
      await cniDel(conf(), inv(`ctr-t${i}`, ns, `t${i}`, 'default'));
    }
    const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!.toFixed(0);
    const agentSide = env.agentLog.split('\n').filter((l) => /default\/t\d .*ms: /.test(l)).map((l) => l.slice(l.indexOf('ms: ') + 4));
    console.log(`CNI ADD (plugin process + agent), ms: ${add.map((t) => t.toFixed(0)).join(' ')} (p50 ${p50(add)})`);
    console.log(`ADD + first ping answered, ms: ${total.map((t) => t.toFixed(0)).join(' ')} (p50 ${p50(total)})`);
    console.log(`agent side:\n  ${agentSide.join('\n  ')}`);
    expect(add.length).toBe(7);
  });
});

describe('agent restart', () => {
  it('after kill -9 restores the endpoint and never hands its IP out again', async () => {
    const [before] = await env.client.endpoints();
    await env.killAgent();
    expect(existsSync(env.agentSocket)).toBe(true); // a killed agent cannot clean up; the next one will
    // The datapath keeps forwarding while no agent runs.
    await run(['ping', '-c', '1', '-W', '2', router], { netns: podA });
    await env.startAgent();
    const after = await env.client.endpoints();
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ containerId: 'ctr-a', ip: before!.ip, ifindex: before!.ifindex, identity: before!.identity });
    expect((await env.client.healthz()).ok).toBe(true);
    await run(['ping', '-c', '1', '-W', '2', router], { netns: podA });

    const podB = await env.addPodNetns('pod-b');
    const resultB = await cniAdd(conf(), inv('ctr-b', podB, 'b', 'default'));
    expect(ipOf(resultB)).not.toBe(before!.ip);
    await cniDel(conf(), inv('ctr-b', podB, 'b', 'default'));
  });
});

describe('CNI DEL', () => {
  it('removes the veth, map entries, IP, state and CiliumEndpoint, and is idempotent', async () => {
    await cniDel(chained, inv('ctr-a', podA, 'a'), resultA);
    expect(await lxcDevices()).toEqual([]);
    expect(await env.client.endpoints()).toEqual([]);
    expect((await env.client.ipcache()).some((e) => e.key === ipOf(resultA))).toBe(false);
    expect((await env.client.maps()).maps.find((m) => m.name === 'cnilab_lxc_if')?.entries).toBe(0);
    expect(JSON.parse(readFileSync(join(env.nodeDir, 'ipam.json'), 'utf8')).allocations).toEqual({});
    expect(await env.get('CiliumEndpoint', 'x', 'a')).toBeUndefined();
    await cniDel(chained, inv('ctr-a', podA, 'a'), resultA);
    await cniDel(conf(), inv('never-added', '', 'zzz'));
  });

  it('SIGTERM: exits 0, removes the socket, keeps the pins', async () => {
    process.kill(-env.agent!.child.pid!, 'SIGTERM');
    const { code } = await env.agent!.exited;
    expect(code).toBe(0);
    expect(existsSync(env.agentSocket)).toBe(false);
    expect(readdirSync(env.pinDir)).toContain('cnilab_lxc_if');
  });
});
