// The path kubelet takes on a kind or K3s node, on a cnilab node: Debian's containerd (CRI plugin,
// runc) inside the node's netns calls cnilab's CNI plugin for sandboxes made through the CRI gRPC API.
// The sandboxes must get IPs from the node's pool and reach the cluster's pods (same node and across
// nodes, both ways); StopPodSandbox/RemovePodSandbox must DEL them and leave nothing of them.
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cnilab } from '../testing/cli.js';
import { run } from '../exec/run.js';
import { REPO_ROOT } from '../paths.js';
import { paths } from '../cluster/names.js';
import { cidrContains, parseCidr, parseIpv4 } from '../cluster/cidr.js';
import type { ClusterSpec } from '../cluster/spec.js';
import { AgentClient } from '../../agent/api/client.js';
import { sweep } from '../providers/netns/sweep.js';
import { cniConfigFor } from '../providers/netns/cni-config.js';
import { cgroupMembers, containerdPaths, mountsUnder, startContainerd, stopContainerd, type StartedContainerd } from './containerd.js';
import { sandboxNetnsPath } from './client.js';

const C = 'cri-t';
let spec: ClusterSpec;
let rt: StartedContainerd;
const agent = () => new AgentClient(C, 'node1');
const inside = (netns: string, argv: string[], timeoutMs = 10_000) => run(argv, { netns, allowFailure: true, timeoutMs });
const agnhost = `${REPO_ROOT}/bin/pod/agnhost`;

interface Pod {
  metadata: { name: string };
  spec: { nodeName: string };
  status: { podIP: string };
}
let pods: Pod[];

interface Sandbox {
  id: string;
  ip: string;
  netns: string;
}
const sandboxes: Sandbox[] = [];

function inPool(ip: string, cidr: string): boolean {
  return cidrContains(parseCidr(cidr)!, parseIpv4(ip)!);
}

async function lxcDevices(): Promise<string[]> {
  const out = await run(['ip', '-j', 'link', 'show'], { netns: `cnilab.${C}.node.node1` });
  return (JSON.parse(out.stdout) as Array<{ ifname: string }>).map((l) => l.ifname).filter((n) => n.startsWith('lxc'));
}

beforeAll(async () => {
  await run(['npx', 'tsc', '-p', 'tsconfig.json'], { cwd: REPO_ROOT, allowFailure: true, timeoutMs: 110_000 });
  await sweep(C);
  const up = await cnilab(['up', '--name', C, '--nodes', '2', '-q']);
  expect(up.code, up.stderr).toBe(0);
  spec = JSON.parse(readFileSync(paths.state(C), 'utf8')) as ClusterSpec;
  // Two cluster pods made by cnilab's own runtime, one per node, serving TCP 8080.
  const manifest = ['node1', 'node2']
    .map((n, i) => `apiVersion: v1\nkind: Pod\nmetadata: {name: web${i + 1}, namespace: default, labels: {app: web}}\nspec:\n  nodeName: ${n}\n  containers: [{name: c, image: registry.k8s.io/e2e-test-images/agnhost:2.45, args: [netexec, --http-port=8080]}]\n`)
    .join('---\n');
  const applied = await cnilab(['apply', '-f', '-', '--wait', '--timeout', '60s', '--name', C], { input: manifest });
  expect(applied.code, applied.stderr).toBe(0);
  pods = JSON.parse((await cnilab(['get', 'pods', '-o', 'json', '--name', C])).stdout).items;
  rt = await startContainerd(spec, spec.nodes[0]!, cniConfigFor(spec, spec.nodes[0]!));
}, 180_000);

afterAll(async () => {
  rt?.client.close();
  await cnilab(['down', '--name', C]);
  await sweep(C);
}, 120_000);

