// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Cilium's bpf_lxc: the programs on each pod's host-side veth (lxcXXXX).
 *   from_container  tc ingress (packets the pod sends): ARP answers, local delivery, remote delivery
 *   to_container    tc egress  (node stack -> pod)
 * One object serves every endpoint: the endpoint is found by ifindex/IP in maps. Built with the other
 * families into build/datapath.o (see the Makefile). */
#include "lib/common.h"
#include "lib/eth.h"
#include "lib/maps.h"
#include "lib/ipv4.h"
#include "lib/events.h"
#include "lib/conntrack.h"
#include "lib/arp.h"
#include "lib/lxc.h"
#include "lib/forward.h"

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

char LICENSE[] SEC("license") = "Dual BSD/GPL";
