// A container's entry in Pod.status.containerStatuses, in Kubernetes' shape (state running, waiting
// or terminated; lastState; restartCount; ready), from what the pod runtime saw happen to it.
import type { ContainerEvent, Terminated } from './workloads.js';

export type ContainerStatus = Record<string, unknown> & { name: string; ready: boolean };

export function runningStatus(name: string, image: string, startedAt: string, restartCount = 0, lastTerminated?: Terminated): ContainerStatus {
  return statusFromEvent(name, image, { type: 'running', restartCount, startedAt, lastTerminated });
}

export function statusFromEvent(name: string, image: string, ev: ContainerEvent): ContainerStatus {
  const lastState = ev.type !== 'terminated' && ev.lastTerminated ? { terminated: ev.lastTerminated } : {};
  const base = { name, image, restartCount: ev.restartCount, lastState };
  switch (ev.type) {
    case 'running':
      return { ...base, ready: true, started: true, state: { running: { startedAt: ev.startedAt } } };
    case 'waiting':
      return { ...base, ready: false, started: false, state: { waiting: { reason: ev.reason, message: ev.message } } };
    case 'terminated':
      return { ...base, ready: false, started: false, state: { terminated: ev.terminated } };
  }
}

/** The Ready condition: every container ready. */
export function readyCondition(statuses: ContainerStatus[]): { type: 'Ready'; status: 'True' | 'False' } {
  return { type: 'Ready', status: statuses.every((s) => s.ready) ? 'True' : 'False' };
}
