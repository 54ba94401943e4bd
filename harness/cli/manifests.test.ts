// cnilab manifests: the chart rendered as `helm template` prints it, JSON on request, bad input named.
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { cnilab } from '../testing/cli.js';

describe('cnilab manifests', () => {
  it('prints the chart as YAML documents with their source template', async () => {
    const r = await cnilab(['manifests', '--set', 'hubble.ui.enabled=false', '-n', 'cnilab-system']);
    expect(r.code, r.stderr).toBe(0);
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJSON()).filter(Boolean);
    expect(docs.map((d) => d.kind)).toContain('DaemonSet');
    expect(docs.some((d) => d.metadata.name === 'hubble-ui')).toBe(false);
    expect(docs.find((d) => d.kind === 'DaemonSet').metadata.namespace).toBe('cnilab-system');
    expect(r.stdout).toContain('# Source: cnilab/templates/daemonset.yaml');
  });
  it('prints a List with -o json', async () => {
    const r = await cnilab(['manifests', '-o', 'json']);
    expect(JSON.parse(r.stdout)).toMatchObject({ apiVersion: 'v1', kind: 'List' });
  });
  it('names the bad value and exits 2', async () => {
    for (const args of [['--set', 'nope=1'], ['--set', 'routingMode'], ['-o', 'table'], ['-n', 'Bad_NS']]) {
      const r = await cnilab(['manifests', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
    }
  });
});
