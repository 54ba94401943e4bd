// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Cilium's bpf_host: the programs on the node's own devices.
 *   from_host    tc egress  on cilium_host (node -> local pods, and -> remote pod CIDRs in tunnel mode)
 *   from_netdev  tc ingress on eth0 (underlay -> local pods with their ingress policy, native mode; in
 *                both modes NodePort: traffic to this node's address on a NodePort is translated to a
 *                backend, and replies of such flows translated back) */
#include "lib/common.h"
#include "lib/eth.h"
#include "lib/maps.h"
#include "lib/ipv4.h"
#include "lib/events.h"
#include "lib/conntrack.h"
#include "lib/lxc.h"
#include "lib/fib.h"
#include "lib/policy.h"
#include "lib/forward.h"
#include "lib/l7.h"
#include "lib/ingress.h"
#include "lib/nodeport.h"

#define VXLAN_PORT_BE bpf_htons(8472)

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

	/* A local pod (the node normally reaches its pods by their /32 routes, straight out of the lxc): the
	 * redirect goes out of the lxc's egress, through to_container, which applies the pod's ingress policy
	 * to the host (identity 1), tracks the connection and reports it, as for the node's other traffic
	 * into pods. Nothing to decide here. */
	ep = lookup_ep_by_ip(pi.daddr);
	if (ep) {
		/* to_container tracks and reports the connection; from-host is reported for its first packet
		 * only (a second conntrack pass here would take to_container's reports). */
		if (!ct_exists(&pi)) {
			struct ct_result first = { .is_new = 1, .report = 1 };

			send_trace(skb, TRACE_FROM_HOST, DIR_EGRESS, CTX_U32(skb, ifindex), IDENTITY_HOST, ep->identity, &pi,
				   &first);
		}
		ret = deliver_local(skb, ep, 0);
		if (ret < 0)
			return send_drop(skb, DROP_INVALID_PACKET, DIR_EGRESS, IDENTITY_HOST, ep->identity, &pi, 0);
		return ret;
	}
	/* Native mode: the kernel routes node -> remote pod traffic straight out of eth0 by the BGP routes;
	 * should something still route a remote CIDR here, it must not be tunnelled (there is no tunnel). */
	if (routing_native())
		return TC_ACT_OK;
	ic = ipcache_lookup(pi.daddr);
	if (ic && ic->tunnel_endpoint) {
		/* The remote pod's ingress policy is decided on its node, which sees remote-node (lib/tunnel.h). */
		ct_lookup_update(&pi, &ct);
		if (ct.report)
			send_trace(skb, TRACE_FROM_HOST, DIR_EGRESS, CTX_U32(skb, ifindex), IDENTITY_HOST, ic->identity, &pi,
				   &ct);
		return to_overlay(skb, ic, IDENTITY_HOST, &pi, &ct, NULL);
	}
	return TC_ACT_OK;
}

/* Cilium's bpf_host from-netdev, native mode: pod traffic from other nodes arrives on eth0 with bare pod
 * IPs; deliver it to the local pod straight into its netns, after the pod's ingress policy (the redirect
 * skips to_container). There is no tunnel key, so the source identity comes from the ipcache by source IP,
 * longest prefix (a remote pod, remote-node for the other nodes' addresses, a CIDR identity for an
 * ipBlock / fromCIDR peer, else world). Everything else on the underlay (ARP, BGP sessions, the node's own
 * connections) is the stack's business and passes untouched: no conntrack, no events. */
SEC("tc")
int from_netdev(struct __sk_buff *skb)
{
	struct cnilab_ipcache_val *ic;
	struct cnilab_endpoint *ep;
	struct pkt_info pi;
	struct ct_result ct;
	__u32 src_identity, dst_identity;
	__be16 proto;
	int ret, deliver;

	if (eth_load_proto(skb, &proto) < 0 || proto != ETH_P_IP_BE)
		return TC_ACT_OK;
	if (parse_ipv4(skb, &pi) < 0)
		return TC_ACT_OK; /* not ours to judge: the stack validates and drops what it must */

	/* The tunnel's own packets (tunnel mode: every packet from another node's pods) are neither NodePort
	 * traffic nor replies of it, nor addressed to a pod: the stack hands them to cilium_vxlan at once,
	 * without the lookups below. */
	if (pi.proto == IPPROTO_UDP && pi.dport == VXLAN_PORT_BE && pi.daddr == config_get(CFG_NODE_IP))
		return TC_ACT_OK;
	ic = ipcache_lookup(pi.saddr);
	src_identity = ic ? ic->identity : IDENTITY_WORLD;
	{
		ret = nodeport_fwd(skb, &pi, src_identity, &deliver, 1);
		if (ret != LB_NOT_SERVICE)
			return ret;
		/* A backend's reply to a NodePort flow this node SNATed: back to the client, through the stack. */
		if (!deliver && pi.daddr == config_get(CFG_NODE_IP)) {
			__u16 svc_id = 0;

			ret = lb4_rev_nat(skb, &pi, &svc_id);
			if (ret < 0)
				return send_drop(skb, DROP_INVALID_PACKET, DIR_INGRESS, src_identity, 0, &pi, 1);
			if (ret > 0)
				return TC_ACT_OK;
		}
	}

	ep = lookup_ep_by_ip(pi.daddr);
	if (!ep) {
		if (!in_pod_cidr(pi.daddr) || pi.daddr == config_get(CFG_ROUTER_IP))
			return TC_ACT_OK;
		return send_drop(skb, DROP_STALE_OR_UNROUTABLE_IP, DIR_INGRESS, src_identity, 0, &pi, 0);
	}
	dst_identity = ep->identity;

	ct_lookup(&pi, &ct);
#ifndef CNILAB_FAULT_NO_FROM_TRACE
	if (ct.report)
		send_trace(skb, TRACE_FROM_NETWORK, DIR_INGRESS, CTX_U32(skb, ifindex), src_identity, dst_identity, &pi,
			   &ct);
#endif
	/* Native routing: a remote backend's reply to a local client of a service this node translated
	 * (conntrack knows the connection as translated: CT_F_SVC). */
	if (ct.is_reply && ct.svc) {
		__u16 svc_id = 0;

		if (lb4_rev_nat(skb, &pi, &svc_id) < 0)
			return send_drop(skb, DROP_INVALID_PACKET, DIR_INGRESS, src_identity, dst_identity, &pi, 1);
	}
	return ingress_to_endpoint(skb, &pi, &ct, ep, src_identity, deliver);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
