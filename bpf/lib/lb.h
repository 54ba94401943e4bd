/* Service load balancing (kube-proxy replacement): the service and backend maps the agent writes
 * (agent/service/), backend selection (random, Maglev, ClientIP affinity), shared by the socket-level
 * programs (bpf_sock.c, cgroup hooks: translation at connect/sendmsg time) and the tc programs (per-packet
 * translation for what never passed a socket of the cluster). Layouts mirrored in
 * agent/datapath/constants.ts (LB_*).
 *
 * A service frontend (address, port, protocol) has a master entry at slot 0 holding the backend count, and
 * one entry per slot 1..count naming a backend id; a backend id maps to an address and port. The agent
 * keeps the slots dense (removing a backend moves the last slot into its place), so a random pick is one
 * modulo and two lookups. NodePort frontends have address 0: they match any address of a node. */
#ifndef CNILAB_LB_H
#define CNILAB_LB_H
#include "common.h"
#include "maps.h"

#ifndef CNILAB_MAP
#define CNILAB_MAP
#endif
#ifndef IDENTITY_REMOTE_NODE
#define IDENTITY_REMOTE_NODE 6
#endif

/* Hubble DropReason: a service with no backend. */
#ifndef DROP_SERVICE_BACKEND_NOT_FOUND
#define DROP_SERVICE_BACKEND_NOT_FOUND 158
#endif

/* Scopes of a frontend: externalTrafficPolicy Local keeps node-local backends in EXT (what external
 * clients get) and every backend in INT (what clients inside the cluster get). */
#define LB_SCOPE_EXT 0
#define LB_SCOPE_INT 1

/* cnilab_lb_svc value flags (slot 0). */
#define LB_F_NODEPORT 0x01
#define LB_F_LOCAL 0x02
#define LB_F_TWO_SCOPES 0x04
#define LB_F_MAGLEV 0x08
#define LB_F_AFFINITY 0x10

/* Maglev lookup table size per service: a prime, Cilium's default. Removing one of N backends then
 * moves at most ~0.5% of the other backends' flows (agent/service/maglev.ts builds the table). */
#define LB_MAGLEV_M 16381

struct cnilab_lb_key {
	__be32 addr;   /* ClusterIP, or 0 for a NodePort (any node address) */
	__be16 dport;  /* network order */
	__u16 slot;    /* 0: the master entry; 1..count: backend slots */
	__u8 proto;    /* IPPROTO_TCP / IPPROTO_UDP */
	__u8 scope;    /* LB_SCOPE_* */
	__u16 pad;
};
CNILAB_STATIC_ASSERT(sizeof(struct cnilab_lb_key) == 12, "lb key layout");

struct cnilab_lb_svc {
	__u32 backend_id;       /* slot > 0: the backend of this slot */
	__u16 count;            /* slot 0: number of backends (slots 1..count) */
	__u16 svc_id;           /* the service port's id: reverse NAT index, affinity and Maglev key */
	__u32 affinity_timeout; /* seconds of ClientIP affinity, 0 none (slot 0) */
	__u8 flags;             /* LB_F_* (slot 0) */
	__u8 pad[3];
};
CNILAB_STATIC_ASSERT(sizeof(struct cnilab_lb_svc) == 16, "lb service value layout");

#define LB_BE_LOCAL 0x01 /* the backend runs on this node */

struct cnilab_lb_backend {
	__be32 addr;
	__be16 port;  /* network order */
	__u8 proto;
	__u8 flags;   /* LB_BE_* */
};
CNILAB_STATIC_ASSERT(sizeof(struct cnilab_lb_backend) == 8, "lb backend layout");

/* Socket-level reverse translation: a socket that connect()/sendmsg() sent to a backend instead of the
 * service must see the service as its peer (getpeername, recvmsg source). */
struct cnilab_lb_sk_key {
	__u64 cookie;  /* bpf_get_socket_cookie */
	__be32 addr;   /* backend */
	__be16 port;
	__u16 pad;
};
CNILAB_STATIC_ASSERT(sizeof(struct cnilab_lb_sk_key) == 16, "lb socket key layout");

struct cnilab_lb_sk_val {
	__be32 addr;   /* service frontend the socket asked for */
	__be16 port;
	__u16 svc_id;
};
CNILAB_STATIC_ASSERT(sizeof(struct cnilab_lb_sk_val) == 8, "lb socket value layout");

/* ClientIP session affinity: per client (its IP at tc, its network namespace for sockets) and service. */
struct cnilab_lb_aff_key {
	__u64 client;  /* IPv4 address (network order in the low 32 bits), or a netns cookie */
	__u16 svc_id;
	__u8 netns;    /* 1: client is a netns cookie */
	__u8 pad[5];
};
CNILAB_STATIC_ASSERT(sizeof(struct cnilab_lb_aff_key) == 16, "lb affinity key layout");

struct cnilab_lb_aff_val {
	__u32 backend_id;
	__u32 last_used;  /* seconds of monotonic time */
};
CNILAB_STATIC_ASSERT(sizeof(struct cnilab_lb_aff_val) == 8, "lb affinity value layout");

/* The network namespaces whose sockets this node load-balances (its own and its pods'), by netns cookie:
 * the socket programs are attached to the root cgroup, so they see every socket of the machine and must
 * leave alone those of other nodes and clusters. */
#define LB_NS_HOST 0x01

struct cnilab_lb_ns_val {
	__u32 identity;  /* the endpoint's security identity, IDENTITY_HOST for the node */
	__be32 ip;       /* the endpoint's address (the node's underlay address for the node) */
	__u32 flags;     /* LB_NS_* */
};
CNILAB_STATIC_ASSERT(sizeof(struct cnilab_lb_ns_val) == 12, "lb netns value layout");

