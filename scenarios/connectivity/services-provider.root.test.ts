// The services scenario and the visibility suite through two providers on one embedded cluster (cnilab,
// tunnel): the netns provider (in-process probes in the pods' and nodes' namespaces, the agents' API,
// an outside host on the fabric, the relay's flows) and the kubeconfig provider on the cluster's own
// kubeconfig (objects through the API, probes by `agnhost cnilab-svc-ask` exec'd in the pods over
// WebSocket). Every check both can make gets the same verdict; the ones only the embedded host can
// give are listed here and must say "unavailable" through kubeconfig, never pass. Then the socket
// load balancer is swapped for a build that skips the reverse translation, and the kubeconfig provider
// notices it on the same checks as netns.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paths } from '../../harness/cluster/names.js';
import { resolveSpec, type ClusterSpec } from '../../harness/cluster/spec.js';
import { createCluster, destroyCluster } from '../../harness/providers/netns/cluster.js';
import { NetnsProvider } from '../../harness/providers/netns/provider.js';
import { KubeconfigProvider } from '../../harness/providers/kubeconfig/provider.js';
import { setupSocketLb, SOCK_OBJECT, SOCK_OBJECT_BROKEN_REVNAT } from '../../agent/datapath/sock-lb.js';
import { cnilab } from '../../harness/testing/cli.js';
import type { CheckResult, ConfigurationResult, RunResult } from '../../reports/model.js';
import { runThroughProvider } from '../framework/provider-run.js';
import type { Suite } from '../framework/model.js';
import { visibilitySuite } from '../visibility/index.js';
import { servicesScenario, servicesSteps } from './services.js';

const NAME = 'svc-prv';
let spec: ClusterSpec;
let kube: KubeconfigProvider;

/** What only the embedded cluster's host gives (an outside host on its fabric, the agents' drop
 *  counters, the relay's flows and counters): unavailable through kubeconfig, by design. */
const HOST_ONLY = [/^svc\/outside-nodeport-(cluster|local)\/node\d$/, /^svc\/flows-translated$/, /^svc\/no-endpoints\/drops$/, /\/flows$/, /^dns$/, /^metrics(\/|$)/];
const hostOnly = (id: string) => HOST_ONLY.some((re) => re.test(id));

const servicesSuite: Suite = { name: 'connectivity', scenarios: [servicesScenario] };
const checksOf = (cfg: ConfigurationResult, scenario: string) => cfg.suites.flatMap((s) => s.scenarios).find((s) => s.name === scenario)?.checks ?? [];

/** Disagreements between the two runs of one scenario, in words. */
function disagreements(viaNetns: CheckResult[], viaKube: CheckResult[]): string[] {
  const kubeById = new Map(viaKube.map((c) => [c.id, c]));
  const out: string[] = [];
  for (const c of viaNetns) {
    // The runner's metric checks are per probe batch on netns, one unavailable check through kubeconfig.
    const k = kubeById.get(c.id) ?? (c.id.startsWith('metrics/') ? kubeById.get('metrics') : undefined);
    if (!k) {
      out.push(`${c.id}: missing through kubeconfig`);
      continue;
    }
    if (hostOnly(c.id)) {
      if (k.verdict !== 'unavailable') out.push(`${c.id}: needs the embedded host, yet ${k.verdict} through kubeconfig (${k.observed})`);
      continue;
    }
    if (k.verdict !== c.verdict) out.push(`${c.id}: ${c.verdict} via netns (${c.observed}), ${k.verdict} via kubeconfig (${k.observed})`);
  }
  const netnsIds = new Set(viaNetns.map((c) => c.id));
  for (const k of viaKube) if (!netnsIds.has(k.id) && !(hostOnly(k.id) && k.verdict === 'unavailable')) out.push(`${k.id}: only through kubeconfig (${k.verdict})`);
  return out;
}

function swapSocketLb(objectPath: string): void {
  for (const n of spec.nodes) setupSocketLb({ pinDir: paths.bpfNodeDir(NAME, n.name), attach: true, objectPath });
}

