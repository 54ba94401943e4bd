// cnilab's Helm chart (deploy/helm/cnilab/) rendered without helm: Chart.yaml and values.yaml read,
// values overridden the way `helm --set a.b=c` does, every template rendered by helm-template.ts, the
// documents split and parsed. `cnilab manifests` prints the result.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../paths.js';
import { InvalidInputError } from '../errors.js';
import { renderTemplate, type TemplateContext } from './helm-template.js';

export const CHART_DIR = resolve(REPO_ROOT, 'deploy/helm/cnilab');

export interface RenderOptions {
  releaseName?: string;
  namespace?: string;
  /** `--set` overrides: dotted path → value (YAML scalars: true, 3, "x", [a, b]). */
  set?: Record<string, string>;
  chartDir?: string;
}

export interface RenderedDocument {
  /** templates/<file> it came from. */
  source: string;
  object: Record<string, any>;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

/** Apply one `--set path=value`: the path must exist in values.yaml (a typo is an error, not a new key). */
export function setValue(values: Record<string, unknown>, path: string, raw: string): void {
  const keys = path.split('.');
  let cur: Record<string, unknown> = values;
  for (const [i, k] of keys.entries()) {
    if (!(k in cur)) throw new InvalidInputError(`--set ${path}`, `the chart has no value "${keys.slice(0, i + 1).join('.')}"`);
    if (i === keys.length - 1) {
      const parsed = parse(raw) as unknown;
      const old = cur[k];
      if (old !== null && old !== undefined && typeof parsed !== typeof old && !(Array.isArray(old) && Array.isArray(parsed))) {
        throw new InvalidInputError(`--set ${path}`, `expected a ${Array.isArray(old) ? 'list' : typeof old}, got ${JSON.stringify(parsed)}`);
      }
      cur[k] = parsed;
    } else {
      const next = cur[k];
      if (!isObj(next)) throw new InvalidInputError(`--set ${path}`, `"${keys.slice(0, i + 1).join('.')}" is not a map`);
      cur = next;
    }
  }
}

export function loadValues(chartDir = CHART_DIR): Record<string, unknown> {
  return parse(readFileSync(join(chartDir, 'values.yaml'), 'utf8')) as Record<string, unknown>;
}

/** Checks helm would leave to the templates' authors: values the chart cannot work with. */
function validateValues(v: Record<string, any>): void {
  if (!['tunnel', 'native'].includes(v.routingMode)) throw new InvalidInputError('routingMode', `expected tunnel or native, got ${JSON.stringify(v.routingMode)}`);
  if (!['strict', 'disabled'].includes(v.kubeProxyReplacement)) throw new InvalidInputError('kubeProxyReplacement', `expected strict or disabled, got ${JSON.stringify(v.kubeProxyReplacement)}`);
  if (v.routingMode === 'native' && !v.bgp?.peerAddress) throw new InvalidInputError('bgp.peerAddress', 'native routing needs the BGP peer (route reflector) address');
  if (!/^[\w.-]*:\d+$/.test(String(v.hubble?.listenAddress ?? ''))) throw new InvalidInputError('hubble.listenAddress', `expected [host]:port, got ${JSON.stringify(v.hubble?.listenAddress)}`);
}

export function renderChart(opts: RenderOptions = {}): RenderedDocument[] {
  const dir = opts.chartDir ?? CHART_DIR;
  const chart = parse(readFileSync(join(dir, 'Chart.yaml'), 'utf8')) as { name: string; version: string; appVersion?: string };
  const values = loadValues(dir);
  for (const [k, v] of Object.entries(opts.set ?? {})) setValue(values, k, v);
  validateValues(values);
  const ctx: TemplateContext = {
    Values: values,
    Release: { Name: opts.releaseName ?? 'cnilab', Namespace: opts.namespace ?? 'kube-system', Service: 'Helm' },
    Chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion },
  };
  const out: RenderedDocument[] = [];
  for (const file of readdirSync(join(dir, 'templates')).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    const text = renderTemplate(readFileSync(join(dir, 'templates', file), 'utf8'), ctx, `templates/${file}`);
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length) throw new Error(`templates/${file} rendered invalid YAML: ${doc.errors[0]!.message}`);
      const object = doc.toJSON() as Record<string, any> | null;
      if (object) out.push({ source: `templates/${file}`, object });
    }
  }
  return out;
}
