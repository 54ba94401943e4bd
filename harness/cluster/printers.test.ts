import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import type { KubeObject } from './objects.js';
import { formatAge, formatLabelSelector, humanDuration, noResourcesMessage, printList, printNames, printObject, printTable } from './printers.js';

const now = Date.parse('2024-05-01T12:00:00Z');
const ago = (s: number) => new Date(now - s * 1000).toISOString();

const pod = (ns: string, name: string, age: number, status: Record<string, unknown>, nodeName?: string): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: ns, creationTimestamp: ago(age), labels: { pod: name } },
  spec: { nodeName, containers: [{ name: 'c1', image: 'i' }, { name: 'c2', image: 'i' }] },
  status,
});
const running = (ip: string) => ({
  phase: 'Running',
  podIP: ip,
  containerStatuses: [
    { name: 'c1', ready: true, restartCount: 1 },
    { name: 'c2', ready: true, restartCount: 2 },
  ],
});

describe('AGE', () => {
  it.each([
    [0, '0s'], [45, '45s'], [119, '119s'], [120, '2m'], [192, '3m12s'], [600, '10m'], [179 * 60, '179m'],
    [3 * 3600, '3h'], [3 * 3600 + 5 * 60, '3h5m'], [10 * 3600, '10h'], [2 * 86400, '2d'], [3 * 86400 + 3600, '3d1h'],
    [30 * 86400, '30d'], [3 * 365 * 86400, '3y'], [3 * 365 * 86400 + 86400, '3y1d'], [9 * 365 * 86400, '9y'],
  ])('%i s is %s', (s, want) => expect(humanDuration(s * 1000)).toBe(want));

  it('tolerates small clock skew and says when it cannot tell', () => {
    expect(humanDuration(-1500)).toBe('0s');
    expect(humanDuration(-5000)).toBe('<invalid>');
    expect(formatAge(undefined, now)).toBe('<unknown>');
    expect(formatAge(ago(45), new Date(now))).toBe('45s');
  });
});

