// `cnilab run` input handling (no cluster needed): bad input is exit 2 before anything is created.
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../errors.js';
import { CLUSTER_NAME_MAX, validateClusterName } from '../cluster/names.js';
import { CONFIGURATIONS } from '../../scenarios/framework/configuration.js';
import { clusterNameFor, runCommand, selectConfigurations, selectSuites } from './run.js';

describe('cnilab run flags', () => {
  it('rejects unknown suites, configurations, flags and over-long prefixes as invalid input', async () => {
    await expect(selectSuites(['nope'])).rejects.toBeInstanceOf(InvalidInputError);
    expect(() => selectConfigurations(['nope'], () => undefined)).toThrow(InvalidInputError);
    await expect(runCommand(['--bogus'])).rejects.toMatchObject({ exitCode: 2 });
    await expect(runCommand(['--name', 'x'.repeat(30)])).rejects.toMatchObject({ exitCode: 2 });
    await expect(runCommand(['--concurrency', '0'])).rejects.toMatchObject({ exitCode: 2 });
  });

  it('defaults to every suite and says which configuration it picked and why', async () => {
    expect((await selectSuites(undefined)).map((s) => s.name)).toContain('connectivity');
    const said: string[] = [];
    const [cfg] = selectConfigurations(undefined, (m) => said.push(m));
    expect(['cnilab-tunnel', 'reference-bridge']).toContain(cfg!.name);
    expect(said[0]).toMatch(/cnilab CNI (not )?built/);
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
