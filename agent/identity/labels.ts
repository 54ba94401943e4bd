// Security identities. A pod's identity is derived from its labels in Cilium's format
// (`k8s:<key>=<value>`, the source prefix says where a label came from) plus its namespace; the number
// is allocated cluster-wide by the control plane, so the same label set has the same number on every
// node (the datapath carries it in the VXLAN VNI and the receiving node trusts it).

/** Cilium's reserved identities (pkg/identity/numericidentity.go). */
export const RESERVED_IDENTITY = {
  unknown: 0,
  host: 1,
  world: 2,
  /** Another node of the cluster (its router IP and pod CIDR fallback in the ipcache). */
  remoteNode: 6,
} as const;

export const RESERVED_LABELS: Record<number, string[]> = {
  [RESERVED_IDENTITY.host]: ['reserved:host'],
  [RESERVED_IDENTITY.world]: ['reserved:world'],
  [RESERVED_IDENTITY.remoteNode]: ['reserved:remote-node'],
};

export const NAMESPACE_LABEL = 'io.kubernetes.pod.namespace';

/** The security labels of a pod, sorted (the order must not change the identity). */
export function podSecurityLabels(namespace: string, podLabels: Record<string, string> | undefined): string[] {
  const out = new Set<string>();
  for (const [k, v] of Object.entries(podLabels ?? {})) out.add(`k8s:${k}=${v}`);
  // Set last so a pod label of the same key cannot override the namespace.
  for (const l of out) if (l.startsWith(`k8s:${NAMESPACE_LABEL}=`)) out.delete(l);
  out.add(`k8s:${NAMESPACE_LABEL}=${namespace}`);
  return [...out].sort();
}

/** Parse security labels back into key → value (the source prefix dropped), for flows. */
export function labelsToMap(labels: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of labels) {
    const body = l.includes(':') ? l.slice(l.indexOf(':') + 1) : l;
    const eq = body.indexOf('=');
    if (eq < 0) out[body] = '';
    else out[body.slice(0, eq)] = body.slice(eq + 1);
  }
  return out;
}

/** Caches numeric identities by label set; the allocator is the control plane's. */
export class IdentityCache {
  private byKey = new Map<string, number>();
  private labelsById = new Map<number, string[]>();

  constructor(private allocate: (labels: string[]) => Promise<number>) {
    for (const [id, labels] of Object.entries(RESERVED_LABELS)) this.labelsById.set(Number(id), labels);
  }

  async resolve(labels: string[]): Promise<number> {
    const sorted = [...new Set(labels)].sort();
    const key = JSON.stringify(sorted);
    const known = this.byKey.get(key);
    if (known !== undefined) return known;
    const id = await this.allocate(sorted);
    this.remember(id, sorted);
    return id;
  }

  /** Record an identity learnt elsewhere (a CiliumEndpoint of another node, a restored endpoint). */
  remember(id: number, labels: string[]): void {
    const sorted = [...new Set(labels)].sort();
    this.byKey.set(JSON.stringify(sorted), id);
    this.labelsById.set(id, sorted);
  }

  labelsOf(id: number): string[] | undefined {
    return this.labelsById.get(id);
  }

  list(): Array<{ id: number; labels: string[] }> {
    return [...this.labelsById].map(([id, labels]) => ({ id, labels })).sort((a, b) => a.id - b.id);
  }
}
