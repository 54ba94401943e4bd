// SPDX-License-Identifier: Apache-2.0
/* pod-ready-storm-load: a connection storm of a fixed offered rate, for bench/pod-ready-storm.ts.
 *
 *   pod-ready-storm-load HOST PORT RATE MAX_SECONDS
 *
 * Open loop: connection k is started at t0 + k / RATE whether or not the earlier ones have finished
 * (connect, write 1 byte, read 1 byte, close — one TCP_CRR transaction, against cnilab-crr's server).
 * cnilab-crr's client keeps one transaction in flight, so one SYN the path drops stalls it for the 1 s
 * retransmission timeout and its "storm" measures that stall, not load: under pod set-up it collapsed to
 * a few hundred connections/s in one cluster while the other's ran at 10k/s. Here a slow connection
 * delays only itself, both clusters get the same offered load, and the achieved rate is counted per
 * 100 ms bin so the caller can read it over exactly the window it measured something in.
 *
 * Runs until SIGTERM/SIGINT or MAX_SECONDS, then prints one JSON line:
 *   {"t0_ns":…,"rate":…,"seconds":…,"offered":…,"started":…,"completed":…,"errors":…,"timeouts":…,
 *    "skipped":…,"inflight":…,"syn_retrans":…,"p50_us":…,"p99_us":…,"max_us":…,"bin_ms":100,"bins":[…]}
 * t0_ns is CLOCK_MONOTONIC (the clock of Node's process.hrtime), bins[i] the transactions completed in
 * [t0 + i·100 ms, t0 + (i+1)·100 ms), skipped the starts not made because MAX_INFLIGHT connections were
 * still open, syn_retrans the namespace's TcpExt TCPSynRetrans delta.
 * Built on demand by bench/pod-ready-storm.ts (clang -O2) into dist/bench/. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_INFLIGHT 512
#define TIMEOUT_NS (3ull * 1000000000ull) /* a connection not done by then is given up and counted */
#define BIN_MS 100
#define MAX_LATENCIES (1u << 20)

struct conn {
	int fd; /* -1: free */
	int replying; /* the byte was written, waiting for the answer */
	uint64_t started;
};

