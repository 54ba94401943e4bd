/* Ethernet helpers: MAC rewrites done with bpf_skb_store_bytes so they work on any skb layout. */
#ifndef CNILAB_ETH_H
#define CNILAB_ETH_H
#include "common.h"

#define ETH_P_ARP_BE bpf_htons(ETH_P_ARP)
#define ETH_P_IP_BE bpf_htons(ETH_P_IP)

static __always_inline int eth_load_proto(struct __sk_buff *skb, __be16 *proto)
{
	return bpf_skb_load_bytes(skb, offsetof(struct ethhdr, h_proto), proto, sizeof(*proto));
}

/* dst first, then src: both 6 bytes, contiguous at the start of the frame. */
static __always_inline int eth_store_macs(struct __sk_buff *skb, const __u8 *src, const __u8 *dst)
{
	__u8 macs[12];

	__builtin_memcpy(macs, dst, 6);
	__builtin_memcpy(macs + 6, src, 6);
	return bpf_skb_store_bytes(skb, 0, macs, sizeof(macs), 0);
}
#endif
