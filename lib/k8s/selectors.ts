// Kubernetes label-selector and named-port semantics, shared by the control plane (scheduler, object
// model), the policy reference model and the node agent's policy engine. Pure: no I/O, no imports
// from harness/ or agent/, so the agent can use it on a real node.

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export type SelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
export interface LabelSelectorRequirement {
  key: string;
  operator: SelectorOperator;
  values?: string[];
}
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

/**
 * Kubernetes LabelSelector semantics: matchLabels and matchExpressions all must hold; `{}` matches
 * everything; NotIn and DoesNotExist match objects without the key. (A missing selector means
 * different things in different places, so callers decide that before calling.) An unknown operator
 * matches nothing: a selector that cannot be understood must not widen a policy.
 */
export function matchLabelSelector(selector: LabelSelector, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  const has = (k: string) => Object.hasOwn(l, k);
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (!has(k) || l[k] !== v) return false;
  for (const r of selector.matchExpressions ?? []) {
    const values = r.values ?? [];
    const ok =
      r.operator === 'In' ? has(r.key) && values.includes(l[r.key]!)
      : r.operator === 'NotIn' ? !has(r.key) || !values.includes(l[r.key]!)
      : r.operator === 'Exists' ? has(r.key)
      : r.operator === 'DoesNotExist' ? !has(r.key)
      : false;
    if (!ok) return false;
  }
  return true;
}

/** The part of a Pod that named ports resolve on (a structural type: any Pod object fits). */
export interface PodWithPorts {
  spec: { containers?: Array<{ ports?: Array<{ name?: string; containerPort: number; protocol?: string }> }> };
}

/** The port number a named port resolves to on this pod (name and protocol must both match). */
export function resolveNamedPort(pod: PodWithPorts, name: string, protocol: Protocol = 'TCP'): number | undefined {
  for (const c of pod.spec.containers ?? []) {
    for (const p of c.ports ?? []) if (p.name === name && (p.protocol ?? 'TCP') === protocol) return p.containerPort;
  }
  return undefined;
}

/** Every (protocol, port) a pod declares under `name` (one per protocol at most, in practice). */
export function namedPortsOf(pod: PodWithPorts, name: string): Array<{ protocol: Protocol; port: number }> {
  const out: Array<{ protocol: Protocol; port: number }> = [];
  for (const c of pod.spec.containers ?? []) {
    for (const p of c.ports ?? []) if (p.name === name) out.push({ protocol: (p.protocol ?? 'TCP') as Protocol, port: p.containerPort });
  }
  return out;
}

/** Splits selector text on the commas that are not inside parentheses ("a in (x,y),b" → 2 terms). */
export function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((x) => x.trim()).filter((x) => x !== '');
}
