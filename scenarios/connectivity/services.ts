// Services in the connectivity suite (cnilab CNI): traffic through a ClusterIP and a NodePort, from pods
// and from nodes, and what the load balancer must get right — every answer from a backend of the
// service (the probe reads which one: netexec /hostname), the service as the peer the client sees
// (reverse translation), a service without endpoints failing at once with drop 158, a backend deleted
// mid-test never chosen again, ClientIP affinity holding, and flows showing the translation.
// Through the netns provider connections are made in-process from sockets created inside the pod's or
// node's namespace (harness/traffic/service-probe.ts), so each check can afford a few dozen of them;
// through any other provider the same exchanges are made by `agnhost cnilab-svc-ask` exec'd in the
// client pod, node-side ones in a hostNetwork pod on the node (services-access.ts). Every check records
// its evidence: the answers tallied with the failure modes of the failed ones (and the exec'd command,
// or a pasteable command equivalent to the in-process probe), the flows, drop counter, agents' view or
// EndpointSlices it read. What needs the embedded cluster's host (an outside host on its fabric, the
// agents' drop counters and flows) reports "unavailable" through other providers.
import type { Scenario, ScenarioContext, CheckOutcome, CustomStep } from '../framework/model.js';
import type { Evidence } from '../../reports/model.js';
import type { FailureMode } from '../../harness/traffic/probe.js';
import { failureTally, httpGet, httpGetAll, tally, type ServiceAnswer } from '../../harness/traffic/service-probe.js';
import { AgentClient } from '../../agent/api/client.js';
import { dropCount } from '../faults/live.js';
import { netexecPod, pausePod } from '../framework/pods.js';
import type { ClusterSpec } from '../../harness/cluster/spec.js';
import type { EndpointSlice, Service } from '../../harness/cluster/objects.js';
import { createOutsideHost, deleteOutsideHost } from '../../harness/providers/netns/network.js';
import { providerOf } from '../framework/provider-access.js';
import { ask, hostOnly, nodeClientName, onEmbeddedHost, SvcToolError, type Asked, type SvcFrom, type SvcQuestion } from './services-access.js';

export type { Asked } from './services-access.js';

export const SVC_NAMESPACE = 'cnilab-svc';
const HTTP_PORT = 8080;
const UDP_PORT = 8081;
const DROP_SERVICE_BACKEND_NOT_FOUND = 158;
/** Connections per check: enough to see more than one backend, few enough to stay quick. */
const TRIES = 12;
/** Per connection: a working one answers in milliseconds; a broken one should not hold the suite up. */
const PROBE_TIMEOUT_MS = 1000;
/** Per datagram (the in-process probe's default). */
const UDP_TIMEOUT_MS = 2000;
/** Outside checks make two kinds of request per node and policy. */
const OUTSIDE_TRIES = 6;
/** ... and go on until a backend on another node answered (externalTrafficPolicy Cluster), up to this. */
const OUTSIDE_MAX_TRIES = 24;
/** How long the agents may take to reprogram a service after a change in the cluster. */
const PROGRAMMING_TIMEOUT_MS = 5000;
/** Through a provider the datapath's view is not readable: after the EndpointSlices drop a backend,
 *  this long is allowed for the CNI to reprogram before new connections are judged (cnilab's agents
 *  take ~15 ms; the check fails if the deleted backend is still chosen afterwards). */
const PROGRAMMING_GRACE_MS = 2000;

const svcNodes = (spec: ClusterSpec) => spec.nodes.slice(0, 3).map((n) => n.name);
const backendName = (node: string) => `web-${node}`;
const clientName = (node: string) => `client-${node}`;
/** A fourth backend, deleted in the middle of the run. */
const EXTRA_BACKEND = 'web-extra';

/** What a provider other than netns cannot give, and why (the checks report "unavailable"). */
const NEEDS_OUTSIDE_HOST = 'a host outside the cluster on the nodes\' network (created in the embedded cluster\'s fabric namespace)';
const NEEDS_AGENT_FLOWS = "cnilab's flows from the agents on the embedded cluster's host (unix sockets)";
const NEEDS_AGENT_DROPS = "cnilab's agents' drop counters on the embedded cluster's host (unix sockets)";

function service(name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: SVC_NAMESPACE }, spec };
}

