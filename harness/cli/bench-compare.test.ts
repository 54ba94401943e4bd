// `cnilab bench --compare-datapath` input handling and the datapath sources (no cluster needed): bad
// input is exit 2 before anything is built; a git ref is built in a temporary worktree that is removed.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { run } from '../exec/run.js';
import { REPO_ROOT } from '../paths.js';
import { abOptions, benchCompare } from './bench-compare.js';
import { resolveDatapath } from '../../scenarios/performance/datapath-source.js';

describe('cnilab bench --compare-datapath', () => {
  it('parses its flags with defaults', () => {
    const { opts } = abOptions(['--compare-datapath', 'main']);
    expect(opts).toMatchObject({ base: 'main', routing: 'tunnel', threshold: 0.05, run: { samples: 8, clusterPrefix: 'ab-' } });
    expect(abOptions(['--compare-datapath', 'x', '--test', 'tcp-1,crr', '--routing', 'native']).opts).toMatchObject({ routing: 'native', run: { tests: ['tcp-1', 'crr'] } });
  });
  it('rejects bad input with exit 2, naming the flag', async () => {
    for (const args of [
      ['--compare-datapath', 'x', '--routing', 'geneve'],
      ['--compare-datapath', 'x', '--samples', '1'],
      ['--compare-datapath', 'x', '--test', 'tcp-9'],
      ['--compare-datapath', 'x', '--threshold', 'lots'],
      ['--compare-datapath', 'no-such-ref-or-file-here'],
    ]) {
      const err = process.stderr.write;
      process.stderr.write = (() => true) as typeof process.stderr.write;
      try {
        expect(await benchCompare(args), args.join(' ')).toBe(2);
      } finally {
        process.stderr.write = err;
      }
    }
    expect(() => abOptions(['--compare-datapath', 'x', '--samples', '1'])).toThrow(/--samples/);
  });
  it('builds a git ref in a temporary worktree and removes it again', async () => {
    const src = await resolveDatapath('HEAD', '--compare-datapath');
    try {
      expect(src.commit).toMatch(/^[0-9a-f]{40}$/);
      expect(existsSync(src.objectPath)).toBe(true);
      const trees = await run(['git', '-C', REPO_ROOT, 'worktree', 'list', '--porcelain']);
      expect(trees.stdout).not.toMatch(/cnilab-ab-/);
    } finally {
      await src.cleanup();
    }
    expect(existsSync(src.objectPath)).toBe(false);
  }, 120_000);
});
