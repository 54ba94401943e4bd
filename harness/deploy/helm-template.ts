// The part of Helm's template language (Go text/template plus a few Sprig functions) that cnilab's
// chart uses, rendered here because this machine has no helm binary and npm has no maintained Helm
// renderer. Templates written in this subset render the same under `helm template`:
//   {{ .Values.a.b }} {{ .Release.Name }} {{ .Release.Namespace }} {{ .Chart.Name }} {{ .Chart.AppVersion }}
//   "string" and number literals; pipelines `x | f a`; functions quote, toYaml, indent, nindent,
//   default, eq, ne, not, and, or, join, trunc; {{ if }} / {{ else if }} / {{ else }} / {{ end }};
//   trim markers {{- and -}}.
// Anything else is an error naming the template and the action, never a silent empty string.
import { stringify } from 'yaml';

export interface TemplateContext {
  Values: Record<string, unknown>;
  Release: { Name: string; Namespace: string; Service?: string };
  Chart: { Name: string; Version: string; AppVersion?: string };
}

export class TemplateError extends Error {}

type Node = { t: 'text'; s: string } | { t: 'expr'; src: string } | { t: 'if'; branches: Array<{ cond: string | undefined; body: Node[] }> };

/** Split a template into text and actions, applying the trim markers. */
function lex(src: string, name: string): Array<{ text: string } | { action: string }> {
  const out: Array<{ text: string } | { action: string }> = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    if (open < 0) {
      out.push({ text: src.slice(i) });
      break;
    }
    out.push({ text: src.slice(i, open) });
    const close = src.indexOf('}}', open);
    if (close < 0) throw new TemplateError(`${name}: unclosed action at offset ${open}`);
    let inner = src.slice(open + 2, close);
    if (inner.startsWith('-') && /^-\s/.test(inner)) {
      inner = inner.slice(1);
      const last = out[out.length - 1] as { text: string };
      last.text = last.text.replace(/\s+$/, '');
    }
    let next = close + 2;
    if (/\s-$/.test(inner)) {
      inner = inner.slice(0, -1);
      while (next < src.length && /\s/.test(src[next]!)) next++;
    }
    const action = inner.trim();
    if (action.startsWith('/*')) {
      i = next;
      continue; // a comment
    }
    out.push({ action });
    i = next;
  }
  return out;
}

function parse(tokens: Array<{ text: string } | { action: string }>, name: string): Node[] {
  let pos = 0;
  const block = (stopAt: string[]): { nodes: Node[]; stop?: string } => {
    const nodes: Node[] = [];
    while (pos < tokens.length) {
      const tok = tokens[pos++]!;
      if ('text' in tok) {
        if (tok.text) nodes.push({ t: 'text', s: tok.text });
        continue;
      }
      const a = tok.action;
      const word = a.split(/\s+/)[0]!;
      if (stopAt.includes(word)) return { nodes, stop: a };
      if (word === 'if') {
        const branches: Array<{ cond: string | undefined; body: Node[] }> = [];
        let cond: string | undefined = a.slice(2).trim();
        for (;;) {
          const { nodes: body, stop } = block(['else', 'end']);
          branches.push({ cond, body });
          if (!stop) throw new TemplateError(`${name}: {{ if ${branches[0]!.cond} }} has no {{ end }}`);
          if (stop === 'end') break;
          const rest = stop.slice(4).trim();
          cond = rest.startsWith('if ') ? rest.slice(3).trim() : undefined;
          if (rest && !rest.startsWith('if ')) throw new TemplateError(`${name}: unsupported {{ ${stop} }}`);
        }
        nodes.push({ t: 'if', branches });
        continue;
      }
      if (['range', 'with', 'define', 'template', 'include', 'block', 'end', 'else'].includes(word)) {
        throw new TemplateError(`${name}: {{ ${a} }} is outside the template subset cnilab renders (see helm-template.ts)`);
      }
      nodes.push({ t: 'expr', src: a });
    }
    return { nodes };
  };
  const { nodes, stop } = block([]);
  if (stop) throw new TemplateError(`${name}: unexpected {{ ${stop} }}`);
  return nodes;
}

