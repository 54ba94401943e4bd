// cnilab status: the cluster's nodes, pods per phase and agents' health.
import { existsSync, readdirSync } from 'node:fs';
import { clientFor, clusterName, parseFlags } from './common.js';
import { RUN_ROOT } from '../cluster/names.js';
import type { ClusterSpec } from '../cluster/spec.js';

export async function status(args: string[]): Promise<number> {
  const { values } = parseFlags(args, { name: { type: 'string' }, output: { type: 'string', short: 'o' } }, false);
  if (values.help) {
    process.stdout.write('usage: cnilab status [--name NAME] [-o json]\n');
    return 0;
  }
  const name = clusterName(values);
  const client = clientFor(name);
  const spec: ClusterSpec = await client.cluster();
  const pods = await client.list('Pod');
  const agents = spec.cni === 'cnilab' ? await client.getPath<Array<{ node: string; restarts: number; pid?: number }>>('/v1/agents') : [];
  const agentHealth = await Promise.all(
    agents.map(async (a) => ({ ...a, health: await agentHealthz(name, a.node) })),
  );
  const phases: Record<string, number> = {};
  for (const p of pods) {
    const ph = (p.status as { phase?: string } | undefined)?.phase ?? 'Pending';
    phases[ph] = (phases[ph] ?? 0) + 1;
  }
  if (values.output === 'json') {
    process.stdout.write(`${JSON.stringify({ cluster: spec, pods: phases, agents: agentHealth }, null, 2)}\n`);
    return 0;
  }
  const others = existsSync(RUN_ROOT) ? readdirSync(RUN_ROOT).filter((c) => c !== name) : [];
  const out = [
    `cluster ${spec.name}: cni ${spec.cni}, routing ${spec.routing}, pod MTU ${spec.podMtu}, underlay ${spec.underlaySubnet}, pods ${spec.podSubnet}`,
    `pods: ${Object.entries(phases).map(([k, v]) => `${v} ${k}`).join(', ') || 'none'}`,
    'nodes:',
    ...spec.nodes.map((n) => {
      const a = agentHealth.find((x) => x.node === n.name);
      const agent = spec.cni === 'cnilab' ? `  agent ${a?.health ?? 'unknown'} (restarts ${a?.restarts ?? '?'})` : '';
      const count = pods.filter((p) => (p.spec as { nodeName?: string }).nodeName === n.name).length;
      return `  ${n.name.padEnd(12)} ${n.underlayIp.padEnd(15)} ${n.podCidr.padEnd(18)} ${count} pods${agent}`;
    }),
  ];
  if (others.length) out.push(`other clusters on this host: ${others.join(', ')}`);
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}

async function agentHealthz(cluster: string, node: string): Promise<string> {
  try {
    const { AgentClient } = await import('../../agent/api/client.js');
    const h = await new AgentClient(cluster, node).healthz();
    return h.ok ? 'healthy' : `unhealthy: ${h.message ?? ''}`;
  } catch (e) {
    return `unreachable (${(e as Error).message})`;
  }
}
