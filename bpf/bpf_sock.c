// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Socket-level load balancing (Cilium's bpf_sock, the kube-proxy replacement's "socket LB"): cgroup hooks
 * that translate a service address into a backend before a packet exists, so connections to services
 * carry no per-packet NAT at all:
 *   sock4_connect      cgroup/connect4      TCP connect() and UDP connect(): service -> backend
 *   sock4_sendmsg      cgroup/sendmsg4      unconnected UDP sendto(): service -> backend
 *   sock4_recvmsg      cgroup/recvmsg4      UDP recvfrom(): backend -> service as the source
 *   sock4_getpeername  cgroup/getpeername4  getpeername(): backend -> service
 *
 * Its own object (build/bpf_sock.o), as in Cilium, sharing the datapath's maps through their pins: the
 * agent loads it only with socket LB enabled, and the datapath's tc variants need no copy of it.
 *
 * Attached to the root of the cgroup v2 hierarchy, so every socket of the machine passes here: pods'
 * processes, processes run in a node, and the agnhost workload host that opens sockets inside pods'
 * namespaces with setns (a socket's cgroup is its creator's, whatever netns it lives in). What makes a
 * socket this node's business is its network namespace: the agent registers its node's netns cookie and
 * each endpoint's in cnilab_lb_ns; every other socket (other nodes, other clusters, the host) is left as
 * it is. Each node's agent attaches its own instance; the links are pinned in the node's pin dir, so
 * removing the pins (cnilab down) detaches them.
 *
 * Deliberately broken variants (the suites must notice them):
 *   -DCNILAB_FAULT_LB_NO_REVNAT   never translates back: getpeername/recvmsg show the backend, and UDP
 *                                 clients see answers from an address they did not send to;
 *   -DCNILAB_FAULT_LB_WRONG_PORT  connects to the backend's address on the service port instead of the
 *                                 backend's port (a classic targetPort bug). */
#include "lib/common.h"
#include "lib/maps.h"
#include "lib/ipv4.h"
#include "lib/events.h"
#include "lib/lb.h"

#define SYS_REJECT 0
#define SYS_PROCEED 1
#ifndef EHOSTUNREACH
#define EHOSTUNREACH 113
#endif

/* Hubble SocketTranslationPoint (flow.proto). */
#define XLATE_PRE_DIRECTION_FWD 1
#define XLATE_POST_DIRECTION_FWD 2
#define XLATE_PRE_DIRECTION_REV 3
#define XLATE_POST_DIRECTION_REV 4

static __always_inline struct cnilab_lb_ns_val *sock_netns(struct bpf_sock_addr *ctx, __u64 *cookie)
{
	*cookie = bpf_get_netns_cookie(ctx);
	return bpf_map_lookup_elem(&cnilab_lb_ns, cookie);
}

/* A socket event in the one event record: the address at this translation point is the destination,
 * the socket's endpoint is the source. */
static __always_inline void sock_event(__u8 type, __u8 subtype, const struct cnilab_lb_ns_val *ns, __be32 addr,
				       __be16 port, __u8 proto, __u32 dst_identity, __u16 svc_id, __u8 is_reply)
{
	struct cnilab_event *ev = bpf_ringbuf_reserve(&cnilab_events, sizeof(*ev), 0);

	if (!ev) {
		count_lost();
		return;
	}
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->ktime = bpf_ktime_get_ns();
	ev->type = type;
	ev->subtype = subtype;
	ev->direction = is_reply ? DIR_INGRESS : DIR_EGRESS;
	ev->proto = proto;
	ev->src_identity = ns->identity;
	ev->dst_identity = dst_identity;
	ev->saddr = ns->ip;
	ev->daddr = addr;
	ev->dport = port;
	ev->is_reply = is_reply;
	ev->ethertype = bpf_htons(ETH_P_IP);
	ev->svc_id = svc_id;
	bpf_ringbuf_submit(ev, BPF_RB_NO_WAKEUP);
}

/* Counted like every drop (no packet: zero bytes) and reported with its reason. */
static __always_inline void sock_drop(const struct cnilab_lb_ns_val *ns, __be32 addr, __be16 port, __u8 proto, __u16 svc_id)
{
	struct cnilab_drop_key key = { .reason = DROP_SERVICE_BACKEND_NOT_FOUND, .direction = DIR_EGRESS };
	struct cnilab_drop_val *val = bpf_map_lookup_elem(&cnilab_drops, &key);

	sock_event(EVENT_DROP, DROP_SERVICE_BACKEND_NOT_FOUND, ns, addr, port, proto, 0, svc_id, 0);
	if (!val) {
		struct cnilab_drop_val init = {};

		bpf_map_update_elem(&cnilab_drops, &key, &init, BPF_NOEXIST);
		val = bpf_map_lookup_elem(&cnilab_drops, &key);
	}
	if (val)
		val->packets += 1;
}

static __always_inline int is_local_node_addr(__be32 addr)
{
	return addr == config_get(CFG_NODE_IP) || addr == config_get(CFG_ROUTER_IP);
}

/* Forward translation. Returns 1 when translated, 0 when the address is no service of ours, -1 when the
 * service has no backend (the caller rejects). `report` emits the PRE/POST events. */
