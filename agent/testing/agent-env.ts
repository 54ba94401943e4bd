// A one-node-of-two test environment for root tests of the agent, with exactly the inputs the agent
// has on a node: its own node netns, a Kubernetes API it reaches from there (the real embedded API,
// from the test factory, listening on 127.0.0.1:6443 inside the node netns), a kubeconfig and its own
// config file, a pin dir on bpffs and a state dir, all named cnilab-agtest-<rand> so nothing collides
// with a real cluster. The agent is the real dist/agent/main.js started in the node netns.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { stringify } from 'yaml';
import { run, start, type Background } from '../../lib/exec/run.js';
import { distJs } from '../../lib/paths.js';
import { startKubeApi, testNode, type TestKubeApi } from '../../lib/testing/kube-api.js';
import type { KubeObject } from '../../lib/k8s/object.js';
import { AgentClient } from '../api/client.js';
import type { AgentConfigFile } from '../config.js';
import { KubeTransport } from '../k8s/transport.js';
import { RESOURCES, type WatchedKind } from '../k8s/resources.js';

export const TEST_PREFIX = 'cnilab-agtest-';

/** The two nodes of the test cluster, as the cluster spec would number them. */
const NODES = [
  { name: 'node1', podCidr: '198.19.1.0/24', podGateway: '198.19.1.1', underlayIp: '198.18.0.11' },
  { name: 'node2', podCidr: '198.19.2.0/24', podGateway: '198.19.2.1', underlayIp: '198.18.0.12' },
];

export class AgentTestEnv {
  readonly id = randomBytes(3).toString('hex');
  readonly nodeNetns = `${TEST_PREFIX}${this.id}-node1`;
  readonly runDir = mkdtempSync(join(tmpdir(), TEST_PREFIX));
  readonly pinDir = `/sys/fs/bpf/${TEST_PREFIX}${this.id}`;
  readonly nodeDir = join(this.runDir, 'nodes/node1');
  readonly configPath = join(this.runDir, 'nodes/node1/agent-config.yaml');
  readonly agentSocket = join(this.runDir, 'nodes/node1/agent.sock');
  /** What the agent's modules are configured with (the names of the cluster spec's fields). */
  readonly spec = { mtu: 1500, podMtu: 1450, nodes: NODES };
  readonly client = new AgentClient('agtest', 'node1', this.agentSocket);
  api?: TestKubeApi;
  /** The test's own client of the API (host side). */
  kube?: KubeTransport;
  agent?: Background;
  private podNetns: string[] = [];
  agentLog = '';

  async setUp(): Promise<void> {
    mkdirSync(this.nodeDir, { recursive: true });
    await run(['ip', 'netns', 'add', this.nodeNetns]);
    await run(['ip', 'link', 'set', 'lo', 'up'], { netns: this.nodeNetns });
    this.api = await startKubeApi({ netns: `/run/netns/${this.nodeNetns}`, nodes: NODES.map((n) => testNode(n.name, n.podCidr, n.underlayIp)) });
    this.kube = KubeTransport.load(this.api.kubeconfig);
    await this.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } });
    const config: AgentConfigFile = {
      apiVersion: 'cnilab.dev/v1alpha1',
      kind: 'AgentConfig',
      cluster: 'agtest',
      nodeName: 'node1',
      kubeconfig: this.api.netnsKubeconfig!,
      routingMode: 'tunnel',
      mtu: this.spec.mtu,
      podCIDR: NODES[0]!.podCidr,
      nodeIP: NODES[0]!.underlayIp,
      clusterPoolIPv4CIDR: '198.19.0.0/16',
      serviceCIDR: '198.18.128.0/20',
      stateDir: this.nodeDir,
      agentSocket: this.agentSocket,
      bpf: { pinDir: this.pinDir },
    };
    writeFileSync(this.configPath, stringify(config));
  }

  /** Create an object through the Kubernetes API, as a user would. */
  create(obj: KubeObject): Promise<KubeObject> {
    return this.kube!.create(RESOURCES[obj.kind as WatchedKind], obj);
  }
  /** An object as the API has it, or undefined. */
  async get(kind: WatchedKind, namespace: string | undefined, name: string): Promise<KubeObject | undefined> {
    return this.kube!.get(RESOURCES[kind], namespace, name).catch((e) => {
      if ((e as { code?: number }).code === 404) return undefined;
      throw e;
    });
  }
  async list(kind: WatchedKind): Promise<KubeObject[]> {
    return (await this.kube!.list(RESOURCES[kind])).items;
  }

  async addPodNetns(name: string): Promise<string> {
    const ns = `${TEST_PREFIX}${this.id}-${name}`;
    await run(['ip', 'netns', 'add', ns]);
    this.podNetns.push(ns);
    return `/run/netns/${ns}`;
  }

  async startAgent(env: Record<string, string> = {}): Promise<void> {
    rmSync(this.agentSocket, { force: true });
    const agent = start([process.execPath, distJs('agent/main'), `--config=${this.configPath}`], { netns: this.nodeNetns, env });
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
    this.kube?.close();
    await this.api?.close().catch(() => {});
    for (const ns of [...this.podNetns, this.nodeNetns]) await run(['ip', 'netns', 'del', ns], { allowFailure: true });
    rmSync(this.pinDir, { recursive: true, force: true });
    rmSync(this.runDir, { recursive: true, force: true });
  }
}
