// The kind and K3s cluster definitions cnilab generates, checked without Docker.
import { describe, expect, it } from 'vitest';
import { resolveSpec } from '../../cluster/spec.js';
import { kindClusterConfig } from './cluster.js';
import { chartValuesFor } from '../common/kubeconfig-backed.js';
import { k3sServerArgs } from '../k3s/cluster.js';
import { renderChart } from '../../deploy/chart.js';

const spec = resolveSpec({}, 'test', { name: 'kt', nodes: 3, cni: 'cnilab', routing: 'tunnel' });

describe('kind cluster config', () => {
  const c = kindClusterConfig(spec) as any;
  it('has no default CNI and no kube-proxy, with the spec\'s subnets', () => {
    expect(c).toMatchObject({ kind: 'Cluster', apiVersion: 'kind.x-k8s.io/v1alpha4', name: 'kt' });
    expect(c.networking).toEqual({ disableDefaultCNI: true, kubeProxyMode: 'none', podSubnet: spec.podSubnet, serviceSubnet: spec.serviceSubnet });
  });
  it('has one control plane and a worker per further node, labelled with cnilab\'s node names', () => {
    expect(c.nodes.map((n: { role: string }) => n.role)).toEqual(['control-plane', 'worker', 'worker']);
    expect(c.nodes.map((n: { labels: Record<string, string> }) => n.labels['cnilab.dev/node'])).toEqual(['node1', 'node2', 'node3']);
  });
});

describe('K3s server arguments', () => {
  const args = k3sServerArgs(spec);
  it('switch off flannel, network policy, kube-proxy, servicelb and traefik', () => {
    expect(args[0]).toBe('server');
    for (const a of ['--flannel-backend=none', '--disable-network-policy', '--disable-kube-proxy', '--disable=servicelb', '--disable=traefik']) expect(args).toContain(a);
    expect(args).toContain(`--cluster-cidr=${spec.podSubnet}`);
    expect(args).toContain(`--service-cidr=${spec.serviceSubnet}`);
  });
});

describe('the chart for a provider\'s cluster', () => {
  it('follows the spec: routing, pod CIDR, MTU; native routing peers with the underlay gateway', () => {
    const cm = renderChart({ set: chartValuesFor(spec) }).find((d) => d.object.kind === 'ConfigMap')!.object.data;
    expect(cm).toMatchObject({ 'routing-mode': 'tunnel', 'cluster-pool-ipv4-cidr': spec.podSubnet, mtu: String(spec.mtu) });
    const native = resolveSpec({}, 'test', { name: 'kt', nodes: 2, cni: 'cnilab', routing: 'native' });
    const ncm = renderChart({ set: chartValuesFor(native) }).find((d) => d.object.kind === 'ConfigMap')!.object.data;
    expect(ncm).toMatchObject({ 'routing-mode': 'native', 'bgp-peer-address': native.underlayGateway });
  });
});
