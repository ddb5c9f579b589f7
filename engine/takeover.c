// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The takeover handshake over the control socket (see takeover.h). Both
 * sides are short and blocking with timeouts: the running side answers
 * from its main thread while its workers are paused, the new side has not
 * started any worker yet.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "takeover.h"

#define TAKEOVER_TIMEOUT_MS	5000
#define TAKEOVER_LINE_MAX	4096

int takeover_send(int conn, const unsigned *queues, const int *fds,
		  unsigned n, uint64_t paused_ns)
{
	char line[TAKEOVER_LINE_MAX], *cbuf;
	struct iovec iov;
	struct msghdr mh = { 0 };
	struct cmsghdr *cm;
	size_t pos;
	ssize_t ret;

	if (!n || n > TAKEOVER_MAX_QUEUES)
		return -EINVAL;
	pos = (size_t)snprintf(line, sizeof(line), "ok takeover %u %" PRIu64,
			       n, paused_ns);
	for (unsigned i = 0; i < n && pos < sizeof(line); i++)
		pos += (size_t)snprintf(line + pos, sizeof(line) - pos, " %u",
					queues[i]);
	if (pos + 2 > sizeof(line))
		return -EMSGSIZE;
	line[pos++] = '\n';

	cbuf = calloc(1, CMSG_SPACE(n * sizeof(int)));
	if (!cbuf)
		return -ENOMEM;
	iov.iov_base = line;
	iov.iov_len = pos;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = CMSG_SPACE(n * sizeof(int));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, n * sizeof(int));

	for (;;) {
		ret = sendmsg(conn, &mh, MSG_NOSIGNAL);
		if (ret >= 0 || errno != EAGAIN)
			break;
		/* the connection is non-blocking: wait, bounded */
		if (poll(&(struct pollfd){ .fd = conn, .events = POLLOUT }, 1,
			 TAKEOVER_TIMEOUT_MS) <= 0) {
			errno = ETIMEDOUT;
			break;
		}
	}
	free(cbuf);
	if (ret < 0)
		return -errno;
	return (size_t)ret == pos ? 0 : -EIO;
}

static void close_fds(const int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* Parse the answer line; 0 or -EPROTO with @err. */
static int parse_answer(char *line, unsigned first, unsigned last,
			unsigned nfds, uint64_t *ret_paused, char *err,
			size_t errlen)
{
	unsigned n, q;
	char *p, *end;

	if (!strncmp(line, "error: ", 7)) {
		line[strcspn(line, "\n")] = '\0';
		snprintf(err, errlen, "the running nfqe refused: %s",
			 line + 7);
		return -EPERM;
	}
	if (sscanf(line, "ok takeover %u %" SCNu64, &n, ret_paused) != 2 ||
	    n != last - first + 1 || n != nfds) {
		snprintf(err, errlen, "unexpected takeover answer (%u "
			 "sockets): %.80s", nfds, line);
		return -EPROTO;
	}
	p = line + strlen("ok takeover ");
	strtoul(p, &end, 10);		/* n */
	p = end;
	strtoull(p, &end, 10);		/* paused_ns */
	p = end;
	for (q = first; q <= last; q++) {
		if (strtoul(p, &end, 10) != q || end == p) {
			snprintf(err, errlen, "the running nfqe serves "
				 "other queues than %u:%u", first, last);
			return -EPROTO;
		}
		p = end;
	}
	return 0;
}

int takeover_request(const char *path, unsigned first, unsigned last,
		     int **ret_fds, uint64_t *ret_paused_ns, char *err,
		     size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	unsigned want = last - first + 1, nfds = 0;
	struct timeval tv = { TAKEOVER_TIMEOUT_MS / 1000, 0 };
	char line[TAKEOVER_LINE_MAX + 1], req[64], *cbuf = NULL;
	struct msghdr mh = { 0 };
	struct iovec iov;
	struct cmsghdr *cm;
	int fd, ret, *fds = NULL;
	uint64_t paused;
	ssize_t n;

	if (want > TAKEOVER_MAX_QUEUES) {
		snprintf(err, errlen, "a takeover carries at most %d queues",
			 TAKEOVER_MAX_QUEUES);
		return -EINVAL;
	}
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		goto out;
	}
	snprintf(req, sizeof(req), "takeover %u:%u\n", first, last);
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		ret = -errno;
		snprintf(err, errlen, "%s: sending the request: %s", path,
			 strerror(-ret));
		goto out;
	}

	cbuf = calloc(1, CMSG_SPACE(TAKEOVER_MAX_QUEUES * sizeof(int)));
	fds = malloc(want * sizeof(*fds));
	if (!cbuf || !fds) {
		ret = -ENOMEM;
		goto out;
	}
	iov.iov_base = line;
	iov.iov_len = TAKEOVER_LINE_MAX;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = CMSG_SPACE(TAKEOVER_MAX_QUEUES * sizeof(int));
	n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	if (n <= 0) {
		ret = n < 0 ? -errno : -ECONNRESET;
		snprintf(err, errlen, "%s: no answer: %s", path,
			 strerror(-ret));
		goto out;
	}
	line[n] = '\0';
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		unsigned got;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		got = (unsigned)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		if (nfds + got > want) {
			/* never keep descriptors nobody asked for */
			close_fds((int *)CMSG_DATA(cm), got);
			nfds = want + 1;
			continue;
		}
		memcpy(fds + nfds, CMSG_DATA(cm), got * sizeof(int));
		nfds += got;
	}
	if (mh.msg_flags & MSG_CTRUNC) {
		snprintf(err, errlen, "takeover answer truncated");
		ret = -EPROTO;
	} else {
		ret = parse_answer(line, first, last, nfds, &paused, err,
				   errlen);
	}
	if (ret < 0) {
		if (nfds <= want)
			close_fds(fds, nfds);
		goto out;
	}
	*ret_fds = fds;
	*ret_paused_ns = paused;
	fds = NULL;
out:
	free(fds);
	free(cbuf);
	close(fd);
	return ret;
}
