/* Shared includes and Hubble numbers. Userspace mirror: agent/datapath/constants.ts. */
#ifndef CNILAB_COMMON_H
#define CNILAB_COMMON_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* Hubble DropReason (flow.proto). */
#define DROP_POLICY_DENIED 133
#define DROP_INVALID_PACKET 134
#define DROP_UNSUPPORTED_L3 139
#define DROP_STALE_OR_UNROUTABLE_IP 151
#define DROP_SERVICE_BACKEND_NOT_FOUND 158
#define DROP_NAT_NO_MAPPING 167 /* Hubble NO_MAPPING_FOR_NAT_MASQUERADE: a translated flow's reply without its reverse entry */
#define DROP_NO_TUNNEL_ENDPOINT 160
#define DROP_FIB_LOOKUP_FAILED 169
#define DROP_POLICY_DENY 181      /* an explicit deny rule matched (DROP_POLICY_DENIED: no allow rule) */
#define DROP_TTL_EXCEEDED 196

/* Cilium's monitor trace points (pkg/monitor/api TRACE_*): the sub-type of a trace event, which Hubble
 * prints ("to-endpoint") and filters on (`--type trace:to-endpoint`). The agent maps them to Hubble's
 * TraceObservationPoint, equal but for to-endpoint (0 here, TO_ENDPOINT = 101 there). */
#define TRACE_TO_ENDPOINT 0 /* TRACE_TO_LXC */
#define TRACE_TO_STACK 3
#define TRACE_TO_OVERLAY 4
#define TRACE_FROM_ENDPOINT 5 /* TRACE_FROM_LXC */
#define TRACE_FROM_HOST 7
#define TRACE_FROM_OVERLAY 9
#define TRACE_FROM_NETWORK 10
#define TRACE_TO_NETWORK 11

/* Hubble TraceReason: why a trace point forwarded the packet, from conntrack. */
#define TRACE_REASON_NEW 1
#define TRACE_REASON_ESTABLISHED 2
#define TRACE_REASON_REPLY 3

/* Hubble TrafficDirection. */
#define DIR_UNKNOWN 0
#define DIR_INGRESS 1
#define DIR_EGRESS 2

/* Cilium reserved identities. */
#define IDENTITY_UNKNOWN 0
#define IDENTITY_HOST 1
#define IDENTITY_WORLD 2
#define IDENTITY_REMOTE_NODE 6
/* Above the reserved range: identities the cluster allocates (pods). */
#define IDENTITY_CLUSTER_MIN 256
/* Local-scope identities (CIDR identities, as Cilium's 1<<24 flag): meaningful on one node only, never
 * carried on the wire. */
#define IDENTITY_LOCAL_SCOPE_MIN (1U << 24)

#define CNILAB_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)

/* A u32 field of the __sk_buff, read with one load straight from the context pointer. Written as
 * skb->field, clang may keep &skb->field in a register across a function and load through it later,
 * which the verifier rejects ("dereference of modified ctx ptr"). */
#define CTX_U32(skb, field)                                                                     \
	({                                                                                      \
		__u32 __v;                                                                      \
		asm volatile("%0 = *(u32 *)(%1 + %2)"                                           \
			     : "=r"(__v)                                                        \
			     : "r"(skb), "i"(__builtin_offsetof(struct __sk_buff, field)));     \
		__v;                                                                            \
	})

/* Every map is defined once, in its lib/ header, and marked with this. Each program family (bpf_*.c) is
 * compiled on its own and so carries its own copy of the definitions it uses; `bpftool gen object` links
 * the families into one object and keeps one map per name (weak symbols), after checking that all
 * copies agree (type, key/value BTF, max_entries, flags, pinning). */
#define CNILAB_MAP __attribute__((weak))

#endif
