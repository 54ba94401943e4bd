import { describe, expect, it } from 'vitest';
import { InvalidInputError, InvalidInputList } from '../../errors.js';
import { ObjectStore } from '../store.js';
import type { EndpointSlice, KubeObject, Service } from '../objects.js';
import { printTable } from '../printers.js';
import { serviceFrontends } from '../../../lib/services.js';
import { startServiceControllers } from './index.js';

const ns = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }) as KubeObject;
const pod = (name: string, labels: Record<string, string>, ports: Array<{ name: string; containerPort: number; protocol?: string }> = []) =>
  ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'x', labels },
    spec: { nodeName: 'node1', containers: [{ name: 'c', image: 'agnhost', args: ['netexec'], ports }] },
  }) as KubeObject;
const svc = (name: string, spec: Record<string, unknown>, meta: Record<string, unknown> = {}) =>
  ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'x', ...meta }, spec }) as KubeObject;

function cluster() {
  const store = new ObjectStore();
  const logs: string[] = [];
  startServiceControllers(store, { serviceSubnet: '198.18.128.0/28' }, (m) => logs.push(m));
  store.apply([ns('x')]);
  return { store, logs };
}
/** What the pod runtime writes once a pod runs. */
const running = (store: ObjectStore, name: string, ip: string, ready = true) =>
  store.updateStatus('Pod', 'x', name, { phase: 'Running', podIP: ip, conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] });
const slicesOf = (store: ObjectStore, name: string) =>
  store.list('EndpointSlice', 'x').filter((s) => s.metadata.labels?.['kubernetes.io/service-name'] === name) as unknown as EndpointSlice[];
const problemOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    if (e instanceof InvalidInputError) return e.message;
    if (e instanceof InvalidInputList) return e.problems.map((p) => p.message).join('\n');
    throw e;
  }
  throw new Error('expected an input error');
};

