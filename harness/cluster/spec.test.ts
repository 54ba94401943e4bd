import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSpecFile, resolveSpec } from './spec.js';
import { InvalidInputError, InvalidInputList } from '../errors.js';
import { testTempDir } from '../../lib/testing/temp-dir.js';

function file(text: string): string {
  const dir = testTempDir('cnilab-spec-');
  const f = join(dir, 'cluster.yaml');
  writeFileSync(f, text);
  return f;
}

function messages(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof InvalidInputList) return e.problems.map((p) => p.message);
    if (e instanceof InvalidInputError) return [e.message];
    throw e;
  }
  throw new Error('expected an input error');
}

describe('cluster spec', () => {
  it('has defaults in the RFC 2544 range, a /24 per node and addresses per node', () => {
    const s = resolveSpec({}, 'flags');
    expect(s.name).toBe('cnilab');
    expect(s.nodes.map((n) => n.name)).toEqual(['node1', 'node2', 'node3']);
    expect(s.nodes.map((n) => n.podCidr)).toEqual(['198.19.0.0/24', '198.19.1.0/24', '198.19.2.0/24']);
    expect(s.nodes[1]!.podGateway).toBe('198.19.1.1');
    expect(s.nodes[0]!.underlayIp).toBe('198.18.0.11');
    expect(s.underlayGateway).toBe('198.18.0.1');
  });

  it('derives the pod MTU from the underlay: 1450 for VXLAN on 1500', () => {
    expect(resolveSpec({ networking: { cni: 'cnilab', routing: 'tunnel' } }, 'f').podMtu).toBe(1450);
    expect(resolveSpec({ networking: { cni: 'cnilab', routing: 'native' } }, 'f').podMtu).toBe(1500);
  });

  it('applies command-line overrides', () => {
    const s = resolveSpec({ nodes: [{}] }, 'f', { nodes: 4, routing: 'native', cni: 'cnilab', name: 'demo' });
    expect(s.nodes).toHaveLength(4);
    expect(s.routing).toBe('native');
    expect(s.name).toBe('demo');
  });

  it('reads a file in the spirit of kind, with node names and labels', () => {
    const s = loadSpecFile(file('kind: Cluster\nname: lab\nnodes:\n  - name: alpha\n    labels: {zone: a}\n  - {}\nnetworking:\n  cni: cnilab\n  routing: native\n'));
    expect(s.nodes.map((n) => n.name)).toEqual(['alpha', 'node2']);
    expect(s.nodes[0]!.labels.zone).toBe('a');
  });

  it('names the file, the field and what was expected', () => {
    const f = file('nodes:\n  - name: ok\n  - nmae: typo\nnetworking:\n  routing: bgp\n  mtu: "big"\n');
    const msgs = messages(() => loadSpecFile(f));
    expect(msgs.some((m) => m.startsWith(`${f}: nodes[1]`) && /nmae/.test(m))).toBe(true);
    expect(msgs.some((m) => m.startsWith(`${f}: networking.routing`) && /tunnel/.test(m))).toBe(true);
    expect(msgs.some((m) => m.startsWith(`${f}: networking.mtu`))).toBe(true);
  });

  it('rejects malformed YAML with the file name', () => {
    const f = file('nodes: [\n');
    expect(messages(() => loadSpecFile(f))[0]).toMatch(new RegExp(`^${f}: not valid YAML`));
  });

  it('rejects overlapping ranges, bad CIDRs and host bits', () => {
    expect(messages(() => resolveSpec({ networking: { podSubnet: '198.18.0.0/16' } }, 'c.yaml')).join('\n')).toMatch(/c.yaml: networking.podSubnet.*overlaps/);
    expect(messages(() => resolveSpec({ networking: { underlaySubnet: '198.18.0.1/24' } }, 'c.yaml'))[0]).toMatch(/networking.underlaySubnet: expected an IPv4 CIDR/);
    expect(messages(() => resolveSpec({ networking: { serviceSubnet: 'banana' } }, 'c.yaml'))[0]).toMatch(/serviceSubnet/);
  });

  it('rejects names that would escape a path or exceed an interface name', () => {
    expect(messages(() => resolveSpec({ name: '../../etc' }, 'c.yaml'))[0]).toMatch(/c.yaml: name: .*not a valid name/);
    expect(messages(() => resolveSpec({ nodes: [{ name: 'a-very-long-node-name' }] }, 'c.yaml'))[0]).toMatch(/nodes\[0\].name: .*interface names.*15/);
    expect(messages(() => resolveSpec({ nodes: [{ name: 'x' }, { name: 'x' }] }, 'c.yaml'))[0]).toMatch(/used by another node/);
    expect(messages(() => resolveSpec({}, 'f', { name: 'Bad_Name' }))[0]).toMatch(/^--name:/);
  });

  it('rejects an unknown routing mode or CNI from flags, and reference-bridge with tunnel', () => {
    expect(messages(() => resolveSpec({}, 'f', { routing: 'geneve' }))[0]).toMatch(/^--routing: expected one of tunnel, native/);
    expect(messages(() => resolveSpec({}, 'f', { cni: 'calico' }))[0]).toMatch(/^--cni:/);
    expect(messages(() => resolveSpec({}, 'f', { cni: 'reference-bridge', routing: 'tunnel' }))[0]).toMatch(/reference-bridge/);
  });

  it('rejects more nodes than the pod range holds', () => {
    expect(messages(() => resolveSpec({ networking: { podSubnet: '198.19.0.0/23' } }, 'c.yaml', { nodes: 3 }))[0]).toMatch(/holds only 2 node CIDRs/);
  });
});
