// The suites run through a chosen provider on a cluster that exists already (`cnilab run --provider
// kubeconfig --kubeconfig FILE`): nothing is created or torn down but the scenarios' own objects and
// the provider's helpers. The cluster spec the steps need (nodes, pod CIDRs, the pod MTU to expect) is
// read through the provider, and the report names the provider and the CNI it found.
import { ControlPlaneClient } from '../../harness/cluster/client.js';
import { paths } from '../../harness/cluster/names.js';
import type { ClusterSpec, NodeSpec } from '../../harness/cluster/spec.js';
import { formatIpv4, nthAddress, parseCidr } from '../../harness/cluster/cidr.js';
import type { Provider, ProviderNode } from '../../harness/providers/common/provider.js';
import { summarizeSuites, type ConfigurationResult } from '../../reports/model.js';
import { notApplicable, type Suite } from './model.js';
import { errorText, setUpAndRunSuites, type RunnerEnv } from './runner.js';

export interface ProviderSpecOptions {
  /** Names the run (and the embedded cluster's control plane, for scenarios limited to netns). */
  name: string;
  /** The MTU pods must have; 0 or absent: not known, and the pod MTU checks say "unavailable". */
  podMtu?: number;
  /** The routing mode the wire checks judge the underlay by; not read from a foreign cluster.
   *  Default tunnel (Cilium's default): a wrong guess fails the wire checks, it never passes them. */
  routing?: 'tunnel' | 'native';
}

/** Nodes as the steps need them, in name order (the API's order is not a promise). */
export function nodeSpecs(nodes: ProviderNode[]): NodeSpec[] {
  return [...nodes]
    .sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }))
    .map((n, index) => {
      const c = n.podCidr ? parseCidr(n.podCidr) : undefined;
      return { name: n.name, index, labels: {}, underlayIp: n.ip, podCidr: n.podCidr, podGateway: c ? formatIpv4(nthAddress(c, 1)) : '' };
    });
}

/**
 * A spec for a cluster known only through a provider. `cni` is cnilab when the provider found
 * cnilab (its cnilab-specific checks then apply, and say "unavailable" where they need the agents'
 * API); any other CNI is described as 'kernel' here, which only means "not cnilab": the report names
 * the CNI found. Subnets and routing are not read from a foreign cluster: the routing mode is the
 * caller's (`--routing`, default tunnel), and only the wire checks use it.
 */
export function specFromProvider(nodes: ProviderNode[], cniFound: string, o: ProviderSpecOptions): ClusterSpec {
  return {
    name: o.name,
    routing: o.routing ?? 'tunnel',
    tunnelProtocol: 'vxlan',
    cni: /^cnilab\b/.test(cniFound) ? 'cnilab' : 'kernel',
    underlaySubnet: '',
    underlayGateway: '',
    podSubnet: '',
    serviceSubnet: '',
    nodeMaskSize: 24,
    mtu: 0,
    podMtu: o.podMtu ?? 0,
    nodes: nodeSpecs(nodes),
  };
}

export interface ProviderRunOptions extends ProviderSpecOptions {
  concurrency?: number;
  log?: (msg: string) => void;
  /** Use this spec instead of reading one through the provider (a test comparing providers). */
  spec?: ClusterSpec;
  /** false: no flow and metric checks even where the relay is reachable (a benchmark comparing providers
   *  on the same checks). */
  flowChecks?: false;
}

/** Run suites through `provider` on its existing cluster; one ConfigurationResult, as `cnilab run` writes. */
export async function runThroughProvider(provider: Provider, suites: Suite[], o: ProviderRunOptions): Promise<ConfigurationResult> {
  const log = o.log ?? (() => undefined);
  const result: ConfigurationResult = { name: `${provider.kind}:${o.name}`, provider: provider.kind, cni: 'unknown', routing: 'unknown', nodes: 0, clusterName: o.name, suites: [], summary: summarizeSuites([]) };
  try {
    const t0 = performance.now();
    // The cluster exists: reading its nodes is the first proof that the provider reaches it.
    const nodes = await provider.nodes();
    result.cni = await provider.cni();
    const spec = o.spec ?? specFromProvider(nodes, result.cni, o);
    result.clusterUpMs = Math.round(performance.now() - t0);
    Object.assign(result, { nodes: spec.nodes.length, ...(spec.podMtu ? { podMtu: spec.podMtu } : {}), ...(o.spec || o.routing ? { routing: spec.routing } : {}) });
    log(`${result.name}: provider ${provider.kind}, CNI found: ${result.cni}, ${spec.nodes.length} nodes`);
    const env: RunnerEnv = {
      spec,
      // Only scenarios limited to the netns provider use the embedded control plane's client.
      client: new ControlPlaneClient(paths.controlSocket(spec.name), spec.name),
      provider,
      concurrency: o.concurrency,
      log: (m) => log(`${result.name}: ${m}`),
      // Flows and metrics come from the agents' relay on the embedded cluster's host: netns only.
      ...(provider.kind === 'netns' && o.flowChecks !== false ? {} : { flowChecks: false as const }),
    };
    const objects = suites.flatMap((s) => s.scenarios).filter((sc) => !notApplicable(sc.topology, spec, provider.kind)).flatMap((sc) => sc.setup(spec));
    await setUpAndRunSuites(env, dedupe(objects), suites, result);
  } catch (e) {
    result.error = errorText(e);
  }
  result.summary = summarizeSuites(result.suites);
  return result;
}

function dedupe(objects: unknown[]): unknown[] {
  const seen = new Set<string>();
  return (objects as Array<{ kind?: string; metadata?: { namespace?: string; name?: string } }>).filter((o) => {
    const k = `${o.kind}/${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
    return !seen.has(k) && !!seen.add(k);
  });
}
