// cnilab status: the control plane's health, the cluster's nodes, pods per phase, agents' and workload
// processes' health. Exit 1 when the control plane is not serving (restarting, or broken).
import { existsSync, readdirSync } from 'node:fs';
import { clientFor, clusterName, parseFlags } from './common.js';
import { paths, RUN_ROOT } from '../cluster/names.js';
import { controlPlaneHealth, daemonLogTail } from '../cluster/health.js';
import { NotFoundError } from '../errors.js';
import type { WorkloadProcessStatus } from '../providers/netns/workloads.js';
import type { ClusterSpec } from '../cluster/spec.js';

export async function status(args: string[]): Promise<number> {
  const { values } = parseFlags(args, { name: { type: 'string' }, output: { type: 'string', short: 'o' } }, false);
  if (values.help) {
    process.stdout.write('usage: cnilab status [--name NAME] [-o json]\n');
    return 0;
  }
  const name = clusterName(values);
  // The control plane first: a dead or restarting one is the answer (exit 1), not an ECONNREFUSED.
  const cp = await controlPlaneHealth(name);
  if (cp.state === 'absent') throw new NotFoundError(`${cp.message}; start it with \`cnilab up --name ${name}\``);
  if (cp.state !== 'running') {
    if (values.output === 'json') process.stdout.write(`${JSON.stringify({ controlPlane: cp }, null, 2)}\n`);
    else {
      const tail = daemonLogTail(name);
      process.stdout.write(`cluster ${name}: ${cp.state.toUpperCase()}: ${cp.message}\n`);
      if (tail) process.stdout.write(`last lines of ${paths.daemonLog(name)}:\n${tail.replace(/^/gm, '  ')}\n`);
      if (cp.state === 'broken') process.stdout.write(`remove it with \`cnilab down --name ${name}\`\n`);
    }
    return 1;
  }
  const client = clientFor(name);
  const spec: ClusterSpec = await client.cluster();
  const workloads = await client.getPath<WorkloadProcessStatus[]>('/v1/workloads').catch(() => [] as WorkloadProcessStatus[]);
  const pods = await client.list('Pod');
  const agents = spec.cni === 'cnilab' ? await client.getPath<Array<{ node: string; restarts: number; pid?: number }>>('/v1/agents') : [];
  const agentHealth = await Promise.all(
    agents.map(async (a) => ({ ...a, health: await agentHealthz(name, a.node) })),
  );
  const phases: Record<string, number> = {};
  const notReady: string[] = [];
  for (const p of pods) {
    const st = p.status as { phase?: string; conditions?: Array<{ type: string; status: string }> } | undefined;
    const ph = st?.phase ?? 'Pending';
    phases[ph] = (phases[ph] ?? 0) + 1;
    if (ph === 'Running' && st?.conditions?.some((c) => c.type === 'Ready' && c.status !== 'True')) notReady.push(`${p.metadata.namespace}/${p.metadata.name}`);
  }
  if (values.output === 'json') {
    process.stdout.write(`${JSON.stringify({ controlPlane: cp, cluster: spec, pods: phases, notReady, agents: agentHealth, workloads }, null, 2)}\n`);
    return 0;
  }
  const others = existsSync(RUN_ROOT) ? readdirSync(RUN_ROOT).filter((c) => c !== name) : [];
  const out = [
    `cluster ${spec.name}: cni ${spec.cni}, routing ${spec.routing}, pod MTU ${spec.podMtu}, underlay ${spec.underlaySubnet}, pods ${spec.podSubnet}`,
    `control plane: ${cp.message}${cp.unsupervised ? ' — WARNING: its supervisor is not running, a crash would not be restarted' : ''}`,
    `pods: ${Object.entries(phases).map(([k, v]) => `${v} ${k}`).join(', ') || 'none'}${notReady.length ? `; not ready: ${notReady.join(', ')}` : ''}`,
    'nodes:',
    ...spec.nodes.map((n) => {
      const a = agentHealth.find((x) => x.node === n.name);
      const agent = spec.cni === 'cnilab' ? `  agent ${a?.health ?? 'unknown'} (restarts ${a?.restarts ?? '?'})` : '';
      const count = pods.filter((p) => (p.spec as { nodeName?: string }).nodeName === n.name).length;
      const w = workloads.find((x) => x.node === n.name);
      const wl = w ? `  workloads ${w.state}${w.restarts ? ` (restarts ${w.restarts})` : ''}` : '';
      return `  ${n.name.padEnd(12)} ${n.underlayIp.padEnd(15)} ${n.podCidr.padEnd(18)} ${count} pods${agent}${wl}`;
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
