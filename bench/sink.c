// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nfqe-sink: counts what the lab delivers.
 *
 * A UDP socket bound to 0.0.0.0:PORT (so the kernel sends no ICMP port
 * unreachable back) with a large forced receive buffer, drained with
 * recvmmsg. Packets that carry nfqe-gen's payload (payload.h) are tracked
 * per flow: a sequence number below the highest seen so far is "reordered";
 * "gaps" are the sequence numbers below each flow's highest that never
 * arrived (loss in the middle of a flow; loss at a flow's tail is only
 * visible as sent - received). Other datagrams count in "received" and
 * "foreign".
 *
 * --capture IF reads IPv4 frames from IF with an AF_PACKET socket instead:
 * UDP, TCP (nfqe-gen's duplicate SYNs) and ICMP echo requests, every one
 * seen before the sink's own netfilter and stack, so a DROP rule in the
 * sink's raw PREROUTING keeps its stack from answering (no RST, no echo
 * reply, no port unreachable) without hiding anything from the count.
 *
 * Per flow the sink also remembers the sources it arrived from: (address,
 * port), the port being the echo id for ICMP. After source NAT a flow that
 * left the router on two or more source ports is "split" (the flow is
 * known by the payload's flow index, which NAT does not touch).
 *
 * Exit status: 0 when --expect was met (or not asked for), 1 when the run
 * ended (--timeout, --duration) with --expect unmet, 2 on bad usage or a
 * socket error. SIGINT/SIGTERM print the report and exit 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <linux/if_packet.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "payload.h"
#include "tool.h"

#define SINK_SECONDS_MAX	3600
#define SINK_BATCH		64
#define SINK_MSG_MAX		2048
#define SINK_SRC_SLOTS		4096	/* per-source counters, open addressing */
#define SINK_RCVBUF		(64 << 20)
#define SINK_FLOW_SRCS		4	/* distinct sources remembered per flow */

struct sink_conf {
	uint16_t port;
	uint64_t expect;		/* 0: none */
	double timeout;			/* 0: none */
	double duration;		/* 0: none */
	const char *ready_file;
	const char *capture;		/* AF_PACKET on this interface */
	bool progress;
	bool json;
};

struct flow_state {
	uint32_t max_seq;
	uint32_t count;
	uint32_t nsrc;			/* distinct sources, up to SINK_FLOW_SRCS */
	uint64_t src[SINK_FLOW_SRCS];	/* address << 16 | port */
};

struct src_count {
	uint32_t addr;			/* network order; 0: free slot */
	uint64_t count;
};

struct sink_stats {
	uint64_t received;
	uint64_t foreign;
	uint64_t reordered;
	uint64_t flows;
	uint64_t src_other;		/* sources that found no free slot */
	uint64_t capture_drops;		/* PACKET_STATISTICS tp_drops */
	double first, last;		/* monotonic time of first/last packet */
	struct flow_state *flow;	/* BENCH_FLOWS_MAX entries */
	struct src_count src[SINK_SRC_SLOTS];
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void src_add(struct sink_stats *st, uint32_t addr)
{
	uint32_t h = (ntohl(addr) * 2654435761u) % SINK_SRC_SLOTS;

	for (unsigned int i = 0; i < SINK_SRC_SLOTS; i++) {
		struct src_count *s = &st->src[(h + i) % SINK_SRC_SLOTS];

		if (s->addr == addr) {
			s->count++;
			return;
		}
		if (!s->addr) {
			s->addr = addr;
			s->count = 1;
			return;
		}
	}
	st->src_other++;
}

static void flow_src_add(struct flow_state *f, uint32_t addr, uint16_t port)
{
	uint64_t key = (uint64_t)ntohl(addr) << 16 | ntohs(port);

	for (uint32_t i = 0; i < f->nsrc; i++)
		if (f->src[i] == key)
			return;
	if (f->nsrc < SINK_FLOW_SRCS)
		f->src[f->nsrc++] = key;
}

/* buf/len: the L4 payload; addr and port (network order) its source. */
static void packet_account(struct sink_stats *st, const uint8_t *buf, size_t len,
			   uint32_t addr, uint16_t port, double now)
{
	struct bench_payload pl;
	struct flow_state *f;
	uint32_t flow, seq;

	if (!st->received)
		st->first = now;
	st->last = now;
	st->received++;
	src_add(st, addr);
	if (len < sizeof(pl)) {
		st->foreign++;
		return;
	}
	memcpy(&pl, buf, sizeof(pl));
	flow = ntohl(pl.flow);
	if (ntohl(pl.magic) != BENCH_PAYLOAD_MAGIC || flow >= BENCH_FLOWS_MAX) {
		st->foreign++;
		return;
	}
	seq = ntohl(pl.seq);
	f = &st->flow[flow];
	if (!f->count) {
		st->flows++;
		f->max_seq = seq;
	} else if (seq <= f->max_seq) {
		st->reordered++;
	} else {
		f->max_seq = seq;
	}
	f->count++;
	flow_src_add(f, addr, port);
}

/*
 * A captured IPv4 packet: its L4 payload and source (the echo id is the
 * port of an ICMP echo request). Returns false for anything else, which
 * counts as foreign.
 */
static bool ipv4_payload(const uint8_t *pkt, size_t len, const uint8_t **ret_payload,
			 size_t *ret_len, uint32_t *ret_addr, uint16_t *ret_port)
{
	const struct iphdr *ip = (const struct iphdr *)pkt;
	size_t ihl, tot, hdr;
	uint16_t port;

	if (len < sizeof(*ip) || ip->version != 4)
		return false;
	ihl = ip->ihl * 4u;
	tot = ntohs(ip->tot_len);
	if (ihl < sizeof(*ip) || tot < ihl || tot > len)
		return false;
	if (ntohs(ip->frag_off) & (IP_MF | IP_OFFMASK))
		return false;
	pkt += ihl;
	len = tot - ihl;
	switch (ip->protocol) {
	case IPPROTO_UDP: {
		const struct udphdr *uh = (const struct udphdr *)pkt;

		if (len < sizeof(*uh))
			return false;
		hdr = sizeof(*uh);
		port = uh->source;
		break;
	}
	case IPPROTO_TCP: {
		const struct tcphdr *th = (const struct tcphdr *)pkt;

		if (len < sizeof(*th) || th->doff * 4u < sizeof(*th) || th->doff * 4u > len)
			return false;
		hdr = th->doff * 4u;
		port = th->source;
		break;
	}
	case IPPROTO_ICMP: {
		const struct icmphdr *ih = (const struct icmphdr *)pkt;

		if (len < sizeof(*ih) || ih->type != ICMP_ECHO)
			return false;
		hdr = sizeof(*ih);
		port = ih->un.echo.id;
		break;
	}
	default:
		return false;
	}
	*ret_payload = pkt + hdr;
	*ret_len = len - hdr;
	*ret_addr = ip->saddr;
	*ret_port = port;
	return true;
}

static void capture_account(struct sink_stats *st, const uint8_t *pkt, size_t len,
			    const struct sockaddr_ll *sll, double now)
{
	const uint8_t *payload;
	size_t plen;
	uint32_t addr;
	uint16_t port;

	if (sll->sll_pkttype == PACKET_OUTGOING)
		return;
	if (ipv4_payload(pkt, len, &payload, &plen, &addr, &port)) {
		packet_account(st, payload, plen, addr, port, now);
		return;
	}
	if (!st->received)
		st->first = now;
	st->last = now;
	st->received++;
	st->foreign++;
}

struct flow_totals {
	uint64_t gaps;
	uint64_t split;			/* flows seen from 2+ sources */
	uint32_t sources_max;		/* most sources of one flow */
};

static struct flow_totals flows_sum(const struct sink_stats *st)
{
	struct flow_totals t = { 0 };

	if (!st->flows)
		return t;
	for (uint32_t i = 0; i < BENCH_FLOWS_MAX; i++) {
		const struct flow_state *f = &st->flow[i];

		if (!f->count)
			continue;
		if ((uint64_t)f->max_seq + 1 > f->count)
			t.gaps += (uint64_t)f->max_seq + 1 - f->count;
		if (f->nsrc > 1)
			t.split++;
		if (f->nsrc > t.sources_max)
			t.sources_max = f->nsrc;
	}
	return t;
}

static void report(const struct sink_conf *conf, const struct sink_stats *st)
{
	double secs = st->received > 1 ? st->last - st->first : 0;
	double pps = secs > 0 ? (st->received - 1) / secs : 0;
	struct flow_totals t = flows_sum(st);
	bool first = true;

	if (!conf->json) {
		printf("received %llu flows %llu reordered %llu gaps %llu split %llu "
		       "foreign %llu: %.0f pps\n",
		       (unsigned long long)st->received, (unsigned long long)st->flows,
		       (unsigned long long)st->reordered, (unsigned long long)t.gaps,
		       (unsigned long long)t.split, (unsigned long long)st->foreign, pps);
		return;
	}
	printf("{\"received\":%llu,\"flows\":%llu,\"reordered\":%llu,\"gaps\":%llu,"
	       "\"foreign\":%llu,\"seconds\":%.6f,\"pps\":%.1f,\"split\":%llu,"
	       "\"sources_max\":%u,\"capture\":%s,\"capture_drops\":%llu,\"per_src\":{",
	       (unsigned long long)st->received, (unsigned long long)st->flows,
	       (unsigned long long)st->reordered, (unsigned long long)t.gaps,
	       (unsigned long long)st->foreign, secs, pps, (unsigned long long)t.split,
	       t.sources_max, conf->capture ? "true" : "false",
	       (unsigned long long)st->capture_drops);
	for (unsigned int i = 0; i < SINK_SRC_SLOTS; i++) {
		char a[INET_ADDRSTRLEN];

		if (!st->src[i].addr)
			continue;
		inet_ntop(AF_INET, &st->src[i].addr, a, sizeof(a));
		printf("%s\"%s\":%llu", first ? "" : ",", a,
		       (unsigned long long)st->src[i].count);
		first = false;
	}
	if (st->src_other)
		printf("%s\"other\":%llu", first ? "" : ",", (unsigned long long)st->src_other);
	printf("}}\n");
}

static int parse_double(const char *s, double min, double max, double *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= min && v <= max))
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: nfqe-sink [--port P | --capture IF] [--expect N] [--timeout S]\n"
		"                 [--duration S] [--ready-file PATH] [--progress] [--json]\n"
		"Counts UDP datagrams on 0.0.0.0:P (default 9) and checks nfqe-gen's\n"
		"per-flow sequence numbers and sources (split flows).\n"
		"  --capture IF    count IPv4 UDP, TCP and ICMP echo frames arriving on IF\n"
		"                  (AF_PACKET, before the local firewall) instead\n"
		"  --expect N      exit 0 as soon as N datagrams arrived\n"
		"  --timeout S     give up after S seconds: exit 1 if --expect is unmet\n"
		"  --duration S    count for S seconds\n"
		"  --ready-file F  created once the socket is bound\n"
		"  --progress      one line per second on stderr\n"
		"  --json          final report as JSON on stdout\n"
		"Without --timeout or --duration the run ends after %d s at most.\n",
		SINK_SECONDS_MAX);
}

