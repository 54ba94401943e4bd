// `cnilab run --provider kubeconfig` input handling: bad input names its flag (exit 2) and suites not
// not on the provider interface would be unsupported (exit 3), before any cluster is reached.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCommand } from './run.js';
import { parseProviderRunFlags } from './run-provider.js';
import { testTempDir } from '../../lib/testing/temp-dir.js';

const kc = join(testTempDir('kc-'), 'kubeconfig');
writeFileSync(kc, 'apiVersion: v1\nkind: Config\n');

describe('cnilab run --provider', () => {
  it('takes a kubeconfig, a pod MTU and the connectivity suite', () => {
    expect(parseProviderRunFlags({ kubeconfig: kc, 'pod-mtu': '1450' }, undefined)).toEqual({ kubeconfig: kc, podMtu: 1450, name: 'kubeconfig', suites: ['connectivity'] });
    expect(parseProviderRunFlags({ kubeconfig: kc, routing: 'native' }, undefined)).toMatchObject({ routing: 'native' });
    expect(parseProviderRunFlags({ kubeconfig: kc, context: 'ctx', name: 'lab' }, ['connectivity'])).toMatchObject({ context: 'ctx', name: 'lab' });
  });

  it('names the flag at fault', async () => {
    await expect(runCommand(['--provider', 'kind'])).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('--provider') });
    await expect(runCommand(['--provider', 'kubeconfig'])).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('--kubeconfig') });
    await expect(runCommand(['--provider', 'kubeconfig', '--kubeconfig', '/nonexistent/kc'])).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('no such file') });
    await expect(runCommand(['--provider', 'kubeconfig', '--kubeconfig', kc, '--pod-mtu', '12'])).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('--pod-mtu') });
    await expect(runCommand(['--provider', 'kubeconfig', '--kubeconfig', kc, '--config', 'cnilab-tunnel'])).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('--config') });
    await expect(runCommand(['--provider', 'kubeconfig', '--kubeconfig', kc, '--routing', 'geneve'])).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('--routing') });
    await expect(runCommand(['--routing', 'native'])).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('applies to --provider kubeconfig') });
    await expect(runCommand(['--kubeconfig', kc])).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('applies to --provider kubeconfig') });
  });

  it('takes the policy suite, implied by --cases or --policy-set as on the netns provider', () => {
    expect(parseProviderRunFlags({ kubeconfig: kc }, ['policy']).suites).toEqual(['policy']);
    expect(parseProviderRunFlags({ kubeconfig: kc, 'policy-set': ['upstream'] }, undefined).suites).toEqual(['policy']);
    expect(parseProviderRunFlags({ kubeconfig: kc, cases: ['my.yaml'] }, ['connectivity', 'policy']).suites).toEqual(['connectivity', 'policy']);
  });

  it('takes the faults suite (node faults through the helper pods); an unknown suite names --suite', async () => {
    expect(parseProviderRunFlags({ kubeconfig: kc, routing: 'native' }, ['faults'])).toMatchObject({ suites: ['faults'], routing: 'native' });
    await expect(runCommand(['--provider', 'kubeconfig', '--kubeconfig', kc, '--suite', 'nope'])).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('--suite') });
  });

  it('takes the visibility suite (its flows unavailable where the relay is not reached)', () => {
    expect(parseProviderRunFlags({ kubeconfig: kc }, ['visibility']).suites).toEqual(['visibility']);
  });

  it('checks --policy-set before reaching the cluster', async () => {
    await expect(runCommand(['--provider', 'kubeconfig', '--kubeconfig', kc, '--policy-set', 'nope'])).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('--policy-set') });
  });
});
