/* Per-packet load balancing at tc (Cilium's lb4 + nodeport): for what reaches a tc hook without having
 * passed a socket of the cluster — NodePort traffic from outside on a node's underlay address, and
 * ClusterIP traffic from pods or the node when socket LB is off or bypassed (raw sockets).
 *
 * Forward: a packet to a frontend gets a backend (kept per flow in cnilab_lb_fwd, so every packet of a
 * connection goes to the same one; new flows: ClientIP affinity, else Maglev for Maglev services, else
 * random), is DNATed to it and, for NodePort traffic with externalTrafficPolicy Cluster going to another
 * node, SNATed to this node's address so the reply comes back here. Reverse: cnilab_lb_rev, keyed by the
 * reply's tuple, restores the frontend as the source (and the client as the destination after SNAT) on
 * every hook a reply can come through. Checksums: IPv4 header and the TCP/UDP pseudo-header are patched
 * incrementally (a zero UDP checksum stays zero).
 *
 * -DCNILAB_FAULT_LB_NO_REVNAT: replies keep the backend as their source (the variant the suites must
 * catch); -DCNILAB_FAULT_LB_WRONG_PORT: DNAT keeps the service port. */
#ifndef CNILAB_NODEPORT_H
#define CNILAB_NODEPORT_H
#include "common.h"
#include "maps.h"
#include "ipv4.h"
#include "events.h"
#include "lb.h"
#include "icmp.h"
#include "conntrack.h"

#ifndef BPF_F_PSEUDO_HDR
#define BPF_F_PSEUDO_HDR (1ULL << 4)
#endif
#ifndef BPF_F_MARK_MANGLED_0
#define BPF_F_MARK_MANGLED_0 (1ULL << 5)
#endif

#define LB_NAT_SNAT 0x01 /* the flow's source was rewritten to this node (NodePort, Cluster, remote backend) */
#define LB_FWD_CLOSING 0x02 /* a FIN or RST was seen (either way); cleared when the flow's SYN is retransmitted */
#define LB_FWD_DIRECT 0x04  /* no service: a direct connection whose source port was moved (lb4_remap_direct) */
/* A flow entry idle this long is a new connection when traffic resumes (conntrack's lifetimes). */
#define LB_FWD_TCP_IDLE_S 60
#define LB_FWD_OTHER_IDLE_S 30
/* Random tries for a fit source port (after the flow's previous one, the client's own and its neighbour:
 * lb_pick_source_port) before giving up on the move. */
#define LB_SNAT_TRIES 16
/* Where a rewritten source port is picked: above the well-known ports. */
#define LB_NAT_PORT_MIN 1024
#define LB_NAT_PORT_SPAN (65536 - LB_NAT_PORT_MIN)
/* Flow hash seed (Maglev): fixed, so a flow picks the same backend on every node of every run. */
#define LB_HASH_SEED 0x9e3779b9

struct cnilab_lb_tuple {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};
CNILAB_STATIC_ASSERT(sizeof(struct cnilab_lb_tuple) == 16, "lb tuple layout");

struct cnilab_lb_fwd_val {
	__u32 backend_id;
	__be32 nat_addr;   /* SNAT: this node's address, else 0 */
	__be16 nat_port;
	__u16 svc_id;
	__u8 flags;        /* LB_NAT_SNAT, LB_FWD_CLOSING */
	__u8 pad[3];
	__u32 last_seen;   /* lb_now_seconds() of the flow's last forward packet */
	__be32 syn_seq;    /* TCP: the sequence number of the SYN that placed the flow (lb_fwd_current) */
};
CNILAB_STATIC_ASSERT(sizeof(struct cnilab_lb_fwd_val) == 24, "lb forward value layout");

struct cnilab_lb_rev_val {
	__be32 frontend_addr; /* the source a reply must show */
	__be32 client_addr;   /* SNAT: the destination a reply must get back */
	__be16 frontend_port;
	__be16 client_port;
	__u16 svc_id;
	__u8 flags;
	__u8 pad;
};
CNILAB_STATIC_ASSERT(sizeof(struct cnilab_lb_rev_val) == 16, "lb reverse value layout");

/* Written and read by the tc programs only; LRU ages out finished flows. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct cnilab_lb_tuple);
	__type(value, struct cnilab_lb_fwd_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cnilab_lb_fwd SEC(".maps") CNILAB_MAP;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct cnilab_lb_tuple);
	__type(value, struct cnilab_lb_rev_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cnilab_lb_rev SEC(".maps") CNILAB_MAP;

/* ---- hashing (Maglev) ---------------------------------------------------------------------------- */

static __always_inline __u32 lb_rol32(__u32 w, unsigned int s)
{
	return (w << s) | (w >> (32 - s));
}

