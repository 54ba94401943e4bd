// Opt-in: the connectivity checks on real Kubernetes in containers — kind and K3s — with cnilab's agent
// installed by its chart. Skipped unless a Docker engine answers (GET /_ping), and for kind unless the
// kind CLI is on PATH; the agent image must have been built (deploy/Dockerfile) and, for K3s, be
// pullable by the K3s node. Never run on the machine this was written on (no Docker engine there).
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveSpec } from '../cluster/spec.js';
import { REPO_ROOT } from '../paths.js';
import { checkDockerEngine } from './common/docker.js';
import { providerFor, recordProvider } from './common/registry.js';
import type { Provider, ProviderPod } from './common/provider.js';
import { run } from '../exec/run.js';

const engine = await checkDockerEngine();
const kindCli = engine.ok && (await run(['kind', 'version'], { allowFailure: true }).catch(() => undefined))?.code === 0;

function connectivity(kind: 'kind' | 'k3s', nodes: number) {
  const name = `dk-${kind}`;
  let provider: Provider;
  let pods: ProviderPod[];
  afterAll(async () => {
    await provider?.destroy().catch(() => undefined);
    await run([`${REPO_ROOT}/bin/cnilab`, 'down', '--name', name], { allowFailure: true });
  }, 300_000);

  it('creates the cluster with the cnilab chart, applies the netpol e2e model', async () => {
    recordProvider(name, kind);
    provider = await providerFor(name, kind);
    await provider.create(resolveSpec({}, 'test', { name, nodes, cni: 'cnilab', routing: 'tunnel' }));
    const objects = parseAllDocuments(readFileSync(`${REPO_ROOT}/scenarios/manifests/xyz.yaml`, 'utf8')).map((d) => d.toJSON()).filter(Boolean);
    await provider.apply(objects);
    pods = (await Promise.all(['x', 'y', 'z'].map((ns) => provider.waitPodsReady(ns, 300_000)))).flat();
    expect(pods).toHaveLength(9);
    expect(await provider.cni()).toBe('cnilab');
  }, 900_000);

  it('connects every pod to every other on TCP 80 and UDP 81; a closed port is refused', async () => {
    for (const from of pods) {
      for (const to of pods.filter((p) => p !== from)) {
        for (const [port, protocol] of [[80, 'tcp'], [81, 'udp']] as const) {
          const r = await provider.execInPod(from.namespace, from.name, ['/agnhost', 'connect', `${to.ip}:${port}`, '--timeout=2s', `--protocol=${protocol}`], { allowFailure: true });
          expect(r.code, `${from.namespace}/${from.name} → ${to.namespace}/${to.name}:${port}/${protocol}: ${r.stderr}`).toBe(0);
        }
      }
    }
    const closed = await provider.execInPod('x', 'a', ['/agnhost', 'connect', `${pods[1]!.ip}:9`, '--timeout=2s'], { allowFailure: true });
    expect(closed.code).not.toBe(0);
  }, 900_000);
}

describe.skipIf(!engine.ok || !kindCli)('connectivity on kind (opt-in: needs a Docker engine and the kind CLI)', () => connectivity('kind', 2));
describe.skipIf(!engine.ok)('connectivity on K3s (opt-in: needs a Docker engine)', () => connectivity('k3s', 1));
