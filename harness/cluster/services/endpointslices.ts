// The EndpointSlice controller of the embedded control plane (what kube-controller-manager's
// endpointslice controller does): for every Service with a selector, slices listing the pods that match
// it, with each pod's readiness and its own resolution of named target ports. It runs synchronously on
// the store's watch events, so a pod that turns unready, changes labels or is deleted is reflected in the
// slices before the apply (or status update, or delete) that caused it returns.
import { createHash } from 'node:crypto';
import { ENDPOINTSLICE_CONTROLLER, MANAGED_BY_LABEL, SERVICE_NAME_LABEL, type EndpointSliceEndpoint, type EndpointSlicePort } from '../../../lib/services.js';
import { matchLabelSelector, resolveNamedPort, type EndpointSlice, type KubeObject, type Pod, type Protocol, type Service } from '../objects.js';
import type { ObjectStore, WatchEvent } from '../store.js';

/** Kubernetes' default maxEndpointsPerSlice. */
export const MAX_ENDPOINTS_PER_SLICE = 100;

/** A pod takes part in a Service when it has an IP and has not finished (Kubernetes' rule). */
function podServes(pod: Pod): boolean {
  return !!pod.status?.podIP && pod.status.phase !== 'Succeeded' && pod.status.phase !== 'Failed';
}

/** Ready: the Ready condition is True (else phase Running with every container ready), not terminating. */
export function podReady(pod: Pod): boolean {
  if (pod.metadata.deletionTimestamp) return false;
  const conditions = (pod.status as { conditions?: Array<{ type: string; status: string }> } | undefined)?.conditions;
  const ready = conditions?.find((c) => c.type === 'Ready');
  if (ready) return ready.status === 'True';
  const cs = pod.status?.containerStatuses;
  return pod.status?.phase === 'Running' && !!cs && cs.every((c) => c.ready);
}

/** The ports of a Service as resolved on one pod; a named target the pod lacks leaves the port out. */
function podPorts(svc: Service, pod: Pod): EndpointSlicePort[] {
  const out: EndpointSlicePort[] = [];
  for (const p of svc.spec.ports ?? []) {
    const protocol = (p.protocol ?? 'TCP') as Protocol;
    const target = p.targetPort ?? p.port;
    const port = typeof target === 'number' ? target : resolveNamedPort(pod, target, protocol);
    if (port !== undefined) out.push({ name: p.name ?? '', port, protocol: protocol as 'TCP' | 'UDP' });
  }
  return out;
}

const shortHash = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 5);

/**
 * The slices a Service should have, given the pods of its namespace: endpoints grouped by their port
 * set (pods resolving a named port differently land in different slices), at most 100 per slice.
 * Names are `<service>-<hash>`, stable for a given port set and chunk, so an update is a modification.
 */
export function desiredSlices(svc: Service, pods: Iterable<Pod>): EndpointSlice[] {
  if (!svc.spec?.selector) return []; // selector-less Services get their slices from the user
  const selector = { matchLabels: svc.spec.selector };
  const groups = new Map<string, { ports: EndpointSlicePort[]; endpoints: EndpointSliceEndpoint[] }>();
  for (const pod of pods) {
    if (pod.metadata.namespace !== svc.metadata.namespace || !podServes(pod) || !matchLabelSelector(selector, pod.metadata.labels)) continue;
    const ports = podPorts(svc, pod);
    const gk = JSON.stringify(ports);
    let g = groups.get(gk);
    if (!g) groups.set(gk, (g = { ports, endpoints: [] }));
    const ready = podReady(pod);
    g.endpoints.push({
      addresses: [pod.status!.podIP!],
      conditions: { ready, serving: ready, terminating: !!pod.metadata.deletionTimestamp },
      ...(pod.spec.nodeName ? { nodeName: pod.spec.nodeName } : {}),
      targetRef: { kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name, ...(pod.metadata.uid ? { uid: pod.metadata.uid } : {}) },
    });
  }
  // A Service with no matching pod still has one empty slice (so "no endpoints" is visible).
  if (groups.size === 0) groups.set('[]', { ports: podPorts(svc, { metadata: {}, spec: { containers: [] } } as unknown as Pod), endpoints: [] });
  const out: EndpointSlice[] = [];
  for (const [gk, g] of [...groups].sort((a, b) => a[0].localeCompare(b[0]))) {
    g.endpoints.sort((a, b) => a.targetRef!.name.localeCompare(b.targetRef!.name));
    const chunks = Math.max(1, Math.ceil(g.endpoints.length / MAX_ENDPOINTS_PER_SLICE));
    for (let c = 0; c < chunks; c++) {
      out.push({
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: {
          name: `${svc.metadata.name.slice(0, 57)}-${shortHash(`${svc.metadata.uid ?? svc.metadata.name}/${gk}/${c}`)}`,
          namespace: svc.metadata.namespace,
          labels: { [SERVICE_NAME_LABEL]: svc.metadata.name, [MANAGED_BY_LABEL]: ENDPOINTSLICE_CONTROLLER },
          ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: svc.metadata.name, uid: svc.metadata.uid, controller: true, blockOwnerDeletion: true }],
        },
        addressType: 'IPv4',
        endpoints: g.endpoints.slice(c * MAX_ENDPOINTS_PER_SLICE, (c + 1) * MAX_ENDPOINTS_PER_SLICE),
        ports: g.ports,
      });
    }
  }
  return out;
}

