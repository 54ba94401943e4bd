/* Native routing (no encapsulation): pod traffic to other nodes is forwarded the way the node's kernel
 * would route it, but from tc: a FIB lookup in the node's tables (where bird2 installs the other nodes'
 * pod CIDRs), a router's TTL decrement, and a redirect straight out of the underlay device, skipping the
 * stack (and so netfilter) on the forwarding path, as Cilium's BPF host routing does. */
#ifndef CNILAB_FIB_H
#define CNILAB_FIB_H
#include "common.h"
#include "maps.h"
#include "ipv4.h"

#ifndef AF_INET
#define AF_INET 2
#endif

/* CFG_ROUTING_MODE values (userspace: ROUTING_MODE in constants.ts). */
#define ROUTING_TUNNEL 0
#define ROUTING_NATIVE 1

static __always_inline int routing_native(void)
{
	return config_get(CFG_ROUTING_MODE) == ROUTING_NATIVE;
}

/* FIB lookup for a packet that entered on skb->ifindex, with input-route semantics (the lxc as the
 * incoming interface, policy rules honoured: no BPF_FIB_LOOKUP_DIRECT/OUTPUT), i.e. the route the kernel
 * itself would pick when forwarding this packet.
 * tot_len stays 0 on purpose: with it the kernel compares the IP header's length with the route MTU, and
 * a TSO/GSO super-packet from the pod (tot_len up to 64 KiB) would come back FRAG_NEEDED. Without it the
 * kernel checks the skb with is_skb_forwardable(), which lets GSO packets through (they are segmented at
 * the device) and still catches real oversize frames. */
static __always_inline long fib_lookup_v4(struct __sk_buff *skb, const struct pkt_info *pi, struct bpf_fib_lookup *fib)
{
	__u8 tos = 0;

	bpf_skb_load_bytes(skb, ETH_HLEN + offsetof(struct iphdr, tos), &tos, 1);
	__builtin_memset(fib, 0, sizeof(*fib));
	fib->family = AF_INET;
	fib->l4_protocol = pi->proto;
	if (pi->proto == IPPROTO_TCP || pi->proto == IPPROTO_UDP) { /* pi's ports hold the echo id for ICMP */
		fib->sport = pi->sport;
		fib->dport = pi->dport;
	}
	fib->ifindex = CTX_U32(skb, ifindex);
	fib->tos = tos;
	fib->ipv4_src = pi->saddr;
	fib->ipv4_dst = pi->daddr;
	return bpf_fib_lookup(skb, fib, sizeof(*fib), 0);
}

/* After a successful lookup, with the neighbour known: MACs from the FIB, then a plain redirect to the
 * egress device (no second neighbour lookup). With the neighbour unknown: bpf_redirect_neigh with the
 * nexthop, so the kernel resolves it (ARP) and queues the packet meanwhile. Returns TC_ACT_REDIRECT or
 * a negative value. */
static __always_inline long fib_redirect(struct __sk_buff *skb, const struct bpf_fib_lookup *fib, long fib_ret)
{
	if (fib_ret == BPF_FIB_LKUP_RET_SUCCESS) {
		__u8 macs[12];

		__builtin_memcpy(macs, fib->dmac, 6);
		__builtin_memcpy(macs + 6, fib->smac, 6);
		if (bpf_skb_store_bytes(skb, 0, macs, sizeof(macs), 0) < 0)
			return -1;
		return bpf_redirect(fib->ifindex, 0);
	} else {
		struct bpf_redir_neigh nh = { .nh_family = AF_INET, .ipv4_nh = fib->ipv4_dst };

		return bpf_redirect_neigh(fib->ifindex, &nh, sizeof(nh), 0);
	}
}
#endif
