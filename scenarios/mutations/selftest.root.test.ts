// The CI slice of `cnilab selftest`: one mutation of each kind (a datapath build, an agent fault, a
// harness fault) on a fresh tunnel cluster against the connectivity suite, each of which must be
// caught by the check the catalogue names. The full catalogue is `cnilab selftest` (README: its score).
import { describe, expect, it } from 'vitest';
import { SUITES } from '../../harness/cli/run.js';
import { CATALOGUE, CI_MUTATIONS } from './catalogue.js';
import { runSelftest } from './run.js';

describe('cnilab selftest (CI slice)', () => {
  it(`catches ${CI_MUTATIONS.join(', ')} with the expected checks`, async () => {
    const mutations = CATALOGUE.filter((m) => CI_MUTATIONS.includes(m.name)).map((m) => ({ ...m, configs: m.configs.slice(0, 1) }));
    const r = await runSelftest({ mutations, loadSuite: (n) => SUITES[n]!(), skipBaseline: true, log: () => undefined });
    const summary = r.mutations.map((m) => ({ name: m.name, error: m.error, detected: m.detected, asExpected: m.caughtAsExpected, by: m.caughtBy.slice(0, 3) }));
    expect(summary.map((m) => [m.name, m.error ?? null, m.detected, m.asExpected]), JSON.stringify(summary, null, 1)).toEqual(
      mutations.map((m) => [m.name, null, true, true]),
    );
    expect(r.score).toEqual({ detected: mutations.length, total: mutations.length });
  }, 600_000);
});
