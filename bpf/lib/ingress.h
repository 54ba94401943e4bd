/* The last steps of a packet that arrives at this node (from the underlay in from_netdev, from the tunnel
 * in from_overlay) for one of its pods: the receiver's ingress policy (bpf_redirect_peer skips its
 * to_container, so ingress cannot wait for it), the reverse-NAT mark of a NodePort flow translated to
 * this local backend, one router hop, the L7 capture of a response, delivery, and Hubble's to-endpoint.
 * Both entry points must do exactly this, in this order; one copy keeps them from drifting apart. */
#ifndef CNILAB_INGRESS_H
#define CNILAB_INGRESS_H
#include "common.h"
#include "ipv4.h"
#include "events.h"
#include "conntrack.h"
#include "lxc.h"
#include "policy.h"
#include "l7.h"

/* `deliver` is nodeport_fwd's: the packet was translated to a local backend here. */
static __always_inline int ingress_to_endpoint(struct __sk_buff *skb, struct pkt_info *pi, struct ct_result *ct,
					       const struct cnilab_endpoint *ep, __u32 src_identity, int deliver)
{
	__u32 dst_identity = ep->identity;
	int ret;

	ret = policy_enforce(skb, pi, ct, NULL, ep, src_identity, dst_identity);
	if (ret)
		return ret;
	/* A NodePort flow translated to this local backend: its replies need reverse NAT. */
	if (deliver && !ct->svc)
		ct_set_svc(pi);
	/* This node routes the packet from the underlay or the tunnel to the pod: one router hop. */
	ret = ipv4_dec_ttl(skb);
	if (ret)
		return send_drop(skb, ret > 0 ? DROP_TTL_EXCEEDED : DROP_INVALID_PACKET, DIR_INGRESS, src_identity,
				 dst_identity, pi, ct->is_reply);
	l7_response(skb, pi, ep->ifindex, src_identity, dst_identity);
	ret = deliver_local(skb, ep, 1);
	if (ret < 0)
		return send_drop(skb, DROP_INVALID_PACKET, DIR_INGRESS, src_identity, dst_identity, pi, ct->is_reply);
	if (ct->report)
		send_trace(skb, TRACE_TO_ENDPOINT, DIR_INGRESS, ep->ifindex, src_identity, dst_identity, pi, ct);
	return ret;
}

#endif /* CNILAB_INGRESS_H */
