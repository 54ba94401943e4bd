// SPDX-License-Identifier: Apache-2.0
/* Batched reading of the datapath's BPF ring buffer for the agent (Node.js through koffi).
 *
 * libbpf's ring_buffer__consume calls a callback once per record. Called into JavaScript, that costs a
 * native -> JS transition per event, on the event loop that also serves CNI calls; it was the main cost
 * of visibility. Here the callback is C: it appends each record to a caller-owned batch buffer as
 *   [u32 length][record bytes, padded to 4]
 * and JavaScript gets the whole batch from one call, decoding only what it needs.
 *
 * libbpf advances the consumer position before it calls the callback, so a record handed to us is
 * consumed whether we keep it or not. To never lose one, the callback stops the drain (a negative
 * return) as soon as the space left could not hold a record of the largest size the datapath emits;
 * the next call continues where this one stopped. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>

#define BATCH_FULL (-ENOSPC)

struct batch {
	uint8_t *buf;
	uint32_t cap;
	uint32_t used;
	uint32_t count;
	uint32_t max_record;
	uint32_t full;
	uint64_t oversize; /* records larger than max_record that did not fit (never expected) */
};

struct cnilab_rb {
	struct ring_buffer *rb;
	struct batch b;
};

static inline uint32_t slot_len(uint32_t size)
{
	return 4 + ((size + 3u) & ~3u);
}

static int on_sample(void *ctx, void *data, size_t size)
{
	struct batch *b = ctx;
	uint32_t need = slot_len((uint32_t)size);

	if (b->used + need > b->cap) {
		b->oversize++;
		b->full = 1;
		return BATCH_FULL;
	}
	memcpy(b->buf + b->used, &(uint32_t){ (uint32_t)size }, 4);
	memcpy(b->buf + b->used + 4, data, size);
	b->used += need;
	b->count++;
	if (b->cap - b->used < slot_len(b->max_record)) {
		b->full = 1;
		return BATCH_FULL;
	}
	return 0;
}

/* max_record: the largest record the datapath emits (the agent passes its layout's maximum). */
struct cnilab_rb *cnilab_rb_new(int map_fd, uint32_t max_record)
{
	struct cnilab_rb *h = calloc(1, sizeof(*h));

	if (!h) {
		errno = ENOMEM;
		return NULL;
	}
	h->b.max_record = max_record;
	h->rb = ring_buffer__new(map_fd, on_sample, &h->b, NULL);
	if (!h->rb) {
		int err = errno;

		free(h);
		errno = err;
		return NULL;
	}
	return h;
}

/* Copies available records into buf. Returns the bytes used (>= 0) or -errno; out[0] = records,
 * out[1] = 1 when it stopped because buf was full (call again), out[2] = oversize records so far. */
int cnilab_rb_drain(struct cnilab_rb *h, void *buf, uint32_t cap, uint32_t *out)
{
	int ret;

	if (!h || !buf || cap < slot_len(h->b.max_record))
		return -EINVAL;
	h->b.buf = buf;
	h->b.cap = cap;
	h->b.used = 0;
	h->b.count = 0;
	h->b.full = 0;
	ret = ring_buffer__consume(h->rb);
	out[0] = h->b.count;
	out[1] = h->b.full;
	out[2] = (uint32_t)h->b.oversize;
	if (ret < 0 && ret != BATCH_FULL)
		return ret;
	return (int)h->b.used;
}

int cnilab_rb_epoll_fd(struct cnilab_rb *h)
{
	return ring_buffer__epoll_fd(h->rb);
}

void cnilab_rb_free(struct cnilab_rb *h)
{
	if (!h)
		return;
	ring_buffer__free(h->rb);
	free(h);
}
