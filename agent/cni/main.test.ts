import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPluginInto } from '../testing/plugin-build.js';
import { startAgentServer, stopAgentServer, type AgentApi } from '../api/server.js';
import { CNI_ERR, CniError, type CniGcRequest, type CniRequest } from './protocol.js';
import { parseCniArgs, runPlugin } from './main.js';

let dir: string;
let exe: string;
let agentSocket: string;
let server: Server;
const seen: Array<{ op: string; req: CniRequest }> = [];

const fakeAgent: AgentApi = {
  healthz: () => ({ ok: true, node: 'n1', endpoints: 0 }),
  endpoints: () => [],
  identities: () => [],
  ipcache: () => [],
  maps: () => ({}),
  flows: () => ({}),
  async cniAdd(req) {
    seen.push({ op: 'add', req });
    if (req.containerId === 'fails') throw new CniError(CNI_ERR.OTHER, 'veth creation failed', 'RTNETLINK answers: File exists');
    return {
      cniVersion: '1.0.0',
      interfaces: [{ name: 'lxc0123456789ab', mac: '02:00:00:00:00:01' }, { name: req.ifname, mac: '02:00:00:00:00:02', sandbox: req.netns }],
      ips: [{ address: '198.19.1.2/32', gateway: '198.19.1.1', interface: 1 }],
      routes: [{ dst: '0.0.0.0/0', gw: '198.19.1.1' }],
      dns: {},
    };
  },
  async cniDel(req) {
    seen.push({ op: 'del', req });
  },
  async cniCheck(req) {
    seen.push({ op: 'check', req });
  },
  async cniGc(req) {
    gcSeen.push(req);
    return { removed: [], releasedIps: [] };
  },
};
const gcSeen: CniGcRequest[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cnilab-plugin-'));
  exe = buildPluginInto(dir);
  agentSocket = join(dir, 'agent.sock');
  server = await startAgentServer(agentSocket, fakeAgent, () => {});
});
afterAll(() => {
  stopAgentServer(server, agentSocket);
  rmSync(dir, { recursive: true, force: true });
});

const conf = (extra: Record<string, unknown> = {}) => JSON.stringify({ cniVersion: '1.0.0', name: 'cnilab-t', type: 'cnilab', agentSocket, mtu: 1450, ...extra });
const env = (extra: Record<string, string | undefined> = {}) => ({
  CNI_COMMAND: 'ADD',
  CNI_CONTAINERID: 'c1',
  CNI_NETNS: '/proc/self/ns/net',
  CNI_IFNAME: 'eth0',
  CNI_ARGS: 'IgnoreUnknown=true;K8S_POD_NAMESPACE=x;K8S_POD_NAME=a',
  CNI_PATH: '/nonexistent',
  ...extra,
});

/** Run the plugin as the runtime does: a child process, env replaced, config on stdin. */
// Asynchronous on purpose: the fake agent answering the plugin lives in this very process.
function exec(e: Record<string, string | undefined>, stdin: string): Promise<{ code: number | null; out: any; stderr: string }> {
  const clean = Object.fromEntries(Object.entries({ PATH: process.env.PATH, ...e }).filter(([, v]) => v !== undefined)) as Record<string, string>;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [exe], { env: clean });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out: stdout ? JSON.parse(stdout) : undefined, stderr }));
    child.stdin.end(stdin);
  });
}