/* Bob Jenkins' final mix of three words (the kernel's jhash_3words): a flow's Maglev slot. */
static __always_inline __u32 lb_hash_3words(__u32 a, __u32 b, __u32 c)
{
	a += LB_HASH_SEED;
	b += LB_HASH_SEED;
	c += LB_HASH_SEED;
	c ^= b; c -= lb_rol32(b, 14);
	a ^= c; a -= lb_rol32(c, 11);
	b ^= a; b -= lb_rol32(a, 25);
	c ^= b; c -= lb_rol32(b, 16);
	a ^= c; a -= lb_rol32(c, 4);
	b ^= a; b -= lb_rol32(a, 14);
	c ^= b; c -= lb_rol32(b, 24);
	return c;
}

static __always_inline __u32 lb_select_maglev(const struct cnilab_lb_svc *svc, const struct pkt_info *pi)
{
	__u32 key = svc->svc_id;
	struct cnilab_lb_maglev *t = bpf_map_lookup_elem(&cnilab_lb_mgl, &key);
	__u32 idx;

	if (!t)
		return 0;
	idx = lb_hash_3words(pi->saddr, pi->daddr, (((__u32)pi->sport << 16) | pi->dport) ^ pi->proto) % LB_MAGLEV_M;
	/* The compiler knows idx < M and drops the check; the verifier does not know it. Keep the check. */
	asm volatile("" : "+r"(idx));
	if (idx >= LB_MAGLEV_M)
		return 0;
	return t->backend_ids[idx];
}

/* ---- packet rewriting ------------------------------------------------------------------------------ */

#define LB_IP_CSUM_OFF (ETH_HLEN + offsetof(struct iphdr, check))
#define LB_IP_SADDR_OFF (ETH_HLEN + offsetof(struct iphdr, saddr))
#define LB_IP_DADDR_OFF (ETH_HLEN + offsetof(struct iphdr, daddr))

/* Offset of the L4 header, and of its checksum (-1: no checksum to patch). */
static __always_inline int lb_l4_offsets(struct __sk_buff *skb, __u8 proto, int *l4off, int *csum_off)
{
	__u8 vihl;

	if (bpf_skb_load_bytes(skb, ETH_HLEN, &vihl, 1) < 0)
		return -1;
	*l4off = ETH_HLEN + (vihl & 0x0f) * 4;
	*csum_off = proto == IPPROTO_TCP ? *l4off + 16 : proto == IPPROTO_UDP ? *l4off + 6 : -1;
	return 0;
}

static __always_inline __u64 lb_l4_flags(__u8 proto)
{
	return proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;
}

/* Rewrite the source (which=0) or destination (which=1) address and port. */
static __always_inline int lb_rewrite(struct __sk_buff *skb, __u8 proto, int which, __be32 old_addr, __be32 new_addr,
				      __be16 old_port, __be16 new_port)
{
	int l4off, csum_off;

	if (lb_l4_offsets(skb, proto, &l4off, &csum_off) < 0)
		return -1;
	if (old_addr != new_addr) {
		if (csum_off >= 0 &&
		    bpf_l4_csum_replace(skb, csum_off, old_addr, new_addr, BPF_F_PSEUDO_HDR | lb_l4_flags(proto) | 4) < 0)
			return -1;
		if (bpf_l3_csum_replace(skb, LB_IP_CSUM_OFF, old_addr, new_addr, 4) < 0)
			return -1;
		if (bpf_skb_store_bytes(skb, which ? LB_IP_DADDR_OFF : LB_IP_SADDR_OFF, &new_addr, 4, 0) < 0)
			return -1;
	}
	if (old_port != new_port && csum_off >= 0) {
		if (bpf_l4_csum_replace(skb, csum_off, old_port, new_port, lb_l4_flags(proto) | 2) < 0)
			return -1;
		if (bpf_skb_store_bytes(skb, l4off + (which ? 2 : 0), &new_port, 2, 0) < 0)
			return -1;
	}
	return 0;
}

/* An event for a connection the LB just placed: the trace point it entered at (TRACE_FROM_*), the
 * frontend it was addressed to and the service id, so the flow names the Service (destination_service).
 * One per new connection, before the translation; the traces after it show the backend. */
static __always_inline void lb_trace(struct __sk_buff *skb, const struct pkt_info *pi, __u8 point, __u32 src_identity,
				     __u16 svc_id)
{
	struct event_meta m = {
		.type = EVENT_TRACE, .subtype = point, .direction = DIR_EGRESS, .ifindex = skb->ifindex,
		.src_identity = src_identity, .trace_reason = TRACE_REASON_NEW, .svc_id = svc_id,
	};

	if (observer_off(OBSERVER_OFF_TRACES))
		return;
	emit_event(skb, &m, pi);
}

