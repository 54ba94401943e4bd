import { describe, expect, it } from 'vitest';
import { datapathHooks } from './tc-hook-cost.js';

describe('datapathHooks', () => {
  it('puts tc_ok where the datapath sits: pod veths both ways, VXLAN and eth0 on ingress, nothing on lo', () => {
    const hooks = datapathHooks([
      { ifname: 'lo' },
      { ifname: 'eth0', linkinfo: { info_kind: 'veth' } },
      { ifname: 'vxlan0', linkinfo: { info_kind: 'vxlan' } },
      { ifname: 'veth1a2b', linkinfo: { info_kind: 'veth' } },
      { ifname: 'br0', linkinfo: { info_kind: 'bridge' } },
    ]);
    expect(hooks).toEqual([['eth0', 'ingress'], ['vxlan0', 'ingress'], ['veth1a2b', 'ingress'], ['veth1a2b', 'egress']]);
  });
});
