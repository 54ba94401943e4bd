// How cnilab forwards, seen from the pods and from the flows, where a successful probe says nothing:
//   ttl   — every node that routes a packet is a router hop and decrements its TTL, as the kernel would:
//           an echo reply from a pod on the same node arrives with TTL 63 (64 − 1), from another
//           node with 62 (the sender's node and the receiver's), in tunnel and native mode alike;
//   flows — one TCP connection same-node and one across nodes, found in the nodes' flows: the SYN and
//           the SYN-ACK at the observation points Hubble names, the SYN's TO_ENDPOINT with direction
//           INGRESS, the right source and destination identities, the SYN-ACK marked as a reply and
//           carrying its connection's direction (EGRESS, as Hubble reports replies).
import { AgentClient } from '../../agent/api/client.js';
import type { Flow } from '../../agent/observer/flow.js';
import { shellQuote } from '../../harness/exec/run.js';
import type { Evidence } from '../../reports/model.js';
import type { CheckOutcome, ResolvedPod, ScenarioContext } from '../framework/model.js';
import { agentApiUnavailable, probeThrough, providerOf } from '../framework/provider-access.js';
import { POD_TCP_PORT, connPods } from './workload.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The TTL of a ping's reply ("64 bytes from …: icmp_seq=1 ttl=62 time=…"). */
export function replyTtl(pingOutput: string): number | undefined {
  const m = /\bttl=(\d+)/.exec(pingOutput);
  return m ? Number(m[1]) : undefined;
}

/** Echo replies cross the same hops as the requests; the replying pod starts at 64. */
export const expectedReplyTtl = (sameNode: boolean) => (sameNode ? 63 : 62);

function pairs(pods: ResolvedPod[]): Array<{ src: ResolvedPod; dst: ResolvedPod; same: boolean }> {
  const src = pods[0]!;
  const same = pods.find((p) => p !== src && p.node === src.node)!;
  const other = pods.find((p) => p.node !== src.node)!;
  return [
    { src, dst: same, same: true },
    { src, dst: other, same: false },
  ];
}

export async function checkTtl(ctx: ScenarioContext): Promise<CheckOutcome[]> {
  return Promise.all(
    pairs(connPods(ctx)).map(async ({ src, dst, same }) => {
      const r = await probeThrough(providerOf(ctx), { pod: src }, { protocol: 'icmp', host: dst.ip, timeoutMs: 1500 });
      const ttl = r.ok ? replyTtl(r.stdout) : undefined;
      const want = expectedReplyTtl(same);
      const command = shellQuote(r.command);
      return {
        id: same ? 'same-node' : 'cross-node',
        name: `echo reply ${dst.key} → ${src.key} (${same ? 'same node: one router hop' : 'across nodes: two router hops'}) has TTL ${want}`,
        from: src.key,
        to: dst.key,
        protocol: 'icmp',
        passed: ttl === want,
        ...(ttl === undefined ? { verdict: 'unavailable' as const } : {}),
        expected: `reply TTL ${want}`,
        observed: ttl === undefined ? `no reply TTL (${r.outcome})` : `reply TTL ${ttl}`,
        command,
        evidence: [{ kind: 'probe', command, exit: r.exitCode, observed: r.stdout.split('\n').find((l) => /ttl=/.test(l)) ?? r.stdout.trim().slice(0, 200) }],
        tags: { kind: 'ttl' },
      } satisfies CheckOutcome;
    }),
  );
}

export interface FlowExpectation {
  node: string;
  what: string;
  match: (f: Flow) => boolean;
  want: Partial<Pick<Flow, 'traffic_direction' | 'trace_observation_point' | 'is_reply'>> & { srcIdentity: number; dstIdentity: number };
}

const hasFlags = (f: Flow, flags: string[]) => {
  const got = Object.keys(f.l4?.TCP?.flags ?? {}).sort();
  return got.join(',') === [...flags].sort().join(',');
};

/** What one connection src → dst must leave in the flows (see the file comment). Pure. */
export function connectionExpectations(src: { ip: string; node: string; identity: number }, dst: { ip: string; node: string; identity: number }, port: number, routing: string): FlowExpectation[] {
  const fwd = (f: Flow) => f.IP.source === src.ip && f.IP.destination === dst.ip && f.l4?.TCP?.destination_port === port;
  const rev = (f: Flow) => f.IP.source === dst.ip && f.IP.destination === src.ip && f.l4?.TCP?.source_port === port;
  const out: FlowExpectation[] = [
    { node: dst.node, what: 'SYN delivered to the server', match: (f) => fwd(f) && hasFlags(f, ['SYN']) && f.trace_observation_point === 'TO_ENDPOINT', want: { traffic_direction: 'INGRESS', is_reply: false, srcIdentity: src.identity, dstIdentity: dst.identity } },
    // A reply carries its connection's direction, as Hubble decodes it (source endpoint != is_reply →
    // EGRESS): the client's connection is egress, so is its SYN-ACK.
    { node: src.node, what: 'SYN-ACK delivered to the client', match: (f) => rev(f) && hasFlags(f, ['SYN', 'ACK']) && f.trace_observation_point === 'TO_ENDPOINT', want: { traffic_direction: 'EGRESS', is_reply: true, srcIdentity: dst.identity, dstIdentity: src.identity } },
  ];
  if (src.node !== dst.node) {
    const point = routing === 'native' ? 'TO_NETWORK' : 'TO_OVERLAY';
    out.push({ node: src.node, what: `SYN sent ${point === 'TO_OVERLAY' ? 'into the tunnel' : 'to the network'}`, match: (f) => fwd(f) && hasFlags(f, ['SYN']) && f.trace_observation_point === point, want: { traffic_direction: 'EGRESS', is_reply: false, srcIdentity: src.identity, dstIdentity: dst.identity } });
  }
  return out;
}