describe('ClusterIP and NodePort allocation', () => {
  it('allocates the lowest free address of the service range, and keeps it on re-apply', () => {
    const { store } = cluster();
    store.apply([svc('a', { ports: [{ port: 80 }] }), svc('b', { ports: [{ port: 80 }] })]);
    const ip = (n: string) => (store.get('Service', 'x', n) as Service).spec.clusterIP;
    expect([ip('a'), ip('b')]).toEqual(['198.18.128.1', '198.18.128.2']);
    expect(store.apply([svc('a', { ports: [{ port: 80 }] })])[0]!.action).toBe('unchanged');
    store.delete('Service', 'x', 'a');
    store.apply([svc('c', { ports: [{ port: 80 }] })]);
    expect(ip('c')).toBe('198.18.128.1');
  });

  it('takes spec.clusterIP when in range and free; rejects it outside the range, taken, or changed', () => {
    const { store } = cluster();
    store.apply([svc('a', { clusterIP: '198.18.128.9', ports: [{ port: 80 }] })]);
    expect((store.get('Service', 'x', 'a') as Service).spec.clusterIPs).toEqual(['198.18.128.9']);
    expect(problemOf(() => store.apply([svc('b', { clusterIP: '198.18.128.9', ports: [{ port: 80 }] })]))).toBe(
      'object 1 (Service x/b): spec.clusterIP: 198.18.128.9 is already allocated to x/a',
    );
    expect(problemOf(() => store.apply([svc('b', { clusterIP: '10.0.0.1', ports: [{ port: 80 }] })]))).toMatch(
      /spec\.clusterIP: 10\.0\.0\.1 is not in the cluster's service range 198\.18\.128\.0\/28/,
    );
    expect(problemOf(() => store.apply([svc('b', { clusterIP: '198.18.128.15', ports: [{ port: 80 }] })]))).toMatch(/not in the cluster's service range/);
    expect(problemOf(() => store.apply([svc('a', { clusterIP: '198.18.128.10', ports: [{ port: 80 }] })]))).toMatch(/spec\.clusterIP: field is immutable/);
    // Two objects of one batch cannot take the same address, and a failed batch allocates nothing.
    expect(problemOf(() => store.apply([svc('c', { clusterIP: '198.18.128.3', ports: [{ port: 80 }] }), svc('d', { clusterIP: '198.18.128.3', ports: [{ port: 80 }] })]))).toMatch(
      /object 2 \(Service x\/d\): spec\.clusterIP: 198\.18\.128\.3 is already allocated to x\/c/,
    );
    expect(store.list('Service', 'x').map((s) => s.metadata.name)).toEqual(['a']);
  });

  it('runs out of addresses with a clear message, and headless Services take none', () => {
    const { store } = cluster();
    store.apply([svc('h', { clusterIP: 'None', ports: [{ port: 80 }] })]);
    store.apply(Array.from({ length: 14 }, (_, i) => svc(`s${i}`, { ports: [{ port: 80 }] })));
    expect(problemOf(() => store.apply([svc('z', { ports: [{ port: 80 }] })]))).toMatch(/spec\.clusterIP: no free address left in the service range/);
  });

  it('allocates node ports from 30000, honours a given one, keeps them, and rejects a taken one', () => {
    const { store } = cluster();
    store.apply([svc('a', { type: 'NodePort', ports: [{ name: 'http', port: 80 }, { name: 'dns', port: 53, protocol: 'UDP', nodePort: 30053 }] })]);
    const a = store.get('Service', 'x', 'a') as Service;
    expect(a.spec.ports.map((p) => p.nodePort)).toEqual([30000, 30053]);
    expect(a.spec.externalTrafficPolicy).toBe('Cluster');
    expect(store.apply([svc('a', { type: 'NodePort', ports: [{ name: 'http', port: 80 }, { name: 'dns', port: 53, protocol: 'UDP', nodePort: 30053 }] })])[0]!.action).toBe('unchanged');
    expect(problemOf(() => store.apply([svc('b', { type: 'NodePort', ports: [{ port: 80, nodePort: 30053 }] })]))).toBe(
      'object 1 (Service x/b): spec.ports[0].nodePort: 30053 is already allocated to x/a',
    );
    // Back to ClusterIP releases the node ports.
    store.apply([svc('a', { ports: [{ name: 'http', port: 80 }] })]);
    store.apply([svc('b', { type: 'NodePort', ports: [{ port: 80, nodePort: 30053 }] })]);
    expect((store.get('Service', 'x', 'b') as Service).spec.ports[0]!.nodePort).toBe(30053);
  });

  it('admits writes of the Kubernetes API too: allocation, and bare field paths for 422 causes', () => {
    const { store } = cluster();
    const created = store.write(svc('api', { type: 'ClusterIP', ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }] })) as Service;
    expect(created.spec.clusterIP).toBe('198.18.128.1');
    expect(problemOf(() => store.write(svc('api2', { clusterIP: '198.18.128.1', ports: [{ port: 80, protocol: 'TCP', targetPort: 80 }] })))).toBe('spec.clusterIP: 198.18.128.1 is already allocated to x/api');
  });

  it('rejects invalid Services at apply with the field path', () => {
    const { store } = cluster();
    expect(problemOf(() => store.apply([svc('a', { ports: [{ port: 70000 }] })]))).toBe('object 1 (Service x/a): spec.ports[0].port: expected an integer 1..65535, got 70000');
    expect(problemOf(() => store.apply([svc('a', { ports: [{ name: 'p', port: 80 }, { name: 'p', port: 81 }] })]))).toBe('object 1 (Service x/a): spec.ports[1].name: duplicate port name "p"');
    expect(problemOf(() => store.apply([svc('a', { type: 'LoadBalancer', ports: [{ port: 80 }] })]))).toBe(
      'object 1 (Service x/a): spec.type: unsupported Service type "LoadBalancer" (cnilab implements ClusterIP and NodePort)',
    );
    expect(problemOf(() => store.apply([svc('a', { type: 'NodePort', ports: [{ port: 80, nodePort: 8080 }] })]))).toBe(
      'object 1 (Service x/a): spec.ports[0].nodePort: expected an integer 30000..32767, got 8080',
    );
    expect(problemOf(() => store.apply([svc('a', { externalTrafficPolicy: 'Local', ports: [{ port: 80 }] })]))).toBe(
      'object 1 (Service x/a): spec.externalTrafficPolicy: only allowed with type NodePort',
    );
    expect(store.list('Service')).toEqual([]);
  });
});

