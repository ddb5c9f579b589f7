// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The packet parser. The rules are in packet.h; this file keeps two
 * bounds while it walks: @avail, the end of the bytes it may read (the
 * smaller of @len and the packet's own end), and @ip_end, the packet's own
 * end, which only length fields are checked against. Every read is of a
 * field whose end was first compared with @avail, using subtractions that
 * cannot wrap (off <= avail always holds).
 */
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "packet.h"

#define IPV4_HLEN	20
#define IPV6_HLEN	40
#define IP_MAXLEN	65535

/* l4off is 16 bits: the longest walk is the IPv6 header, PKT_EXTHDR_MAX
 * headers of 2048 bytes (hop-by-hop length 255) and a fragment header. */
_Static_assert(IPV6_HLEN + PKT_EXTHDR_MAX * 2048 + 8 <= UINT16_MAX,
	       "l4off cannot hold the longest extension chain");

static inline uint16_t pkt_get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return ntohs(v);
}

static inline uint32_t pkt_get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return ntohl(v);
}

/*
 * Settle the packet's end from @ip_len, its own length per the IP header
 * (already replaced by the wire length for a big GSO packet).
 */
static int pkt_set_end(struct pkt_info *p, size_t ip_len, size_t len,
		       size_t wire, size_t *ret_avail)
{
	if (ip_len > wire || ip_len > UINT32_MAX)
		return PKT_ERR_TOTLEN;
	if (ip_len > len) {
		p->flags |= PKT_F_TRUNCATED;
		*ret_avail = len;
	} else {
		*ret_avail = ip_len;
	}
	p->ip_len = ip_len;
	p->len = *ret_avail;
	return PKT_OK;
}

static void pkt_set_payload(struct pkt_info *p, size_t off, size_t end)
{
	p->payload_off = off;
	p->payload_len = end - off;
}

static int pkt_parse_l4(const uint8_t *data, struct pkt_info *p, size_t off,
			size_t avail, size_t ip_end)
{
	size_t room = avail - off;
	size_t hlen, ulen;
	uint8_t type;

	p->l4off = off;
	switch (p->l4proto) {
	case IPPROTO_TCP:
		if (room < 20)
			return PKT_ERR_L4_TRUNC;
		hlen = (data[off + 12] >> 4) * 4;
		if (hlen < 20 || hlen > room)
			return PKT_ERR_L4_TRUNC;
		p->tcp_flags = data[off + 13];
		break;
	case IPPROTO_UDP:
		if (room < 8)
			return PKT_ERR_L4_TRUNC;
		hlen = 8;
		if (p->flags & PKT_F_FRAGMENT)
			break;
		/* As udp_rcv(): too long or below the header is refused, a
		 * shorter length trims the datagram. */
		ulen = pkt_get16(data + off + 4);
		if (ulen == 0 && (p->flags & PKT_F_GSO))
			break;
		if (ulen < 8 || ulen > ip_end - off)
			return PKT_ERR_L4_LEN;
		if (off + ulen < avail)
			avail = off + ulen;
		break;
	case IPPROTO_UDPLITE:
		if (room < 8)
			return PKT_ERR_L4_TRUNC;
		hlen = 8;
		break;
	case IPPROTO_SCTP:
		if (room < 12)
			return PKT_ERR_L4_TRUNC;
		hlen = 12;
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		/* Each only in its own family; the other is just a number. */
		if ((p->l4proto == IPPROTO_ICMP) != (p->family == AF_INET)) {
			pkt_set_payload(p, off, avail);
			return PKT_OK;
		}
		if (room < 8)
			return PKT_ERR_L4_TRUNC;
		type = data[off];
		p->icmp_type = type;
		p->icmp_code = data[off + 1];
		p->dport = (uint16_t)type << 8 | data[off + 1];
		/* echo request/reply: the identifier */
		if (p->family == AF_INET ? type == 8 || type == 0 :
					   type == 128 || type == 129)
			p->sport = pkt_get16(data + off + 4);
		p->flags |= PKT_F_L4;
		pkt_set_payload(p, off + 8, avail);
		return PKT_OK;
	default:
		pkt_set_payload(p, off, avail);
		return PKT_OK;
	}
	p->sport = pkt_get16(data + off);
	p->dport = pkt_get16(data + off + 2);
	p->flags |= PKT_F_L4;
	pkt_set_payload(p, off + hlen, avail);
	return PKT_OK;
}

static int pkt_parse_ipv4(const uint8_t *data, size_t len, size_t wire,
			  struct pkt_info *p)
{
	size_t ihl, ip_len, avail;
	uint16_t frag;
	int err;

	if (len < IPV4_HLEN)
		return PKT_ERR_L3_TRUNC;
	ihl = (data[0] & 0x0f) * 4;
	if (ihl < IPV4_HLEN || ihl > len)
		return PKT_ERR_IHL;
	ip_len = pkt_get16(data + 2);
	if (ip_len == 0 && wire > IP_MAXLEN) {
		ip_len = wire;
		p->flags |= PKT_F_GSO;
	}
	if (ip_len < ihl)
		return PKT_ERR_TOTLEN;
	err = pkt_set_end(p, ip_len, len, wire, &avail);
	if (err)
		return err;

