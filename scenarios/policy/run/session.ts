// What the policy suite sets up once per cluster and shares between its cases: two hosts outside the
// cluster (world-a, world-b) attached to the fabric, hostname servers on TCP 8080 and 8081 in them
// and in every node (the destinations of Cilium-style world and host tests), the flow watch over the
// agents (cnilab CNI only: the other CNIs report no flows), and the prober. close() undoes all of it.
import type { ClusterSpec } from '../../../harness/cluster/spec.js';
import type { ControlPlaneClient } from '../../../harness/cluster/client.js';
import { netnsNames } from '../../../harness/cluster/names.js';
import { netnsPath } from '../../../harness/traffic/netns.js';
import { netnsBinder } from '../../../harness/traffic/agnhost/host.js';
import { startServeHostname } from '../../../harness/traffic/agnhost/serve-hostname.js';
import type { RunningWorkload } from '../../../harness/traffic/agnhost/context.js';
import { createExternalHost, deleteExternalHost, externalAddress, type ExternalHost } from '../../../harness/providers/netns/external.js';
import { AgentClient } from '../../../agent/api/client.js';
import { FlowWatch } from '../probe/flows.js';
import { Prober, type ProberOptions } from '../probe/prober.js';
import { CILIUM_ALT_PORT, CILIUM_PORT, EXTERNAL_HOSTS } from '../workload.js';

export interface PolicyRunOptions {
  /** Prober settings (timeouts, concurrency, retries); defaults are the upstream-like ones. */
  probe?: Omit<ProberOptions, 'flows'>;
  /** Confirm blocked probes by drop flows (default: when the CNI reports flows, i.e. cnilab). */
  flows?: boolean;
}

export interface PolicySession {
  spec: ClusterSpec;
  client: ControlPlaneClient;
  prober: Prober;
  flows?: FlowWatch;
  externals: ExternalHost[];
  close(): Promise<void>;
}

async function serveHostname(netns: string, hostname: string): Promise<RunningWorkload[]> {
  const ctx = { hostname, binder: netnsBinder(netnsPath(netns)), log: () => undefined };
  const out: RunningWorkload[] = [];
  for (const port of [CILIUM_PORT, CILIUM_ALT_PORT]) out.push(await startServeHostname({ tcp: true, udp: false, http: false, close: false, port }, ctx));
  return out;
}

export async function openPolicySession(spec: ClusterSpec, client: ControlPlaneClient, opts: PolicyRunOptions = {}): Promise<PolicySession> {
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
  return { spec, client, prober: new Prober({ ...opts.probe, flows }), flows, externals, close };
}
