// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer harness for the NFQUEUE message path: nfqmsg_kind(),
 * nfqmsg_parse() and pkt_parse() on the payload, as the worker runs them.
 *
 * Input: one datagram as recvmmsg() hands it to wk_handle_msg(). It is
 * walked with mnl_nlmsg_ok()/mnl_nlmsg_next() exactly as the worker walks
 * it, every message is classified, packet messages are parsed and their
 * payload goes through pkt_parse() with the NFQA_CAP_LEN wire length.
 *
 * Beyond "no crash, no overread" (ASan: libFuzzer's buffer is exactly the
 * input's size) it checks what nfqmsg.h and packet.h promise: every message
 * the walk accepts lies inside the datagram, the error code of NLMSG_ERROR
 * is the one in the message (or -EBADMSG when it is too short), @ret is
 * untouched on error, the payload lies inside its message, the fields
 * match the attributes (read again here with a walk of our own) and
 * parsing twice gives the same answer.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>

#include "nfqmsg.h"
#include "packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define check(cond) do { if (!(cond)) abort(); } while (0)

/* Inside [@lo, @hi)? Compared as integers: the pointers may be wild. */
static bool inside(const void *p, size_t len, const void *lo, const void *hi)
{
	uintptr_t a = (uintptr_t)p, l = (uintptr_t)lo, h = (uintptr_t)hi;

	return a >= l && a <= h && len <= h - a;
}

/* The @len bytes at @p are inside message @nlh (its nlmsg_len, not the
 * aligned length libmnl walks attributes up to). */
static bool in_msg(const struct nlmsghdr *nlh, const void *p, size_t len)
{
	return inside(p, len, mnl_nlmsg_get_payload(nlh),
		      (const char *)nlh + nlh->nlmsg_len);
}

/* The last attribute of @type in the message, found the way
 * mnl_attr_parse() walks (it stops at the first malformed attribute and
 * the last of a type wins), or NULL. An attribute that ends past
 * nlmsg_len is not in the message: libmnl walks up to the aligned length,
 * so the last one may end up to 3 bytes past the message and the
 * datagram; nfqmsg_parse() must not use it. */
static const struct nlattr *find_attr(const struct nlmsghdr *nlh,
				      uint16_t type)
{
	const struct nlattr *attr, *found = NULL;

	mnl_attr_for_each(attr, nlh, sizeof(struct nfgenmsg))
		if (mnl_attr_get_type(attr) == type)
			found = attr;
	/* mnl_attr_get_len(): libmnl has read this header already */
	if (found && !in_msg(nlh, found, mnl_attr_get_len(found)))
		return NULL;
	return found;
}

static void check_u32(const struct nlmsghdr *nlh, uint16_t type,
		      uint32_t value, bool *ret_present)
{
	const struct nlattr *a = find_attr(nlh, type);
	bool present = a && mnl_attr_get_payload_len(a) >= sizeof(uint32_t);

	if (present) {
		check(in_msg(nlh, mnl_attr_get_payload(a), sizeof(uint32_t)));
		check(value == ntohl(mnl_attr_get_u32(a)));
	} else {
		check(value == 0);
	}
	if (ret_present)
		*ret_present = present;
}

/* Field by field: struct nfq_pkt has padding, which a struct assignment
 * need not copy. */
static bool pkt_equal(const struct nfq_pkt *a, const struct nfq_pkt *b)
{
	return a->id == b->id && a->hw_protocol == b->hw_protocol &&
	       a->hook == b->hook && a->has_mark == b->has_mark &&
	       a->mark == b->mark && a->indev == b->indev &&
	       a->outdev == b->outdev && a->skbinfo == b->skbinfo &&
	       a->wire_len == b->wire_len && a->payload == b->payload &&
	       a->len == b->len;
}

static void check_packet(const struct nlmsghdr *nlh)
{
	const struct nfqnl_msg_packet_hdr *ph;
	const struct nlattr *a;
	struct nfq_pkt msg, canary, again;
	struct pkt_info pkt, pcanary, pagain;
	bool has_mark;
	int err, perr;

	memset(&msg, 0xa5, sizeof(msg));
	canary = msg;
	err = nfqmsg_parse(nlh, &msg);
	check(err == 0 || err == -EBADMSG);
	if (err) {
		check(!memcmp(&msg, &canary, sizeof(msg)));
		return;
	}

	/* A packet header of full size, and the fields are its fields. */
	check(nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(struct nfgenmsg)));
	a = find_attr(nlh, NFQA_PACKET_HDR);
	check(a && mnl_attr_get_payload_len(a) >= sizeof(*ph));
	ph = mnl_attr_get_payload(a);
	check(in_msg(nlh, ph, sizeof(*ph)));
	check(msg.id == ntohl(ph->packet_id));
	check(msg.hw_protocol == ntohs(ph->hw_protocol));
	check(msg.hook == ph->hook);
	check_u32(nlh, NFQA_MARK, msg.mark, &has_mark);
	check(msg.has_mark == has_mark);
	check_u32(nlh, NFQA_IFINDEX_INDEV, msg.indev, NULL);
	check_u32(nlh, NFQA_IFINDEX_OUTDEV, msg.outdev, NULL);
	check_u32(nlh, NFQA_SKB_INFO, msg.skbinfo, NULL);
	check_u32(nlh, NFQA_CAP_LEN, msg.wire_len, NULL);

	/* The payload points into this message, or is absent. */
	a = find_attr(nlh, NFQA_PAYLOAD);
	if (a) {
		check(msg.payload == mnl_attr_get_payload(a));
		check(msg.len == mnl_attr_get_payload_len(a));
		check(in_msg(nlh, msg.payload, msg.len));
	} else {
		check(!msg.payload && !msg.len);
	}

	memset(&again, 0, sizeof(again));
	check(nfqmsg_parse(nlh, &again) == 0);
	check(pkt_equal(&msg, &again));

	/* What wk_handle_packet() does next. */
	memset(&pkt, 0x5a, sizeof(pkt));
	pcanary = pkt;
	perr = pkt_parse(msg.payload, msg.len, msg.wire_len, &pkt);
	check(perr >= PKT_OK && perr < PKT_ERR_MAX);
	if (!msg.len)
		check(perr == PKT_ERR_EMPTY);
	if (perr) {
		check(!memcmp(&pkt, &pcanary, sizeof(pkt)));
		return;
	}
	check(pkt.len <= msg.len);
	check((uint64_t)pkt.payload_off + pkt.payload_len <= pkt.len);
	memset(&pagain, 0, sizeof(pagain));
	check(pkt_parse(msg.payload, msg.len, msg.wire_len, &pagain) == PKT_OK);
	check(!memcmp(&pkt, &pagain, sizeof(pkt)));
}