static int parse_args(int argc, char **argv, struct sink_conf *conf)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "expect", required_argument, NULL, 'e' },
		{ "timeout", required_argument, NULL, 't' },
		{ "duration", required_argument, NULL, 'd' },
		{ "ready-file", required_argument, NULL, 'r' },
		{ "capture", required_argument, NULL, 'c' },
		{ "progress", no_argument, NULL, 'P' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	uint64_t v;
	int c, idx = 0;

	while ((c = getopt_long(argc, argv, "h", opts, &idx)) != -1) {
		int r = 0;

		switch (c) {
		case 'p':
			r = parse_u64(optarg, 1, 65535, &v);
			conf->port = v;
			break;
		case 'e':
			r = parse_u64(optarg, 1, UINT64_MAX / 2, &conf->expect);
			break;
		case 't':
			r = parse_double(optarg, 0.001, SINK_SECONDS_MAX, &conf->timeout);
			break;
		case 'd':
			r = parse_double(optarg, 0.001, SINK_SECONDS_MAX, &conf->duration);
			break;
		case 'r':
			conf->ready_file = optarg;
			break;
		case 'c':
			conf->capture = optarg;
			r = strlen(optarg) < IFNAMSIZ && *optarg ? 0 : -EINVAL;
			break;
		case 'P':
			conf->progress = true;
			break;
		case 'j':
			conf->json = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
		if (r < 0) {
			fprintf(stderr, "nfqe-sink: bad value for --%s: '%s'\n",
				opts[idx].name, optarg);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

static int socket_open(uint16_t port)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_ANY),
	};
	int fd, size = SINK_RCVBUF;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "nfqe-sink: socket: %m\n");
		return -errno;
	}
	/* FORCE needs CAP_NET_ADMIN; without it rmem_max caps the size */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		fprintf(stderr, "nfqe-sink: bind port %u: %m\n", port);
		close(fd);
		return -EADDRINUSE;
	}
	return fd;
}

