// An agent SIGKILLed while `apply --wait` creates pods: the pods' CNI ADDs meet a dead or restarting
// agent (connection refused, or the connection dropped mid-ADD). As on a real node, the plugin waits
// for the agent's socket, the runtime retries the sandbox (kubelet's backoff), the restarted agent
// restores its endpoints, and the apply succeeds within its timeout. An agent that never comes back
// makes the apply fail, naming the node. One cluster for all cases.
import { readdirSync, readFileSync, renameSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cnilab, CNILAB } from '../../testing/cli.js';
import { paths } from '../../cluster/names.js';
import { ControlPlaneClient } from '../../cluster/client.js';
import { sweep } from './sweep.js';
import { REPO_ROOT } from '../../paths.js';

const NAME = 'arst';
const MANIFEST = `${REPO_ROOT}/scenarios/manifests/xyz.yaml`;
const client = () => new ControlPlaneClient(paths.controlSocket(NAME), NAME);

interface Pod {
  metadata: { namespace: string; name: string };
  spec: { nodeName?: string };
  status?: { phase?: string; reason?: string; podIP?: string };
}

/** The pid of `node`'s agent process (found by its cluster marker and config path). */
function agentPid(node: string): number | undefined {
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      if (cmd.includes('dist/agent/main.js') && cmd.includes(`--cnilab-cluster=${NAME}\0`) && cmd.includes(`/nodes/${node}/agent-config.yaml`)) return Number(e);
    } catch {
      /* gone */
    }
  }
  return undefined;
}

