// The pure judgements of the datapath-state checks, fed the mutations they exist for.
import { describe, expect, it } from 'vitest';
import { identityProblems, unassignedAddress, type NodeView } from './datapath-state.js';

const ep = (ip: string, identity: number, app: string, name: string) => ({ ip, identity, labels: [`k8s:app=${app}`, 'k8s:io.kubernetes.pod.namespace=x'], podNamespace: 'x', podName: name });
const underlay = new Map([['n1', '198.18.0.11'], ['n2', '198.18.0.12'], ['n3', '198.18.0.13']]);

function views(): NodeView[] {
  const e1 = [ep('198.19.1.2', 300, 'a', 'a1')];
  const e2 = [ep('198.19.2.2', 301, 'b', 'b1'), ep('198.19.2.3', 300, 'a', 'a2')];
  const e3 = [ep('198.19.3.2', 302, 'c', 'c1')];
  const all = [...e1.map((e) => ['n1', e] as const), ...e2.map((e) => ['n2', e] as const), ...e3.map((e) => ['n3', e] as const)];
  const cacheFor = (node: string) => all.filter(([n]) => n !== node).map(([n, e]) => ({ key: `${e.ip}/32`, identity: e.identity, tunnelEndpoint: underlay.get(n)! }));
  return [
    { node: 'n1', endpoints: e1, ipcache: cacheFor('n1') },
    { node: 'n2', endpoints: e2, ipcache: cacheFor('n2') },
    { node: 'n3', endpoints: e3, ipcache: cacheFor('n3') },
  ];
}

describe('identity and ipcache consistency', () => {
  it('passes a consistent cluster', () => {
    expect(identityProblems(views(), underlay, true)).toEqual([]);
  });
  it('catches identities that ignore labels (one identity for two label sets)', () => {
    const v = views();
    v[1]!.endpoints[0]!.identity = 300; // b1 gets a's identity
    expect(identityProblems(v, underlay, false).join('\n')).toMatch(/identity 300 is shared by different label sets/);
  });
  it('catches an agent that ignores labels consistently, from the labels the Pods declare', () => {
    const v = views();
    for (const n of v) for (const e of n.endpoints) e.labels = ['k8s:io.kubernetes.pod.namespace=x'];
    for (const n of v) for (const e of n.endpoints) e.identity = 300;
    for (const n of v) for (const c of n.ipcache) c.identity = 300;
    expect(identityProblems(v, underlay, true)).toEqual([]); // the agents agree with themselves…
    const declared = (pod: string) => [`k8s:app=${pod.slice(2, 3)}`, 'k8s:io.kubernetes.pod.namespace=x'];
    const p = identityProblems(v, underlay, true, declared).join('\n'); // …not with the Pods
    expect(p).toMatch(/x\/a1: the agent labels it/);
    expect(p).toMatch(/identity 300 is shared by different label sets/);
  });
  it('catches a remote pod tunnelled to the wrong node', () => {
    const v = views();
    v[0]!.ipcache.find((c) => c.key.startsWith('198.19.3.2'))!.tunnelEndpoint = '198.18.0.12';
    expect(identityProblems(v, underlay, true)).toEqual(['n1: ipcache tunnels x/c1 to 198.18.0.12, it lives on n3 (198.18.0.13)']);
  });
  it('catches a missing or wrong-identity ipcache entry and reserved identities', () => {
    const v = views();
    v[2]!.ipcache = v[2]!.ipcache.filter((c) => !c.key.startsWith('198.19.1.2'));
    v[0]!.ipcache.find((c) => c.key.startsWith('198.19.2.2'))!.identity = 999;
    v[2]!.endpoints[0]!.identity = 2;
    const p = identityProblems(v, underlay, true).join('\n');
    expect(p).toMatch(/n3: no ipcache entry for x\/a1/);
    expect(p).toMatch(/n1: ipcache says identity 999 for x\/b1/);
    expect(p).toMatch(/identity 2 is below 256/);
  });
});

describe('unassigned address', () => {
  it('picks the highest free host address', () => {
    expect(unassignedAddress('198.19.2.0/24', new Set())).toBe('198.19.2.254');
    expect(unassignedAddress('198.19.2.0/24', new Set(['198.19.2.254']))).toBe('198.19.2.253');
  });
});
