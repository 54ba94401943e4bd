// The kubeconfig provider (any cluster from a kubeconfig) pointed at the embedded cluster's own
// kubeconfig: the netpol e2e model applied through the Kubernetes API, probes through WebSocket exec,
// and every answer compared with the netns provider's on the same cluster.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../exec/run.js';
import { paths } from '../../cluster/names.js';
import { REPO_ROOT } from '../../paths.js';
import { cnilab } from '../../testing/cli.js';
import { sweep } from '../netns/sweep.js';
import { NetnsProvider } from '../netns/provider.js';
import type { ProviderPod } from '../common/provider.js';
import { KubeconfigProvider } from './provider.js';

const C = 'kcfg-t';
let kube: KubeconfigProvider;
let netns: NetnsProvider;
let pods: ProviderPod[];

beforeAll(async () => {
  await run(['npx', 'tsc', '-p', 'tsconfig.json'], { cwd: REPO_ROOT, allowFailure: true, timeoutMs: 110_000 });
  await sweep(C);
  const up = await cnilab(['up', '--name', C, '--nodes', '3', '-q']);
  expect(up.code, up.stderr).toBe(0);
  kube = new KubeconfigProvider(paths.kubeconfig(C));
  netns = new NetnsProvider(C);
}, 120_000);

afterAll(async () => {
  await kube?.destroy().catch(() => undefined);
  await cnilab(['down', '--name', C]);
  await sweep(C);
}, 60_000);

describe('kubeconfig provider against the embedded cluster', () => {
  it('reaches the API and sees the same nodes as the netns provider', async () => {
    await kube.create();
    const viaApi = (await kube.nodes()).map((n) => [n.name, n.podCidr]).sort();
    const viaNetns = (await netns.nodes()).map((n) => [n.name, n.podCidr]).sort();
    expect(viaApi).toEqual(viaNetns);
    expect(viaApi).toHaveLength(3);
  });

  it('applies the netpol e2e model through the API and waits for the pods', async () => {
    const objects = parseAllDocuments(readFileSync(`${REPO_ROOT}/scenarios/manifests/xyz.yaml`, 'utf8')).map((d) => d.toJSON()).filter(Boolean);
    await kube.apply(objects);
    // Applying again replaces instead of failing (409 → read, replace).
    await kube.apply(objects.filter((o: { kind: string }) => o.kind === 'Namespace'));
    const all = await Promise.all(['x', 'y', 'z'].map((ns) => kube.waitPodsReady(ns, 60_000)));
    pods = all.flat();
    expect(pods).toHaveLength(9);
    const viaNetns = (await Promise.all(['x', 'y', 'z'].map((ns) => netns.waitPodsReady(ns, 10_000)))).flat();
    expect(pods.map((p) => `${p.namespace}/${p.name} ${p.ip} ${p.node}`).sort()).toEqual(viaNetns.map((p) => `${p.namespace}/${p.name} ${p.ip} ${p.node}`).sort());
  });

  it('probes through WebSocket exec give the netns provider\'s answers, open and closed ports alike', async () => {
    const from = pods.find((p) => p.namespace === 'x' && p.name === 'a')!;
    const cases: Array<{ to: ProviderPod; port: number; protocol: string; want: number }> = [];
    for (const to of pods.filter((p) => p !== from && p.name !== 'c')) cases.push({ to, port: 80, protocol: 'tcp', want: 0 });
    const other = pods.find((p) => p.node !== from.node)!;
    cases.push({ to: other, port: 81, protocol: 'udp', want: 0 });
    cases.push({ to: other, port: 9, protocol: 'tcp', want: 1 }); // nobody serves 9: refused
    for (const c of cases) {
      const argv = ['agnhost', 'connect', `${c.to.ip}:${c.port}`, '--timeout=2s', `--protocol=${c.protocol}`];
      const viaApi = await kube.execInPod('x', 'a', argv, { allowFailure: true });
      const viaNetns = await netns.execInPod('x', 'a', argv, { allowFailure: true });
      const what = `x/a → ${c.to.namespace}/${c.to.name}:${c.port}/${c.protocol}`;
      expect(viaApi.code, `${what} via API: ${viaApi.stderr}`).toBe(c.want);
      expect(viaApi.code, what).toBe(viaNetns.code);
      if (c.want) expect(viaApi.stderr).toContain('REFUSED');
    }
  });

  it('carries stdout, stderr and exit codes through exec', async () => {
    const r = await kube.execInPod('x', 'a', ['sh', '-c', 'echo out; echo err >&2; exit 7'], { allowFailure: true });
    expect(r).toMatchObject({ code: 7, stdout: 'out\n', stderr: 'err\n' });
    await expect(kube.execInPod('x', 'a', ['sh', '-c', 'exit 3'])).rejects.toThrow(/exited with 3/);
  });

  it('names the CNI it found', async () => {
    expect(await kube.cni()).toMatch(/^cnilab/);
  });
});
