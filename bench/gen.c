// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nfqe-gen: a bounded traffic generator for the nfqe lab.
 *
 * Frames are written straight to an interface with AF_PACKET and sendmmsg,
 * so nothing in the sender's own stack (routing, conntrack, socket buffers)
 * limits the rate. Each flow has a prebuilt header template (Ethernet,
 * IPv4 with a valid header checksum, L4); a send copies the template into
 * the burst slot and stamps the flow's next sequence number into the
 * payload. UDP over IPv4 may carry a zero checksum, which is what lets the
 * payload change per send without touching any checksum. TCP SYN and ICMP
 * echo checksums cover the payload: their stamp() computes the checksum
 * again (a few dozen bytes per frame).
 *
 * The protocols, all with the same 12-byte payload (payload.h) as L4 data:
 *   udp        UDP to --dport, checksum 0
 *   tcp-syn    a SYN to --dport whose sequence number is the flow index:
 *              every frame of a flow is the same SYN again (duplicate
 *              SYNs), told apart only by the payload's sequence number
 *   icmp-echo  an echo request whose id is the flow's "source port" and
 *              whose echo sequence is the payload's (low 16 bits); NAT
 *              translates ids, so a receiver identifies the flow by the
 *              payload, never by the id
 *
 * Flow i (0..flows-1) uses source address A + i % nsrc and source port
 * P + (i / nsrc) % nport, so consecutive flows walk the addresses first:
 * --queue-balance hashes addresses only, and a few flows already cover
 * every queue. flows may not exceed nsrc * nport (tuples stay unique).
 * With --sport-per-flow flow i uses port P + i instead: no two flows share
 * a port, so source NAT to one address can keep every flow's port.
 *
 * --per-flow K sends K frames of flow i back to back, then K of flow i+1,
 * and so on (wrapping after the last flow): N new flows of K packets each,
 * the conntrack race scenario. The default burst becomes a multiple of K,
 * so that a flow's K frames leave in one sendmmsg call.
 *
 * --size is the frame as written to the socket, without the 4-byte FCS:
 * the default 60 is the classic "64-byte packet" on the wire.
 *
 * Nothing is lost silently: ENOBUFS/EAGAIN (a full queue on the way) are
 * counted in "eagain" and the same frame is sent again; any other error
 * counts the frame in "failed" and moves on. The run ends at --count frames
 * (sent + failed), at --duration seconds, or at SIGINT/SIGTERM, whichever
 * is first, and never later than GEN_SECONDS_MAX. Frames already stamped
 * when the run ends are counted in "failed" too.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <netpacket/packet.h>
#include <sched.h>
#include <stddef.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "payload.h"
#include "tool.h"

#define GEN_SECONDS_MAX		600
#define GEN_BURST_MAX		1024
#define GEN_FRAME_MIN		60
#define GEN_FRAME_MAX		1514
#define GEN_TEMPLATE_LEN	96	/* >= headers + struct bench_payload */
#define GEN_PER_FLOW_MAX	1024
#define GEN_BURST_DEFAULT	32
#define GEN_LAG_MAX		4	/* bursts */
#define GEN_ERRORS_MAX		1000	/* consecutive hard errors: give up */
#define FRAME_IP		sizeof(struct ether_header)	/* IPv4 header offset */
#define FRAME_L4		(FRAME_IP + sizeof(struct iphdr))

struct gen_conf {
	const char *ifname;
	uint8_t dst_mac[ETH_ALEN];
	uint8_t src_mac[ETH_ALEN];
	uint32_t src_first;		/* host order */
	uint32_t nsrc;
	uint32_t dst_ip;		/* host order */
	uint16_t sport_first;
	uint32_t nport;
	uint16_t dport;
	uint32_t flows;
	uint32_t per_flow;		/* frames of a flow back to back */
	bool sport_per_flow;		/* flow i: port P + i */
	uint32_t size;			/* 0: the protocol's minimum, >= 60 */
	uint64_t count;			/* 0: no count limit */
	double duration;		/* 0: no time limit */
	double rate;			/* frames per second, 0: unlimited */
	uint32_t burst;			/* 0: default */
	int cpu;			/* -1: no pinning */
	bool qdisc_bypass;
	bool json;
	const struct proto_ops *proto;
};

