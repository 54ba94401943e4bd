// The agent must run on a real Kubernetes node: nothing under agent/ (its tests and test helpers
// included) may import harness/ or scenarios/ (DESIGN.md section 1). Its inputs are a kubeconfig and
// its config file; what it shares with the harness lives in lib/. Imports are read by TypeScript's own
// pre-processor (static imports, re-exports, `import()` and `require()` with a literal), resolved
// against the importing file, and compared with the forbidden directories.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../lib/paths.js';

const FORBIDDEN = ['harness', 'scenarios'];

/** The imports of one file's text that lead into a forbidden directory (repo-relative targets). */
export function forbiddenImports(file: string, text: string): string[] {
  const out: string[] = [];
  for (const ref of ts.preProcessFile(text, true, true).importedFiles) {
    const spec = ref.fileName;
    if (!spec.startsWith('.') && !spec.startsWith('/')) continue; // packages
    const target = relative(REPO_ROOT, resolve(dirname(file), spec));
    const top = target.split(sep)[0]!;
    if (FORBIDDEN.includes(top) || target.startsWith('..')) out.push(`${relative(REPO_ROOT, file)} imports ${spec} (${target})`);
  }
  return out;
}

function* sources(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* sources(p);
    else if (/\.(ts|js|mjs|cjs)$/.test(e.name)) yield p;
  }
}

describe('the agent imports nothing of the harness or the scenarios', () => {
  it('no file under agent/ (tests and test helpers included) imports harness/ or scenarios/', () => {
    const files = [...sources(join(REPO_ROOT, 'agent'))];
    expect(files.length).toBeGreaterThan(50);
    const bad = files.flatMap((f) => forbiddenImports(f, readFileSync(f, 'utf8')));
    expect(bad).toEqual([]);
  });

  it('lib/, which both sides use, imports nothing of the harness, the scenarios or the agent either', () => {
    const bad = [...sources(join(REPO_ROOT, 'lib'))].flatMap((f) =>
      forbiddenImports(f, readFileSync(f, 'utf8')).concat(
        ts
          .preProcessFile(readFileSync(f, 'utf8'), true, true)
          .importedFiles.filter((r) => r.fileName.startsWith('.') && relative(REPO_ROOT, resolve(dirname(f), r.fileName)).startsWith(`agent${sep}`))
          .map((r) => `${relative(REPO_ROOT, f)} imports ${r.fileName}`),
      ),
    );
    expect(bad).toEqual([]);
  });

  it('notices every way of importing: static, type-only, re-export, dynamic, require, from any depth', () => {
    const f = join(REPO_ROOT, 'agent/routing/x.ts');
    const text = [
      "import { run } from '../../harness/exec/run.js';",
      "import type { ClusterSpec } from '../../harness/cluster/spec.js';",
      "export * from '../../scenarios/framework/model.js';",
      "const m = await import('../../harness/paths.js');",
      "const r = require('../../harness/errors.js');",
      "import { ok } from '../../lib/errors.js';",
      "import { KubeConfig } from '@kubernetes/client-node';",
      "import { x } from '../../../outside.js';",
    ].join('\n');
    expect(forbiddenImports(f, text).map((l) => l.split(' imports ')[1])).toEqual([
      '../../harness/exec/run.js (harness/exec/run.js)',
      '../../harness/cluster/spec.js (harness/cluster/spec.js)',
      '../../scenarios/framework/model.js (scenarios/framework/model.js)',
      '../../harness/paths.js (harness/paths.js)',
      '../../harness/errors.js (harness/errors.js)',
      '../../../outside.js (../outside.js)',
    ]);
  });
});