/*
 * AF_PACKET, SOCK_DGRAM (frames arrive without the Ethernet header), IPv4
 * only, bound to one interface. Created with protocol 0 so that nothing is
 * queued before the bind narrows it to the interface.
 */
static int capture_open(const char *ifname)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_IP),
	};
	int fd, size = SINK_RCVBUF;

	sll.sll_ifindex = if_nametoindex(ifname);
	if (!sll.sll_ifindex) {
		fprintf(stderr, "nfqe-sink: interface %s: %m\n", ifname);
		return -ENODEV;
	}
	fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "nfqe-sink: AF_PACKET socket: %m\n");
		return -errno;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		fprintf(stderr, "nfqe-sink: bind %s: %m\n", ifname);
		close(fd);
		return -EIO;
	}
	return fd;
}

/* Frames the capture socket dropped (full buffer) since the last call. */
static uint64_t capture_drops(int fd)
{
	struct tpacket_stats ps;
	socklen_t len = sizeof(ps);

	if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &ps, &len) < 0)
		return 0;
	return ps.tp_drops;
}

int main(int argc, char **argv)
{
	struct sink_conf conf = { .port = 9 };
	static uint8_t bufs[SINK_BATCH][SINK_MSG_MAX];
	struct sockaddr_storage froms[SINK_BATCH];
	struct mmsghdr msgs[SINK_BATCH];
	struct iovec iovs[SINK_BATCH];
	struct sigaction sa = { .sa_handler = on_signal };
	struct sink_stats *st;
	double start, end, next_progress;
	uint64_t progress_last = 0;
	bool signalled, unmet;
	int fd;

	if (parse_args(argc, argv, &conf) < 0)
		return 2;
	st = calloc(1, sizeof(*st));
	if (st)
		st->flow = calloc(BENCH_FLOWS_MAX, sizeof(*st->flow));
	if (!st || !st->flow) {
		fprintf(stderr, "nfqe-sink: out of memory\n");
		return 2;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	fd = conf.capture ? capture_open(conf.capture) : socket_open(conf.port);
	if (fd < 0)
		return 2;
	if (conf.ready_file && tool_ready_file(conf.ready_file) < 0) {
		fprintf(stderr, "nfqe-sink: cannot create %s\n", conf.ready_file);
		return 2;
	}
	for (int i = 0; i < SINK_BATCH; i++) {
		iovs[i].iov_base = bufs[i];
		iovs[i].iov_len = SINK_MSG_MAX;
		memset(&msgs[i], 0, sizeof(msgs[i]));
		msgs[i].msg_hdr.msg_iov = &iovs[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &froms[i];
	}

	start = now_s();
	end = start + SINK_SECONDS_MAX;
	if (conf.timeout && start + conf.timeout < end)
		end = start + conf.timeout;
	if (conf.duration && start + conf.duration < end)
		end = start + conf.duration;
	next_progress = start + 1;
	while (!stop) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		double now = now_s();
		int n;

		if (conf.expect && st->received >= conf.expect)
			break;
		if (now >= end)
			break;
		if (conf.progress && now >= next_progress) {
			fprintf(stderr, "nfqe-sink: %llu pps, %llu received\n",
				(unsigned long long)(st->received - progress_last),
				(unsigned long long)st->received);
			progress_last = st->received;
			next_progress += 1;
		}
		n = poll(&pfd, 1, 50);
		if (n <= 0)
			continue;
		for (;;) {
			for (int i = 0; i < SINK_BATCH; i++)
				msgs[i].msg_hdr.msg_namelen = sizeof(froms[i]);
			n = recvmmsg(fd, msgs, SINK_BATCH, MSG_DONTWAIT, NULL);
			if (n <= 0)
				break;
			now = now_s();
			for (int i = 0; i < n; i++) {
				const struct sockaddr_in *sin = (const void *)&froms[i];

				if (conf.capture)
					capture_account(st, bufs[i], msgs[i].msg_len,
							(const void *)&froms[i], now);
				else
					packet_account(st, bufs[i], msgs[i].msg_len,
						       sin->sin_addr.s_addr, sin->sin_port, now);
			}
			if (conf.expect && st->received >= conf.expect)
				break;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			fprintf(stderr, "nfqe-sink: recvmmsg: %m\n");
			break;
		}
	}
	signalled = stop;
	unmet = conf.expect && st->received < conf.expect;
	if (conf.capture)
		st->capture_drops += capture_drops(fd);
	report(&conf, st);
	close(fd);
	free(st->flow);
	free(st);
	return unmet && !signalled ? 1 : 0;
}
