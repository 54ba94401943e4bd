// SPDX-License-Identifier: Apache-2.0
/*
 * cnilab's CNI plugin entry point, as the runtime executes it (bin/cni/cnilab).
 *
 * Why C: a pod's network is ready only once this process has run, and starting Node.js alone costs
 * 40-150 ms here, more than the whole per-pod budget. This forwarder does no CNI logic of its own: it
 * hands the invocation (the CNI_* environment and the config on stdin) to the node's agent, which
 * runs the TypeScript plugin (agent/cni/main.ts runPlugin) in-process, and prints the agent's answer.
 * Whenever it cannot take that fast path (no agentSocket string in the config, an agent that does
 * not answer, a command other than ADD/DEL/CHECK) it executes the Node.js plugin next to it
 * (cnilab-node), which gives the same answers, CNI error codes included, at Node's start-up cost.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_STDIN (1 << 20)

static char *read_all(int fd, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap + 1);
	if (!buf)
		return NULL;
	for (;;) {
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n == cap) {
			if (cap >= MAX_STDIN)
				break;
			cap *= 2;
			char *nb = realloc(buf, cap + 1);
			if (!nb)
				break;
			buf = nb;
		}
	}
	buf[n] = 0;
	*len = n;
	return buf;
}

/* The value of "agentSocket" when it is a plain JSON string (no escapes); otherwise NULL. */
static char *find_agent_socket(const char *json)
{
	const char *k = strstr(json, "\"agentSocket\"");
	if (!k)
		return NULL;
	k += strlen("\"agentSocket\"");
	while (*k == ' ' || *k == '\t' || *k == '\n' || *k == '\r')
		k++;
	if (*k++ != ':')
		return NULL;
	while (*k == ' ' || *k == '\t' || *k == '\n' || *k == '\r')
		k++;
	if (*k++ != '"')
		return NULL;
	const char *end = k;
	while (*end && *end != '"' && *end != '\\')
		end++;
	if (*end != '"' || end == k || (size_t)(end - k) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return NULL;
	return strndup(k, (size_t)(end - k));
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

/* Forward to the agent; returns the plugin's exit code, or -1 to fall back to the Node.js plugin. */
static int forward(const char *socket_path, const char *config, size_t config_len)
{
	/* Worst case every byte escapes to \u00XX (6 bytes). */
	size_t cap = 256 + config_len * 6;
	for (size_t i = 0; i < sizeof(ENV_KEYS) / sizeof(ENV_KEYS[0]); i++) {
		const char *v = getenv(ENV_KEYS[i]);
		cap += 32 + (v ? strlen(v) * 6 : 0);
	}
	char *body = malloc(cap);
	if (!body)
		return -1;
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
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	strncpy(addr.sun_path, socket_path, sizeof(addr.sun_path) - 1);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		free(body);
		if (fd >= 0)
			close(fd);
		return -1;
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
		return -1;
	}
	size_t rlen;
	char *resp = read_all(fd, &rlen);
	close(fd);
	if (!resp)
		return -1;
	/* HTTP/1.1 200 ...\r\n headers \r\n\r\n body; the exit code is in X-Cni-Exit-Code. */
	char *sep = strstr(resp, "\r\n\r\n");
	if (strncmp(resp, "HTTP/1.1 200", 12) != 0 || !sep) {
		free(resp);
		return -1;
	}
	*sep = 0;
	char *code_hdr = strcasestr(resp, "\r\nx-cni-exit-code:");
	if (!code_hdr) {
		free(resp);
		return -1;
	}
	int code = atoi(code_hdr + strlen("\r\nx-cni-exit-code:"));
	const char *out = sep + 4;
	if (write_all(1, out, strlen(out)) < 0) {
		free(resp);
		return 999;
	}
	free(resp);
	return code;
}

static void exec_node_plugin(const char *config, size_t config_len)
{
	char self[4096];
	ssize_t l = readlink("/proc/self/exe", self, sizeof(self) - 32);
	if (l <= 0) {
		printf("{\"cniVersion\":\"1.0.0\",\"code\":999,\"msg\":\"cnilab plugin: cannot find itself\"}\n");
		exit(1);
	}
	self[l] = 0;
	char *slash = strrchr(self, '/');
	strcpy(slash + 1, "cnilab-node");
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
	printf("{\"cniVersion\":\"1.0.0\",\"code\":999,\"msg\":\"cnilab plugin: cannot execute %s: %s\"}\n", self,
	       strerror(errno));
	exit(1);
}

int main(void)
{
	size_t len = 0;
	char *config = read_all(0, &len);
	const char *cmd = getenv("CNI_COMMAND");
	if (config && cmd && (!strcmp(cmd, "ADD") || !strcmp(cmd, "DEL") || !strcmp(cmd, "CHECK"))) {
		char *socket_path = find_agent_socket(config);
		if (socket_path) {
			int code = forward(socket_path, config, len);
			if (code >= 0)
				return code;
		}
	}
	exec_node_plugin(config ? config : "", config ? len : 0);
	return 1;
}
