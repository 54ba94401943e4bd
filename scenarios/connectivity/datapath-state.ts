// Checks of what cnilab's agents and datapath hold, read through the agents' APIs, where a probe alone
// cannot tell right from wrong:
//   - a packet to an unassigned address of another node's pod CIDR must be dropped there, as
//     STALE_OR_UNROUTABLE_IP, with its flow event and its counter (a drop without its event, or a
//     probe tool that reads a timeout as success, is noticed here);
//   - identities: one per label set, cluster-wide, and every node's ipcache names each remote pod with
//     its identity and the underlay address of the node that hosts it (a tunnel to the wrong node);
//   - a deleted pod's address leaves every node's endpoint map and ipcache (a stale ipcache).
import { AgentClient } from '../../agent/api/client.js';
import { DROP_REASON } from '../../agent/datapath/constants.js';
import { podSecurityLabels } from '../../agent/identity/labels.js';
import { waitPodsReady } from '../../harness/cli/wait.js';
import { formatIpv4, nthAddress, parseCidr } from '../../harness/cluster/cidr.js';
import type { Evidence } from '../../reports/model.js';
import type { CheckOutcome, ScenarioContext } from '../framework/model.js';
import { agentApiUnavailable, probeThrough, providerOf } from '../framework/provider-access.js';
import { probeOutcome } from '../faults/measure.js';
import { CONN_NAMESPACE, POD_TCP_PORT, connNodes, connPods } from './workload.js';
import { netexecPod } from '../framework/pods.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const STALE = DROP_REASON.STALE_OR_UNROUTABLE_IP;

/** An address of `node`'s pod CIDR that no pod has: the highest host address not in use. */
export function unassignedAddress(podCidr: string, used: Set<string>): string {
  const c = parseCidr(podCidr)!;
  const size = 2 ** (32 - c.prefix);
  for (let i = size - 2; i > 1; i--) {
    const ip = formatIpv4(nthAddress(c, i));
    if (!used.has(ip)) return ip;
  }
  throw new Error(`no free address in ${podCidr}`);
}

async function dropPackets(cluster: string, node: string, reason: number): Promise<bigint> {
  const m = await new AgentClient(cluster, node).maps();
  return m.drops.filter((d) => d.reason === reason).reduce((a, d) => a + BigInt(d.packets), 0n);
}

/** Probe an unassigned remote pod address: it must time out (nothing answers), and with the cnilab CNI
 *  the destination node must show the drop as a flow and in its counter. */
