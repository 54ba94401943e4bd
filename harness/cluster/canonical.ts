// Canonical JSON: object keys sorted at every level (arrays keep their order), so two values that
// mean the same thing have the same text whatever order their keys came in. What the store compares
// when it decides whether an apply changed anything.
export function canonicalJson(v: unknown): string {
  return JSON.stringify(sortKeys(v));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (!v || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v as Record<string, unknown>).sort()) {
    const x = (v as Record<string, unknown>)[k];
    // defineProperty, not assignment: a "__proto__" key (JSON.parse makes it an own property) would
    // otherwise set the prototype and vanish from the output.
    if (x !== undefined) Object.defineProperty(out, k, { value: sortKeys(x), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

export const sameCanonical = (a: unknown, b: unknown): boolean => canonicalJson(a) === canonicalJson(b);
