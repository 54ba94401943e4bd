// cnilab-crr: TCP_CRR (one new TCP connection per transaction), netperf style, in C so the connection
// rate measures the network path and not the client's own per-connection cost (the Node.js client
// this replaces was bounded by Node's event loop at ~1.3-2k connections/s on this machine).
//   cnilab-crr server PORT                  accept, read 1 byte, write 1 byte, close; forever
//   cnilab-crr client HOST PORT SECONDS     connect, write 1 byte, read 1 byte, close; one transaction
//                                           in flight; prints {"transactions":N,"errors":E,"seconds":S}
// Built by scripts/bootstrap.sh (make -C harness/traffic/crr) into bin/cnilab-crr.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int port_arg(const char *s)
{
	char *end;
	long p = strtol(s, &end, 10);
	if (*end || p < 1 || p > 65535) {
		fprintf(stderr, "cnilab-crr: bad port \"%s\"\n", s);
		exit(2);
	}
	return (int)p;
}

static int server(int port)
{
	int one = 1, ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY) };

	if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 1024) < 0) {
		perror("cnilab-crr server");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		char b;
		int c = accept(ls, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE)
				continue;
			perror("cnilab-crr accept");
			return 1;
		}
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (read(c, &b, 1) == 1)
			(void)!write(c, &b, 1);
		close(c);
	}
}

static int client(const char *host, int port, double seconds)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	long n = 0, errors = 0;
	int one = 1;
	double t0, until;

	if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
		fprintf(stderr, "cnilab-crr: bad IPv4 address \"%s\"\n", host);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	t0 = now();
	until = t0 + seconds;
	while (now() < until) {
		char b = 'x';
		int s = socket(AF_INET, SOCK_STREAM, 0);
		if (s < 0) {
			perror("cnilab-crr socket");
			return 1;
		}
		setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0 && write(s, &b, 1) == 1 && read(s, &b, 1) == 1)
			n++;
		else
			errors++;
		close(s);
		/* Nothing gets through at all: stop early rather than spin for the whole duration. */
		if (n == 0 && errors > 1000)
			break;
	}
	printf("{\"transactions\":%ld,\"errors\":%ld,\"seconds\":%.6f}\n", n, errors, now() - t0);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "server"))
		return server(port_arg(argv[2]));
	if (argc == 5 && !strcmp(argv[1], "client")) {
		double s = atof(argv[4]);
		if (s <= 0 || s > 3600) {
			fprintf(stderr, "cnilab-crr: bad duration \"%s\"\n", argv[4]);
			return 2;
		}
		return client(argv[2], port_arg(argv[3]), s);
	}
	fprintf(stderr, "usage: cnilab-crr server PORT | client HOST PORT SECONDS\n");
	return 2;
}
