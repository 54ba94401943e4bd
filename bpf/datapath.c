// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* cnilab's datapath: one object serving every endpoint of a node (endpoints are found by ifindex/IP in
 * maps, so a new pod costs map updates, not a compile). Programs use Cilium's names:
 *   from_container  tc ingress on each lxc (packets from the pod)
 *   to_container    tc egress  on each lxc (node stack -> pod)
 *   from_overlay    tc ingress on cilium_vxlan
 *   from_host       tc egress  on cilium_host (node -> remote pod CIDRs, tunnel mode)
 *   from_netdev     tc ingress on eth0 (underlay -> local pods, native mode)
 * Routing mode (cnilab_config CFG_ROUTING_MODE): tunnel sends remote pod traffic through cilium_vxlan;
 * native forwards it through the node's FIB (routes from BGP) straight out of eth0.
 * The feature code lives in the lib/ headers.
 * -DCNILAB_FAULT_NO_REMOTE_DELIVERY builds the deliberately broken variant used to prove the test suite
 * notices a datapath that cannot reach other nodes. */
#include "lib/common.h"
#include "lib/eth.h"
#include "lib/maps.h"
#include "lib/ipv4.h"
#include "lib/events.h"
#include "lib/conntrack.h"
#include "lib/arp.h"
#include "lib/tunnel.h"
#include "lib/lxc.h"
#include "lib/fib.h"
#include "lib/icmp.h"

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
		send_trace(skb, OBS_TO_OVERLAY, DIR_EGRESS, config_get(CFG_TUNNEL_IFINDEX), src_identity, ic->identity,
			   pi, ct->is_reply);
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
			send_trace(skb, OBS_TO_STACK, DIR_EGRESS, skb->ifindex, ep->identity, dst_identity, pi, ct->is_reply);
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
		send_trace(skb, OBS_TO_NETWORK, DIR_EGRESS, fib.ifindex, ep->identity, dst_identity, pi, ct->is_reply);
	return ret;
}

/* The node itself: its underlay and router addresses, or whatever the ipcache marks as host. */
static __always_inline int is_node_addr(__be32 ip, const struct cnilab_ipcache_val *ic)
{
	return ip == config_get(CFG_NODE_IP) || ip == config_get(CFG_ROUTER_IP) || (ic && ic->identity == IDENTITY_HOST);
}

SEC("tc")
int from_container(struct __sk_buff *skb)
{
	struct cnilab_endpoint *ep, *dst;
	struct cnilab_ipcache_val *ic;
	struct pkt_info pi;
	struct ct_result ct;
	__be16 proto;
	int ret;

	ep = lookup_ep_by_ifindex(skb->ifindex);
	if (!ep)
		return TC_ACT_OK; /* not (yet) an endpoint we know: leave it to the stack */
	if (eth_load_proto(skb, &proto) < 0)
		return send_drop(skb, DROP_INVALID_PACKET, DIR_EGRESS, ep->identity, 0, NULL, 0);
	if (proto == ETH_P_ARP_BE)
		return arp_respond(skb, ep);
	if (proto != ETH_P_IP_BE)
		return send_drop(skb, DROP_UNSUPPORTED_L3, DIR_EGRESS, ep->identity, 0, NULL, 0);
	if (parse_ipv4(skb, &pi) < 0)
		return send_drop(skb, DROP_INVALID_PACKET, DIR_EGRESS, ep->identity, 0, NULL, 0);

	ct_lookup_update(&pi, &ct);

	dst = lookup_ep_by_ip(pi.daddr);
	if (dst) {
		__u32 dst_identity = dst->identity;
		__u32 dst_ifindex = dst->ifindex;

		if (ct.report)
			send_trace(skb, OBS_TO_ENDPOINT, DIR_EGRESS, dst_ifindex, ep->identity, dst_identity, &pi,
				   ct.is_reply);
		ret = deliver_local(skb, dst, 1);
		if (ret < 0)
			return send_drop(skb, DROP_INVALID_PACKET, DIR_EGRESS, ep->identity, dst_identity, &pi,
					 ct.is_reply);
		return ret;
	}

	ic = ipcache_lookup(pi.daddr);
	if (routing_native()) {
		if (!is_node_addr(pi.daddr, ic)) {
			/* Our own pod CIDR without an endpoint: nowhere to route it (the kernel would loop or
			 * blackhole it). */
			if (in_pod_cidr(pi.daddr))
				return send_drop(skb, DROP_STALE_OR_UNROUTABLE_IP, DIR_EGRESS, ep->identity,
						 ic ? ic->identity : IDENTITY_WORLD, &pi, ct.is_reply);
			return to_network(skb, ic, ep, &pi, &ct);
		}
	} else if (ic && ic->tunnel_endpoint) {
		return to_overlay(skb, ic, ep->identity, &pi, &ct, ep->host_mac);
	}

	if (ct.report)
		send_trace(skb, OBS_TO_STACK, DIR_EGRESS, skb->ifindex, ep->identity,
			   ic ? ic->identity : resolve_identity(pi.daddr), &pi, ct.is_reply);
	return TC_ACT_OK;
}

