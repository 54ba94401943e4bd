// Which provider a cluster of this machine was made by, kept in its run dir (`provider`), so `down`
// removes a kind or K3s cluster the way it was made; the embedded (netns) cluster has no such file.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { paths } from '../../cluster/names.js';
import { InvalidInputError } from '../../errors.js';
import type { Provider, ProviderKind } from './provider.js';

const file = (cluster: string) => join(paths.runDir(cluster), 'provider');

/** The provider kinds `cnilab up` creates clusters with (kubeconfig clusters exist already). */
export const UP_PROVIDERS = ['netns', 'kind', 'k3s'] as const;
export type UpProvider = (typeof UP_PROVIDERS)[number];

export function parseUpProvider(v: string | undefined): UpProvider {
  const p = v ?? 'netns';
  if (!(UP_PROVIDERS as readonly string[]).includes(p)) throw new InvalidInputError('--provider', `expected ${UP_PROVIDERS.join(', ')}, got "${p}"`);
  return p as UpProvider;
}

export function recordProvider(cluster: string, kind: ProviderKind): void {
  mkdirSync(paths.runDir(cluster), { recursive: true });
  writeFileSync(file(cluster), `${kind}\n`);
}

export function recordedProvider(cluster: string): ProviderKind {
  if (!existsSync(file(cluster))) return 'netns';
  return readFileSync(file(cluster), 'utf8').trim() as ProviderKind;
}

/** The provider object for a cluster (loaded lazily: kind and K3s pull in client-node and testcontainers). */
export async function providerFor(cluster: string, kind: ProviderKind = recordedProvider(cluster)): Promise<Provider> {
  switch (kind) {
    case 'netns':
      return new (await import('../netns/provider.js')).NetnsProvider(cluster);
    case 'kind':
      return new (await import('../kind/provider.js')).KindProvider(cluster);
    case 'k3s':
      return new (await import('../k3s/provider.js')).K3sProvider(cluster);
    case 'kubeconfig':
      return new (await import('../kubeconfig/provider.js')).KubeconfigProvider(paths.kubeconfig(cluster));
  }
}
