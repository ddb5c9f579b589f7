// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the packet parser: every packet kind it understands and
 * every way the header fields can lie, each with the exact result.
 *
 * With NFQE_PACKET_CORPUS set to a directory, every packet these tests
 * parse through parse() is also written there in the fuzz harness's input
 * format: this is how tests/fuzz/corpus/packet is made
 * (tests/fuzz/make-corpus-packet.sh).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "packet.h"

#define SPORT	40000
#define DPORT	443

static const uint8_t src4[4] = { 192, 0, 2, 1 };
static const uint8_t dst4[4] = { 198, 51, 100, 2 };
static const uint8_t src6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t dst6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };

static void put16(uint8_t *b, uint16_t v)
{
	b[0] = v >> 8;
	b[1] = v;
}

static void put32(uint8_t *b, uint32_t v)
{
	put16(b, v >> 16);
	put16(b + 2, v);
}

/* Header builders: each writes one header at @b and returns its length. */
static size_t mk_ipv4(uint8_t *b, unsigned ihl, size_t tot_len, uint16_t id,
		      uint16_t frag, uint8_t proto)
{
	memset(b, 0, ihl * 4);
	b[0] = 0x40 | ihl;
	put16(b + 2, tot_len);
	put16(b + 4, id);
	put16(b + 6, frag);
	b[8] = 64;
	b[9] = proto;
	memcpy(b + 12, src4, 4);
	memcpy(b + 16, dst4, 4);
	/* Options, if any: NOPs then end-of-list, as a real stack would. */
	if (ihl > 5)
		memset(b + 20, 1, ihl * 4 - 21);
	return ihl * 4;
}

static size_t mk_ipv6(uint8_t *b, size_t plen, uint8_t nexthdr)
{
	memset(b, 0, 40);
	b[0] = 0x60;
	put16(b + 4, plen);
	b[6] = nexthdr;
	b[7] = 64;
	memcpy(b + 8, src6, 16);
	memcpy(b + 24, dst6, 16);
	return 40;
}

static size_t mk_tcp(uint8_t *b, unsigned doff, uint8_t flags)
{
	memset(b, 0, doff * 4 < 20 ? 20 : doff * 4);
	put16(b, SPORT);
	put16(b + 2, DPORT);
	put32(b + 4, 1000);
	b[12] = doff << 4;
	b[13] = flags;
	put16(b + 14, 65535);
	if (doff > 5)
		memset(b + 20, 1, doff * 4 - 20);
	return doff * 4;
}

static size_t mk_udp(uint8_t *b, size_t ulen)
{
	put16(b, SPORT);
	put16(b + 2, 53);
	put16(b + 4, ulen);
	put16(b + 6, 0);
	return 8;
}

static size_t mk_icmp(uint8_t *b, uint8_t type, uint8_t code, uint16_t id)
{
	memset(b, 0, 8);
	b[0] = type;
	b[1] = code;
	put16(b + 4, id);
	put16(b + 6, 7);
	return 8;
}

/* Routing, hop-by-hop or destination options header of @len8 + 1 units. */
static size_t mk_ext(uint8_t *b, uint8_t nexthdr, uint8_t len8)
{
	size_t hlen = ((size_t)len8 + 1) * 8;

	memset(b, 0, hlen);
	b[0] = nexthdr;
	b[1] = len8;
	/* PadN over the rest, so the options area is well formed. */
	b[2] = 1;
	b[3] = hlen - 4;
	return hlen;
}

static size_t mk_frag6(uint8_t *b, uint8_t nexthdr, uint16_t offset8,
		       int more, uint32_t id)
{
	memset(b, 0, 8);
	b[0] = nexthdr;
	put16(b + 2, offset8 << 3 | (more ? 1 : 0));
	put32(b + 4, id);
	return 8;
}

static size_t mk_ah(uint8_t *b, uint8_t nexthdr, uint8_t len4)
{
	size_t hlen = ((size_t)len4 + 2) * 4;

	memset(b, 0, hlen);
	b[0] = nexthdr;
	b[1] = len4;
	put32(b + 4, 0x1001);
	put32(b + 8, 1);
	return hlen;
}

static void fill(uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = 'a' + i % 26;
}

/*
 * Write one parser input in the fuzz format: mode byte, 24-bit value, the
 * packet (see tests/fuzz/fuzz-packet.c).
 */
static void corpus_write(const char *test, const uint8_t *data, size_t len,
			 size_t wire_len)
{
	static const char *last_test;
	static unsigned seq;
	const char *dir = getenv("NFQE_PACKET_CORPUS");
	uint8_t hdr[4];
	char path[512];
	uint32_t v;
	FILE *f;

	if (!dir || len > 8192)
		return;
	if (test != last_test)
		seq = 0;
	last_test = test;
	if (wire_len == 0) {
		hdr[0] = 0;
		v = 0;
	} else if (wire_len >= len && wire_len - len < (1u << 24)) {
		hdr[0] = 1;
		v = wire_len - len;
	} else {
		hdr[0] = 3;
		v = wire_len & 0xffffff;
	}
	hdr[1] = v >> 16;
	hdr[2] = v >> 8;
	hdr[3] = v;
	snprintf(path, sizeof(path), "%s/%s-%u", dir,
		 strncmp(test, "test_", 5) ? test : test + 5, seq++);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(hdr, 1, 4, f), 4);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Every packet of the tests goes through here: bounds checks on success,
 * @ret untouched on failure. @test names the corpus file, NULL for none. */
static int parse_at(const char *test, const uint8_t *data, size_t len,
		    size_t wire_len, struct pkt_info *ret)
{
	struct pkt_info info, canary;
	int err;

	if (test)
		corpus_write(test, data, len, wire_len);
	memset(&info, 0xa5, sizeof(info));
	canary = info;
	err = pkt_parse(data, len, wire_len, &info);
	if (err) {
		assert_true(err > PKT_OK && err < PKT_ERR_MAX);
		assert_memory_equal(&info, &canary, sizeof(info));
		return err;
	}
	assert_true(info.len <= len);
	assert_true(info.len <= info.ip_len);
	assert_true(info.l4off <= info.len);
	assert_true(info.payload_off >= info.l4off);
	assert_true((uint64_t)info.payload_off + info.payload_len <= info.len);
	if (!(info.flags & PKT_F_FRAGMENT))
		assert_false(info.flags & PKT_F_FIRST_FRAG);
	*ret = info;
	return err;
}

#define parse(data, len, wire_len, ret) \
	parse_at(__func__, data, len, wire_len, ret)

static void assert_v4_addrs(const struct pkt_info *p)
{
	assert_int_equal(p->family, AF_INET);
	assert_memory_equal(&p->src.v4, src4, 4);
	assert_memory_equal(&p->dst.v4, dst4, 4);
}

static void assert_v6_addrs(const struct pkt_info *p)
{
	assert_int_equal(p->family, AF_INET6);
	assert_memory_equal(&p->src.v6, src6, 16);
	assert_memory_equal(&p->dst.v6, dst6, 16);
}

/* --- good IPv4 --- */

