// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Parsing of the kernel's NFQUEUE messages, with libnetfilter_queue's
 * nfq_nlmsg_parse() (which validates each attribute's type and length).
 */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "nfqmsg.h"

bool nfqmsg_ok(const struct nlmsghdr *nlh, int len)
{
	return len >= (int)sizeof(*nlh) && mnl_nlmsg_ok(nlh, len) &&
	       nlh->nlmsg_len <= (unsigned)len;
}

enum nfqmsg_kind nfqmsg_kind(const struct nlmsghdr *nlh, int *ret_error)
{
	if (nlh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

		if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
			*ret_error = -EBADMSG;
		else
			*ret_error = e->error;
		return NFQMSG_ERROR;
	}
	if (nlh->nlmsg_type == ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET))
		return NFQMSG_PACKET;
	return NFQMSG_OTHER;
}

/*
 * Whether attribute @a ends inside the message. libmnl walks attributes up
 * to the ALIGNED message length, so the last attribute of a message whose
 * nlmsg_len is not a multiple of 4 may reach up to 3 bytes past it, past
 * the end of the received datagram (found by fuzzing).
 */
static bool attr_in_msg(const struct nlmsghdr *nlh, const struct nlattr *a)
{
	return a && (const char *)a + a->nla_len <=
		    (const char *)nlh + nlh->nlmsg_len;
}

/* Read a big-endian u32 attribute; @a may be NULL or too short (older
 * libnetfilter_queue releases do not validate every u32 attribute). */
static bool attr_u32(const struct nlmsghdr *nlh, const struct nlattr *a,
		     uint32_t *ret)
{
	if (!attr_in_msg(nlh, a) ||
	    mnl_attr_get_payload_len(a) < sizeof(uint32_t))
		return false;
	*ret = ntohl(mnl_attr_get_u32(a));
	return true;
}

int nfqmsg_parse(const struct nlmsghdr *nlh, struct nfq_pkt *ret)
{
	struct nlattr *attr[NFQA_MAX + 1] = { NULL };
	const struct nfqnl_msg_packet_hdr *ph;
	struct nfq_pkt p = { 0 };

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct nfgenmsg)))
		return -EBADMSG;
	if (nfq_nlmsg_parse(nlh, attr) < 0 ||
	    !attr_in_msg(nlh, attr[NFQA_PACKET_HDR]) ||
	    mnl_attr_get_payload_len(attr[NFQA_PACKET_HDR]) < sizeof(*ph))
		return -EBADMSG;
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	p.id = ntohl(ph->packet_id);
	p.hw_protocol = ntohs(ph->hw_protocol);
	p.hook = ph->hook;
	p.has_mark = attr_u32(nlh, attr[NFQA_MARK], &p.mark);
	attr_u32(nlh, attr[NFQA_IFINDEX_INDEV], &p.indev);
	attr_u32(nlh, attr[NFQA_IFINDEX_OUTDEV], &p.outdev);
	attr_u32(nlh, attr[NFQA_SKB_INFO], &p.skbinfo);
	attr_u32(nlh, attr[NFQA_CAP_LEN], &p.wire_len);
	if (attr_in_msg(nlh, attr[NFQA_PAYLOAD])) {
		p.payload = mnl_attr_get_payload(attr[NFQA_PAYLOAD]);
		p.len = mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);
	}
	*ret = p;
	return 0;
}
