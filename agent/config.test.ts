import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { InvalidInputError, InvalidInputList } from '../lib/errors.js';
import { networkOf, parseAgentConfig, resolveNode, type AgentConfigFile } from './config.js';
import type { NodeObject } from './k8s/resources.js';

const base: AgentConfigFile = {
  apiVersion: 'cnilab.dev/v1alpha1',
  kind: 'AgentConfig',
  cluster: 'lab',
  nodeName: 'node1',
  kubeconfig: '/run/cnilab/lab/kube/agent.kubeconfig',
  routingMode: 'tunnel',
  stateDir: '/run/cnilab/lab/nodes/node1',
  bpf: { pinDir: '/sys/fs/bpf/cnilab/lab/node1' },
};
const parse = (o: unknown, env: NodeJS.ProcessEnv = {}) => parseAgentConfig(stringify(o), 'agent.yaml', env);
const node = (podCIDR?: string, ip?: string): NodeObject => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name: 'node1' },
  spec: podCIDR ? { podCIDR } : {},
  status: { addresses: ip ? [{ type: 'InternalIP', address: ip }] : [] },
});

describe('agent config file', () => {
  it('fills the defaults a DaemonSet would leave out', () => {
    const c = parse(base);
    expect(c).toMatchObject({ mtu: 1500, tunnelProtocol: 'vxlan', underlayDevice: 'eth0', datapath: 'bpf', resyncPeriodSeconds: 300, agentSocket: '/run/cnilab/lab/nodes/node1/agent.sock' });
    expect(c.bpf.object).toMatch(/bpf\/build\/datapath\.o$/);
    expect(networkOf(c)).toMatchObject({ routing: 'tunnel', mtu: 1500, podMtu: 1450 });
    expect(networkOf(parse({ ...base, routingMode: 'native', bgp: { peerAddress: '198.18.0.1' } })).podMtu).toBe(1500);
  });

  it('takes the node name from NODE_NAME (the downward API) when the file has none', () => {
    const { nodeName: _, ...rest } = base;
    expect(parse(rest, { NODE_NAME: 'worker-7' }).nodeName).toBe('worker-7');
    expect(() => parse(rest)).toThrow(/nodeName: missing \(and no NODE_NAME/);
    expect(() => parse(rest, { NODE_NAME: 'Not_A_Label' })).toThrow(/nodeName: "Not_A_Label" is not a DNS-1123 label/);
  });

  it('names every bad field, at once', () => {
    let err: unknown;
    try {
      parse({ ...base, routingMode: 'overlay', podCIDR: '10.0.0.0/33', kubeconfig: 'relative/path', stray: 1 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidInputList);
    const msgs = (err as InvalidInputList).problems.map((p) => p.message).join('\n');
    expect(msgs).toMatch(/agent\.yaml: routingMode/);
    expect(msgs).toMatch(/agent\.yaml: podCIDR: expected an IPv4 CIDR/);
    expect(msgs).toMatch(/agent\.yaml: kubeconfig/);
    expect(msgs).toMatch(/stray/);
    expect((err as InvalidInputList).exitCode).toBe(2);
    expect(() => parse({ ...base, routingMode: 'native' })).toThrow(/bgp: native routing needs bgp.peerAddress/);
    expect(() => parseAgentConfig('a: [', 'x.yaml')).toThrow(InvalidInputError);
  });

  it("carries the cluster file's hubble section, validated, and names its bad fields", () => {
    expect(parse(base).hubble.eventBufferCapacity).toBe(4096);
    const c = parse({ ...base, hubble: { eventBufferCapacity: 64, metrics: ['drop:sourceContext=pod', 'dns:query'] } });
    expect(c.hubble.eventBufferCapacity).toBe(64);
    expect(c.hubble.metrics.map((m) => m.name)).toEqual(['drop', 'dns']);
    expect(() => parse({ ...base, hubble: { metrics: ['nope'] } })).toThrow(/agent\.yaml: hubble\.metrics\[0\]: unknown metric "nope"/);
  });

  it('addresses the node from the file, else from its Node object (spec.podCIDR, InternalIP)', () => {
    const c = parse(base);
    expect(resolveNode(c, node('198.19.4.0/24', '198.18.0.14'))).toEqual({ name: 'node1', podCidr: '198.19.4.0/24', podGateway: '198.19.4.1', underlayIp: '198.18.0.14' });
    const pinned = parse({ ...base, podCIDR: '198.19.9.0/24', nodeIP: '198.18.0.19' });
    expect(resolveNode(pinned, node('198.19.4.0/24', '198.18.0.14'))).toMatchObject({ podCidr: '198.19.9.0/24', podGateway: '198.19.9.1', underlayIp: '198.18.0.19' });
    expect(() => resolveNode(c, undefined)).toThrow(/no pod CIDR .*which does not exist/);
    expect(() => resolveNode(c, node('198.19.4.0/24'))).toThrow(/no node IP/);
  });
});
