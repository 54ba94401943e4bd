// Test fixture: an embedded cnilab cluster with the netpol e2e pods (x, y, z × a, b, c) Running, for the
// root tests of the observer, the relay, the CLI and the UI. Names are the caller's (unique per area).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ControlPlaneClient } from '../cluster/client.js';
import { parseManifests } from '../cluster/objects.js';
import { resolveSpec, type ClusterSpec, type RoutingMode } from '../cluster/spec.js';
import { netnsNames } from '../cluster/names.js';
import { createCluster, destroyCluster } from '../providers/netns/cluster.js';
import { waitPodsReady } from '../cli/wait.js';
import { REPO_ROOT } from '../paths.js';

export interface XyzPod {
  key: string;
  namespace: string;
  name: string;
  node: string;
  ip: string;
  netns: string;
}

export interface XyzCluster {
  spec: ClusterSpec;
  client: ControlPlaneClient;
  pods: Map<string, XyzPod>;
  destroy(): Promise<void>;
}

export async function startXyzCluster(name: string, opts: { nodes?: number; routing?: RoutingMode; raw?: Record<string, unknown> } = {}): Promise<XyzCluster> {
  await destroyCluster(name);
  const spec = resolveSpec(opts.raw ?? {}, 'test', { name, nodes: opts.nodes ?? 2, cni: 'cnilab', routing: opts.routing ?? 'tunnel' });
  const client = await createCluster(spec);
  const objects = parseManifests(readFileSync(resolve(REPO_ROOT, 'scenarios/manifests/xyz.yaml'), 'utf8'), 'xyz.yaml');
  await client.apply(objects);
  await waitPodsReady(client, objects.filter((o) => o.kind === 'Pod').map((o) => ({ namespace: o.metadata.namespace!, name: o.metadata.name })), 90_000);
  const pods = new Map<string, XyzPod>();
  for (const p of await client.list('Pod')) {
    const ns = p.metadata.namespace!;
    const key = `${ns}/${p.metadata.name}`;
    pods.set(key, { key, namespace: ns, name: p.metadata.name, node: (p.spec as { nodeName: string }).nodeName, ip: (p.status as { podIP: string }).podIP, netns: netnsNames.pod(name, ns, p.metadata.name) });
  }
  return { spec, client, pods, destroy: async () => void (await destroyCluster(name)) };
}

/** An address in `node`'s pod CIDR that no pod holds: the datapath drops traffic to it. */
export function unusedPodAddress(c: XyzCluster, node: string): string {
  const n = c.spec.nodes.find((x) => x.name === node)!;
  return n.podCidr.replace(/\.0\/\d+$/, '.250');
}