static void test_ipv4_tcp(void **state)
{
	uint8_t b[128];
	struct pkt_info p;
	size_t n = mk_ipv4(b, 5, 50, 0x1234, 0x4000, IPPROTO_TCP);

	n += mk_tcp(b + n, 5, 0x12);
	fill(b + n, 10);
	n += 10;
	assert_int_equal(parse(b, n, 0, &p), PKT_OK);
	assert_v4_addrs(&p);
	assert_int_equal(p.l4proto, IPPROTO_TCP);
	assert_int_equal(p.flags, PKT_F_L4);
	assert_int_equal(p.tcp_flags, 0x12);
	assert_int_equal(p.sport, SPORT);
	assert_int_equal(p.dport, DPORT);
	assert_int_equal(p.frag_id, 0x1234);
	assert_int_equal(p.l4off, 20);
	assert_int_equal(p.payload_off, 40);
	assert_int_equal(p.payload_len, 10);
	assert_int_equal(p.len, 50);
	assert_int_equal(p.ip_len, 50);
}

static void test_ipv4_tcp_options(void **state)
{
	uint8_t b[128];
	struct pkt_info p;
	size_t n = mk_ipv4(b, 6, 24 + 32 + 5, 1, 0, IPPROTO_TCP);

	n += mk_tcp(b + n, 8, 0x02);
	fill(b + n, 5);
	n += 5;
	assert_int_equal(parse(b, n, 0, &p), PKT_OK);
	assert_int_equal(p.flags, PKT_F_L4);
	assert_int_equal(p.tcp_flags, 0x02);
	assert_int_equal(p.l4off, 24);
	assert_int_equal(p.payload_off, 56);
	assert_int_equal(p.payload_len, 5);
}

static void test_ipv4_tcp_max_options(void **state)
{
	uint8_t b[128];
	struct pkt_info p;
	size_t n = mk_ipv4(b, 15, 60 + 60, 1, 0, IPPROTO_TCP);

	n += mk_tcp(b + n, 15, 0x10);
	assert_int_equal(parse(b, n, 0, &p), PKT_OK);
	assert_int_equal(p.flags, PKT_F_L4);
	assert_int_equal(p.l4off, 60);
	assert_int_equal(p.payload_off, 120);
	assert_int_equal(p.payload_len, 0);
}

static void test_ipv4_udp(void **state)
{
	uint8_t b[128];
	struct pkt_info p;
	size_t n = mk_ipv4(b, 5, 20 + 8 + 12, 7, 0, IPPROTO_UDP);

	n += mk_udp(b + n, 8 + 12);
	fill(b + n, 12);
	n += 12;
	assert_int_equal(parse(b, n, 0, &p), PKT_OK);
	assert_v4_addrs(&p);
	assert_int_equal(p.l4proto, IPPROTO_UDP);
	assert_int_equal(p.flags, PKT_F_L4);
	assert_int_equal(p.sport, SPORT);
	assert_int_equal(p.dport, 53);
	assert_int_equal(p.payload_off, 28);
	assert_int_equal(p.payload_len, 12);
}

/* A UDP length below the IP payload trims the datagram, as udp_rcv(). */
static void test_ipv4_udp_len_trims(void **state)
{
	uint8_t b[128];
	struct pkt_info p;
	size_t n = mk_ipv4(b, 5, 20 + 8 + 12, 7, 0, IPPROTO_UDP);

	n += mk_udp(b + n, 8 + 4);
	fill(b + n, 12);
	n += 12;
	assert_int_equal(parse(b, n, 0, &p), PKT_OK);
	assert_int_equal(p.flags, PKT_F_L4);
	assert_int_equal(p.len, 40);
	assert_int_equal(p.payload_off, 28);
	assert_int_equal(p.payload_len, 4);
}

static void test_ipv4_udplite_sctp(void **state)
{
	uint8_t b[128];
	struct pkt_info p;
	size_t n = mk_ipv4(b, 5, 20 + 8 + 4, 7, 0, IPPROTO_UDPLITE);

	n += mk_udp(b + n, 8);	/* coverage 8: not checked */
	fill(b + n, 4);
	n += 4;
	assert_int_equal(parse(b, n, 0, &p), PKT_OK);
	assert_int_equal(p.l4proto, IPPROTO_UDPLITE);
	assert_int_equal(p.flags, PKT_F_L4);
	assert_int_equal(p.sport, SPORT);
	assert_int_equal(p.dport, 53);
	assert_int_equal(p.payload_off, 28);
	assert_int_equal(p.payload_len, 4);

	n = mk_ipv4(b, 5, 20 + 12 + 16, 7, 0, IPPROTO_SCTP);
	put16(b + n, 5000);
	put16(b + n + 2, 38412);
	memset(b + n + 4, 0, 8);
	n += 12;
	fill(b + n, 16);
	n += 16;
	assert_int_equal(parse(b, n, 0, &p), PKT_OK);
	assert_int_equal(p.l4proto, IPPROTO_SCTP);
	assert_int_equal(p.flags, PKT_F_L4);
	assert_int_equal(p.sport, 5000);
	assert_int_equal(p.dport, 38412);
	assert_int_equal(p.payload_off, 32);
	assert_int_equal(p.payload_len, 16);
}

static void test_ipv4_icmp(void **state)
{
	uint8_t b[128];
	struct pkt_info p;
	size_t n = mk_ipv4(b, 5, 20 + 8 + 56, 9, 0, IPPROTO_ICMP);

	n += mk_icmp(b + n, 8, 0, 0xbeef);
	fill(b + n, 56);
	n += 56;
	assert_int_equal(parse(b, n, 0, &p), PKT_OK);
	assert_v4_addrs(&p);
	assert_int_equal(p.l4proto, IPPROTO_ICMP);
	assert_int_equal(p.flags, PKT_F_L4);
	assert_int_equal(p.icmp_type, 8);
	assert_int_equal(p.icmp_code, 0);
	assert_int_equal(p.sport, 0xbeef);
	assert_int_equal(p.dport, 8 << 8);
	assert_int_equal(p.payload_off, 28);
	assert_int_equal(p.payload_len, 56);

	/* echo reply: same id */
	b[20] = 0;
	assert_int_equal(parse(b, n, 0, &p), PKT_OK);
	assert_int_equal(p.sport, 0xbeef);
	assert_int_equal(p.dport, 0);

	/* port unreachable: no id, dport = type << 8 | code */
	mk_icmp(b + 20, 3, 3, 0xbeef);
	assert_int_equal(parse(b, n, 0, &p), PKT_OK);
	assert_int_equal(p.flags, PKT_F_L4);
	assert_int_equal(p.icmp_type, 3);
	assert_int_equal(p.icmp_code, 3);
	assert_int_equal(p.sport, 0);
	assert_int_equal(p.dport, 0x0303);

	/* ICMPv6 echo numbers mean nothing in ICMP: no id */
	mk_icmp(b + 20, 128, 0, 0xbeef);
	assert_int_equal(parse(b, n, 0, &p), PKT_OK);
	assert_int_equal(p.sport, 0);
	assert_int_equal(p.dport, 128 << 8);
}

