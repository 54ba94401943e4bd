// Cases users write as YAML (`cnilab run --suite policy --cases FILE`), checked in full before any
// cluster is created: the file's shape, every policy with the manifests' own validation, the pods,
// namespaces, nodes and external hosts a case names, and its placeholders. Every problem names the
// file and the field; a bad file is exit 2. The format is documented in scenarios/policy/README.md.
import { readFileSync } from 'node:fs';
import { parse, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { InvalidInputError, InvalidInputList } from '../../../harness/errors.js';
import { formatPath, validateObject } from '../../../harness/cluster/objects.js';
import { placeholdersIn } from './placeholders.js';
import { CILIUM_NS, EXTERNAL_HOSTS, XYZ_NAMESPACES, policyWorkload } from '../workload.js';
import { isMatrix, type CaseAction, type CaseStep, type PolicyCase, type ProbeSpec } from './types.js';

const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const CASE_NAMESPACES = [...XYZ_NAMESPACES, CILIUM_NS] as const;
/** "ns/pod" of every workload pod (node names do not matter for the names). */
export const WORKLOAD_PODS: string[] = policyWorkload({ nodes: [{ name: 'n' }] as never }).filter((o) => o.kind === 'Pod').map((o) => `${o.metadata.namespace}/${o.metadata.name}`);

const labels = z.record(z.string(), z.string());
const PORT_MSG = 'expected a port number 1..65535';
const portList = z.array(z.number({ invalid_type_error: PORT_MSG }).int(PORT_MSG).min(1, PORT_MSG).max(65535, PORT_MSG)).min(1, 'at least one port');
const protocols = z.array(z.enum(['TCP', 'UDP'])).min(1);
const probeSchema = z.union([
  z.literal('matrix'),
  z.object({ ports: portList.optional(), protocols: protocols.optional() }).strict(),
  z.object({ from: z.array(z.string()).min(1), to: z.array(z.string()).min(1), ports: portList, protocols: protocols.optional() }).strict(),
]);
const stepSchema = z
  .object({
    description: z.string().optional(),
    apply: z.array(z.unknown()).min(1).optional(),
    delete: z.array(z.object({ kind: z.enum(['NetworkPolicy', 'CiliumNetworkPolicy']), namespace: z.string(), name: z.string() }).strict()).min(1).optional(),
    setPodLabels: z.object({ pod: z.string(), labels }).strict().optional(),
    setNamespaceLabels: z.object({ namespace: z.string(), labels }).strict().optional(),
    probe: probeSchema.optional(),
  })
  .strict();
const caseSchema = z
  .object({
    name: z.string().regex(NAME, 'expected a lower-case name of letters, digits and "-"').max(63),
    description: z.string().optional(),
    tags: z.array(z.string().regex(NAME, 'expected a lower-case tag of letters, digits and "-"')).optional(),
    steps: z.array(stepSchema).min(1, 'a case needs at least one step'),
  })
  .strict();
const fileSchema = z.object({ cases: z.array(caseSchema).min(1, 'the file has no case') }).strict();

/** Representative values for placeholders, so policies can be validated before the cluster exists. */
const SAMPLE: Record<string, string> = { ip: '10.0.0.1', cidr: '10.0.0.1/32', podCidr: '10.0.0.0/24', node: 'node1', external: '10.0.0.2' };
const withSamples = (v: unknown) => JSON.parse(JSON.stringify(v).replace(/\$\{(ip|cidr|podCidr|node|external):[^}]*\}/g, (_m, k: string) => SAMPLE[k]!));

