// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Cilium's bpf_overlay: from_overlay, tc ingress on cilium_vxlan (tunnel mode). Decapsulated pod traffic
 * from other nodes, the sender's security identity in the VNI (believed only when it can be attributed:
 * lib/tunnel.h), the local pod's ingress policy, then delivery straight into the pod. */
#include "lib/common.h"
#include "lib/eth.h"
#include "lib/maps.h"
#include "lib/ipv4.h"
#include "lib/events.h"
#include "lib/conntrack.h"
#include "lib/tunnel.h"
#include "lib/lxc.h"
#include "lib/policy.h"
#include "lib/l7.h"
#include "lib/ingress.h"
#include "lib/nodeport.h"

SEC("tc")
int from_overlay(struct __sk_buff *skb)
{
	struct cnilab_endpoint *ep;
	struct pkt_info pi;
	struct ct_result ct;
	__u32 src_identity;
	__be16 proto;
	int ret, deliver = 0;

	if (eth_load_proto(skb, &proto) < 0)
		return send_drop(skb, DROP_INVALID_PACKET, DIR_INGRESS, 0, 0, NULL, 0);
	if (proto == ETH_P_ARP_BE)
		return TC_ACT_OK;
	if (proto != ETH_P_IP_BE)
		return send_drop(skb, DROP_UNSUPPORTED_L3, DIR_INGRESS, IDENTITY_UNKNOWN, 0, NULL, 0);
	if (parse_ipv4(skb, &pi) < 0)
		return send_drop(skb, DROP_INVALID_PACKET, DIR_INGRESS, IDENTITY_UNKNOWN, 0, NULL, 0);
	src_identity = tunnel_src_identity(skb, pi.saddr);

	/* A pod of another node reached this node's address on a NodePort (its node tunnels traffic to our
	 * address): translated here as from_netdev does for the underlay. To a remote backend, the stack
	 * routes the SNATed packet on (cilium_host, the tunnel); to a local one, delivered below. */
	if (pi.daddr == config_get(CFG_NODE_IP)) {
		ret = nodeport_fwd(skb, &pi, src_identity, &deliver, 0);
		if (ret == TC_ACT_OK)
			bpf_skb_change_type(skb, 0 /* PACKET_HOST */);
		if (ret != LB_NOT_SERVICE)
			return ret;
	}

	ct_lookup(&pi, &ct);
	/* Where the packet enters the node's datapath (Hubble's from-overlay). The -D variant leaves it out:
	 * the flow requirements of the suites must notice a datapath that stops reporting one point. */
#ifndef CNILAB_FAULT_NO_FROM_TRACE
	if (ct.report)
		send_trace(skb, TRACE_FROM_OVERLAY, DIR_INGRESS, CTX_U32(skb, ifindex), src_identity,
			   resolve_identity(pi.daddr), &pi, &ct);
#endif
	/* A remote backend's reply to a client of a service this node translated. A local client is
	 * delivered below; a client on another node (a NodePort flow from a remote pod) goes back through the
	 * stack, which routes it to that node. Replies to pods look for a reverse-NAT entry only when
	 * conntrack knows their connection as translated here (CT_F_SVC); replies to this node's address
	 * (NodePort flows it SNATed, tracked by from_host) always do. */
	if (ct.is_reply && (ct.svc || pi.daddr == config_get(CFG_NODE_IP))) {
		__u16 svc_id = 0;

		ret = lb4_rev_nat(skb, &pi, &svc_id);
		if (ret < 0)
			return send_drop(skb, DROP_INVALID_PACKET, DIR_INGRESS, src_identity, 0, &pi, 1);
		if (ret > 0 && !lookup_ep_by_ip(pi.daddr)) {
			bpf_skb_change_type(skb, 0 /* PACKET_HOST */);
			return TC_ACT_OK;
		}
	}

	ep = lookup_ep_by_ip(pi.daddr);
	/* The receiver's ingress policy, here: bpf_redirect_peer skips its to_container. */
	if (ep)
		return ingress_to_endpoint(skb, &pi, &ct, ep, src_identity, deliver);
	if (in_pod_cidr(pi.daddr) && pi.daddr != config_get(CFG_ROUTER_IP))
		return send_drop(skb, DROP_STALE_OR_UNROUTABLE_IP, DIR_INGRESS, src_identity, 0, &pi, ct.is_reply);
	/* For the node's stack: no pod policy applies. */
	if (ct.is_new)
		ct_create(&pi);

	if (ct.report)
		send_trace(skb, TRACE_TO_STACK, DIR_INGRESS, CTX_U32(skb, ifindex), src_identity,
			   resolve_identity(pi.daddr), &pi, &ct);
	/* The sender could not know this device's MAC: make the stack accept the frame as addressed to us. */
#ifndef CNILAB_MUT_OVERLAY_NOT_HOST
	bpf_skb_change_type(skb, 0 /* PACKET_HOST */);
#endif /* else, mutation (cnilab selftest): the stack drops it as another host's frame */
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