/** Words of an expression, keeping "quoted strings" and (parenthesised groups) whole. */
function words(s: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < s.length) {
    if (/\s/.test(s[i]!)) {
      i++;
      continue;
    }
    if (s[i] === '"') {
      let j = i + 1;
      while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
      out.push(s.slice(i, j + 1));
      i = j + 1;
    } else if (s[i] === '(') {
      let depth = 0;
      let j = i;
      for (; j < s.length; j++) {
        if (s[j] === '(') depth++;
        if (s[j] === ')' && --depth === 0) break;
      }
      out.push(s.slice(i, j + 1));
      i = j + 1;
    } else {
      let j = i;
      while (j < s.length && !/\s/.test(s[j]!)) j++;
      out.push(s.slice(i, j));
      i = j;
    }
  }
  return out;
}

const truthy = (v: unknown) => !(v === undefined || v === null || v === false || v === 0 || v === '' || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && v !== null && Object.keys(v).length === 0));

const toYaml = (v: unknown) => (v === undefined || v === null ? 'null' : stringify(v, { lineWidth: 0 }).replace(/\n$/, ''));
const indent = (n: number, s: string) => s.split('\n').map((l) => ' '.repeat(n) + l).join('\n');

const FUNCS: Record<string, (...args: unknown[]) => unknown> = {
  quote: (v) => JSON.stringify(v === undefined || v === null ? '' : String(v)),
  toYaml: (v) => toYaml(v),
  indent: (n, s) => indent(Number(n), String(s)),
  nindent: (n, s) => `\n${indent(Number(n), String(s))}`,
  default: (d, v) => (truthy(v) ? v : d),
  eq: (a, b) => a === b,
  ne: (a, b) => a !== b,
  not: (a) => !truthy(a),
  and: (...xs) => xs.every(truthy),
  or: (...xs) => xs.some(truthy),
  join: (sep, xs) => (Array.isArray(xs) ? xs.map(String).join(String(sep)) : String(xs ?? '')),
  trunc: (n, s) => String(s).slice(0, Number(n)),
};

function evalTerm(term: string, ctx: TemplateContext, name: string): unknown {
  if (term.startsWith('"')) return JSON.parse(term) as string;
  if (/^-?\d+$/.test(term)) return Number(term);
  if (term === 'true' || term === 'false') return term === 'true';
  if (term.startsWith('(')) return evalPipeline(term.slice(1, -1), ctx, name);
  if (term.startsWith('.')) {
    let v: unknown = ctx;
    for (const k of term.slice(1).split('.').filter(Boolean)) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
    return v;
  }
  throw new TemplateError(`${name}: cannot evaluate "${term}"`);
}

function evalCommand(cmd: string, ctx: TemplateContext, name: string, piped: unknown[] = []): unknown {
  const w = words(cmd.trim());
  if (!w.length) throw new TemplateError(`${name}: empty command`);
  const fn = FUNCS[w[0]!];
  if (fn) return fn(...w.slice(1).map((t) => evalTerm(t, ctx, name)), ...piped);
  if (w.length > 1 || piped.length) throw new TemplateError(`${name}: "${w[0]}" is not a function cnilab's renderer knows`);
  return evalTerm(w[0]!, ctx, name);
}

function evalPipeline(src: string, ctx: TemplateContext, name: string): unknown {
  // Split on | outside quotes and parentheses.
  const parts: string[] = [];
  let depth = 0;
  let q = false;
  let cur = '';
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === '"' && src[i - 1] !== '\\') q = !q;
    if (!q && c === '(') depth++;
    if (!q && c === ')') depth--;
    if (!q && depth === 0 && c === '|') {
      parts.push(cur);
      cur = '';
    } else cur += c;
  }
  parts.push(cur);
  let v = evalCommand(parts[0]!, ctx, name);
  for (const p of parts.slice(1)) v = evalCommand(p, ctx, name, [v]);
  return v;
}

function renderNodes(nodes: Node[], ctx: TemplateContext, name: string): string {
  let out = '';
  for (const n of nodes) {
    if (n.t === 'text') out += n.s;
    else if (n.t === 'expr') {
      const v = evalPipeline(n.src, ctx, name);
      out += v === undefined || v === null ? '' : typeof v === 'object' ? toYaml(v) : String(v);
    } else {
      const branch = n.branches.find((b) => b.cond === undefined || truthy(evalPipeline(b.cond, ctx, name)));
      if (branch) out += renderNodes(branch.body, ctx, name);
    }
  }
  return out;
}

export function renderTemplate(src: string, ctx: TemplateContext, name = 'template'): string {
  return renderNodes(parse(lex(src, name), name), ctx, name);
}
