// The fabric route reflector's config and the birdc output parsers, without bird or root.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ClusterSpec, NodeSpec } from '../../cluster/spec.js';
import { BGP_TIMERS, birdSymbol, isEstablished, parseRouteCount, parseShowProtocols, reflectorConfig } from './bgp.js';

const node = (i: number, name = `node${i}`): NodeSpec => ({
  name,
  index: i - 1,
  labels: {},
  underlayIp: `198.18.0.${10 + i}`,
  podCidr: `198.19.${i - 1}.0/24`,
  podGateway: `198.19.${i - 1}.1`,
});
const spec = {
  name: 'lab',
  underlayGateway: '198.18.0.1',
  nodes: [node(1), node(2), node(3, 'worker-3')],
} as ClusterSpec;

// Captured from bird 2.0.12 (birdc -s bird.ctl show protocols) on a node speaker and the reflector.
const NODE_CONNECTING = `BIRD 2.0.12 ready.
Name       Proto      Table      State  Since         Info
device1    Device     ---        up     19:53:51.418  
pod_cidr   Static     master4    up     19:53:51.418  
kernel1    Kernel     master4    up     19:53:51.418  
reflector  BGP        ---        start  19:53:51.418  Connect       
`;
const REFLECTOR = `BIRD 2.0.12 ready.
Name       Proto      Table      State  Since         Info
device1    Device     ---        up     19:53:02.493  
node_node1 BGP        ---        up     19:53:03.728  Established   
node_node2 BGP        ---        start  19:53:04.866  Active        Socket: Connection closed
node_worker_3 BGP        ---        start  2024-01-02 10:11:12  Idle          Hold timer expired
`;

describe('reflectorConfig', () => {
  const conf = reflectorConfig(spec, { runDir: '/run/cnilab/lab' });
  it('is an iBGP reflector in one AS with one passive rr-client session per node', () => {
    expect(conf).toContain('router id 198.18.0.1;');
    expect(conf).toContain('local 198.18.0.1 as 64512;');
    expect(conf).toMatch(/rr client;/);
    expect(conf).toMatch(/passive on;/);
    expect(conf).not.toMatch(/next hop self/); // reflected routes keep the announcing node as next hop
    for (const n of spec.nodes) {
      expect(conf).toContain(`protocol bgp ${birdSymbol('node', n.name)} from rr_client {`);
      expect(conf).toContain(`neighbor ${n.underlayIp} as 64512;`);
    }
    expect(conf).toContain('protocol bgp node_worker_3 from rr_client');
  });
  it('carries the fast timers and no graceful restart', () => {
    for (const t of BGP_TIMERS) expect(conf).toContain(t);
    expect(conf).toMatch(/hold time 3;[\s\S]*keepalive time 1;[\s\S]*connect retry time 1;/);
    expect(conf).toContain('graceful restart off;');
    expect(conf).toContain('log "/run/cnilab/lab/bird-fabric.log"');
  });
  it.skipIf(spawnSync('bird', ['--version']).status !== 0)('is accepted by bird -p', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cnilab-bgp-unit-'));
    try {
      writeFileSync(join(dir, 'bird-fabric.conf'), reflectorConfig(spec, { runDir: dir }));
      const res = spawnSync('bird', ['-p', '-c', join(dir, 'bird-fabric.conf')], { encoding: 'utf8' });
      expect(res.status, res.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('honours another AS', () => {
    expect(reflectorConfig(spec, { asn: 65001 })).toContain('neighbor 198.18.0.11 as 65001;');
  });
});

describe('parseShowProtocols', () => {
  it('reads a node speaker that is still connecting', () => {
    const p = parseShowProtocols(NODE_CONNECTING);
    expect(p.map((s) => s.name)).toEqual(['device1', 'pod_cidr', 'kernel1', 'reflector']);
    expect(p[3]).toEqual({ name: 'reflector', proto: 'BGP', state: 'start', since: '19:53:51.418', info: 'Connect' });
    expect(p.some(isEstablished)).toBe(false);
  });
  it('reads sessions with errors and a two-token Since column', () => {
    const bgp = parseShowProtocols(REFLECTOR).filter((s) => s.proto === 'BGP');
    expect(bgp.map((s) => [s.name, s.state, s.info])).toEqual([
      ['node_node1', 'up', 'Established'],
      ['node_node2', 'start', 'Active Socket: Connection closed'],
      ['node_worker_3', 'start', 'Idle Hold timer expired'],
    ]);
    expect(bgp[2]!.since).toBe('2024-01-02 10:11:12');
    expect(bgp.filter(isEstablished).map((s) => s.name)).toEqual(['node_node1']);
  });
});

describe('parseRouteCount', () => {
  it('takes the number of routes that matched', () => {
    expect(parseRouteCount('BIRD 2.0.12 ready.\n2 of 3 routes for 3 networks in table master4\n')).toBe(2);
    expect(() => parseRouteCount('BIRD 2.0.12 ready.\nNo such command.\n')).toThrow(/unexpected output/);
  });
});
