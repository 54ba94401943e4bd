// Test helpers: run the built `cnilab` CLI as a user would, and list what a cluster left on the host.
import { run, type RunResult } from '../exec/run.js';
import { REPO_ROOT } from '../paths.js';
import { describeLeftovers, findLeftovers } from '../providers/netns/sweep.js';

export const CNILAB = `${REPO_ROOT}/bin/cnilab`;

export function cnilab(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return run([CNILAB, ...args], { allowFailure: true, timeoutMs: opts.timeoutMs ?? 120_000, input: opts.input });
}

/** Everything of a cluster (or of all clusters) still on the host, as a flat list of strings. */
export async function leftovers(cluster?: string, opts: { fixtures?: boolean } = {}): Promise<string[]> {
  return describeLeftovers(await findLeftovers(cluster, opts));
}
