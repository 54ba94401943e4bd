// Network policy end to end on a real cluster, through the CLI a user runs (root; one cluster for the
// whole file): the reproduction of issue 7, `apply --wait` followed at once by a probe, label changes
// of a pod and of a namespace flipping verdicts, an ipBlock with except, and deleting every policy
// restoring connectivity with nothing left in the pinned policy maps; in tunnel and native routing
// (the peer's identity comes from the VNI in one, from the ipcache in the other). Blocked probes must
// time out (a drop, not a refusal); allowed ones must connect.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cnilab, leftovers } from '../../harness/testing/cli.js';
import { REPO_ROOT } from '../../harness/paths.js';
import { sweep } from '../../harness/providers/netns/sweep.js';
import { paths } from '../../harness/cluster/names.js';
import { run } from '../../harness/exec/run.js';
import { AgentClient } from '../api/client.js';

const XYZ = `${REPO_ROOT}/scenarios/manifests/xyz.yaml`;
let C = '';
let ip: Record<string, string> = {};
let nodeOf: Record<string, string> = {};
let nodes: string[] = [];

async function apply(yaml: string): Promise<void> {
  const r = await cnilab(['apply', '--name', C, '-f', '-', '--wait', '--timeout', '30s'], { input: yaml });
  expect(r.code, r.stderr).toBe(0);
}

/** agnhost connect from a pod: exit 0 when it connects, a TIMEOUT when a drop stopped it. */
async function probe(from: string, to: string, port = 80, protocol = 'tcp'): Promise<'allowed' | 'blocked'> {
  const r = await cnilab(['exec', from, '--name', C, '--', 'agnhost', 'connect', `${ip[to]}:${port}`, '--timeout=1s', `--protocol=${protocol}`]);
  if (r.code === 0) return 'allowed';
  expect(r.stderr, `${from} → ${to}:${port}/${protocol} failed but not by a timeout (a drop)`).toMatch(/TIMEOUT/);
  return 'blocked';
}

const np = (ns: string, name: string, spec: string) => `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ${name}, namespace: ${ns}}
spec:
${spec.replace(/^/gm, '  ')}
`;

async function policyEntriesInPinnedMaps(): Promise<Record<string, number>> {
  // Read the pinned maps themselves, not the agent's word: every map of the policy family on every node.
  const out: Record<string, number> = {};
  for (const n of nodes) {
    const dir = paths.bpfNodeDir(C, n);
    const ls = await run(['ls', dir]);
    for (const m of ls.stdout.split('\n').filter((x) => /^cnilab_pol/.test(x))) {
      const dump = await run(['bpftool', '-j', 'map', 'dump', 'pinned', `${dir}/${m}`]);
      out[`${n}/${m}`] = (JSON.parse(dump.stdout || '[]') as unknown[]).length;
    }
  }
  return out;
}

