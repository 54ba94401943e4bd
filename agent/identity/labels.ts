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

/**
 * Identities at or above this value are node-local (Cilium's local scope, bit 24): the CIDR
 * identities an agent allocates for the prefixes its policies name. They mean nothing on another
 * node and do not fit a 24-bit VNI, so the datapath must never send one across the tunnel (a packet
 * from the world carries reserved:world instead).
 */
export const LOCAL_IDENTITY_SCOPE = 1 << 24;

export const NAMESPACE_LABEL = 'io.kubernetes.pod.namespace';
/** Cilium's prefix for a namespace's labels among its pods' security labels. */
export const NAMESPACE_LABELS_PREFIX = 'io.cilium.k8s.namespace.labels.';

/**
 * The security labels of a pod, sorted (the order must not change the identity): its own labels, its
 * namespace, and its namespace's labels. Pod labels that would pose as the namespace or as a
 * namespace label are dropped, so a pod cannot claim another namespace's identity.
 */
export function podSecurityLabels(
  namespace: string,
  podLabels: Record<string, string> | undefined,
  namespaceLabels: Record<string, string> | undefined = undefined,
): string[] {
  const out = new Set<string>();
  for (const [k, v] of Object.entries(podLabels ?? {})) {
    if (k === NAMESPACE_LABEL || k.startsWith(NAMESPACE_LABELS_PREFIX)) continue;
    out.add(`k8s:${k}=${v}`);
  }
  out.add(`k8s:${NAMESPACE_LABEL}=${namespace}`);
  for (const [k, v] of Object.entries(namespaceLabels ?? {})) out.add(`k8s:${NAMESPACE_LABELS_PREFIX}${k}=${v}`);
  return [...out].sort();
}

/** Security labels as "source:key" → value (a label without '=' has the value ""). */
export function securityLabelIndex(labels: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of labels) {
    const colon = l.indexOf(':');
    const source = colon > 0 ? l.slice(0, colon) : 'unspec';
    const body = colon > 0 ? l.slice(colon + 1) : l;
    const eq = body.indexOf('=');
    out.set(`${source}:${eq < 0 ? body : body.slice(0, eq)}`, eq < 0 ? '' : body.slice(eq + 1));
  }
  return out;
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

/**
 * Numeric identities by label set, as this agent knows them. The allocator is the control plane's,
 * and it is asked every time a local endpoint needs an identity: the control plane garbage-collects
 * identities nobody uses and may hand a collected number to another label set later, so a number
 * remembered here is good for naming a flow's peer, never for a new endpoint.
 */
export class IdentityCache {
  private byKey = new Map<string, number>();
  private labelsById = new Map<number, string[]>();

  constructor(private allocate: (labels: string[]) => Promise<number>) {
    for (const [id, labels] of Object.entries(RESERVED_LABELS)) this.labelsById.set(Number(id), labels);
  }

  async resolve(labels: string[]): Promise<number> {
    const sorted = [...new Set(labels)].sort();
    const id = await this.allocate(sorted);
    this.remember(id, sorted);
    return id;
  }

  /** The number of a label set, if this agent has seen it (no allocation). */
  known(labels: string[]): number | undefined {
    return this.byKey.get(JSON.stringify([...new Set(labels)].sort()));
  }

  /** The control plane collected this identity: forget it (its number may come back for other labels). */
  forget(id: number): void {
    const labels = this.labelsById.get(id);
    if (!labels || RESERVED_LABELS[id]) return;
    this.labelsById.delete(id);
    const key = JSON.stringify(labels);
    if (this.byKey.get(key) === id) this.byKey.delete(key);
  }

  /** Record an identity learnt elsewhere (a CiliumEndpoint of another node, a restored endpoint). */
  remember(id: number, labels: string[]): void {
    const sorted = [...new Set(labels)].sort();
    const old = this.labelsById.get(id);
    if (old && JSON.stringify(old) !== JSON.stringify(sorted) && this.byKey.get(JSON.stringify(old)) === id) this.byKey.delete(JSON.stringify(old));
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
