// CiliumEndpoint objects: how the other nodes' agents learn this node's pods (IP → identity → node),
// as Cilium publishes a CiliumEndpoint CRD per pod. Written through the Kubernetes API; the pod's and
// its namespace's labels are read from the informers' caches (an API GET when a pod is newer than
// the cache: the runtime may call CNI ADD before the watch event arrives).
import type { KubeObject } from '../../lib/k8s/object.js';
import type { AgentNode } from '../config.js';
import type { KubeInformers } from '../k8s/informers.js';
import { RESOURCES, type CiliumEndpointObject, type CiliumEndpointStatus } from '../k8s/resources.js';
import { isAlreadyExists, isConflict, isNotFound, type KubeTransport } from '../k8s/transport.js';
import { ciliumEndpointName, type EndpointState } from './state.js';

export type { CiliumEndpointStatus };

/** What the endpoint manager needs from the control plane (a fake in unit tests). */
export interface EndpointControlPlane {
  /** The pod's labels, or undefined when the control plane has no such pod (a bare CNI call). */
  podLabels(namespace: string, name: string): Promise<Record<string, string> | undefined>;
  /** The namespace's labels (they are part of the pod's identity), or undefined when it is unknown. */
  namespaceLabels?(namespace: string): Promise<Record<string, string> | undefined>;
  writeEndpoint(obj: KubeObject): Promise<void>;
  deleteEndpoint(namespace: string, name: string): Promise<void>;
  /** CiliumEndpoints published for this node. */
  listEndpoints(nodeName: string): Promise<Array<{ namespace: string; name: string }>>;
}

export function ciliumEndpointObject(st: EndpointState, node: AgentNode): KubeObject {
  const status: CiliumEndpointStatus = {
    id: st.endpointId,
    identity: { id: st.identity, labels: st.labels },
    networking: { addressing: [{ ipv4: st.ip }], node: node.underlayIp },
    nodeName: node.name,
    state: 'ready',
    externalIdentifiers: { 'container-id': st.containerId, 'pod-name': `${st.podNamespace}/${st.podName}` },
  };
  return {
    apiVersion: 'cilium.io/v2',
    kind: 'CiliumEndpoint',
    metadata: { name: ciliumEndpointName(st), namespace: st.podNamespace, labels: {} },
    status: status as unknown as Record<string, unknown>,
  } as KubeObject;
}

const MAX_CONFLICTS = 5;

export function kubeEndpointControlPlane(t: KubeTransport, cache: KubeInformers): EndpointControlPlane {
  const labelsOf = async (kind: 'Pod' | 'Namespace', namespace: string | undefined, name: string) => {
    const cached = kind === 'Pod' ? cache.pod(namespace!, name) : cache.namespace(name);
    if (cached) return { ...(cached.metadata.labels ?? {}) };
    try {
      return { ...((await t.get(RESOURCES[kind], namespace, name)).metadata.labels ?? {}) };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  };
  return {
    podLabels: (namespace, name) => labelsOf('Pod', namespace, name),
    namespaceLabels: (namespace) => labelsOf('Namespace', undefined, namespace),
    async writeEndpoint(obj) {
      // Create, or replace at the stored resourceVersion (this agent restarted, or the pod's name was
      // reused). The cache answers first; when it is behind the API, the object itself is read again.
      const { namespace, name } = obj.metadata;
      for (let attempt = 0; ; attempt++) {
        const current =
          attempt === 0
            ? cache.ciliumEndpoint(namespace!, name)
            : await t.get<CiliumEndpointObject>(RESOURCES.CiliumEndpoint, namespace, name).catch((e) => {
                if (isNotFound(e)) return undefined;
                throw e;
              });
        try {
          if (!current) await t.create(RESOURCES.CiliumEndpoint, obj);
          else if (JSON.stringify(current.status) !== JSON.stringify(obj.status)) {
            await t.replace(RESOURCES.CiliumEndpoint, { ...obj, metadata: { ...obj.metadata, resourceVersion: current.metadata.resourceVersion } });
          }
          return;
        } catch (e) {
          if (attempt >= MAX_CONFLICTS || !(isAlreadyExists(e) || isConflict(e) || isNotFound(e))) throw e;
        }
      }
    },
    async deleteEndpoint(namespace, name) {
      try {
        await t.delete(RESOURCES.CiliumEndpoint, namespace, name);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    },
    async listEndpoints(nodeName) {
      return cache
        .ciliumEndpoints()
        .filter((o) => o.status?.nodeName === nodeName)
        .map((o) => ({ namespace: o.metadata.namespace ?? 'default', name: o.metadata.name }));
    },
  };
}