/* ---- forward and reverse translation ---------------------------------------------------------------- */

struct lb_fwd_result {
	__u16 svc_id;
	__u8 backend_local;
	__u8 snat;
};

#define LB_NOT_SERVICE 0
#define LB_TRANSLATED 1
#define LB_NO_BACKEND -1
#define LB_ERROR -2

/* The sequence number of a TCP packet (0 if unreadable): a retransmitted SYN repeats its connection's. */
static __always_inline __be32 lb_tcp_seq(struct __sk_buff *skb)
{
	int l4off, csum_off;
	__be32 seq = 0;

	if (lb_l4_offsets(skb, IPPROTO_TCP, &l4off, &csum_off) < 0 || bpf_skb_load_bytes(skb, l4off + 4, &seq, 4) < 0)
		return 0;
	return seq;
}

/* Whether the backend tuple addr:port -> backend is unfit for the new connection of pi (pi: the tuple the
 * client connected with, before translation). The client's kernel derives a connection's TCP timestamp
 * offset and initial sequence number from that 4-tuple (kernel 6.18: a keyed hash of both addresses and
 * both ports; two source ports to one destination get unrelated offsets). The backend (TCP_CRR's server
 * closes first) keeps the tuple's last connection in TIME_WAIT for 60 s and accepts a SYN into it only
 * when its timestamp is newer than that connection's last one. A connection from the same client tuple
 * always passes (its clock only moves forward: what lets a busy client reuse its ports at all, every
 * port being in the backend's TIME_WAIT after a few seconds of CRR); one from another client tuple
 * passes by chance, one time in two: otherwise the backend answers with a bare ACK, the client resets it
 * and retransmits. So a tuple is unfit when
 *   - a connection still holds it (conntrack saw it within its lifetime, and no FIN or RST), or
 *   - the backend may still hold a TIME_WAIT there (conntrack saw the tuple within CT_TCP_LIFETIME_NS >=
 *     60 s, or, conntrack knowing nothing, a reverse entry names it) of a connection from another client
 *     tuple: the one its reverse entry names (a translated flow, or a direct connection whose port was
 *     moved: lb4_remap_direct), else the backend tuple itself (a direct connection, whose first packet
 *     forgets an older reverse entry: lb4_forget_rev).
 * Before, any TIME_WAIT made a tuple unfit, its own client tuple's too: after a minute of CRR every port
 * was, the random tries failed, and the SYN went out on the client's own port, into whatever was there. */
static __always_inline int lb_backend_tuple_busy(const struct cnilab_lb_backend *be, __be32 addr, __be16 port,
						 const struct pkt_info *pi, __u64 now_ns)
{
	struct cnilab_lb_tuple rkey = { .saddr = be->addr, .daddr = addr, .sport = be->port, .dport = port,
					.proto = pi->proto };
	struct cnilab_lb_rev_val *taken = bpf_map_lookup_elem(&cnilab_lb_rev, &rkey);
	struct cnilab_ct_key ck = { .saddr = addr, .daddr = be->addr, .sport = port, .dport = be->port,
				    .proto = pi->proto, .dir = CT_DIR_ANY };
	struct cnilab_ct_val *v;

	/* UDP: no TIME_WAIT; only another client tuple's way back is in the way. */
	if (pi->proto != IPPROTO_TCP)
		return taken && !(taken->client_addr == pi->saddr && taken->client_port == pi->sport);
	v = bpf_map_lookup_elem(&cnilab_ct, &ck);
	if (v) {
		if (ct_age_over(now_ns, v->last_seen, CT_TCP_LIFETIME_NS - 1))
			return 0; /* long over: no TIME_WAIT left */
		if (!(v->flags & CT_F_CLOSING))
			return 1; /* a connection still holds it */
	} else if (!taken) {
		return 0;
	}
	if (taken)
		return !(taken->client_addr == pi->saddr && taken->client_port == pi->sport &&
			 taken->frontend_addr == pi->daddr && taken->frontend_port == pi->dport);
	return !(addr == pi->saddr && port == pi->sport && be->addr == pi->daddr && be->port == pi->dport);
}

/* A source port on `addr` fit for pi's connection to the backend (lb_backend_tuple_busy). Tried in order:
 * home, the port the client tuple's previous connection was moved to (its TIME_WAIT there is its own:
 * fit again, so a client tuple that had to move once keeps one backend tuple from then on); the client's
 * own port (keep_own); its neighbour of the other parity (Linux's connect() takes ports of one parity
 * first, so for a client that connects to the frontend and to the backend directly, the other parity is
 * what neither uses); then random ports. */
