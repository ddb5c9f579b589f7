// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The verdict batcher.
 *
 * Design: verdicts are held in a flat array in arrival order. Building
 * walks the array once, extending a run while the next id is the previous
 * id + 1 and the verdict and mark are equal; a run of two or more packets
 * is one NFQNL_MSG_VERDICT_BATCH (the kernel verdicts every queued id up to
 * the one given), a run of one is a plain NFQNL_MSG_VERDICT.
 *
 * Correctness rests on one invariant: every packet of the queue passes
 * through this batcher, in id order, and a flush covers everything held.
 * A batch verdict covers every queued id up to its own, so all lower ids
 * must have been verdicted by earlier messages; they were, by the messages
 * before it in this flush or by earlier flushes. An id gap is an id the
 * kernel never queued (its netlink delivery failed, so it was not
 * enqueued). Runs are still broken at gaps, which costs nothing and keeps
 * each batch message covering exactly the packets it names.
 *
 * All messages of one flush share one buffer and go out in one sendmsg().
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "vbatch.h"

struct vb_entry {
	uint32_t	id;
	uint32_t	verdict;
	uint32_t	mark;
	uint32_t	has_mark;
	uint64_t	recv_ns;
};

struct vbatch {
	uint16_t	queue;
	unsigned	cap;
	unsigned	count;
	char		*buf;
	size_t		buf_size;
	struct vb_entry	entry[];
};

/* nlmsghdr + nfgenmsg + verdict header attr + mark attr, aligned. */
#define VB_MSG_MAX	(MNL_ALIGN(sizeof(struct nlmsghdr)) +		\
			 MNL_ALIGN(sizeof(struct nfgenmsg)) +		\
			 MNL_ATTR_HDRLEN + MNL_ALIGN(sizeof(struct nfqnl_msg_verdict_hdr)) + \
			 MNL_ATTR_HDRLEN + MNL_ALIGN(sizeof(uint32_t)))

size_t vbatch_buf_size(unsigned cap)
{
	return (size_t)cap * VB_MSG_MAX;
}

struct vbatch *vbatch_new(uint16_t queue, unsigned cap)
{
	struct vbatch *vb;

	if (!cap) {
		errno = EINVAL;
		return NULL;
	}
	vb = calloc(1, sizeof(*vb) + (size_t)cap * sizeof(vb->entry[0]));
	if (!vb)
		return NULL;
	vb->buf_size = vbatch_buf_size(cap);
	vb->buf = malloc(vb->buf_size);
	if (!vb->buf) {
		free(vb);
		return NULL;
	}
	vb->queue = queue;
	vb->cap = cap;
	return vb;
}

void vbatch_free(struct vbatch *vb)
{
	if (!vb)
		return;
	free(vb->buf);
	free(vb);
}

int vbatch_add(struct vbatch *vb, uint32_t id, uint32_t verdict,
	       bool has_mark, uint32_t mark, uint64_t recv_ns)
{
	struct vb_entry *e;

	if (vb->count >= vb->cap)
		return -ENOSPC;
	e = &vb->entry[vb->count++];
	e->id = id;
	e->verdict = verdict;
	e->has_mark = has_mark;
	e->mark = has_mark ? mark : 0;
	e->recv_ns = recv_ns;
	return 0;
}

unsigned vbatch_count(const struct vbatch *vb)
{
	return vb->count;
}

uint64_t vbatch_oldest_ns(const struct vbatch *vb)
{
	return vb->count ? vb->entry[0].recv_ns : 0;
}

int vbatch_due(const struct vbatch *vb, unsigned batch_max,
	       uint64_t max_hold_ns, uint64_t now_ns)
{
	if (!vb->count)
		return 0;
	if (vb->count >= batch_max || vb->count >= vb->cap)
		return 1;	/* FLUSH_BATCH_FULL */
	if (now_ns > vb->entry[0].recv_ns &&
	    now_ns - vb->entry[0].recv_ns >= max_hold_ns)
		return 2;	/* FLUSH_HOLD */
	return 0;
}

static bool vb_same_run(const struct vb_entry *a, const struct vb_entry *b)
{
	return b->id == a->id + 1 && b->verdict == a->verdict &&
	       b->has_mark == a->has_mark && b->mark == a->mark;
}

static char *vb_put_msg(char *p, uint16_t queue, int type, uint32_t seq,
			const struct vb_entry *e)
{
	struct nlmsghdr *nlh = nfq_nlmsg_put(p, type, queue);

	nlh->nlmsg_seq = seq;
	nfq_nlmsg_verdict_put(nlh, e->id, e->verdict);
	if (e->has_mark)
		nfq_nlmsg_verdict_put_mark(nlh, e->mark);
	return p + nlh->nlmsg_len;
}

/* Count a run of @n packets with @verdict into @ret's per-verdict fields. */
static void vb_count_run(struct vbatch_out *ret, uint32_t verdict, unsigned n)
{
	switch (verdict & NF_VERDICT_MASK) {
	case NF_ACCEPT:
		ret->accepts += n;
		break;
	case NF_DROP:
		ret->drops += n;
		break;
	case NF_REPEAT:
		ret->repeats += n;
		break;
	default:
		ret->others += n;
	}
}

void vbatch_build(struct vbatch *vb, uint32_t seq, struct vbatch_out *ret)
{
	char *p = vb->buf;
	unsigned i = 0, nbatch = 0, nverdict = 0;

	*ret = (struct vbatch_out){ 0 };
	while (i < vb->count) {
		unsigned j = i;

		while (j + 1 < vb->count &&
		       vb_same_run(&vb->entry[j], &vb->entry[j + 1]))
			j++;
		vb_count_run(ret, vb->entry[i].verdict, j - i + 1);
		if (j > i) {
			p = vb_put_msg(p, vb->queue, NFQNL_MSG_VERDICT_BATCH,
				       seq++, &vb->entry[j]);
			nbatch++;
		} else {
			p = vb_put_msg(p, vb->queue, NFQNL_MSG_VERDICT,
				       seq++, &vb->entry[i]);
			nverdict++;
		}
		i = j + 1;
	}
	ret->buf = vb->buf;
	ret->len = (size_t)(p - vb->buf);
	ret->verdicts = vb->count;
	ret->batch_msgs = nbatch;
	ret->verdict_msgs = nverdict;
}

void vbatch_account_hold(const struct vbatch *vb, uint64_t now_ns,
			 struct hist *h)
{
	unsigned i = 0;

	while (i < vb->count) {
		uint64_t recv_ns = vb->entry[i].recv_ns;
		unsigned j = i + 1;

		while (j < vb->count && vb->entry[j].recv_ns == recv_ns)
			j++;
		hist_add(h, now_ns > recv_ns ? now_ns - recv_ns : 0, j - i);
		i = j;
	}
}

unsigned vbatch_drop_upto(struct vbatch *vb, uint32_t id)
{
	unsigned n = 0;

	/* entries are in arrival (id) order: the dropped ones are a prefix */
	while (n < vb->count && (int32_t)(vb->entry[n].id - id) <= 0)
		n++;
	if (n) {
		memmove(vb->entry, vb->entry + n,
			(vb->count - n) * sizeof(vb->entry[0]));
		vb->count -= n;
	}
	return n;
}

void vbatch_reset(struct vbatch *vb)
{
	vb->count = 0;
}