/** `cnilab apply -f xyz --wait` as a child, with its exit code and stderr when it ends. */
function applyInBackground(timeout: string): { done: Promise<{ code: number; stderr: string; endedAt: number }> } {
  const child = spawn(CNILAB, ['apply', '--name', NAME, '-f', MANIFEST, '--wait', '--timeout', timeout], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  return { done: new Promise((r) => child.on('exit', (code) => r({ code: code ?? 1, stderr, endedAt: Date.now() }))) };
}

async function until<T>(what: string, fn: () => Promise<T> | T, ok: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const pods = async () => (await client().list('Pod')) as unknown as Pod[];

describe('an agent killed during apply --wait', () => {
  beforeAll(async () => {
    await sweep(NAME);
    const up = await cnilab(['up', '--name', NAME, '--nodes', '2', '--cni', 'cnilab', '-q']);
    expect(up.code, up.stderr).toBe(0);
  });
  afterAll(async () => {
    await cnilab(['down', '--name', NAME]);
    await sweep(NAME);
  });

  it('is ridden out: its pods are created once it is back, and the apply succeeds', async () => {
    const before = agentPid('node1');
    expect(before).toBeDefined();
    // node1's endpoints are logged as "endpoint N ns/pod IP on lxc…" with an address of its pod CIDR.
    const cidr = (await client().cluster()).nodes.find((n) => n.name === 'node1')!.podCidr;
    const prefix = cidr.split('.').slice(0, 3).join('.');
    const logFrom = readFileSync(paths.daemonLog(NAME), 'utf8').length;
    const apply = applyInBackground('60s');
    // The kill lands while node1's ADDs are in the agent: right after the first of them finished
    // (they run concurrently, the others are in the middle of theirs).
    await until('node1 creating its first endpoint', () => readFileSync(paths.daemonLog(NAME), 'utf8').slice(logFrom), (l) => new RegExp(`endpoint \\d+ \\S+ ${prefix.replaceAll('.', '\\.')}\\.\\d+ on lxc`).test(l));
    process.kill(before!, 'SIGKILL');
    const killedAt = Date.now();
    const r = await apply.done;
    expect(r.endedAt).toBeGreaterThan(killedAt); // the apply was still waiting when its agent died
    expect(r.code, r.stderr).toBe(0);
    // The kill did hit ADDs in flight: node1's runtime saw them fail with "try again later" (the
    // agent closed the connection, or was not there) and sent them again. (Before the plugin's fix
    // such an ADD failed with 999 and failed its pod, and the apply with it.)
    const since = readFileSync(paths.daemonLog(NAME), 'utf8').slice(logFrom).split('\n');
    console.log(since.filter((l) => /retried|FailedCreatePodSandBox|exited/.test(l)).join('\n'));
    expect(since.some((l) => /CNI call on node node1 retried .*\(code 11\)/.test(l))).toBe(true);
    const all = await pods();
    expect(all.filter((p) => p.status?.phase === 'Running')).toHaveLength(9);
    expect(all.filter((p) => p.spec.nodeName === 'node1').length).toBeGreaterThan(0);
    // A new agent (not the killed one) serves node1, and traffic crosses to a node1 pod.
    const after = agentPid('node1');
    expect(after).toBeDefined();
    expect(after).not.toBe(before);
    const from = all.find((p) => p.spec.nodeName === 'node2')!;
    const to = all.find((p) => p.spec.nodeName === 'node1')!;
    const probe = await cnilab(['exec', `${from.metadata.namespace}/${from.metadata.name}`, '--name', NAME, '--', 'agnhost', 'connect', `${to.status!.podIP}:80`, '--timeout=2s']);
    expect(probe.code, probe.stderr).toBe(0);
  });

  it('restarted while a deleted namespace\'s pods are being torn down, the agent comes up (no crash loop)', async () => {
    // The endpoints of namespace N on node1 survive the kill; N is deleted while the agent is down,
    // so restoring cannot republish their CiliumEndpoints (404): that must not kill the new agent.
    const ns = (await pods()).find((p) => p.spec.nodeName === 'node1')!.metadata.namespace;
    const old = agentPid('node1')!;
    const readyLines = () => readFileSync(paths.daemonLog(NAME), 'utf8').split('agent node1 ready in ').length;
    const readyBefore = readyLines();
    process.kill(old, 'SIGKILL');
    const del = await cnilab(['delete', '--name', NAME, 'namespace', ns]);
    expect(del.code, del.stderr).toBe(0);
    const pid = await until('a new node1 agent', () => agentPid('node1'), (p) => p !== undefined && p !== old);
    await until('the new node1 agent ready', readyLines, (n) => n > readyBefore, 30_000);
    await until(`${ns}'s pods gone`, pods, (ps) => !ps.some((p) => p.metadata.namespace === ns), 60_000);
    // Still the same agent process some time later: it did not exit after its start.
    await new Promise((r) => setTimeout(r, 1500));
    expect(agentPid('node1')).toBe(pid);
    const log = readFileSync(paths.daemonLog(NAME), 'utf8');
    expect(log).not.toMatch(/fatal:/); // no agent died at start (each agent logs "fatal: ..." before exiting 1)
    // The case was hit: the new agent found endpoints of the deleted namespace to restore.
    expect(log).toMatch(new RegExp(`${ns}/\\w+: not republished, its namespace is gone`));
  });

  it('that never comes back makes the apply fail within its timeout, naming the node', async () => {
    const del = await cnilab(['delete', '--name', NAME, '-f', MANIFEST, '--ignore-not-found', '--wait']);
    expect(del.code, del.stderr).toBe(0);
    await until('no pods', pods, (ps) => ps.length === 0);
    // node1's agent cannot start again (its config is gone): the supervisor's restarts all fail.
    const config = paths.agentConfig(NAME, 'node1');
    renameSync(config, `${config}.away`);
    try {
      process.kill(agentPid('node1')!, 'SIGKILL');
      const t0 = Date.now();
      const r = await applyInBackground('12s').done;
      expect(r.code).not.toBe(0);
      expect(Date.now() - t0).toBeLessThan(60_000);
      expect(r.stderr).toMatch(/timed out after 12000 ms waiting for pods to be Running/);
      expect(r.stderr).toMatch(/node node1/);
      expect(r.stderr).not.toMatch(/\(node node2/); // node2's pods were fine
    } finally {
      renameSync(`${config}.away`, config);
    }
    // With its config back, node1's agent returns and the pods waiting for it are created.
    const again = await cnilab(['apply', '--name', NAME, '-f', MANIFEST, '--wait', '--timeout', '90s']);
    expect(again.code, again.stderr).toBe(0);
  });
});