/** Problems of one expectation against a node's flows; [] when a matching flow has the wanted fields. */
export function flowProblems(e: FlowExpectation, flows: Flow[]): string[] {
  const found = flows.filter(e.match);
  if (!found.length) return [`${e.node}: no flow for the ${e.what}`];
  const f = found[found.length - 1]!;
  const p: string[] = [];
  if (e.want.traffic_direction && f.traffic_direction !== e.want.traffic_direction) p.push(`${e.node}: ${e.what}: direction ${f.traffic_direction}, expected ${e.want.traffic_direction}`);
  if (e.want.is_reply !== undefined && f.is_reply !== e.want.is_reply) p.push(`${e.node}: ${e.what}: is_reply ${f.is_reply}, expected ${e.want.is_reply}`);
  if (f.source.identity !== e.want.srcIdentity) p.push(`${e.node}: ${e.what}: source identity ${f.source.identity}, expected ${e.want.srcIdentity}`);
  if (f.destination.identity !== e.want.dstIdentity) p.push(`${e.node}: ${e.what}: destination identity ${f.destination.identity}, expected ${e.want.dstIdentity}`);
  return p;
}

export async function checkConnectionFlows(ctx: ScenarioContext): Promise<CheckOutcome[]> {
  const noAgents = agentApiUnavailable(ctx);
  if (noAgents) {
    return pairs(connPods(ctx)).map(({ src, dst, same }) => ({ id: same ? 'same-node' : 'cross-node', name: `flows of tcp ${src.key} → ${dst.key} (${same ? 'same node' : 'across nodes'})`, from: src.key, to: dst.key, protocol: 'tcp', port: POD_TCP_PORT, passed: false, verdict: 'unavailable' as const, expected: 'SYN and SYN-ACK at their observation points, TO_ENDPOINT INGRESS, right identities, the SYN-ACK a reply', observed: `not checked: ${noAgents}`, tags: { kind: 'flows' } }));
  }
  const identities = new Map<string, number>();
  for (const n of ctx.spec.nodes) for (const e of await new AgentClient(ctx.spec.name, n.name).endpoints()) identities.set(e.ip, e.identity);
  const out: CheckOutcome[] = [];
  for (const { src, dst, same } of pairs(connPods(ctx))) {
    const id = same ? 'same-node' : 'cross-node';
    const base = { id, name: `flows of tcp ${src.key} → ${dst.key} (${same ? 'same node' : 'across nodes'})`, from: src.key, to: dst.key, protocol: 'tcp', port: POD_TCP_PORT, expected: 'SYN and SYN-ACK at their observation points, TO_ENDPOINT INGRESS, right identities, the SYN-ACK a reply', tags: { kind: 'flows' } };
    const si = identities.get(src.ip);
    const di = identities.get(dst.ip);
    if (si === undefined || di === undefined) {
      out.push({ ...base, passed: false, verdict: 'unavailable', observed: 'the agents report no identity for the pods' });
      continue;
    }
    const r = await probeThrough(providerOf(ctx), { pod: src }, { protocol: 'tcp', host: dst.ip, port: POD_TCP_PORT, timeoutMs: 1500 });
    if (!r.ok) {
      out.push({ ...base, passed: false, observed: `the connection failed (${r.outcome})`, command: shellQuote(r.command) });
      continue;
    }
    const exps = connectionExpectations({ ip: src.ip, node: src.node, identity: si }, { ip: dst.ip, node: dst.node, identity: di }, POD_TCP_PORT, ctx.spec.routing);
    let problems: string[] = [];
    const evidence: Evidence[] = [{ kind: 'probe', command: shellQuote(r.command), exit: r.exitCode, observed: 'connected' }];
    // Events reach the agents' rings asynchronously; look again for a short while before judging.
    for (let attempt = 0; attempt < 10; attempt++) {
      const flows = new Map<string, Flow[]>();
      for (const node of new Set(exps.map((e) => e.node))) flows.set(node, (await new AgentClient(ctx.spec.name, node).flows(1000)).flows);
      problems = exps.flatMap((e) => flowProblems(e, flows.get(e.node)!));
      if (!problems.some((p) => /no flow/.test(p)) || attempt === 9) {
        for (const e of exps) {
          const f = flows.get(e.node)!.filter(e.match).pop();
          evidence.push({ kind: 'flow', command: `agent ${e.node} GET /v1/flows?last=1000`, observed: f ? `${e.what}: ${f.trace_observation_point} ${f.traffic_direction} reply=${f.is_reply} ${f.source.identity}→${f.destination.identity}` : `${e.what}: none` });
        }
        break;
      }
      await sleep(150);
    }
    out.push({ ...base, passed: problems.length === 0, observed: problems.length ? problems.join('; ') : `${exps.length} flows as expected`, evidence });
  }
  return out;
}