/* A protocol without an L4 rule: valid, no PKT_F_L4. */
static void test_ipv4_other_proto(void **state)
{
	uint8_t b[128];
	struct pkt_info p;
	size_t n = mk_ipv4(b, 5, 20 + 24, 9, 0, IPPROTO_GRE);

	fill(b + n, 24);
	n += 24;
	assert_int_equal(parse(b, n, 0, &p), PKT_OK);
	assert_int_equal(p.l4proto, IPPROTO_GRE);
	assert_int_equal(p.flags, 0);
	assert_int_equal(p.sport, 0);
	assert_int_equal(p.dport, 0);
	assert_int_equal(p.l4off, 20);
	assert_int_equal(p.payload_off, 20);
	assert_int_equal(p.payload_len, 24);

	/* ICMPv6 inside IPv4 is just a number */
	b[9] = IPPROTO_ICMPV6;
	assert_int_equal(parse(b, n, 0, &p), PKT_OK);
	assert_int_equal(p.l4proto, IPPROTO_ICMPV6);
	assert_int_equal(p.flags, 0);

	/* AH is not walked in IPv4 */
	b[9] = IPPROTO_AH;
	assert_int_equal(parse(b, n, 0, &p), PKT_OK);
	assert_int_equal(p.l4proto, IPPROTO_AH);
	assert_int_equal(p.flags, 0);

	/* a bare header is fine once the total length says so */
	b[9] = 200;
	assert_int_equal(parse(b, 20, 0, &p), PKT_ERR_TOTLEN);
	put16(b + 2, 20);
	assert_int_equal(parse(b, 20, 0, &p), PKT_OK);
	assert_int_equal(p.payload_len, 0);
}

/* Ethernet pads short frames: bytes past the total length are ignored. */
static void test_ipv4_padding(void **state)
{
	uint8_t b[128];
	struct pkt_info p;
	size_t n = mk_ipv4(b, 5, 20 + 20, 9, 0, IPPROTO_TCP);

	n += mk_tcp(b + n, 5, 0x10);
	memset(b + n, 0, 6);
	n += 6;
	assert_int_equal(parse(b, n, 0, &p), PKT_OK);
	assert_int_equal(p.flags, PKT_F_L4);
	assert_int_equal(p.len, 40);
	assert_int_equal(p.ip_len, 40);
	assert_int_equal(p.payload_off, 40);
	assert_int_equal(p.payload_len, 0);
}

static void test_ipv4_frag_first(void **state)
{
	uint8_t b[128];
	struct pkt_info p;
	size_t n = mk_ipv4(b, 5, 20 + 8 + 32, 0xabcd, 0x2000, IPPROTO_UDP);

	/* The UDP length covers the whole datagram: not checked here. */
	n += mk_udp(b + n, 3000);
	fill(b + n, 32);
	n += 32;
	assert_int_equal(parse(b, n, 0, &p), PKT_OK);
	assert_int_equal(p.flags,
			 PKT_F_FRAGMENT | PKT_F_FIRST_FRAG | PKT_F_L4);
	assert_int_equal(p.l4proto, IPPROTO_UDP);
	assert_int_equal(p.frag_id, 0xabcd);
	assert_int_equal(p.sport, SPORT);
	assert_int_equal(p.dport, 53);
	assert_int_equal(p.payload_off, 28);
	assert_int_equal(p.payload_len, 32);
}

static void test_ipv4_frag_later(void **state)
{
	uint8_t b[128];
	struct pkt_info p;
	size_t n = mk_ipv4(b, 5, 20 + 40, 0xabcd, 0x2000 | 185, IPPROTO_UDP);

	fill(b + n, 40);
	n += 40;
	assert_int_equal(parse(b, n, 0, &p), PKT_OK);
	assert_int_equal(p.flags, PKT_F_FRAGMENT);
	assert_int_equal(p.l4proto, IPPROTO_UDP);
	assert_int_equal(p.frag_id, 0xabcd);
	assert_int_equal(p.sport, 0);
	assert_int_equal(p.dport, 0);
	assert_int_equal(p.l4off, 20);
	assert_int_equal(p.payload_off, 20);
	assert_int_equal(p.payload_len, 40);

	/* the last fragment: MF clear, offset set */
	put16(b + 6, 370);
	assert_int_equal(parse(b, n, 0, &p), PKT_OK);
	assert_int_equal(p.flags, PKT_F_FRAGMENT);

	/* a later fragment may be shorter than any L4 header */
	put16(b + 2, 21);
	assert_int_equal(parse(b, 21, 0, &p), PKT_OK);
	assert_int_equal(p.flags, PKT_F_FRAGMENT);
	assert_int_equal(p.payload_len, 1);
}

/* DF and the reserved bit do not make a fragment. */
static void test_ipv4_not_frag(void **state)
{
	uint8_t b[128];
	struct pkt_info p;
	size_t n = mk_ipv4(b, 5, 40, 0, 0x4000 | 0x8000, IPPROTO_TCP);

	n += mk_tcp(b + n, 5, 0x10);
	assert_int_equal(parse(b, n, 0, &p), PKT_OK);
	assert_int_equal(p.flags, PKT_F_L4);
}

/* Copy range 96 of a 1500-byte packet: payload cut, not an error. */
static void test_ipv4_truncated(void **state)
{
	uint8_t b[128];
	struct pkt_info p;
	size_t n = mk_ipv4(b, 5, 1500, 1, 0, IPPROTO_TCP);

	n += mk_tcp(b + n, 5, 0x18);
	fill(b + n, 56);
	n += 56;
	assert_int_equal(parse(b, n, 1500, &p), PKT_OK);
	assert_int_equal(p.flags, PKT_F_L4 | PKT_F_TRUNCATED);
	assert_int_equal(p.len, 96);
	assert_int_equal(p.ip_len, 1500);
	assert_int_equal(p.sport, SPORT);
	assert_int_equal(p.payload_off, 40);
	assert_int_equal(p.payload_len, 56);

	/* UDP length checked against the packet, not the copy */
	n = mk_ipv4(b, 5, 1500, 1, 0, IPPROTO_UDP);
	n += mk_udp(b + n, 1480);
	assert_int_equal(parse(b, n, 1500, &p), PKT_OK);
	assert_int_equal(p.flags, PKT_F_L4 | PKT_F_TRUNCATED);
	assert_int_equal(p.payload_len, 0);

	/* cut exactly after the TCP header */
	n = mk_ipv4(b, 5, 1500, 1, 0, IPPROTO_TCP);
	n += mk_tcp(b + n, 5, 0x18);
	assert_int_equal(parse(b, n, 1500, &p), PKT_OK);
	assert_int_equal(p.flags, PKT_F_L4 | PKT_F_TRUNCATED);
	assert_int_equal(p.payload_len, 0);

	/* wire length longer than the packet: link padding on the wire */
	assert_int_equal(parse(b, n, 1600, &p), PKT_OK);
	assert_int_equal(p.ip_len, 1500);

	/* a wire length below @len is taken as @len */
	put16(b + 2, 40);
	assert_int_equal(parse(b, n, 10, &p), PKT_OK);
	assert_int_equal(p.flags, PKT_F_L4);
}