export async function checkUnassignedAddressDropped(ctx: ScenarioContext): Promise<CheckOutcome[]> {
  const pods = connPods(ctx);
  const [n1, n2] = connNodes(ctx.spec);
  const src = pods.find((p) => p.node === n1)!;
  const dstNode = ctx.spec.nodes.find((n) => n.name === n2)!;
  const target = unassignedAddress(dstNode.podCidr, new Set([...ctx.pods.values()].map((p) => p.ip)));
  const cnilab = ctx.spec.cni === 'cnilab';
  const noAgents = agentApiUnavailable(ctx);
  const before = cnilab && !noAgents ? await dropPackets(ctx.spec.name, n2!, STALE) : 0n;
  const startedAt = Date.now();
  const r = await probeThrough(providerOf(ctx), { pod: src }, { protocol: 'tcp', host: target, port: POD_TCP_PORT, timeoutMs: 1000 });
  const out: CheckOutcome[] = [
    probeOutcome(r, { outcome: 'timeout', failure: ['TIMEOUT'] }, { id: 'probe', name: `negative control: tcp ${src.key} → ${target} (unassigned, on ${n2}) times out`, from: src.key, to: target, protocol: 'tcp', port: POD_TCP_PORT, tags: { kind: 'control' } }),
  ];
  if (!cnilab) return out;
  if (noAgents) {
    const tags = { kind: 'control', dropReason: String(STALE) };
    out.push({ id: 'drop-flow', name: `${n2} reports the drop of ${src.key} → ${target} as a flow (STALE_OR_UNROUTABLE_IP)`, passed: false, verdict: 'unavailable', expected: `a DROPPED flow ${src.ip} → ${target} on ${n2}`, observed: `not checked: ${noAgents}`, tags });
    out.push({ id: 'drop-counter', name: `${n2} counts the drop (reason ${STALE})`, passed: false, verdict: 'unavailable', expected: `drop counter of reason ${STALE} on ${n2} grows`, observed: `not checked: ${noAgents}`, tags });
    return out;
  }
  // The event reaches the agent's ring asynchronously: give it a moment, then look.
  const agent = new AgentClient(ctx.spec.name, n2!);
  let seen: { verdict: string; drop_reason?: number; drop_reason_desc?: string; node_name: string; time: string } | undefined;
  for (let i = 0; i < 20 && !seen; i++) {
    const { flows } = await agent.flows(500);
    seen = flows.find((f) => f.verdict === 'DROPPED' && f.IP.destination === target && f.IP.source === src.ip && Date.parse(f.time) >= startedAt - 1000);
    if (!seen) await sleep(100);
  }
  const after = await dropPackets(ctx.spec.name, n2!, STALE);
  const flowOk = !!seen && (seen.drop_reason === STALE || seen.drop_reason_desc === 'STALE_OR_UNROUTABLE_IP');
  out.push({
    id: 'drop-flow',
    name: `${n2} reports the drop of ${src.key} → ${target} as a flow (STALE_OR_UNROUTABLE_IP)`,
    passed: flowOk,
    expected: `a DROPPED flow ${src.ip} → ${target}, drop_reason ${STALE} STALE_OR_UNROUTABLE_IP, on ${n2}`,
    observed: seen ? `${seen.verdict} ${seen.drop_reason_desc ?? seen.drop_reason ?? ''} on ${seen.node_name}` : `no DROPPED flow to ${target} among ${n2}'s last 500`,
    evidence: [{ kind: 'flow', command: `agent ${n2} GET /v1/flows?last=500`, observed: seen ? JSON.stringify(seen).slice(0, 300) : 'none' }],
    tags: { kind: 'control', dropReason: String(STALE) },
  });
  out.push({
    id: 'drop-counter',
    name: `${n2} counts the drop (reason ${STALE})`,
    passed: after > before,
    expected: `drop counter of reason ${STALE} on ${n2} grows`,
    observed: `${before} → ${after} packets`,
    evidence: [{ kind: 'counter', command: `agent ${n2} GET /v1/maps (drops, reason ${STALE})`, observed: `${before} → ${after}` }],
    tags: { kind: 'control', dropReason: String(STALE) },
  });
  return out;
}

export interface NodeView {
  node: string;
  endpoints: Array<{ ip: string; identity: number; labels: string[]; podNamespace: string; podName: string }>;
  ipcache: Array<{ key: string; identity: number; tunnelEndpoint?: string }>;
}

/** Pure judgement of the identity and ipcache state of every node (see the file comment). `labelsOf`
 *  gives each pod's security labels as its Pod object says (the agents' own view could be wrong
 *  consistently, e.g. an agent that ignores labels agrees with itself). */
