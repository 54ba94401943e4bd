// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* cnilab's datapath: one object serving every endpoint of a node (endpoints are found by ifindex/IP in
 * maps, so a new pod costs map updates, not a compile). Programs use Cilium's names:
 *   from_container  tc ingress on each lxc (packets from the pod)
 *   to_container    tc egress  on each lxc (node stack -> pod)
 *   from_overlay    tc ingress on cilium_vxlan
 *   from_host       tc egress  on cilium_host (node -> remote pod CIDRs)
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
	if (ic && ic->tunnel_endpoint)
		return to_overlay(skb, ic, ep->identity, &pi, &ct, ep->host_mac);

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
	ic = ipcache_lookup(pi.daddr);
	if (ic && ic->tunnel_endpoint) {
		ct_lookup_update(&pi, &ct);
		return to_overlay(skb, ic, IDENTITY_HOST, &pi, &ct, NULL);
	}
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