/* A > 64 KiB GSO packet, copied short: total length 0. */
static void test_ipv4_gso_big(void **state)
{
	uint8_t b[128];
	struct pkt_info p;
	size_t n = mk_ipv4(b, 5, 0, 1, 0x4000, IPPROTO_TCP);

	n += mk_tcp(b + n, 5, 0x18);
	fill(b + n, 88);
	n += 88;
	assert_int_equal(parse(b, n, 70000, &p), PKT_OK);
	assert_int_equal(p.flags, PKT_F_L4 | PKT_F_TRUNCATED | PKT_F_GSO);
	assert_int_equal(p.ip_len, 70000);
	assert_int_equal(p.len, 128);
	assert_int_equal(p.payload_off, 40);
	assert_int_equal(p.payload_len, 88);

	/* UDP length 0 is accepted on it */
	n = mk_ipv4(b, 5, 0, 1, 0, IPPROTO_UDP);
	n += mk_udp(b + n, 0);
	assert_int_equal(parse(b, n, 70000, &p), PKT_OK);
	assert_int_equal(p.flags, PKT_F_L4 | PKT_F_TRUNCATED | PKT_F_GSO);

	/* at 65535 and below 0 is just wrong */
	assert_int_equal(parse(b, n, 65535, &p), PKT_ERR_TOTLEN);

	/* a wire length that does not fit ip_len */
	if (SIZE_MAX > UINT32_MAX)
		assert_int_equal(parse(b, n, (size_t)UINT32_MAX + 1, &p),
				 PKT_ERR_TOTLEN);
}

/* The same, handed over whole. */
static void test_ipv4_gso_whole(void **state)
{
	size_t len = 100000, n;
	struct pkt_info p;
	uint8_t *b = malloc(len);

	assert_non_null(b);
	n = mk_ipv4(b, 5, 0, 1, 0x4000, IPPROTO_TCP);
	n += mk_tcp(b + n, 5, 0x18);
	fill(b + n, len - n);
	assert_int_equal(parse(b, len, 0, &p), PKT_OK);
	assert_int_equal(p.flags, PKT_F_L4 | PKT_F_GSO);
	assert_int_equal(p.len, len);
	assert_int_equal(p.ip_len, len);
	assert_int_equal(p.payload_len, len - 40);
	free(b);
}

/* --- good IPv6 --- */

static void test_ipv6_tcp(void **state)
{
	uint8_t b[128];
	struct pkt_info p;
	size_t n = mk_ipv6(b, 20 + 10, IPPROTO_TCP);

	n += mk_tcp(b + n, 5, 0x11);
	fill(b + n, 10);
	n += 10;
	assert_int_equal(parse(b, n, 0, &p), PKT_OK);
	assert_v6_addrs(&p);
	assert_int_equal(p.l4proto, IPPROTO_TCP);
	assert_int_equal(p.flags, PKT_F_L4);
	assert_int_equal(p.tcp_flags, 0x11);
	assert_int_equal(p.sport, SPORT);
	assert_int_equal(p.dport, DPORT);
	assert_int_equal(p.frag_id, 0);
	assert_int_equal(p.l4off, 40);
	assert_int_equal(p.payload_off, 60);
	assert_int_equal(p.payload_len, 10);
	assert_int_equal(p.len, 70);
	assert_int_equal(p.ip_len, 70);
}

static void test_ipv6_udp(void **state)
{
	uint8_t b[128];
	struct pkt_info p;
	size_t n = mk_ipv6(b, 8 + 20, IPPROTO_UDP);

	n += mk_udp(b + n, 8 + 20);
	fill(b + n, 20);
	n += 20;
	/* and 4 bytes of link padding */
	memset(b + n, 0, 4);
	assert_int_equal(parse(b, n + 4, 0, &p), PKT_OK);
	assert_v6_addrs(&p);
	assert_int_equal(p.l4proto, IPPROTO_UDP);
	assert_int_equal(p.flags, PKT_F_L4);
	assert_int_equal(p.sport, SPORT);
	assert_int_equal(p.dport, 53);
	assert_int_equal(p.len, 68);
	assert_int_equal(p.payload_off, 48);
	assert_int_equal(p.payload_len, 20);
}

static void test_ipv6_icmpv6(void **state)
{
	uint8_t b[128];
	struct pkt_info p;
	size_t n = mk_ipv6(b, 8 + 16, IPPROTO_ICMPV6);

	n += mk_icmp(b + n, 128, 0, 0x4242);
	fill(b + n, 16);
	n += 16;
	assert_int_equal(parse(b, n, 0, &p), PKT_OK);
	assert_int_equal(p.l4proto, IPPROTO_ICMPV6);
	assert_int_equal(p.flags, PKT_F_L4);
	assert_int_equal(p.icmp_type, 128);
	assert_int_equal(p.sport, 0x4242);
	assert_int_equal(p.dport, 128 << 8);
	assert_int_equal(p.payload_off, 48);
	assert_int_equal(p.payload_len, 16);

	b[40] = 129;
	assert_int_equal(parse(b, n, 0, &p), PKT_OK);
	assert_int_equal(p.sport, 0x4242);
	assert_int_equal(p.dport, 129 << 8);

	/* neighbour solicitation: no id */
	mk_icmp(b + 40, 135, 0, 0x4242);
	assert_int_equal(parse(b, n, 0, &p), PKT_OK);
	assert_int_equal(p.icmp_type, 135);
	assert_int_equal(p.sport, 0);
	assert_int_equal(p.dport, 135 << 8);

	/* ICMP echo numbers mean nothing in ICMPv6 */
	mk_icmp(b + 40, 8, 0, 0x4242);
	assert_int_equal(parse(b, n, 0, &p), PKT_OK);
	assert_int_equal(p.sport, 0);

	/* and ICMP inside IPv6 is just a number */
	b[6] = IPPROTO_ICMP;
	assert_int_equal(parse(b, n, 0, &p), PKT_OK);
	assert_int_equal(p.l4proto, IPPROTO_ICMP);
	assert_int_equal(p.flags, 0);
}

/* Header only, no next header: a valid 40-byte packet. */
static void test_ipv6_no_next(void **state)
{
	uint8_t b[64];
	struct pkt_info p;
	size_t n = mk_ipv6(b, 0, IPPROTO_NONE);

	assert_int_equal(parse(b, n, 0, &p), PKT_OK);
	assert_int_equal(p.l4proto, IPPROTO_NONE);
	assert_int_equal(p.flags, 0);
	assert_int_equal(p.l4off, 40);
	assert_int_equal(p.payload_len, 0);
}

