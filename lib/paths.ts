// Where cnilab's own files are, resolved from this module's location (works from dist/ and from the
// TypeScript sources under vitest alike).
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(resolve(dir, 'package.json')) && existsSync(resolve(dir, 'bin/cnilab'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find the cnilab checkout (package.json next to bin/cnilab)');
}

export const REPO_ROOT = findRoot();
/** Compiled JavaScript of a TypeScript source path relative to the repo, e.g. 'harness/cluster/daemon'. */
export const distJs = (rel: string) => resolve(REPO_ROOT, 'dist', `${rel}.js`);
/** Executables put on PATH for commands run inside pods (agnhost). */
export const POD_BIN_DIR = resolve(REPO_ROOT, 'bin/pod');
/** Directory holding cnilab's CNI plugin executable (named `cnilab`, as CNI types are). */
export const CNI_BIN_DIR = resolve(REPO_ROOT, 'bin/cni');
/** Where Debian's containernetworking-plugins installs the reference plugins. */
export const REFERENCE_CNI_DIR = '/usr/lib/cni';
export const BPF_BUILD_DIR = resolve(REPO_ROOT, 'bpf/build');
