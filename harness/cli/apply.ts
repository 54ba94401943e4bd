// cnilab apply -f FILE: create or update objects from ordinary multi-document Kubernetes YAML.
import { readFileSync, statSync } from 'node:fs';
import { clientFor, clusterName, parseDuration, parseFlags } from './common.js';
import { parseManifests } from '../cluster/objects.js';
import { InvalidInputError } from '../errors.js';
import { checkTextSize } from '../cluster/limits.js';
import { waitPodsReady } from './wait.js';

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
  const client = clientFor(clusterName(values));
  const results = await client.apply(objects);
  for (const r of results) {
    process.stdout.write(`${r.kind.toLowerCase()}/${r.name} ${r.action}${r.namespace && r.kind !== 'Namespace' ? ` (namespace ${r.namespace})` : ''}\n`);
  }
  if (values.wait) {
    const timeoutMs = parseDuration('--timeout', values.timeout ?? '60s');
    const pods = results.filter((r) => r.kind === 'Pod').map((r) => ({ namespace: r.namespace!, name: r.name }));
    await waitPodsReady(client, pods, timeoutMs);
  }
  return 0;
}
