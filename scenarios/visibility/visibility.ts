// The visibility suite: every probe yields exactly the flows it should. A small workload (netexec on two
// nodes, a dnsmasq DNS server) and probes of each kind — TCP, UDP, ICMP, HTTP on an L7 port, same node
// and across nodes, a refused connection and a dropped one — whose flows the runner's flow checks
// require (scenarios/framework/flow-requirements.ts), plus the metric counters of the allowed batch and a
// DNS exchange that must appear as L7 flows. On a cluster without an observer there is nothing to
// check, and the scenario does not apply.
// Through a provider other than netns (kubeconfig) the probes and the DNS query run by exec in the
// client pod, but the flows and counters come from cnilab's relay on the embedded cluster's host, which
// that provider does not reach: each probe's flow check and the metric counters are "unavailable"
// (with the probe's own verdict kept), and the DNS check is unavailable once the answer is right.
import { run, shellQuote } from '../../harness/exec/run.js';
import type { ClusterSpec } from '../../harness/cluster/spec.js';
import type { CheckOutcome, CustomStep, ProbeStep, ResolvedPod, Scenario, ScenarioContext, Step } from '../framework/model.js';
import { dnsServerPod, netexecPod } from '../framework/pods.js';
import { FlowChecks } from '../framework/flow-checks.js';
import { execThrough, providerOf } from '../framework/provider-access.js';
import { runProbeStep } from '../framework/runner.js';

export const VIS_NAMESPACE = 'cnilab-vis';
const HTTP_PORT = 8080;
const UDP_PORT = 8081;
const DNS_NAME = 'web.cnilab-vis.svc.cluster.local';
const DNS_ANSWER = '198.18.255.254';

function objects(spec: ClusterSpec): unknown[] {
  const [n1, n2] = [spec.nodes[0]!.name, spec.nodes[1]!.name];
  const ns = VIS_NAMESPACE;
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { 'kubernetes.io/metadata.name': ns } } },
    netexecPod({ name: 'client', namespace: ns, node: n1, labels: { app: 'client' }, httpPort: HTTP_PORT, udpPort: UDP_PORT }),
    netexecPod({ name: 'near', namespace: ns, node: n1, labels: { app: 'near' }, httpPort: HTTP_PORT, udpPort: UDP_PORT }),
    netexecPod({ name: 'far', namespace: ns, node: n2, labels: { app: 'far' }, httpPort: HTTP_PORT, udpPort: UDP_PORT }),
    // What the name resolves to is only data here: the answer must carry it, nothing connects to it.
    dnsServerPod({ name: 'dns', namespace: ns, node: n2, labels: { app: 'dns' }, records: { [DNS_NAME]: DNS_ANSWER } }),
  ];
}

/** Why flows cannot be read through this context's provider, or undefined (netns: the relay's socket). */
export function relayUnavailable(ctx: Pick<ScenarioContext, 'provider'>): string | undefined {
  const kind = ctx.provider?.kind ?? 'netns';
  return kind === 'netns' ? undefined : `flows and counters come from cnilab's relay (a unix socket on the embedded cluster's host), which the ${kind} provider does not reach`;
}

const pod = (ctx: ScenarioContext, name: string): ResolvedPod => {
  const p = ctx.pods.get(`${VIS_NAMESPACE}/${name}`);
  if (!p) throw new Error(`${VIS_NAMESPACE}/${name} is not Running`);
  return p;
};

/** A DNS query from the client pod to the DNS pod: the answer, and the L7 flows both halves left. */
async function dnsExchange(ctx: ScenarioContext): Promise<CheckOutcome> {
  const client = pod(ctx, 'client');
  const dns = pod(ctx, 'dns');
  const script = `
    const s = require('dgram').createSocket('udp4');
    const name = Buffer.concat('${DNS_NAME}'.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])).concat([Buffer.from([0])]));
    s.on('message', (m) => { console.log('rcode=' + (m[3] & 15) + ' answers=' + m.readUInt16BE(6)); process.exit(0); });
    s.send(Buffer.concat([Buffer.from([0x51, 0x51, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), name, Buffer.from([0, 1, 0, 1])]), 53, '${dns.ip}');
    setTimeout(() => { console.log('no answer'); process.exit(1); }, 2000);`;
  const started = Date.now();
  const noRelay = relayUnavailable(ctx);
  // Through a provider: the same script by exec in the client pod (cnilab's agnhost image has node).
  const r = noRelay ? await execThrough(providerOf(ctx), { pod: client }, ['node', '-e', script], 10_000) : await run([process.execPath, '-e', script], { netns: client.netns, allowFailure: true, timeoutMs: 10_000 });
  const base = { from: client.key, to: dns.key, protocol: 'dns', port: 53, command: shellQuote(r.argv), expected: `an answer (rcode 0), and dns-request and dns-response flows for ${DNS_NAME}. on ${client.node}` };
  if (r.code !== 0 || !/rcode=0 answers=1/.test(r.stdout)) return { ...base, passed: false, observed: `DNS answer: ${r.stdout.trim() || r.stderr.trim() || `exit ${r.code}`}` };
  const answer = { kind: 'probe' as const, command: base.command, exit: r.code, observed: r.stdout.trim() };
  if (noRelay) return { ...base, passed: false, verdict: 'unavailable', observed: `answered (${r.stdout.trim()}); the L7 flows are unavailable: ${noRelay}`, evidence: [answer] };
  const checks = FlowChecks.forCluster(ctx.spec);
  if (!checks) return { ...base, passed: false, verdict: 'unavailable', observed: 'the cluster has no flow relay' };
  let seen: string[] = [];
  for (let i = 0; i < 15; i++) {
    const { flows } = await checks.flows([client.ip, dns.ip], started - 250);
    const l7 = flows.filter((f) => f.l7?.dns && f.node_name === client.node && f.l7.dns.query === `${DNS_NAME}.`);
    seen = l7.map((f) => `${f.l7!.type} rcode=${f.l7!.dns!.rcode ?? 0} ips=${(f.l7!.dns!.ips ?? []).join(',')}`);
    if (l7.some((f) => f.l7!.type === 'REQUEST') && l7.some((f) => f.l7!.type === 'RESPONSE' && f.l7!.dns!.ips?.[0] === DNS_ANSWER)) {
      return { ...base, passed: true, observed: `answered; L7 flows: ${seen.join('; ')}`, evidence: [answer, { kind: 'flow', command: `cnilab observe --name ${ctx.spec.name} --ip ${dns.ip} --protocol dns`, observed: seen.join('; ') }] };
    }
    await new Promise((res) => setTimeout(res, 150));
  }
  return { ...base, passed: false, observed: `answered, but the L7 flows were ${seen.length ? seen.join('; ') : 'not seen'}` };
}

