// What the control plane and the agents both know about Services: the EndpointSlice shape
// (discovery.k8s.io/v1, IPv4 only), the labels that tie a slice to its Service, the annotations cnilab
// reads, and the one function that turns a Service and its slices into load-balancer frontends and
// backends. Pure: no I/O, no imports from harness/ or agent/, so the agent can run on a real node.

/** Label on every EndpointSlice naming its Service (Kubernetes' discovery.k8s.io/v1 convention). */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** Label naming the controller that manages a slice; slices without it are the user's. */
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
export const ENDPOINTSLICE_CONTROLLER = 'endpointslice-controller.k8s.io';
/** Per-Service choice of backend selection, as Cilium's annotation: "random" (default) or "maglev". */
export const LB_ALGORITHM_ANNOTATION = 'service.cilium.io/lb-algorithm';
export const LB_ALGORITHMS = ['random', 'maglev'] as const;
export type LbAlgorithm = (typeof LB_ALGORITHMS)[number];

export type L4Protocol = 'TCP' | 'UDP';

export interface EndpointSlicePort {
  /** The Service port's name ("" for an unnamed single port). */
  name?: string;
  /** The target port as resolved on the pods of this slice. */
  port?: number;
  protocol?: L4Protocol;
}
export interface EndpointSliceEndpoint {
  addresses: string[];
  conditions?: { ready?: boolean; serving?: boolean; terminating?: boolean };
  nodeName?: string;
  targetRef?: { kind: string; namespace?: string; name: string; uid?: string };
}
export interface EndpointSlice {
  apiVersion: string;
  kind: 'EndpointSlice';
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  addressType: 'IPv4';
  endpoints: EndpointSliceEndpoint[];
  ports?: EndpointSlicePort[];
  [k: string]: unknown;
}

/** The fields of a v1 Service the load balancer reads (structurally the harness's Service). */
export interface ServiceLike {
  metadata: { name: string; namespace?: string; annotations?: Record<string, string>; [k: string]: unknown };
  spec?: {
    type?: string;
    clusterIP?: string;
    ports?: Array<{ name?: string; protocol?: string; port: number; targetPort?: number | string; nodePort?: number }>;
    externalTrafficPolicy?: string;
    sessionAffinity?: string;
    sessionAffinityConfig?: { clientIP?: { timeoutSeconds?: number } };
    [k: string]: unknown;
  };
}

export interface LbBackend {
  ip: string;
  port: number;
  /** The node hosting it (externalTrafficPolicy Local keeps only the receiving node's). */
  nodeName?: string;
}

/** One load-balanced port of a Service: the ClusterIP frontend (and the NodePort), with its backends. */
export interface LbFrontend {
  /** "namespace/name" */
  service: string;
  /** The Service port's name ("" when unnamed). */
  portName: string;
  protocol: L4Protocol;
  clusterIP: string;
  port: number;
  nodePort?: number;
  externalTrafficPolicy: 'Cluster' | 'Local';
  /** Seconds of ClientIP affinity; 0 = none. */
  affinityTimeout: number;
  algorithm: LbAlgorithm;
  /** Ready backends, sorted by IP and port (deterministic for Maglev and for diffs). */
  backends: LbBackend[];
}

const ipKey = (ip: string) => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);

/** Whether an endpoint takes new connections: ready and not terminating (Kubernetes' semantics). */
export function endpointUsable(ep: EndpointSliceEndpoint): boolean {
  return ep.conditions?.ready !== false && ep.conditions?.terminating !== true;
}

/**
 * The frontends of a Service from its slices. A Service without a ClusterIP (headless, or not yet
 * allocated) has none. A port's backends are the usable endpoints of every slice listing a port of
 * the same name and protocol; the slice's port number is that port's target on those pods.
 */
export function serviceFrontends(svc: ServiceLike, slices: readonly EndpointSlice[]): LbFrontend[] {
  const spec = svc.spec ?? {};
  const clusterIP = spec.clusterIP;
  if (!clusterIP || clusterIP === 'None') return [];
  const key = `${svc.metadata.namespace ?? 'default'}/${svc.metadata.name}`;
  const algo = svc.metadata.annotations?.[LB_ALGORITHM_ANNOTATION];
  const algorithm: LbAlgorithm = algo === 'maglev' ? 'maglev' : 'random';
  const affinityTimeout = spec.sessionAffinity === 'ClientIP' ? (spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800) : 0;
  const out: LbFrontend[] = [];
  for (const p of spec.ports ?? []) {
    const protocol = (p.protocol ?? 'TCP') as L4Protocol;
    if (protocol !== 'TCP' && protocol !== 'UDP') continue;
    const name = p.name ?? '';
    const seen = new Set<string>();
    const backends: LbBackend[] = [];
    for (const slice of slices) {
      const sp = (slice.ports ?? []).find((q) => (q.name ?? '') === name && (q.protocol ?? 'TCP') === protocol);
      if (!sp || sp.port === undefined) continue;
      for (const ep of slice.endpoints ?? []) {
        if (!endpointUsable(ep)) continue;
        for (const ip of ep.addresses ?? []) {
          const id = `${ip}:${sp.port}`;
          if (seen.has(id)) continue;
          seen.add(id);
          backends.push({ ip, port: sp.port, ...(ep.nodeName ? { nodeName: ep.nodeName } : {}) });
        }
      }
    }
    backends.sort((a, b) => ipKey(a.ip) - ipKey(b.ip) || a.port - b.port);
    out.push({
      service: key,
      portName: name,
      protocol,
      clusterIP,
      port: p.port,
      ...(spec.type === 'NodePort' && p.nodePort ? { nodePort: p.nodePort } : {}),
      externalTrafficPolicy: spec.externalTrafficPolicy === 'Local' ? 'Local' : 'Cluster',
      affinityTimeout,
      algorithm,
      backends,
    });
  }
  return out;
}
