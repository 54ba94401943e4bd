// What every subcommand shares: flag parsing, the cluster it acts on, and error printing.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CnilabError, InvalidInputError, InvalidInputList } from '../errors.js';
import { CommandError } from '../exec/run.js';
import { ControlPlaneClient } from '../cluster/client.js';
import { paths, validateClusterName } from '../cluster/names.js';
import { DEFAULTS } from '../cluster/spec.js';

export interface CommonFlags {
  name: string;
  verbose: boolean;
}

/** parseArgs with cnilab's error style: an unknown flag is bad input (exit 2) naming the flag. */
export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(
  args: string[],
  options: T,
  allowPositionals = true,
): { values: Record<string, any>; positionals: string[] } {
  try {
    const parsed = parseArgs({ args, options: { ...options, verbose: { type: 'boolean', short: 'v' }, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true });
    return { values: parsed.values as Record<string, any>, positionals: parsed.positionals };
  } catch (e) {
    const msg = (e as Error).message;
    const flag = /'([^']+)'/.exec(msg)?.[1] ?? 'arguments';
    throw new InvalidInputError(flag, msg.replace(/\. To specify a positional argument.*$/, ''));
  }
}

export function clusterName(values: Record<string, any>): string {
  return validateClusterName(values.name ?? process.env.CNILAB_CLUSTER ?? DEFAULTS.name, '--name');
}

export function clientFor(name: string): ControlPlaneClient {
  return new ControlPlaneClient(paths.controlSocket(name), name);
}

/** Print an error the cnilab way and return the exit status. */
export function reportError(err: unknown, verbose: boolean): number {
  if (err instanceof InvalidInputList) {
    process.stderr.write(`error: invalid input (${err.problems.length} problems):\n${err.problems.map((p) => `  ${p.message}`).join('\n')}\n`);
    return 2;
  }
  if (err instanceof CnilabError) {
    const prefix = err.code === 'UNSUPPORTED' ? '' : 'error: ';
    process.stderr.write(`${prefix}${err.message}\n`);
    if (err.detail) process.stderr.write(`${err.detail.replace(/^/gm, '  ')}\n`);
    if (err instanceof CommandError && err.result.stdout.trim()) process.stderr.write(`${err.result.stdout.trim().replace(/^/gm, '  ')}\n`);
    if (verbose && err.stack) process.stderr.write(`${err.stack}\n`);
    return err.exitCode;
  }
  process.stderr.write(`error: ${(err as Error)?.message ?? String(err)}\n`);
  if (verbose && (err as Error)?.stack) process.stderr.write(`${(err as Error).stack}\n`);
  return 1;
}

export function parseDuration(field: string, s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(s);
  if (!m) throw new InvalidInputError(field, `expected a duration like 30s, 500ms or 2m, got "${s}"`);
  const n = Number(m[1]);
  return Math.round(m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000);
}
