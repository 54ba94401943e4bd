// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Benchmark program, never attached: the part of the socket LB's connect-time translation
 * (bpf_sock.c sock4_xlate_fwd) whose cost could depend on how many services exist — the frontend
 * lookup (lb_lookup_service), the backend slot of a random pick (lb_select_random) and the backend
 * (lb_backend) — on the datapath's own pinned maps, run by BPF_PROG_TEST_RUN with the kernel's repeat
 * (the kernel runs it N times in one syscall and reports the mean). sock4_connect itself cannot be
 * test-run (this kernel has no BPF_PROG_TEST_RUN for cgroup/sock_addr programs), and from_container
 * rewrites the frame, so its repeats after the first would time the backend-addressed copy; this program
 * only reads the frame. Everything else sock4_xlate_fwd does (the netns lookup, the cnilab_lb_sk insert
 * per socket, the ctx rewrite) is per connection, not per service.
 *
 * The frame: an IPv4/TCP packet to a ClusterIP:port; the first 4 payload bytes (host order) are a
 * spread n: 0 or 1 looks up the frame's own address every run; n > 1 looks up the /18's base + 1 +
 * random % n (the benchmark programs its services at consecutive ClusterIPs from base + 1), so the
 * lookups touch n services' entries, as a node serving connections to many services does.
 * Returns TC_ACT_OK when a backend was found, TC_ACT_SHOT if not. */
#include "lib/common.h"
#include "lib/maps.h"
#include "lib/ipv4.h"
#include "lib/lb.h"

#define FRAME_DADDR (14 + 16)
#define FRAME_DPORT (14 + 20 + 2)
#define FRAME_SPREAD (14 + 20 + 20)

SEC("tc")
int lb_lookup_bench(struct __sk_buff *skb)
{
	struct cnilab_lb_key frontend;
	struct cnilab_lb_backend *be;
	struct cnilab_lb_svc *svc;
	__u32 spread = 0, backend_id;
	__be32 daddr;
	__be16 dport;

	if (bpf_skb_load_bytes(skb, FRAME_DADDR, &daddr, sizeof(daddr)) ||
	    bpf_skb_load_bytes(skb, FRAME_DPORT, &dport, sizeof(dport)))
		return TC_ACT_SHOT;
	bpf_skb_load_bytes(skb, FRAME_SPREAD, &spread, sizeof(spread));
	if (spread > 1)
		daddr = bpf_htonl((bpf_ntohl(daddr) & 0xffffc000) + 1 + bpf_get_prandom_u32() % spread);
	svc = lb_lookup_service(daddr, dport, IPPROTO_TCP, 0, 1, &frontend);
	if (!svc)
		return TC_ACT_SHOT;
	backend_id = lb_select_random(&frontend, svc);
	be = backend_id ? lb_backend(backend_id) : NULL;
	return be && be->addr ? TC_ACT_OK : TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
