/* Network policy on security identities, enforced where Cilium enforces it: egress at the source
 * (from_container), ingress on the destination's node before local delivery (from_container for
 * same-node traffic, from_overlay, from_netdev, to_container for what the node's stack delivers).
 *
 * One global LPM trie, cnilab_policy, holds every local endpoint's entries (writer: the agent,
 * agent/datapath/policy-map.ts; reader: policy_verdict below). Its key is
 *     identity (32) | endpoint id (16) | direction + generation (8) | protocol (8) | port (16)
 * and an entry's prefix length always covers the first 56 bits (exact identity, endpoint, direction,
 * generation); protocol and port may be cut short: prefix 56 = any protocol, 64 = any port of that
 * protocol, 65..80 = a block of ports (port ranges are split into such blocks, as Cilium >= 1.15 does).
 * A packet costs at most two lookups whatever the number of rules: the remote identity, then identity 0
 * (the "any peer" wildcard). The agent resolves deny precedence when it writes the map (an entry nested in a
 * deny entry is itself written as a deny), so each lookup's longest match is the right answer for that
 * identity; across the two lookups a deny wins, else any allow.
 *
 * cnilab_pol_ep (hash, endpoint id -> flags; writer: the agent, reader: policy_verdict) says per
 * direction whether the endpoint is enforced (selected by some policy: only allowed traffic passes) and
 * whether it has deny entries, identity-specific entries and any-identity entries. A direction neither
 * enforced nor denying anything costs no lookup and is allowed, as is an endpoint without an entry here;
 * a lookup that cannot match (no entry of its kind) is skipped. It also names the live generation: the agent writes a
 * new policy under the other generation and then flips this one value, so a packet sees the old policy
 * or the new one, never half of each (see policy-map.ts).
 *
 * Deliberately broken variants (bpf/Makefile), for the policy suite's mutation tests:
 *   CNILAB_FAULT_POLICY_IGNORE_PORT   the lookup is made with port 0 instead of the destination port
 *   CNILAB_FAULT_POLICY_IGNORE_PROTO  an entry's protocol is not respected: a miss is retried as TCP, UDP
 *                                     and SCTP, so a UDP rule opens the same TCP port
 *   CNILAB_FAULT_POLICY_CT_LEAK       conntrack is created before the verdict: the ingress check re-reads
 *                                     conntrack, finds that entry and lets the first packet through;
 *                                     established connections are never re-checked, so a flow whose
 *                                     first packet egress policy dropped passes on its retransmission */
#ifndef CNILAB_POLICY_H
#define CNILAB_POLICY_H
#include "common.h"
#include "maps.h"
#include "ipv4.h"
#include "events.h"
#include "conntrack.h"

/* Prefix lengths over the key's data (bits after prefixlen). */
#define POLICY_STATIC_PREFIX 56 /* identity, endpoint, direction + generation */
#define POLICY_PROTO_PREFIX 64
#define POLICY_FULL_PREFIX 80

#define POLICY_DIR_MASK 0x03  /* DIR_INGRESS / DIR_EGRESS */
#define POLICY_GEN_BIT 0x80

#define POLICY_IDENTITY_ANY 0

struct cnilab_policy_key {
	__u32 prefixlen;
	__u32 identity;  /* remote peer; 0 = any (host byte order: always matched whole) */
	__u16 ep_id;     /* local endpoint (host byte order: always matched whole) */
	__u8 dir_gen;    /* DIR_* | POLICY_GEN_BIT for generation 1 */
	__u8 proto;      /* IP protocol; matched only when prefixlen > 56 */
	__be16 dport;    /* network order, so that a prefix of it is a block of ports */
	__u16 pad;
};
CNILAB_STATIC_ASSERT(sizeof(struct cnilab_policy_key) == 16, "policy key layout");

#define POLICY_F_DENY 0x01

struct cnilab_policy_val {
	__u8 flags;      /* POLICY_F_* */
	__u8 l4_prefix;  /* prefixlen - 56: bits of protocol + port the entry matches (0, 8, 9..24) */
	__u16 pad;
};
CNILAB_STATIC_ASSERT(sizeof(struct cnilab_policy_val) == 4, "policy value layout");