SEC("tc")
int to_container(struct __sk_buff *skb)
{
	struct cnilab_endpoint *ep;
	struct pkt_info pi;
	struct ct_result ct;
	__be16 proto;

	ep = lookup_ep_by_ifindex(skb->ifindex);
	if (!ep)
		return TC_ACT_OK;
	if (eth_load_proto(skb, &proto) < 0 || proto != ETH_P_IP_BE)
		return TC_ACT_OK; /* ARP from the node and the like */
	if (parse_ipv4(skb, &pi) < 0)
		return send_drop(skb, DROP_INVALID_PACKET, DIR_INGRESS, 0, ep->identity, NULL, 0);
	ct_lookup_update(&pi, &ct);
	if (ct.report)
		send_trace(skb, OBS_TO_ENDPOINT, DIR_INGRESS, skb->ifindex, resolve_identity(pi.saddr), ep->identity,
			   &pi, ct.is_reply);
	return TC_ACT_OK;
}

SEC("tc")
int from_overlay(struct __sk_buff *skb)
{
	struct cnilab_endpoint *ep;
	struct pkt_info pi;
	struct ct_result ct;
	__u32 src_identity;
	__be16 proto;
	int ret;

	if (eth_load_proto(skb, &proto) < 0)
		return send_drop(skb, DROP_INVALID_PACKET, DIR_INGRESS, 0, 0, NULL, 0);
	if (proto == ETH_P_ARP_BE)
		return TC_ACT_OK;
	src_identity = tunnel_src_identity(skb);
	if (proto != ETH_P_IP_BE)
		return send_drop(skb, DROP_UNSUPPORTED_L3, DIR_INGRESS, src_identity, 0, NULL, 0);
	if (parse_ipv4(skb, &pi) < 0)
		return send_drop(skb, DROP_INVALID_PACKET, DIR_INGRESS, src_identity, 0, NULL, 0);

	ct_lookup_update(&pi, &ct);

	ep = lookup_ep_by_ip(pi.daddr);
	if (ep) {
		__u32 dst_identity = ep->identity;

		if (ct.report)
			send_trace(skb, OBS_TO_ENDPOINT, DIR_INGRESS, ep->ifindex, src_identity, dst_identity, &pi,
				   ct.is_reply);
		ret = deliver_local(skb, ep, 1);
		if (ret < 0)
			return send_drop(skb, DROP_INVALID_PACKET, DIR_INGRESS, src_identity, dst_identity, &pi,
					 ct.is_reply);
		return ret;
	}
	if (in_pod_cidr(pi.daddr) && pi.daddr != config_get(CFG_ROUTER_IP))
		return send_drop(skb, DROP_STALE_OR_UNROUTABLE_IP, DIR_INGRESS, src_identity, 0, &pi, ct.is_reply);

	if (ct.report)
		send_trace(skb, OBS_TO_STACK, DIR_INGRESS, skb->ifindex, src_identity, resolve_identity(pi.daddr), &pi,
			   ct.is_reply);
	/* The sender could not know this device's MAC: make the stack accept the frame as addressed to us. */
	bpf_skb_change_type(skb, 0 /* PACKET_HOST */);
	return TC_ACT_OK;
}

