/* The one ring buffer, the event record, and the one drop path. Layout mirrored in
 * agent/datapath/constants.ts (EVENT). Lost records are counted per CPU, never silently dropped.
 * Traces (and L7 payload captures, lib/l7.h) can be switched off with CFG_OBSERVER_OFF; drops and policy
 * verdicts are always reported. */
#ifndef CNILAB_EVENTS_H
#define CNILAB_EVENTS_H
#include "common.h"
#include "ipv4.h"
#include "maps.h"
#include "conntrack.h"

#define EVENT_DROP 1
#define EVENT_TRACE 2
#define EVENT_POLICY_VERDICT 3 /* subtype: 0 allowed, else the drop reason (133 / 181) */
#define EVENT_L7_CAPTURE 4     /* a trace whose record carries the first bytes of the L4 payload (lib/l7.h) */
#define EVENT_SOCK_XLATE 5     /* socket LB translation (subtype: Hubble SocketTranslationPoint) */

/* Payload bytes an L7 capture copies (agent/datapath/constants.ts L7_PAYLOAD_MAX). */
#define L7_PAYLOAD_MAX 192

/* Which kind of policy entry decided (Cilium's POLICY_MATCH_*, Hubble's policy_match_type): the remote
 * identity specific (L3) or any, and the protocol / port specific or any. */
#define POLICY_MATCH_NONE 0       /* no entry matched (default deny, or allowed as not enforced) */
#define POLICY_MATCH_L3_ONLY 1    /* identity, any protocol */
#define POLICY_MATCH_L3_L4 2      /* identity, protocol and port (range) */
#define POLICY_MATCH_L4_ONLY 3    /* any identity, protocol and port (range) */
#define POLICY_MATCH_ALL 4        /* any identity, any protocol */
#define POLICY_MATCH_L3_PROTO 5   /* identity and protocol, any port */
#define POLICY_MATCH_PROTO_ONLY 6 /* any identity, protocol, any port */

struct cnilab_event {
	__u64 ktime;
	__u8 type;          /* EVENT_* */
	__u8 subtype;       /* drop reason or observation point */
	__u8 direction;     /* DIR_* */
	__u8 proto;
	__u32 ifindex;
	__u32 src_identity;
	__u32 dst_identity;
	__be32 saddr;
	__be32 daddr;
	__be16 sport;       /* network order */
	__be16 dport;
	__u8 tcp_flags;
	__u8 icmp_type;
	__u8 icmp_code;
	__u8 is_reply;
	__u32 length;
	__be16 ethertype;   /* L3 protocol of the frame, network order */
	__u8 policy_match;  /* POLICY_MATCH_*: the kind of rule behind a policy verdict or policy drop */
	__u8 trace_reason;  /* TRACE_REASON_* (traces) */
	__u8 eth_dst[6];    /* the frame's Ethernet header as the hook saw it (destination first, as on */
	__u8 eth_src[6];    /* the wire, so one load fills both) */
	__u16 payload_len;  /* EVENT_L7_CAPTURE: bytes of payload after this header */
	__u16 svc_id;       /* the service (port) the packet or socket was load-balanced for (lib/lb.h), 0 none */
};
CNILAB_STATIC_ASSERT(sizeof(struct cnilab_event) == 64, "event layout");

/* An L7 capture: the header and up to L7_PAYLOAD_MAX bytes of the payload (payload_len of them valid). */
struct cnilab_l7_event {
	struct cnilab_event hdr;
	__u8 payload[L7_PAYLOAD_MAX];
};

struct cnilab_drop_key {
	__u8 reason;
	__u8 direction;
};