/* cnilab_pol_ep value: per direction POLICY_EP_* flags, and the live generation. */
#define POLICY_EP_ENFORCED 0x01
#define POLICY_EP_HAS_DENY 0x02
#define POLICY_EP_HAS_ID 0x04  /* has entries for specific remote identities: the first lookup can match */
#define POLICY_EP_HAS_ANY 0x08 /* has entries for any identity (0): the second lookup can match */

struct cnilab_policy_ep {
	__u8 ingress;
	__u8 egress;
	__u8 gen;        /* 0 or 1: the generation policy_verdict looks up */
	__u8 pad;
};
CNILAB_STATIC_ASSERT(sizeof(struct cnilab_policy_ep) == 4, "policy endpoint layout");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1 << 20);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct cnilab_policy_key);
	__type(value, struct cnilab_policy_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cnilab_policy SEC(".maps") CNILAB_MAP;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32); /* endpoint id */
	__type(value, struct cnilab_policy_ep);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cnilab_pol_ep SEC(".maps") CNILAB_MAP;

struct policy_verdict {
	__u8 reason;   /* 0 allowed, DROP_POLICY_DENIED or DROP_POLICY_DENY */
	__u8 match;    /* POLICY_MATCH_* */
	__u8 report;   /* the endpoint has policy in this direction: a new connection gets a verdict event */
};

/* The destination port as policy sees it: only TCP, UDP and SCTP have one (pi's ports hold the echo id
 * for ICMP). */
static __always_inline __be16 policy_port(const struct pkt_info *pi)
{
	if (pi->proto == IPPROTO_TCP || pi->proto == IPPROTO_UDP || pi->proto == IPPROTO_SCTP)
		return pi->dport;
	return 0;
}

static __always_inline __u8 policy_match_kind(int l3, const struct cnilab_policy_val *e)
{
	if (e->l4_prefix > POLICY_PROTO_PREFIX - POLICY_STATIC_PREFIX)
		return l3 ? POLICY_MATCH_L3_L4 : POLICY_MATCH_L4_ONLY;
	if (e->l4_prefix > 0)
		return l3 ? POLICY_MATCH_L3_PROTO : POLICY_MATCH_PROTO_ONLY;
	return l3 ? POLICY_MATCH_L3_ONLY : POLICY_MATCH_ALL;
}

/* The two lookups for one protocol (each skipped when the endpoint has no entry it could find); out: the
 * deciding entry and whether it is the identity-specific one. */
static __always_inline const struct cnilab_policy_val *policy_lookup(struct cnilab_policy_key *key, __u32 remote,
								     __u8 proto, __u8 state, int *l3)
{
	const struct cnilab_policy_val *by_id = NULL, *any = NULL;

	key->proto = proto;
	if (state & POLICY_EP_HAS_ID) {
		key->identity = remote;
		by_id = bpf_map_lookup_elem(&cnilab_policy, key);
	}
	if (state & POLICY_EP_HAS_ANY) {
		key->identity = POLICY_IDENTITY_ANY;
		any = bpf_map_lookup_elem(&cnilab_policy, key);
	}

	/* Deny first (identity-specific before any), then the allow with the more specific L4 match, the
	 * identity-specific one on a tie: Cilium's precedence. */
	*l3 = 1;
	if (by_id && (by_id->flags & POLICY_F_DENY))
		return by_id;
	if (any && (any->flags & POLICY_F_DENY)) {
		*l3 = 0;
		return any;
	}
	if (any && (!by_id || any->l4_prefix > by_id->l4_prefix)) {
		*l3 = 0;
		return any;
	}
	return by_id;
}

/* Verdict of endpoint ep_id's policy in direction dir for a packet exchanged with identity remote. */
static __always_inline void policy_verdict(__u16 ep_id, __u8 dir, __u32 remote, const struct pkt_info *pi,
					   struct policy_verdict *v)
{
	struct cnilab_policy_key key = {};
	const struct cnilab_policy_val *e;
	struct cnilab_policy_ep *pe;
	__u32 epk = ep_id;
	__u8 state;
	int l3 = 0;

