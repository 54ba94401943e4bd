// Builds the CNI plugin's two modules into a temporary directory with TypeScript's transpiler, so the
// unit tests run the real executable path (a separate node process reading env and stdin) without
// depending on a prior `tsc` build of dist/.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import ts from 'typescript';
import { REPO_ROOT } from '../../harness/paths.js';

export function buildPluginInto(dir: string): string {
  // Same relative layout as the repository, so the plugin's relative imports resolve unchanged.
  const sources = ['agent/cni/main', 'agent/cni/protocol', 'agent/cni/result', 'harness/exec/unix-http'];
  for (const rel of sources) {
    const src = readFileSync(resolve(REPO_ROOT, `${rel}.ts`), 'utf8');
    const js = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, `${rel}.js`), js);
  }
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  const exe = join(dir, 'agent/cni/cnilab.mjs');
  writeFileSync(exe, "import('./main.js').then((m) => m.main());\n");
  return exe;
}
