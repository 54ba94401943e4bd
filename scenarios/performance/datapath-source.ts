// Where the A/B gate's datapath objects come from: a path to a built object, or a git ref whose BPF
// sources are built in a temporary `git worktree` (removed again, with the temporary directory, when
// the run is over — also when the build fails). The object is what the agents load
// (CNILAB_BPF_OBJECT), so base and head run the same agent and differ only in their datapath: the
// base must keep the map layouts the agent writes (bpf/tests/layout.root.test.ts checks them).
import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { run } from '../../harness/exec/run.js';
import { CnilabError, InvalidInputError } from '../../harness/errors.js';
import { BPF_BUILD_DIR, REPO_ROOT } from '../../harness/paths.js';

/** The object the agents load by default (agent/agent.ts: BPF_BUILD_DIR/datapath.o). */
const DEFAULT_OBJECT = join(BPF_BUILD_DIR, 'datapath.o');

export interface DatapathSource {
  /** What the user named (a path or a ref), and what it resolved to (the commit, for a ref). */
  label: string;
  commit?: string;
  objectPath: string;
  /** Removes whatever was made for it (the built object's temporary directory). */
  cleanup(): Promise<void>;
}

const noop = async () => undefined;

/** The checkout's own build: the head side by default. */
export function currentDatapath(): DatapathSource {
  if (!existsSync(DEFAULT_OBJECT)) throw new CnilabError('NOT_FOUND', `${DEFAULT_OBJECT} is not built: run \`make -C bpf\` (or scripts/bootstrap.sh)`);
  return { label: 'working tree', objectPath: DEFAULT_OBJECT, cleanup: noop };
}

/** A built object by path, or a git ref built in a temporary worktree. `field` names the flag. */
export async function resolveDatapath(spec: string, field: string, o: { repo?: string; log?: (m: string) => void } = {}): Promise<DatapathSource> {
  const repo = o.repo ?? REPO_ROOT;
  const asPath = resolve(spec);
  if (existsSync(asPath)) {
    if (!statSync(asPath).isFile()) throw new InvalidInputError(field, `${spec} is not a file (expected a built BPF object or a git ref)`);
    return { label: spec, objectPath: asPath, cleanup: noop };
  }
  const rev = await run(['git', '-C', repo, 'rev-parse', '--verify', '--quiet', `${spec}^{commit}`], { allowFailure: true, timeoutMs: 10_000 });
  if (rev.code !== 0) throw new InvalidInputError(field, `"${spec}" is neither a file nor a git ref of ${repo}`);
  const commit = rev.stdout.trim();
  const tmp = mkdtempSync(join(tmpdir(), 'cnilab-ab-'));
  const tree = join(tmp, 'src');
  const cleanup = async () => {
    await run(['git', '-C', repo, 'worktree', 'remove', '--force', tree], { allowFailure: true, timeoutMs: 30_000 });
    await run(['git', '-C', repo, 'worktree', 'prune'], { allowFailure: true, timeoutMs: 30_000 });
    rmSync(tmp, { recursive: true, force: true });
  };
  try {
    o.log?.(`building the datapath of ${spec} (${commit.slice(0, 12)}) in a temporary worktree`);
    await run(['git', '-C', repo, 'worktree', 'add', '--detach', tree, commit], { timeoutMs: 60_000 });
    await run(['make', '-s', '-C', join(tree, 'bpf')], { timeoutMs: 300_000 });
    const built = join(tree, 'bpf', 'build', basename(DEFAULT_OBJECT));
    if (!existsSync(built)) throw new CnilabError('NOT_FOUND', `${spec}'s bpf build made no ${basename(DEFAULT_OBJECT)}`);
    const objectPath = join(tmp, `${commit.slice(0, 12)}-${basename(DEFAULT_OBJECT)}`);
    copyFileSync(built, objectPath);
    // The object is all the run needs: the worktree goes now, the directory holding the object later.
    await run(['git', '-C', repo, 'worktree', 'remove', '--force', tree], { allowFailure: true, timeoutMs: 30_000 });
    return { label: spec, commit, objectPath, cleanup };
  } catch (e) {
    await cleanup();
    throw e;
  }
}
