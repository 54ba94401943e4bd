/* ARP responder: a pod's ARP request for any address (its gateway above all) is answered with the lxc's
 * MAC, so pods need no static neighbour entries and every packet they send reaches from_container. */
#ifndef CNILAB_ARP_H
#define CNILAB_ARP_H
#include "common.h"
#include "maps.h"

struct arp_eth_frame {
	__u8 eth_dst[6];
	__u8 eth_src[6];
	__be16 eth_proto;
	__be16 ar_hrd;
	__be16 ar_pro;
	__u8 ar_hln;
	__u8 ar_pln;
	__be16 ar_op;
	__u8 ar_sha[6];
	__u8 ar_sip[4];
	__u8 ar_tha[6];
	__u8 ar_tip[4];
} __attribute__((packed));
CNILAB_STATIC_ASSERT(sizeof(struct arp_eth_frame) == 42, "arp frame layout");

#define ARPOP_REQUEST_BE bpf_htons(1)
#define ARPOP_REPLY_BE bpf_htons(2)

/* Returns TC_ACT_REDIRECT with the reply queued back to the pod, or TC_ACT_OK to let the node's stack
 * see anything that is not a plain IPv4-over-Ethernet request (replies to the host's own requests). */
static __always_inline int arp_respond(struct __sk_buff *skb, const struct cnilab_endpoint *ep)
{
	struct arp_eth_frame f;
	__u8 tip[4];
	__be32 sip, tipv;

#ifdef CNILAB_MUT_NO_ARP
	/* Mutation (cnilab selftest): the kernel is left to answer (it does, so only the ARP check sees it). */
	return TC_ACT_OK;
#endif
	if (bpf_skb_load_bytes(skb, 0, &f, sizeof(f)) < 0)
		return TC_ACT_OK;
	if (f.ar_hrd != bpf_htons(1) || f.ar_pro != bpf_htons(ETH_P_IP) || f.ar_hln != 6 || f.ar_pln != 4 ||
	    f.ar_op != ARPOP_REQUEST_BE)
		return TC_ACT_OK;
	__builtin_memcpy(&sip, f.ar_sip, 4);
	__builtin_memcpy(&tipv, f.ar_tip, 4);
	/* Duplicate-address probes (sender 0.0.0.0) and requests for the pod's own address must not be
	 * answered, or the pod would think its address is taken. */
	if (sip == 0 || tipv == ep->ip)
		return TC_ACT_OK;

	__builtin_memcpy(tip, f.ar_tip, 4);
	__builtin_memcpy(f.eth_dst, f.ar_sha, 6);
	__builtin_memcpy(f.eth_src, ep->host_mac, 6);
	f.ar_op = ARPOP_REPLY_BE;
	__builtin_memcpy(f.ar_tha, f.ar_sha, 6);
	__builtin_memcpy(f.ar_tip, f.ar_sip, 4);
	__builtin_memcpy(f.ar_sha, ep->host_mac, 6);
	__builtin_memcpy(f.ar_sip, tip, 4);
	if (bpf_skb_store_bytes(skb, 0, &f, sizeof(f), 0) < 0)
		return TC_ACT_OK;
	/* Out of the same lxc's egress, i.e. into the pod. */
	return bpf_redirect(CTX_U32(skb, ifindex), 0);
}
#endif