describe('containerd CRI on a cnilab node', () => {
  it('runs Debian\'s containerd with runc, cnilab\'s conflist in its CNI directory, network ready', async () => {
    const v = await rt.client.version();
    expect(v.runtime_name).toBe('containerd');
    expect(v.runtime_api_version).toMatch(/^v1/);
    const st = await rt.client.status();
    expect(st.status.conditions).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'RuntimeReady', status: true }), expect.objectContaining({ type: 'NetworkReady', status: true })]));
    const conf = JSON.parse(readFileSync(`${containerdPaths(C, 'node1').cniConfDir}/10-cnilab.conflist`, 'utf8'));
    expect(conf.plugins[0].type).toBe('cnilab');
    expect(conf.cniVersion).toBe('1.0.0'); // containerd 1.6's libcni speaks CNI up to 1.0.0
    expect((await rt.client.listImages()).some((i) => i.repo_tags.includes('localhost/cnilab/pause:1.0'))).toBe(true);
  });

  it('RunPodSandbox: the CNI plugin gives each sandbox an IP from the node\'s pool', async () => {
    for (const name of ['sb1', 'sb2']) {
      const id = await rt.client.runPodSandbox({
        metadata: { name, uid: `uid-${name}`, namespace: 'default', attempt: 0 },
        hostname: name,
        labels: { app: 'cri-test' },
        linux: { cgroup_parent: rt.paths.cgroupParent, security_context: { namespace_options: { network: 'POD', pid: 'POD', ipc: 'POD' } } },
      });
      const { status, info } = await rt.client.podSandboxStatus(id, true);
      expect(status.state).toBe('SANDBOX_READY');
      const netns = sandboxNetnsPath(info);
      expect(netns, JSON.stringify(info).slice(0, 400)).toMatch(new RegExp(`^${rt.paths.state}/`));
      expect(inPool(status.network!.ip, spec.nodes[0]!.podCidr), status.network!.ip).toBe(true);
      sandboxes.push({ id, ip: status.network!.ip, netns: netns! });
    }
    expect(sandboxes[0]!.ip).not.toBe(sandboxes[1]!.ip);
    // The agent made the endpoints (veth, maps, identity), keyed by the sandbox's container ID.
    const eps = await agent().endpoints();
    for (const sb of sandboxes) expect(eps.find((e) => e.containerId === sb.id)).toMatchObject({ ip: sb.ip, podIfname: 'eth0', podNamespace: 'default' });
    // The pause process runs in the node's sandbox cgroup.
    expect(cgroupMembers(rt.paths.cgroupParent).pids.length).toBeGreaterThanOrEqual(2);
  });

  it('connects sandboxes with each other and with the cluster\'s pods, same node and across nodes', async () => {
    const [sb1, sb2] = sandboxes as [Sandbox, Sandbox];
    const web1 = pods.find((p) => p.spec.nodeName === 'node1')!;
    const web2 = pods.find((p) => p.spec.nodeName === 'node2')!;
    expect((await inside(sb1.netns, ['ping', '-c', '1', '-W', '2', sb2.ip])).code).toBe(0);
    for (const target of [web1, web2]) {
      const r = await inside(sb1.netns, [agnhost, 'connect', `${target.status.podIP}:8080`, '--timeout=3s']);
      expect(r.code, `sandbox → ${target.metadata.name} (${target.spec.nodeName}): ${r.stderr}`).toBe(0);
    }
    // And back: a pod on the other node reaches the sandbox.
    const back = await cnilab(['exec', 'default/web2', '--name', C, '--', 'ping', '-c', '1', '-W', '2', sb1.ip]);
    expect(back.code, back.stderr).toBe(0);
    // The probe can fail: a closed port on a sandbox is refused.
    const closed = await inside(sb1.netns, [agnhost, 'connect', `${sb2.ip}:9`, '--timeout=2s']);
    expect(closed.code).not.toBe(0);
    expect(closed.stderr).toContain('REFUSED');
  });

  it('StopPodSandbox and RemovePodSandbox DEL the network: IPs freed, links, map entries, netns and processes gone', async () => {
    const before = await agent().maps();
    const entries = (m: typeof before) => m.maps.find((x) => x.name === 'cnilab_lxc_if')!.entries;
    const lxcBefore = await lxcDevices();
    for (const sb of sandboxes) {
      await rt.client.stopPodSandbox(sb.id);
      await rt.client.removePodSandbox(sb.id);
    }
    const eps = await agent().endpoints();
    for (const sb of sandboxes) expect(eps.some((e) => e.containerId === sb.id)).toBe(false);
    const ipam = JSON.parse(readFileSync(`${paths.nodeDir(C, 'node1')}/ipam.json`, 'utf8')).allocations as Record<string, string>;
    for (const sb of sandboxes) expect(Object.keys(ipam)).not.toContain(sb.ip);
    expect(await lxcDevices()).toHaveLength(lxcBefore.length - 2);
    expect(entries(await agent().maps())).toBe(entries(before) - 2);
    expect((await agent().ipcache()).some((e) => sandboxes.some((sb) => sb.ip === e.key))).toBe(false);
    for (const sb of sandboxes) expect(existsSync(sb.netns)).toBe(false);
    expect(cgroupMembers(rt.paths.cgroupParent).pids).toEqual([]);
    expect(await rt.client.listPodSandbox()).toEqual([]);
    // Repeating the calls is fine (CRI: idempotent).
    await rt.client.stopPodSandbox(sandboxes[0]!.id).catch((e: Error) => expect(e.message).toMatch(/not found|NotFound/i));
  });

  it('a sandbox left running when the node is drained gets its DEL too, and containerd leaves nothing behind', async () => {
    const id = await rt.client.runPodSandbox({ metadata: { name: 'sb3', uid: 'uid-sb3', namespace: 'default' }, linux: { cgroup_parent: rt.paths.cgroupParent } });
    const ip = (await rt.client.podSandboxStatus(id)).status.network!.ip;
    expect((await agent().endpoints()).some((e) => e.ip === ip)).toBe(true);
    rt.client.close();
    expect(await stopContainerd(C, 'node1')).toEqual({ sandboxes: 1 });
    expect((await agent().endpoints()).some((e) => e.ip === ip)).toBe(false);
    expect(mountsUnder(paths.runDir(C))).toEqual([]);
    expect(cgroupMembers(rt.paths.cgroupParent).dirs).toEqual([]);
    expect(existsSync(rt.paths.dir)).toBe(false);
    const ps = await run(['pgrep', '-f', rt.paths.config], { allowFailure: true });
    expect(ps.stdout.trim()).toBe('');
  });
});
