/* VXLAN encapsulation through a collect_md device: the tunnel key carries the remote node and, as Cilium
 * does, the source security identity in the VNI. The receiver decides ingress policy on that identity, so
 * both ends are careful with it: the sender never puts the host identity on the wire (it means "this
 * node" wherever it is read), and the receiver only believes an identity it can attribute. */
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
	/* This node's own traffic is, for the receiver, traffic from a remote node (Cilium does the same):
	 * sent as "host" it would pass the receiver's allow-from-host rules, meant for its own kubelet. */
	key.tunnel_id = src_identity == IDENTITY_HOST ? IDENTITY_REMOTE_NODE : src_identity;
#ifdef CNILAB_MUT_REMOTE_WRONG_NODE
	/* Mutation (cnilab selftest): the next address on the underlay, i.e. another node (or nobody). */
	key.remote_ipv4 += 1;
#endif
#ifdef CNILAB_MUT_WRONG_VNI
	/* Mutation (cnilab selftest): the VNI is not the sender's identity. */
	key.tunnel_id += 1;
#endif
	key.tunnel_ttl = TUNNEL_TTL;
	if (bpf_skb_set_tunnel_key(skb, &key, sizeof(key), 0) < 0)
		return -1;
	return bpf_redirect(ifindex, 0);
}

/* Source identity of a decapsulated packet whose inner source address is saddr. The sender put an
 * identity in the VNI; it is believed only when it can be attributed:
 *   - the ipcache gives saddr exactly that identity (a known pod, or remote-node for a node's addresses);
 *   - or it is a cluster (pod) identity and the ipcache places saddr (its /32, or the pod CIDR holding
 *     it) behind the node this packet came from (the outer source): that node hosts the pod and knows its
 *     identity best, even before our ipcache has caught up with a new pod or a label change.
 * Anything else cannot be attributed and becomes world, the identity of traffic from nobody we know:
 * "host" (never valid from the wire: it would pass as this node itself), local-scope identities (CIDR
 * identities exist on one node only), reserved identities the ipcache does not confirm (a pod claiming
 * remote-node), identities contradicting the ipcache, sources the ipcache does not know or places behind
 * another node, and packets without tunnel metadata. World gets only what a policy grants to everyone,
 * so a forged or stale VNI can never gain more than an unknown peer. */
static __always_inline __u32 tunnel_src_identity(struct __sk_buff *skb, __be32 saddr)
{
	struct bpf_tunnel_key key = {};
	struct cnilab_ipcache_val *ic;
	__u32 id;

	if (bpf_skb_get_tunnel_key(skb, &key, sizeof(key), 0) < 0)
		return IDENTITY_WORLD;
	id = key.tunnel_id;
	if (id == IDENTITY_UNKNOWN || id == IDENTITY_HOST || id >= IDENTITY_LOCAL_SCOPE_MIN)
		return IDENTITY_WORLD;
	ic = ipcache_lookup(saddr);
	if (!ic)
		return IDENTITY_WORLD;
	if (ic->identity == id)
		return id;
	if (id >= IDENTITY_CLUSTER_MIN && ic->tunnel_endpoint && ic->tunnel_endpoint == bpf_htonl(key.remote_ipv4))
		return id;
	return IDENTITY_WORLD;
}
#endif
