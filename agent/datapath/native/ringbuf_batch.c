// SPDX-License-Identifier: Apache-2.0
/* Batched reading of the datapath's BPF ring buffer for the agent (Node.js through koffi).
 *
 * One FFI call copies every available record into a caller-owned batch buffer as
 *   [u32 length][record bytes, padded to 4]
 * and JavaScript walks the whole batch, decoding only what it needs (a native -> JS transition per
 * event, on the event loop that also serves CNI calls, was the main cost of visibility).
 *
 * The ring is read directly from its mmap'ed pages (the kernel's BPF ring buffer layout, as libbpf's
 * ring_buffer reads it), not through ring_buffer__consume: libbpf publishes the consumer position after
 * every record, and that cache line is the one the datapath's bpf_ringbuf_reserve reads on another CPU
 * for every event it emits — a line bouncing between the CPUs twice per event. Here the position is
 * published once per batch. A record is only consumed once it has been copied: when the next one does
 * not fit the batch, the drain stops before it (the caller calls again), so none is ever lost here. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>

struct cnilab_rb {
	int map_fd;
	int epoll_fd;
	unsigned long *consumer_pos; /* the writable first page */
	unsigned long *producer_pos; /* read-only: the producer page, then the data pages mapped twice */
	uint8_t *data;
	size_t page_size;
	size_t data_map_size;
	uint64_t mask;
	uint32_t max_record;
	uint64_t oversize; /* records too large for any batch (never expected): skipped and counted */
};

static inline uint32_t slot_len(uint32_t size)
{
	return 4 + ((size + 3u) & ~3u);
}

/* What a record occupies in the ring: its 8-byte header and the data, rounded up to 8. */
static inline uint32_t ring_len(uint32_t size)
{
	return (size + BPF_RINGBUF_HDR_SZ + 7u) & ~7u;
}

void cnilab_rb_free(struct cnilab_rb *h);

/* max_record: the largest record the datapath emits (the agent passes its layout's maximum). */
struct cnilab_rb *cnilab_rb_new(int map_fd, uint32_t max_record)
{
	struct bpf_map_info info;
	__u32 info_len = sizeof(info);
	struct epoll_event ev = { .events = EPOLLIN };
	struct cnilab_rb *h;
	void *p;
	int err;

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(map_fd, &info, &info_len))
		return NULL; /* errno set */
	if (info.type != BPF_MAP_TYPE_RINGBUF || !info.max_entries || (info.max_entries & (info.max_entries - 1))) {
		errno = EINVAL;
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		errno = ENOMEM;
		return NULL;
	}
	h->map_fd = map_fd;
	h->epoll_fd = -1;
	h->max_record = max_record;
	h->page_size = (size_t)sysconf(_SC_PAGESIZE);
	h->mask = info.max_entries - 1;
	p = mmap(NULL, h->page_size, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	h->consumer_pos = p;
	/* The data pages are mapped twice in a row by the kernel, so a record that wraps around the end of
	 * the ring reads as one contiguous piece. */
	h->data_map_size = h->page_size + 2 * (size_t)info.max_entries;
	p = mmap(NULL, h->data_map_size, PROT_READ, MAP_SHARED, map_fd, (off_t)h->page_size);
	if (p == MAP_FAILED)
		goto fail;
	h->producer_pos = p;
	h->data = (uint8_t *)p + h->page_size;
	h->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (h->epoll_fd < 0)
		goto fail;
	ev.data.fd = map_fd;
	if (epoll_ctl(h->epoll_fd, EPOLL_CTL_ADD, map_fd, &ev) < 0)
		goto fail;
	return h;
fail:
	err = errno;
	cnilab_rb_free(h);
	errno = err;
	return NULL;
}

/* Copies available records into buf. Returns the bytes used (>= 0) or -errno; out[0] = records,
 * out[1] = 1 when it stopped because buf was full (call again), out[2] = oversize records so far. */
int cnilab_rb_drain(struct cnilab_rb *h, void *buf, uint32_t cap, uint32_t *out)
{
	uint8_t *dst = buf;
	uint32_t used = 0, count = 0, full = 0;
	unsigned long cons, prod;

	if (!h || !buf || !h->consumer_pos || cap < slot_len(h->max_record))
		return -EINVAL;
	cons = __atomic_load_n(h->consumer_pos, __ATOMIC_ACQUIRE);
again:
	for (;;) {
		prod = __atomic_load_n(h->producer_pos, __ATOMIC_ACQUIRE);
		if (cons >= prod)
			break;
		while (cons < prod) {
			const uint8_t *hdr = h->data + (cons & h->mask);
			uint32_t len = __atomic_load_n((const uint32_t *)hdr, __ATOMIC_ACQUIRE);
			uint32_t size;

			if (len & BPF_RINGBUF_BUSY_BIT)
				goto done; /* reserved, not yet submitted: later records wait behind it */
			size = len & ~(BPF_RINGBUF_BUSY_BIT | BPF_RINGBUF_DISCARD_BIT);
			if (!(len & BPF_RINGBUF_DISCARD_BIT)) {
				uint32_t need = slot_len(size);

				if (need > cap) {
					h->oversize++; /* could never fit: skip rather than stall the ring */
				} else if (used + need > cap) {
					full = 1;
					goto done;
				} else {
					memcpy(dst + used, &size, 4);
					memcpy(dst + used + 4, hdr + BPF_RINGBUF_HDR_SZ, size);
					used += need;
					count++;
				}
			}
			cons += ring_len(size);
		}
	}
done:
	/* One store per batch: the records up to cons are ours to drop. */
	__atomic_store_n(h->consumer_pos, cons, __ATOMIC_SEQ_CST);
	/* The datapath wakes the reader only for a record committed where the published consumer position
	 * stands. One committed after the last look at the producer but before this store saw an older
	 * position and woke nobody: look once more after publishing (full barrier above), as libbpf does. */
	if (!full && cons < __atomic_load_n(h->producer_pos, __ATOMIC_SEQ_CST) &&
	    !(__atomic_load_n((const uint32_t *)(h->data + (cons & h->mask)), __ATOMIC_SEQ_CST) & BPF_RINGBUF_BUSY_BIT))
		goto again;
	out[0] = count;
	out[1] = full;
	out[2] = (uint32_t)h->oversize;
	return (int)used;
}

int cnilab_rb_epoll_fd(struct cnilab_rb *h)
{
	return h->epoll_fd;
}

void cnilab_rb_free(struct cnilab_rb *h)
{
	if (!h)
		return;
	if (h->epoll_fd >= 0)
		close(h->epoll_fd);
	if (h->producer_pos)
		munmap(h->producer_pos, h->data_map_size);
	if (h->consumer_pos)
		munmap(h->consumer_pos, h->page_size);
	free(h);
}
