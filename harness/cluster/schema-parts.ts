// Building blocks of the manifest schemas (objects.ts for the Kubernetes kinds, cilium-policy.ts for
// CiliumNetworkPolicy): leaf checks that return a problem in words, zod wrappers that turn them into
// issues at the right field path, label selectors, and CIDRs. Kept apart so both schema modules share
// one definition of "a valid label key" or "a CIDR".
import { isIPv6 } from 'node:net';
import { z } from 'zod';
import { InvalidInputError } from '../errors.js';
import { parseIpv4 } from './cidr.js';
import { validateLabel } from './names.js';

import type { SelectorOperator } from '../../lib/k8s/selectors.js';

// ---- Leaf checks: each returns a problem or undefined --------------------------------------------

export type Check = (v: unknown) => string | undefined;
export const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (isMap(v)) return 'a mapping';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 70 ? `${s.slice(0, 66)}..."` : s;
}

export const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
export const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const IANA_SVC_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

export const str: Check = (v) => (typeof v === 'string' ? undefined : `expected a string, got ${show(v)}`);
export const nonEmpty: Check = (v) => (typeof v === 'string' && v !== '' ? undefined : `expected a non-empty string, got ${show(v)}`);
export const bool: Check = (v) => (typeof v === 'boolean' ? undefined : `expected true or false, got ${show(v)}`);
export const intIn = (lo: number, hi: number): Check => (v) =>
  Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi ? undefined : `expected an integer ${lo}..${hi}, got ${show(v)}`;
export const oneOf = (vals: readonly string[]): Check => (v) =>
  vals.includes(v as string) ? undefined : `expected one of ${vals.join(', ')}, got ${show(v)}`;

/** DNS-1123 label via names.ts, the one check that also keeps "../x" out of paths and netns names. */
export const dnsLabel: Check = (v) => {
  try {
    validateLabel('', v);
    return undefined;
  } catch (e) {
    if (e instanceof InvalidInputError) return e.message.slice(e.field.length + 2);
    throw e;
  }
};

/** An IANA service name, as Kubernetes requires of named ports: 1..15, [a-z0-9-], a letter, no "--". */
export const portName: Check = (v) =>
  typeof v === 'string' && v.length <= 15 && IANA_SVC_NAME.test(v) && /[a-z]/.test(v) && !v.includes('--')
    ? undefined
    : `expected a port name (at most 15 lower-case letters, digits and '-', with at least one letter), got ${show(v)}`;

export const portOrName: Check = (v) =>
  typeof v === 'number' ? intIn(1, 65535)(v) : typeof v === 'string' ? portName(v) : `expected a port number 1..65535 or a port name, got ${show(v)}`;

