// Traffic from a pod is hostile input: nothing a pod sends may crash the control plane, and a pod's
// agnhost servers answer a bad request with an error and keep serving. One reference-bridge cluster
// (no BPF needed: the pod servers are the subject), hostile requests sent from a client pod's netns.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cnilab } from '../../testing/cli.js';
import { bodyOf, rawGet, rawTcp, statusOf } from '../../testing/raw-socket.js';
import { readFileSync } from 'node:fs';
import { netnsNames, paths } from '../../cluster/names.js';
import { ControlPlaneClient } from '../../cluster/client.js';
import { sweep } from './sweep.js';
import type { WorkloadProcessStatus } from './workloads.js';

const C = 'hard-hp';
const AGNHOST = 'registry.k8s.io/e2e-test-images/agnhost:2.47';
const MANIFEST = `
apiVersion: v1
kind: Pod
metadata: {name: nx}
spec:
  containers:
  - {name: c, image: "${AGNHOST}", args: [netexec, --http-port=8080, --udp-port=8081]}
---
apiVersion: v1
kind: Pod
metadata: {name: sh}
spec:
  containers:
  - {name: c, image: "${AGNHOST}", args: [serve-hostname, --port=9376]}
---
apiVersion: v1
kind: Pod
metadata: {name: ex}
spec:
  restartPolicy: Never
  containers:
  - {name: c, image: "${AGNHOST}", args: [netexec, --http-port=8080, --udp-port=-1]}
---
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  containers:
  - {name: c, image: "${AGNHOST}", args: [pause]}
`;

const clientNs = netnsNames.pod(C, 'default', 'client');
let ips: Record<string, string> = {};

const client = new ControlPlaneClient(paths.controlSocket(C), C);
const workloads = () => client.getPath<WorkloadProcessStatus[]>('/v1/workloads');
const daemonPid = () => Number(readFileSync(paths.daemonPid(C), 'utf8'));
interface ContainerStatus {
  ready: boolean;
  restartCount: number;
  state: Record<string, Record<string, unknown>>;
  lastState: { terminated?: { exitCode: number; signal?: number; message?: string } };
}
async function containerOf(pod: string): Promise<ContainerStatus> {
  const p = await client.get('Pod', 'default', pod);
  return (p.status as { containerStatuses: ContainerStatus[] }).containerStatuses[0]!;
}
async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function hostnameOf(ip: string, port: number): Promise<string> {
  const r = await rawTcp(ip, port, rawGet('/hostname'), { netns: clientNs });
  return statusOf(r.data) === 200 ? bodyOf(r.data) : `no answer (${JSON.stringify(r)})`;
}

