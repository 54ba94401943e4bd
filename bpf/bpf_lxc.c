// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Cilium's bpf_lxc: the programs on each pod's host-side veth (lxcXXXX).
 *   from_container  tc ingress (packets the pod sends): ARP answers, service translation (what socket LB
 *                   did not translate), egress policy, local delivery (with the receiver's ingress
 *                   policy), remote delivery; replies of translated flows get the service back
 *   to_container    tc egress  (node stack -> pod): ingress policy
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
#include "lib/icmp.h"
#include "lib/policy.h"
#include "lib/forward.h"
#include "lib/l7.h"
#include "lib/nodeport.h"

/* The pod's packets: egress policy of the pod, then local delivery (after the receiver's ingress policy,
 * decided here because bpf_redirect_peer skips the receiver's to_container), remote delivery (tunnel or
 * native routing) or the node's stack. */
SEC("tc")
int from_container(struct __sk_buff *skb)
{
	struct cnilab_endpoint *ep, *dst;
	struct cnilab_ipcache_val *ic;
	struct pkt_info pi;
	struct ct_result ct;
	__u32 dst_identity;
	__be16 proto;
	int ret, lb_ret;

	ep = lookup_ep_by_ifindex(CTX_U32(skb, ifindex));
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

	/* Conntrack first: a packet of a connection tracked under this very tuple (an established one that
	 * was never translated, or a reply) is not service traffic and skips the service lookup, as in
	 * Cilium. A connection's first packet takes it, and so do the packets of translated connections
	 * (tracked under the backend's tuple, so their original tuple is never found here). */
	ct_lookup(&pi, &ct);
	lb_ret = LB_NOT_SERVICE;
	if (ct.is_new) {
		struct lb_fwd_result lbr = {};

		/* Services (a ClusterIP, or this node's address with a NodePort, that no socket hook
		 * translated): conntrack and policy then see the backend, as the connection really goes. */
		lb_ret = lb4_xlate_fwd(skb, &pi, pi.daddr == config_get(CFG_NODE_IP) || pi.daddr == config_get(CFG_ROUTER_IP), 0, 0,
				       ep->identity, TRACE_FROM_ENDPOINT, &lbr);
		if (lb_ret == LB_NO_BACKEND) {
			/* Nobody to serve it: the pod learns at once (ICMP port unreachable: ECONNREFUSED). */
			send_drop(skb, DROP_SERVICE_BACKEND_NOT_FOUND, DIR_EGRESS, ep->identity, 0, &pi, 0);
			return icmp_error_to_pod(skb, ep, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH) == TC_ACT_REDIRECT ? TC_ACT_REDIRECT : TC_ACT_SHOT;
		}
		if (lb_ret == LB_ERROR)
			return send_drop(skb, DROP_INVALID_PACKET, DIR_EGRESS, ep->identity, 0, &pi, 0);
		/* Straight to a backend on a tuple a translated flow used moments ago: another source port. It
		 * is then tracked under its new tuple and flagged as translated (CT_F_SVC, below), so its
		 * replies get their port back; its reverse entry is its own (no lb4_forget_rev). */
		if (lb_ret == LB_NOT_SERVICE) {
			ret = lb4_remap_direct(skb, &pi);
			if (ret < 0)
				return send_drop(skb, DROP_INVALID_PACKET, DIR_EGRESS, ep->identity, 0, &pi, 0);
			if (ret > 0)
				lb_ret = LB_TRANSLATED;
		}
		if (lb_ret == LB_TRANSLATED)
			ct_lookup(&pi, &ct);
	}

#ifdef CNILAB_MUT_SLOW_LOOKUPS
	/* Mutation (cnilab selftest): extra ipcache lookups on every packet — correct, only slower. */
	{
		__u32 sink = 0;

		for (int i = 0; i < CNILAB_MUT_SLOW_LOOKUPS; i++) {
			struct cnilab_ipcache_val *v = ipcache_lookup(pi.daddr ^ bpf_htonl(i));

			if (v)
				sink += v->identity;
		}
		if (sink == 0xdeadbeef)
			return TC_ACT_SHOT;
	}
#endif
	if (ct.is_new && lb_ret != LB_TRANSLATED)
		lb4_forget_rev(&pi);
	/* A backend's reply to a client this node translated for: the service back as its source. Only
	 * connections conntrack knows as translated (CT_F_SVC) look for a reverse-NAT entry. */
	if (ct.is_reply && ct.svc) {
		__u16 svc_id = 0;

		ret = lb4_rev_nat(skb, &pi, &svc_id, 1);
		if (ret == LB_REV_MISSING)
			return send_drop(skb, DROP_NAT_NO_MAPPING, DIR_EGRESS, ep->identity, 0, &pi, 1);
		if (ret < 0)
			return send_drop(skb, DROP_INVALID_PACKET, DIR_EGRESS, ep->identity, 0, &pi, 1);
	}

	dst = lookup_ep_by_ip(pi.daddr);
#ifdef CNILAB_MUT_LOCAL_WRONG_POD
	/* Mutation (cnilab selftest): same-node traffic handed to the neighbouring address's pod. */
	if (dst) {
		struct cnilab_endpoint *other = lookup_ep_by_ip(pi.daddr ^ bpf_htonl(1));

		if (other)
			dst = other;
	}
#endif
	if (dst) {
		__u32 dst_ifindex = dst->ifindex;

		dst_identity = dst->identity;
		/* Where the packet enters the datapath (Hubble's from-endpoint), then where it leaves it. */
		if (ct.report)
			send_trace(skb, TRACE_FROM_ENDPOINT, DIR_EGRESS, CTX_U32(skb, ifindex), ep->identity, dst_identity,
				   &pi, &ct);
		ret = policy_enforce(skb, &pi, &ct, ep, dst, ep->identity, dst_identity);
		if (ret)
			return ret;
		if (lb_ret == LB_TRANSLATED && !ct.svc)
			ct_set_svc(&pi);
		/* The node routes pod to pod: one router hop (the receiver sees TTL − 1, as through a kernel). */
		ret = pod_router_hop(skb, ep, dst_identity, &pi, ct.is_reply);
		if (ret)
			return ret;
		l7_request(skb, &pi, CTX_U32(skb, ifindex), ep->identity, dst_identity);
		l7_response(skb, &pi, dst_ifindex, ep->identity, dst_identity);
		ret = deliver_local(skb, dst, 1);
		if (ret < 0)
			return send_drop(skb, DROP_INVALID_PACKET, DIR_EGRESS, ep->identity, dst_identity, &pi,
					 ct.is_reply);
		/* After the delivery rewrote the frame: the trace shows the MACs the pod receives. */
		if (ct.report)
			send_trace(skb, TRACE_TO_ENDPOINT, DIR_INGRESS, dst_ifindex, ep->identity, dst_identity, &pi, &ct);
		return ret;
	}

	/* Longest prefix: a remote pod, a pod CIDR, or a CIDR identity (toCIDR / ipBlock peers). */
	ic = ipcache_lookup(pi.daddr);
	dst_identity = is_node_addr(pi.daddr, ic) ? IDENTITY_HOST : ic ? ic->identity : IDENTITY_WORLD;
	if (ct.report)
		send_trace(skb, TRACE_FROM_ENDPOINT, DIR_EGRESS, CTX_U32(skb, ifindex), ep->identity, dst_identity, &pi,
			   &ct);
	ret = policy_enforce(skb, &pi, &ct, ep, NULL, ep->identity, dst_identity);
	if (ret)
		return ret;
	if (lb_ret == LB_TRANSLATED && !ct.svc)
		ct_set_svc(&pi);
	l7_request(skb, &pi, CTX_U32(skb, ifindex), ep->identity, dst_identity);

	if (routing_native()) {
		if (dst_identity != IDENTITY_HOST) {
			/* Our own pod CIDR without an endpoint: nowhere to route it (the kernel would loop or
			 * blackhole it). */
			if (in_pod_cidr(pi.daddr))
				return send_drop(skb, DROP_STALE_OR_UNROUTABLE_IP, DIR_EGRESS, ep->identity,
						 dst_identity, &pi, ct.is_reply);
			return to_network(skb, ic, ep, &pi, &ct);
		}
	} else if (ic && ic->tunnel_endpoint) {
#ifdef CNILAB_MUT_REMOTE_NODE_BARE
		/* Mutation (cnilab selftest): issue 12's found-4 bug — a pod's traffic to another node's own
		 * address goes to the stack and leaves bare on the underlay with the pod's source IP. */
		if (ic->identity == IDENTITY_REMOTE_NODE && pi.daddr == ic->tunnel_endpoint)
			goto to_stack;
#endif
		/* Into the tunnel: this node routes the pod's packet, one hop (the receiving node counts its own). */
		ret = pod_router_hop(skb, ep, dst_identity, &pi, ct.is_reply);
		if (ret)
			return ret;
		return to_overlay(skb, ic, ep->identity, &pi, &ct, ep->host_mac);
	}
#ifdef CNILAB_MUT_REMOTE_NODE_BARE
to_stack:
#endif

	if (ct.report)
		send_trace(skb, TRACE_TO_STACK, DIR_EGRESS, CTX_U32(skb, ifindex), ep->identity, dst_identity, &pi, &ct);
	return TC_ACT_OK;
}