struct cnilab_lb_maglev {
	__u32 backend_ids[LB_MAGLEV_M];
};

/* Written by the agent's service manager; read by bpf_sock.c and the tc programs. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 131072);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct cnilab_lb_key);
	__type(value, struct cnilab_lb_svc);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cnilab_lb_svc SEC(".maps") CNILAB_MAP;

/* Written by the agent's service manager (backend id -> address). Ids are per service port, so a backend
 * removed from one service is gone for that service's affinity entries even if another still uses it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 131072);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct cnilab_lb_backend);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cnilab_lb_be SEC(".maps") CNILAB_MAP;

/* Written by the agent for Maglev services (svc_id -> lookup table); read at tc. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct cnilab_lb_maglev);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cnilab_lb_mgl SEC(".maps") CNILAB_MAP;

/* Written by bpf_sock.c at connect/sendmsg, read at getpeername/recvmsg; LRU ages out dead sockets. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct cnilab_lb_sk_key);
	__type(value, struct cnilab_lb_sk_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cnilab_lb_sk SEC(".maps") CNILAB_MAP;

/* Written and read by the datapath on ClientIP-affinity services. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct cnilab_lb_aff_key);
	__type(value, struct cnilab_lb_aff_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cnilab_lb_aff SEC(".maps") CNILAB_MAP;

/* Written by the agent (its node's netns and each endpoint's at CNI ADD); read by bpf_sock.c. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct cnilab_lb_ns_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cnilab_lb_ns SEC(".maps") CNILAB_MAP;

static __always_inline struct cnilab_lb_svc *lb_lookup(__be32 addr, __be16 dport, __u8 proto, __u8 scope)
{
	struct cnilab_lb_key key = { .addr = addr, .dport = dport, .proto = proto, .scope = scope };

	return bpf_map_lookup_elem(&cnilab_lb_svc, &key);
}

/* The frontend for a packet or socket addressed to addr:dport. A node address with a NodePort port falls
 * back to the wildcard NodePort entry; `node_addr` says whether addr is one of a node's. In-cluster
 * clients (`internal`) get the INT scope of a Local NodePort (every backend). */
static __always_inline struct cnilab_lb_svc *lb_lookup_service(__be32 addr, __be16 dport, __u8 proto, int node_addr,
							       int internal, struct cnilab_lb_key *found)
{
	struct cnilab_lb_svc *svc;

	found->addr = addr;
	found->dport = dport;
	found->slot = 0;
	found->proto = proto;
	found->scope = LB_SCOPE_EXT;
	found->pad = 0;
	svc = bpf_map_lookup_elem(&cnilab_lb_svc, found);
	if (!svc && node_addr) {
		found->addr = 0;
		svc = bpf_map_lookup_elem(&cnilab_lb_svc, found);
		if (svc && !(svc->flags & LB_F_NODEPORT))
			svc = NULL;
	}
	if (svc && internal && (svc->flags & LB_F_TWO_SCOPES)) {
		found->scope = LB_SCOPE_INT;
		svc = bpf_map_lookup_elem(&cnilab_lb_svc, found);
	}
	return svc;
}

static __always_inline struct cnilab_lb_backend *lb_backend(__u32 id)
{
	return bpf_map_lookup_elem(&cnilab_lb_be, &id);
}

/* Seconds of CLOCK_MONOTONIC, at tick resolution: the coarse clock costs ~5 ns against ~40 ns for the fine
 * one (see ct_clock_ns in conntrack.h), and every new TCP connection of a pod reads it (lb4_remap_direct). */
static __always_inline __u32 lb_now_seconds(void)
{
	return (__u32)(bpf_ktime_get_coarse_ns() / 1000000000ULL);
}

/* The backend id of `slot` (1..count) of a frontend. */
static __always_inline __u32 lb_slot_backend(const struct cnilab_lb_key *frontend, __u16 slot)
{
	struct cnilab_lb_key key = *frontend;
	struct cnilab_lb_svc *s;

	key.slot = slot;
	s = bpf_map_lookup_elem(&cnilab_lb_svc, &key);
	return s ? s->backend_id : 0;
}

static __always_inline __u32 lb_select_random(const struct cnilab_lb_key *frontend, const struct cnilab_lb_svc *svc)
{
	if (!svc->count)
		return 0;
	return lb_slot_backend(frontend, (__u16)(bpf_get_prandom_u32() % svc->count) + 1);
}

/* The affinity entry's backend if it is still fresh and still a backend of the service; 0 otherwise. */
static __always_inline __u32 lb_affinity_get(const struct cnilab_lb_svc *svc, __u64 client, __u8 netns)
{
	struct cnilab_lb_aff_key key = { .client = client, .svc_id = svc->svc_id, .netns = netns };
	struct cnilab_lb_aff_val *v = bpf_map_lookup_elem(&cnilab_lb_aff, &key);
	__u32 now = lb_now_seconds();

	if (!v)
		return 0;
	if (now - v->last_used > svc->affinity_timeout || !lb_backend(v->backend_id)) {
		bpf_map_delete_elem(&cnilab_lb_aff, &key);
		return 0;
	}
	v->last_used = now;
	return v->backend_id;
}

static __always_inline void lb_affinity_put(const struct cnilab_lb_svc *svc, __u64 client, __u8 netns, __u32 backend_id)
{
	struct cnilab_lb_aff_key key = { .client = client, .svc_id = svc->svc_id, .netns = netns };
	struct cnilab_lb_aff_val v = { .backend_id = backend_id, .last_used = lb_now_seconds() };

	bpf_map_update_elem(&cnilab_lb_aff, &key, &v, BPF_ANY);
}
#endif
