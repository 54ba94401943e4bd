// A one-node-of-two test environment for root tests of the agent: its own node netns, a control plane
// (ObjectStore + control server) in the test process, a ClusterSpec file, a pin dir on bpffs and a run
// dir, all named cnilab-agtest-<rand> so nothing collides with a real cluster. The agent is the real
// dist/agent/main.js started in the node netns with the path overrides.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { run, start, type Background } from '../../lib/exec/run.js';
import { ObjectStore } from '../../harness/cluster/store.js';
import { startControlServer } from '../../harness/cluster/server.js';
import { resolveSpec, type ClusterSpec } from '../../harness/cluster/spec.js';
import type { KubeObject } from '../../lib/k8s/object.js';
import { distJs } from '../../lib/paths.js';
import { AgentClient } from '../api/client.js';

export const TEST_PREFIX = 'cnilab-agtest-';

export class AgentTestEnv {
  readonly id = randomBytes(3).toString('hex');
  readonly nodeNetns = `${TEST_PREFIX}${this.id}-node1`;
  readonly runDir = mkdtempSync(join(tmpdir(), TEST_PREFIX));
  readonly pinDir = `/sys/fs/bpf/${TEST_PREFIX}${this.id}`;
  readonly nodeDir = join(this.runDir, 'nodes/node1');
  readonly statePath = join(this.runDir, 'cluster.json');
  readonly controlSocket = join(this.runDir, 'control.sock');
  readonly agentSocket = join(this.runDir, 'nodes/node1/agent.sock');
  readonly store = new ObjectStore();
  readonly spec: ClusterSpec = resolveSpec({ name: 'agtest', nodes: [{ name: 'node1' }, { name: 'node2' }], networking: { cni: 'cnilab', routing: 'tunnel' } }, 'agent test');
  readonly client = new AgentClient('agtest', 'node1', this.agentSocket);
  private server?: Server;
  agent?: Background;
  private podNetns: string[] = [];
  agentLog = '';

  async setUp(): Promise<void> {
    mkdirSync(this.nodeDir, { recursive: true });
    writeFileSync(this.statePath, JSON.stringify(this.spec));
    this.store.apply(
      [
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } },
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } },
        ...this.spec.nodes.map((n) => ({
          apiVersion: 'v1',
          kind: 'Node',
          metadata: { name: n.name },
          spec: { podCIDR: n.podCidr },
          status: { addresses: [{ type: 'InternalIP', address: n.underlayIp }] },
        })),
      ] as KubeObject[],
      { internal: true },
    );
    this.server = await startControlServer(this.controlSocket, this.store, this.spec, { onShutdown: () => {} });
    await run(['ip', 'netns', 'add', this.nodeNetns]);
    await run(['ip', 'link', 'set', 'lo', 'up'], { netns: this.nodeNetns });
  }

  async addPodNetns(name: string): Promise<string> {
    const ns = `${TEST_PREFIX}${this.id}-${name}`;
    await run(['ip', 'netns', 'add', ns]);
    this.podNetns.push(ns);
    return `/run/netns/${ns}`;
  }

  async startAgent(env: Record<string, string> = {}): Promise<void> {
    rmSync(this.agentSocket, { force: true });
    const argv = [
      process.execPath,
      distJs('agent/main'),
      '--cnilab-cluster=agtest',
      '--node=node1',
      `--state=${this.statePath}`,
      `--control-socket=${this.controlSocket}`,
      `--agent-socket=${this.agentSocket}`,
      `--pin-dir=${this.pinDir}`,
      `--node-dir=${this.nodeDir}`,
    ];
    const agent = start(argv, { netns: this.nodeNetns, env });
    this.agent = agent;
    agent.child.stdout?.on('data', (b: Buffer) => (this.agentLog += b.toString()));
    agent.child.stderr?.on('data', (b: Buffer) => (this.agentLog += b.toString()));
    const deadline = Date.now() + 30_000;
    while (!existsSync(this.agentSocket)) {
      if (agent.child.exitCode !== null) throw new Error(`agent exited with ${agent.child.exitCode}:\n${this.agentLog}`);
      if (Date.now() > deadline) throw new Error(`agent socket did not appear within 30 s:\n${this.agentLog}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** kill -9: no chance to clean anything up, as after a crash. */
  async killAgent(): Promise<void> {
    const a = this.agent;
    if (!a || a.child.exitCode !== null || a.child.signalCode !== null) return;
    // The agent is nsenter's child in the same process group; SIGKILL the group.
    process.kill(-a.child.pid!, 'SIGKILL');
    await a.exited;
  }

  async tearDown(): Promise<void> {
    if (this.agent) await this.agent.stop(2000).catch(() => {});
    for (const ns of [...this.podNetns, this.nodeNetns]) await run(['ip', 'netns', 'del', ns], { allowFailure: true });
    this.server?.close();
    rmSync(this.pinDir, { recursive: true, force: true });
    rmSync(this.runDir, { recursive: true, force: true });
  }
}
