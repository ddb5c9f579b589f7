// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dns-query - send DNS queries over UDP for the root tests; no answer is
 * awaited (the receiving end is an nfqe-sink that counts datagrams).
 *
 *	dns-query --src ADDR --dst ADDR [--port 53] [--count N] NAME...
 *	dns-query --src ADDR --dst ADDR --raw HEX     (any bytes, malformed)
 *
 * Each NAME is sent N times (default 1) as a standard query (RD, type A,
 * class IN) from one socket bound to ADDR, so the sink can tell senders
 * apart by address. Exit 0 when every datagram was sent, 1 otherwise,
 * 2 on usage errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void usage(void)
{
	fprintf(stderr, "usage: dns-query --src ADDR --dst ADDR [--port P] "
		"[--count N] (NAME... | --raw HEX)\n");
	exit(2);
}

/* A standard query for dotted @name into @buf (at least 512 bytes). */
static int query_build(uint8_t *buf, const char *name, uint16_t id)
{
	size_t n = 12, len = strlen(name);

	memset(buf, 0, 12);
	buf[0] = id >> 8;
	buf[1] = id & 0xff;
	buf[2] = 0x01;		/* RD */
	buf[5] = 1;		/* one question */
	while (len) {
		const char *dot = memchr(name, '.', len);
		size_t l = dot ? (size_t)(dot - name) : len;

		if (!l || l > 63 || n + 1 + l + 5 > 12 + 255 + 4)
			return -1;
		buf[n++] = (uint8_t)l;
		memcpy(buf + n, name, l);
		n += l;
		name += l + (dot ? 1 : 0);
		len -= l + (dot ? 1 : 0);
	}
	buf[n++] = 0;
	buf[n++] = 0;
	buf[n++] = 1;		/* A */
	buf[n++] = 0;
	buf[n++] = 1;		/* IN */
	return (int)n;
}

static int hex_decode(const char *s, uint8_t *buf, size_t cap)
{
	size_t n = 0;

	while (s[0] && s[1]) {
		unsigned v;

		if (n == cap || sscanf(s, "%2x", &v) != 1)
			return -1;
		buf[n++] = (uint8_t)v;
		s += 2;
	}
	return s[0] ? -1 : (int)n;
}

static int send_one(int fd, const struct sockaddr_in *dst, const uint8_t *buf,
		    size_t len)
{
	if (sendto(fd, buf, len, 0, (const struct sockaddr *)dst,
		   sizeof(*dst)) != (ssize_t)len) {
		fprintf(stderr, "dns-query: sendto: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "src", required_argument, NULL, 's' },
		{ "dst", required_argument, NULL, 'd' },
		{ "port", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'c' },
		{ "raw", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct sockaddr_in src = { .sin_family = AF_INET };
	struct sockaddr_in dst = { .sin_family = AF_INET };
	const char *raw = NULL;
	unsigned long count = 1;
	uint8_t buf[600];
	int fd, c, len, ret = 0;
	uint16_t id = 1;

	dst.sin_port = htons(53);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (inet_pton(AF_INET, optarg, &src.sin_addr) != 1)
				usage();
			break;
		case 'd':
			if (inet_pton(AF_INET, optarg, &dst.sin_addr) != 1)
				usage();
			break;
		case 'p':
			dst.sin_port = htons((uint16_t)strtoul(optarg, NULL,
							       10));
			break;
		case 'c':
			count = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			raw = optarg;
			break;
		default:
			usage();
		}
	}
	if (!dst.sin_addr.s_addr || !src.sin_addr.s_addr || !count ||
	    (!raw && optind == argc) || (raw && optind != argc))
		usage();
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
		fprintf(stderr, "dns-query: socket/bind: %s\n",
			strerror(errno));
		return 1;
	}
	if (raw) {
		len = hex_decode(raw, buf, sizeof(buf));
		if (len < 0)
			usage();
		for (unsigned long i = 0; i < count && !ret; i++)
			ret = send_one(fd, &dst, buf, (size_t)len);
	}
	for (int a = optind; a < argc && !ret; a++) {
		for (unsigned long i = 0; i < count && !ret; i++) {
			len = query_build(buf, argv[a], id++);
			if (len < 0) {
				fprintf(stderr, "dns-query: bad name '%s'\n",
					argv[a]);
				return 2;
			}
			ret = send_one(fd, &dst, buf, (size_t)len);
		}
	}
	close(fd);
	return ret ? 1 : 0;
}
