// Discovery, as kubectl and client libraries walk it: /version, /api (core versions), /apis (groups),
// /api/v1 and /apis/GROUP/VERSION (resource lists with verbs, short names, categories and
// subresources). The legacy (unaggregated) documents are served; clients that first ask for the
// aggregated apidiscovery.k8s.io/v2 form fall back to them when the answer is plain JSON.
import { apiGroups, groupVersion, RESOURCES, verbsOf, type ResourceType } from './resources.js';

/** The Kubernetes version the embedded API claims: the API surface it follows (kubectl checks skew). */
export const KUBE_VERSION = { major: '1', minor: '32', gitVersion: 'v1.32.0-cnilab' };

export function versionInfo(): Record<string, unknown> {
  return {
    ...KUBE_VERSION,
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2025-01-01T00:00:00Z',
    goVersion: 'none (cnilab embedded control plane, Node.js)',
    compiler: 'cnilab',
    platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
  };
}

export function coreVersions(): Record<string, unknown> {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: '' }] };
}

function groupDoc(g: { name: string; versions: string[] }): Record<string, unknown> {
  const versions = g.versions.map((v) => ({ groupVersion: `${g.name}/${v}`, version: v }));
  return { name: g.name, versions, preferredVersion: versions[0] };
}

export function groupList(): Record<string, unknown> {
  return { kind: 'APIGroupList', apiVersion: 'v1', groups: apiGroups().map(groupDoc) };
}

export function group(name: string): Record<string, unknown> | undefined {
  const g = apiGroups().find((x) => x.name === name);
  return g ? { kind: 'APIGroup', apiVersion: 'v1', ...groupDoc(g) } : undefined;
}

function resourceEntries(r: ResourceType): Record<string, unknown>[] {
  const main: Record<string, unknown> = {
    name: r.plural,
    singularName: r.singular,
    namespaced: r.namespaced,
    kind: r.kind,
    verbs: verbsOf(r),
    ...(r.shortNames ? { shortNames: r.shortNames } : {}),
    ...(r.categories ? { categories: r.categories } : {}),
    storageVersionHash: '',
  };
  const subs: Record<string, unknown>[] = [];
  for (const s of r.subresources ?? []) {
    if (s === 'status') subs.push({ name: `${r.plural}/status`, singularName: '', namespaced: r.namespaced, kind: r.kind, verbs: r.readOnly ? ['get'] : ['get', 'patch', 'update'] });
    if (s === 'scale') subs.push({ name: `${r.plural}/scale`, singularName: '', namespaced: r.namespaced, group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: ['get', 'patch', 'update'] });
    if (s === 'exec') subs.push({ name: `${r.plural}/exec`, singularName: '', namespaced: r.namespaced, kind: 'PodExecOptions', verbs: ['create', 'get'] });
    if (s === 'log') subs.push({ name: `${r.plural}/log`, singularName: '', namespaced: r.namespaced, kind: 'Pod', verbs: ['get'] });
  }
  return [main, ...subs];
}

/** /api/v1 or /apis/GROUP/VERSION; undefined for a group/version that is not served. */
export function resourceList(groupName: string, version: string): Record<string, unknown> | undefined {
  const rs = RESOURCES.filter((r) => r.group === groupName && r.version === version);
  if (!rs.length) return undefined;
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: groupVersion({ group: groupName, version }), resources: rs.flatMap(resourceEntries) };
}