SEC("tc")
int from_host(struct __sk_buff *skb)
{
	struct cnilab_endpoint *ep;
	struct cnilab_ipcache_val *ic;
	struct pkt_info pi;
	struct ct_result ct;
	__be16 proto;
	int ret;

	/* The node's own traffic: anything we do not forward stays the stack's business (ARP, IPv6). */
	if (eth_load_proto(skb, &proto) < 0 || proto != ETH_P_IP_BE)
		return TC_ACT_OK;
	if (parse_ipv4(skb, &pi) < 0)
		return send_drop(skb, DROP_INVALID_PACKET, DIR_EGRESS, IDENTITY_HOST, 0, NULL, 0);

	ep = lookup_ep_by_ip(pi.daddr);
	if (ep) {
		__u32 dst_identity = ep->identity;

		ct_lookup_update(&pi, &ct);
		if (ct.report)
			send_trace(skb, OBS_TO_ENDPOINT, DIR_EGRESS, ep->ifindex, IDENTITY_HOST, dst_identity, &pi,
				   ct.is_reply);
		ret = deliver_local(skb, ep, 0);
		if (ret < 0)
			return send_drop(skb, DROP_INVALID_PACKET, DIR_EGRESS, IDENTITY_HOST, dst_identity, &pi,
					 ct.is_reply);
		return ret;
	}
	/* Native mode: the kernel routes node -> remote pod traffic straight out of eth0 by the BGP routes;
	 * should something still route a remote CIDR here, it must not be tunnelled (there is no tunnel). */
	if (routing_native())
		return TC_ACT_OK;
	ic = ipcache_lookup(pi.daddr);
	if (ic && ic->tunnel_endpoint) {
		ct_lookup_update(&pi, &ct);
		return to_overlay(skb, ic, IDENTITY_HOST, &pi, &ct, NULL);
	}
	return TC_ACT_OK;
}

/* Cilium's bpf_host from-netdev, native mode: pod traffic from other nodes arrives on eth0 with bare pod
 * IPs; deliver it to the local pod straight into its netns. There is no tunnel key, so the source identity
 * comes from the ipcache by source IP (unknown: world). Everything else on the underlay (ARP, BGP sessions,
 * the node's own connections) is the stack's business and passes untouched: no conntrack, no events. */
SEC("tc")
int from_netdev(struct __sk_buff *skb)
{
	struct cnilab_ipcache_val *ic;
	struct cnilab_endpoint *ep;
	struct pkt_info pi;
	struct ct_result ct;
	__u32 src_identity, dst_identity;
	__be16 proto;
	int ret;

	if (eth_load_proto(skb, &proto) < 0 || proto != ETH_P_IP_BE)
		return TC_ACT_OK;
	if (parse_ipv4(skb, &pi) < 0)
		return TC_ACT_OK; /* not ours to judge: the stack validates and drops what it must */

	ep = lookup_ep_by_ip(pi.daddr);
	if (!ep) {
		if (!in_pod_cidr(pi.daddr) || pi.daddr == config_get(CFG_ROUTER_IP))
			return TC_ACT_OK;
		ic = ipcache_lookup(pi.saddr);
		return send_drop(skb, DROP_STALE_OR_UNROUTABLE_IP, DIR_INGRESS, ic ? ic->identity : IDENTITY_WORLD, 0,
				 &pi, 0);
	}
	ic = ipcache_lookup(pi.saddr);
	src_identity = ic ? ic->identity : IDENTITY_WORLD;
	dst_identity = ep->identity;

	ct_lookup_update(&pi, &ct);
	/* This node routes the packet from eth0 to the pod: one more router hop. */
	ret = ipv4_dec_ttl(skb);
	if (ret)
		return send_drop(skb, ret > 0 ? DROP_TTL_EXCEEDED : DROP_INVALID_PACKET, DIR_INGRESS, src_identity,
				 dst_identity, &pi, ct.is_reply);
	if (ct.report)
		send_trace(skb, OBS_TO_ENDPOINT, DIR_INGRESS, ep->ifindex, src_identity, dst_identity, &pi, ct.is_reply);
	ret = deliver_local(skb, ep, 1);
	if (ret < 0)
		return send_drop(skb, DROP_INVALID_PACKET, DIR_INGRESS, src_identity, dst_identity, &pi, ct.is_reply);
	return ret;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