struct flow_addr {
	uint32_t src_ip;		/* host order */
	uint16_t sport;
};

/*
 * One protocol: build() writes the L4 header and the payload head of a
 * template (l4 points past the IPv4 header, l4_len bytes to the frame's
 * end) and returns the payload's offset from l4 (= l4_hdr); stamp() writes
 * a sequence number into a copied frame and fixes whatever checksum covers
 * it. The frame's bytes past the payload are zero. Headers start 2 bytes
 * off a 4-byte boundary (after the 14-byte Ethernet header): they are
 * built in local structs and copied, never accessed in place.
 */
struct proto_ops {
	const char *name;
	uint8_t ipproto;
	size_t l4_hdr;
	size_t (*build)(uint8_t *l4, size_t l4_len, const struct gen_conf *conf,
			const struct flow_addr *fa, uint32_t flow);
	void (*stamp)(uint8_t *frame, size_t payload_off, uint32_t seq);
};

struct gen_stats {
	uint64_t sent;
	uint64_t failed;
	uint64_t eagain;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static size_t udp_build(uint8_t *l4, size_t l4_len, const struct gen_conf *conf,
			const struct flow_addr *fa, uint32_t flow)
{
	struct udphdr uh = {
		.source = htons(fa->sport),
		.dest = htons(conf->dport),
		.len = htons(l4_len),
		.check = 0,	/* no checksum: legal for UDP over IPv4 */
	};
	struct bench_payload pl = {
		.magic = htonl(BENCH_PAYLOAD_MAGIC),
		.flow = htonl(flow),
	};

	memcpy(l4, &uh, sizeof(uh));
	memcpy(l4 + sizeof(uh), &pl, sizeof(pl));
	return sizeof(uh);
}

static void udp_stamp(uint8_t *frame, size_t payload_off, uint32_t seq)
{
	uint32_t n = htonl(seq);

	memcpy(frame + payload_off + offsetof(struct bench_payload, seq), &n, sizeof(n));
}

/* The one's complement sum of len bytes, added to sum (not folded). */
static uint32_t csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint16_t w;

	for (; len > 1; len -= 2, p += 2) {
		memcpy(&w, p, sizeof(w));
		sum += w;
	}
	if (len)
		sum += *(const uint8_t *)p;	/* little-endian host: low byte */
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

static uint16_t ip_checksum(const void *data, size_t len)
{
	return csum_fold(csum_add(0, data, len));
}

/* The IPv4 header of a frame, copied out (it is not 4-byte aligned). */
static struct iphdr frame_ip(const uint8_t *frame)
{
	struct iphdr ip;

