// The machine a run came from: absolute numbers mean little without it (DESIGN.md §5).
import { readFileSync } from 'node:fs';
import { cpus, hostname, release, totalmem, platform } from 'node:os';
import { resolve } from 'node:path';
import { run } from '../harness/exec/run.js';
import { REPO_ROOT } from '../harness/paths.js';
import type { Environment } from './model.js';

function cnilabVersion(): string {
  try {
    return (JSON.parse(readFileSync(resolve(REPO_ROOT, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Git commit and dirtiness of the checkout; absent when git or the repository is not there. */
async function gitState(): Promise<{ gitCommit?: string; gitDirty?: boolean }> {
  const head = await run(['git', '-C', REPO_ROOT, 'rev-parse', 'HEAD'], { allowFailure: true, timeoutMs: 5000 });
  if (head.code !== 0) return {};
  const status = await run(['git', '-C', REPO_ROOT, 'status', '--porcelain', '--untracked-files=no'], { allowFailure: true, timeoutMs: 10_000 });
  return { gitCommit: head.stdout.trim(), ...(status.code === 0 ? { gitDirty: status.stdout.trim() !== '' } : {}) };
}

export async function collectEnvironment(): Promise<Environment> {
  const cpuList = cpus();
  return {
    // os.release() is uname(2)'s release field: what `uname -r` prints.
    kernel: release(),
    cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
    cpuCount: cpuList.length,
    memoryBytes: totalmem(),
    nodeVersion: process.version,
    cnilabVersion: cnilabVersion(),
    ...(await gitState()),
    hostname: hostname(),
    platform: `${platform()}-${process.arch}`,
  };
}
