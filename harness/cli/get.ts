// cnilab get KIND [NAME] [-n NS | -A] [-o wide|json|yaml|name]: kubectl's habits.
import { clientFor, clusterName, parseFlags } from './common.js';
import { kindAliases, type KubeObject } from '../cluster/objects.js';
import { printList, printNames, printObject, printTable } from '../cluster/printers.js';
import { isNamespaced } from '../cluster/store.js';
import { InvalidInputError } from '../errors.js';

const OUTPUTS = ['wide', 'json', 'yaml', 'name'];

export function resolveKind(word: string | undefined): string {
  if (!word) throw new InvalidInputError('KIND', 'missing: one of pods, services, endpointslices, networkpolicies, ciliumnetworkpolicies, namespaces, nodes');
  const w = word.toLowerCase();
  if (['node', 'nodes', 'no'].includes(w)) return 'Node';
  const kind = (kindAliases as Record<string, string>)[w];
  if (!kind) throw new InvalidInputError('KIND', `unknown resource type "${word}"`);
  return kind;
}

function nodeTable(nodes: KubeObject[]): string {
  const rows = [['NAME', 'STATUS', 'INTERNAL-IP', 'POD-CIDR']];
  for (const n of nodes) {
    const status = n.status as { addresses?: Array<{ type: string; address: string }> };
    rows.push([n.metadata.name, 'Ready', status.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '', (n.spec as { podCIDR?: string }).podCIDR ?? '']);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return `${rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('')).join('\n')}\n`;
}

export async function get(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    name: { type: 'string' },
    namespace: { type: 'string', short: 'n' },
    'all-namespaces': { type: 'boolean', short: 'A' },
    output: { type: 'string', short: 'o' },
  });
  if (values.help) {
    process.stdout.write('usage: cnilab get pods|services|endpointslices|networkpolicies|ciliumnetworkpolicies|namespaces|nodes [NAME] [-n NS | -A] [-o wide|json|yaml|name]\n');
    return 0;
  }
  const kind = resolveKind(positionals[0]);
  const output = values.output as string | undefined;
  if (output !== undefined && !OUTPUTS.includes(output)) throw new InvalidInputError('--output', `expected one of ${OUTPUTS.join(', ')}, got "${output}"`);
  const client = clientFor(clusterName(values));
  const all = values['all-namespaces'] === true || !isNamespaced(kind);
  const ns = all ? undefined : (values.namespace ?? 'default');
  let objects = await client.list(kind, ns);
  if (positionals[1]) {
    objects = objects.filter((o) => o.metadata.name === positionals[1]);
    if (!objects.length) throw new InvalidInputError('NAME', `${kind} "${positionals[1]}" not found${ns ? ` in namespace "${ns}"` : ''}`);
  }
  if (output === 'json' || output === 'yaml') {
    // kubectl prints the object itself when it was asked for by name, a List otherwise.
    process.stdout.write(positionals[1] ? printObject(objects[0]!, output) : printList(objects, output));
    return 0;
  }
  if (output === 'name') {
    process.stdout.write(printNames(objects));
    return 0;
  }
  if (kind === 'Node') {
    process.stdout.write(nodeTable(objects));
    return 0;
  }
  const printed = printTable(kind, objects, { wide: output === 'wide', allNamespaces: all && isNamespaced(kind), namespace: ns });
  writePrinted(printed);
  return 0;
}

/** printTable returns either the table or kubectl's "No resources found" message (for stderr). */
function writePrinted(printed: unknown): void {
  if (typeof printed === 'string') process.stdout.write(printed.endsWith('\n') ? printed : `${printed}\n`);
  else {
    const p = printed as { text?: string; empty?: boolean; message?: string };
    if (p.empty) process.stderr.write(`${p.message ?? p.text}\n`);
    else process.stdout.write(`${p.text}`.endsWith('\n') ? `${p.text}` : `${p.text}\n`);
  }
}
