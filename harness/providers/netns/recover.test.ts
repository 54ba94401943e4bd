import { describe, expect, it } from 'vitest';
import { planRecovery, type CniCacheEntry } from './recover.js';
import type { KubeObject } from '../../cluster/objects.js';

const pod = (name: string, status: Record<string, unknown>, nodeName = 'node1'): KubeObject =>
  ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'x', uid: `uid-${name}` }, spec: { nodeName, containers: [] }, status }) as unknown as KubeObject;
const ns = (name: string) => `cnilab.c.pod.x.${name}`;
const cache = (name: string, node = 'node1'): CniCacheEntry => ({ namespace: 'x', name, uid: `uid-${name}`, node, result: { cniVersion: '1.0.0' } as CniCacheEntry['result'] });

describe('recovery plan of a restarted daemon', () => {
  it('adopts intact running pods, redoes half-made ones, and cleans orphaned sandboxes', () => {
    const pods = [
      pod('ok', { phase: 'Running', podIP: '198.19.0.2' }),
      pod('nonetns', { phase: 'Running', podIP: '198.19.0.3' }),
      pod('creating', { phase: 'Pending', reason: 'ContainerCreating' }),
      pod('failed', { phase: 'Failed' }),
      pod('nocache', { phase: 'Running', podIP: '198.19.0.4' }),
      pod('moved', { phase: 'Running', podIP: '198.19.0.5' }, 'node2'),
    ];
    const caches: Record<string, CniCacheEntry> = { ok: cache('ok'), creating: cache('creating'), moved: cache('moved', 'node1') };
    const plan = planRecovery('c', pods, [ns('ok'), ns('creating'), ns('nocache'), ns('moved'), ns('gone'), 'cnilab.c.node.node1', 'cnilab.other.pod.x.y'], (_n, name) => caches[name]);
    expect(plan.adopt.map((p) => p.metadata.name)).toEqual(['ok']);
    expect(plan.redo.map((p) => p.metadata.name)).toEqual(['nonetns', 'creating', 'failed', 'nocache', 'moved']);
    expect(plan.orphans).toEqual([{ namespace: 'x', name: 'gone' }]);
    expect(plan.finished).toEqual([]);
  });

  it('keeps completed pods completed: never set up or run again, whether their sandbox survived or not', () => {
    const ended = (exitCode: number) => [{ name: 'main', state: { terminated: { exitCode, reason: exitCode ? 'Error' : 'Completed' } } }];
    const pods = [
      pod('done', { phase: 'Succeeded', podIP: '198.19.0.6', containerStatuses: ended(0) }),
      pod('crashed', { phase: 'Failed', podIP: '198.19.0.7', containerStatuses: ended(1) }),
      pod('half', { phase: 'Failed', reason: 'SandboxSetupFailed', containerStatuses: [{ name: 'main', state: { waiting: { reason: 'ContainerCreating' } } }] }),
    ];
    const caches: Record<string, CniCacheEntry> = { done: cache('done'), crashed: cache('crashed') };
    const plan = planRecovery('c', pods, [ns('done'), ns('half')], (_n, name) => caches[name]);
    expect(plan.finished.map((f) => [f.pod.metadata.name, f.intact])).toEqual([
      ['done', true],
      ['crashed', false], // its netns is gone: cleaned, still not run again
    ]);
    expect(plan.adopt).toEqual([]);
    expect(plan.redo.map((p) => p.metadata.name)).toEqual(['half']); // a failed setup is retried
  });
});
