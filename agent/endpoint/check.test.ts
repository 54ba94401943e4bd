// CHECK's comparison of the real state with the endpoint's record and the runtime's prevResult: each
// kind of drift is made on purpose and must be named.
import { describe, expect, it } from 'vitest';
import { attachmentProblems, type AttachmentState } from './check.js';
import type { EndpointState } from './state.js';

const GW = '198.19.1.1';
const st: EndpointState = {
  containerId: 'c1',
  endpointId: 7,
  hostIfname: 'lxc0123456789ab',
  ifindex: 40,
  hostMac: '02:00:00:00:00:01',
  podIfname: 'eth0',
  podMac: '02:00:00:00:00:02',
  netns: '/run/netns/p1',
  ip: '198.19.1.5',
  mtu: 1450,
  identity: 300,
  labels: [],
  podNamespace: 'x',
  podName: 'a',
  createdAt: '2026-01-01T00:00:00Z',
};
const good = (): AttachmentState => ({
  host: { ifindex: 40, address: '02:00:00:00:00:01', mtu: 1450 },
  pod: { address: '02:00:00:00:00:02', mtu: 1450, up: true, ipv4: ['198.19.1.5'] },
  podRoutes: [
    { dst: '0.0.0.0/0', gateway: GW, dev: 'eth0' },
    { dst: `${GW}/32`, dev: 'eth0' },
  ],
  datapath: { ifindex: 40 },
});
const prev = () => ({
  cniVersion: '1.1.0',
  interfaces: [
    { name: 'lxc0123456789ab', mac: '02:00:00:00:00:01' },
    { name: 'eth0', mac: '02:00:00:00:00:02', sandbox: '/run/netns/p1' },
  ],
  ips: [{ address: '198.19.1.5/32', gateway: GW, interface: 1 }],
  routes: [{ dst: '0.0.0.0/0', gw: GW }],
});

describe('CHECK: real state against record and prevResult', () => {
  it('passes when everything matches', () => {
    expect(attachmentProblems(st, prev(), good(), GW)).toEqual([]);
  });
  it('names a missing host veth, a missing pod interface and a missing map entry', () => {
    const real = good();
    delete real.host;
    delete real.pod;
    delete real.datapath;
    const p = attachmentProblems(st, undefined, real, GW);
    expect(p).toEqual(expect.arrayContaining([expect.stringContaining('host veth lxc0123456789ab is missing'), expect.stringContaining('eth0 is missing'), expect.stringContaining('no entry for 198.19.1.5')]));
  });
  it('names a removed address, a changed MTU or MAC, a downed link, a deleted default route', () => {
    const real = good();
    real.pod = { address: '02:00:00:00:00:99', mtu: 1500, up: false, ipv4: [] };
    real.podRoutes = real.podRoutes.filter((r) => r.dst !== '0.0.0.0/0');
    const p = attachmentProblems(st, undefined, real, GW).join('\n');
    expect(p).toContain('does not have 198.19.1.5');
    expect(p).toContain('MTU 1500, expected 1450');
    expect(p).toContain('MAC 02:00:00:00:00:99');
    expect(p).toContain('is down');
    expect(p).toContain('no route 0.0.0.0/0');
  });
  it('names a datapath entry pointing at another device', () => {
    expect(attachmentProblems(st, undefined, { ...good(), datapath: { ifindex: 41 } }, GW).join()).toContain('points at ifindex 41');
  });
  it('names a prevResult that disagrees with the kernel: another IP, another MAC, a route the pod lacks', () => {
    const p1 = prev();
    p1.ips[0]!.address = '198.19.1.6/32';
    expect(attachmentProblems(st, p1, good(), GW).join('\n')).toMatch(/does not give eth0 the address 198\.19\.1\.5[\s\S]*198\.19\.1\.6, which it does not have/);
    const p2 = prev();
    p2.interfaces[1]!.mac = '02:00:00:00:00:03';
    expect(attachmentProblems(st, p2, good(), GW).join()).toContain('prevResult gives eth0 MAC 02:00:00:00:00:03');
    const p3 = prev();
    p3.routes.push({ dst: '203.0.113.0/24', gw: GW });
    expect(attachmentProblems(st, p3, good(), GW).join()).toContain('routes 203.0.113.0/24');
    const p4 = prev();
    p4.interfaces[1]!.sandbox = '/run/netns/other';
    expect(attachmentProblems(st, p4, good(), GW).join()).toContain('no interface eth0 in /run/netns/p1');
  });
  it('ignores what other plugins of the chain put in prevResult', () => {
    const p = prev();
    p.interfaces.unshift({ name: 'br0', mac: '02:aa:aa:aa:aa:aa' });
    p.ips = [{ address: '10.9.0.5/24', gateway: '10.9.0.1', interface: 0 }, { ...p.ips[0]!, interface: 2 }];
    p.routes.push({ dst: '10.9.0.0/16', gw: '10.9.0.1' });
    expect(attachmentProblems(st, p, good(), GW)).toEqual([]);
  });
  it('checks only the cluster subnets when chained after a plugin owning the default route', () => {
    const chained = { ...st, routes: ['198.19.0.0/16', '198.18.128.0/20'] };
    const real = good();
    real.podRoutes = [{ dst: '198.19.0.0/16', gateway: GW, dev: 'eth0' }];
    expect(attachmentProblems(chained, undefined, real, GW)).toEqual(['the pod has no route 198.18.128.0/20 via 198.19.1.1 dev eth0']);
  });
});