/* What the node's stack sends into the pod (the node's own connections, through the pod's /32 route;
 * from_host's local deliveries; in tunnel mode, outside traffic routed by the node): the pod's ingress
 * policy for it, with the source identity this node gives the source address (the host for its own
 * addresses). */
SEC("tc")
int to_container(struct __sk_buff *skb)
{
	struct cnilab_endpoint *ep;
	struct pkt_info pi;
	struct ct_result ct;
	__u32 src_identity;
	__be16 proto;
	int ret;

	ep = lookup_ep_by_ifindex(CTX_U32(skb, ifindex));
	if (!ep)
		return TC_ACT_OK;
	if (eth_load_proto(skb, &proto) < 0 || proto != ETH_P_IP_BE)
		return TC_ACT_OK; /* ARP from the node and the like */
	if (skb->mark == CNILAB_MARK_OWN_ICMP) {
		skb->mark = 0;
		return TC_ACT_OK;
	}
	if (parse_ipv4(skb, &pi) < 0)
		return send_drop(skb, DROP_INVALID_PACKET, DIR_INGRESS, 0, ep->identity, NULL, 0);
	ct_lookup(&pi, &ct);
	src_identity = resolve_identity(pi.saddr);
	ret = policy_enforce(skb, &pi, &ct, NULL, ep, src_identity, ep->identity);
	if (ret)
		return ret;
	l7_response(skb, &pi, CTX_U32(skb, ifindex), src_identity, ep->identity);
	if (ct.report)
		send_trace(skb, TRACE_TO_ENDPOINT, DIR_INGRESS, CTX_U32(skb, ifindex), src_identity, ep->identity, &pi, &ct);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
