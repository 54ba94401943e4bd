// SPDX-License-Identifier: Apache-2.0
/*
 * cnilab's CNI plugin entry point, as the runtime executes it (bin/cni/cnilab).
 *
 * Why C: a pod's network is ready only once this process has run, and starting Node.js alone costs
 * 40-150 ms here, more than the whole per-pod budget. This forwarder does no CNI logic of its own: it
 * hands the invocation (the CNI_* environment and the config on stdin) to the node's agent, which
 * runs the TypeScript plugin (agent/cni/main.ts runPlugin) in-process, and prints the agent's answer.
 * Whenever it cannot take that fast path (no agentSocket string in the config, no agent listening on
 * it, VERSION) it executes the Node.js plugin next to it (cnilab-node), which gives the same answers,
 * CNI error codes included, at Node's start-up cost.
 *
 * It never hangs and never truncates: the connection to the agent has a connect timeout and the whole
 * exchange a deadline (config keys agentConnectTimeoutMs, agentTimeoutMs), after which it answers CNI
 * error 11 (try again later); a config or an answer larger than MAX_INPUT is refused with a CNI error.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Same limit as the TypeScript plugin (MAX_CONFIG_BYTES). */
#define MAX_INPUT (1 << 20)
#define DEFAULT_CONNECT_TIMEOUT_MS 2000
#define DEFAULT_TIMEOUT_MS 90000

/* CNI error codes used here. */
#define CNI_INVALID_NETCONF 7
#define CNI_TRY_AGAIN_LATER 11
#define CNI_INTERNAL 999

static char cni_version[32] = "1.1.0";

/* Print a CNI error object on stdout (msg must need no JSON escaping) and return the exit code 1. */
static int cni_error(int code, const char *msg)
{
	printf("{\"cniVersion\":\"%s\",\"code\":%d,\"msg\":\"%s\"}\n", cni_version, code, msg);
	fflush(stdout);
	return 1;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum read_status { READ_OK, READ_TOO_BIG, READ_TIMEOUT, READ_ERROR };

/*
 * Read fd to EOF into a NUL-terminated buffer of at most MAX_INPUT bytes. deadline_ms < 0 means no
 * deadline (stdin); otherwise every wait is bounded by what is left of it.
 */
static enum read_status read_all(int fd, char **out, size_t *len, long long deadline_ms)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap + 1);
	if (!buf)
		return READ_ERROR;
	for (;;) {
		if (deadline_ms >= 0) {
			long long left = deadline_ms - now_ms();
			struct pollfd p = { .fd = fd, .events = POLLIN };
			int pr = left > 0 ? poll(&p, 1, (int)left) : 0;
			if (pr < 0 && errno == EINTR)
				continue;
			if (pr == 0) {
				free(buf);
				return READ_TIMEOUT;
			}
			if (pr < 0) {
				free(buf);
				return READ_ERROR;
			}
		}
		if (n == cap) {
			/* One byte past the limit tells "exactly MAX_INPUT" from "more". */
			size_t ncap = cap * 2 > MAX_INPUT + 1 ? MAX_INPUT + 1 : cap * 2;
			char *nb = realloc(buf, ncap + 1);
			if (!nb) {
				free(buf);
				return READ_ERROR;
			}
			buf = nb;
			cap = ncap;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return READ_ERROR;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > MAX_INPUT) {
			free(buf);
			return READ_TOO_BIG;
		}
	}
	buf[n] = 0;
	*out = buf;
	*len = n;
	return READ_OK;
}

/* Where the value of top-level-looking key `"key"` starts (after the colon and blanks), or NULL. */
static const char *find_value(const char *json, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\"", key);
	const char *k = strstr(json, pat);
	if (!k)
		return NULL;
	k += strlen(pat);
	while (*k == ' ' || *k == '\t' || *k == '\n' || *k == '\r')
		k++;
	if (*k++ != ':')
		return NULL;
	while (*k == ' ' || *k == '\t' || *k == '\n' || *k == '\r')
		k++;
	return k;
}

/* The value of a key when it is a plain JSON string (no escapes) shorter than max; otherwise NULL. */
static char *find_string(const char *json, const char *key, size_t max)
{
	const char *k = find_value(json, key);
	if (!k || *k++ != '"')
		return NULL;
	const char *end = k;
	while (*end && *end != '"' && *end != '\\')
		end++;
	if (*end != '"' || end == k || (size_t)(end - k) >= max)
		return NULL;
	return strndup(k, (size_t)(end - k));
}

/* A positive whole number of milliseconds (at most 10 minutes), or def. */
static long find_ms(const char *json, const char *key, long def)
{
	const char *k = find_value(json, key);
	if (!k || *k < '0' || *k > '9')
		return def;
	char *end;
	long v = strtol(k, &end, 10);
	return v > 0 && v <= 600000 ? v : def;
}