static void test_ipv6_ext_chain(void **state)
{
	uint8_t b[256];
	struct pkt_info p;
	size_t n = mk_ipv6(b, 8 + 24 + 16 + 20 + 3, IPPROTO_HOPOPTS);

	n += mk_ext(b + n, IPPROTO_ROUTING, 0);
	n += mk_ext(b + n, IPPROTO_DSTOPTS, 2);
	n += mk_ext(b + n, IPPROTO_TCP, 1);
	n += mk_tcp(b + n, 5, 0x02);
	fill(b + n, 3);
	n += 3;
	assert_int_equal(parse(b, n, 0, &p), PKT_OK);
	assert_v6_addrs(&p);
	assert_int_equal(p.l4proto, IPPROTO_TCP);
	assert_int_equal(p.flags, PKT_F_L4);
	assert_int_equal(p.sport, SPORT);
	assert_int_equal(p.l4off, 40 + 8 + 24 + 16);
	assert_int_equal(p.payload_off, 40 + 8 + 24 + 16 + 20);
	assert_int_equal(p.payload_len, 3);
}

static void test_ipv6_frag_first(void **state)
{
	uint8_t b[256];
	struct pkt_info p;
	size_t n = mk_ipv6(b, 8 + 8 + 8 + 40, IPPROTO_HOPOPTS);

	n += mk_ext(b + n, IPPROTO_FRAGMENT, 0);
	n += mk_frag6(b + n, IPPROTO_UDP, 0, 1, 0xdeadbeef);
	n += mk_udp(b + n, 4000);
	fill(b + n, 40);
	n += 40;
	assert_int_equal(parse(b, n, 0, &p), PKT_OK);
	assert_int_equal(p.flags,
			 PKT_F_FRAGMENT | PKT_F_FIRST_FRAG | PKT_F_L4);
	assert_int_equal(p.l4proto, IPPROTO_UDP);
	assert_int_equal(p.frag_id, 0xdeadbeef);
	assert_int_equal(p.sport, SPORT);
	assert_int_equal(p.dport, 53);
	assert_int_equal(p.l4off, 56);
	assert_int_equal(p.payload_off, 64);
	assert_int_equal(p.payload_len, 40);
}

static void test_ipv6_frag_later(void **state)
{
	uint8_t b[256];
	struct pkt_info p;
	size_t n = mk_ipv6(b, 8 + 40, IPPROTO_FRAGMENT);

	n += mk_frag6(b + n, IPPROTO_UDP, 181, 1, 77);
	fill(b + n, 40);
	n += 40;
	assert_int_equal(parse(b, n, 0, &p), PKT_OK);
	assert_int_equal(p.flags, PKT_F_FRAGMENT);
	assert_int_equal(p.l4proto, IPPROTO_UDP);
	assert_int_equal(p.frag_id, 77);
	assert_int_equal(p.sport, 0);
	assert_int_equal(p.l4off, 48);
	assert_int_equal(p.payload_off, 48);
	assert_int_equal(p.payload_len, 40);

	/* last fragment, and one with no data at all */
	mk_frag6(b + 40, IPPROTO_UDP, 181, 0, 77);
	put16(b + 4, 8);
	assert_int_equal(parse(b, 48, 0, &p), PKT_OK);
	assert_int_equal(p.flags, PKT_F_FRAGMENT);
	assert_int_equal(p.payload_len, 0);
}

/* Offset 0, M clear: an atomic fragment is a whole packet (RFC 6946). */
static void test_ipv6_frag_atomic(void **state)
{
	uint8_t b[256];
	struct pkt_info p;
	size_t n = mk_ipv6(b, 8 + 20, IPPROTO_FRAGMENT);

	n += mk_frag6(b + n, IPPROTO_TCP, 0, 0, 5);
	n += mk_tcp(b + n, 5, 0x10);
	assert_int_equal(parse(b, n, 0, &p), PKT_OK);
	assert_int_equal(p.flags, PKT_F_L4);
	assert_int_equal(p.frag_id, 5);
	assert_int_equal(p.sport, SPORT);
}

static void test_ipv6_ah(void **state)
{
	uint8_t b[256];
	struct pkt_info p;
	size_t n = mk_ipv6(b, 24 + 20 + 7, IPPROTO_AH);

	n += mk_ah(b + n, IPPROTO_TCP, 4);
	n += mk_tcp(b + n, 5, 0x10);
	fill(b + n, 7);
	n += 7;
	assert_int_equal(parse(b, n, 0, &p), PKT_OK);
	assert_int_equal(p.l4proto, IPPROTO_TCP);
	assert_int_equal(p.flags, PKT_F_L4);
	assert_int_equal(p.l4off, 64);
	assert_int_equal(p.payload_off, 84);
	assert_int_equal(p.payload_len, 7);
}

static void test_ipv6_esp(void **state)
{
	uint8_t b[256];
	struct pkt_info p;
	size_t n = mk_ipv6(b, 8 + 40, IPPROTO_DSTOPTS);

	n += mk_ext(b + n, IPPROTO_ESP, 0);
	fill(b + n, 40);
	n += 40;
	assert_int_equal(parse(b, n, 0, &p), PKT_OK);
	assert_int_equal(p.l4proto, IPPROTO_ESP);
	assert_int_equal(p.flags, 0);
	assert_int_equal(p.sport, 0);
	assert_int_equal(p.l4off, 48);
	assert_int_equal(p.payload_off, 48);
	assert_int_equal(p.payload_len, 40);
}

/* Exactly PKT_EXTHDR_MAX headers pass. */
static void test_ipv6_chain_max(void **state)
{
	uint8_t b[512];
	struct pkt_info p;
	size_t n = 40;
	int i;

	for (i = 0; i < PKT_EXTHDR_MAX; i++)
		n += mk_ext(b + n, i < PKT_EXTHDR_MAX - 1 ?
			    IPPROTO_DSTOPTS : IPPROTO_UDP, 0);
	n += mk_udp(b + n, 8);
	mk_ipv6(b, n - 40, IPPROTO_DSTOPTS);
	assert_int_equal(parse(b, n, 0, &p), PKT_OK);
	assert_int_equal(p.flags, PKT_F_L4);
	assert_int_equal(p.l4proto, IPPROTO_UDP);
	assert_int_equal(p.l4off, 40 + 8 * PKT_EXTHDR_MAX);
}

static void test_ipv6_truncated(void **state)
{
	uint8_t b[128];
	struct pkt_info p;
	size_t n = mk_ipv6(b, 1460, IPPROTO_DSTOPTS);

	n += mk_ext(b + n, IPPROTO_TCP, 0);
	n += mk_tcp(b + n, 5, 0x18);
	fill(b + n, 32);
	n += 32;
	assert_int_equal(parse(b, n, 1500, &p), PKT_OK);
	assert_int_equal(p.flags, PKT_F_L4 | PKT_F_TRUNCATED);
	assert_int_equal(p.len, 100);
	assert_int_equal(p.ip_len, 1500);
	assert_int_equal(p.payload_off, 68);
	assert_int_equal(p.payload_len, 32);
}

