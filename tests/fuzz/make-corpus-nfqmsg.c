// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * make-corpus-nfqmsg - write the seed corpus of fuzz-nfqmsg: datagrams
 * shaped like the ones the kernel's nfnetlink_queue sends (attributes in
 * the order nfqnl_build_packet_message() puts them), and broken ones.
 *
 * Usage: make-corpus-nfqmsg OUTDIR   (run by make-corpus-nfqmsg.sh)
 *
 * For every file it prints what the worker does with each message in it,
 * walking it as wk_handle_msg() does: that is the netlink table of
 * tests/README.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/netfilter.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>

#include "nfqmsg.h"
#include "packet.h"

#define NFQ_PACKET_TYPE	((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET)
#define BUF_SIZE	8192

static const char *outdir;
static uint8_t buf[BUF_SIZE];

/* IPv4/UDP 192.0.2.1:40000 -> 198.51.100.7:53 with @len bytes in all
 * (at most @size written), IP total length @totlen (0 for GSO). */
static size_t ipv4_udp(uint8_t *p, size_t size, unsigned len, unsigned totlen)
{
	uint8_t h[28] = {
		0x45, 0, totlen >> 8, totlen & 0xff, 0x12, 0x34, 0x40, 0,
		64, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 7,
		0x9c, 0x40, 0, 53, (len - 20) >> 8, (len - 20) & 0xff, 0, 0,
	};
	uint32_t sum = 0;
	size_t n = len < size ? len : size;

	for (int i = 0; i < 20; i += 2)
		sum += h[i] << 8 | h[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	h[10] = ~sum >> 8;
	h[11] = ~sum & 0xff;
	if (totlen == 0) {	/* GSO: no UDP length either */
		h[24] = 0;
		h[25] = 0;
	}
	for (size_t i = 0; i < n; i++)
		p[i] = i < sizeof(h) ? h[i] : (uint8_t)('a' + i % 26);
	return n;
}

/* IPv6/TCP SYN 2001:db8::1:40001 -> 2001:db8::2:443, 60 bytes. */
static size_t ipv6_tcp_syn(uint8_t *p)
{
	static const uint8_t h[60] = {
		0x60, 0, 0, 0, 0, 20, 6, 64,
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
		0x9c, 0x41, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0,
		0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
	};

	memcpy(p, h, sizeof(h));
	return sizeof(h);
}

/* A packet message header: nlmsghdr, nfgenmsg, NFQA_PACKET_HDR. */
static struct nlmsghdr *put_packet(void *at, uint32_t id, uint16_t proto,
				   uint8_t hook, uint16_t queue)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(at);
	struct nfgenmsg *g;
	struct nfqnl_msg_packet_hdr ph = {
		.packet_id = htonl(id), .hw_protocol = htons(proto),
		.hook = hook,
	};

	nlh->nlmsg_type = NFQ_PACKET_TYPE;
	nlh->nlmsg_pid = 0;
	nlh->nlmsg_seq = 0;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->nfgen_family = proto == ETH_P_IPV6 ? AF_INET6 : AF_INET;
	g->version = NFNETLINK_V0;
	g->res_id = htons(queue);
	mnl_attr_put(nlh, NFQA_PACKET_HDR, sizeof(ph), &ph);
	return nlh;
}

static void put_be32(struct nlmsghdr *nlh, uint16_t type, uint32_t v)
{
	mnl_attr_put_u32(nlh, type, htonl(v));
}

static void put_hw_ts(struct nlmsghdr *nlh)
{
	struct nfqnl_msg_packet_hw hw = {
		.hw_addrlen = htons(6),
		.hw_addr = { 0x02, 0, 0x5e, 0x10, 0, 1 },
	};
	struct nfqnl_msg_packet_timestamp ts = {
		.sec = __cpu_to_be64(1700000000), .usec = __cpu_to_be64(250),
	};

	mnl_attr_put(nlh, NFQA_HWADDR, sizeof(hw), &hw);
	mnl_attr_put(nlh, NFQA_TIMESTAMP, sizeof(ts), &ts);
}

/* NFQA_CT as nf_conntrack_netlink puts it (a few of its attributes),
 * then NFQA_CT_INFO. */