/* Append s as a JSON string literal. */
static size_t json_string(char *out, const char *s)
{
	size_t n = 0;
	out[n++] = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			out[n++] = '\\';
			out[n++] = (char)*p;
		} else if (*p < 0x20) {
			n += (size_t)sprintf(out + n, "\\u%04x", *p);
		} else {
			out[n++] = (char)*p;
		}
	}
	out[n++] = '"';
	return n;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

static const char *ENV_KEYS[] = { "CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_ARGS", "CNI_PATH" };

#define FALLBACK (-1)

/*
 * Forward to the agent; returns the plugin's exit code (its answer, or a CNI error, printed), or
 * FALLBACK when nobody listens on the socket and the Node.js plugin should answer instead.
 */
static int forward(const char *socket_path, const char *config, size_t config_len, long connect_ms, long total_ms)
{
	long long deadline = now_ms() + total_ms;
	/* Worst case every byte escapes to \u00XX (6 bytes). */
	size_t cap = 256 + config_len * 6;
	for (size_t i = 0; i < sizeof(ENV_KEYS) / sizeof(ENV_KEYS[0]); i++) {
		const char *v = getenv(ENV_KEYS[i]);
		cap += 32 + (v ? strlen(v) * 6 : 0);
	}
	char *body = malloc(cap);
	if (!body)
		return cni_error(CNI_INTERNAL, "cnilab plugin: out of memory");
	size_t n = (size_t)sprintf(body, "{\"env\":{");
	int first = 1;
	for (size_t i = 0; i < sizeof(ENV_KEYS) / sizeof(ENV_KEYS[0]); i++) {
		const char *v = getenv(ENV_KEYS[i]);
		if (!v)
			continue;
		n += (size_t)sprintf(body + n, "%s\"%s\":", first ? "" : ",", ENV_KEYS[i]);
		n += json_string(body + n, v);
		first = 0;
	}
	n += (size_t)sprintf(body + n, "},\"stdin\":");
	n += json_string(body + n, config);
	body[n++] = '}';

	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		free(body);
		return FALLBACK;
	}
	/* A unix-socket connect waits (up to SO_SNDTIMEO) while the agent's accept backlog is full, and
	 * the same bound applies to the writes below. */
	struct timeval tv = { .tv_sec = connect_ms / 1000, .tv_usec = (connect_ms % 1000) * 1000 };
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	strncpy(addr.sun_path, socket_path, sizeof(addr.sun_path) - 1);
	/* An agent restarting under its supervisor has no socket (ENOENT) or nobody behind it
	 * (ECONNREFUSED) for a moment: ADD, DEL and CHECK try again for up to connect_ms (a pause
	 * doubling from 25 ms) before falling back. STATUS answers at once: the runtime asks it to know
	 * whether the network is ready now. */
	const char *cmd = getenv("CNI_COMMAND");
	int patient = cmd && (!strcmp(cmd, "ADD") || !strcmp(cmd, "DEL") || !strcmp(cmd, "CHECK"));
	long long connect_deadline = now_ms() + connect_ms;
	long pause_ms = 25;
	int cr;
	while ((cr = connect(fd, (struct sockaddr *)&addr, sizeof(addr))) < 0 && patient && (errno == ENOENT || errno == ECONNREFUSED)) {
		long long left = connect_deadline - now_ms();
		if (left <= 0)
			break;
		long p = pause_ms < left ? pause_ms : (long)left;
		struct timespec ts = { .tv_sec = p / 1000, .tv_nsec = (p % 1000) * 1000000L };
		nanosleep(&ts, NULL);
		pause_ms = pause_ms * 2 > 400 ? 400 : pause_ms * 2;
	}
	if (cr < 0) {
		int e = errno;
		free(body);
		close(fd);
		/* Nobody there: the Node.js plugin gives the same answer (11) with its own message. */
		if (e == ENOENT || e == ECONNREFUSED)
			return FALLBACK;
		if (e == EAGAIN || e == EWOULDBLOCK || e == EINPROGRESS || e == ETIMEDOUT)
			return cni_error(CNI_TRY_AGAIN_LATER, "cnilab agent did not accept the connection in time (agentConnectTimeoutMs)");
		return FALLBACK;
	}
	char head[256];
	int hl = snprintf(head, sizeof(head),
			  "POST /v1/cni/exec HTTP/1.1\r\nHost: agent\r\nContent-Type: application/json\r\n"
			  "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			  n);
	int ok = write_all(fd, head, (size_t)hl) == 0 && write_all(fd, body, n) == 0;
	free(body);
	if (!ok) {
		close(fd);
		return cni_error(CNI_TRY_AGAIN_LATER, "cnilab agent did not take the request in time");
	}
	char *resp = NULL;
	size_t rlen = 0;
	enum read_status st = read_all(fd, &resp, &rlen, deadline);
	close(fd);
	if (st == READ_TIMEOUT)
		return cni_error(CNI_TRY_AGAIN_LATER, "cnilab agent did not answer in time (agentTimeoutMs)");
	if (st == READ_TOO_BIG)
		return cni_error(CNI_INTERNAL, "cnilab agent's answer is larger than 1 MiB; refused");
	/* The connection ended (reset, or closed) before a whole answer's headers: the agent died in the
	 * middle of the request (SIGKILL, OOM). Its restart restores or removes what it had half-made
	 * and the request is idempotent, so the runtime should send it again: 11, not a hard failure. */
	if (st == READ_ERROR || (st == READ_OK && !strstr(resp, "\r\n\r\n"))) {
		free(resp);
		return cni_error(CNI_TRY_AGAIN_LATER, "cnilab agent closed the connection without answering (restarting?)");
	}
	/* HTTP/1.1 200 ...\r\n headers \r\n\r\n body; the exit code is in X-Cni-Exit-Code. */
	char *sep = strstr(resp, "\r\n\r\n");
	char *code_hdr = NULL;
	if (sep && strncmp(resp, "HTTP/1.1 200", 12) == 0) {
		*sep = 0;
		code_hdr = strcasestr(resp, "\r\nx-cni-exit-code:");
	}
	if (!code_hdr) {
		free(resp);
		return cni_error(CNI_INTERNAL, "cnilab agent answered something that is not a CNI answer");
	}
	int code = atoi(code_hdr + strlen("\r\nx-cni-exit-code:"));
	const char *out = sep + 4;
	if (write_all(1, out, strlen(out)) < 0) {
		free(resp);
		return 1;
	}
	free(resp);
	return code;
}

