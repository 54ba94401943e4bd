// For the agent's root tests that drive a whole cluster: the built `cnilab` CLI run as a user runs it
// (a separate process: the agent's code imports nothing of the harness), and what a cluster left on
// the host, as `cnilab down` itself finds it.
import { run, type RunResult } from '../../lib/exec/run.js';
import { REPO_ROOT } from '../../lib/paths.js';
import { RUN_ROOT } from '../../lib/run-layout.js';
import { loadAgentConfig, type AgentConfig } from '../config.js';

export const CNILAB = `${REPO_ROOT}/bin/cnilab`;

export function cnilab(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return run([CNILAB, ...args], { allowFailure: true, timeoutMs: opts.timeoutMs ?? 120_000, input: opts.input });
}

/**
 * What of a removed cluster was still on the host: `cnilab down` again, which reports what it found
 * ("removed 0 processes, 0 namespaces, 0 BPF pin dirs, 0 run dirs"); each non-zero count is a leftover.
 */
export async function leftovers(cluster: string): Promise<string[]> {
  const r = await cnilab(['down', '--name', cluster]);
  if (r.code !== 0) return [`cnilab down failed: ${r.stderr}`];
  const m = /removed (.*)$/m.exec(r.stderr);
  if (!m) return [`cnilab down said: ${r.stderr.trim()}`];
  return m[1]!.split(', ').filter((part) => !/^0 /.test(part));
}

/** The config file the cluster daemon wrote for a node's agent (its pin directory, state directory...). */
export function agentConfigOf(cluster: string, node: string): AgentConfig {
  return loadAgentConfig(`${RUN_ROOT}/${cluster}/nodes/${node}/agent-config.yaml`);
}