/** A hostNetwork pod on `node`: the node-side client through a provider (exec runs in the node's
 *  network namespace). The embedded runtime runs it in the node's netns too; the netns path does not
 *  use it (it opens its sockets in the node's namespace itself). */
function nodeClientPod(node: string): Record<string, unknown> {
  const p = pausePod({ name: nodeClientName(node), namespace: SVC_NAMESPACE, node, labels: { app: 'svc-node-client' } }) as { spec: Record<string, unknown> };
  return { ...p, spec: { ...p.spec, hostNetwork: true } };
}

export function servicesObjects(spec: ClusterSpec): unknown[] {
  const nodes = svcNodes(spec);
  const web = { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }, { name: 'udp', port: 53, targetPort: 'udp', protocol: 'UDP' }] };
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: SVC_NAMESPACE } },
    ...nodes.map((node) => netexecPod({ name: backendName(node), namespace: SVC_NAMESPACE, node, labels: { app: 'web' }, httpPort: HTTP_PORT, udpPort: UDP_PORT })),
    netexecPod({ name: EXTRA_BACKEND, namespace: SVC_NAMESPACE, node: nodes[1] ?? nodes[0]!, labels: { app: 'web' }, httpPort: HTTP_PORT, udpPort: UDP_PORT }),
    ...nodes.map((node) => pausePod({ name: clientName(node), namespace: SVC_NAMESPACE, node, labels: { app: 'client' } })),
    ...nodes.map(nodeClientPod),
    service('web', web),
    service('web-np', { type: 'NodePort', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] }),
    service('web-local', { type: 'NodePort', externalTrafficPolicy: 'Local', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] }),
    service('web-affinity', { selector: { app: 'web' }, sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 300 } }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] }),
    service('no-endpoints', { selector: { app: 'nothing-matches' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] }),
  ];
}

interface SvcState {
  ips: Record<string, string>;
  nodePort: number;
  localNodePort: number;
  backends: string[];
  /** Only on the embedded cluster's host. */
  outside?: { netns: string; ip: string };
  /** backend pod name → its node */
  backendNode: Record<string, string>;
}
const st = (ctx: ScenarioContext) => ctx.state as unknown as SvcState;

async function prepare(ctx: ScenarioContext): Promise<() => Promise<void>> {
  const s = st(ctx);
  // ClusterIPs and NodePorts as the API gives them (through the provider, whichever it is).
  const services = new Map((await providerOf(ctx).list('Service', SVC_NAMESPACE)).items.map((o) => [o.metadata.name, o as unknown as Service]));
  const svc = (name: string) => {
    const found = services.get(name);
    if (!found?.spec.clusterIP) throw new Error(`Service ${SVC_NAMESPACE}/${name} has no ClusterIP`);
    return found;
  };
  s.ips = {};
  for (const name of ['web', 'web-np', 'web-affinity', 'no-endpoints']) s.ips[name] = svc(name).spec.clusterIP!;
  s.nodePort = svc('web-np').spec.ports[0]!.nodePort!;
  s.localNodePort = svc('web-local').spec.ports[0]!.nodePort!;
  s.backends = [...svcNodes(ctx.spec).map(backendName), EXTRA_BACKEND];
  s.backendNode = Object.fromEntries(s.backends.map((b) => [b, ctx.pods.get(`${SVC_NAMESPACE}/${b}`)?.node ?? '']));
  delete s.outside;
  if (!onEmbeddedHost(ctx)) return async () => undefined;
  // The outside client: a host on the nodes' network, outside the cluster (NodePort from the network).
  s.outside = await createOutsideHost(ctx.spec);
  return () => deleteOutsideHost(ctx.spec);
}

const equivalentCommand = (q: Asked) =>
  q.protocol === 'tcp'
    ? `ip netns exec ${q.netns} curl -s --http1.0 http://${q.host}:${q.port}${q.path ?? '/'}`
    : `echo hostname | ip netns exec ${q.netns} nc -u -w1 ${q.host} ${q.port}`;

