/* Connection tracking: one LRU table per node shared by every program, so a connection crossing two hooks
 * on the same node is one entry. Its job here is to tell new connections from existing ones, mark replies,
 * and aggregate trace events (report a direction's first packet and each SYN/FIN/RST not yet reported).
 * Entries of policed traffic are created only after an allow verdict (lib/policy.h).
 * Layout mirrored in agent/datapath/constants.ts (CT_*). */
#ifndef CNILAB_CONNTRACK_H
#define CNILAB_CONNTRACK_H
#include "common.h"
#include "ipv4.h"
#include "maps.h"

/* dir is always CT_DIR_ANY today; kept in the key so ingress/egress-scoped entries (policy) need no
 * layout change. */
#define CT_DIR_ANY 0

struct cnilab_ct_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 dir;
	__u16 pad;
};
CNILAB_STATIC_ASSERT(sizeof(struct cnilab_ct_key) == 16, "ct key layout");

/* reported_* hold the SYN/FIN/RST bits already reported in that direction, plus CT_REPORTED_FIRST. */
#define CT_REPORTED_FIRST 0x80
#define CT_F_REPLY_SEEN 0x01
#define CT_F_CLOSING 0x02
/* This node's per-packet LB translated the connection (the entry is keyed by the backend's tuple): its
 * replies need reverse NAT. Replies of other connections skip the reverse-NAT lookup. */
#define CT_F_SVC 0x04

struct cnilab_ct_val {
	__u64 packets_fwd;
	__u64 bytes_fwd;
	__u64 packets_rep;
	__u64 bytes_rep;
	__u64 last_seen;    /* ct_clock_ns() */
	__u64 last_report;  /* ct_clock_ns() of the last trace event for this entry */
	__u8 flags_seen_fwd; /* OR of all TCP flags seen */
	__u8 flags_seen_rep;
	__u8 reported_fwd;
	__u8 reported_rep;
	__u8 flags;          /* CT_F_* */
	__u8 pad[3];
};
CNILAB_STATIC_ASSERT(sizeof(struct cnilab_ct_val) == 56, "ct value layout");

/* An idle entry older than this is a new connection when traffic starts again (TCP: on a bare SYN). */
#define CT_TCP_LIFETIME_NS (60ULL * 1000000000ULL)
#define CT_OTHER_LIFETIME_NS (30ULL * 1000000000ULL)

/* Conntrack's clock: CLOCK_MONOTONIC at tick resolution (a few ms), plenty for lifetimes of 30-60 s. The
 * fine clock (bpf_ktime_get_ns) reads the hardware clock source: ~40 ns on this project's VMs, against
 * ~5 ns for this one, and conntrack reads the time on every packet (bench/datapath-conn-bench.ts --ops).
 * Everything that compares with last_seen must use this clock too. Events keep the fine clock. */
static __always_inline __u64 ct_clock_ns(void)
{
	return bpf_ktime_get_coarse_ns();
}

/* now - then > span, for a `then` of this clock or, in an entry written before an upgrade from the fine
 * clock, up to one tick in the future of the coarse `now` (not over, rather than a wrapped huge age). */
