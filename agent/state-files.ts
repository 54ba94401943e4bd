// Corrupt state files. The agent's state (IPAM allocations, endpoint records) lives in files under
// its node directory; a file that cannot be parsed or does not have the expected shape must not
// crash the agent at every start (its supervisor would restart it forever). It is moved aside as
// FILE.corrupt-<ms> with a log line saying what was wrong, the agent carries on without it (rebuilding
// what it can), and its health reports every quarantined file until an operator removes it.
import { readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';

export class CorruptStateError extends Error {
  constructor(readonly file: string, readonly why: string) {
    super(`${file}: ${why}`);
    this.name = 'CorruptStateError';
  }
}

export const QUARANTINE_SUFFIX = /\.corrupt-\d+$/;

/** Move `file` aside; returns the new path. */
export function quarantine(file: string, why: string, log: (m: string) => void): string {
  const aside = `${file}.corrupt-${Date.now()}`;
  renameSync(file, aside);
  log(`state file ${file} is corrupt (${why}); moved it to ${aside} and carried on without it`);
  return aside;
}

/** Quarantined files under `dir` (one level of subdirectories, where endpoint states live). */
export function listQuarantined(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory() && depth > 0) walk(join(d, e.name), depth - 1);
      else if (QUARANTINE_SUFFIX.test(e.name)) out.push(join(d, e.name));
    }
  };
  walk(dir, 1);
  return out.sort();
}

/** JSON.parse that reports a parse error as CorruptStateError naming the file. */
export function parseStateJson(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new CorruptStateError(file, `not valid JSON: ${(e as Error).message}`);
  }
}
