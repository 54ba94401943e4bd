// Node faults through a helper pod: which agent is looked for per CNI, "unsupported" where the CNI has
// no agent or bird cnilab knows (never a guess), and the node-side script's process finding, run here
// for real (sh, pgrep and /proc, as in the helper pod).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunResult } from '../../exec/run.js';
import { UnsupportedError } from '../../errors.js';
import { KubeconfigNodeFaults, NODE_FAULT_SCRIPT, agentPattern } from './faults.js';

function fakeNodes(cni: string, answer: (argv: string[]) => Partial<RunResult> = () => ({})) {
  const calls: string[][] = [];
  const access = {
    cni: async () => cni,
    nodes: async () => [{ name: 'node1', ip: '198.18.0.11', podCidr: '10.0.1.0/24' }],
    execOnNode: async (_node: string, argv: string[]) => {
      calls.push(argv);
      return { argv, code: 0, signal: null, stdout: '', stderr: '', durationMs: 1, timedOut: false, ...answer(argv) } as RunResult;
    },
  };
  return { faults: new KubeconfigNodeFaults(access), calls };
}

describe('kubeconfig node faults', () => {
  it('knows the agents of cnilab and Cilium only', () => {
    expect(agentPattern('cnilab (embedded: agents outside the API, CiliumEndpoints published)')).toBe('agent/mai[n]\\.js');
    expect(agentPattern('cilium')).toBe('cilium-agen[t]');
    expect(agentPattern('calico')).toBeUndefined();
    expect(agentPattern('unknown')).toBeUndefined();
  });

  it('says unsupported (needs …) for faults the CNI found cannot take, before touching a node', async () => {
    const { faults, calls } = fakeNodes('calico');
    await expect(faults.killAgents(['node1'])).rejects.toBeInstanceOf(UnsupportedError);
    await expect(faults.killAgents(['node1'])).rejects.toThrow(/unsupported: killing the CNI agent on CNI calico \(needs/);
    await expect(faults.bird('node1', 'kill')).rejects.toThrow(/unsupported: bird kill on CNI calico \(needs bird/);
    await expect(faults.agentHealth('node1')).rejects.toBeInstanceOf(UnsupportedError);
    const cilium = fakeNodes('cilium');
    await expect(cilium.faults.bird('node1', 'freeze')).rejects.toThrow(/unsupported: bird freeze on CNI cilium/);
    await expect(cilium.faults.bgpSessions('node1')).rejects.toBeInstanceOf(UnsupportedError);
    expect([...calls, ...cilium.calls]).toEqual([]);
  });

  it('passes the action and its values as arguments of the fixed script, and fails on a failed action', async () => {
    const { faults, calls } = fakeNodes('cnilab', (argv) => (argv[3] === 'bird-down' ? { code: 3, stderr: "no bird in this node's network namespace" } : { stdout: '4242\n' }));
    expect(await faults.killAgents(['node1'])).toEqual(new Map([['node1', 4242]]));
    await faults.setLink('node1', 'down');
    expect(calls.map((a) => a.slice(3))).toEqual([['agent-kill', 'agent/mai[n]\\.js'], ['link-down', '198.18.0.11', '60']]);
    expect(calls.every((a) => a[0] === 'sh' && a[1] === '-c' && a[2] === NODE_FAULT_SCRIPT)).toBe(true);
    await expect(faults.bird('node1', 'down')).rejects.toThrow(/bird-down on node node1 .* exited 3: no bird/);
  });

  it('finds a process of its own network namespace by pattern, and not itself', async () => {
    const marker = `cnilab-fault-test-${process.pid}`;
    // A shell with the marker in its argv, as an agent's argv names its main.js.
    const sh = spawn('sh', ['-c', 'sleep 30', marker], { stdio: 'ignore' });
    try {
      const find = (pattern: string) => spawnSync('sh', ['-c', NODE_FAULT_SCRIPT, 'agent-pids', pattern], { encoding: 'utf8' });
      const r = find(`${marker.slice(0, -1)}[${marker.slice(-1)}]`);
      expect(r.status).toBe(0);
      expect(r.stdout.trim().split('\n')).toContain(String(sh.pid));
      expect(r.stdout.trim().split('\n')).not.toContain(String(r.pid));
      expect(find('no-such-proces[s]').stdout.trim()).toBe('');
      const kill = spawnSync('sh', ['-c', NODE_FAULT_SCRIPT, 'agent-kill', 'no-such-proces[s]'], { encoding: 'utf8' });
      expect(kill.status).toBe(3);
      expect(kill.stderr).toMatch(/no agent process/);
    } finally {
      sh.kill();
    }
  });

  it('reaches the agent API on the socket the agent itself listens on, wherever its config lives', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cnilab-fault-sock-'));
    const marker = `cnilab-fault-api-${process.pid}`;
    mkdirSync(join(dir, 'state'));
    // An "agent" whose --config names another directory (as the DaemonSet's ConfigMap at /etc/cnilab,
    // with its socket in the state dir): the socket is found from its own fds, not guessed from --config.
    const agent = spawn(process.execPath, ['-e', `require('http').createServer((q, s) => s.end(JSON.stringify({ path: q.url }))).listen(process.argv[1], () => console.log('up'))`, join(dir, 'state', 'agent.sock'), marker, '--config=/nonexistent/agent-config.yaml'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((res, rej) => {
        agent.stdout!.once('data', () => res());
        agent.once('exit', (c) => rej(new Error(`server exited ${c}`)));
      });
      const pattern = `${marker.slice(0, -1)}[${marker.slice(-1)}]`;
      const r = spawnSync('sh', ['-c', NODE_FAULT_SCRIPT, 'agent-api', pattern, '/v1/healthz'], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(JSON.parse(r.stdout)).toEqual({ path: '/v1/healthz' });
    } finally {
      agent.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
