// Node faults on the embedded cluster, done from this host: the agents and birds are processes here
// (found by their argv and pidfiles), the agents' API is their unix socket, and a node's "cable" is its
// port on the fabric bridge (the fabric namespace), so pulling it leaves the node's own side untouched,
// as a real pulled cable does.
import { existsSync } from 'node:fs';
import { AgentClient } from '../../../agent/api/client.js';
import { netnsNames, paths } from '../../cluster/names.js';
import { run } from '../../exec/run.js';
import type { BgpSession } from '../../../lib/bgp/bird.js';
import { dropPackets, type AgentHealth, type BirdAction, type NodeFaults, type NodeRoute } from '../common/faults.js';
import { birdFiles, birdc, parseShowProtocols, runningBirdPid, startBird } from './bgp.js';
import { birdKernelRoutes } from './bgp-convergence.js';
import { listProcesses } from './sweep.js';

/** The node an agent process serves, from its argv (node dist/agent/main.js --cnilab-cluster=C --config=…/nodes/N/agent-config.yaml). */
export function agentNodeOf(cmd: string): string | undefined {
  const config = cmd.split(' ').find((a) => a.startsWith('--config='));
  return config?.match(/\/nodes\/([^/]+)\/agent-config\.yaml$/)?.[1];
}

/** The agent process of each node. */
export function agentPids(cluster: string, nodes: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const p of listProcesses([], cluster)) {
    if (!p.cmd.includes('agent/main.js')) continue;
    const node = agentNodeOf(p.cmd);
    if (node && nodes.includes(node)) out.set(node, p.pid);
  }
  return out;
}

export const nodeBirdFiles = (cluster: string, node: string) => birdFiles(paths.nodeDir(cluster, node));

export class NetnsNodeFaults implements NodeFaults {
  constructor(readonly cluster: string) {}

  async killAgents(nodes: string[]): Promise<Map<string, number>> {
    const pids = agentPids(this.cluster, nodes);
    const missing = nodes.filter((n) => !pids.has(n));
    if (missing.length) throw new Error(`no agent process found for ${missing.join(', ')} of cluster ${this.cluster}`);
    for (const pid of pids.values()) process.kill(pid, 'SIGKILL');
    return pids;
  }

  async agentPid(node: string): Promise<number | undefined> {
    return agentPids(this.cluster, [node]).get(node);
  }

  agentHealth(node: string, timeoutMs = 1000): Promise<AgentHealth> {
    return new AgentClient(this.cluster, node).healthz(timeoutMs);
  }

  async dropCount(node: string, reason: number): Promise<bigint> {
    return dropPackets((await new AgentClient(this.cluster, node).maps()).drops, reason);
  }

  private birdPid(node: string): number {
    const pid = runningBirdPid(nodeBirdFiles(this.cluster, node).pid);
    if (pid === undefined) throw new Error(`bird of ${node} is not running (${nodeBirdFiles(this.cluster, node).pid})`);
    return pid;
  }

  async bird(node: string, action: BirdAction): Promise<void> {
    const files = nodeBirdFiles(this.cluster, node);
    switch (action) {
      case 'kill':
        return void process.kill(this.birdPid(node), 'SIGKILL');
      case 'freeze':
        return void process.kill(this.birdPid(node), 'SIGSTOP');
      case 'thaw':
        return void process.kill(this.birdPid(node), 'SIGCONT');
      case 'down':
        this.birdPid(node);
        return void (await run(['birdc', '-s', files.ctl, 'down'], { timeoutMs: 5000 }));
      case 'restore': {
        // Continue a stopped one; start a dead one with the agent's own files (the next agent adopts it).
        const pid = runningBirdPid(files.pid);
        if (pid !== undefined) return void process.kill(pid, 'SIGCONT');
        if (!existsSync(files.conf)) throw new Error(`no ${files.conf}: the agent of ${node} never configured bird`);
        return startBird(files, netnsNames.node(this.cluster, node));
      }
    }
  }

  async setLink(node: string, state: 'up' | 'down'): Promise<void> {
    await run(['ip', '-n', netnsNames.fabric(this.cluster), 'link', 'set', node, state], { timeoutMs: 5000 });
  }

  birdRoutes(node: string): Promise<NodeRoute[]> {
    return birdKernelRoutes(netnsNames.node(this.cluster, node));
  }

  async bgpSessions(node: string): Promise<BgpSession[]> {
    return parseShowProtocols(await birdc(nodeBirdFiles(this.cluster, node).ctl, ['show', 'protocols'], 2000)).filter((s) => s.proto === 'BGP');
  }
}
