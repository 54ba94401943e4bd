// A small pflag-compatible parser (the flag library agnhost uses through cobra): `--name=value`,
// `--name value`, bare `--bool` meaning true, `--bool=false`, and `--` ending flags. Kept free of
// dependencies because `agnhost connect` is started once per probe and its start-up time counts.

export type FlagKind = 'bool' | 'string' | 'int' | 'duration';
export interface FlagSpec {
  kind: FlagKind;
  default: boolean | string | number;
}
export type FlagValues = Record<string, boolean | string | number>;

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Parse Go duration syntax ("1s", "500ms", "1m30s", "1.5h", "0") into milliseconds. */
export function parseGoDuration(text: string): number {
  const s = text.trim();
  if (s === '0' || s === '+0' || s === '-0') return 0;
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const m = /^([-+]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/.exec(s);
  if (!m) throw new UsageError(`time: invalid duration "${text}"`);
  let total = 0;
  for (const part of s.replace(/^[-+]/, '').matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) {
    total += Number(part[1]) * units[part[2]!]!;
  }
  return m[1] === '-' ? -total : total;
}

function convert(name: string, spec: FlagSpec, raw: string): boolean | string | number {
  switch (spec.kind) {
    case 'bool': {
      if (['true', '1', 't', 'T', 'TRUE', 'True'].includes(raw)) return true;
      if (['false', '0', 'f', 'F', 'FALSE', 'False'].includes(raw)) return false;
      throw new UsageError(`invalid argument "${raw}" for "--${name}" flag: strconv.ParseBool: parsing "${raw}": invalid syntax`);
    }
    case 'int': {
      if (!/^[-+]?\d+$/.test(raw)) {
        throw new UsageError(`invalid argument "${raw}" for "--${name}" flag: strconv.ParseInt: parsing "${raw}": invalid syntax`);
      }
      // Go's int is 64-bit; beyond 2^53 a JS number would silently round, so those are refused too.
      const n = Number(raw);
      if (!Number.isSafeInteger(n)) {
        throw new UsageError(`invalid argument "${raw}" for "--${name}" flag: strconv.ParseInt: parsing "${raw}": value out of range`);
      }
      return n;
    }
    case 'duration':
      try {
        return parseGoDuration(raw);
      } catch (e) {
        throw new UsageError(`invalid argument "${raw}" for "--${name}" flag: ${(e as Error).message}`);
      }
    case 'string':
      return raw;
  }
}

/** Parse `args` against `specs`; returns flag values (defaults filled in) and positional args. */
export function parseFlags(args: string[], specs: Record<string, FlagSpec>): { flags: FlagValues; positional: string[] } {
  const flags: FlagValues = {};
  for (const [k, s] of Object.entries(specs)) flags[k] = s.default;
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      positional.push(...args.slice(i + 1));
      break;
    }
    // pflag only knows `--long`; a single-dash long name is accepted too because Go's own flag
    // package (used by older agnhost-era images) accepted it and manifests still carry it.
    const m = /^--?([A-Za-z0-9][A-Za-z0-9_-]*)(?:=(.*))?$/s.exec(arg);
    if (!m) {
      positional.push(arg);
      continue;
    }
    const name = m[1]!;
    const spec = specs[name];
    if (!spec) throw new UsageError(`unknown flag: --${name}`);
    let raw = m[2];
    if (raw === undefined) {
      if (spec.kind === 'bool') raw = 'true';
      else if (i + 1 < args.length) raw = args[++i]!;
      else throw new UsageError(`flag needs an argument: --${name}`);
    }
    flags[name] = convert(name, spec, raw);
  }
  return { flags, positional };
}