	memcpy(&ip, frame + FRAME_IP, sizeof(ip));
	return ip;
}

static void frame_put16(uint8_t *frame, size_t off, uint16_t v)
{
	memcpy(frame + off, &v, sizeof(v));
}

static size_t tcp_build(uint8_t *l4, size_t l4_len, const struct gen_conf *conf,
			const struct flow_addr *fa, uint32_t flow)
{
	struct tcphdr th = {
		.source = htons(fa->sport),
		.dest = htons(conf->dport),
		.seq = htonl(flow),	/* the same SYN for every frame of the flow */
		.doff = sizeof(th) / 4,
		.syn = 1,
		.window = htons(64240),
	};
	struct bench_payload pl = {
		.magic = htonl(BENCH_PAYLOAD_MAGIC),
		.flow = htonl(flow),
	};

	memcpy(l4, &th, sizeof(th));
	memcpy(l4 + sizeof(th), &pl, sizeof(pl));
	return sizeof(th);
}

/* The TCP checksum covers a pseudo header, the header and the data. */
static void tcp_stamp(uint8_t *frame, size_t payload_off, uint32_t seq)
{
	struct iphdr ip = frame_ip(frame);
	size_t l4_len = ntohs(ip.tot_len) - sizeof(ip);
	size_t check = FRAME_L4 + offsetof(struct tcphdr, check);
	uint32_t sum;

	udp_stamp(frame, payload_off, seq);
	frame_put16(frame, check, 0);
	sum = csum_add(0, &ip.saddr, sizeof(ip.saddr));
	sum = csum_add(sum, &ip.daddr, sizeof(ip.daddr));
	sum += htons(IPPROTO_TCP) + htons(l4_len);
	frame_put16(frame, check, csum_fold(csum_add(sum, frame + FRAME_L4, l4_len)));
}

static size_t icmp_build(uint8_t *l4, size_t l4_len, const struct gen_conf *conf,
			 const struct flow_addr *fa, uint32_t flow)
{
	struct icmphdr ih = {
		.type = ICMP_ECHO,
		.un.echo.id = htons(fa->sport),
	};
	struct bench_payload pl = {
		.magic = htonl(BENCH_PAYLOAD_MAGIC),
		.flow = htonl(flow),
	};

	memcpy(l4, &ih, sizeof(ih));
	memcpy(l4 + sizeof(ih), &pl, sizeof(pl));
	return sizeof(ih);
}

static void icmp_stamp(uint8_t *frame, size_t payload_off, uint32_t seq)
{
	struct iphdr ip = frame_ip(frame);
	size_t check = FRAME_L4 + offsetof(struct icmphdr, checksum);

	udp_stamp(frame, payload_off, seq);
	frame_put16(frame, FRAME_L4 + offsetof(struct icmphdr, un.echo.sequence),
		    htons(seq & 0xffff));
	frame_put16(frame, check, 0);
	frame_put16(frame, check, ip_checksum(frame + FRAME_L4, ntohs(ip.tot_len) - sizeof(ip)));
}

static const struct proto_ops protos[] = {
	{ "udp", IPPROTO_UDP, sizeof(struct udphdr), udp_build, udp_stamp },
	{ "tcp-syn", IPPROTO_TCP, sizeof(struct tcphdr), tcp_build, tcp_stamp },
	{ "icmp-echo", IPPROTO_ICMP, sizeof(struct icmphdr), icmp_build, icmp_stamp },
};

_Static_assert(GEN_TEMPLATE_LEN >= sizeof(struct ether_header) + sizeof(struct iphdr) +
	       sizeof(struct tcphdr) + sizeof(struct bench_payload),
	       "a template holds the largest headers and the payload");

/* Ethernet + IPv4 + L4 header + payload: the smallest frame for proto. */
static uint32_t proto_frame_min(const struct proto_ops *proto)
{
	return sizeof(struct ether_header) + sizeof(struct iphdr) + proto->l4_hdr +
	       sizeof(struct bench_payload);
}

static struct flow_addr flow_addr_of(const struct gen_conf *conf, uint32_t flow)
{
	struct flow_addr fa = {
		.src_ip = conf->src_first + flow % conf->nsrc,
		.sport = conf->sport_first + (conf->sport_per_flow ? flow % conf->nport :
					      (flow / conf->nsrc) % conf->nport),
	};

	return fa;
}

/* Builds flow's template frame in buf (conf->size bytes, zero padded). */
static size_t frame_build(uint8_t *buf, const struct gen_conf *conf, uint32_t flow)
{
	struct ether_header eh = { .ether_type = htons(ETHERTYPE_IP) };
	struct flow_addr fa = flow_addr_of(conf, flow);
	struct iphdr ip = {
		.version = 4,
		.ihl = sizeof(ip) / 4,
		.tot_len = htons(conf->size - FRAME_IP),
		.id = htons(flow),
		.frag_off = htons(IP_DF),
		.ttl = 64,
		.protocol = conf->proto->ipproto,
		.saddr = htonl(fa.src_ip),
		.daddr = htonl(conf->dst_ip),
	};

	memset(buf, 0, conf->size);
	memcpy(eh.ether_dhost, conf->dst_mac, ETH_ALEN);
	memcpy(eh.ether_shost, conf->src_mac, ETH_ALEN);
	memcpy(buf, &eh, sizeof(eh));
	ip.check = ip_checksum(&ip, sizeof(ip));
	memcpy(buf + FRAME_IP, &ip, sizeof(ip));
	return FRAME_L4 + conf->proto->build(buf + FRAME_L4, conf->size - FRAME_L4, conf,
					     &fa, flow);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
	struct timespec ts = {
		.tv_sec = (time_t)t,
		.tv_nsec = (long)((t - (time_t)t) * 1e9),
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !stop)
		;
}

static int parse_mac(const char *s, uint8_t *mac)
{
	unsigned int b[ETH_ALEN];
	char end;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &end) != ETH_ALEN)
		return -EINVAL;
	for (int i = 0; i < ETH_ALEN; i++) {
		if (b[i] > 0xff)
			return -EINVAL;
		mac[i] = b[i];
	}
	return 0;
}