describe('cnilab CNI plugin (as a child process)', async () => {
  it('garbage JSON → 6', async () => {
    const r = await exec(env(), '{not json');
    expect(r.code).not.toBe(0);
    expect(r.out).toMatchObject({ cniVersion: '1.1.0', code: 6 }); // no config to read a version from: our own
    expect(r.out.msg).toMatch(/decode/);
  });
  it('missing CNI_NETNS on ADD → 4', async () => {
    const r = await exec(env({ CNI_NETNS: undefined }), conf());
    expect(r.out).toMatchObject({ code: 4 });
    expect(r.out.msg).toContain('CNI_NETNS');
  });
  it('missing CNI_COMMAND → 4', async () => {
    expect((await exec(env({ CNI_COMMAND: undefined }), conf())).out).toMatchObject({ code: 4 });
  });
  it('unknown cniVersion → 1', async () => {
    expect((await exec(env(), conf({ cniVersion: '7.0.0' }))).out).toMatchObject({ code: 1 });
  });
  it('a netns path that does not exist → 4', async () => {
    const r = await exec(env({ CNI_NETNS: '/run/netns/cnilab-does-not-exist' }), conf());
    expect(r.out).toMatchObject({ code: 4 });
  });
  it('wrong or missing config fields → 7', async () => {
    expect((await exec(env(), conf({ agentSocket: 'relative.sock' }))).out).toMatchObject({ code: 7 });
    expect((await exec(env(), conf({ mtu: 'big' }))).out).toMatchObject({ code: 7 });
    expect((await exec(env(), JSON.stringify({ cniVersion: '1.0.0', type: 'cnilab' }))).out).toMatchObject({ code: 7 });
  });
  it('agent socket absent → 11 (try again later)', async () => {
    expect((await exec(env(), conf({ agentSocket: join(dir, 'nobody.sock') }))).out).toMatchObject({ code: 11 });
  });
  it('ADD prints the agent\'s CNI result and passes pod identity and MTU along', async () => {
    const r = await exec(env({ CNI_CONTAINERID: 'ok1' }), conf());
    expect(r.code).toBe(0);
    expect(r.out.cniVersion).toBe('1.0.0');
    expect(r.out.ips[0]).toEqual({ address: '198.19.1.2/32', gateway: '198.19.1.1', interface: 1 });
    expect(r.out.interfaces[1].sandbox).toBe('/proc/self/ns/net');
    expect(seen.find((s) => s.req.containerId === 'ok1')?.req).toMatchObject({ podNamespace: 'x', podName: 'a', mtu: 1450, ifname: 'eth0' });
  });
  it('VERSION lists the supported versions', async () => {
    const r = await exec({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":"1.0.0"}');
    expect(r.code).toBe(0);
    expect(r.out).toEqual({ cniVersion: '1.0.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
  });
});

describe('cnilab CNI plugin (in process)', () => {
  it('passes an agent error through with its code and details', async () => {
    const r = await runPlugin(env({ CNI_CONTAINERID: 'fails' }), conf());
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({ cniVersion: '1.0.0', code: 999, msg: 'veth creation failed', details: 'RTNETLINK answers: File exists' });
  });
  it('DEL does not need CNI_NETNS and succeeds', async () => {
    const r = await runPlugin(env({ CNI_COMMAND: 'DEL', CNI_NETNS: undefined, CNI_CONTAINERID: 'd1' }), conf());
    expect(r).toEqual({ code: 0, stdout: '' });
    expect(seen.find((s) => s.op === 'del')?.req.containerId).toBe('d1');
  });
  it('CHECK needs prevResult', async () => {
    expect(JSON.parse((await runPlugin(env({ CNI_COMMAND: 'CHECK' }), conf())).stdout)).toMatchObject({ code: 7 });
    expect(await runPlugin(env({ CNI_COMMAND: 'CHECK' }), conf({ prevResult: { cniVersion: '1.0.0' } }))).toEqual({ code: 0, stdout: '' });
  });
  it('STATUS succeeds with a healthy agent and fails with 50 without one', async () => {
    expect(await runPlugin({ CNI_COMMAND: 'STATUS' }, conf({ cniVersion: '1.1.0' }))).toEqual({ code: 0, stdout: '' });
    const r = await runPlugin({ CNI_COMMAND: 'STATUS' }, conf({ cniVersion: '1.1.0', agentSocket: join(dir, 'nobody.sock') }));
    expect(JSON.parse(r.stdout)).toMatchObject({ cniVersion: '1.1.0', code: 50, msg: 'plugin not available' });
  });
  it('answers older config versions in their result format', async () => {
    const r = await runPlugin(env({ CNI_CONTAINERID: 'old1' }), conf({ cniVersion: '0.4.0' }));
    const out = JSON.parse(r.stdout);
    expect(out.cniVersion).toBe('0.4.0');
    expect(out.ips[0].version).toBe('4');
  });
  it('STATUS and GC need a 1.1.0 configuration (1 otherwise)', async () => {
    for (const cmd of ['STATUS', 'GC']) {
      const r = await runPlugin({ CNI_COMMAND: cmd }, conf({ cniVersion: '1.0.0', 'cni.dev/valid-attachments': [] }));
      expect(JSON.parse(r.stdout)).toMatchObject({ cniVersion: '1.0.0', code: 1 });
    }
  });
  it('GC hands the valid attachments to the agent; without them it refuses (7), removing nothing', async () => {
    gcSeen.length = 0;
    const valid = [{ containerID: 'c1', ifname: 'eth0' }, { containerID: 'c1', ifname: 'net1' }];
    expect(await runPlugin({ CNI_COMMAND: 'GC' }, conf({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': valid }))).toEqual({ code: 0, stdout: '' });
    expect(gcSeen).toEqual([{ validAttachments: valid }]);
    const absent = await runPlugin({ CNI_COMMAND: 'GC' }, conf({ cniVersion: '1.1.0' }));
    expect(JSON.parse(absent.stdout)).toMatchObject({ code: 7, msg: expect.stringContaining('cni.dev/valid-attachments') });
    const bad = await runPlugin({ CNI_COMMAND: 'GC' }, conf({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 'c1' }] }));
    expect(JSON.parse(bad.stdout)).toMatchObject({ code: 7 });
    expect(gcSeen).toHaveLength(1);
  });
  it('ADD chained after another plugin passes its result on with ours appended', async () => {
    const prevResult = {
      cniVersion: '1.1.0',
      interfaces: [{ name: 'br0', mac: '02:aa:00:00:00:01' }, { name: 'eth0', mac: '02:aa:00:00:00:02', sandbox: '/proc/self/ns/net' }],
      ips: [{ address: '10.9.0.5/24', gateway: '10.9.0.1', interface: 1 }],
      routes: [{ dst: '0.0.0.0/0', gw: '10.9.0.1' }],
      dns: { nameservers: ['10.9.0.10'] },
    };
    const r = await runPlugin(env({ CNI_CONTAINERID: 'chain1', CNI_IFNAME: 'net1' }), conf({ cniVersion: '1.1.0', prevResult }));
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.interfaces.map((i: { name: string }) => i.name)).toEqual(['br0', 'eth0', 'lxc0123456789ab', 'net1']);
    // Our IP now points at our pod interface's new index (3), the earlier one is untouched.
    expect(out.ips).toEqual([prevResult.ips[0], { address: '198.19.1.2/32', gateway: '198.19.1.1', interface: 3 }]);
    expect(out.routes[0]).toEqual(prevResult.routes[0]);
    expect(out.dns).toEqual(prevResult.dns);
    // The agent heard of the earlier default route, so it leaves it alone.
    expect(seen.find((s) => s.req.containerId === 'chain1')?.req.prevResult?.routes).toEqual([{ dst: '0.0.0.0/0', gw: '10.9.0.1' }]);
  });
  it('ADD onto an interface an earlier plugin made (adopted by the agent) passes the earlier result on unchanged', async () => {
    const prevResult = { cniVersion: '1.1.0', interfaces: [{ name: 'veth1234', mac: '02:bb:00:00:00:01' }, { name: 'eth0', mac: '02:bb:00:00:00:02', sandbox: '/proc/self/ns/net' }], ips: [{ address: '198.19.1.77/24', gateway: '198.19.1.1', interface: 1 }], routes: [{ dst: '0.0.0.0/0' }] };
    const r = await runPlugin(env({ CNI_CONTAINERID: 'chain2' }), conf({ cniVersion: '1.1.0', prevResult }));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ ...prevResult, dns: {} });
    // The agent got the whole prevResult to find the interface in.
    expect(seen.find((s) => s.req.containerId === 'chain2')?.req.prevResult?.interfaces).toEqual(prevResult.interfaces);
  });
  it('CHECK hands the prevResult to the agent; a malformed one is refused (7)', async () => {
    const prevResult = { cniVersion: '1.1.0', interfaces: [{ name: 'eth0', sandbox: '/proc/self/ns/net' }], ips: [{ address: '198.19.1.2/32', interface: 0 }] };
    expect(await runPlugin(env({ CNI_COMMAND: 'CHECK', CNI_CONTAINERID: 'chk1' }), conf({ prevResult }))).toEqual({ code: 0, stdout: '' });
    expect(seen.find((s) => s.op === 'check' && s.req.containerId === 'chk1')?.req.prevResult).toMatchObject({ ips: [{ address: '198.19.1.2/32', interface: 0 }] });
    const bad = await runPlugin(env({ CNI_COMMAND: 'CHECK', CNI_CONTAINERID: 'chk2' }), conf({ prevResult: { ips: [{ address: 'not-an-ip' }] } }));
    expect(JSON.parse(bad.stdout)).toMatchObject({ code: 7, msg: expect.stringContaining('ips[0].address') });
  });
  it('refuses a configuration larger than 1 MiB (7) instead of reading part of it', async () => {
    const r = await runPlugin(env({ CNI_CONTAINERID: 'big1' }), conf({ pad: 'x'.repeat(1 << 20) }));
    expect(JSON.parse(r.stdout)).toMatchObject({ code: 7, msg: expect.stringContaining('larger than 1048576') });
    expect(seen.some((s) => s.req.containerId === 'big1')).toBe(false);
  });
  it('checks the agent timeouts of the config', async () => {
    expect(JSON.parse((await runPlugin(env(), conf({ agentTimeoutMs: 0 }))).stdout)).toMatchObject({ code: 7, msg: expect.stringContaining('agentTimeoutMs') });
    expect(JSON.parse((await runPlugin(env(), conf({ agentConnectTimeoutMs: 'soon' }))).stdout)).toMatchObject({ code: 7 });
  });
  it('parses CNI_ARGS', () => {
    expect(parseCniArgs('IgnoreUnknown=true;K8S_POD_NAME=a=b;junk')).toEqual({ IgnoreUnknown: 'true', K8S_POD_NAME: 'a=b' });
  });
});
