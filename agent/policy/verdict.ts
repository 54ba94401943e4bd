// The lookup the datapath performs on an EndpointPolicy (the contract of agent/policy/types.ts), in
// TypeScript: for the agent's debug API ("would this pass?"), for the fake datapath, and for tests
// that state expectations as verdicts instead of entry lists. Deny entries win over allow entries;
// a direction that is not enforced allows whatever no deny entry matches.
import type { EndpointPolicy, PolicyDirection, PolicyEntry } from './types.js';

export type Verdict = 'allowed' | 'denied' | 'default-deny';

function matches(e: PolicyEntry, direction: PolicyDirection, identity: number, protocol: number, port: number): boolean {
  if (e.direction !== direction) return false;
  if (e.identity !== 0 && e.identity !== identity) return false;
  if (e.protocol !== 0 && e.protocol !== protocol) return false;
  if (e.port !== 0 && (port < e.port || port > e.endPort)) return false;
  return true;
}

/** The verdict for one side: `identity` is the remote peer, `port` the destination port. */
export function endpointVerdict(policy: EndpointPolicy | undefined, direction: PolicyDirection, identity: number, protocol: number, port: number): Verdict {
  if (!policy) return 'allowed';
  const hits = policy.entries.filter((e) => matches(e, direction, identity, protocol, port));
  if (hits.some((e) => e.deny)) return 'denied';
  const enforced = direction === 'ingress' ? policy.ingressEnforced : policy.egressEnforced;
  if (!enforced) return 'allowed';
  return hits.length > 0 ? 'allowed' : 'default-deny';
}

/** A connection passes when the source's egress and the destination's ingress both allow it. */
export function connectionVerdict(
  src: { policy?: EndpointPolicy; identity: number },
  dst: { policy?: EndpointPolicy; identity: number },
  protocol: number,
  port: number,
): { verdict: Verdict; direction?: PolicyDirection } {
  const egress = endpointVerdict(src.policy, 'egress', dst.identity, protocol, port);
  if (egress !== 'allowed') return { verdict: egress, direction: 'egress' };
  const ingress = endpointVerdict(dst.policy, 'ingress', src.identity, protocol, port);
  if (ingress !== 'allowed') return { verdict: ingress, direction: 'ingress' };
  return { verdict: 'allowed' };
}