static int parse_ip(const char *s, uint32_t *ret_ip)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*ret_ip = ntohl(a.s_addr);
	return 0;
}

/* "A" or "A-B" addresses: first and count. */
static int parse_ip_range(const char *s, uint32_t *ret_first, uint32_t *ret_n)
{
	char buf[64];
	char *dash;
	uint32_t a, b;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	dash = strchr(buf, '-');
	if (dash)
		*dash = '\0';
	if (parse_ip(buf, &a) < 0)
		return -EINVAL;
	b = a;
	if (dash && parse_ip(dash + 1, &b) < 0)
		return -EINVAL;
	if (b < a || b - a >= BENCH_FLOWS_MAX)
		return -EINVAL;
	*ret_first = a;
	*ret_n = b - a + 1;
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

/* "P" or "P-Q" ports: first and count. */
static int parse_port_range(const char *s, uint16_t *ret_first, uint32_t *ret_n)
{
	uint64_t a, b;
	char buf[16];
	char *dash;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	dash = strchr(buf, '-');
	if (dash)
		*dash = '\0';
	if (parse_u64(buf, 1, 65535, &a) < 0)
		return -EINVAL;
	b = a;
	if (dash && parse_u64(dash + 1, a, 65535, &b) < 0)
		return -EINVAL;
	*ret_first = a;
	*ret_n = b - a + 1;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: nfqe-gen --ifname IF --dst-mac MAC --src-ip A[-B] --dst-ip IP\n"
		"                [--sport P[-Q]] [--sport-per-flow] [--dport P] [--flows N]\n"
		"                [--per-flow K] [--size BYTES] (--count N | --duration S)\n"
		"                [--rate PPS] [--burst N] [--proto udp|tcp-syn|icmp-echo]\n"
		"                [--cpu N] [--qdisc-bypass] [--json]\n"
		"Writes IPv4 frames to IF with AF_PACKET. Flow i uses source address\n"
		"A + i %% nsrc and source port P + (i / nsrc) %% nport; the payload\n"
		"carries a magic, the flow index and a per-flow sequence number.\n"
		"  --proto     udp (default); tcp-syn: duplicate SYNs, sequence number =\n"
		"              flow index; icmp-echo: echo requests, id = source port\n"
		"  --sport-per-flow  flow i uses port P + i (flows <= ports): no two\n"
		"              flows share a port\n"
		"  --per-flow  K frames of a flow back to back, then the next flow\n"
		"              (default 1; at most %d)\n"
		"  --size      frame bytes without FCS, %d..%d (default: 60, a 64-byte\n"
		"              frame on the wire, or the protocol's minimum: 66 for tcp-syn)\n"
		"  --count     frames to send;  --duration  seconds (at most %d)\n"
		"  --rate      frames per second, 0 = as fast as possible (default)\n"
		"  --burst     frames per sendmmsg call (default 32, with --per-flow K\n"
		"              the largest multiple of K up to 32; at most %d)\n"
		"  --json      final report as JSON on stdout\n",
		GEN_PER_FLOW_MAX, GEN_FRAME_MIN, GEN_FRAME_MAX, GEN_SECONDS_MAX,
		GEN_BURST_MAX);
}

