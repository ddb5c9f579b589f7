// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * notify-listen SOCKET: a stand-in for the service manager's notification
 * socket. Binds a unix datagram socket at SOCKET and prints every
 * sd_notify(3) message it receives, one assignment per line, flushed, until
 * SIGTERM. The socket file existing means it listens.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char msg[4096];
	int fd;

	if (argc != 2 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: notify-listen SOCKET\n");
		return 2;
	}
	strcpy(sa.sun_path, argv[1]);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		fprintf(stderr, "notify-listen: %s: %s\n", argv[1],
			strerror(errno));
		return 1;
	}
	for (;;) {
		ssize_t n = recv(fd, msg, sizeof(msg) - 1, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "notify-listen: recv: %s\n",
				strerror(errno));
			return 1;
		}
		msg[n] = '\0';
		/* a message is newline-separated assignments */
		printf("%s%s", msg, n && msg[n - 1] == '\n' ? "" : "\n");
		fflush(stdout);
	}
}