static __always_inline int ct_age_over(__u64 now, __u64 then, __u64 span)
{
	return now > then && now - then > span;
}

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct cnilab_ct_key);
	__type(value, struct cnilab_ct_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cnilab_ct SEC(".maps") CNILAB_MAP;

/* Monitor aggregation, Cilium's bpf.monitorAggregation levels (agent/datapath/constants.ts
 * OBSERVER_AGG), kept in bits 4-6 of CFG_OBSERVER_OFF so that 0 (a datapath nobody configured) is the
 * default:
 *   medium   (0, default) a trace for a direction's first packet and each SYN/FIN/RST it has not yet
 *            reported, at every observation point. Cilium's medium also hides the FROM_* points; cnilab
 *            keeps them (Hubble users read where a packet entered; the suites' flow requirements do).
 *   none     a trace for every packet at every point.
 *   low      a trace for every packet at the TO_* points only (Cilium's low: no traces on receive).
 *   maximum  medium's aggregation with the FROM_* points hidden, as Cilium's medium and maximum do:
 *            the fewest events (half as many for a same-node connection).
 * Drops and policy verdicts are never aggregated. */
#define OBSERVER_AGG_MASK 0x70
#define OBSERVER_AGG_MEDIUM 0x00
#define OBSERVER_AGG_NONE 0x10
#define OBSERVER_AGG_LOW 0x20
#define OBSERVER_AGG_MAXIMUM 0x30

static __always_inline __u32 monitor_aggregation(void)
{
	return config_get(CFG_OBSERVER_OFF) & OBSERVER_AGG_MASK;
}

/* Levels that trace every packet (conntrack does not aggregate). */
static __always_inline int monitor_every_packet(void)
{
	__u32 agg = monitor_aggregation();

	return agg == OBSERVER_AGG_NONE || agg == OBSERVER_AGG_LOW;
}

struct ct_result {
	__u8 is_new;
	__u8 is_reply;
	__u8 report;   /* emit a trace event for this packet */
	__u8 svc;      /* the entry has CT_F_SVC */
};

static __always_inline __u8 ct_interesting(const struct pkt_info *pi)
{
	return pi->proto == IPPROTO_TCP ? (pi->tcp_flags & (TCP_SYN | TCP_FIN | TCP_RST)) : 0;
}

static __always_inline void ct_key_of(const struct pkt_info *pi, struct cnilab_ct_key *key)
{
	__builtin_memset(key, 0, sizeof(*key));
	key->saddr = pi->saddr;
	key->daddr = pi->daddr;
	key->sport = pi->sport;
	key->dport = pi->dport;
	key->proto = pi->proto;
	key->dir = CT_DIR_ANY;
}

/* Finds the packet's connection and accounts the packet to it. A packet that belongs to no connection
 * (or to one that is over: closed, or idle past its lifetime) comes back is_new with NO entry created:
 * the caller creates it with ct_create only once policy has allowed the connection, so a denied flow
 * leaves nothing behind that could let its later packets (or forged "replies") through. */
static __always_inline void ct_lookup(const struct pkt_info *pi, struct ct_result *res)
{
	struct cnilab_ct_key key;
	struct cnilab_ct_val *v;
	__u64 now = ct_clock_ns();
	__u8 want = ct_interesting(pi) | CT_REPORTED_FIRST;
	__u8 *reported;

	ct_key_of(pi, &key);
	res->is_new = 0;
	res->is_reply = 0;
	res->report = 0;
	res->svc = 0;

	v = bpf_map_lookup_elem(&cnilab_ct, &key);
	if (v) {
		int bare_syn = pi->proto == IPPROTO_TCP && (pi->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;
		__u64 life = pi->proto == IPPROTO_TCP ? CT_TCP_LIFETIME_NS : CT_OTHER_LIFETIME_NS;
		int stale = ct_age_over(now, v->last_seen, life);

		/* A reused tuple after close or long idle starts a new connection. */
		if ((pi->proto == IPPROTO_TCP && bare_syn && ((v->flags & CT_F_CLOSING) || stale)) ||
		    (pi->proto != IPPROTO_TCP && stale)) {
			bpf_map_delete_elem(&cnilab_ct, &key);
			v = NULL;
		}
	} else {
		struct cnilab_ct_key rev = {
			.saddr = pi->daddr, .daddr = pi->saddr, .sport = pi->dport, .dport = pi->sport,
			.proto = pi->proto, .dir = CT_DIR_ANY,
		};

		v = bpf_map_lookup_elem(&cnilab_ct, &rev);
#ifdef CNILAB_MUT_CT_NO_REPLY
		/* Mutation (cnilab selftest): replies are never recognised, each starts a "new" connection. */
		v = NULL;
#endif
		if (v)
			res->is_reply = 1;
	}

	if (!v) {
		res->is_new = 1;
		res->report = 1;
		return;
	}
	if (monitor_every_packet())
		res->report = 1;

	if (res->is_reply) {
		__sync_fetch_and_add(&v->packets_rep, 1);
		__sync_fetch_and_add(&v->bytes_rep, pi->len);
		v->flags_seen_rep |= pi->tcp_flags;
		v->flags |= CT_F_REPLY_SEEN;
		reported = &v->reported_rep;
	} else {
		__sync_fetch_and_add(&v->packets_fwd, 1);
		__sync_fetch_and_add(&v->bytes_fwd, pi->len);
		v->flags_seen_fwd |= pi->tcp_flags;
		reported = &v->reported_fwd;
	}
	v->last_seen = now;
	res->svc = !!(v->flags & CT_F_SVC);
	if (want & (TCP_FIN | TCP_RST))
		v->flags |= CT_F_CLOSING;
	if (want & ~*reported) {
		*reported |= want;
		v->last_report = now;
		res->report = 1;
	}
}

/* The entry for a new connection, its first packet accounted (after ct_lookup said is_new). */
static __always_inline void ct_create(const struct pkt_info *pi)
{
	struct cnilab_ct_key key;
	struct cnilab_ct_val init = {};
	__u64 now = ct_clock_ns();
	__u8 want = ct_interesting(pi) | CT_REPORTED_FIRST;

	ct_key_of(pi, &key);
	init.packets_fwd = 1;
	init.bytes_fwd = pi->len;
	init.last_seen = now;
	init.last_report = now;
	init.flags_seen_fwd = pi->tcp_flags;
	init.reported_fwd = want;
	if (want & (TCP_FIN | TCP_RST))
		init.flags |= CT_F_CLOSING;
	bpf_map_update_elem(&cnilab_ct, &key, &init, BPF_ANY);
}

/* Flags the connection of a forward packet as translated by this node's LB (CT_F_SVC), once policy has
 * created its entry: called for the first packet only (later ones see ct_result.svc set). */
static __always_inline void ct_set_svc(const struct pkt_info *pi)
{
	struct cnilab_ct_key key;
	struct cnilab_ct_val *v;

	ct_key_of(pi, &key);
	v = bpf_map_lookup_elem(&cnilab_ct, &key);
	if (v)
		v->flags |= CT_F_SVC;
}

/* Whether the packet's connection (either direction) has an entry; no accounting. */
static __always_inline int ct_exists(const struct pkt_info *pi)
{
	struct cnilab_ct_key key;

	ct_key_of(pi, &key);
	if (bpf_map_lookup_elem(&cnilab_ct, &key))
		return 1;
	key.saddr = pi->daddr;
	key.daddr = pi->saddr;
	key.sport = pi->dport;
	key.dport = pi->sport;
	return bpf_map_lookup_elem(&cnilab_ct, &key) != NULL;
}

/* Paths without policy (the node's own traffic to other nodes, pod traffic to the stack on the receiving
 * node): look up, and create the entry right away for a new connection. */
static __always_inline void ct_lookup_update(const struct pkt_info *pi, struct ct_result *res)
{
	ct_lookup(pi, res);
	if (res->is_new)
		ct_create(pi);
}
#endif