describe.each(['tunnel', 'native'])('network policy on a cnilab cluster (%s routing)', (routing) => {
  beforeAll(async () => {
    C = `pol-${routing.slice(0, 3)}-${process.pid % 10000}`;
    await sweep(C);
    const up = await cnilab(['up', '--name', C, '--nodes', '3', '--routing', routing, '-q']);
    expect(up.code, up.stderr).toBe(0);
    const r = await cnilab(['apply', '--name', C, '-f', XYZ, '--wait', '--timeout', '60s']);
    expect(r.code, r.stderr).toBe(0);
    const pods = JSON.parse((await cnilab(['get', 'pods', '-A', '-o', 'json', '--name', C])).stdout).items as Array<{
      metadata: { name: string; namespace: string };
      spec: { nodeName: string };
      status: { podIP: string };
    }>;
    ip = Object.fromEntries(pods.map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p.status.podIP]));
    nodeOf = Object.fromEntries(pods.map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p.spec.nodeName]));
    nodes = [...new Set(Object.values(nodeOf))].sort();
  }, 180_000);
  afterAll(async () => {
    await cnilab(['down', '--name', C]);
    expect(await leftovers(C)).toEqual([]);
  }, 120_000);

  it('gives every endpoint of a node its own ID (the policy map is keyed by it)', async () => {
    for (const n of nodes) {
      const eps = await new AgentClient(C, n).endpoints();
      expect(new Set(eps.map((e) => e.endpointId)).size, n).toBe(eps.length);
    }
  });

  it('a default-deny in y blocks x/a → y/b:80 as soon as apply --wait returns, and only what it should', async () => {
    expect(await probe('x/a', 'y/b')).toBe('allowed');
    await apply(np('y', 'deny-ingress', 'podSelector: {}\npolicyTypes: [Ingress]'));
    expect(await probe('x/a', 'y/b')).toBe('blocked'); // immediately: --wait means enforced
    expect(await probe('y/a', 'y/b', 81, 'udp')).toBe('blocked');
    expect(await probe('y/b', 'x/a')).toBe('allowed'); // egress from y is not isolated
    expect(await probe('x/a', 'z/c')).toBe('allowed');
    // The agent hosting y/b reports the policy it enforces.
    const st = await new AgentClient(C, nodeOf['y/b']!).policy();
    const ep = st.endpoints.find((e) => e.pod === 'y/b')!;
    expect(ep).toMatchObject({ ingressEnforced: true, egressEnforced: false, written: true, policies: ['NetworkPolicy/y/deny-ingress'] });
  });

  it('a pod label change and a namespace label change flip verdicts (identity first)', async () => {
    await apply(np('y', 'allow-granted', 'podSelector: {matchLabels: {pod: b}}\ningress:\n- from:\n  - {namespaceSelector: {}, podSelector: {matchLabels: {access: granted}}}\n  - {namespaceSelector: {matchLabels: {team: blue}}}'));
    expect(await probe('x/a', 'y/b')).toBe('blocked');
    let r = await cnilab(['label', '--name', C, 'pod', 'a', '-n', 'x', 'access=granted', '--wait']);
    expect(r.code, r.stderr).toBe(0);
    expect(await probe('x/a', 'y/b')).toBe('allowed');
    expect(await probe('x/b', 'y/b')).toBe('blocked');
    r = await cnilab(['label', '--name', C, 'pod/a', '-n', 'x', 'access-', '--wait']);
    expect(r.code, r.stderr).toBe(0);
    expect(await probe('x/a', 'y/b')).toBe('blocked');
    r = await cnilab(['label', '--name', C, 'namespace', 'z', 'team=blue', '--wait']);
    expect(r.code, r.stderr).toBe(0);
    expect(await probe('z/c', 'y/b')).toBe('allowed');
    r = await cnilab(['label', '--name', C, 'ns', 'z', 'team-', '--wait']);
    expect(r.code, r.stderr).toBe(0);
    expect(await probe('z/c', 'y/b')).toBe('blocked');
  });

  it('an ipBlock with except: pods by IP, a CIDR identity in every node\'s ipcache, gone with the policy', async () => {
    await apply(np('x', 'egress-cidr', `podSelector: {matchLabels: {pod: a}}\npolicyTypes: [Egress]\negress:\n- to: [{ipBlock: {cidr: 198.19.0.0/16, except: [${ip['z/b']}/32]}}]`));
    expect(await probe('x/a', 'z/a')).toBe('allowed');
    expect(await probe('x/a', 'z/b')).toBe('blocked');
    const node = nodeOf['x/a']!;
    const cache = await new AgentClient(C, node).ipcache();
    expect(cache.find((e) => e.key === '198.19.0.0/16')?.identity).toBeGreaterThanOrEqual(1 << 24);
    const r = await cnilab(['delete', '--name', C, 'networkpolicy', 'egress-cidr', '-n', 'x', '--wait']);
    expect(r.code, r.stderr).toBe(0);
    expect((await new AgentClient(C, node).ipcache()).some((e) => e.key === '198.19.0.0/16')).toBe(false);
    expect(await probe('x/a', 'z/b')).toBe('allowed');
  });

  it('deleting every policy restores full connectivity and leaves no entry in any policy map', async () => {
    const r = await cnilab(['delete', '--name', C, 'networkpolicy', 'deny-ingress', 'allow-granted', '-n', 'y', '--wait']);
    expect(r.code, r.stderr).toBe(0);
    expect(await probe('x/a', 'y/b')).toBe('allowed');
    expect(await probe('y/a', 'y/b', 81, 'udp')).toBe('allowed');
    const maps = await policyEntriesInPinnedMaps();
    expect(Object.keys(maps).length).toBeGreaterThan(0); // the maps were found and read
    expect(Object.values(maps).every((n) => n === 0), JSON.stringify(maps)).toBe(true);
    for (const n of nodes) {
      const st = await new AgentClient(C, n).policy();
      expect(st.endpoints.every((e) => !e.written && e.entryCount === 0)).toBe(true);
    }
  });
});
