/* Delivery to a local endpoint: the frame is rewritten as if the lxc had routed it, then handed to the
 * pod. From a tc ingress hook bpf_redirect_peer skips the lxc's backlog and lands directly in the pod's
 * netns; from an egress hook only bpf_redirect (to the lxc's egress) is allowed. */
#ifndef CNILAB_LXC_H
#define CNILAB_LXC_H
#include "common.h"
#include "maps.h"
#include "eth.h"

static __always_inline int deliver_local(struct __sk_buff *skb, const struct cnilab_endpoint *dst, int from_ingress)
{
	if (eth_store_macs(skb, dst->host_mac, dst->pod_mac) < 0)
		return -1;
	if (from_ingress)
		return bpf_redirect_peer(dst->ifindex, 0);
	return bpf_redirect(dst->ifindex, 0);
}
#endif