/** A label key: optional DNS-subdomain prefix and '/', then a name of at most 63 characters. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix))) {
    return `invalid label key ${show(key)}: the prefix must be a lower-case DNS subdomain`;
  }
  if (name.length === 0 || name.length > 63 || !LABEL_NAME.test(name)) {
    return `invalid label key ${show(key)}: the name must be 1..63 letters, digits, '-', '_' or '.', starting and ending alphanumeric`;
  }
  return undefined;
}
export const labelValueProblem: Check = (v) => {
  if (typeof v !== 'string') return `expected a string label value, got ${show(v)} (quote it in YAML)`;
  if (v.length > 63 || (v !== '' && !LABEL_NAME.test(v))) {
    return `invalid label value ${show(v)}: at most 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric`;
  }
  return undefined;
};
// Cilium selectors may name a label source ("k8s:app", "any:app", "reserved:host").
export const ciliumKeyProblem = (k: string) => labelKeyProblem(k.replace(/^[A-Za-z0-9_-]+:/, ''));

// ---- Schemas -----------------------------------------------------------------------------------

export const rule = (check: Check) =>
  z.any().superRefine((v, ctx) => {
    const problem = v === undefined ? 'required' : check(v);
    if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
  });
export const opt = (check: Check) => rule(check).optional();

export const labelMap = (cilium = false) =>
  z
    .any()
    .superRefine((v, ctx) => {
      if (!isMap(v)) return void ctx.addIssue({ code: 'custom', message: `expected a mapping of label keys to values, got ${show(v)}` });
      for (const [k, val] of Object.entries(v)) {
        const problem = (cilium ? ciliumKeyProblem(k) : labelKeyProblem(k)) ?? labelValueProblem(val);
        if (problem) ctx.addIssue({ code: 'custom', path: [k], message: problem });
      }
    })
    .optional();

export const OPERATORS: readonly SelectorOperator[] = ['In', 'NotIn', 'Exists', 'DoesNotExist'];
// Selectors, peers, ports and rules of a NetworkPolicy are strict: their Kubernetes field sets are
// small and fully known, and a misspelled key (matchLabel) would silently select everything.
export const selector = (cilium = false) =>
  z
    .object({
      matchLabels: labelMap(cilium),
      matchExpressions: z
        .array(
          z
            .object({ key: rule((k) => str(k) ?? (cilium ? ciliumKeyProblem : labelKeyProblem)(k as string)), operator: rule(oneOf(OPERATORS)), values: z.array(rule(labelValueProblem)).optional() })
            .strict()
            .superRefine((r, ctx) => {
              const n = Array.isArray(r.values) ? r.values.length : 0;
              if ((r.operator === 'In' || r.operator === 'NotIn') && n === 0) {
                ctx.addIssue({ code: 'custom', path: ['values'], message: `at least one value is required with operator ${r.operator}` });
              } else if ((r.operator === 'Exists' || r.operator === 'DoesNotExist') && n > 0) {
                ctx.addIssue({ code: 'custom', path: ['values'], message: `must be empty with operator ${r.operator}` });
              }
            }),
        )
        .optional(),
    })
    .strict();

export interface ParsedCidr { v4: boolean; base: number; prefix: number }
/** IPv4 CIDR (host bits allowed and masked, as Kubernetes accepts them), or an IPv6 one kept opaque. */
export function parseAnyCidr(s: string): ParsedCidr | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const prefix = Number(m[2]);
  if (isIPv6(m[1]!)) return prefix <= 128 ? { v4: false, base: 0, prefix } : undefined;
  const ip = parseIpv4(m[1]!);
  if (ip === undefined || prefix > 32) return undefined;
  return { v4: true, base: prefix === 0 ? 0 : (ip & (0xffffffff << (32 - prefix))) >>> 0, prefix };
}
export const within = (outer: ParsedCidr, inner: ParsedCidr) =>
  inner.prefix > outer.prefix && (!outer.v4 || (outer.prefix === 0 ? true : ((inner.base ^ outer.base) >>> (32 - outer.prefix)) === 0));

export const ipBlock = z
  .object({ cidr: rule(str), except: z.array(rule(str)).optional() })
  .strict()
  .superRefine((b, ctx) => {
    if (typeof b.cidr !== 'string') return;
    const outer = parseAnyCidr(b.cidr);
    if (!outer) return void ctx.addIssue({ code: 'custom', path: ['cidr'], message: `expected a CIDR like 10.0.0.0/16, got ${show(b.cidr)}` });
    (Array.isArray(b.except) ? b.except : []).forEach((e: unknown, i: number) => {
      if (typeof e !== 'string') return;
      const inner = parseAnyCidr(e);
      if (!inner) ctx.addIssue({ code: 'custom', path: ['except', i], message: `expected a CIDR, got ${show(e)}` });
      else if (inner.v4 !== outer.v4 || !within(outer, inner)) {
        ctx.addIssue({ code: 'custom', path: ['except', i], message: `${e} is not inside cidr ${b.cidr} (except must carve a strict subset out of it)` });
      }
    });
  });

