/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The conntrack glue probe and the verdict that sets a connmark.
 *
 * The probe relies on the order of checks in the kernel's
 * nfqnl_recv_config(): the requested flags are validated (an unknown flag,
 * or NFQA_CFG_F_CONNTRACK without nfnl_ct_hook: EOPNOTSUPP, after trying to
 * load nf_conntrack_netlink: EAGAIN if that brought the hook) before the
 * queue instance is looked up (another socket's queue: EPERM; no queue:
 * ENODEV). So a config message for a queue this socket does not own never
 * changes anything, and its error says whether the glue is there.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nfnetlink_queue.h>

#include "ctglue.h"

#define PROBE_TIMEOUT_MS	1000

/* libnetfilter_queue's header, with @flags and @seq */
static struct nlmsghdr *nfq_hdr_put(void *buf, uint16_t type, uint16_t queue,
				    uint16_t flags, uint32_t seq)
{
	struct nlmsghdr *nlh = nfq_nlmsg_put(buf, type, queue);

	nlh->nlmsg_flags |= flags;
	nlh->nlmsg_seq = seq;
	return nlh;
}

/* Send a CONNTRACK flags change for @queue and wait for its ack: 0 or the
 * kernel's -errno; -ETIMEDOUT when no ack came. */
static int probe_send(struct mnl_socket *nl, uint16_t queue, uint32_t flags,
		      uint32_t seq)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = nfq_hdr_put(buf, NFQNL_MSG_CONFIG, queue,
					   NLM_F_ACK, seq);
	unsigned portid = mnl_socket_get_portid(nl);
	struct timespec start, now;

	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_CONNTRACK));
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct pollfd pfd = { .fd = mnl_socket_get_fd(nl),
				      .events = POLLIN };
		long waited;
		ssize_t n;
		int ret;

		clock_gettime(CLOCK_MONOTONIC, &now);
		waited = (now.tv_sec - start.tv_sec) * 1000 +
			 (now.tv_nsec - start.tv_nsec) / 1000000;
		if (waited >= PROBE_TIMEOUT_MS)
			return -ETIMEDOUT;
		ret = poll(&pfd, 1, (int)(PROBE_TIMEOUT_MS - waited));
		if (ret < 0 && errno != EINTR)
			return -errno;
		if (ret <= 0)
			continue;
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		/* anything but our ack (there should be nothing) is skipped */
		ret = mnl_cb_run(buf, (size_t)n, seq, portid, NULL, NULL);
		if (ret >= 0)
			return 0;
		if (errno != ESRCH && errno != EPROTO)
			return -errno;
	}
}

int nfq_probe_ct_glue(struct mnl_socket *nl, uint16_t queue)
{
	struct mnl_socket *own = NULL;
	uint32_t seq = (uint32_t)time(NULL);
	int ret;

	if (!nl) {
		own = mnl_socket_open(NETLINK_NETFILTER);
		if (!own)
			return -errno;
		if (mnl_socket_bind(own, 0, MNL_SOCKET_AUTOPID) < 0) {
			ret = -errno;
			mnl_socket_close(own);
			return ret;
		}
		nl = own;
	}
	ret = probe_send(nl, queue, NFQA_CFG_F_CONNTRACK, seq);
	if (ret == -EAGAIN)	/* the module just came: ask again */
		ret = probe_send(nl, queue, NFQA_CFG_F_CONNTRACK, ++seq);
	switch (ret) {
	case 0:
		/* @nl owns @queue: the flag is set now; take it back */
		ret = probe_send(nl, queue, 0, ++seq);
		ret = ret < 0 ? ret : 1;
		break;
	case -ENODEV:
	case -EPERM:
		ret = 1;
		break;
	case -EOPNOTSUPP:
		ret = 0;
		break;
	}
	if (own)
		mnl_socket_close(own);
	return ret;
}

int ctglue_verdict_build(void *buf, size_t len, uint16_t queue, uint32_t id,
			 uint32_t verdict, bool set_mark, uint32_t mark,
			 uint32_t ctmark, uint32_t ctmask, uint32_t seq)
{
	struct nlmsghdr *nlh;
	struct nlattr *nest;

	if (len < CTGLUE_VERDICT_MAX)
		return -ENOSPC;
	memset(buf, 0, CTGLUE_VERDICT_MAX);
	nlh = nfq_hdr_put(buf, NFQNL_MSG_VERDICT, queue, 0, seq);
	nfq_nlmsg_verdict_put(nlh, (int)id, (int)verdict);
	if (set_mark)
		nfq_nlmsg_verdict_put_mark(nlh, mark);
	nest = mnl_attr_nest_start(nlh, NFQA_CT);
	mnl_attr_put_u32(nlh, CTA_MARK, htonl(ctmark));
	mnl_attr_put_u32(nlh, CTA_MARK_MASK, htonl(ctmask));
	mnl_attr_nest_end(nlh, nest);
	return (int)nlh->nlmsg_len;
}
