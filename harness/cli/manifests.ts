// cnilab manifests: cnilab's agent as a Kubernetes workload — the Helm chart in deploy/helm/cnilab/
// rendered by cnilab itself (harness/deploy: the chart's templates keep to a subset of Helm's template
// language that cnilab renders; there is no helm binary here), as `helm template` would print it.
import { stringify } from 'yaml';
import { parseFlags } from './common.js';
import { InvalidInputError } from '../errors.js';
import { validateLabel } from '../cluster/names.js';
import { renderChart } from '../deploy/chart.js';

export async function manifests(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, {
    set: { type: 'string', multiple: true },
    namespace: { type: 'string', short: 'n' },
    release: { type: 'string' },
    output: { type: 'string', short: 'o' },
  });
  if (values.help) {
    process.stdout.write('usage: cnilab manifests [--set KEY=VALUE]... [--release NAME] [-n NAMESPACE] [-o yaml|json]\n  e.g. --set routingMode=native --set bgp.peerAddress=10.0.0.1 --set hubble.ui.enabled=false\n');
    return 0;
  }
  if (positionals.length) throw new InvalidInputError('arguments', `unexpected "${positionals[0]}"`);
  const set: Record<string, string> = {};
  for (const s of (values.set as string[] | undefined) ?? []) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new InvalidInputError('--set', `expected KEY=VALUE, got "${s}"`);
    set[s.slice(0, eq)] = s.slice(eq + 1);
  }
  const output = values.output ?? 'yaml';
  if (output !== 'yaml' && output !== 'json') throw new InvalidInputError('--output', `expected yaml or json, got "${output}"`);
  const docs = renderChart({
    set,
    releaseName: values.release === undefined ? undefined : validateLabel('--release', values.release),
    namespace: values.namespace === undefined ? undefined : validateLabel('--namespace', values.namespace),
  });
  if (output === 'json') process.stdout.write(`${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: docs.map((d) => d.object) }, null, 2)}\n`);
  else process.stdout.write(docs.map((d) => `---\n# Source: cnilab/${d.source}\n${stringify(d.object, { lineWidth: 0 })}`).join(''));
  return 0;
}
