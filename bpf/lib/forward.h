/* Delivery to other nodes, shared by the program families: through the VXLAN tunnel (tunnel mode) or
 * through the node's FIB straight out of the underlay device (native mode), with the drop reasons and
 * ICMP errors a router would produce when it cannot forward. */
#ifndef CNILAB_FORWARD_H
#define CNILAB_FORWARD_H
#include "common.h"
#include "maps.h"
#include "ipv4.h"
#include "eth.h"
#include "events.h"
#include "conntrack.h"
#include "tunnel.h"
#include "fib.h"
#include "icmp.h"

/* Remote delivery through the tunnel, shared by pod and host traffic. */
static __always_inline int to_overlay(struct __sk_buff *skb, const struct cnilab_ipcache_val *ic,
				      __u32 src_identity, const struct pkt_info *pi, const struct ct_result *ct,
				      const __u8 *inner_mac)
{
#ifdef CNILAB_FAULT_NO_REMOTE_DELIVERY
	return send_drop(skb, DROP_NO_TUNNEL_ENDPOINT, DIR_EGRESS, src_identity, ic->identity, pi, ct->is_reply);
#else
	int ret;

	/* The receiver rewrites the inner MACs; a fixed value keeps the encapsulated frame deterministic. */
	if (inner_mac && eth_store_macs(skb, inner_mac, inner_mac) < 0)
		return send_drop(skb, DROP_INVALID_PACKET, DIR_EGRESS, src_identity, ic->identity, pi, ct->is_reply);
	ret = tunnel_redirect(skb, ic->tunnel_endpoint, src_identity);
	if (ret < 0)
		return send_drop(skb, DROP_NO_TUNNEL_ENDPOINT, DIR_EGRESS, src_identity, ic->identity, pi,
				 ct->is_reply);
	if (ct->report)
		send_trace(skb, TRACE_TO_OVERLAY, DIR_EGRESS, config_get(CFG_TUNNEL_IFINDEX), src_identity, ic->identity,
			   pi, ct);
	return ret;
#endif
}

/* A packet the node cannot forward: reported and counted through send_drop like every drop, then the pod
 * gets the ICMP error a kernel router would send, so its probe fails at once instead of timing out. */
static __always_inline int drop_unforwardable(struct __sk_buff *skb, const struct cnilab_endpoint *ep, __u8 reason,
					      __u32 dst_identity, const struct pkt_info *pi, __u8 is_reply)
{
	__u8 type = reason == DROP_TTL_EXCEEDED ? ICMP_TIME_EXCEEDED : ICMP_DEST_UNREACH;
	__u8 code = reason == DROP_TTL_EXCEEDED ? ICMP_EXC_TTL : ICMP_NET_UNREACH;

	send_drop(skb, reason, DIR_EGRESS, ep->identity, dst_identity, pi, is_reply);
	return icmp_error_to_pod(skb, ep, type, code) == TC_ACT_REDIRECT ? TC_ACT_REDIRECT : TC_ACT_SHOT;
}

/* This node routes the pod's packet — to another local pod, or into the tunnel — so it is one router hop,
 * as the kernel would count it (and as to_network and from_netdev count theirs): the TTL is decremented,
 * and a packet whose TTL runs out is dropped with TTL_EXCEEDED and answered with ICMP time exceeded, as
 * traceroute expects. 0 to go on, or the drop's verdict. */
static __always_inline int pod_router_hop(struct __sk_buff *skb, const struct cnilab_endpoint *ep, __u32 dst_identity,
					  const struct pkt_info *pi, __u8 is_reply)
{
	int ttl = ipv4_dec_ttl(skb);

	if (ttl > 0)
		return drop_unforwardable(skb, ep, DROP_TTL_EXCEEDED, dst_identity, pi, is_reply);
	if (ttl < 0)
		return send_drop(skb, DROP_INVALID_PACKET, DIR_EGRESS, ep->identity, dst_identity, pi, is_reply);
	return 0;
}

/* Native routing: forward like the node's kernel would (same route, TTL decremented) but from tc, out of
 * the FIB's egress device. Fails fast with a drop reason where the kernel path would blackhole. */
static __always_inline int to_network(struct __sk_buff *skb, const struct cnilab_ipcache_val *ic,
				      const struct cnilab_endpoint *ep, const struct pkt_info *pi, const struct ct_result *ct)
{
	__u32 dst_identity = ic ? ic->identity : IDENTITY_WORLD;
	struct bpf_fib_lookup fib;
	long ret;
	int ttl;

#ifdef CNILAB_FAULT_NO_REMOTE_DELIVERY
	return send_drop(skb, DROP_FIB_LOOKUP_FAILED, DIR_EGRESS, ep->identity, dst_identity, pi, ct->is_reply);
#endif
	ret = fib_lookup_v4(skb, pi, &fib);
	if (ret == BPF_FIB_LKUP_RET_FRAG_NEEDED) {
		/* Too big for the route and not GSO: the stack fragments or answers ICMP frag-needed. */
		if (ct->report)
			send_trace(skb, TRACE_TO_STACK, DIR_EGRESS, CTX_U32(skb, ifindex), ep->identity, dst_identity, pi,
				   ct);
		return TC_ACT_OK;
	}
	/* No route at all comes back as NOT_FWDED (the kernel maps -ENETUNREACH to it), as do local and
	 * broadcast destinations; the node's own addresses were sent to the stack before the lookup. */
	if (ret != BPF_FIB_LKUP_RET_SUCCESS && ret != BPF_FIB_LKUP_RET_NO_NEIGH)
		return drop_unforwardable(skb, ep, DROP_FIB_LOOKUP_FAILED, dst_identity, pi, ct->is_reply);
	/* A remote pod's route must lead to the node hosting it (one L2 underlay: the nexthop is that node).
	 * Anything else means its BGP route is gone (speaker died, prefix withdrawn) and the lookup fell
	 * through to a less specific route such as the underlay default: fail now, with a reason, rather than
	 * send pod traffic somewhere that cannot deliver it. */
	if (ic && ic->tunnel_endpoint && fib.ipv4_dst != ic->tunnel_endpoint)
		return drop_unforwardable(skb, ep, DROP_FIB_LOOKUP_FAILED, dst_identity, pi, ct->is_reply);
	ttl = ipv4_dec_ttl(skb);
	if (ttl > 0)
		return drop_unforwardable(skb, ep, DROP_TTL_EXCEEDED, dst_identity, pi, ct->is_reply);
	if (ttl < 0)
		return send_drop(skb, DROP_INVALID_PACKET, DIR_EGRESS, ep->identity, dst_identity, pi, ct->is_reply);
	ret = fib_redirect(skb, &fib, ret);
	if (ret != TC_ACT_REDIRECT)
		return send_drop(skb, DROP_FIB_LOOKUP_FAILED, DIR_EGRESS, ep->identity, dst_identity, pi, ct->is_reply);
	if (ct->report)
		send_trace(skb, TRACE_TO_NETWORK, DIR_EGRESS, fib.ifindex, ep->identity, dst_identity, pi, ct);
	return ret;
}

/* The node itself: its underlay and router addresses, or whatever the ipcache marks as host. */
static __always_inline int is_node_addr(__be32 ip, const struct cnilab_ipcache_val *ic)
{
	return ip == config_get(CFG_NODE_IP) || ip == config_get(CFG_ROUTER_IP) || (ic && ic->identity == IDENTITY_HOST);
}
#endif