export function identityProblems(views: NodeView[], underlayOf: Map<string, string>, tunnel: boolean, labelsOf: (pod: string) => string[] | undefined = () => undefined, minIdentity = 256): string[] {
  const problems: string[] = [];
  const byLabels = new Map<string, number>();
  const byIdentity = new Map<number, string>();
  const home = new Map<string, { node: string; identity: number; pod: string }>();
  for (const v of views) {
    for (const e of v.endpoints) {
      const pod = `${e.podNamespace}/${e.podName}`;
      const declared = labelsOf(pod);
      const key = [...(declared ?? e.labels)].sort().join(',');
      if (declared && declared.join(',') !== [...e.labels].sort().join(',')) problems.push(`${pod}: the agent labels it {${[...e.labels].sort().join(',')}}, its Pod says {${declared.join(',')}}`);
      home.set(e.ip, { node: v.node, identity: e.identity, pod });
      if (e.identity < minIdentity) problems.push(`${pod}: identity ${e.identity} is below ${minIdentity} (reserved range)`);
      const prev = byLabels.get(key);
      if (prev !== undefined && prev !== e.identity) problems.push(`${pod}: identity ${e.identity}, but the same labels have ${prev} elsewhere`);
      byLabels.set(key, e.identity);
      const owner = byIdentity.get(e.identity);
      if (owner !== undefined && owner !== key) problems.push(`identity ${e.identity} is shared by different label sets: {${owner}} and {${key}}`);
      byIdentity.set(e.identity, key);
    }
  }
  for (const v of views) {
    const cache = new Map(v.ipcache.map((c) => [c.key.replace(/\/32$/, ''), c]));
    for (const [ip, h] of home) {
      if (h.node === v.node) continue;
      const c = cache.get(ip);
      if (!c) {
        problems.push(`${v.node}: no ipcache entry for ${h.pod} (${ip})`);
        continue;
      }
      if (c.identity !== h.identity) problems.push(`${v.node}: ipcache says identity ${c.identity} for ${h.pod}, its node says ${h.identity}`);
      const want = underlayOf.get(h.node);
      if (tunnel && c.tunnelEndpoint !== want) problems.push(`${v.node}: ipcache tunnels ${h.pod} to ${c.tunnelEndpoint ?? 'nowhere'}, it lives on ${h.node} (${want})`);
    }
  }
  return problems;
}

/** How long the identity and ipcache state may take to settle before its problems count. */
const CONVERGE_MS = 5_000;
const IDENTITY_EXPECTED = `one identity per label set cluster-wide; every node tunnels each remote pod to its own node with its identity (settled within ${CONVERGE_MS / 1000} s)`;

async function nodeViews(ctx: ScenarioContext): Promise<NodeView[]> {
  return Promise.all(
    ctx.spec.nodes.map(async (n) => {
      const a = new AgentClient(ctx.spec.name, n.name);
      const [endpoints, ipcache] = await Promise.all([a.endpoints(), a.ipcache()]);
      return { node: n.name, endpoints, ipcache };
    }),
  );
}

export async function checkIdentitiesAndIpcache(ctx: ScenarioContext): Promise<CheckOutcome> {
  const noAgents = agentApiUnavailable(ctx);
  if (noAgents) return { passed: false, verdict: 'unavailable', expected: IDENTITY_EXPECTED, observed: `not checked: ${noAgents}`, tags: { kind: 'identity' } };
  const nsLabels = new Map((await ctx.client.list('Namespace')).map((n) => [n.metadata.name, n.metadata.labels as Record<string, string> | undefined]));
  const declared = new Map(
    (await ctx.client.list('Pod')).map((p) => {
      const ns = p.metadata.namespace ?? 'default';
      return [`${ns}/${p.metadata.name}`, podSecurityLabels(ns, p.metadata.labels as Record<string, string> | undefined, nsLabels.get(ns))];
    }),
  );
  const underlayOf = new Map(ctx.spec.nodes.map((n) => [n.name, n.underlayIp]));
  // The agents' state is eventually consistent (a remote pod's ipcache entry follows its CiliumEndpoint; two
  // agents that numbered the same new label set at once converge on the lower number): it must settle
  // within CONVERGE_MS, and what it is then is the verdict.
  const deadline = Date.now() + CONVERGE_MS;
  let views = await nodeViews(ctx);
  let problems = identityProblems(views, underlayOf, ctx.spec.routing === 'tunnel', (pod) => declared.get(pod));
  while (problems.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    views = await nodeViews(ctx);
    problems = identityProblems(views, underlayOf, ctx.spec.routing === 'tunnel', (pod) => declared.get(pod));
  }
  const count = views.reduce((a, v) => a + v.endpoints.length, 0);
  const evidence: Evidence[] = views.map((v) => ({ kind: 'api', command: `agent ${v.node} GET /v1/endpoints, /v1/ipcache`, observed: `${v.endpoints.length} endpoints (${[...new Set(v.endpoints.map((e) => e.identity))].join(',')}), ${v.ipcache.length} ipcache entries` }));
  return {
    passed: count > 0 && problems.length === 0,
    ...(count === 0 ? { verdict: 'unavailable' as const } : {}),
    expected: IDENTITY_EXPECTED,
    observed: count === 0 ? 'no endpoint reported by any agent' : problems.length ? `${problems.length} problem(s): ${problems.slice(0, 3).join('; ')}` : `${count} endpoints consistent on ${views.length} nodes`,
    ...(problems.length ? { detail: problems.join('\n') } : {}),
    evidence,
    tags: { kind: 'identity' },
  };
}