describe('EndpointSlice controller', () => {
  it('lists the ready pods matching the selector, resolving named target ports per pod', () => {
    const { store, logs } = cluster();
    store.apply([
      pod('a', { app: 'web' }, [{ name: 'http', containerPort: 8080 }]),
      pod('b', { app: 'web' }, [{ name: 'http', containerPort: 9090 }]),
      pod('c', { app: 'db' }, [{ name: 'http', containerPort: 8080 }]),
      svc('web', { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 'http' }] }),
    ]);
    // Pods without an IP are not endpoints yet; the Service still has an (empty) slice.
    expect(slicesOf(store, 'web').map((s) => s.endpoints)).toEqual([[]]);
    running(store, 'a', '198.19.1.2');
    running(store, 'b', '198.19.1.3');
    running(store, 'c', '198.19.1.4');
    const slices = slicesOf(store, 'web');
    expect(slices).toHaveLength(2); // two port sets: 8080 and 9090
    expect(slices.map((s) => [s.ports, s.endpoints.map((e) => e.addresses[0])]).sort()).toEqual([
      [[{ name: '', port: 8080, protocol: 'TCP' }], ['198.19.1.2']],
      [[{ name: '', port: 9090, protocol: 'TCP' }], ['198.19.1.3']],
    ]);
    expect(slices[0]!.endpoints[0]).toMatchObject({ conditions: { ready: true, serving: true, terminating: false }, nodeName: 'node1', targetRef: { kind: 'Pod', namespace: 'x' } });
    const web = store.get('Service', 'x', 'web') as Service;
    expect(serviceFrontends(web, slices)[0]!.backends).toEqual([
      { ip: '198.19.1.2', port: 8080, nodeName: 'node1' },
      { ip: '198.19.1.3', port: 9090, nodeName: 'node1' },
    ]);
    expect(logs).toEqual([]);
  });

  it('follows readiness, labels and deletion within the same store write', () => {
    const { store } = cluster();
    store.apply([pod('a', { app: 'web' }), pod('b', { app: 'web' }), svc('web', { selector: { app: 'web' }, ports: [{ port: 80 }] })]);
    running(store, 'a', '198.19.1.2');
    running(store, 'b', '198.19.1.3');
    const backends = () => serviceFrontends(store.get('Service', 'x', 'web') as Service, slicesOf(store, 'web'))[0]!.backends.map((b) => b.ip);
    expect(backends()).toEqual(['198.19.1.2', '198.19.1.3']);
    running(store, 'a', '198.19.1.2', false);
    expect(slicesOf(store, 'web')[0]!.endpoints.map((e) => e.conditions?.ready)).toEqual([false, true]);
    expect(backends()).toEqual(['198.19.1.3']);
    running(store, 'a', '198.19.1.2', true);
    store.delete('Pod', 'x', 'b');
    expect(backends()).toEqual(['198.19.1.2']);
    const relabeled = pod('a', { app: 'other' });
    store.apply([relabeled]);
    expect(backends()).toEqual([]);
    store.delete('Service', 'x', 'web');
    expect(store.list('EndpointSlice')).toEqual([]);
  });

  it('leaves selector-less Services to user-applied slices, and prints kubectl columns', () => {
    const { store } = cluster();
    store.apply([
      svc('ext', { ports: [{ name: 'http', port: 80 }] }),
      {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: 'ext-1', namespace: 'x', labels: { 'kubernetes.io/service-name': 'ext' } },
        addressType: 'IPv4',
        endpoints: ['198.19.2.1', '198.19.2.2', '198.19.2.3', '198.19.2.4'].map((ip) => ({ addresses: [ip] })),
        ports: [{ name: 'http', port: 8080 }],
      } as unknown as KubeObject,
    ]);
    expect(store.list('EndpointSlice', 'x').map((s) => s.metadata.name)).toEqual(['ext-1']);
    const slice = store.get('EndpointSlice', 'x', 'ext-1')!;
    const table = printTable('EndpointSlice', [{ ...slice, metadata: { ...slice.metadata, creationTimestamp: new Date(0).toISOString() } }], { now: 30_000 });
    expect(table.text).toBe('NAME    ADDRESSTYPE   PORTS   ENDPOINTS                                      AGE\next-1   IPv4          8080    198.19.2.1,198.19.2.2,198.19.2.3 + 1 more...   30s\n');
    expect(problemOf(() => store.apply([{ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'v6', namespace: 'x' }, addressType: 'IPv6', endpoints: [] } as unknown as KubeObject]))).toMatch(
      /addressType: unsupported addressType "IPv6"/,
    );
  });

  it('prints services -o wide with the allocated ClusterIP and node ports', () => {
    const { store } = cluster();
    store.apply([svc('np', { type: 'NodePort', selector: { app: 'web' }, ports: [{ port: 80 }] })]);
    const s = store.get('Service', 'x', 'np')!;
    const table = printTable('Service', [{ ...s, metadata: { ...s.metadata, creationTimestamp: new Date(0).toISOString() } }], { wide: true, now: 5000 });
    expect(table.text).toBe('NAME   TYPE       CLUSTER-IP     EXTERNAL-IP   PORT(S)        AGE   SELECTOR\nnp     NodePort   198.18.128.1   <none>        80:30000/TCP   5s    app=web\n');
  });
});
