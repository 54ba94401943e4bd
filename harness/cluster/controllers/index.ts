// The controller manager of the embedded control plane: what kube-controller-manager runs, for the
// kinds cnilab keeps (garbage collector, ReplicaSet, Deployment, DaemonSet).
import type { ObjectStore } from '../store.js';
import { DaemonSetController } from './daemonset.js';
import { DeploymentController } from './deployment.js';
import { GarbageCollector } from './garbage-collector.js';
import { ReplicaSetController } from './replicaset.js';

export class ControllerManager {
  private parts: Array<{ start(): void; stop(): void }>;

  constructor(store: ObjectStore, log: (msg: string) => void) {
    this.parts = [new GarbageCollector(store), new ReplicaSetController(store, log), new DeploymentController(store, log), new DaemonSetController(store, log)];
  }

  start(): void {
    for (const p of this.parts) p.start();
  }

  stop(): void {
    for (const p of this.parts) p.stop();
  }
}