static void put_ct(struct nlmsghdr *nlh)
{
	struct nlattr *ct = mnl_attr_nest_start(nlh, NFQA_CT);

	mnl_attr_put_u32(nlh, 3 /* CTA_STATUS */, htonl(0x8));
	mnl_attr_put_u32(nlh, 7 /* CTA_TIMEOUT */, htonl(30));
	mnl_attr_put_u32(nlh, 12 /* CTA_ID */, htonl(0xdeadbeef));
	mnl_attr_nest_end(nlh, ct);
	put_be32(nlh, NFQA_CT_INFO, 2 /* IP_CT_NEW */);
}

/* NFQA_PAYLOAD comes last and, as the kernel appends the packet with
 * skb_zerocopy() and sets nlmsg_len = skb->len, unpadded: nlmsg_len (and
 * the datagram) end with the packet, often unaligned. */
static void put_payload(struct nlmsghdr *nlh, size_t len, const void *data)
{
	mnl_attr_put(nlh, NFQA_PAYLOAD, len, data);
	nlh->nlmsg_len -= MNL_ALIGN(len) - len;
}

static struct nlmsghdr *put_error(void *at, int error, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(at);
	struct nlmsgerr *e;

	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_seq = seq;
	e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	e->error = error;
	/* the request it answers: a verdict batch header */
	e->msg.nlmsg_len = 32;
	e->msg.nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_VERDICT_BATCH;
	e->msg.nlmsg_flags = NLM_F_REQUEST;
	e->msg.nlmsg_seq = seq;
	return nlh;
}

/* Print what the worker does with each message of @len bytes at @p. */
static void describe(const char *name, const void *p, size_t len)
{
	const struct nlmsghdr *nlh = p;
	int rem = (int)len, n = 0;

	printf("%-28s %5zu bytes:", name, len);
	for (; mnl_nlmsg_ok(nlh, rem); nlh = mnl_nlmsg_next(nlh, &rem)) {
		struct nfq_pkt msg;
		struct pkt_info pkt;
		int error, perr;

		n++;
		switch (nfqmsg_kind(nlh, &error)) {
		case NFQMSG_PACKET:
			if (nfqmsg_parse(nlh, &msg) < 0) {
				printf(" [packet: no header, -EBADMSG]");
				break;
			}
			perr = pkt_parse(msg.payload, msg.len, msg.wire_len,
					 &pkt);
			printf(" [packet id %u len %u wire %u: %s", msg.id,
			       msg.len, msg.wire_len, pkt_error_name(perr));
			if (!perr && pkt.flags)
				printf(" flags %#x", pkt.flags);
			printf("]");
			break;
		case NFQMSG_ERROR:
			printf(" [error %d%s]", error,
			       error ? "" : " (ack)");
			break;
		case NFQMSG_OTHER:
			printf(" [other type %#x]", nlh->nlmsg_type);
			break;
		}
	}
	if (!n)
		printf(" [no message]");
	if (rem > 0)
		printf(" (%d bytes left over)", rem);
	printf("\n");
}

static void emit(const char *name, const void *p, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, len, f) != len || fclose(f)) {
		perror(path);
		exit(1);
	}
	describe(name, p, len);
}

static void emit_msg(const char *name, const struct nlmsghdr *nlh)
{
	emit(name, nlh, nlh->nlmsg_len);
}

/* A plain forwarded IPv4/UDP packet, as nfqe sees most of them. */
static struct nlmsghdr *udp4(void *at, uint32_t id)
{
	struct nlmsghdr *nlh = put_packet(at, id, ETH_P_IP, NF_INET_FORWARD, 0);
	uint8_t ip[38];

	put_be32(nlh, NFQA_IFINDEX_INDEV, 2);
	put_be32(nlh, NFQA_IFINDEX_OUTDEV, 3);
	put_be32(nlh, NFQA_MARK, 0x2a);
	put_hw_ts(nlh);
	put_ct(nlh);
	put_be32(nlh, NFQA_SKB_INFO, NFQA_SKB_CSUMNOTREADY);
	put_payload(nlh, ipv4_udp(ip, sizeof(ip), 38, 38), ip);
	return nlh;
}