static void exec_node_plugin(const char *config, size_t config_len)
{
	char self[4096];
	ssize_t l = readlink("/proc/self/exe", self, sizeof(self) - 32);
	if (l <= 0)
		exit(cni_error(CNI_INTERNAL, "cnilab plugin: cannot find itself"));
	self[l] = 0;
	char *slash = strrchr(self, '/');
	strcpy(slash + 1, "cnilab-node");
	/* Installed on a node without Node.js (the DaemonSet copies only this binary): answer what the
	 * Node.js plugin would for the two cases that reach it there. */
	if (access(self, X_OK) != 0) {
		const char *cmd = getenv("CNI_COMMAND");
		if (cmd && !strcmp(cmd, "VERSION")) {
			printf("{\"cniVersion\":\"%s\",\"supportedVersions\":[\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\",\"1.1.0\"]}\n", cni_version);
			exit(0);
		}
		exit(cni_error(CNI_TRY_AGAIN_LATER, "cnilab agent not reachable (no agentSocket answering, no cnilab-node next to the plugin)"));
	}
	/* The Node.js plugin reads the config from stdin again: hand it over through a pipe. */
	int p[2];
	if (pipe(p) == 0) {
		pid_t pid = fork();
		if (pid == 0) {
			close(p[0]);
			write_all(p[1], config, config_len);
			_exit(0);
		}
		close(p[1]);
		dup2(p[0], 0);
		close(p[0]);
	}
	execl(self, "cnilab", (char *)NULL);
	exit(cni_error(CNI_INTERNAL, "cnilab plugin: cannot execute cnilab-node next to it"));
}

int main(void)
{
	size_t len = 0;
	char *config = NULL;
	enum read_status st = read_all(0, &config, &len, -1);
	if (st == READ_TOO_BIG)
		return cni_error(CNI_INVALID_NETCONF, "network configuration on stdin is larger than 1048576 bytes");
	if (st != READ_OK) {
		config = strdup("");
		len = 0;
	}
	/* A NUL inside would cut the config short when it is forwarded as a string: refuse it. */
	if (strlen(config) != len)
		return cni_error(6, "network configuration on stdin contains a NUL byte");
	char *v = find_string(config, "cniVersion", sizeof(cni_version));
	if (v && strspn(v, "0123456789.") == strlen(v))
		strcpy(cni_version, v);
	free(v);
	const char *cmd = getenv("CNI_COMMAND");
	/* VERSION needs no agent (and may come without a config). */
	if (cmd && strcmp(cmd, "VERSION") != 0) {
		char *socket_path = find_string(config, "agentSocket", sizeof(((struct sockaddr_un *)0)->sun_path));
		if (socket_path) {
			long connect_ms = find_ms(config, "agentConnectTimeoutMs", DEFAULT_CONNECT_TIMEOUT_MS);
			long total_ms = find_ms(config, "agentTimeoutMs", DEFAULT_TIMEOUT_MS);
			int code = forward(socket_path, config, len, connect_ms, total_ms);
			if (code != FALLBACK)
				return code;
		}
	}
	exec_node_plugin(config, len);
	return 1;
}
