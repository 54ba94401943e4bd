// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* What the datapath's building blocks cost on this kernel, one program per operation, each doing it
 * OPS times per run (bench/datapath-conn-bench.ts --ops runs them through BPF_PROG_TEST_RUN with a
 * repeat count and subtracts op_none). Maps shaped like the datapath's: a 16-byte key in a HASH and an
 * LRU_HASH (conntrack), an LPM trie with a /24 and a /32 (ipcache). op_setup fills them. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define OPS 16

struct key16 { __u32 a, b, c, d; };
struct val56 { __u64 v[7]; };
struct lpm_key { __u32 prefixlen; __u32 ip; };

struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 65536); __type(key, struct key16); __type(value, struct val56); } h SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_LRU_HASH); __uint(max_entries, 65536); __type(key, struct key16); __type(value, struct val56); } lru SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_LRU_HASH); __uint(max_entries, 65536); __uint(map_flags, BPF_F_NO_COMMON_LRU); __type(key, struct key16); __type(value, struct val56); } lru_pcpu SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_LPM_TRIE); __uint(max_entries, 1024); __uint(map_flags, BPF_F_NO_PREALLOC); __type(key, struct lpm_key); __type(value, __u32); } lpm SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } ctr SEC(".maps");

static __always_inline __u64 next(void)
{
	__u32 z = 0;
	__u64 *c = bpf_map_lookup_elem(&ctr, &z);

	return c ? (*c)++ : 0;
}

SEC("tc") int op_none(struct __sk_buff *skb) { return TC_ACT_OK; }

SEC("tc") int op_setup(struct __sk_buff *skb)
{
	struct val56 v = {};
	struct lpm_key k24 = { 24, bpf_htonl(0xc6130200) }, k32 = { 32, bpf_htonl(0xc613021e) };
	__u32 x = 1;

	for (int i = 0; i < OPS; i++) {
		struct key16 k = { i, 1, 2, 3 };

		bpf_map_update_elem(&h, &k, &v, BPF_ANY);
		bpf_map_update_elem(&lru, &k, &v, BPF_ANY);
	}
	bpf_map_update_elem(&lpm, &k24, &x, BPF_ANY);
	bpf_map_update_elem(&lpm, &k32, &x, BPF_ANY);
	return TC_ACT_OK;
}

SEC("tc") int op_ktime(struct __sk_buff *skb)
{
	__u64 s = 0;

	for (int i = 0; i < OPS; i++) s += bpf_ktime_get_ns();
	return s == 1 ? TC_ACT_SHOT : TC_ACT_OK;
}

SEC("tc") int op_ktime_coarse(struct __sk_buff *skb)
{
	__u64 s = 0;

	for (int i = 0; i < OPS; i++) s += bpf_ktime_get_coarse_ns();
	return s == 1 ? TC_ACT_SHOT : TC_ACT_OK;
}

#define LOOKUP_PROG(name, map, base)                                                  \
	SEC("tc") int name(struct __sk_buff *skb)                                      \
	{                                                                              \
		__u64 s = 0;                                                           \
		for (int i = 0; i < OPS; i++) {                                        \
			struct key16 k = { i + (base), 1, 2, 3 };                      \
			s += bpf_map_lookup_elem(&map, &k) != NULL;                    \
		}                                                                      \
		return s == 1000 ? TC_ACT_SHOT : TC_ACT_OK;                            \
	}
LOOKUP_PROG(op_hash_hit, h, 0)
LOOKUP_PROG(op_hash_miss, h, 100)
LOOKUP_PROG(op_lru_hit, lru, 0)
LOOKUP_PROG(op_lru_miss, lru, 100)

SEC("tc") int op_lru_delete_miss(struct __sk_buff *skb)
{
	for (int i = 0; i < OPS; i++) {
		struct key16 k = { i + 100, 1, 2, 3 };

		bpf_map_delete_elem(&lru, &k);
	}
	return TC_ACT_OK;
}

