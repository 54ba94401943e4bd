import { describe, expect, it } from 'vitest';
import { forVersion, hasDefaultRoute, mergeChained, parsePrevResult, parseValidAttachments } from './result.js';

const ours = {
  cniVersion: '1.1.0',
  interfaces: [{ name: 'lxcaaaaaaaaaaaa', mac: '02:00:00:00:00:01' }, { name: 'eth0', mac: '02:00:00:00:00:02', sandbox: '/n' }],
  ips: [{ address: '198.19.1.2/32', gateway: '198.19.1.1', interface: 1 }],
  routes: [{ dst: '0.0.0.0/0', gw: '198.19.1.1' }],
  dns: {},
};

describe('CNI results', () => {
  it('marks IPs with their version for 0.x results only', () => {
    expect((forVersion(ours, '0.4.0') as { ips: Array<{ version: string }> }).ips[0]!.version).toBe('4');
    expect(forVersion(ours, '1.1.0')).toEqual(ours);
  });
  it('appends our attachment to a prevResult, shifting our interface indexes', () => {
    const m = mergeChained({ interfaces: [{ name: 'x0' }], ips: [{ address: '10.0.0.2/24', interface: 0 }], routes: [] }, ours, 'eth0', '/n');
    expect(m.interfaces.map((i) => i.name)).toEqual(['x0', 'lxcaaaaaaaaaaaa', 'eth0']);
    expect(m.ips.map((i) => i.interface)).toEqual([0, 2]);
  });
  it('passes the earlier result on unchanged when it made our interface (adopted), appends in another sandbox', () => {
    const prev = { interfaces: [{ name: 'veth1' }, { name: 'eth0', sandbox: '/n' }], ips: [{ address: '10.0.0.2/24', interface: 1 }], routes: [{ dst: '0.0.0.0/0' }] };
    expect(mergeChained(prev, ours, 'eth0', '/n')).toEqual({ cniVersion: '1.1.0', ...prev, dns: {} });
    expect(mergeChained({ interfaces: [{ name: 'eth0', sandbox: '/other' }] }, ours, 'eth0', '/n').interfaces).toHaveLength(3);
  });
  it('sees an earlier default route', () => {
    expect(hasDefaultRoute({ routes: [{ dst: '0.0.0.0/0' }] })).toBe(true);
    expect(hasDefaultRoute({ routes: [{ dst: '10.0.0.0/8' }] })).toBe(false);
    expect(hasDefaultRoute(undefined)).toBe(false);
  });
  it('checks a prevResult field by field', () => {
    expect(parsePrevResult({ interfaces: [{ name: 'eth0', mtu: 1450 }], ips: [{ address: '1.2.3.4/32', interface: 0 }] })).toMatchObject({ interfaces: [{ name: 'eth0', mtu: 1450 }] });
    for (const bad of [[], 'x', { interfaces: [{}] }, { interfaces: 'eth0' }, { ips: [{ address: '1.2.3.4' }] }, { ips: [{ address: '1.2.3.4/32', interface: -1 }] }, { routes: [{ dst: 5 }] }]) {
      expect(() => parsePrevResult(bad), JSON.stringify(bad)).toThrow(/invalid prevResult/);
    }
  });
  it('reads cni.dev/valid-attachments, refusing absent or malformed lists', () => {
    expect(parseValidAttachments({ 'cni.dev/valid-attachments': [{ containerID: 'a', ifname: 'eth0' }] })).toEqual([{ containerID: 'a', ifname: 'eth0' }]);
    expect(parseValidAttachments({ 'cni.dev/valid-attachments': [] })).toEqual([]);
    expect(() => parseValidAttachments({})).toThrow(/needs cni.dev\/valid-attachments/);
    expect(() => parseValidAttachments({ 'cni.dev/valid-attachments': {} })).toThrow(/expected a list/);
    expect(() => parseValidAttachments({ 'cni.dev/valid-attachments': [{ containerID: '', ifname: 'eth0' }] })).toThrow(/\[0\]/);
  });
});