describe('hostile pod traffic', () => {
  beforeAll(async () => {
    await sweep(C);
    const up = await cnilab(['up', '--name', C, '--nodes', '1', '--cni', 'reference-bridge', '-q']);
    expect(up.code, up.stderr).toBe(0);
    const applied = await cnilab(['apply', '--name', C, '-f', '-', '--wait'], { input: MANIFEST });
    expect(applied.code, applied.stderr).toBe(0);
    const pods = JSON.parse((await cnilab(['get', 'pods', '--name', C, '-o', 'json'])).stdout).items as Array<{ metadata: { name: string }; status: { podIP: string } }>;
    ips = Object.fromEntries(pods.map((p) => [p.metadata.name, p.status.podIP]));
  });
  afterAll(async () => {
    await cnilab(['down', '--name', C]);
    await sweep(C);
  });

  it('bad HTTP requests get an error or a closed connection; the servers and the control plane stay up', async () => {
    const hostile = [
      rawGet('/echo?code=0'),
      rawGet('/echo?code=1000'),
      rawGet('/echo?code=-1'),
      rawGet('/echo?code=99'),
      rawGet('/echo?code=99999999999999999999999'),
      rawGet('//'),
      rawGet('//evil/x'),
      rawGet('/%zz'),
      rawGet('*'),
      rawGet('http://x/hostname'),
      rawGet('/exit/../echo?code=0'),
      rawGet('/header?key=__proto__'),
      rawGet('/dial?host=198.18.0.1&port=99999&request=x'),
      rawGet('/dial?host=&port=&request='),
      rawGet('/dial?host=a%00b&port=80&request=%0d%0a'),
      rawGet('/dial?host=127.0.0.1&port=1&request=x&protocol=udp&tries=-5'),
      'GARBAGE\r\n\r\n',
      'GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n',
      'GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      '\x00\xff\x16\x03\x01\x02\x00\x01',
    ];
    for (const [port, pod] of [[8080, 'nx'], [9376, 'sh']] as const) {
      for (const payload of hostile) {
        const r = await rawTcp(ips[pod]!, port, payload, { netns: clientNs });
        // An answer, if any, is a well-formed HTTP reply; never a hang.
        if (r.data) expect(statusOf(r.data), `${pod}: ${JSON.stringify(payload)} -> ${r.data.slice(0, 200)}`).toBeDefined();
        expect(r.closed, `${pod}: ${JSON.stringify(payload)} left the connection hanging`).toBe(true);
        expect(await hostnameOf(ips[pod]!, port), `${pod} after ${JSON.stringify(payload)}`).toBe(pod);
      }
    }
    // As upstream agnhost (Go's net/http): an out-of-range status closes the connection without a
    // reply, an unclean path is redirected to its clean form.
    expect((await rawTcp(ips.nx!, 8080, rawGet('/echo?code=0'), { netns: clientNs })).data).toBe('');
    const slash = await rawTcp(ips.nx!, 8080, rawGet('//'), { netns: clientNs });
    expect(statusOf(slash.data)).toBe(301);
    expect(slash.data).toMatch(/\r\nLocation: \/\r\n/i);
    expect(statusOf((await rawTcp(ips.nx!, 8080, rawGet('/echo?code=418&msg=teapot'), { netns: clientNs })).data)).toBe(418);
    const status = await cnilab(['status', '--name', C]);
    expect(status.code, status.stderr).toBe(0);
    // Nothing crashed on the way: not the daemon, not even the workload process.
    expect((await workloads()).map((w) => w.restarts)).toEqual([0]);
  });

  it('pod servers run outside the daemon; a killed workload process shows in the pods, restarts with them, and the control plane stays up', async () => {
    const [before] = await workloads();
    expect(before).toMatchObject({ node: 'node1', state: 'running', containers: 4 });
    expect(before!.pid).toBeGreaterThan(0);
    expect(before!.pid).not.toBe(daemonPid());
    const daemon = daemonPid();
    process.kill(before!.pid!, 'SIGKILL');
    const nx = await until('nx to record the crash and be running again', () => containerOf('nx'), (c) => c.restartCount === 1 && c.ready);
    expect(nx.lastState.terminated).toMatchObject({ exitCode: 137, signal: 9 });
    expect(nx.lastState.terminated!.message).toMatch(/workload process of node node1 killed by SIGKILL/);
    expect(await hostnameOf(ips.nx!, 8080)).toBe('nx');
    expect(await hostnameOf(ips.sh!, 9376)).toBe('sh');
    const [after] = await workloads();
    expect(after).toMatchObject({ state: 'running', restarts: 1, containers: 4 });
    expect(after!.pid).not.toBe(before!.pid);
    expect(daemonPid()).toBe(daemon);
    const get = await cnilab(['get', 'pods', '--name', C]);
    expect(get.stdout).toMatch(/^nx\s+1\/1\s+Running\s+1\s/m);
  });

  it('a container that exits by itself (netexec /exit, restartPolicy Never) stays terminated with its code; the others keep serving', async () => {
    const r = await rawTcp(ips.ex!, 8080, rawGet('/exit?code=3'), { netns: clientNs });
    expect(statusOf(r.data)).toBe(200);
    const ex = await until('ex to be terminated', () => containerOf('ex'), (c) => !!c.state.terminated);
    expect(ex).toMatchObject({ ready: false, state: { terminated: { exitCode: 3, reason: 'Error' } } });
    expect((await rawTcp(ips.ex!, 8080, rawGet('/hostname'), { netns: clientNs })).error).toBe('ECONNREFUSED');
    const pod = await client.get('Pod', 'default', 'ex');
    expect(pod.status).toMatchObject({ phase: 'Failed' });
    expect((pod.status as { conditions: Array<{ type: string; status: string }> }).conditions).toContainEqual(expect.objectContaining({ type: 'Ready', status: 'False' }));
    expect(await hostnameOf(ips.nx!, 8080)).toBe('nx');
    expect((await workloads())[0]).toMatchObject({ restarts: 1, containers: 3 });
  });
});
