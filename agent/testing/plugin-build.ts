// Builds the CNI plugin's two modules into a temporary directory with TypeScript's transpiler, so the
// unit tests run the real executable path (a separate node process reading env and stdin) without
// depending on a prior `tsc` build of dist/.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { REPO_ROOT } from '../../harness/paths.js';

export function buildPluginInto(dir: string): string {
  const out = join(dir, 'cni');
  mkdirSync(out, { recursive: true });
  for (const name of ['main', 'protocol']) {
    const src = readFileSync(resolve(REPO_ROOT, 'agent/cni', `${name}.ts`), 'utf8');
    const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
    writeFileSync(join(out, `${name}.js`), js);
  }
  writeFileSync(join(out, 'package.json'), '{"type":"module"}');
  const exe = join(out, 'cnilab.mjs');
  writeFileSync(exe, "import('./main.js').then((m) => m.main());\n");
  return exe;
}