const sameSlice = (a: KubeObject, b: EndpointSlice) =>
  JSON.stringify([a.endpoints, a.ports, a.metadata.labels]) === JSON.stringify([b.endpoints, b.ports, b.metadata.labels]);

/** Keeps the managed slices of every Service equal to desiredSlices, from the store's events. */
export class EndpointSliceController {
  private services = new Map<string, Service>();
  /** Pods by namespace, then "ns/name". */
  private pods = new Map<string, Map<string, Pod>>();
  /** Managed slices by Service key "ns/name", then slice name. */
  private slices = new Map<string, Map<string, KubeObject>>();

  constructor(private store: ObjectStore, private log: (m: string) => void = () => {}) {}

  /** Never throws: a watcher's exception would fail the store write that notified it. */
  onEvent(ev: WatchEvent): void {
    try {
      this.handle(ev);
    } catch (e) {
      this.log(`endpointslice controller: ${ev.type} ${ev.object.kind} ${ev.object.metadata.namespace ?? ''}/${ev.object.metadata.name}: ${(e as Error).message}`);
    }
  }

  private handle(ev: WatchEvent): void {
    const o = ev.object;
    const ns = o.metadata.namespace ?? 'default';
    const key = `${ns}/${o.metadata.name}`;
    if (o.kind === 'EndpointSlice') {
      if (o.metadata.labels?.[MANAGED_BY_LABEL] !== ENDPOINTSLICE_CONTROLLER) return;
      const svcKey = `${ns}/${o.metadata.labels?.[SERVICE_NAME_LABEL] ?? ''}`;
      let m = this.slices.get(svcKey);
      if (ev.type === 'DELETED') m?.delete(o.metadata.name);
      else {
        if (!m) this.slices.set(svcKey, (m = new Map()));
        m.set(o.metadata.name, o);
      }
    } else if (o.kind === 'Service') {
      if (ev.type === 'DELETED') this.services.delete(key);
      else this.services.set(key, o as Service);
      this.reconcile(key);
    } else if (o.kind === 'Pod') {
      let m = this.pods.get(ns);
      const old = m?.get(key);
      if (ev.type === 'DELETED') m?.delete(key);
      else {
        if (!m) this.pods.set(ns, (m = new Map()));
        m.set(key, o as Pod);
      }
      for (const [svcKey, svc] of this.services) {
        if (svc.metadata.namespace !== ns || !svc.spec?.selector) continue;
        const sel = { matchLabels: svc.spec.selector };
        if (matchLabelSelector(sel, o.metadata.labels) || (old && matchLabelSelector(sel, old.metadata.labels))) this.reconcile(svcKey);
      }
    }
  }

  private reconcile(svcKey: string): void {
    const svc = this.services.get(svcKey);
    const want = svc ? desiredSlices(svc, this.pods.get(svc.metadata.namespace ?? 'default')?.values() ?? []) : [];
    const have = this.slices.get(svcKey) ?? new Map<string, KubeObject>();
    const wantNames = new Set(want.map((s) => s.metadata.name));
    const [ns] = svcKey.split('/') as [string];
    for (const name of [...have.keys()]) if (!wantNames.has(name)) this.store.delete('EndpointSlice', ns, name);
    const changed = want.filter((s) => {
      const cur = have.get(s.metadata.name);
      return !cur || !sameSlice(cur, s);
    });
    if (changed.length) this.store.apply(changed as unknown as KubeObject[], { internal: true });
  }
}

/** Wire the controller to the store: existing objects first, then every change. */
export function startEndpointSliceController(store: ObjectStore, log?: (m: string) => void): () => void {
  const ctl = new EndpointSliceController(store, log);
  for (const kind of ['EndpointSlice', 'Pod', 'Service']) for (const object of store.list(kind)) ctl.onEvent({ type: 'ADDED', object });
  return store.watch((ev) => ctl.onEvent(ev));
}
