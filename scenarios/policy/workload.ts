// The policy suite's workload:
// - the upstream netpol model of scenarios/manifests/xyz.yaml (namespaces x, y, z; pods a, b, c serving
//   80 and 81 on TCP and UDP under the upstream port names), with pod a on the first node, b on the
//   second and c on the third, so every truth table mixes same-node and cross-node pairs and a pod's
//   labels can be re-applied (a pod's spec, nodeName included, cannot change once created);
// - namespace cilium-test, shaped like `cilium connectivity test`: client and client2 (other=client)
//   on the first node, echo-same-node beside them, echo-other-node on the second node, all serving
//   TCP 8080 and 8081. The echo pods name their ports the other way round ("web" is 8080 on one and
//   8081 on the other), so a named port resolved on the wrong pod shows.
import { readFileSync } from 'node:fs';
import type { ClusterSpec } from '../../harness/cluster/spec.js';
import { parseManifests, type KubeObject, type Pod } from '../../harness/cluster/objects.js';
import { REPO_ROOT } from '../../harness/paths.js';
import { AGNHOST_IMAGE } from '../framework/pods.js';

export const XYZ_NAMESPACES = ['x', 'y', 'z'] as const;
export const XYZ_POD_NAMES = ['a', 'b', 'c'] as const;
/** Rows and columns of every matrix: x/a, x/b, … z/c. */
export const XYZ_PODS: string[] = XYZ_NAMESPACES.flatMap((ns) => XYZ_POD_NAMES.map((p) => `${ns}/${p}`));
export const XYZ_PORTS = [80, 81] as const;
export const XYZ_PROTOCOLS = ['TCP', 'UDP'] as const;

export const CILIUM_NS = 'cilium-test';
export const CILIUM_PORT = 8080;
export const CILIUM_ALT_PORT = 8081;
export const CILIUM_CLIENTS = ['client', 'client2'] as const;
export const CILIUM_ECHOS = ['echo-same-node', 'echo-other-node'] as const;
/** Hosts outside the cluster, on the fabric (see harness/providers/netns/external.ts). */
export const EXTERNAL_HOSTS = ['world-a', 'world-b'] as const;

let xyzCache: KubeObject[] | undefined;
function xyzManifest(): KubeObject[] {
  xyzCache ??= parseManifests(readFileSync(`${REPO_ROOT}/scenarios/manifests/xyz.yaml`, 'utf8'), 'scenarios/manifests/xyz.yaml');
  return structuredClone(xyzCache);
}

/** The node pod `a`, `b` or `c` runs on (the first three nodes, wrapping on smaller clusters). */
export function xyzNode(spec: Pick<ClusterSpec, 'nodes'>, podName: string): string {
  const i = Math.max(0, XYZ_POD_NAMES.indexOf(podName as (typeof XYZ_POD_NAMES)[number]));
  return spec.nodes[i % spec.nodes.length]!.name;
}

function servePod(name: string, node: string, labels: Record<string, string>, ports: Array<{ port: number; name: string }>): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: CILIUM_NS, labels },
    spec: {
      nodeName: node,
      terminationGracePeriodSeconds: 0,
      containers: ports.map((p) => ({
        name: `serve-${p.port}`,
        image: AGNHOST_IMAGE,
        args: ['serve-hostname', '--tcp', '--http=false', '--port', String(p.port)],
        ports: [{ name: p.name, containerPort: p.port, protocol: 'TCP' }],
      })),
    },
  };
}

/** Every object of the workload, in apply order. */
export function policyWorkload(spec: Pick<ClusterSpec, 'nodes'>): KubeObject[] {
  const xyz = xyzManifest().map((o) => {
    if (o.kind === 'Pod') (o as Pod).spec.nodeName = xyzNode(spec, o.metadata.name);
    return o;
  });
  const first = spec.nodes[0]!.name;
  const second = spec.nodes[Math.min(1, spec.nodes.length - 1)]!.name;
  const both = (web: number, http: number) => [{ port: web, name: 'web' }, { port: http, name: 'http' }];
  return [
    ...xyz,
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: CILIUM_NS, labels: { 'kubernetes.io/metadata.name': CILIUM_NS } } },
    servePod('client', first, { kind: 'client', name: 'client' }, both(CILIUM_PORT, CILIUM_ALT_PORT)),
    servePod('client2', first, { kind: 'client', other: 'client', name: 'client2' }, both(CILIUM_PORT, CILIUM_ALT_PORT)),
    servePod('echo-same-node', first, { kind: 'echo', name: 'echo-same-node' }, both(CILIUM_PORT, CILIUM_ALT_PORT)),
    servePod('echo-other-node', second, { kind: 'echo', name: 'echo-other-node' }, both(CILIUM_ALT_PORT, CILIUM_PORT)),
  ];
}