	v->reason = 0;
	v->match = POLICY_MATCH_NONE;
	v->report = 0;
	pe = bpf_map_lookup_elem(&cnilab_pol_ep, &epk);
	if (!pe)
		return;
	state = dir == DIR_INGRESS ? pe->ingress : pe->egress;
	if (!(state & (POLICY_EP_ENFORCED | POLICY_EP_HAS_DENY)))
		return;
	v->report = 1;

	key.prefixlen = POLICY_FULL_PREFIX;
	key.ep_id = ep_id;
	key.dir_gen = (dir & POLICY_DIR_MASK) | (pe->gen ? POLICY_GEN_BIT : 0);
#ifdef CNILAB_FAULT_POLICY_IGNORE_PORT
	key.dport = 0;
#else
	key.dport = policy_port(pi);
#endif
	e = policy_lookup(&key, remote, pi->proto, state, &l3);
#ifdef CNILAB_FAULT_POLICY_IGNORE_PROTO
	if (!e && key.dport) {
		e = policy_lookup(&key, remote, IPPROTO_TCP, state, &l3);
		if (!e)
			e = policy_lookup(&key, remote, IPPROTO_UDP, state, &l3);
		if (!e)
			e = policy_lookup(&key, remote, IPPROTO_SCTP, state, &l3);
	}
#endif
	if (e) {
		v->match = policy_match_kind(l3, e);
		if (e->flags & POLICY_F_DENY)
			v->reason = DROP_POLICY_DENY;
		return;
	}
	if (state & POLICY_EP_ENFORCED)
		v->reason = DROP_POLICY_DENIED;
}

/* One direction's check at a decision point: the verdict event for a new connection, the drop if denied.
 * Returns 0 (allowed) or TC_ACT_SHOT (dropped and reported). */
static __always_inline int policy_check_dir(struct __sk_buff *skb, const struct pkt_info *pi, __u8 is_new,
					    __u16 ep_id, __u8 dir, __u32 src_identity, __u32 dst_identity)
{
	struct policy_verdict v;

	policy_verdict(ep_id, dir, dir == DIR_INGRESS ? src_identity : dst_identity, pi, &v);
	if (is_new && v.report)
		send_policy_verdict(skb, v.reason, dir, src_identity, dst_identity, pi, v.match);
	if (v.reason)
		return send_policy_drop(skb, v.reason, dir, src_identity, dst_identity, pi, v.match);
	return 0;
}

/* Every policy decision of one packet at one hook: egress of src_ep (the local sender, or NULL) and
 * ingress of dst_ep (the local receiver, or NULL), after ct_lookup. Replies of allowed connections pass
 * without a lookup; other packets of established connections are checked again, so that a policy change
 * cuts what it no longer allows and keeps what it still allows (as Cilium does); a new connection gets
 * its conntrack entry only once every check has allowed it. Returns 0 to forward, or TC_ACT_SHOT. */
static __always_inline int policy_enforce(struct __sk_buff *skb, const struct pkt_info *pi, const struct ct_result *ct,
					  const struct cnilab_endpoint *src_ep, const struct cnilab_endpoint *dst_ep,
					  __u32 src_identity, __u32 dst_identity)
{
	int ret;

	if (ct->is_reply)
		return 0;
#ifdef CNILAB_FAULT_POLICY_CT_LEAK
	if (!ct->is_new)
		return 0;
	ct_create(pi);
#endif
	if (src_ep) {
		ret = policy_check_dir(skb, pi, ct->is_new, src_ep->ep_id, DIR_EGRESS, src_identity, dst_identity);
		if (ret)
			return ret;
	}
	if (dst_ep) {
#ifdef CNILAB_FAULT_POLICY_CT_LEAK
		if (ct_exists(pi))
			return 0;
#endif
		ret = policy_check_dir(skb, pi, ct->is_new, dst_ep->ep_id, DIR_INGRESS, src_identity, dst_identity);
		if (ret)
			return ret;
	}
#ifndef CNILAB_FAULT_POLICY_CT_LEAK
	if (ct->is_new)
		ct_create(pi);
#endif
	return 0;
}
#endif
