// CiliumEndpoint objects: how the other nodes' agents learn this node's pods (IP → identity → node),
// as Cilium publishes a CiliumEndpoint CRD per pod. Written with the control plane's internal apply.
import type { ControlPlaneClient } from '../../harness/cluster/client.js';
import { NotFoundError, CnilabError } from '../../harness/errors.js';
import type { KubeObject } from '../../harness/cluster/objects.js';
import type { NodeSpec } from '../../harness/cluster/spec.js';
import { ciliumEndpointName, type EndpointState } from './state.js';

export interface CiliumEndpointStatus {
  id: number;
  identity: { id: number; labels: string[] };
  networking: { addressing: Array<{ ipv4: string }>; node: string };
  nodeName: string;
  state: string;
  externalIdentifiers?: { 'container-id': string; 'pod-name': string };
}

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

export function ciliumEndpointObject(st: EndpointState, node: NodeSpec): KubeObject {
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

export function controlPlaneForEndpoints(cp: ControlPlaneClient): EndpointControlPlane {
  return {
    async podLabels(namespace, name) {
      try {
        const pod = await cp.get('Pod', namespace, name);
        return (pod.metadata.labels as Record<string, string> | undefined) ?? {};
      } catch (e) {
        if (e instanceof NotFoundError || (e instanceof CnilabError && e.code === 'NOT_FOUND')) return undefined;
        throw e;
      }
    },
    async namespaceLabels(namespace) {
      try {
        const ns = await cp.get('Namespace', undefined, namespace);
        return (ns.metadata.labels as Record<string, string> | undefined) ?? {};
      } catch (e) {
        if (e instanceof CnilabError && e.code === 'NOT_FOUND') return undefined;
        throw e;
      }
    },
    async writeEndpoint(obj) {
      await cp.apply([obj], true);
    },
    async deleteEndpoint(namespace, name) {
      try {
        await cp.delete('CiliumEndpoint', namespace, name);
      } catch (e) {
        if (!(e instanceof CnilabError && e.code === 'NOT_FOUND')) throw e;
      }
    },
    async listEndpoints(nodeName) {
      const all = await cp.list('CiliumEndpoint');
      return all
        .filter((o) => (o.status as { nodeName?: string } | undefined)?.nodeName === nodeName)
        .map((o) => ({ namespace: o.metadata.namespace ?? 'default', name: o.metadata.name }));
    },
  };
}
