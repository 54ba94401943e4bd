// Small IPv4 helpers: parsing, formatting, CIDR containment, overlap and subnet carving.
// IPv4 only for now; the embedded cluster is single-stack.

export interface Cidr {
  /** Network address as an unsigned 32-bit integer. */
  base: number;
  prefix: number;
}

export function parseIpv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parse "a.b.c.d/n". Returns undefined if malformed or if host bits are set. */
export function parseCidr(s: string): Cidr | undefined {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(s);
  if (!m) return undefined;
  const ip = parseIpv4(m[1]!);
  const prefix = Number(m[2]);
  if (ip === undefined || prefix > 32) return undefined;
  if ((ip & ~maskOf(prefix)) >>> 0 !== 0) return undefined;
  return { base: ip, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIpv4(c.base)}/${c.prefix}`;
}

export function cidrContains(c: Cidr, ip: number): boolean {
  return ((ip & maskOf(c.prefix)) >>> 0) === c.base;
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  const p = Math.min(a.prefix, b.prefix);
  const m = maskOf(p);
  return ((a.base & m) >>> 0) === ((b.base & m) >>> 0);
}

export function cidrSize(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

/** The i-th subnet of length `prefix` inside `c` (i from 0). */
export function subnet(c: Cidr, prefix: number, i: number): Cidr {
  if (prefix < c.prefix) throw new RangeError(`cannot carve /${prefix} out of /${c.prefix}`);
  const count = 2 ** (prefix - c.prefix);
  if (i < 0 || i >= count) throw new RangeError(`subnet index ${i} out of range (${count} available)`);
  return { base: (c.base + i * 2 ** (32 - prefix)) >>> 0, prefix };
}

/** The i-th address in the CIDR (0 is the network address). */
export function nthAddress(c: Cidr, i: number): number {
  return (c.base + i) >>> 0;
}
