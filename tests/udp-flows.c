/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * udp-flows - UDP flows of known length for the root tests, IPv4 or IPv6
 * (nfqe-gen and nfqe-sink speak IPv4 only).
 *
 *	udp-flows send --src ADDR [--src ADDR...] --dst ADDR [--dport P]
 *		       [--sport P] [--ports K] --count N [--slow R]
 *		       [--gap-us G] [--pace-us U] [--timeout S]
 *	udp-flows recv --bind ADDR [--port P] --expect N [--timeout S]
 *		       [--ready-file PATH]
 *
 * send: one socket per flow, bound to each --src with the ports sport ..
 * sport+K-1 (flows = sources x K), connected to --dst:--dport. It sends N
 * rounds of one datagram per flow: after each of the first R rounds it
 * sleeps G us (so that a decision on a flow's early packets can take
 * effect before its next one arrives), after the others U us. Exit 0 when
 * every datagram was sent, 1 otherwise (or after S seconds, default 30).
 *
 * recv: one socket bound to ADDR:P counts datagrams per source (address,
 * port) until N have arrived or S seconds (default 30) passed, then prints
 *	received TOTAL
 *	flow ADDR PORT COUNT		(one line per source, in arrival order)
 * Exit 0 when N arrived, 1 on timeout. The ready file is created once the
 * socket is bound.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SRC_MAX		16
#define FLOW_MAX	256
#define COUNT_MAX	1000000
#define RCVBUF		(8 << 20)

struct addr {
	struct sockaddr_storage	ss;
	socklen_t		len;
};

static void usage(void)
{
	fprintf(stderr,
		"usage: udp-flows send --src ADDR [--src ADDR...] --dst ADDR "
		"[--dport P] [--sport P] [--ports K]\n"
		"                      --count N [--slow R] [--gap-us G] "
		"[--pace-us U] [--timeout S]\n"
		"       udp-flows recv --bind ADDR [--port P] --expect N "
		"[--timeout S] [--ready-file PATH]\n");
	exit(2);
}

static unsigned long num(const char *s, unsigned long min, unsigned long max)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || !*s || *end || v < min || v > max) {
		fprintf(stderr, "udp-flows: '%s' is not in %lu..%lu\n", s, min,
			max);
		exit(2);
	}
	return v;
}

static void addr_parse(const char *s, uint16_t port, struct addr *ret)
{
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ret->ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ret->ss;

	memset(ret, 0, sizeof(*ret));
	if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		ret->len = sizeof(*a6);
	} else if (inet_pton(AF_INET, s, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		ret->len = sizeof(*a4);
	} else {
		fprintf(stderr, "udp-flows: '%s' is not an address\n", s);
		exit(2);
	}
}