static __always_inline int lb_pick_source_port(const struct cnilab_lb_backend *be, __be32 addr,
					       const struct pkt_info *pi, __be16 *port, __be16 home, int keep_own)
{
	__u64 now_ns = ct_clock_ns(); /* compared with conntrack's last_seen */
	__be16 p;
	int i;

	for (i = 0; i < LB_SNAT_TRIES + 3; i++) {
		if (i == 0) {
			if (!home)
				continue;
			p = home;
		} else if (i == 1) {
			if (!keep_own)
				continue;
			p = pi->sport;
		} else if (i == 2) {
			p = pi->sport ^ bpf_htons(1);
			if (bpf_ntohs(p) < LB_NAT_PORT_MIN)
				continue;
		} else {
			p = bpf_htons(LB_NAT_PORT_MIN + bpf_get_prandom_u32() % LB_NAT_PORT_SPAN);
		}
		if (!lb_backend_tuple_busy(be, addr, p, pi, now_ns)) {
			*port = p;
			return 0;
		}
	}
	return -1;
}

/* Whether a flow entry still speaks for this packet. The entry is keyed by the client's tuple, and a client
 * reuses tuples: a new connection (a TCP SYN with another sequence number than the one that placed the
 * flow, or that SYN after a long idle; any UDP datagram after idling) must be placed afresh, or it
 * inherits the previous connection's backend and NAT decision made under a service definition that may
 * have changed since (externalTrafficPolicy Local -> Cluster: no SNAT, so the backend answers the outside
 * client directly), and a reverse entry that may be gone (a direct connection on the same tuple in
 * between forgets it: lb4_forget_rev), so replies come back untranslated and the client resets them. A
 * retransmitted SYN (the same sequence number) keeps its backend and its source port, even after a FIN
 * or RST: the client resets a SYN's unexpected answer (a backend's ACK from a TIME_WAIT) and then
 * retransmits, and that reset ended the TIME_WAIT on this backend tuple only, so the retransmission gets
 * through there and, placed afresh on another port, may meet another TIME_WAIT (backing off for a
 * second the second time). syn_seq: the packet's sequence number when it is a bare SYN. */
static __always_inline int lb_fwd_current(const struct cnilab_lb_fwd_val *known, const struct pkt_info *pi,
					  const struct cnilab_lb_svc *svc, __u32 now, __be32 syn_seq)
{
	if (known->svc_id != svc->svc_id)
		return 0; /* the frontend now belongs to another service port */
	if (pi->proto == IPPROTO_TCP) {
		if ((pi->tcp_flags & (TCP_SYN | TCP_ACK)) != TCP_SYN)
			return 1; /* mid-connection: stay on the backend, whatever changed */
		return syn_seq == known->syn_seq && now - known->last_seen <= LB_FWD_TCP_IDLE_S;
	}
	return now - known->last_seen <= LB_FWD_OTHER_IDLE_S;
}

/* Translate a packet addressed to a service. node_addr: its destination is one of this node's addresses
 * (NodePort candidates); external: the client is outside the cluster's pods and nodes (NodePort from the
 * network: EXT scope, SNAT for Cluster policy with a remote backend); snat_addr: this node's address.
 * On LB_TRANSLATED, pi holds the translated tuple. */
