// The control plane's Service machinery, wired to the store by the cluster daemon: admission
// (ClusterIP and NodePort allocation, validation against the cluster's service range) and the
// EndpointSlice controller.
import type { ClusterSpec } from '../spec.js';
import type { ObjectStore } from '../store.js';
import { ServiceAllocations } from './allocation.js';
import { startEndpointSliceController } from './endpointslices.js';

export { ServiceAllocations, NODE_PORT_RANGE } from './allocation.js';
export { desiredSlices, EndpointSliceController, podReady } from './endpointslices.js';

/** Register admission and start the controllers; returns the function that stops them. */
export function startServiceControllers(store: ObjectStore, spec: Pick<ClusterSpec, 'serviceSubnet'>, log?: (m: string) => void): () => void {
  const alloc = new ServiceAllocations(spec.serviceSubnet);
  for (const object of store.list('Service')) alloc.onEvent({ type: 'ADDED', object });
  const unwatch = store.watch((ev) => alloc.onEvent(ev));
  store.admit(alloc.admission);
  const stopSlices = startEndpointSliceController(store, log);
  return () => {
    unwatch();
    stopSlices();
  };
}
