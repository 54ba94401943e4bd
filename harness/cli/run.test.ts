// `cnilab run` input handling (no cluster needed): bad input is exit 2 before anything is created.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidInputError, UnsupportedError } from '../errors.js';
import { CLUSTER_NAME_MAX, validateClusterName } from '../cluster/names.js';
import { CONFIGURATIONS } from '../../scenarios/framework/configuration.js';
import { clusterNameFor, runCommand, selectConfigurations, selectSuites } from './run.js';
import { testTempDir } from '../../lib/testing/temp-dir.js';

describe('cnilab run flags', () => {
  it('rejects unknown suites, configurations, flags and over-long prefixes as invalid input', async () => {
    await expect(selectSuites(['nope'])).rejects.toBeInstanceOf(InvalidInputError);
    expect(() => selectConfigurations(['nope'], () => undefined)).toThrow(InvalidInputError);
    await expect(runCommand(['--bogus'])).rejects.toMatchObject({ exitCode: 2 });
    await expect(runCommand(['--name', 'x'.repeat(30)])).rejects.toMatchObject({ exitCode: 2 });
    await expect(runCommand(['--concurrency', '0'])).rejects.toMatchObject({ exitCode: 2 });
  });

  it('checks policy case files and sets before anything is created', async () => {
    const dir = testTempDir('cases-');
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'cases: [{name: a, steps: [{apply: [{apiVersion: cilium.io/v2, kind: CiliumNetworkPolicy, metadata: {name: p, namespace: x}, spec: {endpointSelector: {}, egress: [{toCIDR: [10.0.0/8]}]}}]}]}]\n');
    await expect(runCommand(['--cases', bad, '--name', 'never'])).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining(`${bad}: cases[0].steps[0].apply[0]: spec.egress[0].toCIDR[0]: expected a CIDR`) });
    await expect(runCommand(['--cases', join(dir, 'missing.yaml')])).rejects.toMatchObject({ exitCode: 2 });
    await expect(runCommand(['--policy-set', 'nope'])).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('unknown set "nope"') });
    await expect(selectSuites(['connectivity'], { cases: [bad] })).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('add --suite policy') });
    const good = join(dir, 'good.yaml');
    writeFileSync(good, 'cases: [{name: mine, steps: [{probe: {ports: [80], protocols: [TCP]}}]}]\n');
    const [policy] = await selectSuites(undefined, { cases: [good], policySets: ['upstream'] });
    expect(policy!.name).toBe('policy');
    expect(policy!.scenarios.map((s) => s.name)).toHaveLength(26);
    expect(policy!.scenarios.at(-1)!.name).toBe('mine');
  });

  it('defaults to every suite and says which configuration it picked and why', async () => {
    expect((await selectSuites(undefined)).map((s) => s.name)).toContain('connectivity');
    const said: string[] = [];
    const [cfg] = selectConfigurations(undefined, (m) => said.push(m), () => ({ available: true, why: 'cnilab CNI built (x)' }));
    expect(cfg!.name).toBe('cnilab-tunnel');
    expect(said[0]).toMatch(/cnilab CNI built/);
  });

  it('without --config and without a cnilab build is unsupported (exit 3), never a silent run of the reference bridge', () => {
    const said: string[] = [];
    const notBuilt = () => ({ available: false, why: 'cnilab CNI not built (missing bpf/build/datapath.o)' });
    let err: unknown;
    try {
      selectConfigurations(undefined, (m) => said.push(m), notBuilt);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(err).toMatchObject({ exitCode: 3, message: expect.stringMatching(/^unsupported: .*not built.*\(needs .*bootstrap/) });
    expect(said).toEqual([]);
    // Asked for by name, the baseline still runs.
    expect(selectConfigurations(['reference-bridge'], () => undefined, notBuilt).map((c) => c.name)).toEqual(['reference-bridge']);
  });

  it('derives valid cluster names within the length limit from the longest accepted prefix', () => {
    const prefix = 'p'.repeat(CLUSTER_NAME_MAX - 9);
    for (const def of Object.values(CONFIGURATIONS)) {
      const name = clusterNameFor(prefix, def, 'abcd');
      expect(name.length).toBeLessThanOrEqual(CLUSTER_NAME_MAX);
      expect(validateClusterName(name)).toBe(name);
    }
  });
});