static volatile sig_atomic_t stop_requested;
static struct conn conns[MAX_INFLIGHT];
static uint32_t *latencies_us;
static size_t n_latencies;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* TcpExt TCPSynRetrans of this network namespace (/proc/net is per namespace), -1 when unreadable. */
static long syn_retrans(void)
{
	char names[8192], values[8192];
	long result = -1;
	FILE *f = fopen("/proc/net/netstat", "r");

	if (!f)
		return -1;
	while (fgets(names, sizeof(names), f) && fgets(values, sizeof(values), f)) {
		char *sn, *sv, *n, *v;

		if (strncmp(names, "TcpExt:", 7))
			continue;
		n = strtok_r(names, " \n", &sn);
		v = strtok_r(values, " \n", &sv);
		while (n && v) {
			if (!strcmp(n, "TCPSynRetrans")) {
				result = atol(v);
				break;
			}
			n = strtok_r(NULL, " \n", &sn);
			v = strtok_r(NULL, " \n", &sv);
		}
		break;
	}
	fclose(f);
	return result;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void finish(int ep, struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct epoll_event evs[64];
	struct sigaction sa;
	uint64_t t0, end, interval_ns, next_start, last_sweep;
	unsigned long offered = 0, started = 0, completed = 0, errors = 0, timeouts = 0, skipped = 0;
	unsigned long *bins;
	size_t nbins, i;
	long syn0, syn1;
	double rate, seconds;
	int ep, inflight = 0, one = 1;
	char *end_ptr;
	long port;

	if (argc != 5) {
		fprintf(stderr, "usage: pod-ready-storm-load HOST PORT RATE MAX_SECONDS\n");
		return 2;
	}
	if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) {
		fprintf(stderr, "pod-ready-storm-load: bad IPv4 address \"%s\"\n", argv[1]);
		return 2;
	}
	port = strtol(argv[2], &end_ptr, 10);
	if (*end_ptr || port < 1 || port > 65535) {
		fprintf(stderr, "pod-ready-storm-load: bad port \"%s\"\n", argv[2]);
		return 2;
	}
	a.sin_port = htons((uint16_t)port);
	rate = strtod(argv[3], &end_ptr);
	if (*end_ptr || !(rate >= 1 && rate <= 100000)) {
		fprintf(stderr, "pod-ready-storm-load: bad rate \"%s\" (1-100000 connections/s)\n", argv[3]);
		return 2;
	}
	seconds = strtod(argv[4], &end_ptr);
	if (*end_ptr || !(seconds > 0 && seconds <= 3600)) {
		fprintf(stderr, "pod-ready-storm-load: bad duration \"%s\"\n", argv[4]);
		return 2;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: epoll_wait returns at once */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	nbins = (size_t)(seconds * 1000 / BIN_MS) + 2;
	bins = calloc(nbins, sizeof(*bins));
	latencies_us = malloc(MAX_LATENCIES * sizeof(*latencies_us));
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!bins || !latencies_us || ep < 0) {
		perror("pod-ready-storm-load");
		return 1;
	}
	for (i = 0; i < MAX_INFLIGHT; i++)
		conns[i].fd = -1;

	syn0 = syn_retrans();
	interval_ns = (uint64_t)(1e9 / rate);
	t0 = now_ns();
	end = t0 + (uint64_t)(seconds * 1e9);
	next_start = t0;
	last_sweep = t0;
	while (!stop_requested) {
		uint64_t now = now_ns();
		int n, timeout_ms;

		if (now >= end)
			break;
		/* Every start that is due, catching up after a late wakeup: the offered load stays RATE. */
		while (next_start <= now && next_start < end) {
			struct conn *c = NULL;
			int s;

			offered++;
			next_start += interval_ns;
			for (i = 0; i < MAX_INFLIGHT && !c; i++)
				if (conns[i].fd < 0)
					c = &conns[i];
			if (!c) {
				skipped++;
				continue;
			}
			s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			if (s < 0) {
				errors++;
				continue;
			}
			setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			if (connect(s, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS) {
				errors++;
				close(s);
				continue;
			}
			c->fd = s;
			c->replying = 0;
			c->started = now;
			{
				struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
				epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
			}
			started++;
			inflight++;
		}
		/* Connections that took too long: given up, so a dead path cannot pin every slot. */
		if (now - last_sweep > 100000000ull) {
			last_sweep = now;
			for (i = 0; i < MAX_INFLIGHT; i++) {
				if (conns[i].fd >= 0 && now - conns[i].started > TIMEOUT_NS) {
					finish(ep, &conns[i]);
					timeouts++;
					inflight--;
				}
			}
		}
		timeout_ms = next_start > now ? (int)((next_start - now + 999999) / 1000000) : 0;
		if (timeout_ms > 100)
			timeout_ms = 100;
		n = epoll_wait(ep, evs, 64, timeout_ms);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("pod-ready-storm-load epoll_wait");
			return 1;
		}
		for (int k = 0; k < n; k++) {
			struct conn *c = evs[k].data.ptr;
			char b = 'x';

			if (c->fd < 0)
				continue;
			if (!c->replying) {
				int err = 0;
				socklen_t len = sizeof(err);

				if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err || write(c->fd, &b, 1) != 1) {
					finish(ep, c);
					errors++;
					inflight--;
					continue;
				}
				c->replying = 1;
				{
					struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
					epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
				}
				continue;
			}
			{
				ssize_t r = read(c->fd, &b, 1);
				uint64_t done = now_ns();

				if (r < 0 && (errno == EAGAIN || errno == EINTR))
					continue;
				if (r == 1) {
					size_t bin = (size_t)((done - t0) / (BIN_MS * 1000000ull));
					completed++;
					if (bin < nbins)
						bins[bin]++;
					if (n_latencies < MAX_LATENCIES)
						latencies_us[n_latencies++] = (uint32_t)((done - c->started) / 1000);
				} else {
					errors++;
				}
				finish(ep, c);
				inflight--;
			}
		}
	}
	{
		uint64_t t1 = now_ns();
		size_t used = (size_t)((t1 - t0) / (BIN_MS * 1000000ull)) + 1;

		syn1 = syn_retrans();
		qsort(latencies_us, n_latencies, sizeof(*latencies_us), cmp_u32);
		printf("{\"t0_ns\":%llu,\"rate\":%.1f,\"seconds\":%.6f,\"offered\":%lu,\"started\":%lu,\"completed\":%lu,"
		       "\"errors\":%lu,\"timeouts\":%lu,\"skipped\":%lu,\"inflight\":%d,\"syn_retrans\":%ld,"
		       "\"p50_us\":%u,\"p99_us\":%u,\"max_us\":%u,\"bin_ms\":%d,\"bins\":[",
		       (unsigned long long)t0, rate, (t1 - t0) / 1e9, offered, started, completed, errors, timeouts, skipped,
		       inflight, syn0 >= 0 && syn1 >= 0 ? syn1 - syn0 : -1L,
		       n_latencies ? latencies_us[n_latencies / 2] : 0,
		       n_latencies ? latencies_us[(n_latencies * 99) / 100] : 0,
		       n_latencies ? latencies_us[n_latencies - 1] : 0, BIN_MS);
		for (i = 0; i < used && i < nbins; i++)
			printf("%s%lu", i ? "," : "", bins[i]);
		printf("]}\n");
	}
	return 0;
}