static void check_error(const struct nlmsghdr *nlh, int error)
{
	struct nlmsgerr e;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(e))) {
		check(error == -EBADMSG);
		return;
	}
	memcpy(&e, mnl_nlmsg_get_payload(nlh), sizeof(e));
	check(error == e.error);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)data;
	const uint8_t *end = data + size;
	int rem = (int)size;

	/* A datagram is at most the worker's receive slot; an int in any
	 * case, as in wk_handle_msg(). */
	if (size > 1u << 20)
		return 0;

	for (; nfqmsg_ok(nlh, rem); nlh = mnl_nlmsg_next(nlh, &rem)) {
		int error = 0x5a5a5a5a;

		/* What nfqmsg_kind() relies on: the message is in the
		 * datagram. */
		check(inside(nlh, nlh->nlmsg_len, data, end));

		switch (nfqmsg_kind(nlh, &error)) {
		case NFQMSG_PACKET:
			check(nlh->nlmsg_type ==
			      ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET));
			check(error == 0x5a5a5a5a);
			check_packet(nlh);
			break;
		case NFQMSG_ERROR:
			check(nlh->nlmsg_type == NLMSG_ERROR);
			check_error(nlh, error);
			break;
		case NFQMSG_OTHER:
			check(nlh->nlmsg_type != NLMSG_ERROR &&
			      nlh->nlmsg_type !=
			      ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET));
			check(error == 0x5a5a5a5a);
			break;
		default:
			abort();
		}
	}
	return 0;
}