	p->family = AF_INET;
	p->l4proto = data[9];
	p->frag_id = pkt_get16(data + 4);
	memcpy(&p->src.v4, data + 12, sizeof(p->src.v4));
	memcpy(&p->dst.v4, data + 16, sizeof(p->dst.v4));

	/* MF or a fragment offset; DF and the reserved bit do not matter. */
	frag = pkt_get16(data + 6);
	if (frag & 0x3fff) {
		p->flags |= PKT_F_FRAGMENT;
		if (frag & 0x1fff) {
			p->l4off = ihl;
			pkt_set_payload(p, ihl, avail);
			return PKT_OK;
		}
		p->flags |= PKT_F_FIRST_FRAG;
	}
	return pkt_parse_l4(data, p, ihl, avail, ip_len);
}

static int pkt_parse_ipv6(const uint8_t *data, size_t len, size_t wire,
			  struct pkt_info *p)
{
	size_t off = IPV6_HLEN, ip_len, avail, hlen;
	unsigned nexthdr, n;
	uint16_t frag;
	int err;

	if (len < IPV6_HLEN)
		return PKT_ERR_L3_TRUNC;
	ip_len = IPV6_HLEN + pkt_get16(data + 4);
	if (ip_len == IPV6_HLEN && wire > IP_MAXLEN) {
		ip_len = wire;
		p->flags |= PKT_F_GSO;
	}
	err = pkt_set_end(p, ip_len, len, wire, &avail);
	if (err)
		return err;

	p->family = AF_INET6;
	memcpy(&p->src.v6, data + 8, sizeof(p->src.v6));
	memcpy(&p->dst.v6, data + 24, sizeof(p->dst.v6));
	nexthdr = data[6];

	/*
	 * A forward walk cannot loop, but each header may be as small as 8
	 * bytes: the count bounds the work on a hostile chain.
	 */
	for (n = 0;; n++) {
		switch (nexthdr) {
		case IPPROTO_HOPOPTS:
			if (n)
				return PKT_ERR_EXTHDR;
			/* fall through */
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			if (avail - off < 2)
				return PKT_ERR_EXTHDR;
			hlen = ((size_t)data[off + 1] + 1) * 8;
			break;
		case IPPROTO_AH:
			if (avail - off < 2)
				return PKT_ERR_EXTHDR;
			hlen = ((size_t)data[off + 1] + 2) * 4;
			/* next, len, reserved, SPI, sequence: 12 at least */
			if (hlen < 12)
				return PKT_ERR_EXTHDR;
			break;
		case IPPROTO_FRAGMENT:
			hlen = 8;
			break;
		default:
			/* ESP, no-next-header or an upper-layer protocol */
			p->l4proto = nexthdr;
			return pkt_parse_l4(data, p, off, avail, ip_len);
		}
		if (n == PKT_EXTHDR_MAX || hlen > avail - off)
			return PKT_ERR_EXTHDR;

		if (nexthdr == IPPROTO_FRAGMENT) {
			frag = pkt_get16(data + off + 2);
			p->frag_id = pkt_get32(data + off + 4);
			if (frag & 0xfff8) {
				/* A later fragment: its data is opaque. */
				p->flags |= PKT_F_FRAGMENT;
				p->flags &= ~PKT_F_FIRST_FRAG;
				p->l4proto = data[off];
				p->l4off = off + hlen;
				pkt_set_payload(p, off + hlen, avail);
				return PKT_OK;
			}
			if (frag & 1)
				p->flags |= PKT_F_FRAGMENT | PKT_F_FIRST_FRAG;
		}
		nexthdr = data[off];
		off += hlen;
	}
}

int pkt_parse(const uint8_t *data, size_t len, size_t wire_len,
	      struct pkt_info *ret)
{
	struct pkt_info p;
	size_t wire;
	int err;

	if (len == 0)
		return PKT_ERR_EMPTY;
	wire = wire_len > len ? wire_len : len;
	memset(&p, 0, sizeof(p));
	switch (data[0] >> 4) {
	case 4:
		err = pkt_parse_ipv4(data, len, wire, &p);
		break;
	case 6:
		err = pkt_parse_ipv6(data, len, wire, &p);
		break;
	default:
		return PKT_ERR_VERSION;
	}
	if (err)
		return err;
	*ret = p;
	return PKT_OK;
}

const char *pkt_error_name(int err)
{
	static const char *const names[PKT_ERR_MAX] = {
		[PKT_OK]		= "ok",
		[PKT_ERR_EMPTY]		= "empty",
		[PKT_ERR_VERSION]	= "version",
		[PKT_ERR_L3_TRUNC]	= "l3_trunc",
		[PKT_ERR_IHL]		= "ihl",
		[PKT_ERR_TOTLEN]	= "totlen",
		[PKT_ERR_EXTHDR]	= "exthdr",
		[PKT_ERR_L4_TRUNC]	= "l4_trunc",
		[PKT_ERR_L4_LEN]	= "l4_len",
	};

	if (err < 0 || err >= PKT_ERR_MAX || !names[err])
		return "unknown";
	return names[err];
}
