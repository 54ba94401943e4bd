// The catalogue is consistent with the code that implements it: every datapath mutation has its bpf/
// Makefile variant and its macro in the sources, names are unique, expectations are named, and the
// judge attributes failures against the baseline.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AGENT_FAULTS } from '../../agent/faults.js';
import { HARNESS_FAULTS } from '../../harness/faults.js';
import { REPO_ROOT } from '../../harness/paths.js';
import { CATALOGUE, CI_MUTATIONS, mutantVariant } from './catalogue.js';
import { judgeMutation } from './run.js';

const bpf = join(REPO_ROOT, 'bpf');
const sources = () =>
  [...readdirSync(bpf).filter((f) => f.endsWith('.c')).map((f) => join(bpf, f)), ...readdirSync(join(bpf, 'lib')).map((f) => join(bpf, 'lib', f))]
    .map((f) => readFileSync(f, 'utf8'))
    .join('\n');

describe('mutation catalogue', () => {
  it('has unique names, something to catch each, and a CI slice of one per kind', () => {
    const names = CATALOGUE.map((m) => m.name);
    expect(new Set(names).size).toBe(names.length);
    for (const m of CATALOGUE) {
      expect(m.expectCaughtBy.length, m.name).toBeGreaterThan(0);
      expect(m.configs.length, m.name).toBeGreaterThan(0);
      if (!m.speed) expect(m.suites.length, m.name).toBeGreaterThan(0);
    }
    const kinds = CATALOGUE.filter((m) => CI_MUTATIONS.includes(m.name)).map((m) => Object.keys(m.enable)[0]);
    expect(kinds.sort()).toEqual(['agent', 'datapath', 'harness']);
  });
  it('every datapath mutation is a bpf/Makefile variant whose macro the sources use', () => {
    const makefile = readFileSync(join(bpf, 'Makefile'), 'utf8');
    const src = sources();
    for (const m of CATALOGUE) {
      if (!('datapath' in m.enable)) continue;
      const v = mutantVariant(m)!;
      expect(makefile, `${v} in bpf/Makefile`).toMatch(new RegExp(`DEFS_${v}\\s*:=\\s*-D${m.enable.datapath}\\b`));
      expect(src, `${m.enable.datapath} in bpf/`).toMatch(new RegExp(`\\b${m.enable.datapath}\\b`));
    }
  });
  it('agent and harness mutations name faults that exist', () => {
    for (const m of CATALOGUE) {
      if ('agent' in m.enable) expect(Object.keys(AGENT_FAULTS)).toContain(m.enable.agent);
      if ('harness' in m.enable) expect(Object.keys(HARNESS_FAULTS)).toContain(m.enable.harness);
    }
  });
  it('judges a mutation by what failed beyond the baseline', () => {
    const m = CATALOGUE.find((x) => x.name === 'wrong-vni')!;
    expect(judgeMutation(m, ['wire/wire/vni-conn-node1-a', 'x/flaky'], ['x/flaky'])).toEqual({ detected: true, caughtBy: ['wire/wire/vni-conn-node1-a'], caughtAsExpected: true });
    expect(judgeMutation(m, ['x/flaky'], ['x/flaky'])).toEqual({ detected: false, caughtBy: [], caughtAsExpected: false });
    expect(judgeMutation(m, ['pod-connectivity/pod-pod/tcp/a/b'], [])).toMatchObject({ detected: true, caughtAsExpected: false });
  });
});
