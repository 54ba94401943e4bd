import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { canonicalEndpointPolicy } from '../datapath/policy-map.js';
import type { EndpointPolicy, PolicyEntry } from '../policy/types.js';
import { FakeDatapath } from './fake-datapath.js';

const CFG = { pinDir: '/nonexistent', routing: 'tunnel' as const, nodeIp: '198.18.0.11', routerIp: '198.19.1.1', podCidr: '198.19.1.0/24' };
const ing = (x: Partial<PolicyEntry>): PolicyEntry => ({ direction: 'ingress', identity: 0, protocol: 0, port: 0, endPort: 0, deny: false, ...x });

describe('FakeDatapath endpoint policies', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cnilab-fakedp-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('validates like the real one, lists the canonical form, decides like the BPF lookup, persists', () => {
    const file = join(dir, 'state.json');
    const dp = new FakeDatapath(CFG, file);
    const p: EndpointPolicy = {
      endpointId: 3, ingressEnforced: true, egressEnforced: false,
      entries: [ing({ identity: 1001, protocol: 6, port: 80, endPort: 81 }), ing({ protocol: 6, port: 81, deny: true })],
    };
    dp.setEndpointPolicy(p);
    expect(dp.listEndpointPolicies()).toEqual([canonicalEndpointPolicy(p)]);
    expect(dp.policyVerdict(3, 'ingress', 1001, 6, 80)).toEqual({ reason: 0, match: 2 });
    expect(dp.policyVerdict(3, 'ingress', 1001, 6, 81)).toMatchObject({ reason: 181 });
    expect(dp.policyVerdict(3, 'ingress', 1002, 6, 80)).toMatchObject({ reason: 133 });
    expect(dp.policyVerdict(3, 'egress', 1002, 6, 80)).toMatchObject({ reason: 0 });
    expect(dp.policyVerdict(9, 'ingress', 1002, 6, 80)).toMatchObject({ reason: 0 }); // no policy
    expect(() => dp.setEndpointPolicy({ ...p, entries: [ing({ protocol: 0, port: 5 })] })).toThrow(/entries\[0\]\.port/);
    expect(dp.listEndpointPolicies()).toEqual([canonicalEndpointPolicy(p)]);
    expect(new FakeDatapath(CFG, file).listEndpointPolicies()).toEqual([canonicalEndpointPolicy(p)]);
    dp.setEndpointPolicy({ endpointId: 3, ingressEnforced: false, egressEnforced: false, entries: [] });
    expect(dp.listEndpointPolicies()).toEqual([]);
    dp.setEndpointPolicy(p);
    dp.deleteEndpointPolicy(3);
    expect(dp.listEndpointPolicies()).toEqual([]);
    expect(dp.policyCalls.map((c) => c.op)).toEqual(['set', 'set', 'set', 'delete']);
  });
});
