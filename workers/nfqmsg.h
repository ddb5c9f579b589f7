/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * nfqmsg.h - parse one NFQUEUE packet message (NFQNL_MSG_PACKET) from the
 * kernel into the fields the worker uses. No allocation; the pointers in
 * the result point into the message. Safe on any input (fuzzed).
 */
#ifndef NFQE_NFQMSG_H
#define NFQE_NFQMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nlmsghdr;

struct nfq_pkt {
	uint32_t	id;		/* packet id, for the verdict */
	uint16_t	hw_protocol;	/* ETH_P_*, host order */
	uint8_t		hook;		/* NF_INET_* */
	bool		has_mark;
	uint32_t	mark;
	uint32_t	indev;		/* ifindex, 0 if none */
	uint32_t	outdev;
	uint32_t	skbinfo;	/* NFQA_SKB_* flags */
	uint32_t	wire_len;	/* NFQA_CAP_LEN: real length, 0 if whole */
	const uint8_t	*payload;	/* NULL if none */
	uint32_t	len;		/* bytes at @payload */
};

/*
 * nfqmsg_ok - mnl_nlmsg_ok() that also refuses an nlmsg_len of 2^31 or
 * more (libmnl 1.0.4 compares it as an int: found by fuzzing). Use it to
 * walk every received datagram.
 */
bool nfqmsg_ok(const struct nlmsghdr *nlh, int len);

/* The kind of one message in a received datagram. */
enum nfqmsg_kind {
	NFQMSG_PACKET,		/* a packet: nfqmsg_parse() it */
	NFQMSG_ERROR,		/* NLMSG_ERROR; error code in @ret_error */
	NFQMSG_OTHER,		/* anything else: ignore */
};

/*
 * nfqmsg_kind - classify @nlh (already checked with mnl_nlmsg_ok()).
 * For NFQMSG_ERROR, *@ret_error is the (negative) errno, 0 for an ack, or
 * -EBADMSG when the error message is too short.
 */
enum nfqmsg_kind nfqmsg_kind(const struct nlmsghdr *nlh, int *ret_error);

/*
 * nfqmsg_parse - parse a packet message.
 * Returns 0, or -EBADMSG when it has no usable packet header (then there is
 * no id and the packet cannot be verdicted). @ret is written on success.
 */
int nfqmsg_parse(const struct nlmsghdr *nlh, struct nfq_pkt *ret);

#endif