/* BIG TCP / GSO over 64 KiB: payload length 0. */
static void test_ipv6_gso_big(void **state)
{
	uint8_t b[128];
	struct pkt_info p;
	size_t n = mk_ipv6(b, 0, IPPROTO_TCP);

	n += mk_tcp(b + n, 5, 0x18);
	fill(b + n, 40);
	n += 40;
	assert_int_equal(parse(b, n, 200000, &p), PKT_OK);
	assert_int_equal(p.flags, PKT_F_L4 | PKT_F_TRUNCATED | PKT_F_GSO);
	assert_int_equal(p.ip_len, 200000);
	assert_int_equal(p.payload_len, 40);

	/* a jumbogram: hop-by-hop jumbo option, payload length 0 */
	n = mk_ipv6(b, 0, IPPROTO_HOPOPTS);
	memset(b + n, 0, 8);
	b[n] = IPPROTO_UDP;
	b[n + 2] = 0xc2;
	b[n + 3] = 4;
	put32(b + n + 4, 70000 - 40);
	n += 8;
	n += mk_udp(b + n, 0);
	assert_int_equal(parse(b, n, 70000, &p), PKT_OK);
	assert_int_equal(p.flags, PKT_F_L4 | PKT_F_TRUNCATED | PKT_F_GSO);
	assert_int_equal(p.l4proto, IPPROTO_UDP);

	/* below 64 KiB payload length 0 is taken literally */
	assert_int_equal(parse(b, n, 0, &p), PKT_ERR_EXTHDR);
	mk_ipv6(b, 0, IPPROTO_TCP);
	assert_int_equal(parse(b, 60, 0, &p), PKT_ERR_L4_TRUNC);
}

/* --- malformed --- */

static void test_empty(void **state)
{
	uint8_t b[1] = { 0x45 };
	struct pkt_info p;

	assert_int_equal(parse(b, 0, 0, &p), PKT_ERR_EMPTY);
	assert_int_equal(pkt_parse(NULL, 0, 0, &p), PKT_ERR_EMPTY);
	assert_int_equal(parse(b, 0, 1500, &p), PKT_ERR_EMPTY);
}

static void test_bad_version(void **state)
{
	static const uint8_t first[] = { 0x00, 0x15, 0x55, 0x75, 0xf0, 0xff };
	uint8_t b[64];
	struct pkt_info p;
	unsigned i;

	mk_ipv4(b, 5, 40, 0, 0, IPPROTO_TCP);
	mk_tcp(b + 20, 5, 0);
	for (i = 0; i < sizeof(first); i++) {
		b[0] = first[i];
		assert_int_equal(parse(b, 40, 0, &p), PKT_ERR_VERSION);
	}
	assert_int_equal(parse(b, 1, 0, &p), PKT_ERR_VERSION);
}

static void test_l3_trunc(void **state)
{
	uint8_t b[64];
	struct pkt_info p;

	mk_ipv4(b, 5, 20, 0, 0, IPPROTO_TCP);
	assert_int_equal(parse(b, 1, 0, &p), PKT_ERR_L3_TRUNC);
	assert_int_equal(parse(b, 19, 0, &p), PKT_ERR_L3_TRUNC);
	/* even when the copy range is what cut it */
	assert_int_equal(parse(b, 19, 1500, &p), PKT_ERR_L3_TRUNC);
	mk_ipv6(b, 0, IPPROTO_NONE);
	assert_int_equal(parse(b, 1, 0, &p), PKT_ERR_L3_TRUNC);
	assert_int_equal(parse(b, 39, 0, &p), PKT_ERR_L3_TRUNC);
}

static void test_ipv4_bad_ihl(void **state)
{
	uint8_t b[64];
	struct pkt_info p;
	unsigned ihl;

	mk_ipv4(b, 5, 40, 0, 0, IPPROTO_TCP);
	mk_tcp(b + 20, 5, 0);
	for (ihl = 0; ihl < 5; ihl++) {
		b[0] = 0x40 | ihl;
		assert_int_equal(parse(b, 40, 0, &p), PKT_ERR_IHL);
	}
	/* 60 bytes of header in 40 */
	b[0] = 0x4f;
	assert_int_equal(parse(b, 40, 0, &p), PKT_ERR_IHL);
	/* 24 bytes of header, cut at 23 by the copy range */
	b[0] = 0x46;
	assert_int_equal(parse(b, 23, 1500, &p), PKT_ERR_IHL);
}

static void test_ipv4_bad_totlen(void **state)
{
	uint8_t b[128];
	struct pkt_info p;

	mk_ipv4(b, 5, 40, 0, 0, IPPROTO_TCP);
	mk_tcp(b + 20, 5, 0);
	/* shorter than the header */
	put16(b + 2, 19);
	assert_int_equal(parse(b, 40, 0, &p), PKT_ERR_TOTLEN);
	put16(b + 2, 0);
	assert_int_equal(parse(b, 40, 0, &p), PKT_ERR_TOTLEN);
	b[0] = 0x46;
	put16(b + 2, 23);
	assert_int_equal(parse(b, 40, 0, &p), PKT_ERR_TOTLEN);
	/* longer than the packet, no copy range */
	b[0] = 0x45;
	put16(b + 2, 41);
	assert_int_equal(parse(b, 40, 0, &p), PKT_ERR_TOTLEN);
	put16(b + 2, 65535);
	assert_int_equal(parse(b, 40, 0, &p), PKT_ERR_TOTLEN);
	/* longer than the wire */
	put16(b + 2, 1500);
	assert_int_equal(parse(b, 40, 1499, &p), PKT_ERR_TOTLEN);
}

static void test_ipv6_bad_plen(void **state)
{
	uint8_t b[128];
	struct pkt_info p;

	mk_ipv6(b, 21, IPPROTO_TCP);
	mk_tcp(b + 40, 5, 0);
	assert_int_equal(parse(b, 60, 0, &p), PKT_ERR_TOTLEN);
	put16(b + 4, 65535);
	assert_int_equal(parse(b, 60, 0, &p), PKT_ERR_TOTLEN);
	put16(b + 4, 1460);
	assert_int_equal(parse(b, 60, 1000, &p), PKT_ERR_TOTLEN);
}

static void test_tcp_trunc(void **state)
{
	uint8_t b[128];
	struct pkt_info p;
	unsigned doff;

	/* data offset below 5 */
	mk_ipv4(b, 5, 60, 0, 0, IPPROTO_TCP);
	for (doff = 0; doff < 5; doff++) {
		mk_tcp(b + 20, doff, 0x02);
		assert_int_equal(parse(b, 60, 0, &p), PKT_ERR_L4_TRUNC);
	}
	/* data offset past the end */
	mk_tcp(b + 20, 11, 0x02);
	assert_int_equal(parse(b, 60, 0, &p), PKT_ERR_L4_TRUNC);
	/* 19 bytes of TCP */
	mk_ipv4(b, 5, 39, 0, 0, IPPROTO_TCP);
	mk_tcp(b + 20, 5, 0x02);
	assert_int_equal(parse(b, 39, 0, &p), PKT_ERR_L4_TRUNC);
	/* the copy range cuts the header or its options */
	put16(b + 2, 1500);
	assert_int_equal(parse(b, 30, 1500, &p), PKT_ERR_L4_TRUNC);
	mk_tcp(b + 20, 8, 0x02);
	assert_int_equal(parse(b, 48, 1500, &p), PKT_ERR_L4_TRUNC);
	/* IPv6 the same */
	mk_ipv6(b, 19, IPPROTO_TCP);
	mk_tcp(b + 40, 5, 0x02);
	assert_int_equal(parse(b, 59, 0, &p), PKT_ERR_L4_TRUNC);
}

