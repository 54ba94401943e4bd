/* Endpoint, ipcache and config maps. Layouts mirrored in agent/datapath/constants.ts (MAPS, ENDPOINT,
 * IPCACHE_*, CONFIG_*). All maps are pinned by name under the node's pin dir so an agent restart keeps
 * forwarding state. Names must stay <= 15 chars (BPF_OBJ_NAME_LEN - 1). */
#ifndef CNILAB_MAPS_H
#define CNILAB_MAPS_H
#include "common.h"

struct cnilab_endpoint {
	__u32 ifindex;      /* host-side veth (lxc) */
	__be32 ip;          /* pod IPv4, network order */
	__u32 identity;     /* security identity */
	__u16 ep_id;        /* endpoint id */
	__u8 pod_mac[6];    /* pod eth0 */
	__u8 host_mac[6];   /* lxc */
	__u16 pad;
};
CNILAB_STATIC_ASSERT(sizeof(struct cnilab_endpoint) == 28, "endpoint layout");

struct cnilab_ipcache_key {
	__u32 prefixlen;    /* LPM trie: bits that follow */
	__be32 ip;
};
CNILAB_STATIC_ASSERT(sizeof(struct cnilab_ipcache_key) == 8, "ipcache key layout");

struct cnilab_ipcache_val {
	__u32 identity;
	__be32 tunnel_endpoint; /* underlay IPv4, 0 = none */
	__u32 flags;
};
CNILAB_STATIC_ASSERT(sizeof(struct cnilab_ipcache_val) == 12, "ipcache value layout");

/* cnilab_config indexes (u32 values). */
#define CFG_TUNNEL_IFINDEX 0
#define CFG_NODE_IP 1        /* network order */
#define CFG_ROUTER_IP 2      /* network order */
#define CFG_POD_CIDR_NET 3   /* network order */
#define CFG_POD_CIDR_MASK 4  /* network order netmask */
#define CFG_HOST_IFINDEX 5
#define CFG_ROUTING_MODE 6   /* 0 tunnel, 1 native */
#define CFG_NETDEV_IFINDEX 7 /* underlay device (eth0) with from_netdev, native mode */
#define CFG_OBSERVER_OFF 8   /* OBSERVER_OFF_* (lib/events.h): 0 = traces and L7 captures on, plus the
                              * monitor aggregation level in OBSERVER_AGG_MASK (lib/conntrack.h) */
#define CFG_MAX 9

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct cnilab_endpoint);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cnilab_lxc_if SEC(".maps") CNILAB_MAP;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __be32);
	__type(value, struct cnilab_endpoint);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cnilab_lxc_ip SEC(".maps") CNILAB_MAP;

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct cnilab_ipcache_key);
	__type(value, struct cnilab_ipcache_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cnilab_ipcache SEC(".maps") CNILAB_MAP;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CFG_MAX);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cnilab_config SEC(".maps") CNILAB_MAP;

static __always_inline __u32 config_get(__u32 idx)
{
	__u32 *v = bpf_map_lookup_elem(&cnilab_config, &idx);

	return v ? *v : 0;
}

static __always_inline struct cnilab_endpoint *lookup_ep_by_ifindex(__u32 ifindex)
{
	return bpf_map_lookup_elem(&cnilab_lxc_if, &ifindex);
}

static __always_inline struct cnilab_endpoint *lookup_ep_by_ip(__be32 ip)
{
	return bpf_map_lookup_elem(&cnilab_lxc_ip, &ip);
}

/* Longest prefix match: the /32 of a pod if known, else the narrowest CIDR holding ip. */
static __always_inline struct cnilab_ipcache_val *ipcache_lookup(__be32 ip)
{
	struct cnilab_ipcache_key key = { .prefixlen = 32, .ip = ip };

	return bpf_map_lookup_elem(&cnilab_ipcache, &key);
}

static __always_inline int in_pod_cidr(__be32 ip)
{
	__u32 mask = config_get(CFG_POD_CIDR_MASK);

	return mask && (ip & mask) == config_get(CFG_POD_CIDR_NET);
}

/* Identity of an address seen from this node: local endpoint, the node itself, the ipcache (longest
 * prefix: a pod /32, a pod CIDR, or a CIDR identity the policy engine wrote for an ipBlock / toCIDR peer),
 * else world. The node's own addresses come before the ipcache so that a CIDR entry covering them cannot
 * turn the host into a CIDR peer. */
static __always_inline __u32 resolve_identity(__be32 ip)
{
	struct cnilab_endpoint *ep = lookup_ep_by_ip(ip);
	struct cnilab_ipcache_val *ic;

	if (ep)
		return ep->identity;
	if (ip == config_get(CFG_NODE_IP) || ip == config_get(CFG_ROUTER_IP))
		return IDENTITY_HOST;
	ic = ipcache_lookup(ip);
	if (ic)
		return ic->identity;
	return IDENTITY_WORLD;
}
#endif
