/* IPv4/L4 parsing into a flat summary used by conntrack and events. Loads via bpf_skb_load_bytes so IP
 * options and non-linear skbs need no special casing. */
#ifndef CNILAB_IPV4_H
#define CNILAB_IPV4_H
#include "common.h"

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

struct pkt_info {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;   /* network order; ICMP echo: id on the request side */
	__be16 dport;
	__u8 proto;
	__u8 tcp_flags;
	__u8 icmp_type;
	__u8 icmp_code;
	__u32 len;
};

/* Returns 0 on success, -1 if the packet is malformed (caller drops INVALID_PACKET). */
static __always_inline int parse_ipv4(struct __sk_buff *skb, struct pkt_info *pi)
{
	struct iphdr ip;
	__u32 l4off;
	__u8 l4[14];

	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) < 0)
		return -1;
	if (ip.version != 4 || ip.ihl < 5)
		return -1;
	if (bpf_ntohs(ip.tot_len) < ip.ihl * 4)
		return -1;
	pi->saddr = ip.saddr;
	pi->daddr = ip.daddr;
	pi->proto = ip.protocol;
	pi->len = CTX_U32(skb, len);
	pi->sport = 0;
	pi->dport = 0;
	pi->tcp_flags = 0;
	pi->icmp_type = 0;
	pi->icmp_code = 0;
	/* Non-first fragments carry no L4 header. */
	if (ip.frag_off & bpf_htons(0x1fff))
		return 0;
	l4off = ETH_HLEN + ip.ihl * 4;
	switch (ip.protocol) {
	case IPPROTO_TCP:
		if (bpf_skb_load_bytes(skb, l4off, l4, 14) < 0)
			return -1;
		__builtin_memcpy(&pi->sport, l4, 2);
		__builtin_memcpy(&pi->dport, l4 + 2, 2);
		pi->tcp_flags = l4[13];
		break;
	case IPPROTO_UDP:
	case IPPROTO_SCTP: /* ports at the same offsets as UDP's */
		if (bpf_skb_load_bytes(skb, l4off, l4, 4) < 0)
			return -1;
		__builtin_memcpy(&pi->sport, l4, 2);
		__builtin_memcpy(&pi->dport, l4 + 2, 2);
		break;
	case IPPROTO_ICMP:
		if (bpf_skb_load_bytes(skb, l4off, l4, 8) < 0)
			return -1;
		pi->icmp_type = l4[0];
		pi->icmp_code = l4[1];
		/* Echo request/reply: the identifier plays the port so the reply finds the request's entry. */
		if (l4[0] == 8)
			__builtin_memcpy(&pi->sport, l4 + 4, 2);
		else if (l4[0] == 0)
			__builtin_memcpy(&pi->dport, l4 + 4, 2);
		break;
	}
	return 0;
}

#define IP_TTL_OFF (ETH_HLEN + offsetof(struct iphdr, ttl))
#define IP_CSUM_OFF (ETH_HLEN + offsetof(struct iphdr, check))

/* What a router does before forwarding: TTL <= 1 must not be forwarded (returns 1: caller drops with
 * TTL_EXCEEDED); otherwise decrement it and patch the header checksum incrementally. The TTL shares a
 * 16-bit word with the protocol, which is what the checksum covers. Returns 0, or -1 on a failed
 * load/store (caller drops INVALID_PACKET). */
static __always_inline int ipv4_dec_ttl(struct __sk_buff *skb)
{
	__be16 old_word, new_word;
	__u8 *b = (__u8 *)&new_word;

	if (bpf_skb_load_bytes(skb, IP_TTL_OFF, &old_word, sizeof(old_word)) < 0)
		return -1;
	new_word = old_word;
	if (b[0] <= 1)
		return 1;
#ifdef CNILAB_MUT_NO_TTL_DEC
	/* Mutation (cnilab selftest): forwarded as if this node were no router hop. */
	return 0;
#endif
	b[0] -= 1;
	if (bpf_l3_csum_replace(skb, IP_CSUM_OFF, old_word, new_word, sizeof(new_word)) < 0)
		return -1;
	if (bpf_skb_store_bytes(skb, IP_TTL_OFF, &new_word, sizeof(new_word), 0) < 0)
		return -1;
	return 0;
}

#endif