describe('services and visibility through the netns and kubeconfig providers', () => {
  beforeAll(async () => {
    await destroyCluster(NAME);
    spec = resolveSpec({}, 'test', { name: NAME, nodes: 3, cni: 'cnilab', routing: 'tunnel' });
    await createCluster(spec);
    kube = new KubeconfigProvider(paths.kubeconfig(NAME));
  }, 180_000);
  afterAll(async () => {
    await kube?.destroy().catch(() => undefined);
    await destroyCluster(NAME);
  }, 60_000);

  it('gives every services and visibility check the same verdict both ways; the embedded-host ones are unavailable', async () => {
    // Visibility first: its metric check counts the cluster's SYN and ICMP counters exactly, and the
    // services suite leaves clients behind it (a deleted backend, a service without endpoints) whose
    // retransmitted SYNs can land in that window — CI saw the counters off twice in that order.
    const viaNetns = await runThroughProvider(new NetnsProvider(NAME), [visibilitySuite, servicesSuite], { name: NAME, spec });
    expect(viaNetns.error).toBeUndefined();
    const svc = checksOf(viaNetns, 'services');
    const vis = checksOf(viaNetns, 'flows');
    expect(svc.filter((c) => !c.passed).map((c) => `${c.id}: ${c.observed}`)).toEqual([]);
    expect(vis.filter((c) => !c.passed).map((c) => `${c.id}: ${c.observed} (expected ${c.expected})`)).toEqual([]);
    expect(svc.length).toBeGreaterThanOrEqual(25);

    const viaKube = await runThroughProvider(kube, [visibilitySuite, servicesSuite], { name: NAME, podMtu: spec.podMtu });
    expect(viaKube.error).toBeUndefined();
    expect(viaKube.provider).toBe('kubeconfig');
    const ksvc = checksOf(viaKube, 'services');
    const kvis = checksOf(viaKube, 'flows');
    expect(disagreements(svc, ksvc)).toEqual([]);
    expect(disagreements(vis, kvis)).toEqual([]);
    // The unavailable ones are exactly the embedded host's, listed; none failed, and all others passed.
    const kUnavailable = ksvc.filter((c) => c.verdict === 'unavailable').map((c) => c.id).sort();
    expect(kUnavailable).toEqual(['svc/flows-translated', 'svc/no-endpoints/drops', ...['node1', 'node2', 'node3'].flatMap((n) => [`svc/outside-nodeport-cluster/${n}`, `svc/outside-nodeport-local/${n}`])].sort());
    expect(ksvc.filter((c) => c.verdict === 'pass').length).toBe(ksvc.length - kUnavailable.length);
    // Probes went through exec in the pods (node-side ones in the hostNetwork client pods), with the
    // peer each connection saw recorded.
    const ev = ksvc.find((c) => c.id === 'svc/clusterip-tcp/node1')!.evidence![0]!;
    expect(ev.command).toMatch(/^kubectl-exec cnilab-svc\/client-node1 -- agnhost cnilab-svc-ask --count=12 /);
    expect(ev.observed).toMatch(/peers \["198\.18\.128\.\d+:80"\]/);
    expect(ksvc.find((c) => c.id === 'svc/node-clusterip/node2')!.evidence![0]!.command).toMatch(/cnilab-svc\/svc-node-node2 /);
    expect(ksvc.find((c) => c.id === 'svc/backend-deleted')!.evidence![0]!.command).toMatch(/EndpointSlices/);
    // Visibility: the probes' own verdicts stand; their flows, the counters and the DNS L7 flows are unavailable.
    expect(kvis.filter((c) => c.verdict === 'fail')).toEqual([]);
    expect(kvis.filter((c) => c.tags?.kind === 'flows' && c.verdict === 'unavailable').length).toBeGreaterThanOrEqual(8);
    expect(kvis.find((c) => c.id === 'dns')!.observed).toMatch(/^answered/);
  }, 420_000);

  it('`cnilab run --provider kubeconfig --suite visibility` runs it, and exits 1 on its unavailable flows', async () => {
    const out = mkdtempSync(join(tmpdir(), 'svc-prv-'));
    const r = await cnilab(['run', '--provider', 'kubeconfig', '--kubeconfig', paths.kubeconfig(NAME), '--suite', 'visibility', '--out', out, '-q'], { timeoutMs: 180_000 });
    const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as RunResult;
    const cfg = result.configurations[0]!;
    expect(cfg.error, r.stderr).toBeUndefined();
    expect(r.code, r.stderr).toBe(1);
    const checks = checksOf(cfg, 'flows');
    expect(checks.filter((c) => c.verdict === 'fail')).toEqual([]);
    expect(checks.filter((c) => c.verdict === 'unavailable').length).toBeGreaterThanOrEqual(8);
  }, 240_000);

  it('notices a socket LB without reverse translation through kubeconfig, on the same checks as netns', async () => {
    const ids = ['svc/clusterip-tcp/node1', 'svc/clusterip-udp/node1', 'svc/node-clusterip/node1', 'svc/nodeport-same-node/node2'];
    const only: Suite = { name: 'connectivity', scenarios: [{ ...servicesScenario, steps: (ctx) => servicesSteps(ctx).filter((st) => ids.includes(st.id)) }] };
    swapSocketLb(SOCK_OBJECT_BROKEN_REVNAT);
    let viaNetns: ConfigurationResult;
    let viaKube: ConfigurationResult;
    try {
      viaNetns = await runThroughProvider(new NetnsProvider(NAME), [only], { name: NAME, spec });
      viaKube = await runThroughProvider(kube, [only], { name: NAME, podMtu: spec.podMtu });
    } finally {
      swapSocketLb(SOCK_OBJECT);
    }
    const svc = checksOf(viaNetns, 'services');
    const ksvc = checksOf(viaKube, 'services');
    expect(disagreements(svc, ksvc)).toEqual([]);
    const failed = ksvc.filter((c) => c.verdict === 'fail').map((c) => c.id);
    // The client sees the backend, not the service, as its peer: every ClusterIP check fails.
    expect(failed).toEqual(expect.arrayContaining(['svc/clusterip-tcp/node1', 'svc/clusterip-udp/node1', 'svc/node-clusterip/node1']));
    expect(ksvc.find((c) => c.id === 'svc/clusterip-tcp/node1')!.detail).toMatch(/answered by web-\S+ with peer 198\.19\./);
    expect(viaKube.suites[0]!.passed).toBe(false);
  }, 240_000);
});