/** The evidence of a batch: who answered, the peers the client saw, and the failure mode of each failure. */
export function answersEvidence(q: Asked, answers: ServiceAnswer[]): Evidence {
  const fails = failureTally(answers);
  const peers = [...new Set(answers.filter((a) => a.peer).map((a) => a.peer))];
  return {
    kind: 'probe',
    command: q.command ?? `${answers.length}× ${equivalentCommand(q)}`,
    observed: `answers ${JSON.stringify(tally(answers))}; peers ${JSON.stringify(peers)}${Object.keys(fails).length ? `; failures ${JSON.stringify(fails)}` : ''}`,
  };
}

/** All answered by backends of the service, with the service as the peer; returns the verdict. */
export function judge(q: Asked, answers: ServiceAnswer[], backends: string[], peer: string, what: string): Pick<CheckOutcome, 'passed' | 'observed' | 'expected' | 'evidence' | 'detail'> {
  const bad = answers.filter((a) => !a.ok || !backends.includes(a.answer ?? '') || a.peer !== peer);
  const seen = new Set(answers.filter((a) => a.ok).map((a) => a.answer));
  const fails = failureTally(answers);
  // No answer at all is no verdict on the load balancer's choices: it must fail, never pass vacuously.
  return {
    passed: answers.length > 0 && bad.length === 0,
    expected: `${answers.length} ${what} answered by backends (${backends.join(', ')}), peer ${peer}`,
    observed: `${JSON.stringify(tally(answers))}; peers ${JSON.stringify([...new Set(answers.map((a) => a.peer ?? a.error))])}; ${seen.size} distinct backends${Object.keys(fails).length ? `; failure modes ${JSON.stringify(fails)}` : ''}`,
    evidence: [answersEvidence(q, answers)],
    ...(bad.length ? { detail: bad.slice(0, 3).map((a) => (a.ok ? `answered by ${a.answer} with peer ${a.peer}` : `${a.failure ?? 'OTHER'} (${a.error}) after ${a.ms} ms`)).join('\n') } : {}),
  };
}

/** A service without backends answers at once: refused (RST or ICMP port unreachable; the kernel says
 *  ECONNREFUSED for both) or host unreachable, never a timeout nor a connection. */
export const NO_BACKEND_FAILURES: readonly FailureMode[] = ['RST', 'ICMP_PORT_UNREACHABLE', 'EHOSTUNREACH'];

/** A check that cannot be made here: unavailable, with the reason, never a pass. */
function unavailable(why: string, expected: string): CheckOutcome {
  return { passed: false, verdict: 'unavailable', expected, observed: `unavailable: ${why}` };
}

function check(id: string, name: string, run: (ctx: ScenarioContext) => Promise<CheckOutcome | CheckOutcome[]>, tags: Record<string, string>): CustomStep {
  const guarded = async (ctx: ScenarioContext) => {
    try {
      return await run(ctx);
    } catch (e) {
      // The probe tool could not run (exec refused, no output): no verdict on the network either way.
      if (e instanceof SvcToolError) return { passed: false, verdict: 'unavailable' as const, expected: 'the probe tool to run', observed: `probe tool failed: ${e.message}` };
      throw e;
    }
  };
  return { kind: 'check', id, name, run: guarded, tags: { kind: 'service', ...tags } };
}

const svcAsk = (ctx: ScenarioContext, from: SvcFrom, q: SvcQuestion) => ask(ctx, SVC_NAMESPACE, from, q);
const http = (host: string, port: number, count: number, paths = ['/hostname'], timeoutMs = PROBE_TIMEOUT_MS): SvcQuestion => ({ protocol: 'tcp', host, port, paths, count, timeoutMs });