const TEMP_POD = 'conn-ephemeral';

/** A pod is created on the last node, seen in every other node's ipcache, deleted, and must vanish
 *  from every endpoint map and ipcache within the budget. */
export async function checkDeletedPodForgotten(ctx: ScenarioContext): Promise<CheckOutcome> {
  const nodes = connNodes(ctx.spec);
  const home = nodes[nodes.length - 1]!;
  const budgetMs = 10_000;
  const base = { expected: `gone from every endpoint map and ipcache within ${budgetMs} ms of the deletion`, tags: { kind: 'ipcache' } };
  const noAgents = agentApiUnavailable(ctx);
  if (noAgents) return { ...base, passed: false, verdict: 'unavailable', observed: `not checked: ${noAgents}` };
  await ctx.client.delete('Pod', CONN_NAMESPACE, TEMP_POD).catch(() => undefined);
  await ctx.client.apply([netexecPod({ name: TEMP_POD, namespace: CONN_NAMESPACE, node: home, labels: { app: 'cnilab-conn-ephemeral' }, httpPort: POD_TCP_PORT })]);
  await waitPodsReady(ctx.client, [{ namespace: CONN_NAMESPACE, name: TEMP_POD }], 30_000);
  const ip = ((await ctx.client.get('Pod', CONN_NAMESPACE, TEMP_POD)).status as { podIP?: string } | undefined)?.podIP;
  if (!ip) return { ...base, passed: false, verdict: 'unavailable', observed: 'the pod got no IP' };
  const holders = async () => {
    const views = await nodeViews(ctx);
    return views.flatMap((v) => [
      ...(v.endpoints.some((e) => e.ip === ip) ? [`${v.node} endpoints`] : []),
      ...(v.ipcache.some((c) => c.key.replace(/\/32$/, '') === ip) ? [`${v.node} ipcache`] : []),
    ]);
  };
  // Known everywhere first, or its disappearance proves nothing.
  const t0 = Date.now();
  let held = await holders();
  while (held.length < nodes.length && Date.now() - t0 < budgetMs) {
    await sleep(100);
    held = await holders();
  }
  const knownBy = held.join(', ');
  await ctx.client.delete('Pod', CONN_NAMESPACE, TEMP_POD);
  const t1 = Date.now();
  do {
    held = await holders();
    if (!held.length) break;
    await sleep(100);
  } while (Date.now() - t1 < budgetMs);
  const ms = Date.now() - t1;
  return {
    ...base,
    passed: knownBy !== '' && held.length === 0,
    observed: held.length ? `${ip} still held by ${held.join(', ')} ${ms} ms after the deletion` : `${ip} (held by ${knownBy}) forgotten everywhere in ${ms} ms`,
    evidence: [{ kind: 'api', command: 'agent GET /v1/endpoints, /v1/ipcache on every node', observed: `before: ${knownBy}; after: ${held.join(', ') || 'none'}` }],
  };
}

