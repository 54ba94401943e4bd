// cnilab observe: the flows the datapath reported, merged from every node's agent and sorted by time
// (a first, debug version of the Hubble-style observer; filters and follow mode come with the
// visibility work). Output like `hubble observe`: one compact line per flow, or -o json.
import { clientFor, clusterName, parseFlags } from './common.js';
import { InvalidInputError } from '../errors.js';
import type { ClusterSpec } from '../cluster/spec.js';
import type { Flow } from '../../agent/observer/flow.js';

function endpointName(e: Flow['source'], ip: string, port?: number): string {
  const who = e.pod_name ? `${e.namespace}/${e.pod_name}` : ip;
  return port !== undefined ? `${who}:${port}` : who;
}

export function compactFlow(f: Flow): string {
  const tcp = f.l4?.TCP;
  const udp = f.l4?.UDP;
  const sport = tcp?.source_port ?? udp?.source_port;
  const dport = tcp?.destination_port ?? udp?.destination_port;
  const what = tcp ? `TCP Flags: ${Object.keys(tcp.flags ?? {}).join(', ')}` : udp ? 'UDP' : f.l4?.ICMPv4 ? `ICMPv4 type ${f.l4.ICMPv4.type}` : '';
  const point = f.verdict === 'DROPPED' ? `DROPPED (${f.drop_reason_desc})` : `${f.trace_observation_point ?? 'FORWARDED'} FORWARDED`;
  const src = `${endpointName(f.source, f.IP.source, sport)} (ID:${f.source.identity})`;
  const dst = `${endpointName(f.destination, f.IP.destination, dport)} (ID:${f.destination.identity})`;
  // As hubble prints them: a reply keeps the connection's initiator on the left, arrow reversed.
  const pair = f.is_reply ? `${dst} <- ${src}` : `${src} -> ${dst}`;
  return `${f.time}  ${f.node_name}  ${pair} ${point} ${what}`.trimEnd();
}

export async function observe(args: string[]): Promise<number> {
  const { values } = parseFlags(args, {
    name: { type: 'string' },
    node: { type: 'string' },
    last: { type: 'string' },
    verdict: { type: 'string' },
    output: { type: 'string', short: 'o' },
  }, false);
  if (values.help) {
    process.stdout.write('usage: cnilab observe [--node NODE] [--last N] [--verdict FORWARDED|DROPPED] [-o json]\n');
    return 0;
  }
  const last = values.last === undefined ? 20 : Number(values.last);
  if (!Number.isInteger(last) || last < 1) throw new InvalidInputError('--last', `expected a whole number ≥ 1, got "${values.last}"`);
  if (values.verdict !== undefined && !['FORWARDED', 'DROPPED'].includes(values.verdict)) {
    throw new InvalidInputError('--verdict', `expected FORWARDED or DROPPED, got "${values.verdict}"`);
  }
  if (values.output !== undefined && values.output !== 'json') throw new InvalidInputError('--output', `expected json, got "${values.output}"`);
  const name = clusterName(values);
  const spec: ClusterSpec = await clientFor(name).cluster();
  if (spec.cni !== 'cnilab') throw new InvalidInputError('--name', `cluster "${name}" runs the ${spec.cni} CNI, which reports no flows`);
  const nodes = values.node ? [values.node] : spec.nodes.map((n) => n.name);
  for (const n of nodes) if (!spec.nodes.some((s) => s.name === n)) throw new InvalidInputError('--node', `no node "${n}" in cluster "${name}"`);
  const { AgentClient } = await import('../../agent/api/client.js');
  const flows = (await Promise.all(nodes.map(async (n) => (await new AgentClient(name, n).flows(last)).flows))).flat();
  const shown = flows
    .filter((f) => !values.verdict || f.verdict === values.verdict)
    .sort((a, b) => a.time.localeCompare(b.time))
    .slice(-last);
  for (const f of shown) process.stdout.write(values.output === 'json' ? `${JSON.stringify({ flow: f })}\n` : `${compactFlow(f)}\n`);
  return 0;
}