function peerProblem(name: string): string | undefined {
  if (name.startsWith('node/')) return /^node\/(\$\{node:\d+\}|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$/.test(name) ? undefined : `"${name}": expected node/NAME or node/\${node:N}`;
  if (name.startsWith('external/')) return (EXTERNAL_HOSTS as readonly string[]).includes(name.slice(9)) ? undefined : `"${name}": the external hosts are ${EXTERNAL_HOSTS.join(', ')}`;
  return WORKLOAD_PODS.includes(name) ? undefined : `"${name}" is not a pod of the policy workload (${WORKLOAD_PODS.join(', ')})`;
}

function toStep(raw: z.infer<typeof stepSchema>): CaseStep {
  const actions: CaseAction[] = [];
  for (const key of Object.keys(raw)) {
    if (key === 'apply') actions.push({ apply: raw.apply! });
    else if (key === 'delete') actions.push({ delete: raw.delete! });
    else if (key === 'setPodLabels') actions.push({ setPodLabels: raw.setPodLabels! });
    else if (key === 'setNamespaceLabels') actions.push({ setNamespaceLabels: raw.setNamespaceLabels! });
  }
  const p = raw.probe;
  const probe: ProbeSpec =
    p === undefined || p === 'matrix' ? { matrix: {} } : 'from' in p ? { targets: { from: p.from, to: p.to, ports: p.ports, protocols: p.protocols ?? ['TCP'] } } : { matrix: { ports: p.ports, protocols: p.protocols } };
  return { ...(raw.description ? { description: raw.description } : {}), actions, probe };
}

/** Problems of a case (built in or parsed), each naming its field under `where`. */
export function caseProblems(c: PolicyCase, where: string): InvalidInputError[] {
  const problems: InvalidInputError[] = [];
  const at = (path: (string | number)[], msg: string) => problems.push(new InvalidInputError(`${where}.${formatPath(path)}`, msg));
  c.steps.forEach((step, s) => {
    step.actions.forEach((a) => {
      if ('apply' in a) {
        a.apply.forEach((obj, k) => {
          const o = obj as { kind?: unknown; metadata?: { namespace?: unknown } };
          if (o?.kind !== 'NetworkPolicy' && o?.kind !== 'CiliumNetworkPolicy') return at(['steps', s, 'apply', k, 'kind'], `a case applies NetworkPolicy or CiliumNetworkPolicy objects (labels change with setPodLabels / setNamespaceLabels), got ${JSON.stringify(o?.kind)}`);
          if (!(CASE_NAMESPACES as readonly unknown[]).includes(o.metadata?.namespace)) at(['steps', s, 'apply', k, 'metadata', 'namespace'], `expected one of the workload's namespaces ${CASE_NAMESPACES.join(', ')}`);
          try {
            validateObject(withSamples(obj), `${where}.${formatPath(['steps', s, 'apply', k])}`);
          } catch (e) {
            if (e instanceof InvalidInputList) problems.push(...e.problems);
            else throw e;
          }
        });
      } else if ('setPodLabels' in a) {
        if (!WORKLOAD_PODS.includes(a.setPodLabels.pod)) at(['steps', s, 'setPodLabels', 'pod'], peerProblem(a.setPodLabels.pod)!);
      } else if ('setNamespaceLabels' in a) {
        if (!(CASE_NAMESPACES as readonly string[]).includes(a.setNamespaceLabels.namespace)) at(['steps', s, 'setNamespaceLabels', 'namespace'], `expected one of ${CASE_NAMESPACES.join(', ')}`);
      }
    });
    if (!isMatrix(step.probe)) {
      for (const side of ['from', 'to'] as const) {
        step.probe.targets[side].forEach((peer, i) => {
          const problem = peerProblem(peer);
          if (problem) at(['steps', s, 'probe', side, i], problem);
        });
      }
    }
  });
  for (const ph of placeholdersIn(c.steps)) {
    const bad =
      (ph.kind === 'ip' || ph.kind === 'cidr' || ph.kind === 'podCidr') && !WORKLOAD_PODS.includes(ph.arg) ? `\${${ph.kind}:${ph.arg}}: no such workload pod`
      : ph.kind === 'node' && !/^\d+$/.test(ph.arg) ? `\${node:${ph.arg}}: expected a node index (0, 1, ...)`
      : ph.kind === 'external' && !(EXTERNAL_HOSTS as readonly string[]).includes(ph.arg) ? `\${external:${ph.arg}}: the external hosts are ${EXTERNAL_HOSTS.join(', ')}`
      : undefined;
    if (bad) at(['steps'], bad);
  }
  return problems;
}

/** Parse and validate a cases file; throws InvalidInputList with every problem. */
export function parseCasesFile(text: string, source: string): PolicyCase[] {
  let raw: unknown;
  try {
    raw = parse(text, { prettyErrors: true });
  } catch (e) {
    const pos = e instanceof YAMLParseError ? e.linePos?.[0] : undefined;
    throw new InvalidInputError(pos ? `${source}, line ${pos.line}, column ${pos.col}` : source, `not valid YAML: ${(e as Error).message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`);
  }
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    throw new InvalidInputList(
      parsed.error.issues.flatMap((i) =>
        i.code === 'unrecognized_keys' ? i.keys.map((k) => new InvalidInputError(`${source}: ${formatPath([...i.path, k])}`, 'unknown field')) : [new InvalidInputError(`${source}: ${formatPath(i.path)}`, i.message)],
      ),
    );
  }
  const cases: PolicyCase[] = parsed.data.cases.map((c) => ({ name: c.name, ...(c.description ? { description: c.description } : {}), source: 'user', tags: c.tags ?? [], steps: c.steps.map(toStep) }));
  const problems = cases.flatMap((c, i) => caseProblems(c, `${source}: cases[${i}]`));
  const seen = new Set<string>();
  cases.forEach((c, i) => {
    if (seen.has(c.name)) problems.push(new InvalidInputError(`${source}: cases[${i}].name`, `case "${c.name}" is defined twice`));
    seen.add(c.name);
  });
  if (problems.length) throw new InvalidInputList(problems);
  return cases;
}

export function loadCasesFile(file: string): PolicyCase[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new InvalidInputError(file, `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseCasesFile(text, file);
}