static __always_inline int sock4_xlate_fwd(struct bpf_sock_addr *ctx, const struct cnilab_lb_ns_val *ns, __u64 netns_cookie,
					   int report)
{
	__be32 daddr = ctx->user_ip4;
	__be16 dport = (__be16)ctx->user_port;
	__u8 proto = ctx->protocol;
	struct cnilab_lb_key frontend;
	struct cnilab_lb_sk_key skey = {};
	struct cnilab_lb_sk_val sval = {};
	struct cnilab_lb_backend *be;
	struct cnilab_lb_svc *svc;
	struct cnilab_ipcache_val *ic;
	int node_addr, in_host = ns->flags & LB_NS_HOST;
	__u32 backend_id = 0;

	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return 0;
	/* NodePort through a node's address: this node's from anywhere; another node's from a node only
	 * (a pod's packet to another node goes there and is balanced by that node at tc, as in Cilium). */
	node_addr = is_local_node_addr(daddr);
	if (!node_addr && in_host) {
		ic = ipcache_lookup(daddr);
		node_addr = ic && (ic->identity == IDENTITY_REMOTE_NODE || ic->identity == IDENTITY_HOST);
	}
	svc = lb_lookup_service(daddr, dport, proto, node_addr, 1, &frontend);
	if (!svc)
		return 0;
	if (report)
		sock_event(EVENT_SOCK_XLATE, XLATE_PRE_DIRECTION_FWD, ns, daddr, dport, proto, 0, svc->svc_id, 0);
	if (svc->flags & LB_F_AFFINITY)
		backend_id = lb_affinity_get(svc, netns_cookie, 1);
	/* Maglev serves flows that reach tc without a socket here; a socket has no full tuple yet. */
	if (!backend_id)
		backend_id = lb_select_random(&frontend, svc);
	be = backend_id ? lb_backend(backend_id) : NULL;
	if (!be) {
		sock_drop(ns, daddr, dport, proto, svc->svc_id);
		return -1;
	}
	if (svc->flags & LB_F_AFFINITY)
		lb_affinity_put(svc, netns_cookie, 1, backend_id);

	skey.cookie = bpf_get_socket_cookie(ctx);
	skey.addr = be->addr;
	skey.port = be->port;
	sval.addr = daddr;
	sval.port = dport;
	sval.svc_id = svc->svc_id;
	/* sendmsg: one event per socket and backend, not one per datagram. */
	if (!report && !bpf_map_lookup_elem(&cnilab_lb_sk, &skey))
		report = 1;
	bpf_map_update_elem(&cnilab_lb_sk, &skey, &sval, BPF_ANY);

	ctx->user_ip4 = be->addr;
#ifdef CNILAB_FAULT_LB_WRONG_PORT
	ctx->user_port = dport;
#else
	ctx->user_port = be->port;
#endif
	if (report)
		sock_event(EVENT_SOCK_XLATE, XLATE_POST_DIRECTION_FWD, ns, be->addr, be->port, proto,
			   resolve_identity(be->addr), svc->svc_id, 0);
	return 1;
}

/* Reverse translation of the peer a socket sees. */
static __always_inline void sock4_xlate_rev(struct bpf_sock_addr *ctx)
{
#ifndef CNILAB_FAULT_LB_NO_REVNAT
	struct cnilab_lb_sk_key skey = {};
	struct cnilab_lb_sk_val *sval;
	__u64 netns_cookie;

	if (!sock_netns(ctx, &netns_cookie))
		return;
	skey.cookie = bpf_get_socket_cookie(ctx);
	skey.addr = ctx->user_ip4;
	skey.port = (__be16)ctx->user_port;
	sval = bpf_map_lookup_elem(&cnilab_lb_sk, &skey);
	if (!sval)
		return;
	ctx->user_ip4 = sval->addr;
	ctx->user_port = sval->port;
#endif
}

SEC("cgroup/connect4")
int sock4_connect(struct bpf_sock_addr *ctx)
{
	struct cnilab_lb_ns_val *ns;
	__u64 netns_cookie;

	ns = sock_netns(ctx, &netns_cookie);
	if (!ns)
		return SYS_PROCEED;
	if (sock4_xlate_fwd(ctx, ns, netns_cookie, 1) < 0) {
		/* No backend: connect() fails at once with EHOSTUNREACH, as with Cilium. */
		bpf_set_retval(-EHOSTUNREACH);
		return SYS_REJECT;
	}
	return SYS_PROCEED;
}

SEC("cgroup/sendmsg4")
int sock4_sendmsg(struct bpf_sock_addr *ctx)
{
	struct cnilab_lb_ns_val *ns;
	__u64 netns_cookie;

	ns = sock_netns(ctx, &netns_cookie);
	if (!ns)
		return SYS_PROCEED;
	if (sock4_xlate_fwd(ctx, ns, netns_cookie, 0) < 0) {
		bpf_set_retval(-EHOSTUNREACH);
		return SYS_REJECT;
	}
	return SYS_PROCEED;
}

SEC("cgroup/recvmsg4")
int sock4_recvmsg(struct bpf_sock_addr *ctx)
{
	sock4_xlate_rev(ctx);
	return SYS_PROCEED;
}

SEC("cgroup/getpeername4")
int sock4_getpeername(struct bpf_sock_addr *ctx)
{
	sock4_xlate_rev(ctx);
	return SYS_PROCEED;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