/* A fresh key each time (conntrack's create of a new connection): insert, and the LRU recycles. */
SEC("tc") int op_lru_update_new(struct __sk_buff *skb)
{
	struct val56 v = {};
	__u64 n = next();

	for (int i = 0; i < OPS; i++) {
		struct key16 k = { 1000 + (__u32)(n * OPS + i), 7, 2, 3 };

		bpf_map_update_elem(&lru, &k, &v, BPF_ANY);
	}
	return TC_ACT_OK;
}

/* The same with per-CPU LRU lists (BPF_F_NO_COMMON_LRU): no shared list lock, but each CPU evicts from
 * its own share of the entries, which changes which connections an overflowing table forgets. */
SEC("tc") int op_lru_pcpu_update_new(struct __sk_buff *skb)
{
	struct val56 v = {};
	__u64 n = next();

	for (int i = 0; i < OPS; i++) {
		struct key16 k = { 1000 + (__u32)(n * OPS + i), 7, 2, 3 };

		bpf_map_update_elem(&lru_pcpu, &k, &v, BPF_ANY);
	}
	return TC_ACT_OK;
}

SEC("tc") int op_hash_update_new(struct __sk_buff *skb)
{
	struct val56 v = {};
	__u64 n = next();

	for (int i = 0; i < OPS; i++) {
		struct key16 k = { 1000 + (__u32)((n * OPS + i) & 0x7fff), 7, 2, 3 };

		bpf_map_update_elem(&h, &k, &v, BPF_ANY);
	}
	return TC_ACT_OK;
}

SEC("tc") int op_lpm(struct __sk_buff *skb)
{
	__u64 s = 0;

	for (int i = 0; i < OPS; i++) {
		struct lpm_key k = { 32, bpf_htonl(0xc6130200 + 30 + (i & 1)) };
		__u32 *v = bpf_map_lookup_elem(&lpm, &k);

		s += v ? *v : 0;
	}
	return s == 1000 ? TC_ACT_SHOT : TC_ACT_OK;
}

SEC("tc") int op_atomic(struct __sk_buff *skb)
{
	struct key16 k = { 0, 1, 2, 3 };
	struct val56 *v = bpf_map_lookup_elem(&h, &k);

	if (!v)
		return TC_ACT_SHOT;
	for (int i = 0; i < OPS; i++) __sync_fetch_and_add(&v->v[0], 1);
	return TC_ACT_OK;
}

SEC("tc") int op_load_bytes(struct __sk_buff *skb)
{
	__u8 b[20];
	__u64 s = 0;

	for (int i = 0; i < OPS; i++) {
		if (bpf_skb_load_bytes(skb, 14, b, sizeof(b)) < 0)
			return TC_ACT_SHOT;
		s += b[i & 7];
	}
	return s == 1 ? TC_ACT_SHOT : TC_ACT_OK;
}

SEC("tc") int op_store_bytes(struct __sk_buff *skb)
{
	__u8 m[12] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2 };

	for (int i = 0; i < OPS; i++)
		if (bpf_skb_store_bytes(skb, 0, m, sizeof(m), 0) < 0)
			return TC_ACT_SHOT;
	return TC_ACT_OK;
}

SEC("tc") int op_l3_csum(struct __sk_buff *skb)
{
	for (int i = 0; i < OPS; i++)
		if (bpf_l3_csum_replace(skb, 24, bpf_htons(0x4006), bpf_htons(0x3f06), 2) < 0)
			return TC_ACT_SHOT;
	return TC_ACT_OK;
}

SEC("tc") int op_tunnel_key(struct __sk_buff *skb)
{
	struct bpf_tunnel_key key = { .remote_ipv4 = 0xc612000c, .tunnel_id = 1001, .tunnel_ttl = 64 };

	for (int i = 0; i < OPS; i++)
		if (bpf_skb_set_tunnel_key(skb, &key, sizeof(key), 0) < 0)
			return TC_ACT_SHOT;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