/** Through a provider without the relay: the probe as the runner makes it, plus its flow check
 *  "unavailable" under the id the runner's flow check has (`<probe>/flows`). */
function probeWithoutFlows(step: ProbeStep, why: string): CustomStep {
  return {
    kind: 'check',
    id: step.id,
    name: step.name,
    ...(step.tags ? { tags: step.tags } : {}),
    run: async (ctx) => {
      const { id: _id, durationMs: _ms, verdict, ...probe } = await runProbeStep({ spec: ctx.spec, client: ctx.client, provider: providerOf(ctx) }, ctx, step);
      const out: CheckOutcome[] = [{ ...probe, verdict }];
      if (probe.passed) out.push({ id: 'flows', name: `flows of ${step.name}`, passed: false, verdict: 'unavailable', expected: 'the flows the probe must leave', observed: `unavailable: ${why}`, tags: { ...step.tags, kind: 'flows' } });
      return out;
    },
  };
}

function probes(ctx: ScenarioContext): Step[] {
  const why = relayUnavailable(ctx);
  if (!why) return probeSteps(ctx);
  return [
    ...probeSteps(ctx).map((st) => (st.kind === 'probe' ? probeWithoutFlows(st, why) : st)),
    { kind: 'check', id: 'metrics', name: 'metric counters moved by what the probes did', tags: { kind: 'metrics' }, run: async () => ({ passed: false, verdict: 'unavailable', expected: 'the flow, tcp and icmp counters moved by exactly what the probes did', observed: `unavailable: ${why}` }) },
  ];
}

function probeSteps(ctx: ScenarioContext): Step[] {
  const client = pod(ctx, 'client');
  const far = pod(ctx, 'far');
  const unused = ctx.spec.nodes[1]!.podCidr.replace(/\.0\/\d+$/, '.250');
  const p = (id: string, name: string, o: Partial<ProbeStep>): ProbeStep => ({ kind: 'probe', id, name, from: { pod: client.key }, to: { pod: far.key }, protocol: 'tcp', expect: { outcome: 'ok' }, tags: { kind: 'visibility' }, ...o });
  return [
    p('tcp-near', 'tcp to a pod on the same node', { to: { pod: `${VIS_NAMESPACE}/near` }, port: HTTP_PORT }),
    p('tcp-far', 'tcp to a pod on another node', { port: HTTP_PORT }),
    p('udp-far', 'udp to a pod on another node', { protocol: 'udp', port: UDP_PORT }),
    p('icmp-near', 'ping a pod on the same node', { to: { pod: `${VIS_NAMESPACE}/near` }, protocol: 'icmp' }),
    p('icmp-far', 'ping a pod on another node', { protocol: 'icmp' }),
    p('http-far', 'http to a pod on another node (L7 visibility)', { protocol: 'http', port: HTTP_PORT }),
    { kind: 'check', id: 'dns', name: `DNS query for ${DNS_NAME} answered by the dnsmasq pod, seen as L7 flows`, run: dnsExchange, tags: { kind: 'visibility' } },
    p('refused', 'tcp to a closed port is refused', { port: 9, expect: { outcome: 'refused' } }),
    p('dropped', 'ping an unused pod address: dropped on its node', { to: { ip: unused, label: `unused ${unused}` }, protocol: 'icmp', timeoutMs: 500, expect: { outcome: 'timeout' }, flows: { drop: { reason: 'STALE_OR_UNROUTABLE_IP', direction: 'INGRESS' } } }),
  ];
}

export const visibilityScenario: Scenario = {
  name: 'flows',
  suite: 'visibility',
  description: 'every probe yields the flows it should: observation points, flags, replies, drops with their reason, L7',
  topology: { nodes: 2, cni: ['cnilab'] },
  setup: objects,
  steps: probes,
};
