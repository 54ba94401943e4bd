// cnilab delete -f FILE | KIND NAME [-n NS]: remove objects (the runtime tears pods down).
import { clientFor, clusterName, parseDuration, parseFlags } from './common.js';
import { parseManifests } from '../cluster/objects.js';
import { readManifestSource } from './apply.js';
import { resolveKind } from './get.js';
import { isNamespaced } from '../cluster/store.js';
import { InvalidInputError, NotFoundError, WaitTimeoutError } from '../errors.js';
import { waitPolicyRealized } from './wait.js';

export async function del(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    name: { type: 'string' },
    namespace: { type: 'string', short: 'n' },
    filename: { type: 'string', short: 'f', multiple: true },
    'ignore-not-found': { type: 'boolean' },
    wait: { type: 'boolean' },
    timeout: { type: 'string' },
  });
  if (values.help) {
    process.stdout.write('usage: cnilab delete -f FILE | KIND NAME... [-n NS] [--ignore-not-found] [--wait]\n');
    return 0;
  }
  const client = clientFor(clusterName(values));
  const targets: Array<{ kind: string; namespace?: string; name: string }> = [];
  if (values.filename?.length) {
    for (const f of values.filename as string[]) {
      const { text, source } = readManifestSource(f);
      for (const o of parseManifests(text, source)) targets.push({ kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name });
    }
  } else {
    const kind = resolveKind(positionals[0]);
    if (positionals.length < 2) throw new InvalidInputError('NAME', 'missing: name the object(s) to delete, or use -f FILE');
    for (const name of positionals.slice(1)) targets.push({ kind, namespace: isNamespaced(kind) ? (values.namespace ?? 'default') : undefined, name });
  }
  let failed = 0;
  // Reverse order, so namespaces declared first in a file go last.
  for (const t of targets.reverse()) {
    try {
      await client.delete(t.kind, t.namespace, t.name);
      process.stdout.write(`${t.kind.toLowerCase()} "${t.name}" deleted\n`);
    } catch (e) {
      if (e instanceof NotFoundError && values['ignore-not-found']) continue;
      if (e instanceof NotFoundError) {
        process.stderr.write(`error: ${e.message}\n`);
        failed++;
        continue;
      }
      throw e;
    }
  }
  if (values.wait) {
    const timeoutMs = parseDuration('--timeout', values.timeout ?? '60s');
    const deadline = Date.now() + timeoutMs;
    // A pod is gone when its network namespace is gone; the runtime removes it after CNI DEL.
    const { listNetns } = await import('../providers/netns/sweep.js');
    const { netnsNames } = await import('../cluster/names.js');
    const cluster = clusterName(values);
    const podNs = targets.filter((t) => t.kind === 'Pod').map((t) => netnsNames.pod(cluster, t.namespace!, t.name));
    while (podNs.some((n) => listNetns(cluster).includes(n))) {
      if (Date.now() > deadline) throw new WaitTimeoutError('deleted pods to be torn down', timeoutMs);
      await new Promise((r) => setTimeout(r, 25));
    }
    // Deleted policies are lifted (and their entries gone from the maps) on every node.
    await waitPolicyRealized(client, cluster, (await client.healthz()).resourceVersion, Math.max(1, deadline - Date.now()));
  }
  return failed ? 1 : 0;
}
