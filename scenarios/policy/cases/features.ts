// The features a case exercises, read from its policies and actions the way Cyclonus tags its
// generated cases (target, peers, ports, protocols, named ports, endPort, ipBlock, actions), so every
// case — built in or written by a user — lands in the same pass-rate-per-tag table.
import type { CaseAction, PolicyCase } from './types.js';

type Obj = Record<string, any>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const empty = (v: unknown) => isObj(v) && Object.keys(v).length === 0;

function netpolTags(p: Obj, tags: Set<string>): void {
  const spec: Obj = p.spec ?? {};
  tags.add('networkpolicy');
  const types: string[] = spec.policyTypes ?? (spec.egress ? ['Ingress', 'Egress'] : ['Ingress']);
  const sel: Obj = spec.podSelector ?? {};
  tags.add(empty(sel) ? 'target-all-pods' : sel.matchExpressions?.length ? 'target-match-expressions' : 'target-pod-selector');
  for (const [type, key, peersKey] of [['Ingress', 'ingress', 'from'], ['Egress', 'egress', 'to']] as const) {
    if (!types.includes(type)) continue;
    tags.add(key);
    const rules: Obj[] = spec[key] ?? [];
    if (rules.length === 0) tags.add('deny-all');
    for (const r of rules) {
      const peers: Obj[] = r[peersKey] ?? [];
      const ports: Obj[] = r.ports ?? [];
      if (!peers.length && !ports.length) tags.add('allow-all');
      if (!peers.length) tags.add('peer-any');
      for (const peer of peers) {
        if (peer.ipBlock) tags.add(peer.ipBlock.except?.length ? 'ip-block-except' : 'ip-block');
        else if (peer.podSelector && peer.namespaceSelector) tags.add('peer-pods-and-namespaces');
        else if (peer.namespaceSelector) tags.add(empty(peer.namespaceSelector) ? 'peer-all-namespaces' : 'peer-namespaces');
        else if (peer.podSelector) tags.add('peer-pods');
        if (peer.podSelector?.matchExpressions?.length || peer.namespaceSelector?.matchExpressions?.length) tags.add('peer-match-expressions');
      }
      if (!ports.length) tags.add('port-all');
      for (const port of ports) portTags(port, tags, 'TCP');
    }
  }
}

function portTags(port: Obj, tags: Set<string>, defaultProtocol: string): void {
  const protocol = port.protocol ?? defaultProtocol;
  if (port.protocol === undefined) tags.add('port-no-protocol');
  tags.add(`protocol-${String(protocol).toLowerCase()}`);
  if (port.port === undefined || empty(port)) tags.add('port-all');
  else if (typeof port.port === 'string' && !/^\d+$/.test(port.port)) tags.add('port-named');
  else tags.add('port-numbered');
  if (port.endPort !== undefined) tags.add('port-range');
}

function ciliumTags(p: Obj, tags: Set<string>): void {
  tags.add('ciliumnetworkpolicy');
  const rules: Obj[] = [...(p.spec ? [p.spec] : []), ...(p.specs ?? [])];
  for (const rule of rules) {
    for (const [key, dir] of [['ingress', 'ingress'], ['ingressDeny', 'ingress'], ['egress', 'egress'], ['egressDeny', 'egress']] as const) {
      const list: Obj[] = rule[key] ?? [];
      if (!list.length) continue;
      tags.add(dir);
      if (key.endsWith('Deny')) tags.add('deny-rule');
      for (const r of list) {
        if (empty(r)) tags.add('deny-all');
        if (r.fromEndpoints || r.toEndpoints) tags.add('peer-endpoints');
        for (const e of [...(r.fromEntities ?? []), ...(r.toEntities ?? [])]) tags.add(`entity-${e}`);
        if (r.fromCIDR || r.toCIDR) tags.add('cidr');
        if ([...(r.fromCIDRSet ?? []), ...(r.toCIDRSet ?? [])].length) tags.add([...(r.fromCIDRSet ?? []), ...(r.toCIDRSet ?? [])].some((c: Obj) => c.except?.length) ? 'cidr-except' : 'cidr');
        for (const pr of r.toPorts ?? []) for (const port of pr.ports ?? []) portTags(port, tags, 'ANY');
      }
    }
  }
}

/** Features of a case, sorted; the case's own tags are kept. */
export function caseFeatures(c: PolicyCase): string[] {
  const tags = new Set(c.tags);
  const applied = new Set<string>();
  c.steps.forEach((step, i) => {
    let policiesInStep = 0;
    for (const a of step.actions as CaseAction[]) {
      if ('apply' in a) {
        for (const o of a.apply as Obj[]) {
          if (!isObj(o)) continue;
          const id = `${o.kind}/${o.metadata?.namespace}/${o.metadata?.name}`;
          if (o.kind === 'NetworkPolicy') netpolTags(o, tags);
          else if (o.kind === 'CiliumNetworkPolicy') ciliumTags(o, tags);
          else continue;
          policiesInStep++;
          if (i > 0 && applied.has(id)) tags.add('policy-update');
          else if (i > 0) tags.add('policy-create-later');
          applied.add(id);
        }
      } else if ('delete' in a) tags.add('policy-delete');
      else if ('setPodLabels' in a) tags.add('pod-labels');
      else if ('setNamespaceLabels' in a) tags.add('namespace-labels');
    }
    if (policiesInStep > 1 || (i > 0 && policiesInStep > 0 && applied.size > 1)) tags.add('multiple-policies');
  });
  if (c.steps.length > 1) tags.add('multi-step');
  return [...tags].sort();
}

/** What of the case cannot be probed here: SCTP rules are enforced but cannot be exercised (no SCTP sockets in Node.js). */
export function unsupportedParts(c: PolicyCase): string[] {
  const text = JSON.stringify(c.steps);
  return /"protocol":"SCTP"/.test(text) ? ['SCTP probes (the workload cannot serve SCTP: Node.js has no SCTP sockets); TCP and UDP were probed'] : [];
}