int main(int argc, char **argv)
{
	static uint8_t ip[2048];
	struct nlmsghdr *nlh, *second;
	struct nlattr *a;
	size_t n;

	if (argc != 2) {
		fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
		return 2;
	}
	outdir = argv[1];

	/* --- packets the kernel sends --- */
	emit_msg("packet-udp4", udp4(buf, 1));

	/* copy range 64 of a 1500-byte packet: NFQA_CAP_LEN */
	nlh = put_packet(buf, 2, ETH_P_IP, NF_INET_PRE_ROUTING, 0);
	put_be32(nlh, NFQA_IFINDEX_INDEV, 2);
	put_hw_ts(nlh);
	put_be32(nlh, NFQA_CAP_LEN, 1500);
	put_payload(nlh, ipv4_udp(ip, 64, 1500, 1500), ip);
	emit_msg("packet-udp4-caplen", nlh);

	/* a 70000-byte GSO packet (NFQA_CFG_F_GSO), cut at 128 bytes */
	nlh = put_packet(buf, 3, ETH_P_IP, NF_INET_FORWARD, 1);
	put_be32(nlh, NFQA_IFINDEX_INDEV, 2);
	put_be32(nlh, NFQA_IFINDEX_OUTDEV, 3);
	put_be32(nlh, NFQA_CAP_LEN, 70000);
	put_be32(nlh, NFQA_SKB_INFO, NFQA_SKB_GSO | NFQA_SKB_CSUMNOTREADY);
	put_payload(nlh, ipv4_udp(ip, 128, 70000, 0), ip);
	emit_msg("packet-udp4-gso", nlh);

	/* a locally sent IPv6/TCP SYN: OUTPUT hook, uid/gid */
	nlh = put_packet(buf, 4, ETH_P_IPV6, NF_INET_LOCAL_OUT, 1);
	put_be32(nlh, NFQA_IFINDEX_OUTDEV, 3);
	put_be32(nlh, NFQA_UID, 1000);
	put_be32(nlh, NFQA_GID, 1000);
	put_payload(nlh, ipv6_tcp_syn(ip), ip);
	emit_msg("packet-tcp6-output", nlh);

	/* two packets in one datagram */
	nlh = udp4(buf, 5);
	second = udp4((uint8_t *)nlh + MNL_ALIGN(nlh->nlmsg_len), 6);
	emit("two-packets", buf, MNL_ALIGN(nlh->nlmsg_len) + second->nlmsg_len);

	/* a packet, then the kernel's answer to an earlier verdict */
	nlh = udp4(buf, 7);
	second = put_error((uint8_t *)nlh + MNL_ALIGN(nlh->nlmsg_len), -ENOENT, 9);
	emit("packet-then-error", buf,
	     MNL_ALIGN(nlh->nlmsg_len) + second->nlmsg_len);

	/* --- errors and other messages --- */
	emit_msg("error-ack", put_error(buf, 0, 1));
	emit_msg("error-eperm", put_error(buf, -EPERM, 2));
	emit_msg("error-enoent", put_error(buf, -ENOENT, 3));
	nlh = put_error(buf, -EPERM, 4);
	nlh->nlmsg_len = 20;		/* 4 of the 20 bytes of nlmsgerr */
	emit_msg("error-short", nlh);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NLMSG_DONE;
	emit_msg("other-done", nlh);
	nlh = put_packet(buf, 8, ETH_P_IP, NF_INET_FORWARD, 0);
	nlh->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_CONFIG;
	emit_msg("other-config", nlh);

	/* --- broken packet messages --- */
	nlh = put_packet(buf, 10, ETH_P_IP, NF_INET_FORWARD, 0);
	emit_msg("packet-no-payload", nlh);

	nlh = put_packet(buf, 11, ETH_P_IP, NF_INET_FORWARD, 0);
	n = ipv4_udp(ip, sizeof(ip), 38, 38);
	ip[0] = 0x55;
	put_payload(nlh, n, ip);
	emit_msg("packet-bad-version", nlh);

	nlh = put_packet(buf, 12, ETH_P_IP, NF_INET_FORWARD, 0);
	n = ipv4_udp(ip, sizeof(ip), 38, 38);
	ip[25] = 200;		/* UDP length past the packet */
	put_payload(nlh, n, ip);
	emit_msg("packet-bad-udp-len", nlh);

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NFQ_PACKET_TYPE;
	emit_msg("packet-no-nfgenmsg", nlh);

	nlh = put_packet(buf, 13, ETH_P_IP, NF_INET_FORWARD, 0);
	a = mnl_nlmsg_get_payload_offset(nlh, sizeof(struct nfgenmsg));
	a->nla_len = MNL_ATTR_HDRLEN + 4;	/* 4 of its 8 bytes */
	nlh->nlmsg_len = (uint8_t *)a - (uint8_t *)nlh + a->nla_len;
	put_payload(nlh, ipv4_udp(ip, sizeof(ip), 38, 38), ip);
	emit_msg("packet-short-hdr", nlh);

	nlh = put_packet(buf, 14, ETH_P_IP, NF_INET_FORWARD, 0);
	a = mnl_nlmsg_get_payload_offset(nlh, sizeof(struct nfgenmsg));
	a->nla_type = NFQA_VERDICT_HDR;		/* no NFQA_PACKET_HDR */
	put_payload(nlh, ipv4_udp(ip, sizeof(ip), 38, 38), ip);
	emit_msg("packet-no-hdr", nlh);

	nlh = put_packet(buf, 15, ETH_P_IP, NF_INET_FORWARD, 0);
	mnl_attr_put_u16(nlh, NFQA_MARK, 0x2a);	/* a u32 of 2 bytes */
	put_payload(nlh, ipv4_udp(ip, sizeof(ip), 38, 38), ip);
	emit_msg("packet-mark-2-bytes", nlh);

	nlh = put_packet(buf, 16, ETH_P_IP, NF_INET_FORWARD, 0);
	mnl_attr_put_u16(nlh, NFQA_CAP_LEN, 1500);
	put_payload(nlh, ipv4_udp(ip, sizeof(ip), 38, 38), ip);
	emit_msg("packet-caplen-2-bytes", nlh);

	nlh = put_packet(buf, 17, ETH_P_IP, NF_INET_FORWARD, 0);
	put_be32(nlh, NFQA_CAP_LEN, 1500);	/* wire 1500, IP says 38 */
	put_payload(nlh, ipv4_udp(ip, sizeof(ip), 38, 38), ip);
	emit_msg("packet-caplen-mismatch", nlh);

	nlh = put_packet(buf, 18, ETH_P_IP, NF_INET_FORWARD, 0);
	mnl_attr_put_u32(nlh, 200, 0);		/* type past NFQA_MAX */
	put_payload(nlh, ipv4_udp(ip, sizeof(ip), 38, 38), ip);
	emit_msg("packet-unknown-attr", nlh);

	/* payload attribute longer than the message: the walk stops */
	nlh = put_packet(buf, 19, ETH_P_IP, NF_INET_FORWARD, 0);
	a = mnl_nlmsg_get_payload_tail(nlh);
	put_payload(nlh, ipv4_udp(ip, sizeof(ip), 38, 38), ip);
	a->nla_len += 100;
	emit_msg("packet-payload-overrun", nlh);

	/* MSG_TRUNC: wk_recv_burst() clips nlmsg_len to what arrived */
	nlh = udp4(buf, 20);
	nlh->nlmsg_len -= 16;
	emit_msg("packet-clipped", nlh);

	/* the datagram ends before nlmsg_len: mnl_nlmsg_ok() refuses it */
	nlh = udp4(buf, 21);
	emit("packet-datagram-short", nlh, nlh->nlmsg_len - 16);
	emit("packet-datagram-15-bytes", nlh, 15);
	emit("empty", nlh, 0);

	/* a good message, then a runt */
	nlh = udp4(buf, 22);
	n = MNL_ALIGN(nlh->nlmsg_len);
	memset((uint8_t *)nlh + n, 0xee, 7);
	emit("packet-then-7-bytes", buf, n + 7);

	/* nlmsg_len below the header: the walk stops at once */
	nlh = udp4(buf, 23);
	nlh->nlmsg_len = 8;
	emit("packet-nlmsg-len-8", nlh, 80);

	/* unaligned nlmsg_len (a stray byte of extended ack): the next
	 * message starts at the aligned offset */
	nlh = put_error(buf, -EPERM, 5);
	nlh->nlmsg_len += 1;
	second = udp4((uint8_t *)nlh + MNL_ALIGN(nlh->nlmsg_len), 24);
	emit("error-unaligned-then-packet", buf,
	     MNL_ALIGN(nlh->nlmsg_len) + second->nlmsg_len);
	return 0;
}
