// cnilab apply -f FILE: create or update objects from ordinary multi-document Kubernetes YAML. With
// --wait it returns once the pods are Running and every node's agent has realized the change (the
// policies are enforced, the new pods' identities known everywhere), or fails saying what it waited for.
import { readFileSync, statSync } from 'node:fs';
import { clientFor, clusterName, parseDuration, parseFlags } from './common.js';
import { parseManifests } from '../cluster/objects.js';
import { InvalidInputError } from '../errors.js';
import { checkTextSize } from '../cluster/limits.js';
import { waitPodsReady, waitPolicyRealized } from './wait.js';

export function readManifestSource(file: string): { text: string; source: string } {
  if (file === '-') return { text: readFileSync(0, 'utf8'), source: 'stdin' };
  try {
    // A size check before reading: a multi-gigabyte file is bad input, not an out-of-memory crash.
    checkTextSize(statSync(file).size, file);
    return { text: readFileSync(file, 'utf8'), source: file };
  } catch (e) {
    if (e instanceof InvalidInputError) throw e;
    throw new InvalidInputError(file, `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

export async function apply(args: string[]): Promise<number> {
  const { values } = parseFlags(args, {
    name: { type: 'string' },
    filename: { type: 'string', short: 'f', multiple: true },
    wait: { type: 'boolean' },
    timeout: { type: 'string' },
  }, false);
  if (values.help || !values.filename?.length) {
    process.stdout.write('usage: cnilab apply -f FILE [-f FILE...] [--wait [--timeout 60s]]   (-f - reads stdin)\n');
    return values.help ? 0 : 2;
  }
  const objects = [];
  for (const f of values.filename as string[]) {
    const { text, source } = readManifestSource(f);
    objects.push(...parseManifests(text, source));
  }
  const cluster = clusterName(values);
  const client = clientFor(cluster);
  const { results, resourceVersion } = await client.applyAt(objects);
  for (const r of results) {
    process.stdout.write(`${r.kind.toLowerCase()}/${r.name} ${r.action}${r.namespace && r.kind !== 'Namespace' ? ` (namespace ${r.namespace})` : ''}\n`);
  }
  if (values.wait) {
    const timeoutMs = parseDuration('--timeout', values.timeout ?? '60s');
    const deadline = Date.now() + timeoutMs;
    const pods = results.filter((r) => r.kind === 'Pod').map((r) => ({ namespace: r.namespace!, name: r.name }));
    await waitPodsReady(client, pods, timeoutMs);
    // Running pods have published their endpoints: the revision to realize is the store's now.
    const revision = pods.length ? (await client.healthz()).resourceVersion : resourceVersion;
    const w = await waitPolicyRealized(client, cluster, revision, Math.max(1, deadline - Date.now()));
    const policies = results.some((r) => r.kind === 'NetworkPolicy' || r.kind === 'CiliumNetworkPolicy');
    if (!w.waited && policies) process.stderr.write(`note: ${w.note}; the policies are stored, not enforced\n`);
  }
  return 0;
}