static int parse_args(int argc, char **argv, struct gen_conf *conf)
{
	static const struct option opts[] = {
		{ "ifname", required_argument, NULL, 'i' },
		{ "dst-mac", required_argument, NULL, 'm' },
		{ "src-ip", required_argument, NULL, 's' },
		{ "dst-ip", required_argument, NULL, 'd' },
		{ "sport", required_argument, NULL, 'S' },
		{ "sport-per-flow", no_argument, NULL, 'P' },
		{ "per-flow", required_argument, NULL, 'k' },
		{ "dport", required_argument, NULL, 'D' },
		{ "flows", required_argument, NULL, 'f' },
		{ "size", required_argument, NULL, 'z' },
		{ "count", required_argument, NULL, 'c' },
		{ "duration", required_argument, NULL, 't' },
		{ "rate", required_argument, NULL, 'r' },
		{ "burst", required_argument, NULL, 'b' },
		{ "proto", required_argument, NULL, 'p' },
		{ "cpu", required_argument, NULL, 'C' },
		{ "qdisc-bypass", no_argument, NULL, 'Q' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	bool have_mac = false, have_src = false, have_dst = false;
	uint64_t v;
	int c, idx;

	while ((c = getopt_long(argc, argv, "h", opts, &idx)) != -1) {
		int r = 0;

		switch (c) {
		case 'i':
			conf->ifname = optarg;
			break;
		case 'm':
			r = parse_mac(optarg, conf->dst_mac);
			have_mac = true;
			break;
		case 's':
			r = parse_ip_range(optarg, &conf->src_first, &conf->nsrc);
			have_src = true;
			break;
		case 'd':
			r = parse_ip(optarg, &conf->dst_ip);
			have_dst = true;
			break;
		case 'S':
			r = parse_port_range(optarg, &conf->sport_first, &conf->nport);
			break;
		case 'P':
			conf->sport_per_flow = true;
			break;
		case 'k':
			r = parse_u64(optarg, 1, GEN_PER_FLOW_MAX, &v);
			conf->per_flow = v;
			break;
		case 'D':
			r = parse_u64(optarg, 1, 65535, &v);
			conf->dport = v;
			break;
		case 'f':
			r = parse_u64(optarg, 1, BENCH_FLOWS_MAX, &v);
			conf->flows = v;
			break;
		case 'z':
			r = parse_u64(optarg, GEN_FRAME_MIN, GEN_FRAME_MAX, &v);
			conf->size = v;
			break;
		case 'c':
			r = parse_u64(optarg, 1, UINT64_MAX / 2, &conf->count);
			break;
		case 't':
			r = parse_double(optarg, 0.001, GEN_SECONDS_MAX, &conf->duration);
			break;
		case 'r':
			r = parse_double(optarg, 0, 1e9, &conf->rate);
			break;
		case 'b':
			r = parse_u64(optarg, 1, GEN_BURST_MAX, &v);
			conf->burst = v;
			break;
		case 'p':
			r = -EINVAL;
			for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
				if (!strcmp(optarg, protos[i].name)) {
					conf->proto = &protos[i];
					r = 0;
				}
			}
			break;
		case 'C':
			r = parse_u64(optarg, 0, CPU_SETSIZE - 1, &v);
			conf->cpu = v;
			break;
		case 'Q':
			conf->qdisc_bypass = true;
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
			fprintf(stderr, "nfqe-gen: bad value for --%s: '%s'\n",
				opts[idx].name, optarg);
			return -EINVAL;
		}
	}
	if (optind < argc || !conf->ifname || !have_mac || !have_src || !have_dst) {
		fprintf(stderr, "nfqe-gen: --ifname, --dst-mac, --src-ip and --dst-ip are required\n");
		return -EINVAL;
	}
	if (!conf->count && !conf->duration) {
		fprintf(stderr, "nfqe-gen: give --count and/or --duration (the run is bounded)\n");
		return -EINVAL;
	}
	if (!conf->duration)
		conf->duration = GEN_SECONDS_MAX;
	if (conf->sport_per_flow) {
		/* the port alone tells the flows apart */
		if (!conf->flows)
			conf->flows = conf->nport;
		if (conf->flows > conf->nport) {
			fprintf(stderr, "nfqe-gen: --sport-per-flow: %u flows need %u ports\n",
				conf->flows, conf->flows);
			return -EINVAL;
		}
	}
	if ((uint64_t)conf->nsrc * conf->nport > BENCH_FLOWS_MAX && !conf->flows)
		conf->flows = BENCH_FLOWS_MAX;
	if (!conf->flows)
		conf->flows = conf->nsrc * conf->nport;
	if (conf->flows > (uint64_t)conf->nsrc * conf->nport) {
		fprintf(stderr, "nfqe-gen: %u flows need more than %u addresses x %u ports\n",
			conf->flows, conf->nsrc, conf->nport);
		return -EINVAL;
	}
	if (!conf->size)
		conf->size = proto_frame_min(conf->proto) > GEN_FRAME_MIN ?
			     proto_frame_min(conf->proto) : GEN_FRAME_MIN;
	if (conf->size < proto_frame_min(conf->proto)) {
		fprintf(stderr, "nfqe-gen: --proto %s needs --size %u or more\n",
			conf->proto->name, proto_frame_min(conf->proto));
		return -EINVAL;
	}
	if (!conf->burst) {
		conf->burst = GEN_BURST_DEFAULT;
		if (conf->per_flow > 1)
			conf->burst = conf->per_flow > GEN_BURST_DEFAULT ? conf->per_flow :
				      GEN_BURST_DEFAULT / conf->per_flow * conf->per_flow;
		if (conf->burst > GEN_BURST_MAX)
			conf->burst = GEN_BURST_MAX;
	}
	return 0;
}

static int socket_open(struct gen_conf *conf, struct sockaddr_ll *ret_sll)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	struct ifreq ifr = { 0 };
	int fd, one = 1;

	if (strlen(conf->ifname) >= IFNAMSIZ) {
		fprintf(stderr, "nfqe-gen: interface name too long\n");
		return -EINVAL;
	}
	/* protocol 0: the socket sends only, it never receives a frame */
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0) {
		fprintf(stderr, "nfqe-gen: AF_PACKET socket: %m\n");
		return -errno;
	}
	strcpy(ifr.ifr_name, conf->ifname);
	if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
		fprintf(stderr, "nfqe-gen: interface %s: %m\n", conf->ifname);
		goto err_close;
	}
	sll.sll_ifindex = ifr.ifr_ifindex;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		fprintf(stderr, "nfqe-gen: %s address: %m\n", conf->ifname);
		goto err_close;
	}
	memcpy(conf->src_mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		fprintf(stderr, "nfqe-gen: bind %s: %m\n", conf->ifname);
		goto err_close;
	}
	if (conf->qdisc_bypass &&
	    setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) < 0) {
		fprintf(stderr, "nfqe-gen: PACKET_QDISC_BYPASS: %m\n");
		goto err_close;
	}
	sll.sll_protocol = htons(ETH_P_IP);
	sll.sll_halen = ETH_ALEN;
	memcpy(sll.sll_addr, conf->dst_mac, ETH_ALEN);
	*ret_sll = sll;
	return fd;

