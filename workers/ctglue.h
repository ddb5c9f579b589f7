/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ctglue.h - the kernel's conntrack glue for NFQUEUE
 * (CONFIG_NETFILTER_NETLINK_GLUE_CT): with it a verdict may carry an
 * NFQA_CT attribute that changes the packet's conntrack entry, e.g. its
 * connmark. Without it nfnetlink_queue ignores NFQA_CT and refuses the
 * queue flag NFQA_CFG_F_CONNTRACK with EOPNOTSUPP.
 *
 * No logging, no threads; the callers (engine, workers) log.
 */
#ifndef NFQE_CTGLUE_H
#define NFQE_CTGLUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mnl_socket;

/*
 * nfq_probe_ct_glue - does the kernel have the conntrack glue?
 *
 * Sends one NFQNL_MSG_CONFIG for @queue with NFQA_CFG_FLAGS = NFQA_CFG_MASK
 * = NFQA_CFG_F_CONNTRACK and NLM_F_ACK, and reads the ack (at most 1 s).
 * nfqnl_recv_config() checks the flags before it looks the queue up, so
 * the answer says it all without changing any queue: EOPNOTSUPP means no
 * glue; ENODEV (queue unbound) or EPERM (bound by another socket) mean the
 * flag check passed. EAGAIN (the kernel just loaded nf_conntrack_netlink)
 * is retried once. Should the ack be 0 (@nl owns @queue), the flag is
 * cleared again with a second message.
 *
 * @nl: NULL (recommended: a temporary socket is opened and closed), or a
 * NETLINK_NETFILTER socket that carries no packet messages: a socket that
 * is bound to a queue would have its packet messages consumed here.
 *
 * Call it with CAP_NET_ADMIN: without it nfnetlink answers EPERM before
 * any check, which would read as "supported". Best on a queue number that
 * no one binds (then the answer is ENODEV, unambiguous).
 *
 * Returns 1 (supported), 0 (not supported) or -errno. Any thread; blocks
 * for one round trip.
 */
int nfq_probe_ct_glue(struct mnl_socket *nl, uint16_t queue);

/* The one log line for a kernel without the glue (ctglue.c's callers print
 * it once). */
#define CTGLUE_MISSING_MSG						\
	"kernel lacks CONFIG_NETFILTER_NETLINK_GLUE_CT: connmark cannot be "	\
	"set in a verdict; offload uses the repeat path (forward mode) or "	\
	"the kernel set (raw mode)"

/*
 * ctglue_verdict_build - an NFQNL_MSG_VERDICT for packet @id of @queue
 * that also changes its conntrack entry's mark: NFQA_VERDICT_HDR, then
 * NFQA_MARK (only with @set_mark), then NFQA_CT { CTA_MARK @ctmark,
 * CTA_MARK_MASK @ctmask }: the kernel sets ctmark = (ctmark & ~@ctmask) ^
 * @ctmark, so @ctmark must lie within @ctmask. NFQA_CT is only read from
 * single verdicts, never from NFQNL_MSG_VERDICT_BATCH.
 *
 * Writes into @buf (@len bytes, at least CTGLUE_VERDICT_MAX). Returns the
 * message length, or -ENOSPC. No NLM_F_ACK: errors come back as
 * NLMSG_ERROR like any verdict's.
 *
 * Untested against a kernel with the glue (the development machine has
 * none); the bytes are checked by tests/test-offload.c.
 */
#define CTGLUE_VERDICT_MAX	128
int ctglue_verdict_build(void *buf, size_t len, uint16_t queue, uint32_t id,
			 uint32_t verdict, bool set_mark, uint32_t mark,
			 uint32_t ctmark, uint32_t ctmask, uint32_t seq);

#endif
