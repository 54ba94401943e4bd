// SPDX-License-Identifier: Apache-2.0
/*
 * The sandbox ("pause") container of cnilab's CRI tests: PID 1 of a pod that holds its namespaces and
 * does nothing else. It waits for a signal, reaps any child it inherits (PID 1's duty in a PID
 * namespace), and exits 0 on SIGINT/SIGTERM. Linked statically (musl) so the image needs no libc.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig)
{
	(void)sig;
	_exit(0);
}

static void reap(int sig)
{
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

int main(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "-v") || !strcmp(argv[1], "--version"))) {
		printf("cnilab pause 1.0\n");
		return 0;
	}
	if (getpid() != 1)
		fprintf(stderr, "pause: warning: not PID 1\n");
	struct sigaction term = { .sa_handler = stop };
	struct sigaction chld = { .sa_handler = reap, .sa_flags = SA_NOCLDSTOP };
	if (sigaction(SIGINT, &term, NULL) < 0 || sigaction(SIGTERM, &term, NULL) < 0 || sigaction(SIGCHLD, &chld, NULL) < 0) {
		fprintf(stderr, "pause: sigaction: %s\n", strerror(errno));
		return 1;
	}
	for (;;)
		pause();
}
