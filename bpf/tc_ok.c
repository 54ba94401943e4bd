// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A tc program that does nothing: every packet passes (TC_ACT_OK). Not part of the datapath. The
 * benchmarks attach it where the datapath's programs sit (bench/tc-hook-cost.ts) on a cluster without
 * BPF, to measure what the tc hooks themselves cost a connection (clsact, cls_bpf, one program run),
 * apart from what the datapath's programs do in them. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int tc_ok(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
