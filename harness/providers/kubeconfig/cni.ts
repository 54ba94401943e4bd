// Which CNI a cluster runs, as a report names it: the DaemonSets of the usual CNIs in kube-system (or
// cnilab's own), then what the API itself says (the embedded cluster serves cnilab's agent's
// CiliumEndpoints without a DaemonSet).
import * as k8s from '@kubernetes/client-node';

/** DaemonSet name → CNI, as the CNIs' own manifests name them. */
export const CNI_DAEMONSETS: Array<[RegExp, string]> = [
  [/^cnilab(-agent)?$/, 'cnilab'],
  [/^cilium$/, 'cilium'],
  [/^calico-node$/, 'calico'],
  [/^kube-flannel-ds/, 'flannel'],
  [/^kindnet$/, 'kindnet'],
  [/^weave-net$/, 'weave'],
  [/^antrea-agent$/, 'antrea'],
  [/^kube-router$/, 'kube-router'],
];

export function cniFromDaemonSets(names: string[]): string | undefined {
  for (const [re, cni] of CNI_DAEMONSETS) if (names.some((n) => re.test(n))) return cni;
  return undefined;
}

export async function detectCni(kc: k8s.KubeConfig): Promise<string> {
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  let names: string[] = [];
  try {
    names = (await apps.listDaemonSetForAllNamespaces()).items.map((d) => d.metadata?.name ?? '');
  } catch {
    /* not allowed to list: try the next clue */
  }
  const fromDs = cniFromDaemonSets(names);
  if (fromDs) return fromDs;
  // No CNI DaemonSet, but CiliumEndpoints being published: cnilab's agents of the embedded cluster.
  try {
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const ceps = (await custom.listClusterCustomObject({ group: 'cilium.io', version: 'v2', plural: 'ciliumendpoints' })) as { items?: unknown[] };
    if (ceps.items) return 'cnilab (embedded: agents outside the API, CiliumEndpoints published)';
  } catch {
    /* no Cilium CRDs */
  }
  return 'unknown';
}
