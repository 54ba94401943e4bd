/* ICMP errors back to a local pod, as the kernel router would send them (ip_error, ip_forward's TTL
 * check): a pod whose packet cannot be forwarded learns it at once (ping prints "Net Unreachable",
 * connect() fails with ENETUNREACH) instead of waiting for a timeout. The packet itself is still dropped
 * and reported through send_drop first; this only adds the answer. */
#ifndef CNILAB_ICMP_H
#define CNILAB_ICMP_H
#include "common.h"
#include "maps.h"
#include "eth.h"

#define ICMP_ECHO_REQUEST 8
#define ICMP_DEST_UNREACH 3
#define ICMP_NET_UNREACH 0
#define ICMP_TIME_EXCEEDED 11
#define ICMP_EXC_TTL 0

/* skb->mark of an ICMP error this datapath made for a pod: to_container sees it on its way into the pod
 * and lets it pass without policy (it answers the pod's own packet; it is not a connection from the
 * node). The mark never leaves the node: the veth scrubs it when the packet enters the pod's netns. */
#define CNILAB_MARK_OWN_ICMP 0x434e4c01

/* IP + ICMP header + the offending IP header (no options) and the first 8 bytes of its payload, which is
 * what RFC 792 asks for and what the sender's stack needs to find the socket. */
struct icmp_err_frame {
	struct iphdr ip;
	__u8 type;
	__u8 code;
	__u16 csum;
	__be32 unused;
	__u8 orig[28];
}; /* naturally 4-byte aligned, no padding: bpf_csum_diff wants __be32 words */
CNILAB_STATIC_ASSERT(sizeof(struct icmp_err_frame) == 56, "icmp error frame layout");

static __always_inline __u16 csum_fold_s64(__s64 sum)
{
	__u32 s = (__u32)sum;

	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

/* Rewrites skb in place into the ICMP error and sends it back into the pod. Returns TC_ACT_REDIRECT, or
 * -1 when no error may or can be sent (the caller's drop stands): never for ICMP errors themselves
 * (only echo requests get one), non-first fragments, headers with options, or too short packets. */
static __always_inline int icmp_error_to_pod(struct __sk_buff *skb, const struct cnilab_endpoint *ep, __u8 type,
					     __u8 code)
{
	struct icmp_err_frame f = {};
	struct iphdr *oip = (struct iphdr *)f.orig;

#ifdef CNILAB_MUT_NO_ICMP_ERROR
	/* Mutation (cnilab selftest): unforwardable packets are dropped silently; the pod waits it out. */
	return -1;
#endif
	if (bpf_skb_load_bytes(skb, ETH_HLEN, f.orig, sizeof(f.orig)) < 0)
		return -1;
	if (oip->ihl != 5 || (oip->frag_off & bpf_htons(0x1fff)))
		return -1;
	if (oip->protocol == IPPROTO_ICMP && f.orig[20] != ICMP_ECHO_REQUEST)
		return -1;

	f.ip.version = 4;
	f.ip.ihl = 5;
	f.ip.ttl = 64;
	f.ip.protocol = IPPROTO_ICMP;
	f.ip.tot_len = bpf_htons(sizeof(f));
	f.ip.saddr = config_get(CFG_ROUTER_IP); /* the pod's gateway answers, as a router would */
	f.ip.daddr = oip->saddr;
	f.type = type;
	f.code = code;
	f.csum = csum_fold_s64(bpf_csum_diff(NULL, 0, (__be32 *)&f.type, sizeof(f) - sizeof(f.ip), 0));
	f.ip.check = csum_fold_s64(bpf_csum_diff(NULL, 0, (__be32 *)&f, sizeof(f.ip), 0));

	if (bpf_skb_change_tail(skb, ETH_HLEN + sizeof(f), 0) < 0)
		return -1;
	if (bpf_skb_store_bytes(skb, ETH_HLEN, &f, sizeof(f), 0) < 0)
		return -1;
	if (eth_store_macs(skb, ep->host_mac, ep->pod_mac) < 0)
		return -1;
	/* Out of the lxc's egress, i.e. into the pod (as the ARP responder does). */
	skb->mark = CNILAB_MARK_OWN_ICMP;
	return bpf_redirect(ep->ifindex, 0);
}
#endif