static __always_inline int lb4_xlate_fwd(struct __sk_buff *skb, struct pkt_info *pi, int node_addr, int external,
					 __be32 snat_addr, __u32 src_identity, __u8 obs, struct lb_fwd_result *res)
{
	struct cnilab_lb_tuple key = { .saddr = pi->saddr, .daddr = pi->daddr, .sport = pi->sport, .dport = pi->dport,
				       .proto = pi->proto };
	struct cnilab_lb_tuple rkey = {};
	struct cnilab_lb_fwd_val fwd = {}, *known;
	int fresh = 0;
	struct cnilab_lb_rev_val rev = {};
	struct cnilab_lb_backend *be = NULL;
	struct cnilab_lb_key frontend;
	struct cnilab_lb_svc *svc;
	__be16 nat_port, home = 0;
	__be32 syn_seq = 0, home_addr = 0;
	__u32 backend_id = 0, now;

	if (pi->proto != IPPROTO_TCP && pi->proto != IPPROTO_UDP)
		return LB_NOT_SERVICE;
	svc = lb_lookup_service(pi->daddr, pi->dport, pi->proto, node_addr, !external, &frontend);
	if (!svc)
		return LB_NOT_SERVICE;
	res->svc_id = svc->svc_id;

	now = lb_now_seconds();
	if (pi->proto == IPPROTO_TCP && (pi->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN)
		syn_seq = lb_tcp_seq(skb);
	known = bpf_map_lookup_elem(&cnilab_lb_fwd, &key);
	/* Where this client tuple's previous connection went (lb_pick_source_port's first choice). */
	if (known && (known->flags & LB_NAT_SNAT)) {
		home = known->nat_port;
		home_addr = known->nat_addr;
	}
	if (known && lb_fwd_current(known, pi, svc, now, syn_seq)) {
		be = lb_backend(known->backend_id);
		if (be) {
			fwd = *known;
			if (known->last_seen != now)
				known->last_seen = now;
			/* A retransmitted SYN after a reset: the connection is opening again. */
			if ((pi->tcp_flags & TCP_SYN) && (known->flags & LB_FWD_CLOSING))
				known->flags &= ~LB_FWD_CLOSING;
			if (pi->proto == IPPROTO_TCP && (pi->tcp_flags & (TCP_FIN | TCP_RST)) && !(known->flags & LB_FWD_CLOSING))
				known->flags |= LB_FWD_CLOSING;
		}
	}
	if (!be) {
		if (svc->flags & LB_F_AFFINITY)
			backend_id = lb_affinity_get(svc, pi->saddr, 0);
		if (!backend_id && (svc->flags & LB_F_MAGLEV) && frontend.scope == LB_SCOPE_EXT)
			backend_id = lb_select_maglev(svc, pi);
		if (!backend_id)
			backend_id = lb_select_random(&frontend, svc);
		be = backend_id ? lb_backend(backend_id) : NULL;
		if (!be)
			return LB_NO_BACKEND;
		if (svc->flags & LB_F_AFFINITY)
			lb_affinity_put(svc, pi->saddr, 0, backend_id);
		fresh = 1;
		fwd.backend_id = backend_id;
		fwd.svc_id = svc->svc_id;
		fwd.last_seen = now;
		fwd.syn_seq = syn_seq;
		if (pi->proto == IPPROTO_TCP && (pi->tcp_flags & (TCP_FIN | TCP_RST)))
			fwd.flags |= LB_FWD_CLOSING;
		/* NodePort with externalTrafficPolicy Cluster to another node: the reply must come back here. */
		if (external && !(svc->flags & LB_F_LOCAL) && !(be->flags & LB_BE_LOCAL)) {
			fwd.flags |= LB_NAT_SNAT;
			fwd.nat_addr = snat_addr;
			/* A port no other flow to this backend uses on this node's address. */
			if (lb_pick_source_port(be, snat_addr, pi, &nat_port, home_addr == snat_addr ? home : 0, 1) < 0)
				return LB_ERROR;
			fwd.nat_port = nat_port;
		} else if (pi->proto == IPPROTO_TCP &&
			   lb_pick_source_port(be, pi->saddr, pi, &nat_port, home_addr == pi->saddr ? home : 0, 1) == 0 &&
			   nat_port != pi->sport) {
			/* The client's address stays; only its port changes, to one where the backend holds no
			 * connection and no TIME_WAIT of another clock (lb_backend_tuple_busy). No such port
			 * found: as it came. */
			fwd.flags |= LB_NAT_SNAT;
			fwd.nat_addr = pi->saddr;
			fwd.nat_port = nat_port;
		}
		bpf_map_update_elem(&cnilab_lb_fwd, &key, &fwd, BPF_ANY);
		lb_trace(skb, pi, obs, src_identity, svc->svc_id);
	}

	/* The reply's tuple, to find the way back. */
	rkey.saddr = be->addr;
	rkey.sport = be->port;
	rkey.daddr = fwd.flags & LB_NAT_SNAT ? fwd.nat_addr : pi->saddr;
	rkey.dport = fwd.flags & LB_NAT_SNAT ? fwd.nat_port : pi->sport;
	rkey.proto = pi->proto;
	rev.frontend_addr = pi->daddr;
	rev.frontend_port = pi->dport;
	rev.client_addr = pi->saddr;
	rev.client_port = pi->sport;
	rev.svc_id = svc->svc_id;
	rev.flags = fwd.flags & LB_NAT_SNAT;
	/* A fresh placement writes its way back; a known flow rewrites it if it went missing (an LRU
	 * eviction, or a direct connection on the same tuple in between) rather than leave replies untranslated. */
	if (fresh || !bpf_map_lookup_elem(&cnilab_lb_rev, &rkey))
		bpf_map_update_elem(&cnilab_lb_rev, &rkey, &rev, BPF_ANY);

#ifdef CNILAB_FAULT_LB_WRONG_PORT
	if (lb_rewrite(skb, pi->proto, 1, pi->daddr, be->addr, pi->dport, pi->dport) < 0)
		return LB_ERROR;
	pi->daddr = be->addr;
#else
	if (lb_rewrite(skb, pi->proto, 1, pi->daddr, be->addr, pi->dport, be->port) < 0)
		return LB_ERROR;
	pi->daddr = be->addr;
	pi->dport = be->port;
#endif
	if (fwd.flags & LB_NAT_SNAT) {
		if (lb_rewrite(skb, pi->proto, 0, pi->saddr, fwd.nat_addr, pi->sport, fwd.nat_port) < 0)
			return LB_ERROR;
		pi->saddr = fwd.nat_addr;
		pi->sport = fwd.nat_port;
	}
	res->backend_local = be->flags & LB_BE_LOCAL;
	res->snat = fwd.flags & LB_NAT_SNAT;
	return LB_TRANSLATED;
}

#define LB_REV_MISSING -2

/* A reply of a translated flow: the frontend back as its source (and after SNAT, the client as its
 * destination). Returns 1 when rewritten (pi updated), 0 when the packet is no such reply, <0 on error.
 * translated: conntrack knows the connection as one this node translated (CT_F_SVC), so the reply needs
 * its reverse entry; without it (an LRU eviction of cnilab_lb_rev) the result is LB_REV_MISSING and the
 * caller drops the reply (DROP_NAT_NO_MAPPING) rather than deliver it untranslated: the client has no
 * socket for the backend's address or the remapped port and would reset the backend's connection. The
 * backend retransmits; the client's next packet through lb4_xlate_fwd / lb4_remap_direct writes the
 * entry again from its flow entry, and the retransmission is translated. */
static __always_inline int lb4_rev_nat(struct __sk_buff *skb, struct pkt_info *pi, __u16 *svc_id, int translated)
{
	struct cnilab_lb_tuple key = { .saddr = pi->saddr, .daddr = pi->daddr, .sport = pi->sport, .dport = pi->dport,
				       .proto = pi->proto };
	struct cnilab_lb_rev_val *rev;

	if (pi->proto != IPPROTO_TCP && pi->proto != IPPROTO_UDP)
		return 0;
	rev = bpf_map_lookup_elem(&cnilab_lb_rev, &key);
	if (!rev)
		return translated ? LB_REV_MISSING : 0;
	*svc_id = rev->svc_id;
	/* The backend ends the connection (in TCP_CRR it closes first): the client's next SYN on the tuple
	 * is a new connection (lb_fwd_current). */
	if (pi->proto == IPPROTO_TCP && (pi->tcp_flags & (TCP_FIN | TCP_RST))) {
		struct cnilab_lb_tuple fkey = { .saddr = rev->client_addr, .daddr = rev->frontend_addr,
						.sport = rev->client_port, .dport = rev->frontend_port, .proto = pi->proto };
		struct cnilab_lb_fwd_val *f = bpf_map_lookup_elem(&cnilab_lb_fwd, &fkey);

		if (f && !(f->flags & LB_FWD_CLOSING))
			f->flags |= LB_FWD_CLOSING;
	}
#ifdef CNILAB_FAULT_LB_NO_REVNAT
	return 0;
#else
	if (lb_rewrite(skb, pi->proto, 0, pi->saddr, rev->frontend_addr, pi->sport, rev->frontend_port) < 0)
		return -1;
	pi->saddr = rev->frontend_addr;
	pi->sport = rev->frontend_port;
	if (rev->flags & LB_NAT_SNAT) {
		if (lb_rewrite(skb, pi->proto, 1, pi->daddr, rev->client_addr, pi->dport, rev->client_port) < 0)
			return -1;
		pi->daddr = rev->client_addr;
		pi->dport = rev->client_port;
	}
	return 1;
#endif
}

/* The other side of lb_backend_tuple_busy: a connection straight to a backend (direct, or socket LB,
 * which connects to the backend itself) on a tuple that a translated flow used moments ago. The
 * backend may hold that flow in TIME_WAIT, with sequence numbers and timestamps the client derived from
 * the frontend's tuple; this SYN's derive from the backend's, so half the time the backend takes it for an
 * old duplicate (ACK, client RST, retransmission). netfilter resolves the same clash by giving the new
 * connection another source port (nf_nat's unique tuple); so does this, for as long as the reverse entry
 * of the translated flow is there. Called for every untranslated TCP packet of a pod before conntrack;
 * returns 1 when the packet's source port was rewritten (pi updated), 0 when not, <0 on error. */
static __always_inline int lb4_remap_direct(struct __sk_buff *skb, struct pkt_info *pi)
{
	struct cnilab_lb_tuple key = { .saddr = pi->saddr, .daddr = pi->daddr, .sport = pi->sport, .dport = pi->dport,
				       .proto = pi->proto };
	struct cnilab_lb_tuple rkey = { .saddr = pi->daddr, .daddr = pi->saddr, .sport = pi->dport, .dport = pi->sport,
					.proto = pi->proto };
	struct cnilab_lb_backend be = { .addr = pi->daddr, .port = pi->dport, .proto = pi->proto };
	struct cnilab_lb_fwd_val fwd = {}, *known;
	/* The way back of a remapped connection: the backend stays the source, the client's own port comes back. */
	struct cnilab_lb_rev_val rev = { .frontend_addr = pi->daddr, .frontend_port = pi->dport, .client_addr = pi->saddr,
					 .client_port = pi->sport, .flags = LB_NAT_SNAT };
	int bare_syn = (pi->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;
	struct cnilab_lb_rev_val *last;
	__u32 now = lb_now_seconds();
	__be32 syn_seq = 0;
	__be16 port, home = 0;

	if (pi->proto != IPPROTO_TCP)
		return 0;
	if (bare_syn)
		syn_seq = lb_tcp_seq(skb);
	known = bpf_map_lookup_elem(&cnilab_lb_fwd, &key);
	/* Its packets, and its own SYN retransmitted (after a reset too: see lb_fwd_current), keep the port. */
	if (known && (known->flags & LB_FWD_DIRECT) &&
	    (!bare_syn || (syn_seq == known->syn_seq && now - known->last_seen <= LB_FWD_TCP_IDLE_S))) {
		port = known->nat_port;
		if (known->last_seen != now)
			known->last_seen = now;
		if (bare_syn && (known->flags & LB_FWD_CLOSING))
			known->flags &= ~LB_FWD_CLOSING;
		if ((pi->tcp_flags & (TCP_FIN | TCP_RST)) && !(known->flags & LB_FWD_CLOSING))
			known->flags |= LB_FWD_CLOSING;
		/* Its way back went missing (an LRU eviction): written again, as lb4_xlate_fwd does for a
		 * translated flow, so the replies after this packet find their port (lb4_rev_nat). */
		rkey.dport = port;
		if (!bpf_map_lookup_elem(&cnilab_lb_rev, &rkey))
			bpf_map_update_elem(&cnilab_lb_rev, &rkey, &rev, BPF_ANY);
	} else {
		/* A new connection on the tuple: an entry of an earlier remapped one must not move this one's
		 * later packets (its SYN may go out unremapped). */
		if (known && (known->flags & LB_FWD_DIRECT))
			home = known->nat_port;
		if (known && bare_syn)
			bpf_map_delete_elem(&cnilab_lb_fwd, &key);
		if (!bare_syn)
			return 0;
		/* No reverse entry: the tuple's last connection was a direct one, from this very client tuple
		 * (the backend takes the SYN even in TIME_WAIT: lb_backend_tuple_busy). */
		last = bpf_map_lookup_elem(&cnilab_lb_rev, &rkey);
		if (!last)
			return 0;
		/* A translated flow's: its reverse entry stays (this connection's replies come on another port),
		 * and it marks the backend tuple for the next connection on it (the backend's TIME_WAIT of the
		 * translated flow outlives this one). Without a fit port, the caller forgets it (lb4_forget_rev). */
		/* Never the client's own port: the reverse entry says the backend tuple was a translated
		 * flow's (conntrack, which runs first, may already have dropped that flow's closed entry). */
		if (lb_pick_source_port(&be, pi->saddr, pi, &port, home, 0) < 0 || port == pi->sport)
			return 0;
		fwd.flags = LB_FWD_DIRECT | LB_NAT_SNAT;
		fwd.nat_addr = pi->saddr;
		fwd.nat_port = port;
		fwd.last_seen = now;
		fwd.syn_seq = syn_seq;
		bpf_map_update_elem(&cnilab_lb_fwd, &key, &fwd, BPF_ANY);
		rkey.dport = port;
		bpf_map_update_elem(&cnilab_lb_rev, &rkey, &rev, BPF_ANY);
	}
	if (lb_rewrite(skb, pi->proto, 0, pi->saddr, pi->saddr, pi->sport, port) < 0)
		return -1;
	pi->sport = port;
	return 1;
}

/* A new connection that no load balancer translated can reuse the exact tuple of an earlier translated
 * one (the same client port to the same backend, directly or through socket LB): the earlier one's
 * reverse entry (an LRU entry that outlives its connection) must not rewrite this one's replies to the
 * frontend. Called for the first packet of every untranslated connection. */
static __always_inline void lb4_forget_rev(const struct pkt_info *pi)
{
	struct cnilab_lb_tuple key = { .saddr = pi->daddr, .daddr = pi->saddr, .sport = pi->dport, .dport = pi->sport,
				       .proto = pi->proto };

	/* A lookup first: it takes no lock, a delete takes the bucket's even when there is nothing to delete
	 * (almost always, for connections that never met a service). */
	if ((pi->proto == IPPROTO_TCP || pi->proto == IPPROTO_UDP) && bpf_map_lookup_elem(&cnilab_lb_rev, &key))
		bpf_map_delete_elem(&cnilab_lb_rev, &key);
}

#define ICMP_PORT_UNREACH 3

/* A service without backends answers at once: an ICMP port unreachable (connect() then fails with
 * ECONNREFUSED) sent back out of the device the packet came in on, from the frontend's address. The
 * packet itself is dropped through send_drop by the caller. Returns TC_ACT_REDIRECT or -1. */
static __always_inline int lb_icmp_unreach_reflect(struct __sk_buff *skb)
{
	struct icmp_err_frame f = {};
	struct iphdr *oip = (struct iphdr *)f.orig;
	__u8 macs[12], swapped[12];

	if (bpf_skb_load_bytes(skb, 0, macs, sizeof(macs)) < 0)
		return -1;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, f.orig, sizeof(f.orig)) < 0)
		return -1;
	if (oip->ihl != 5 || (oip->frag_off & bpf_htons(0x1fff)))
		return -1;
	f.ip.version = 4;
	f.ip.ihl = 5;
	f.ip.ttl = 64;
	f.ip.protocol = IPPROTO_ICMP;
	f.ip.tot_len = bpf_htons(sizeof(f));
	f.ip.saddr = oip->daddr;
	f.ip.daddr = oip->saddr;
	f.type = ICMP_DEST_UNREACH;
	f.code = ICMP_PORT_UNREACH;
	f.csum = csum_fold_s64(bpf_csum_diff(NULL, 0, (__be32 *)&f.type, sizeof(f) - sizeof(f.ip), 0));
	f.ip.check = csum_fold_s64(bpf_csum_diff(NULL, 0, (__be32 *)&f, sizeof(f.ip), 0));
	__builtin_memcpy(swapped, macs + 6, 6);
	__builtin_memcpy(swapped + 6, macs, 6);
	if (bpf_skb_change_tail(skb, ETH_HLEN + sizeof(f), 0) < 0)
		return -1;
	if (bpf_skb_store_bytes(skb, ETH_HLEN, &f, sizeof(f), 0) < 0)
		return -1;
	if (bpf_skb_store_bytes(skb, 0, swapped, sizeof(swapped), 0) < 0)
		return -1;
	return bpf_redirect(skb->ifindex, 0);
}