struct cnilab_drop_val {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cnilab_events SEC(".maps") CNILAB_MAP;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct cnilab_drop_key);
	__type(value, struct cnilab_drop_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cnilab_drops SEC(".maps") CNILAB_MAP;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cnilab_lost SEC(".maps") CNILAB_MAP;

struct event_meta {
	__u8 type;
	__u8 subtype;
	__u8 direction;
	__u8 is_reply;
	__u32 ifindex;
	__u32 src_identity;
	__u32 dst_identity;
	__u8 policy_match;
	__u8 trace_reason;
	__u16 svc_id;   /* the service the packet was load-balanced for (lib/lb.h), 0 none */
};

static __always_inline void count_lost(void)
{
	__u32 zero = 0;
	__u64 *lost = bpf_map_lookup_elem(&cnilab_lost, &zero);

	if (lost)
		*lost += 1; /* per-CPU slot: no atomics needed */
}

/* Pending event bytes that make the datapath wake the agent (a quarter of the 1 MiB ring). */
#define EVENT_WAKEUP_BYTES (256 * 1024)

/* Observer switches (cnilab_config CFG_OBSERVER_OFF, written by the agent from hubble.enabled). */
#define OBSERVER_OFF_TRACES 0x01
#define OBSERVER_OFF_L7 0x02

static __always_inline int observer_off(__u32 what)
{
	return config_get(CFG_OBSERVER_OFF) & what;
}

/* Receive-side trace points (Cilium's TRACE_FROM_*), which the low and maximum aggregation levels hide
 * (lib/conntrack.h). */
static __always_inline int trace_point_hidden(__u8 point)
{
	__u32 agg = monitor_aggregation();

	if (agg != OBSERVER_AGG_LOW && agg != OBSERVER_AGG_MAXIMUM)
		return 0;
	return point == TRACE_FROM_ENDPOINT || point == TRACE_FROM_HOST || point == TRACE_FROM_OVERLAY ||
	       point == TRACE_FROM_NETWORK;
}

/* pi may be NULL (non-IP frames): only the length and ethertype are reported then. */
static __always_inline void fill_event(struct cnilab_event *ev, struct __sk_buff *skb, const struct event_meta *m,
				       const struct pkt_info *pi)
{
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->ktime = bpf_ktime_get_ns();
	ev->type = m->type;
	ev->subtype = m->subtype;
	ev->direction = m->direction;
	ev->is_reply = m->is_reply;
	ev->ifindex = m->ifindex;
	ev->src_identity = m->src_identity;
	ev->dst_identity = m->dst_identity;
	ev->length = CTX_U32(skb, len);
	ev->ethertype = CTX_U32(skb, protocol);
	ev->policy_match = m->policy_match;
	ev->trace_reason = m->trace_reason;
	ev->svc_id = m->svc_id;
	/* Hubble's ethernet {source, destination}: the frame's header as this hook sees it. */
	if (bpf_skb_load_bytes(skb, 0, ev->eth_dst, 12) < 0)
		__builtin_memset(ev->eth_dst, 0, 12);
	if (pi) {
		ev->proto = pi->proto;
		ev->saddr = pi->saddr;
		ev->daddr = pi->daddr;
		ev->sport = pi->sport;
		ev->dport = pi->dport;
		ev->tcp_flags = pi->tcp_flags;
		ev->icmp_type = pi->icmp_type;
		ev->icmp_code = pi->icmp_code;
	}
}

/* Pending event bytes that make the datapath wake the agent (a quarter of the 1 MiB ring). */
#define EVENT_WAKEUP_BYTES (256 * 1024)

/* Wake the agent only once a batch has built up. A wakeup per event costs the kernel an irq_work and the
 * agent an event-loop turn each: at a few thousand connections per second that halved the connection
 * rate the node could sustain. The agent also drains on a short timer. */
static __always_inline __u64 submit_flags(void)
{
	return bpf_ringbuf_query(&cnilab_events, BPF_RB_AVAIL_DATA) >= EVENT_WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP :
											       BPF_RB_NO_WAKEUP;
}

static __always_inline void emit_event(struct __sk_buff *skb, const struct event_meta *m,
				       const struct pkt_info *pi)
{
	struct cnilab_event *ev = bpf_ringbuf_reserve(&cnilab_events, sizeof(*ev), 0);

	if (!ev) {
		count_lost();
		return;
	}
	fill_event(ev, skb, m, pi);
	bpf_ringbuf_submit(ev, submit_flags());
}

static __always_inline void count_drop(struct __sk_buff *skb, __u8 reason, __u8 direction)
{
	struct cnilab_drop_key key = { .reason = reason, .direction = direction };
	struct cnilab_drop_val *val = bpf_map_lookup_elem(&cnilab_drops, &key);

	if (!val) {
		struct cnilab_drop_val init = {};

		bpf_map_update_elem(&cnilab_drops, &key, &init, BPF_NOEXIST);
		val = bpf_map_lookup_elem(&cnilab_drops, &key);
		if (!val)
			return;
	}
	val->packets += 1;
	val->bytes += CTX_U32(skb, len);
}

static __always_inline int __send_drop(struct __sk_buff *skb, const struct event_meta *m, const struct pkt_info *pi)
{
	/* Mutations (cnilab selftest): a drop without its event, or without its count. */
#ifndef CNILAB_MUT_DROP_NO_EVENT
	emit_event(skb, m, pi);
#endif
#ifndef CNILAB_MUT_DROP_NO_COUNT
	count_drop(skb, m->subtype, m->direction);
#endif
	return TC_ACT_SHOT;
}

/* The drop record: reason, direction, both identities, whether it was a reply and, for a policy drop, the
 * kind of entry that decided (0 otherwise). */
static __always_inline int send_drop_record(struct __sk_buff *skb, __u8 reason, __u8 direction, __u32 src_identity,
					    __u32 dst_identity, const struct pkt_info *pi, __u8 is_reply, __u8 match)
{
	struct event_meta m = {
		.type = EVENT_DROP,
		.subtype = reason,
		.direction = direction,
		.is_reply = is_reply,
		.ifindex = CTX_U32(skb, ifindex),
		.src_identity = src_identity,
		.dst_identity = dst_identity,
		.policy_match = match,
	};

	return __send_drop(skb, &m, pi);
}

/* THE drop path: every drop in the datapath returns through here (or send_policy_drop, the same path with
 * the policy match kind). Always reported, never aggregated. */
static __always_inline int send_drop(struct __sk_buff *skb, __u8 reason, __u8 direction, __u32 src_identity,
				     __u32 dst_identity, const struct pkt_info *pi, __u8 is_reply)
{
	return send_drop_record(skb, reason, direction, src_identity, dst_identity, pi, is_reply, 0);
}

/* A policy drop (DROP_POLICY_DENIED / DROP_POLICY_DENY), with the kind of entry that decided. */
static __always_inline int send_policy_drop(struct __sk_buff *skb, __u8 reason, __u8 direction, __u32 src_identity,
					    __u32 dst_identity, const struct pkt_info *pi, __u8 match)
{
	return send_drop_record(skb, reason, direction, src_identity, dst_identity, pi, 0, match);
}

/* The policy verdict on a new connection, allowed (reason 0) or not: one event per decision point. */
static __always_inline void send_policy_verdict(struct __sk_buff *skb, __u8 reason, __u8 direction,
						__u32 src_identity, __u32 dst_identity, const struct pkt_info *pi,
						__u8 match)
{
	struct event_meta m = {
		.type = EVENT_POLICY_VERDICT,
		.subtype = reason,
		.direction = direction,
		.ifindex = CTX_U32(skb, ifindex),
		.src_identity = src_identity,
		.dst_identity = dst_identity,
		.policy_match = match,
	};

	emit_event(skb, &m, pi);
}

/* Hubble's traffic_direction of a trace is the connection's, seen from the endpoint the trace point
 * belongs to: `dir` is what it is for the connection's first packet (EGRESS where a packet leaves its
 * sender's side, INGRESS where it reaches its receiver's); a reply is the other way round. */
static __always_inline __u8 trace_direction(__u8 dir, __u8 is_reply)
{
	if (!is_reply)
		return dir;
	return dir == DIR_INGRESS ? DIR_EGRESS : dir == DIR_EGRESS ? DIR_INGRESS : dir;
}

static __always_inline __u8 trace_reason(const struct ct_result *ct)
{
	return ct->is_reply ? TRACE_REASON_REPLY : ct->is_new ? TRACE_REASON_NEW : TRACE_REASON_ESTABLISHED;
}

/* A trace at monitor trace point `point` (TRACE_*), aggregated by conntrack: callers emit it only when
 * ct->report says the packet is worth one (a new connection, a SYN/FIN/RST not yet reported). */
static __always_inline void send_trace(struct __sk_buff *skb, __u8 point, __u8 dir, __u32 ifindex,
				       __u32 src_identity, __u32 dst_identity, const struct pkt_info *pi,
				       const struct ct_result *ct)
{
	struct event_meta m = {
		.type = EVENT_TRACE,
		.subtype = point,
		.direction = trace_direction(dir, ct->is_reply),
		.is_reply = ct->is_reply,
		.ifindex = ifindex,
		.src_identity = src_identity,
		.dst_identity = dst_identity,
		.trace_reason = trace_reason(ct),
	};

#ifdef CNILAB_MUT_EVENT_WRONG_IDENTITY
	/* Mutation (cnilab selftest): trace events name the destination as the source. */
	m.src_identity = dst_identity;
#endif
	if (observer_off(OBSERVER_OFF_TRACES) || trace_point_hidden(point))
		return;
	emit_event(skb, &m, pi);
}
#endif
