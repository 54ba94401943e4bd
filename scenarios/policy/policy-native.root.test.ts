// The policy suite on cnilab's own CNI in native routing mode (BGP, no tunnel: the receiving node
// learns the source identity from its ipcache, not from the VNI): every case of every set passes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveSpec, type ClusterSpec } from '../../harness/cluster/spec.js';
import type { ControlPlaneClient } from '../../harness/cluster/client.js';
import { createCluster, destroyCluster } from '../../harness/providers/netns/cluster.js';
import { leftovers } from '../../harness/testing/cli.js';
import { runSuite } from '../framework/runner.js';
import { buildPolicySuite } from './index.js';

const NAME = 'pol-nat';
let spec: ClusterSpec;
let client: ControlPlaneClient;

describe('policy suite on cnilab, native routing', () => {
  beforeAll(async () => {
    await destroyCluster(NAME);
    spec = resolveSpec({}, 'test', { name: NAME, nodes: 3, cni: 'cnilab', routing: 'native' });
    client = await createCluster(spec);
  });
  afterAll(async () => {
    await destroyCluster(NAME);
  });

  it('passes every case of every set', async () => {
    const result = await runSuite({ spec, client }, buildPolicySuite());
    const bad = result.scenarios.flatMap((s) => [...(s.reason ? [`${s.name}: ${s.reason}`] : []), ...s.checks.filter((c) => !c.passed).map((c) => `${c.name}: ${c.observed}; ${c.reachability?.mismatches.slice(0, 3).map((m) => `${m.from} -> ${m.to} ${m.protocol}/${m.port}: ${m.why}`).join('; ')}`)]);
    expect(bad).toEqual([]);
    expect(result.passed).toBe(true);
    expect(result.scenarios.flatMap((s) => s.checks).every((c) => c.reachability?.flows === 'agents')).toBe(true);
  }, 240_000);

  it('leaves nothing behind', async () => {
    await destroyCluster(NAME);
    expect(await leftovers(NAME)).toEqual([]);
  });
});