static void addr_set_port(struct addr *a, uint16_t port)
{
	if (a->ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
}

static void sleep_us(unsigned long us)
{
	struct timespec ts = { us / 1000000, (long)(us % 1000000) * 1000 };

	while (us && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int run_send(const char **srcs, unsigned nsrc, const char *dst_s,
		    uint16_t dport, uint16_t sport, unsigned ports,
		    unsigned long count, unsigned long slow,
		    unsigned long gap_us, unsigned long pace_us)
{
	unsigned nflows = nsrc * ports;
	int fds[FLOW_MAX];
	struct addr dst;
	unsigned long errors = 0;
	char payload[64];

	addr_parse(dst_s, dport, &dst);
	for (unsigned i = 0; i < nflows; i++) {
		struct addr src;

		addr_parse(srcs[i / ports], 0, &src);
		addr_set_port(&src, (uint16_t)(sport + i % ports));
		if (src.ss.ss_family != dst.ss.ss_family) {
			fprintf(stderr, "udp-flows: %s and %s differ in "
				"family\n", srcs[i / ports], dst_s);
			return 2;
		}
		fds[i] = socket(src.ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC,
				0);
		if (fds[i] < 0 ||
		    bind(fds[i], (struct sockaddr *)&src.ss, src.len) < 0 ||
		    connect(fds[i], (struct sockaddr *)&dst.ss, dst.len) < 0) {
			fprintf(stderr, "udp-flows: flow %u from %s port %u: "
				"%s\n", i, srcs[i / ports], sport + i % ports,
				strerror(errno));
			return 1;
		}
	}
	for (unsigned long r = 0; r < count; r++) {
		for (unsigned i = 0; i < nflows; i++) {
			int len = snprintf(payload, sizeof(payload),
					   "nfqe udp-flows %u %lu", i, r);

			if (send(fds[i], payload, (size_t)len, 0) != len) {
				if (!errors++)
					fprintf(stderr, "udp-flows: send: %s\n",
						strerror(errno));
			}
		}
		sleep_us(r < slow ? gap_us : pace_us);
	}
	for (unsigned i = 0; i < nflows; i++)
		close(fds[i]);
	printf("sent %lu errors %lu\n", count * nflows - errors, errors);
	return errors ? 1 : 0;
}

struct flow_count {
	struct sockaddr_storage	from;
	unsigned long		n;
};

static bool same_source(const struct sockaddr_storage *a,
			const struct sockaddr_storage *b)
{
	const struct sockaddr_in6 *a6 = (const void *)a, *b6 = (const void *)b;
	const struct sockaddr_in *a4 = (const void *)a, *b4 = (const void *)b;

	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET6)
		return a6->sin6_port == b6->sin6_port &&
		       !memcmp(&a6->sin6_addr, &b6->sin6_addr, 16);
	return a4->sin_port == b4->sin_port &&
	       a4->sin_addr.s_addr == b4->sin_addr.s_addr;
}

static void source_print(const struct flow_count *f)
{
	char s[INET6_ADDRSTRLEN] = "?";
	unsigned port;

	if (f->from.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)&f->from;

		inet_ntop(AF_INET6, &a->sin6_addr, s, sizeof(s));
		port = ntohs(a->sin6_port);
	} else {
		const struct sockaddr_in *a = (const void *)&f->from;

		inet_ntop(AF_INET, &a->sin_addr, s, sizeof(s));
		port = ntohs(a->sin_port);
	}
	printf("flow %s %u %lu\n", s, port, f->n);
}

static int run_recv(const char *bind_s, uint16_t port, unsigned long expect,
		    unsigned long timeout_s, const char *ready)
{
	static struct flow_count flows[FLOW_MAX];
	unsigned nflows = 0;
	unsigned long total = 0, other = 0;
	struct timespec now, end;
	struct addr local;
	int fd, buf = RCVBUF;
	char payload[2048];

	addr_parse(bind_s, port, &local);
	fd = socket(local.ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto err;
	/* the flows arrive at once: room for all of them (FORCE as root) */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (bind(fd, (struct sockaddr *)&local.ss, local.len) < 0)
		goto err;
	if (ready) {
		int rfd = open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

		if (rfd < 0)
			goto err;
		close(rfd);
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += (time_t)timeout_s;
	while (total < expect) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		struct sockaddr_storage from;
		socklen_t flen = sizeof(from);
		long left;
		unsigned i;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (end.tv_sec - now.tv_sec) * 1000 +
		       (end.tv_nsec - now.tv_nsec) / 1000000;
		if (left <= 0)
			break;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		memset(&from, 0, sizeof(from));
		if (recvfrom(fd, payload, sizeof(payload), MSG_DONTWAIT,
			     (struct sockaddr *)&from, &flen) < 0)
			continue;
		total++;
		for (i = 0; i < nflows; i++)
			if (same_source(&flows[i].from, &from))
				break;
		if (i == nflows && nflows < FLOW_MAX)
			flows[nflows++].from = from;
		if (i < nflows)
			flows[i].n++;
		else
			other++;
	}
	printf("received %lu\n", total);
	for (unsigned i = 0; i < nflows; i++)
		source_print(&flows[i]);
	if (other)
		printf("other %lu\n", other);
	close(fd);
	return total >= expect ? 0 : 1;

err:
	fprintf(stderr, "udp-flows: %s port %u: %s\n", bind_s, port,
		strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "src", required_argument, NULL, 's' },
		{ "dst", required_argument, NULL, 'd' },
		{ "dport", required_argument, NULL, 'D' },
		{ "sport", required_argument, NULL, 'S' },
		{ "ports", required_argument, NULL, 'k' },
		{ "count", required_argument, NULL, 'n' },
		{ "slow", required_argument, NULL, 'r' },
		{ "gap-us", required_argument, NULL, 'g' },
		{ "pace-us", required_argument, NULL, 'u' },
		{ "timeout", required_argument, NULL, 't' },
		{ "bind", required_argument, NULL, 'b' },
		{ "port", required_argument, NULL, 'p' },
		{ "expect", required_argument, NULL, 'e' },
		{ "ready-file", required_argument, NULL, 'R' },
		{ 0 }
	};
	const char *srcs[SRC_MAX], *dst = NULL, *bind_s = NULL, *ready = NULL;
	unsigned nsrc = 0, ports = 1;
	unsigned long count = 0, slow = 0, gap_us = 0, pace_us = 0;
	unsigned long timeout_s = 30, expect = 0;
	uint16_t dport = 9, sport = 3000, port = 9;
	bool sending;
	int c;

	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "send"))
		sending = true;
	else if (!strcmp(argv[1], "recv"))
		sending = false;
	else
		usage();
	argv++;
	argc--;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (nsrc == SRC_MAX)
				usage();
			srcs[nsrc++] = optarg;
			break;
		case 'd':
			dst = optarg;
			break;
		case 'D':
			dport = (uint16_t)num(optarg, 1, 65535);
			break;
		case 'S':
			sport = (uint16_t)num(optarg, 1, 65535);
			break;
		case 'k':
			ports = (unsigned)num(optarg, 1, FLOW_MAX);
			break;
		case 'n':
			count = num(optarg, 1, COUNT_MAX);
			break;
		case 'r':
			slow = num(optarg, 0, COUNT_MAX);
			break;
		case 'g':
			gap_us = num(optarg, 0, 1000000);
			break;
		case 'u':
			pace_us = num(optarg, 0, 1000000);
			break;
		case 't':
			timeout_s = num(optarg, 1, 3600);
			break;
		case 'b':
			bind_s = optarg;
			break;
		case 'p':
			port = (uint16_t)num(optarg, 1, 65535);
			break;
		case 'e':
			expect = num(optarg, 1, COUNT_MAX * FLOW_MAX);
			break;
		case 'R':
			ready = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind < argc)
		usage();
	if (sending) {
		if (!nsrc || !dst || !count || nsrc * ports > FLOW_MAX ||
		    sport + ports - 1 > 65535)
			usage();
		/* bounded in time whatever the arguments say */
		alarm((unsigned)timeout_s);
		return run_send(srcs, nsrc, dst, dport, sport, ports, count,
				slow, gap_us, pace_us);
	}
	if (!bind_s || !expect)
		usage();
	return run_recv(bind_s, port, expect, timeout_s, ready);
}