/** Wait until every node's agent programs `frontend` ("ip:port/TCP") with exactly `count` backends. */
async function waitProgrammed(ctx: ScenarioContext, frontend: string, count: number): Promise<string> {
  const deadline = performance.now() + PROGRAMMING_TIMEOUT_MS;
  let last = '';
  for (;;) {
    const views = await Promise.all(svcNodes(ctx.spec).map(async (n) => (await new AgentClient(ctx.spec.name, n).services()).find((f) => f.frontend === frontend)?.backends ?? []));
    last = JSON.stringify(views);
    if (views.every((v) => v.length === count)) return last;
    if (performance.now() > deadline) throw new Error(`agents did not program ${frontend} with ${count} backends within ${PROGRAMMING_TIMEOUT_MS} ms: ${last}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Through a provider: wait until the Service's EndpointSlices (the API's view) list exactly `count`
 *  ready endpoints; returns them. */
async function waitSliceEndpoints(ctx: ScenarioContext, service: string, count: number): Promise<string> {
  const deadline = performance.now() + PROGRAMMING_TIMEOUT_MS;
  for (;;) {
    const slices = (await providerOf(ctx).list('EndpointSlice', SVC_NAMESPACE)).items.filter((o) => o.metadata.labels?.['kubernetes.io/service-name'] === service) as unknown as EndpointSlice[];
    const ready = slices.flatMap((sl) => (sl.endpoints ?? []).filter((e) => e.conditions?.ready !== false).flatMap((e) => e.addresses));
    if (ready.length === count) return JSON.stringify(ready);
    if (performance.now() > deadline) throw new Error(`the EndpointSlices of ${SVC_NAMESPACE}/${service} did not list ${count} ready endpoints within ${PROGRAMMING_TIMEOUT_MS} ms: ${JSON.stringify(ready)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function servicesSteps(ctx: ScenarioContext): CustomStep[] {
  const nodes = svcNodes(ctx.spec);
  const s = () => st(ctx);
  const steps: CustomStep[] = [];
  for (const node of nodes) {
    steps.push(
      check(`svc/clusterip-tcp/${node}`, `pod ${clientName(node)} → ClusterIP web:80 (TCP, ${TRIES} connections)`, async (c) => {
        const { answers, asked } = await svcAsk(c, { pod: clientName(node) }, http(s().ips.web!, 80, TRIES));
        return judge(asked, answers, s().backends, `${s().ips.web}:80`, 'connections');
      }, { from: 'pod', fromNode: node, protocol: 'tcp' }),
      check(`svc/clusterip-udp/${node}`, `pod ${clientName(node)} → ClusterIP web:53 (UDP, unconnected socket)`, async (c) => {
        const { answers, asked } = await svcAsk(c, { pod: clientName(node) }, { protocol: 'udp', host: s().ips.web!, port: 53, count: 4, timeoutMs: UDP_TIMEOUT_MS });
        return judge(asked, answers, s().backends, `${s().ips.web}:53`, 'datagrams');
      }, { from: 'pod', fromNode: node, protocol: 'udp' }),
      check(`svc/node-clusterip/${node}`, `node ${node} → ClusterIP web:80 (TCP)`, async (c) => {
        const { answers, asked } = await svcAsk(c, { node }, http(s().ips.web!, 80, 6));
        return judge(asked, answers, s().backends, `${s().ips.web}:80`, 'connections');
      }, { from: 'node', fromNode: node, protocol: 'tcp' }),
      check(`svc/nodeport-same-node/${node}`, `pod ${clientName(node)} → its own node's address:NodePort (web-np)`, async (c) => {
        const ip = c.nodes.get(node)!.underlayIp;
        const { answers, asked } = await svcAsk(c, { pod: clientName(node) }, http(ip, s().nodePort, 6));
        return judge(asked, answers, s().backends, `${ip}:${s().nodePort}`, 'connections');
      }, { from: 'pod', fromNode: node, protocol: 'tcp', path: 'nodeport-same-node' }),
    );
  }
  nodes.forEach((node, i) => {
    const other = nodes[(i + 1) % nodes.length]!;
    steps.push(
      check(`svc/nodeport-other-node/${node}`, `pod ${clientName(node)} → node ${other}'s address:NodePort (web-np, translated at tc on ${other})`, async (c) => {
        const ip = c.nodes.get(other)!.underlayIp;
        const { answers, asked } = await svcAsk(c, { pod: clientName(node) }, http(ip, s().nodePort, 6));
        return judge(asked, answers, s().backends, `${ip}:${s().nodePort}`, 'connections');
      }, { from: 'pod', fromNode: node, toNode: other, protocol: 'tcp', path: 'nodeport-other-node' }),
      check(`svc/outside-nodeport-cluster/${node}`, `outside host → node ${node}:NodePort, externalTrafficPolicy Cluster (SNAT to the node for remote backends)`, async (c) => {
        const ip = c.nodes.get(node)!.underlayIp;
        const outside = s().outside;
        if (!outside) return unavailable(hostOnly(c, NEEDS_OUTSIDE_HOST) ?? 'no outside host', `outside host → ${ip}:${s().nodePort} answered by backends, remote ones seeing ${ip} (SNAT)`);
        const q: Asked = { netns: outside.netns, protocol: 'tcp', host: ip, port: s().nodePort, path: '/hostname' };
        const local = (a: ServiceAnswer) => a.ok && s().backendNode[a.answer!] === node;
        // Each connection asks who answered AND what that backend saw (one flow, two requests), so each
        // answer is judged on its own: a backend on another node must see this node (SNAT), one on this
        // node the outside host. Connections go on until a remote backend answered (the SNAT must be seen
        // at work), at most OUTSIDE_MAX_TRIES: with 2 of 4 backends on a node, 6 random picks were all
        // local in 1 run of 64 and the old check (answers and sources asked on separate connections)
        // failed on a correct datapath.
        const ans: ServiceAnswer[] = [];
        while (ans.length < OUTSIDE_TRIES || (ans.length < OUTSIDE_MAX_TRIES && ans.every((a) => !a.ok || local(a)))) {
          ans.push(await httpGetAll(q.netns, q.host, q.port, ['/hostname', '/clientip'], PROBE_TIMEOUT_MS));
        }
        const v = judge(q, ans, s().backends, `${ip}:${s().nodePort}`, 'connections');
        const sourceOf = (a: ServiceAnswer) => (a.ok ? (a.bodies?.[1] ?? '').split(':')[0]! : `error:${a.error}`);
        const wrong = ans.filter((a) => a.ok && sourceOf(a) !== (local(a) ? outside.ip : ip));
        const remote = ans.filter((a) => a.ok && !local(a)).length;
        const pairs = tally(ans.map((a) => ({ ...a, answer: `${a.answer} saw ${sourceOf(a)}` })));
        return {
          ...v,
          passed: v.passed && wrong.length === 0 && remote > 0,
          expected: `${v.expected}; backends on other nodes see ${ip} (SNAT), ${node}'s own see ${outside.ip}; at least one remote backend within ${OUTSIDE_MAX_TRIES} connections`,
          observed: `${v.observed}; backend saw client: ${JSON.stringify(pairs)}`,
          evidence: [...v.evidence!, { kind: 'probe', command: `${ans.length}× ip netns exec ${q.netns} curl -s http://${ip}:${s().nodePort}/hostname http://${ip}:${s().nodePort}/clientip (one connection)`, observed: JSON.stringify(pairs) }],
          ...(wrong.length ? { detail: wrong.slice(0, 3).map((a) => `${a.answer} (on ${s().backendNode[a.answer!]}) saw ${sourceOf(a)}`).join('\n') } : {}),
        };
      }, { from: 'outside', toNode: node, protocol: 'tcp', path: 'nodeport-cluster' }),
      check(`svc/outside-nodeport-local/${node}`, `outside host → node ${node}:NodePort, externalTrafficPolicy Local (this node's backends, client address kept)`, async (c) => {
        const ip = c.nodes.get(node)!.underlayIp;
        const outside = s().outside;
        if (!outside) return unavailable(hostOnly(c, NEEDS_OUTSIDE_HOST) ?? 'no outside host', `outside host → ${ip}:${s().localNodePort} answered by ${node}'s backends, the client address kept`);
        const local = s().backends.filter((b) => s().backendNode[b] === node);
        const q: Asked = { netns: outside.netns, protocol: 'tcp', host: ip, port: s().localNodePort, path: '/hostname' };
        const qSeen: Asked = { ...q, path: '/clientip' };
        const who = await repeat(OUTSIDE_TRIES, () => httpGet(q.netns, q.host, q.port, q.path!, PROBE_TIMEOUT_MS));
        const seen = await repeat(OUTSIDE_TRIES, () => httpGet(qSeen.netns, qSeen.host, qSeen.port, qSeen.path!, PROBE_TIMEOUT_MS));
        const v = judge(q, who, local, `${ip}:${s().localNodePort}`, 'connections');
        const kept = seen.every((a) => a.ok && a.answer!.split(':')[0] === outside.ip);
        return { ...v, evidence: [...v.evidence!, answersEvidence(qSeen, seen)], passed: v.passed && kept, expected: `${v.expected}; the backends see the client as ${outside.ip}`, observed: `${v.observed}; seen as ${JSON.stringify(tally(seen.map((a) => ({ ...a, answer: a.answer?.split(':')[0] }))))}` };
      }, { from: 'outside', toNode: node, protocol: 'tcp', path: 'nodeport-local' }),
    );
  });
  const first = nodes[0]!;
  steps.push(
    check('svc/flows-translated', 'flows show the translation: TRANSLATED with destination_service web', async (c) => {
      const expected = `TRANSLATED flows for ${SVC_NAMESPACE}/web at PRE and POST_DIRECTION_FWD on ${first}`;
      const why = hostOnly(c, NEEDS_AGENT_FLOWS);
      if (why) return unavailable(why, expected);
      const { answers, asked } = await svcAsk(c, { pod: clientName(first) }, http(s().ips.web!, 80, 1));
      const { flows } = await new AgentClient(c.spec.name, first).flows(4096);
      const xlate = flows.filter((f) => f.verdict === 'TRANSLATED' && f.destination_service?.name === 'web' && f.destination_service.namespace === SVC_NAMESPACE);
      const points = new Set(xlate.map((f) => f.sock_xlate_point));
      return {
        passed: points.has('SOCK_XLATE_POINT_PRE_DIRECTION_FWD') && points.has('SOCK_XLATE_POINT_POST_DIRECTION_FWD'),
        expected,
        observed: `${xlate.length} TRANSLATED flows for web (${[...points].join(', ') || 'none'})`,
        evidence: [
          answersEvidence(asked, answers),
          { kind: 'flow', command: `agent ${first} GET /v1/flows?last=4096`, observed: xlate.length ? JSON.stringify(xlate[xlate.length - 1]).slice(0, 300) : `no TRANSLATED flow for web among ${flows.length}` },
        ],
      };
    }, { fromNode: first }),
    check('svc/no-endpoints', 'a Service without endpoints fails at once, and the drop is SERVICE_BACKEND_NOT_FOUND', async (c) => {
      // Two verdicts: the client's (every connection fails at once) and the datapath's (the drop counted
      // with reason 158 on the client's node; read from the agents, so on the embedded cluster only).
      const drops = hostOnly(c, NEEDS_AGENT_DROPS) === undefined;
      const before = drops ? await dropCount(c.spec.name, first, DROP_SERVICE_BACKEND_NOT_FOUND) : 0n;
      const { answers: ans, asked } = await svcAsk(c, { pod: clientName(first) }, http(s().ips['no-endpoints']!, 80, 3, ['/'], 3000));
      const after = drops ? await dropCount(c.spec.name, first, DROP_SERVICE_BACKEND_NOT_FOUND) : 0n;
      // "At once": an answer (unreachable, reset), not a timeout nor any other error.
      const fast = ans.length > 0 && ans.every((a) => !a.ok && a.failure !== undefined && NO_BACKEND_FAILURES.includes(a.failure));
      const client: CheckOutcome = {
        passed: fast,
        expected: `every connection failing as ${NO_BACKEND_FAILURES.join(' or ')} (no timeout)`,
        observed: `${JSON.stringify(tally(ans))} (${JSON.stringify(failureTally(ans))}) in ${ans.map((a) => a.ms).join('/')} ms`,
        evidence: [answersEvidence(asked, ans)],
      };
      const dropExpected = `3 drops with reason ${DROP_SERVICE_BACKEND_NOT_FOUND} (SERVICE_BACKEND_NOT_FOUND) on ${first}`;
      const counted: CheckOutcome = drops
        ? {
            passed: after - before >= 3n,
            expected: dropExpected,
            observed: `drops 158: +${after - before}`,
            evidence: [{ kind: 'counter', command: `agent ${first} GET /v1/maps (drops, reason ${DROP_SERVICE_BACKEND_NOT_FOUND})`, observed: `${before} → ${after}` }],
          }
        : unavailable(hostOnly(c, NEEDS_AGENT_DROPS)!, dropExpected);
      return [client, { ...counted, id: 'drops', name: 'a Service without endpoints: the drop is counted as SERVICE_BACKEND_NOT_FOUND' }];
    }, { fromNode: first }),
    check('svc/affinity', 'sessionAffinity ClientIP: every connection of a client lands on the same backend', async (c) => {
      const results = await Promise.all(nodes.map(async (n) => ({ n, ...(await svcAsk(c, { pod: clientName(n) }, http(s().ips['web-affinity']!, 80, TRIES))) })));
      const per = results.map(({ n, answers }) => `${clientName(n)}: ${JSON.stringify(tally(answers))}`);
      const ok = results.every(({ answers }) => answers.length > 0 && answers.every((a) => a.ok && s().backends.includes(a.answer ?? '')) && new Set(answers.map((a) => a.answer)).size === 1);
      return { passed: ok, expected: `each client's ${TRIES} connections answered by one backend`, observed: per.join('; '), evidence: results.map(({ asked, answers }) => answersEvidence(asked, answers)) };
    }, {}),
    check('svc/backend-deleted', `a backend deleted mid-test (${EXTRA_BACKEND}) gets no new connection`, async (c) => {
      const fe = `${s().ips.web}:80/TCP`;
      const remaining = s().backends.filter((b) => b !== EXTRA_BACKEND);
      if (onEmbeddedHost(c)) {
        // The agents' own view: every node programs the frontend without the deleted backend.
        const beforeProgrammed = await waitProgrammed(c, fe, 4);
        await c.client.delete('Pod', SVC_NAMESPACE, EXTRA_BACKEND);
        const t0 = performance.now();
        const programmed = await waitProgrammed(c, fe, 3);
        const programmingMs = Math.round(performance.now() - t0);
        const { answers, asked } = await svcAsk(c, { pod: clientName(first) }, http(s().ips.web!, 80, 30));
        const v = judge(asked, answers, remaining, `${s().ips.web}:80`, 'connections after the delete');
        return {
          ...v,
          observed: `${v.observed}; agents reprogrammed in ${programmingMs} ms`,
          evidence: [{ kind: 'api', command: `agent GET /v1/services on ${nodes.join(', ')} (${fe})`, observed: `backends per node before: ${beforeProgrammed}; after the delete: ${programmed}` }, ...v.evidence!],
        };
      }
      // Through a provider the datapath's view is the CNI's own: the API's EndpointSlices say when the
      // backend is gone, a grace period lets the CNI catch up, and the connections after it are judged.
      const provider = providerOf(c);
      const before = await waitSliceEndpoints(c, 'web', 4);
      await provider.remove('Pod', SVC_NAMESPACE, EXTRA_BACKEND);
      const t0 = performance.now();
      const after = await waitSliceEndpoints(c, 'web', 3);
      const sliceMs = Math.round(performance.now() - t0);
      await new Promise((r) => setTimeout(r, PROGRAMMING_GRACE_MS));
      const { answers, asked } = await svcAsk(c, { pod: clientName(first) }, http(s().ips.web!, 80, 30));
      const v = judge(asked, answers, remaining, `${s().ips.web}:80`, 'connections after the delete');
      return {
        ...v,
        observed: `${v.observed}; EndpointSlices updated in ${sliceMs} ms, connections judged ${PROGRAMMING_GRACE_MS} ms later`,
        evidence: [{ kind: 'api', command: `${provider.kind}: list EndpointSlices -n ${SVC_NAMESPACE} -l kubernetes.io/service-name=web`, observed: `ready endpoints before: ${before}; after the delete: ${after}` }, ...v.evidence!],
      };
    }, { fromNode: first }),
  );
  return steps;
}

async function repeat(n: number, fn: () => Promise<ServiceAnswer>): Promise<ServiceAnswer[]> {
  const out: ServiceAnswer[] = [];
  for (let i = 0; i < n; i++) out.push(await fn());
  return out;
}

export const servicesScenario: Scenario = {
  name: 'services',
  suite: 'connectivity',
  description: 'ClusterIP and NodePort through the kube-proxy replacement: from pods and nodes, TCP and UDP, no endpoints, backend removal, affinity, flows',
  // Any provider: through netns with in-process probes, the agents' view and an outside host; through
  // others with exec'd probes, the API's view, and "unavailable" for what needs the embedded host.
  topology: { nodes: 3, cni: ['cnilab'] },
  setup: servicesObjects,
  prepare,
  steps: servicesSteps,
};