describe('printTable', () => {
  const pods = [
    pod('x', 'b', 192, { phase: 'Pending' }),
    pod('x', 'a', 45, running('198.19.0.10'), 'node1'),
    pod('y', 'a', 2 * 86400, { phase: 'Pending', containerStatuses: [{ name: 'c1', ready: false, state: { waiting: { reason: 'ContainerCreating' } } }, { name: 'c2', ready: false }] }),
  ];

  it('prints pods like kubectl, sorted, columns padded by 3 and no trailing blanks', () => {
    const r = printTable('Pod', pods.slice(0, 2), { now });
    expect(r).toEqual({
      empty: false,
      text: ['NAME   READY   STATUS    RESTARTS   AGE', 'a      2/2     Running   3          45s', 'b      0/2     Pending   0          3m12s', ''].join('\n'),
    });
  });

  it('adds NAMESPACE with -A and IP NODE with -o wide', () => {
    const r = printTable('Pod', pods, { now, allNamespaces: true, wide: true });
    expect(r.text).toBe(
      [
        'NAMESPACE   NAME   READY   STATUS              RESTARTS   AGE     IP            NODE',
        'x           a      2/2     Running             3          45s     198.19.0.10   node1',
        'x           b      0/2     Pending             0          3m12s   <none>        <none>',
        'y           a      0/2     ContainerCreating   0          2d      <none>        <none>',
        '',
      ].join('\n'),
    );
  });

  it('derives READY from the phase when there are no container statuses, and shows failures', () => {
    const r = printTable('Pod', [pod('x', 'a', 1, { phase: 'Running' }), pod('x', 'b', 1, { phase: 'Running', containerStatuses: [{ name: 'c1', ready: false, restartCount: 4, state: { waiting: { reason: 'CrashLoopBackOff' } } }, { name: 'c2', ready: true }] })], { now });
    expect(r.text.split('\n')[1]).toMatch(/^a\s+2\/2\s+Running\s+0\s+1s$/);
    expect(r.text.split('\n')[2]).toMatch(/^b\s+1\/2\s+CrashLoopBackOff\s+4\s+1s$/);
  });

  it('prints services, with NodePorts and the selector in wide output', () => {
    const svc = (name: string, spec: Record<string, unknown>): KubeObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'x', creationTimestamp: ago(300) }, spec });
    const r = printTable(
      'Service',
      [
        svc('web', { type: 'ClusterIP', clusterIP: '198.18.128.10', selector: { pod: 'a', app: 'web' }, ports: [{ name: 'h', port: 80, protocol: 'TCP' }, { name: 'd', port: 81, protocol: 'UDP' }] }),
        svc('np', { type: 'NodePort', clusterIP: '198.18.128.11', ports: [{ port: 80, nodePort: 30080, protocol: 'TCP' }] }),
        svc('headless', { clusterIP: 'None', ports: [{ port: 80 }] }),
      ],
      { now, wide: true },
    );
    expect(r.text).toBe(
      [
        'NAME       TYPE        CLUSTER-IP      EXTERNAL-IP   PORT(S)         AGE   SELECTOR',
        'headless   ClusterIP   None            <none>        80/TCP          5m    <none>',
        'np         NodePort    198.18.128.11   <none>        80:30080/TCP    5m    <none>',
        'web        ClusterIP   198.18.128.10   <none>        80/TCP,81/UDP   5m    app=web,pod=a',
        '',
      ].join('\n'),
    );
  });

  it('prints network policies with their pod selector, CNPs and namespaces', () => {
    const np = (name: string, podSelector: unknown): KubeObject => ({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: 'x', creationTimestamp: ago(60) }, spec: { podSelector } });
    expect(printTable('NetworkPolicy', [np('all', {}), np('one', { matchLabels: { pod: 'a' } })], { now }).text).toBe(
      ['NAME   POD-SELECTOR   AGE', 'all    <none>         60s', 'one    pod=a          60s', ''].join('\n'),
    );
    const cnp: KubeObject = { apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'l3', namespace: 'x', creationTimestamp: ago(7200) }, spec: {} };
    expect(printTable('CiliumNetworkPolicy', [cnp], { now, allNamespaces: true }).text).toBe('NAMESPACE   NAME   AGE\nx           l3     120m\n');
    const ns = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, creationTimestamp: ago(86400 * 3) } });
    // Cluster-scoped: no NAMESPACE column even with -A.
    expect(printTable('Namespace', [ns('y'), ns('x')], { now, allNamespaces: true }).text).toBe('NAME   STATUS   AGE\nx      Active   3d\ny      Active   3d\n');
  });

  it('formats selectors like kubectl', () => {
    expect(formatLabelSelector(undefined)).toBe('<none>');
    expect(formatLabelSelector({ matchLabels: {}, matchExpressions: [] })).toBe('<none>');
    expect(
      formatLabelSelector({
        matchLabels: { pod: 'a' },
        matchExpressions: [
          { key: 'tier', operator: 'In', values: ['web', 'db'] },
          { key: 'env', operator: 'NotIn', values: ['prod'] },
          { key: 'legacy', operator: 'DoesNotExist' },
          { key: 'app', operator: 'Exists' },
        ],
      }),
    ).toBe('app,env notin (prod),!legacy,pod=a,tier in (db,web)');
  });

  it('tells the caller when there is nothing, with kubectl\'s message for stderr', () => {
    expect(printTable('Pod', [], { namespace: 'x' })).toEqual({ empty: true, text: '', message: 'No resources found in x namespace.' });
    expect(printTable('Pod', [], {})).toMatchObject({ empty: true, message: 'No resources found in default namespace.' });
    expect(printTable('Pod', [], { allNamespaces: true })).toMatchObject({ empty: true, message: 'No resources found' });
    expect(noResourcesMessage('Namespace', { namespace: 'x' })).toBe('No resources found');
  });
});

describe('printList / printObject / printNames', () => {
  const obj: KubeObject = { kind: 'Pod', apiVersion: 'v1', metadata: { namespace: 'x', name: 'a', labels: { pod: 'a' } }, spec: { containers: [{ name: 'c', image: 'i' }] } };

  it('prints a v1 List as 4-space JSON with sorted keys', () => {
    const text = printList([obj], 'json');
    expect(JSON.parse(text)).toEqual({ apiVersion: 'v1', kind: 'List', items: [obj], metadata: { resourceVersion: '' } });
    expect(text).toMatch(/^\{\n {4}"apiVersion": "v1",\n {4}"items": \[\n {8}\{\n {12}"apiVersion": "v1",\n {12}"kind": "Pod",\n {12}"metadata": \{\n {16}"labels"/);
    expect(text.endsWith('}\n')).toBe(true);
    expect(printList([], 'json')).toBe('{\n    "apiVersion": "v1",\n    "items": [],\n    "kind": "List",\n    "metadata": {\n        "resourceVersion": ""\n    }\n}\n');
  });

  it('prints YAML like kubectl', () => {
    const text = printList([obj], 'yaml');
    expect(parseYaml(text)).toEqual({ apiVersion: 'v1', kind: 'List', items: [obj], metadata: { resourceVersion: '' } });
    expect(text.startsWith('apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Pod\n')).toBe(true);
    expect(printList([], 'yaml')).toBe('apiVersion: v1\nitems: []\nkind: List\nmetadata:\n  resourceVersion: ""\n');
    expect(printObject(obj, 'yaml').startsWith('apiVersion: v1\nkind: Pod\nmetadata:\n  labels:\n    pod: a\n  name: a\n')).toBe(true);
  });

  it('prints names as kubectl -o name', () => {
    const np: KubeObject = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'p' } };
    expect(printNames([obj, np])).toBe('pod/a\nnetworkpolicy.networking.k8s.io/p\n');
  });
});
