/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * packet.h - parse an IPv4/IPv6 packet as NFQUEUE hands it over (starting
 * at the network header) into the few fields the data path needs.
 *
 * The parser never allocates, never writes to the packet and never reads
 * past @len. It is safe on any input, which is what the fuzz harness checks.
 *
 * Lengths. @len bytes are at hand; the packet's own length (pkt_info.ip_len)
 * comes from the IP header: IPv4 total length, IPv6 40 + payload length.
 * Bytes past it are link-layer padding and ignored. A packet longer than
 * @len is fine only when @wire_len says the copy range cut it: then
 * PKT_F_TRUNCATED is set and every length below counts the bytes at hand.
 * A GSO packet over 64 KiB (NFQA_CFG_F_GSO, BIG TCP) carries IPv4 total
 * length 0 or IPv6 payload length 0: when the wire length is over 65535
 * such a 0 means "use the wire length" and PKT_F_GSO is set. IPv6
 * jumbograms (RFC 2675) get the same treatment; the hop-by-hop jumbo
 * option's value is not read (the kernel checked it on input). Below
 * 65536 bytes a payload length of 0 means just that.
 *
 * Fragments. PKT_F_FRAGMENT is set for any fragment (IPv4 MF or offset,
 * IPv6 fragment header with M or offset; an IPv6 atomic fragment, M = 0
 * offset 0, is not a fragment, RFC 6946). PKT_F_FIRST_FRAG is set on
 * offset-0 fragments only, never on whole packets. Only a first fragment or
 * a whole packet has L4 fields; a first fragment must hold the whole L4
 * header (RFC 1858, RFC 7112), else PKT_ERR_L4_TRUNC. A later fragment is
 * a valid packet without PKT_F_L4: l4proto is the fragment's protocol and
 * the payload is the fragment data.
 *
 * IPv6 extension headers walked: hop-by-hop (only first, as RFC 8200 and
 * the kernel require), routing, destination options, fragment and AH, at
 * most PKT_EXTHDR_MAX of them; each must lie inside the bytes at hand and
 * the packet, else PKT_ERR_EXTHDR. ESP (50) and no-next-header (59) end the
 * walk and are reported as l4proto without PKT_F_L4, as is any protocol
 * the parser has no L4 rule for (other headers such as mobility 135 are
 * taken as upper-layer protocols, as the kernel's ipv6_ext_hdr() does).
 * IPv4 AH is not walked: l4proto is IPPROTO_AH.
 *
 * L4 (PKT_F_L4 set, ports in host order):
 *   TCP      sport, dport, tcp_flags; data offset >= 5 and inside the
 *            packet, else PKT_ERR_L4_TRUNC.
 *   UDP      sport, dport; 8 bytes. The length field must be >= 8 and not
 *            past the IP payload, else PKT_ERR_L4_LEN (the kernel drops
 *            these too); a shorter one trims the payload (trailing bytes
 *            are ignored), 0 is accepted on PKT_F_GSO packets. Not checked
 *            on first fragments (the field covers the whole datagram).
 *   UDP-Lite sport, dport; 8 bytes; checksum coverage not checked.
 *   SCTP     sport, dport; the 12-byte common header.
 *   ICMP (IPv4), ICMPv6 (IPv6 only)
 *            8 bytes. icmp_type, icmp_code; dport = type << 8 | code;
 *            sport = the identifier for echo request/reply (ICMP 8/0,
 *            ICMPv6 128/129), else 0. A request and its reply differ in
 *            dport: a flow key that pairs them must map the type itself.
 * payload_off/payload_len: the bytes after the L4 header (TCP options
 * included in the header). Without PKT_F_L4 the "payload" is everything
 * after the last header walked, starting at l4off.
 */
#ifndef NFQE_PACKET_H
#define NFQE_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

/* Most IPv6 extension headers walked before PKT_ERR_EXTHDR. */
#define PKT_EXTHDR_MAX	16

enum pkt_flags {
	PKT_F_FRAGMENT		= 1 << 0,	/* part of a fragmented datagram */
	PKT_F_FIRST_FRAG	= 1 << 1,	/* offset 0: L4 header present */
	PKT_F_L4		= 1 << 2,	/* ports/type fields are valid */
	PKT_F_TRUNCATED		= 1 << 3,	/* copy range cut the payload short */
	PKT_F_GSO		= 1 << 4,	/* > 64 KiB, IP length 0: wire length used */
};

/* Why a packet was refused; counted per queue, one counter per reason. */
enum pkt_error {
	PKT_OK = 0,
	PKT_ERR_EMPTY,		/* zero length */
	PKT_ERR_VERSION,	/* neither IPv4 nor IPv6 */
	PKT_ERR_L3_TRUNC,	/* shorter than the IP header */
	PKT_ERR_IHL,		/* IPv4 IHL < 5 or past the end */
	PKT_ERR_TOTLEN,		/* IP total/payload length inconsistent */
	PKT_ERR_EXTHDR,		/* IPv6 extension chain bad or too long */
	PKT_ERR_L4_TRUNC,	/* L4 header cut short */
	PKT_ERR_L4_LEN,		/* UDP length field < 8 or past the packet */
	PKT_ERR_MAX,
};

struct pkt_info {
	uint8_t		family;		/* AF_INET or AF_INET6 */
	uint8_t		l4proto;	/* IPPROTO_* after extension headers */
	uint8_t		flags;		/* enum pkt_flags */
	uint8_t		tcp_flags;	/* TCP only */
	uint8_t		icmp_type;	/* ICMP/ICMPv6 only */
	uint8_t		icmp_code;
	uint16_t	l4off;		/* offset of the L4 header */
	uint16_t	sport;		/* host order; ICMP echo: id, else 0 */
	uint16_t	dport;		/* host order; ICMP: type << 8 | code */
	uint32_t	frag_id;	/* IPv4 id or IPv6 fragment id */
	uint32_t	len;		/* bytes seen (<= packet's own length) */
	uint32_t	ip_len;		/* the packet's own length, see above */
	uint32_t	payload_off;	/* offset of L4 payload */
	uint32_t	payload_len;	/* payload bytes at hand (<= len) */
	union {
		struct in_addr	v4;
		struct in6_addr	v6;
	} src, dst;
};

/*
 * pkt_parse - fill @ret from the @len bytes at @data.
 *
 * @wire_len is the packet's real length when the copy range truncated it
 * (NFQA_CAP_LEN), or 0 when @len is the whole packet; a value below @len
 * is taken as @len.
 *
 * Returns PKT_OK (0) or an enum pkt_error > 0. @ret is written only on
 * success. Any thread, no locks, no RCU.
 */
int pkt_parse(const uint8_t *data, size_t len, size_t wire_len,
	      struct pkt_info *ret);

/* Whether @pi has ports: TCP, UDP, UDP-Lite or SCTP with its L4 header
 * (not a fragment after the first). */
static inline bool pkt_has_ports(const struct pkt_info *pi)
{
	if (!(pi->flags & PKT_F_L4))
		return false;
	switch (pi->l4proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
	case IPPROTO_SCTP:
		return true;
	default:
		return false;
	}
}

/* Short lowercase name of an enum pkt_error ("ok", "totlen", ...), for
 * counters and logs; "unknown" for anything else. Never NULL. */
const char *pkt_error_name(int err);

#endif
