// What the policy suite sets up once per cluster and shares between its cases. Objects always go
// through the provider (policies applied and deleted, labels patched, the oracle's snapshot listed).
// On the embedded cluster (netns provider) the session also makes two hosts outside the cluster
// (world-a, world-b) attached to the fabric, hostname servers on TCP 8080 and 8081 in them and in
// every node (the destinations of Cilium-style world and host tests), the flow watch over the agents
// (cnilab CNI only: the other CNIs report no flows), and the socket prober. Through any other provider
// (a cluster from a kubeconfig) probes run through the provider's exec in the source pod; there are no
// hosts outside the cluster and no node servers, and the agents' flows are out of reach: the session
// says why, so the steps that need them report "unavailable" instead of passing. close() undoes all.
import type { ClusterSpec } from '../../../harness/cluster/spec.js';
import { netnsNames } from '../../../harness/cluster/names.js';
import type { Provider } from '../../../harness/providers/common/provider.js';
import { netnsPath } from '../../../harness/traffic/netns.js';
import { netnsBinder } from '../../../harness/traffic/agnhost/host.js';
import { startServeHostname } from '../../../harness/traffic/agnhost/serve-hostname.js';
import type { RunningWorkload } from '../../../harness/traffic/agnhost/context.js';
import { createExternalHost, deleteExternalHost, externalAddress, type ExternalHost } from '../../../harness/providers/netns/external.js';
import { AgentClient } from '../../../agent/api/client.js';
import { FlowWatch } from '../probe/flows.js';
import { execAttempt } from '../probe/exec-probe.js';
import { Prober, type ProberOptions } from '../probe/prober.js';
import { CILIUM_ALT_PORT, CILIUM_PORT, EXTERNAL_HOSTS } from '../workload.js';

export interface PolicyRunOptions {
  /** Prober settings (timeouts, concurrency, retries); defaults are the upstream-like ones. */
  probe?: Omit<ProberOptions, 'flows'>;
  /** Confirm blocked probes by drop flows (default: when the CNI reports flows, i.e. cnilab, and the
   *  provider reaches its agents, i.e. netns). */
  flows?: boolean;
}

export interface PolicySession {
  spec: ClusterSpec;
  provider: Provider;
  prober: Prober;
  flows?: FlowWatch;
  externals: ExternalHost[];
  /** Why blocks cannot be confirmed by drop flows although the CNI reports them (the provider does not
   *  reach cnilab's agents); undefined where they are confirmed, or where the CNI has none. */
  flowsUnavailable?: string;
  /** Why node and external peers cannot be probed (no servers on the nodes, no hosts outside the
   *  cluster through this provider); undefined on the embedded cluster. */
  hostsUnavailable?: string;
  close(): Promise<void>;
}

/** Exec probes are batched per source pod (one process dials a pod's whole share at once): the prober
 *  hands out a step's probes together so that they can be gathered. */
const EXEC_CONCURRENCY = 512;

async function serveHostname(netns: string, hostname: string): Promise<RunningWorkload[]> {
  const ctx = { hostname, binder: netnsBinder(netnsPath(netns)), log: () => undefined };
  const out: RunningWorkload[] = [];
  for (const port of [CILIUM_PORT, CILIUM_ALT_PORT]) out.push(await startServeHostname({ tcp: true, udp: false, http: false, close: false, port }, ctx));
  return out;
}

function openThroughExec(spec: ClusterSpec, provider: Provider, opts: PolicyRunOptions): PolicySession {
  const timeoutMs = opts.probe?.timeoutMs ?? 1000;
  const prober = new Prober({ concurrency: EXEC_CONCURRENCY, ...opts.probe, attempt: execAttempt(provider, timeoutMs) });
  return {
    spec,
    provider,
    prober,
    externals: [],
    ...(spec.cni === 'cnilab' ? { flowsUnavailable: `drop flows come from cnilab's agent API (unix sockets on the embedded cluster's host), which the ${provider.kind} provider does not reach` } : {}),
    hostsUnavailable: `needs hostname servers in the nodes and hosts outside the cluster on the embedded fabric, which the ${provider.kind} provider does not have`,
    close: async () => undefined,
  };
}

export async function openPolicySession(spec: ClusterSpec, provider: Provider, opts: PolicyRunOptions = {}): Promise<PolicySession> {
  if (provider.kind !== 'netns') return openThroughExec(spec, provider, opts);
  const externals: ExternalHost[] = [];
  const servers: RunningWorkload[] = [];
  let flows: FlowWatch | undefined;
  const close = async () => {
    await flows?.stop();
    await Promise.all(servers.map((s) => s.stop()));
    for (const name of EXTERNAL_HOSTS) await deleteExternalHost(spec, name);
  };
  try {
    for (const [i, name] of EXTERNAL_HOSTS.entries()) {
      await deleteExternalHost(spec, name); // left over by a crashed run on a kept cluster
      externals.push(await createExternalHost(spec, name, externalAddress(spec, i)));
    }
    for (const e of externals) servers.push(...(await serveHostname(e.netns, e.name)));
    for (const n of spec.nodes) servers.push(...(await serveHostname(netnsNames.node(spec.name, n.name), n.name)));
    if (opts.flows ?? spec.cni === 'cnilab') {
      flows = new FlowWatch(
        spec.nodes.map((n) => {
          const agent = new AgentClient(spec.name, n.name);
          return { node: n.name, fetch: (last: number) => agent.flows(last) };
        }),
      );
      await flows.start();
    }
  } catch (e) {
    await close();
    throw e;
  }
  return { spec, provider, prober: new Prober({ ...opts.probe, flows }), flows, externals, close };
}
