/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vbatch.h - the verdict batcher of one queue.
 *
 * The worker adds one verdict per packet, in arrival order. vbatch_build()
 * turns what is held into netlink messages in one buffer, ready for a
 * single sendmsg():
 *  - a run of consecutive packet ids with the same verdict and mark
 *    becomes one NFQNL_MSG_VERDICT_BATCH carrying the run's last id;
 *  - every other verdict gets its own NFQNL_MSG_VERDICT.
 * Messages keep arrival order, so the kernel applies them in the order the
 * packets came (a batch verdict covers every id up to its own, and all the
 * lower ids were verdicted by the messages before it).
 *
 * One owner (the worker thread); no locks, no allocation after vbatch_new().
 */
#ifndef NFQE_VBATCH_H
#define NFQE_VBATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hist.h"

struct vbatch;

/*
 * vbatch_new - a batcher for @queue holding up to @cap verdicts.
 * Returns NULL with errno set (EINVAL for @cap 0, ENOMEM).
 */
struct vbatch *vbatch_new(uint16_t queue, unsigned cap);
void vbatch_free(struct vbatch *vb);

/*
 * vbatch_add - hold the verdict of packet @id, received at @recv_ns.
 * @has_mark: send @mark with the verdict.
 * Returns 0, or -ENOSPC when the batcher is full (flush first).
 */
int vbatch_add(struct vbatch *vb, uint32_t id, uint32_t verdict,
	       bool has_mark, uint32_t mark, uint64_t recv_ns);

unsigned vbatch_count(const struct vbatch *vb);
/* Receive time of the oldest held verdict; 0 when empty. */
uint64_t vbatch_oldest_ns(const struct vbatch *vb);

/*
 * vbatch_due - whether the held verdicts must go now: @batch_max or more
 * are held, or the oldest has waited @max_hold_ns at @now_ns.
 * Returns 0 (not due), or FLUSH_BATCH_FULL / FLUSH_HOLD from worker.h's
 * enum worker_flush_reason (1 and 2).
 */
int vbatch_due(const struct vbatch *vb, unsigned batch_max,
	       uint64_t max_hold_ns, uint64_t now_ns);

struct vbatch_out {
	const void	*buf;		/* netlink messages, back to back */
	size_t		len;
	unsigned	verdicts;	/* packets covered */
	unsigned	batch_msgs;	/* NFQNL_MSG_VERDICT_BATCH messages */
	unsigned	verdict_msgs;	/* NFQNL_MSG_VERDICT messages */
	/* packets covered by verdict (NF_VERDICT_MASK): NF_ACCEPT, NF_DROP,
	 * NF_REPEAT, anything else (NF_QUEUE, NF_STOP) */
	unsigned	accepts, drops, repeats, others;
};

/*
 * vbatch_build - write the messages for everything held into the internal
 * buffer, with sequence numbers from @seq on. The buffer stays valid until
 * the next vbatch_build() or vbatch_reset(). Nothing is removed: call
 * vbatch_reset() once the messages are sent.
 */
void vbatch_build(struct vbatch *vb, uint32_t seq, struct vbatch_out *ret);

/*
 * vbatch_account_hold - add the hold time (@now_ns - receive time) of every
 * held verdict to @h. Entries of one receive burst share a receive time and
 * are added as one sample group.
 */
void vbatch_account_hold(const struct vbatch *vb, uint64_t now_ns,
			 struct hist *h);

/*
 * vbatch_drop_upto - forget the held verdicts of ids up to @id (wrap-safe):
 * someone else (the watchdog) already verdicted them. Returns how many.
 */
unsigned vbatch_drop_upto(struct vbatch *vb, uint32_t id);

/* Forget everything held. */
void vbatch_reset(struct vbatch *vb);

/* Buffer bytes vbatch_build() needs in the worst case for @cap verdicts. */
size_t vbatch_buf_size(unsigned cap);

#endif
