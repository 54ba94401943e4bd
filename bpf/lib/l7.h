/* L7 visibility without a proxy: for the ports the agent configured (hubble.l7Visibility), the datapath
 * copies the first bytes of a packet's payload into an EVENT_L7_CAPTURE record and the agent parses them
 * (DNS messages, HTTP/1.x request and status lines). Captures are made on the client's side, so that a
 * request and its response are seen by the same node: the request where it leaves the client pod
 * (from_container, destination port configured), the response where it is delivered to the client pod
 * (any delivery point, source port configured). Only HTTP messages' first packets are copied (the payload
 * must start like a request or a status line), not their bodies.
 *
 * cnilab_l7_ports is an array indexed by (protocol is UDP) << 16 | port: one inlined lookup per packet,
 * written by the agent only. */
#ifndef CNILAB_L7_H
#define CNILAB_L7_H
#include "common.h"
#include "maps.h"
#include "ipv4.h"
#include "events.h"
#include "conntrack.h"

#define L7_PARSER_DNS 1
#define L7_PARSER_HTTP 2
#define L7_PORTS_UDP_BASE (1 << 16)

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 << 16);
	__type(key, __u32);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cnilab_l7_ports SEC(".maps") CNILAB_MAP;

/* L7_PARSER_* configured for this protocol and port (network order), 0 when none. */
static __always_inline __u8 l7_parser(const struct pkt_info *pi, __be16 port)
{
	__u32 idx;
	__u8 *v;

	if (pi->proto != IPPROTO_TCP && pi->proto != IPPROTO_UDP)
		return 0;
	idx = (pi->proto == IPPROTO_UDP ? L7_PORTS_UDP_BASE : 0) | bpf_ntohs(port);
	v = bpf_map_lookup_elem(&cnilab_l7_ports, &idx);
	return v ? *v : 0;
}

/* The first four bytes of an HTTP/1.x message: a method we know, or "HTTP" of a status line. */
static __always_inline int l7_http_start(__u32 w)
{
	switch (w) {
	case 0x20544547: /* "GET " (little-endian u32) */
	case 0x54534f50: /* "POST" */
	case 0x20545550: /* "PUT " */
	case 0x44414548: /* "HEAD" */
	case 0x454c4544: /* "DELE" */
	case 0x43544150: /* "PATC" */
	case 0x4954504f: /* "OPTI" */
	case 0x50545448: /* "HTTP" */
		return 1;
	}
	return 0;
}

/* Copies the payload of a packet on a configured port. `is_reply`: a response (source port configured),
 * else a request (destination port configured). Reported like a trace: direction EGRESS, the client's
 * connection. */
static __always_inline void l7_capture(struct __sk_buff *skb, const struct pkt_info *pi, __u32 ifindex,
				       __u32 src_identity, __u32 dst_identity, __u8 is_reply)
{
	struct event_meta m = {
		.type = EVENT_L7_CAPTURE,
		.direction = DIR_EGRESS,
		.is_reply = is_reply,
		.ifindex = ifindex,
		.src_identity = src_identity,
		.dst_identity = dst_identity,
		.trace_reason = is_reply ? TRACE_REASON_REPLY : TRACE_REASON_ESTABLISHED,
	};
	struct cnilab_l7_event *ev;
	__u8 parser, ihl, doff;
	__u32 off, first;
	__u64 len; /* 64-bit all along: a 32-bit value would be zero-extended into a copy the bounds miss */

	parser = l7_parser(pi, is_reply ? pi->sport : pi->dport);
	if (!parser || observer_off(OBSERVER_OFF_L7))
		return;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ihl, 1) < 0)
		return;
	off = ETH_HLEN + (ihl & 0x0f) * 4;
	if (pi->proto == IPPROTO_TCP) {
		if (bpf_skb_load_bytes(skb, off + 12, &doff, 1) < 0)
			return;
		off += (doff >> 4) * 4;
	} else {
		off += 8;
	}
	len = CTX_U32(skb, len);
	if (len <= off)
		return; /* no payload: a bare ACK, SYN or FIN */
	len -= off;
	if (parser == L7_PARSER_HTTP) {
		if (len < 4 || bpf_skb_load_bytes(skb, off, &first, 4) < 0 || !l7_http_start(first))
			return;
	}
	if (len > L7_PAYLOAD_MAX)
		len = L7_PAYLOAD_MAX;
	ev = bpf_ringbuf_reserve(&cnilab_events, sizeof(*ev), 0);
	if (!ev) {
		count_lost();
		return;
	}
	fill_event(&ev->hdr, skb, &m, pi);
	/* A bounded, non-zero length the verifier can see: clang knows len <= L7_PAYLOAD_MAX already and would
	 * drop the checks, so the mask is made opaque to it. */
	asm volatile("%0 &= 0xff" : "+r"(len));
	if (len == 0 || len > L7_PAYLOAD_MAX || bpf_skb_load_bytes(skb, off, ev->payload, (__u32)len) < 0) {
		bpf_ringbuf_discard(ev, 0);
		return;
	}
	ev->hdr.payload_len = len;
	bpf_ringbuf_submit(ev, submit_flags());
}

/* A packet a client pod sends (from_container, after policy allowed it). */
static __always_inline void l7_request(struct __sk_buff *skb, const struct pkt_info *pi, __u32 ifindex,
				       __u32 src_identity, __u32 dst_identity)
{
	l7_capture(skb, pi, ifindex, src_identity, dst_identity, 0);
}

/* A packet delivered to a local pod (every delivery point, after policy). */
static __always_inline void l7_response(struct __sk_buff *skb, const struct pkt_info *pi, __u32 ifindex,
					__u32 src_identity, __u32 dst_identity)
{
	l7_capture(skb, pi, ifindex, src_identity, dst_identity, 1);
}
#endif
