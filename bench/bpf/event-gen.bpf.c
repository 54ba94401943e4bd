// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Event generator for bench/observer-bench.ts: each run of the program (BPF_PROG_TEST_RUN with a repeat
 * count) puts EVENTS_PER_RUN records into a ring buffer of the datapath's size, copied from templates the
 * benchmark writes (real records of the current layout: traces at several points, drops, ICMP), with a
 * fresh ktime and source port. It measures the consumer, so it does nothing but produce. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define RECORD_BYTES 64
#define TEMPLATES 16
#define EVENTS_PER_RUN 32

struct record {
	__u8 b[RECORD_BYTES];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} gen_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TEMPLATES);
	__type(key, __u32);
	__type(value, struct record);
} gen_templates SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} gen_counters SEC(".maps"); /* [0] produced, [1] ring full */

SEC("tc")
int gen(struct __sk_buff *skb)
{
	__u32 k0 = 0, k1 = 1;
	__u64 *produced = bpf_map_lookup_elem(&gen_counters, &k0);
	__u64 *full = bpf_map_lookup_elem(&gen_counters, &k1);

	if (!produced || !full)
		return 0;
	for (int i = 0; i < EVENTS_PER_RUN; i++) {
		__u32 t = (__u32)(*produced + i) % TEMPLATES;
		struct record *tpl = bpf_map_lookup_elem(&gen_templates, &t);
		struct record *r;

		if (!tpl)
			return 0;
		r = bpf_ringbuf_reserve(&gen_events, sizeof(*r), 0);
		if (!r) {
			*full += 1;
			continue;
		}
		__builtin_memcpy(r, tpl, sizeof(*r));
		*(__u64 *)&r->b[0] = bpf_ktime_get_ns();
		*(__u16 *)&r->b[32] = (__u16)(*produced + i); /* source port: distinct flows */
		bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
	}
	*produced += EVENTS_PER_RUN;
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