static void test_udp_bad(void **state)
{
	uint8_t b[128];
	struct pkt_info p;

	/* 7 bytes of UDP */
	mk_ipv4(b, 5, 27, 0, 0, IPPROTO_UDP);
	mk_udp(b + 20, 7);
	assert_int_equal(parse(b, 27, 0, &p), PKT_ERR_L4_TRUNC);
	/* length field below 8 */
	mk_ipv4(b, 5, 40, 0, 0, IPPROTO_UDP);
	mk_udp(b + 20, 7);
	assert_int_equal(parse(b, 40, 0, &p), PKT_ERR_L4_LEN);
	mk_udp(b + 20, 0);
	assert_int_equal(parse(b, 40, 0, &p), PKT_ERR_L4_LEN);
	/* length field past the IP payload */
	mk_udp(b + 20, 21);
	assert_int_equal(parse(b, 40, 0, &p), PKT_ERR_L4_LEN);
	put16(b + 2, 1500);
	mk_udp(b + 20, 1481);
	assert_int_equal(parse(b, 40, 1500, &p), PKT_ERR_L4_LEN);
	/* IPv6 the same */
	mk_ipv6(b, 12, IPPROTO_UDP);
	mk_udp(b + 40, 13);
	assert_int_equal(parse(b, 52, 0, &p), PKT_ERR_L4_LEN);
	/* UDP-Lite and SCTP need their header */
	mk_ipv4(b, 5, 27, 0, 0, IPPROTO_UDPLITE);
	assert_int_equal(parse(b, 27, 0, &p), PKT_ERR_L4_TRUNC);
	mk_ipv4(b, 5, 31, 0, 0, IPPROTO_SCTP);
	assert_int_equal(parse(b, 31, 0, &p), PKT_ERR_L4_TRUNC);
}

static void test_icmp_trunc(void **state)
{
	uint8_t b[128];
	struct pkt_info p;

	mk_ipv4(b, 5, 27, 0, 0, IPPROTO_ICMP);
	mk_icmp(b + 20, 8, 0, 1);
	assert_int_equal(parse(b, 27, 0, &p), PKT_ERR_L4_TRUNC);
	mk_ipv6(b, 4, IPPROTO_ICMPV6);
	mk_icmp(b + 40, 128, 0, 1);
	assert_int_equal(parse(b, 44, 0, &p), PKT_ERR_L4_TRUNC);
}

/* A first fragment must hold the whole L4 header (RFC 1858, 7112). */
static void test_frag_first_tiny(void **state)
{
	uint8_t b[128];
	struct pkt_info p;

	mk_ipv4(b, 5, 28, 0, 0x2000, IPPROTO_TCP);
	mk_tcp(b + 20, 5, 0x02);
	assert_int_equal(parse(b, 28, 0, &p), PKT_ERR_L4_TRUNC);
	mk_ipv6(b, 8 + 8, IPPROTO_FRAGMENT);
	mk_frag6(b + 40, IPPROTO_TCP, 0, 1, 1);
	mk_tcp(b + 48, 5, 0x02);
	assert_int_equal(parse(b, 56, 0, &p), PKT_ERR_L4_TRUNC);
	/* the chain itself cut by the fragment's end */
	mk_ipv6(b, 8 + 8, IPPROTO_FRAGMENT);
	mk_frag6(b + 40, IPPROTO_DSTOPTS, 0, 1, 1);
	mk_ext(b + 48, IPPROTO_TCP, 1);
	assert_int_equal(parse(b, 64, 0, &p), PKT_ERR_EXTHDR);
}

static void test_ipv6_ext_past_end(void **state)
{
	uint8_t b[256];
	struct pkt_info p;

	/* 88-byte header in 16 */
	mk_ipv6(b, 16, IPPROTO_DSTOPTS);
	mk_ext(b + 40, IPPROTO_TCP, 10);
	assert_int_equal(parse(b, 56, 0, &p), PKT_ERR_EXTHDR);
	/* one byte left: not even the length field */
	mk_ipv6(b, 9, IPPROTO_DSTOPTS);
	mk_ext(b + 40, IPPROTO_NONE, 0);
	mk_ext(b + 48, IPPROTO_NONE, 0);
	b[40] = IPPROTO_ROUTING;
	assert_int_equal(parse(b, 49, 0, &p), PKT_ERR_EXTHDR);
	/* nothing left */
	mk_ipv6(b, 0, IPPROTO_ROUTING);
	assert_int_equal(parse(b, 40, 0, &p), PKT_ERR_EXTHDR);
	/* a 4-byte fragment header */
	mk_ipv6(b, 4, IPPROTO_FRAGMENT);
	mk_frag6(b + 40, IPPROTO_UDP, 0, 1, 1);
	assert_int_equal(parse(b, 44, 0, &p), PKT_ERR_EXTHDR);
	/* AH: length in 4-byte units + 2, past the end */
	mk_ipv6(b, 24, IPPROTO_AH);
	mk_ah(b + 40, IPPROTO_TCP, 5);
	assert_int_equal(parse(b, 64, 0, &p), PKT_ERR_EXTHDR);
	/* AH: one byte left */
	mk_ipv6(b, 1, IPPROTO_AH);
	b[40] = IPPROTO_TCP;
	assert_int_equal(parse(b, 41, 0, &p), PKT_ERR_EXTHDR);
	/* AH shorter than its fixed 12 bytes */
	mk_ipv6(b, 40, IPPROTO_AH);
	mk_ah(b + 40, IPPROTO_NONE, 0);
	assert_int_equal(parse(b, 80, 0, &p), PKT_ERR_EXTHDR);
	/* inside the packet but cut by the copy range */
	mk_ipv6(b, 1000, IPPROTO_HOPOPTS);
	mk_ext(b + 40, IPPROTO_TCP, 7);
	assert_int_equal(parse(b, 96, 1040, &p), PKT_ERR_EXTHDR);
	/* inside the bytes at hand but past the payload length */
	mk_ipv6(b, 16, IPPROTO_HOPOPTS);
	mk_ext(b + 40, IPPROTO_NONE, 2);
	assert_int_equal(parse(b, 96, 0, &p), PKT_ERR_EXTHDR);
}

static void test_ipv6_hbh_not_first(void **state)
{
	uint8_t b[256];
	struct pkt_info p;
	size_t n = mk_ipv6(b, 16 + 8, IPPROTO_DSTOPTS);

	n += mk_ext(b + n, IPPROTO_HOPOPTS, 0);
	n += mk_ext(b + n, IPPROTO_UDP, 0);
	n += mk_udp(b + n, 8);
	assert_int_equal(parse(b, n, 0, &p), PKT_ERR_EXTHDR);
}

