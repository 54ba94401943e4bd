// cnilab label pod|namespace NAME KEY=VALUE... KEY-... [-n NS] [--overwrite] [--wait [--timeout 60s]]
// kubectl's syntax and rules: KEY=VALUE sets (an existing key with another value needs --overwrite),
// KEY- removes (an absent key is reported, not an error). A pod's labels, and its namespace's, are
// part of its security identity: with --wait the command returns once every node enforces policy on
// the new identity.
import { clientFor, clusterName, parseDuration, parseFlags } from './common.js';
import { resolveKind } from '../cluster/objects.js';
import { InvalidInputError } from '../errors.js';
import { waitPolicyRealized } from './wait.js';

const USAGE = 'usage: cnilab label pod|namespace NAME KEY=VALUE... KEY-... [-n NS] [--overwrite] [--wait [--timeout 60s]]\n';

/** "k=v" → set, "k-" → remove; anything else is bad input naming the argument. */
export function parseLabelArgs(args: string[]): { set: Record<string, string>; remove: string[] } {
  const set: Record<string, string> = {};
  const remove: string[] = [];
  for (const a of args) {
    const eq = a.indexOf('=');
    if (eq > 0) {
      const k = a.slice(0, eq);
      if (Object.hasOwn(set, k) || remove.includes(k)) throw new InvalidInputError(`label ${JSON.stringify(k)}`, 'given more than once');
      set[k] = a.slice(eq + 1);
    } else if (a.endsWith('-') && a.length > 1 && !a.includes('=')) {
      const k = a.slice(0, -1);
      if (Object.hasOwn(set, k) || remove.includes(k)) throw new InvalidInputError(`label ${JSON.stringify(k)}`, 'given more than once');
      remove.push(k);
    } else {
      throw new InvalidInputError(`argument ${JSON.stringify(a)}`, 'expected KEY=VALUE to set a label or KEY- to remove one');
    }
  }
  if (!Object.keys(set).length && !remove.length) throw new InvalidInputError('labels', 'at least one KEY=VALUE or KEY- is required');
  return { set, remove };
}

export async function label(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    name: { type: 'string' },
    namespace: { type: 'string', short: 'n' },
    overwrite: { type: 'boolean' },
    wait: { type: 'boolean' },
    timeout: { type: 'string' },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  // "pod NAME" or "pod/NAME", as kubectl takes them.
  let [type, name, ...rest] = positionals;
  if (type?.includes('/')) {
    rest = name === undefined ? rest : [name, ...rest];
    [type, name] = type.split('/', 2) as [string, string];
  }
  if (!type || !name) {
    process.stderr.write(USAGE);
    return 2;
  }
  const kind = resolveKind(type);
  if (kind !== 'Pod' && kind !== 'Namespace') throw new InvalidInputError('TYPE', `"${type}": cnilab label takes pod or namespace`);
  const change = parseLabelArgs(rest);
  const timeoutMs = values.wait ? parseDuration('--timeout', values.timeout ?? '60s') : 0;
  const cluster = clusterName(values);
  const client = clientFor(cluster);
  const namespace = kind === 'Pod' ? (values.namespace ?? 'default') : undefined;
  const r = await client.patchLabels(kind, namespace, name, { ...change, overwrite: values.overwrite === true });
  for (const k of r.missing) process.stderr.write(`label "${k}" not found.\n`);
  process.stdout.write(`${kind.toLowerCase()}/${name} ${r.changed ? 'labeled' : 'not labeled'}\n`);
  if (values.wait) await waitPolicyRealized(client, cluster, r.resourceVersion, timeoutMs);
  return 0;
}
