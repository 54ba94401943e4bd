// rtnl.ts's input checks and error words, without root: bad input is refused before any netlink call.
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../lib/errors.js';
import { addPodLink, NetlinkError } from './rtnl.js';

const good = {
  hostIfname: 'lxc000000000001',
  podIfname: 'eth0',
  netns: '/run/netns/cnilab-rtnl-unit-none',
  hostMac: '02:00:00:00:00:01',
  podMac: '02:00:00:00:00:02',
  mtu: 1450,
  podIp: '198.19.1.10',
  gateway: '198.19.1.1',
  routes: ['0.0.0.0/0'],
};

describe('addPodLink input', () => {
  it.each([
    ['hostMac', { hostMac: '02:00:00:00:00' }],
    ['podMac', { podMac: 'zz:00:00:00:00:02' }],
    ['podIp', { podIp: '198.19.1.300' }],
    ['gateway', { gateway: 'fd00::1' }],
    ['routes', { routes: ['198.19.0.0/33'] }],
    ['routes', { routes: ['198.19.0.0'] }],
    ['routes', { routes: ['x/8'] }],
  ])('refuses a bad %s, naming it', async (field, over) => {
    const err = await addPodLink({ ...good, ...over }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as Error).message).toContain(field);
  });
});

describe('NetlinkError', () => {
  it('carries the errno, its name and the C side\'s words', () => {
    const e = new NetlinkError(17, 'link add lxc1 type veth peer name eth0 netns /run/netns/x: File exists');
    expect(e.errno).toBe(17);
    expect(e.errnoName).toBe('EEXIST');
    expect(e.message).toBe('rtnetlink: link add lxc1 type veth peer name eth0 netns /run/netns/x: File exists');
    expect(new NetlinkError(99999, '').message).toBe('rtnetlink: errno 99999');
  });
});