err_close:
	close(fd);
	return -EIO;
}

static void report(const struct gen_conf *conf, const struct gen_stats *st, double seconds)
{
	double pps = seconds > 0 ? st->sent / seconds : 0;

	if (conf->json)
		printf("{\"sent\":%llu,\"failed\":%llu,\"eagain\":%llu,\"seconds\":%.6f,"
		       "\"pps\":%.1f,\"flows\":%u,\"size\":%u,\"proto\":\"%s\","
		       "\"per_flow\":%u,\"burst\":%u}\n",
		       (unsigned long long)st->sent, (unsigned long long)st->failed,
		       (unsigned long long)st->eagain, seconds, pps, conf->flows, conf->size,
		       conf->proto->name, conf->per_flow, conf->burst);
	else
		printf("sent %llu failed %llu eagain %llu in %.3f s: %.0f pps\n",
		       (unsigned long long)st->sent, (unsigned long long)st->failed,
		       (unsigned long long)st->eagain, seconds, pps);
}

int main(int argc, char **argv)
{
	struct gen_conf conf = {
		.nport = 1,
		.sport_first = 1024,
		.dport = 9,
		.per_flow = 1,
		.cpu = -1,
		.proto = &protos[0],
	};
	struct mmsghdr msgs[GEN_BURST_MAX];
	struct iovec iovs[GEN_BURST_MAX];
	struct gen_stats st = { 0 };
	struct sockaddr_ll sll;
	struct sigaction sa = { .sa_handler = on_signal };
	uint8_t *templates, *slots;
	uint32_t *seqs, next_flow = 0, in_flow = 0;
	size_t hdr_len = 0, payload_off;
	double start, end, deadline, rate_base;
	uint64_t scheduled = 0;
	unsigned int hard_errors = 0;
	int fd;

	if (parse_args(argc, argv, &conf) < 0)
		return 2;
	fd = socket_open(&conf, &sll);
	if (fd < 0)
		return 1;
	if (conf.cpu >= 0)
		tool_pin_cpu("nfqe-gen", conf.cpu);

	/* only the headers and the payload head differ between flows */
	templates = calloc(conf.flows, GEN_TEMPLATE_LEN);
	seqs = calloc(conf.flows, sizeof(*seqs));
	slots = calloc(conf.burst, conf.size);
	if (!templates || !seqs || !slots) {
		fprintf(stderr, "nfqe-gen: out of memory\n");
		return 1;
	}
	payload_off = 0;
	for (uint32_t f = 0; f < conf.flows; f++) {
		payload_off = frame_build(slots, &conf, f);
		memcpy(templates + (size_t)f * GEN_TEMPLATE_LEN, slots,
		       payload_off + sizeof(struct bench_payload));
	}
	hdr_len = payload_off + sizeof(struct bench_payload);
	for (uint32_t i = 0; i < conf.burst; i++) {
		iovs[i].iov_base = slots + (size_t)i * conf.size;
		iovs[i].iov_len = conf.size;
		memset(&msgs[i], 0, sizeof(msgs[i]));
		msgs[i].msg_hdr.msg_name = &sll;
		msgs[i].msg_hdr.msg_namelen = sizeof(sll);
		msgs[i].msg_hdr.msg_iov = &iovs[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	start = now_s();
	deadline = start + conf.duration;
	rate_base = start;
	while (!stop) {
		uint64_t want = conf.burst;
		double now = now_s();
		unsigned int n, done = 0;

		if (now >= deadline)
			break;
		if (conf.count) {
			uint64_t left = conf.count - st.sent - st.failed;

			if (!left)
				break;
			if (left < want)
				want = left;
		}
		if (conf.rate > 0) {
			/*
			 * Token bucket on an absolute schedule: frame k is due
			 * at rate_base + k / rate, so timer overshoot is paid
			 * back by the next bursts instead of lost. A generator
			 * that falls behind forgets lag beyond GEN_LAG_MAX
			 * bursts rather than catching up in one long burst.
			 */
			double due = rate_base + (scheduled + want) / conf.rate;

			if (now < due) {
				sleep_until(due < deadline ? due : deadline);
				continue;
			}
			if ((now - due) * conf.rate > GEN_LAG_MAX * conf.burst)
				rate_base = now - (scheduled + want) / conf.rate -
					    GEN_LAG_MAX * conf.burst / conf.rate;
			scheduled += want;
		}
		n = want;
		for (unsigned int i = 0; i < n; i++) {
			uint8_t *slot = slots + (size_t)i * conf.size;

			memcpy(slot, templates + (size_t)next_flow * GEN_TEMPLATE_LEN, hdr_len);
			conf.proto->stamp(slot, payload_off, seqs[next_flow]++);
			if (++in_flow < conf.per_flow)
				continue;
			in_flow = 0;
			if (++next_flow == conf.flows)
				next_flow = 0;
		}
		while (done < n && !stop) {
			int r = sendmmsg(fd, msgs + done, n - done, 0);

			if (r > 0) {
				done += r;
				st.sent += r;
				hard_errors = 0;
				continue;
			}
			if (r < 0 && (errno == ENOBUFS || errno == EAGAIN)) {
				/* a full queue dropped the frame: send it again */
				st.eagain++;
				if (now_s() >= deadline)
					break;
				sched_yield();
				continue;
			}
			if (r < 0 && errno == EINTR)
				continue;
			st.failed++;
			done++;
			if (++hard_errors == 1)
				fprintf(stderr, "nfqe-gen: sendmmsg: %m\n");
			if (hard_errors >= GEN_ERRORS_MAX) {
				fprintf(stderr, "nfqe-gen: %u errors in a row, giving up\n",
					hard_errors);
				stop = 1;
			}
		}
		/* frames stamped but never sent (deadline or signal) */
		st.failed += n - done;
	}
	end = now_s();
	report(&conf, &st, end - start);
	free(templates);
	free(seqs);
	free(slots);
	close(fd);
	return hard_errors >= GEN_ERRORS_MAX ? 1 : 0;
}
