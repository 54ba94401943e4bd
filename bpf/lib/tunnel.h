/* VXLAN encapsulation through a collect_md device: the tunnel key carries the remote node and, as Cilium
 * does, the source security identity in the VNI. */
#ifndef CNILAB_TUNNEL_H
#define CNILAB_TUNNEL_H
#include "common.h"
#include "maps.h"

#define TUNNEL_TTL 64

/* Returns TC_ACT_REDIRECT on success, or a negative errno-like value (caller decides the drop). */
static __always_inline int tunnel_redirect(struct __sk_buff *skb, __be32 remote, __u32 src_identity)
{
	struct bpf_tunnel_key key = {};
	__u32 ifindex = config_get(CFG_TUNNEL_IFINDEX);

	if (!ifindex || !remote)
		return -1;
	key.remote_ipv4 = bpf_ntohl(remote); /* the helper wants host order */
	key.tunnel_id = src_identity;
#ifdef CNILAB_MUT_REMOTE_WRONG_NODE
	/* Mutation (cnilab selftest): the next address on the underlay, i.e. another node (or nobody). */
	key.remote_ipv4 += 1;
#endif
#ifdef CNILAB_MUT_WRONG_VNI
	/* Mutation (cnilab selftest): the VNI is not the sender's identity. */
	key.tunnel_id = src_identity + 1;
#endif
	key.tunnel_ttl = TUNNEL_TTL;
	if (bpf_skb_set_tunnel_key(skb, &key, sizeof(key), 0) < 0)
		return -1;
	return bpf_redirect(ifindex, 0);
}

/* Source identity of a decapsulated packet (the sender put it in the VNI); 0 if no tunnel metadata. */
static __always_inline __u32 tunnel_src_identity(struct __sk_buff *skb)
{
	struct bpf_tunnel_key key = {};

	if (bpf_skb_get_tunnel_key(skb, &key, sizeof(key), 0) < 0)
		return IDENTITY_UNKNOWN;
	return key.tunnel_id;
}
#endif