static void test_ipv6_chain_too_long(void **state)
{
	size_t size = 60000, n = 40;
	struct pkt_info p;
	uint8_t *b = malloc(size);
	int i;

	assert_non_null(b);
	/* one more than the limit */
	for (i = 0; i <= PKT_EXTHDR_MAX; i++)
		n += mk_ext(b + n, i < PKT_EXTHDR_MAX ?
			    IPPROTO_DSTOPTS : IPPROTO_UDP, 0);
	n += mk_udp(b + n, 8);
	mk_ipv6(b, n - 40, IPPROTO_DSTOPTS);
	assert_int_equal(parse(b, n, 0, &p), PKT_ERR_EXTHDR);

	/* a hostile chain filling the packet: stops at the limit */
	for (n = 40; n + 8 <= size; n += 8)
		mk_ext(b + n, IPPROTO_ROUTING, 0);
	mk_ipv6(b, n - 40, IPPROTO_ROUTING);
	assert_int_equal(parse(b, n, 0, &p), PKT_ERR_EXTHDR);

	/* fragment headers count too */
	for (n = 40; n + 8 <= size; n += 8)
		mk_frag6(b + n, IPPROTO_FRAGMENT, 0, 1, 1);
	mk_ipv6(b, n - 40, IPPROTO_FRAGMENT);
	assert_int_equal(parse(b, n, 0, &p), PKT_ERR_EXTHDR);
	free(b);
}

/* Deterministic garbage: nothing but the error codes may come out. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void test_garbage(void **state)
{
	struct pkt_info p;
	unsigned counts[PKT_ERR_MAX] = { 0 };
	size_t len, wire, i, n;
	uint8_t *b;
	int round, err;

	for (round = 0; round < 200000; round++) {
		len = rng() % 200;
		b = malloc(len ? len : 1);	/* exact size: ASan sees overruns */
		assert_non_null(b);
		for (i = 0; i < len; i++)
			b[i] = rng();
		if (len && round % 2)
			b[0] = (round % 4 == 1 ? 0x40 : 0x60) | (b[0] & 0x0f);
		switch (rng() % 4) {
		case 0:
			wire = 0;
			break;
		case 1:
			wire = len + rng() % 2000;
			break;
		case 2:
			wire = 65536 + rng() % 100000;
			break;
		default:
			wire = rng() % 4096;
			break;
		}
		err = parse_at(NULL, b, len, wire, &p);
		counts[err]++;
		free(b);
	}

	/* bit flips of a good packet */
	b = malloc(128);
	assert_non_null(b);
	for (round = 0; round < 100000; round++) {
		n = mk_ipv6(b, 8 + 8 + 20 + 12, IPPROTO_FRAGMENT);
		n += mk_frag6(b + n, IPPROTO_DSTOPTS, 0, 1, 3);
		n += mk_ext(b + n, IPPROTO_TCP, 0);
		n += mk_tcp(b + n, 5, 0x10);
		fill(b + n, 12);
		n += 12;
		if (round % 2) {
			n = mk_ipv4(b, 5, 20 + 8 + 12, 3, 0, IPPROTO_UDP);
			n += mk_udp(b + n, 20);
			fill(b + n, 12);
			n += 12;
		}
		for (i = 0; i < 1 + rng() % 3; i++)
			b[rng() % n] ^= 1u << (rng() % 8);
		err = parse_at(NULL, b, n, round % 3 ? 0 : 1500, &p);
		counts[err]++;
	}
	free(b);
	/* the garbage reached every outcome but "empty" (len 0 is rare) */
	for (i = PKT_OK; i < PKT_ERR_MAX; i++)
		assert_true(counts[i] > 0);
}

static void test_error_names(void **state)
{
	int err;

	assert_string_equal(pkt_error_name(PKT_OK), "ok");
	assert_string_equal(pkt_error_name(PKT_ERR_EMPTY), "empty");
	assert_string_equal(pkt_error_name(PKT_ERR_VERSION), "version");
	assert_string_equal(pkt_error_name(PKT_ERR_L3_TRUNC), "l3_trunc");
	assert_string_equal(pkt_error_name(PKT_ERR_IHL), "ihl");
	assert_string_equal(pkt_error_name(PKT_ERR_TOTLEN), "totlen");
	assert_string_equal(pkt_error_name(PKT_ERR_EXTHDR), "exthdr");
	assert_string_equal(pkt_error_name(PKT_ERR_L4_TRUNC), "l4_trunc");
	assert_string_equal(pkt_error_name(PKT_ERR_L4_LEN), "l4_len");
	assert_string_equal(pkt_error_name(PKT_ERR_MAX), "unknown");
	assert_string_equal(pkt_error_name(-1), "unknown");
	for (err = PKT_OK; err < PKT_ERR_MAX; err++)
		assert_string_not_equal(pkt_error_name(err), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_tcp),
		cmocka_unit_test(test_ipv4_tcp_options),
		cmocka_unit_test(test_ipv4_tcp_max_options),
		cmocka_unit_test(test_ipv4_udp),
		cmocka_unit_test(test_ipv4_udp_len_trims),
		cmocka_unit_test(test_ipv4_udplite_sctp),
		cmocka_unit_test(test_ipv4_icmp),
		cmocka_unit_test(test_ipv4_other_proto),
		cmocka_unit_test(test_ipv4_padding),
		cmocka_unit_test(test_ipv4_frag_first),
		cmocka_unit_test(test_ipv4_frag_later),
		cmocka_unit_test(test_ipv4_not_frag),
		cmocka_unit_test(test_ipv4_truncated),
		cmocka_unit_test(test_ipv4_gso_big),
		cmocka_unit_test(test_ipv4_gso_whole),
		cmocka_unit_test(test_ipv6_tcp),
		cmocka_unit_test(test_ipv6_udp),
		cmocka_unit_test(test_ipv6_icmpv6),
		cmocka_unit_test(test_ipv6_no_next),
		cmocka_unit_test(test_ipv6_ext_chain),
		cmocka_unit_test(test_ipv6_frag_first),
		cmocka_unit_test(test_ipv6_frag_later),
		cmocka_unit_test(test_ipv6_frag_atomic),
		cmocka_unit_test(test_ipv6_ah),
		cmocka_unit_test(test_ipv6_esp),
		cmocka_unit_test(test_ipv6_chain_max),
		cmocka_unit_test(test_ipv6_truncated),
		cmocka_unit_test(test_ipv6_gso_big),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_bad_version),
		cmocka_unit_test(test_l3_trunc),
		cmocka_unit_test(test_ipv4_bad_ihl),
		cmocka_unit_test(test_ipv4_bad_totlen),
		cmocka_unit_test(test_ipv6_bad_plen),
		cmocka_unit_test(test_tcp_trunc),
		cmocka_unit_test(test_udp_bad),
		cmocka_unit_test(test_icmp_trunc),
		cmocka_unit_test(test_frag_first_tiny),
		cmocka_unit_test(test_ipv6_ext_past_end),
		cmocka_unit_test(test_ipv6_hbh_not_first),
		cmocka_unit_test(test_ipv6_chain_too_long),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_error_names),
	};

	return cmocka_run_group_tests_name("packet", tests, NULL, NULL);
}