#define NODEPORT_MIN 30000
#define NODEPORT_MAX 32767

/* NodePort, shared by from_netdev (the underlay) and from_overlay (a pod of another node, tunnelled): a
 * client reached this node's address on a NodePort. Returns LB_NOT_SERVICE to let the packet go on, or the verdict to return. The translated
 * packet goes to a local backend through the ingress path below (deliver set), or to the stack, which
 * routes it to the backend's node (cilium_host and the tunnel, or the BGP route). */
static __always_inline int nodeport_fwd(struct __sk_buff *skb, struct pkt_info *pi, __u32 src_identity, int *deliver,
					int reflect_icmp)
{
	struct lb_fwd_result lbr = {};
	__be32 node_ip = config_get(CFG_NODE_IP);
	int ret;

	*deliver = 0;
	if (pi->daddr != node_ip || bpf_ntohs(pi->dport) < NODEPORT_MIN || bpf_ntohs(pi->dport) > NODEPORT_MAX)
		return LB_NOT_SERVICE;
	ret = lb4_xlate_fwd(skb, pi, 1, 1, node_ip, src_identity, TRACE_FROM_NETWORK, &lbr);
	if (ret == LB_NOT_SERVICE)
		return LB_NOT_SERVICE;
	if (ret == LB_NO_BACKEND) {
		send_drop(skb, DROP_SERVICE_BACKEND_NOT_FOUND, DIR_INGRESS, src_identity, 0, pi, 0);
		/* The ICMP error is sent back out of the device it came in on; from the tunnel that would need a
		 * tunnel key, so there the drop (counted, with its event) is all. */
		if (!reflect_icmp)
			return TC_ACT_SHOT;
		return lb_icmp_unreach_reflect(skb) == TC_ACT_REDIRECT ? TC_ACT_REDIRECT : TC_ACT_SHOT;
	}
	if (ret == LB_ERROR)
		return send_drop(skb, DROP_INVALID_PACKET, DIR_INGRESS, src_identity, 0, pi, 0);
	if (lbr.backend_local) {
		*deliver = 1;
		return LB_NOT_SERVICE;
	}
	return TC_ACT_OK;
}

#endif
