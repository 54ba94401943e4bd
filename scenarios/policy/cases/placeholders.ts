// Cases are written before the cluster exists, but some policies need its addresses (upstream's CIDR
// cases allow the server pod's IP). Strings in a case may hold placeholders, resolved when the case
// runs:
//   ${ip:NS/POD}        the pod's IP                ${cidr:NS/POD}   the pod's IP as a /32
//   ${podCidr:NS/POD}   the pod CIDR of the pod's node
//   ${node:N}           the name of the N-th node (0-based)
//   ${external:NAME}    the address of a host outside the cluster (world-a, world-b)
import { InvalidInputError } from '../../../harness/errors.js';

export interface PlaceholderLookup {
  podIp(key: string): string | undefined;
  podCidr(key: string): string | undefined;
  node(index: number): string | undefined;
  external(name: string): string | undefined;
}

const PLACEHOLDER = /\$\{(ip|cidr|podCidr|node|external):([^}]*)\}/g;
export const PLACEHOLDER_KINDS = ['ip', 'cidr', 'podCidr', 'node', 'external'] as const;

function resolveOne(kind: string, arg: string, lookup: PlaceholderLookup): string | undefined {
  switch (kind) {
    case 'ip':
      return lookup.podIp(arg);
    case 'cidr': {
      const ip = lookup.podIp(arg);
      return ip && `${ip}/32`;
    }
    case 'podCidr':
      return lookup.podCidr(arg);
    case 'node':
      return /^\d+$/.test(arg) ? lookup.node(Number(arg)) : undefined;
    case 'external':
      return lookup.external(arg);
  }
  return undefined;
}

/** A deep copy of `value` with every placeholder replaced; an unknown reference is bad input naming where it is. */
export function resolvePlaceholders<T>(value: T, lookup: PlaceholderLookup, where = 'case'): T {
  const walk = (v: unknown, at: string): unknown => {
    if (typeof v === 'string') {
      return v.replace(PLACEHOLDER, (whole, kind: string, arg: string) => {
        const r = resolveOne(kind, arg, lookup);
        if (r === undefined) throw new InvalidInputError(at, `${whole} refers to nothing in this cluster`);
        return r;
      });
    }
    if (Array.isArray(v)) return v.map((x, i) => walk(x, `${at}[${i}]`));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, `${at}.${k}`)]));
    return v;
  };
  return walk(value, where) as T;
}

/** Placeholders a value mentions, for validating user cases before any cluster exists. */
export function placeholdersIn(value: unknown): Array<{ kind: string; arg: string }> {
  const out: Array<{ kind: string; arg: string }> = [];
  const text = JSON.stringify(value) ?? '';
  for (const m of text.matchAll(PLACEHOLDER)) out.push({ kind: m[1]!, arg: m[2]! });
  return out;
}
