import { describe, expect, it } from 'vitest';
import { FakeDatapath } from '../testing/fake-datapath.js';
import { defaultHubbleConfig } from '../../lib/hubble-config.js';
import { NodeObserver } from './node-observer.js';
import { join } from 'node:path';
import { testTempDir } from '../../lib/testing/temp-dir.js';

describe('NodeObserver', () => {
  it('reads the datapath, names interfaces, and serves Hubble and agent metrics', async () => {
    const dir = testTempDir('nodeobs-');
    const dp = new FakeDatapath({ pinDir: dir, routing: 'tunnel', nodeIp: '198.18.0.11', routerIp: '198.19.0.1', podCidr: '198.19.0.0/24' }, join(dir, 'dp.json'));
    const no = new NodeObserver({
      nodeName: 'node1', config: defaultHubbleConfig(), datapath: dp, resolve: () => ({}),
      endpointIfname: (i) => (i === 7 ? 'lxcaaaa' : undefined), listLinks: async () => [{ ifindex: 3, ifname: 'cilium_vxlan' }], log: () => undefined,
    });
    await no.start();
    const base = { ktimeNs: process.hrtime.bigint(), kind: 'trace' as const, direction: 2, srcIdentity: 300, dstIdentity: 301, srcIp: '198.19.0.2', dstIp: '198.19.1.3', protocol: 6, srcPort: 1000, dstPort: 80, tcpFlags: 2, isReply: false, length: 60 };
    dp.emit({ ...base, observationPoint: 4, ifindex: 3 });
    dp.emit({ ...base, observationPoint: 5, ifindex: 7 });
    const flows: string[] = [];
    no.observer.getFlows({}, { write: (r) => ('flow' in r && flows.push(r.flow.interface?.name ?? '?'), true), end: () => undefined });
    expect(flows).toEqual(['cilium_vxlan', 'lxcaaaa']);
    const text = await no.observer.metrics.registry.metrics();
    expect(text).toContain('hubble_flows_processed_total{protocol="TCP",type="Trace",subtype="to-overlay",verdict="FORWARDED"} 1');
    expect(text).toContain('cnilab_observer_events_total 2');
    expect(text).toMatch(/cnilab_bpf_map_entries\{map="cnilab_lxc_if"\} 0/);
    expect(text).toMatch(/cnilab_agent_cpu_seconds_total\{mode="user"\} [0-9.]+/);
    expect(await no.observer.metrics.registry.getMetricsAsJSON()).toBeInstanceOf(Array);
    no.stop();
  });
});
