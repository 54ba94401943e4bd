// Vendor evaluation: the policy suite on the reference bridge CNI, which enforces no policy at all. The
// suite must run to the end and report the violations honestly — every probe the oracle expects
// blocked is observed connected, with a timeout-free "answer" as evidence, while the cases that expect
// no block pass — never crash and never pass. The hosts outside the cluster come and go with the suite.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveSpec, type ClusterSpec } from '../../harness/cluster/spec.js';
import type { ControlPlaneClient } from '../../harness/cluster/client.js';
import { createCluster, destroyCluster } from '../../harness/providers/netns/cluster.js';
import { listNetns } from '../../harness/providers/netns/sweep.js';
import { createExternalHost, externalAddress } from '../../harness/providers/netns/external.js';
import { cnilab, leftovers } from '../../harness/testing/cli.js';
import { runSuite } from '../framework/runner.js';
import { buildPolicySuite } from './index.js';
import { testTempDir } from '../../lib/testing/temp-dir.js';

const NAME = 'pol-ref';
let spec: ClusterSpec;
let client: ControlPlaneClient;

describe('policy suite on the reference bridge CNI (enforces nothing)', () => {
  beforeAll(async () => {
    await destroyCluster(NAME);
    spec = resolveSpec({}, 'test', { name: NAME, nodes: 3, cni: 'reference-bridge', routing: 'native' });
    client = await createCluster(spec);
  });
  afterAll(async () => {
    await destroyCluster(NAME);
  });

  it('runs every upstream-like and Cilium-style case and reports each violation', async () => {
    // One probe round each: on this CNI a mismatch is conclusive (the responder answered).
    const suite = buildPolicySuite({ sets: ['upstream', 'cilium'], probe: { retry: { intervalMs: 100, windowMs: 0, secondTry: false } } });
    const result = await runSuite({ spec, client }, suite);
    expect(result.error).toBeUndefined();
    expect(result.passed).toBe(false);
    const checks = result.scenarios.flatMap((s) => s.checks);
    expect(result.scenarios.every((s) => s.status === 'passed' || s.status === 'failed'), result.scenarios.map((s) => `${s.name}: ${s.status} ${s.reason ?? ''}`).join('\n')).toBe(true);
    expect(checks.every((c) => c.reachability?.flows === 'none')).toBe(true);
    // Nothing is ever blocked here, and every probe was settled by the responder's own answer.
    for (const c of checks) {
      const r = c.reachability!;
      expect(r.evidence, c.name).toEqual({ answer: r.correct + r.incorrect });
      for (const t of r.tables) expect(t.observed.join(''), c.name).toMatch(/^\.+$/);
      for (const m of r.mismatches) expect(m).toMatchObject({ expected: 'blocked', observed: 'connected' });
    }
    const byName = new Map(result.scenarios.map((s) => [s.name, s]));
    for (const ok of ['allow-from-all-namespaces', 'allow-all', 'cilium-no-policies']) expect(byName.get(ok)?.status, ok).toBe('passed');
    for (const bad of ['default-deny-ingress', 'default-deny-all', 'egress-except-clause', 'cilium-all-egress-deny', 'cilium-to-cidr-except']) {
      expect(byName.get(bad)?.status, bad).toBe('failed');
    }
    // default-deny-ingress in x: exactly the 8 × 3 pairs into x (diagonal excluded) on each of 4 port/protocols.
    expect(byName.get('default-deny-ingress')!.checks[0]!.reachability).toMatchObject({ incorrect: 96, correct: 228 });
    // The stop-enforcing case's second step (policy deleted) passes; the first does not.
    expect(byName.get('stop-enforcing-after-delete')!.checks.map((c) => c.passed)).toEqual([false, true]);
    // Hosts outside the cluster were reached (cilium-no-policies probes them) and are gone again.
    expect(listNetns(NAME).filter((n) => n.includes('.ext.'))).toEqual([]);
  }, 240_000);

  it('cnilab apply rejects a bad policy with its field path and exit 2, creating nothing of the file', async () => {
    const dir = testTempDir('pol-apply-');
    const file = join(dir, 'policies.yaml');
    writeFileSync(
      file,
      [
        'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: fine, namespace: x}\nspec: {podSelector: {}, policyTypes: [Ingress]}',
        'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: bad, namespace: x}\nspec:\n  endpointSelector: {matchExpressions: [{key: pod, operator: Equal, values: [a]}]}\n  egress:\n    - toCIDRSet: [{cidr: 10.0.0.0/8, except: [11.0.0.0/16]}]\n      toPorts: [{ports: [{port: "http", endPort: 90}]}]',
      ].join('\n---\n'),
    );
    const r = await cnilab(['apply', '--name', NAME, '-f', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}: document 2 (CiliumNetworkPolicy x/bad): spec.endpointSelector.matchExpressions[0].operator: expected one of In, NotIn, Exists, DoesNotExist, got "Equal"`);
    expect(r.stderr).toContain('spec.egress[0].toCIDRSet[0].except[0]: 11.0.0.0/16 is not inside cidr 10.0.0.0/8');
    expect(r.stderr).toContain('spec.egress[0].toPorts[0].ports[0].endPort: requires a numeric port');
    expect(await client.list('NetworkPolicy')).toEqual([]);
    expect(await client.list('CiliumNetworkPolicy')).toEqual([]);
  });

  it('leaves nothing behind, an external host left by a crash included', async () => {
    await createExternalHost(spec, 'crashed', externalAddress(spec, 5));
    expect(listNetns(NAME).some((n) => n.endsWith('.ext.crashed'))).toBe(true);
    await destroyCluster(NAME);
    expect(await leftovers(NAME)).toEqual([]);
  });
});
