/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * flowkey.c - flow key normalisation and hash seeding.
 *
 * Both directions of a connection must give the same key, so the two
 * (address, port) endpoints are stored in a fixed order and the packet's
 * side is returned separately. ICMP echo requests and replies carry the same
 * identifier but different types: the type is folded to the request type so
 * that a ping and its answer are one flow. Other ICMP types (errors,
 * router solicitations, ...) are keyed by type and code; errors are not
 * related to the flow that caused them.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "flowtable-internal.h"

#define ICMP_ECHOREPLY_TYPE	0
#define ICMP_ECHO_TYPE		8
#define ICMPV6_ECHO_TYPE	128
#define ICMPV6_ECHOREPLY_TYPE	129

static bool ft_proto_has_ports(uint8_t proto)
{
	switch (proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
	case IPPROTO_SCTP:
	case IPPROTO_DCCP:
		return true;
	default:
		return false;
	}
}

/* Echo request/reply fold to the request type; 0 for any other type. */
static uint8_t ft_icmp_echo_type(uint8_t proto, uint8_t type)
{
	if (proto == IPPROTO_ICMP &&
	    (type == ICMP_ECHO_TYPE || type == ICMP_ECHOREPLY_TYPE))
		return ICMP_ECHO_TYPE;
	if (proto == IPPROTO_ICMPV6 &&
	    (type == ICMPV6_ECHO_TYPE || type == ICMPV6_ECHOREPLY_TYPE))
		return ICMPV6_ECHO_TYPE;
	return 0;
}

static int ft_key_check(int family, uint8_t proto)
{
	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	if (proto == IPPROTO_ICMP && family != AF_INET)
		return -EINVAL;
	if (proto == IPPROTO_ICMPV6 && family != AF_INET6)
		return -EINVAL;
	return 0;
}

/* Fill the ports and icmp_type of @key; ICMP ports are equal on both sides */
static void ft_key_set_ports(struct flow_key *key, uint16_t *sport,
			     uint16_t *dport)
{
	uint8_t type, echo;

	if (key->proto == IPPROTO_ICMP || key->proto == IPPROTO_ICMPV6) {
		type = *dport >> 8;
		echo = ft_icmp_echo_type(key->proto, type);
		key->icmp_type = echo ? echo : type;
		*sport = echo ? *sport : (*dport & 0xff);
		*dport = *sport;
	} else if (!ft_proto_has_ports(key->proto)) {
		*sport = 0;
		*dport = 0;
	}
}

int flow_key_make(struct flow_key *ret, int family, uint8_t proto,
		  const void *saddr, const void *daddr,
		  uint16_t sport, uint16_t dport, uint32_t zone, int *ret_side)
{
	size_t alen = family == AF_INET ? 4 : 16;
	struct flow_key key;
	int side, cmp, err;

	if (!ret || !saddr || !daddr || !ret_side)
		return -EINVAL;
	err = ft_key_check(family, proto);
	if (err < 0)
		return err;

	memset(&key, 0, sizeof(key));
	key.family = family;
	key.proto = proto;
	key.zone = zone;
	ft_key_set_ports(&key, &sport, &dport);

	cmp = memcmp(saddr, daddr, alen);
	if (!cmp)
		cmp = (sport > dport) - (sport < dport);
	side = cmp <= 0 ? FLOW_SIDE_LO : FLOW_SIDE_HI;

	memcpy(key.addr[side], saddr, alen);
	memcpy(key.addr[!side], daddr, alen);
	key.port[side] = sport;
	key.port[!side] = dport;

	*ret = key;
	*ret_side = side;
	return 0;
}

void ft_key_tuple(const struct flow_key *key, bool init_hi,
		  struct flow_tuple *ret)
{
	int orig = init_hi ? FLOW_SIDE_HI : FLOW_SIDE_LO;
	bool icmp = key->proto == IPPROTO_ICMP || key->proto == IPPROTO_ICMPV6;

	memset(ret, 0, sizeof(*ret));
	memcpy(ret->saddr, key->addr[orig], sizeof(ret->saddr));
	memcpy(ret->daddr, key->addr[!orig], sizeof(ret->daddr));
	ret->zone = key->zone;
	ret->family = key->family;
	ret->proto = key->proto;
	if (icmp && ft_icmp_echo_type(key->proto, key->icmp_type)) {
		ret->sport = key->port[0];
		ret->dport = key->icmp_type << 8;
	} else if (icmp) {
		ret->dport = key->icmp_type << 8 | key->port[0];
	} else {
		ret->sport = key->port[orig];
		ret->dport = key->port[!orig];
	}
}

static uint64_t ft_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void ft_secret_init(uint64_t secret[4], uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		secret[i] = ft_splitmix64(&seed) | 1;
}
