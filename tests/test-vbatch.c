// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the verdict batcher: the built buffer is walked with
 * libmnl as the kernel would walk it, and every message is checked field
 * by field (type, flags, seq, queue, id, verdict, mark) against a list
 * written out by hand for each case.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "hist.h"
#include "vbatch.h"
#include "worker.h"

#define T_VERDICT	((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_VERDICT)
#define T_BATCH	((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_VERDICT_BATCH)
#define NO_MARK		(-1LL)

/* One message as the kernel sees it. */
struct msg {
	uint16_t	type;
	uint32_t	seq;
	uint16_t	queue;
	uint32_t	id;
	uint32_t	verdict;
	bool		has_mark;
	uint32_t	mark;
};

/* What a case expects: mark NO_MARK for none. */
struct want {
	uint16_t	type;
	uint32_t	id;
	uint32_t	verdict;
	long long	mark;
};

static int attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(attr);

	/* Only these two may appear, each once, each with its exact size. */
	assert_true(type == NFQA_VERDICT_HDR || type == NFQA_MARK);
	assert_null(tb[type]);
	if (type == NFQA_VERDICT_HDR)
		assert_int_equal(mnl_attr_validate2(attr, MNL_TYPE_UNSPEC,
				 sizeof(struct nfqnl_msg_verdict_hdr)), 0);
	else
		assert_int_equal(mnl_attr_validate(attr, MNL_TYPE_U32), 0);
	tb[type] = attr;
	return MNL_CB_OK;
}

/* Walk @out into @ret (at most @max messages); returns the count. */
static unsigned parse(const struct vbatch_out *out, struct msg *ret,
		      unsigned max)
{
	const struct nlmsghdr *nlh = out->buf;
	int left = (int)out->len;
	size_t sum = 0;
	unsigned n = 0;

	assert_true(out->len <= INT32_MAX);
	while (mnl_nlmsg_ok(nlh, left)) {
		const struct nlattr *tb[NFQA_MAX + 1] = { 0 };
		const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
		const struct nfqnl_msg_verdict_hdr *vh;

		assert_true(n < max);
		assert_int_equal(nlh->nlmsg_flags, NLM_F_REQUEST);
		assert_true(nlh->nlmsg_len >= MNL_NLMSG_HDRLEN + sizeof(*nfg));
		assert_int_equal(nfg->nfgen_family, AF_UNSPEC);
		assert_int_equal(nfg->version, NFNETLINK_V0);
		assert_int_equal(mnl_attr_parse(nlh, sizeof(*nfg), attr_cb, tb),
				 MNL_CB_OK);
		assert_non_null(tb[NFQA_VERDICT_HDR]);
		vh = mnl_attr_get_payload(tb[NFQA_VERDICT_HDR]);

		ret[n].type = nlh->nlmsg_type;
		ret[n].seq = nlh->nlmsg_seq;
		ret[n].queue = ntohs(nfg->res_id);
		ret[n].id = ntohl(vh->id);
		ret[n].verdict = ntohl(vh->verdict);
		ret[n].has_mark = tb[NFQA_MARK] != NULL;
		ret[n].mark = tb[NFQA_MARK] ?
			      ntohl(mnl_attr_get_u32(tb[NFQA_MARK])) : 0;
		sum += nlh->nlmsg_len;
		n++;
		nlh = mnl_nlmsg_next(nlh, &left);
	}
	/* Nothing left over: the buffer is exactly the messages. */
	assert_int_equal(left, 0);
	assert_int_equal(sum, out->len);
	return n;
}

/* Build @vb with @seq and check it against @want[0..@nwant). */
static void check_build(struct vbatch *vb, uint16_t queue, uint32_t seq,
			const struct want *want, unsigned nwant,
			unsigned verdicts)
{
	struct vbatch_out out;
	struct msg m[64];
	unsigned n, nbatch = 0, nverdict = 0;

	memset(&out, 0xa5, sizeof(out));
	vbatch_build(vb, seq, &out);
	assert_int_equal(out.verdicts, verdicts);
	n = parse(&out, m, 64);
	assert_int_equal(n, nwant);
	for (unsigned i = 0; i < n; i++) {
		assert_int_equal(m[i].type, want[i].type);
		assert_int_equal(m[i].seq, (uint32_t)(seq + i));
		assert_int_equal(m[i].queue, queue);
		assert_int_equal(m[i].id, want[i].id);
		assert_int_equal(m[i].verdict, want[i].verdict);
		assert_int_equal(m[i].has_mark, want[i].mark != NO_MARK);
		if (want[i].mark != NO_MARK)
			assert_int_equal(m[i].mark, (uint32_t)want[i].mark);
		if (want[i].type == T_BATCH)
			nbatch++;
		else
			nverdict++;
	}
	assert_int_equal(out.batch_msgs, nbatch);
	assert_int_equal(out.verdict_msgs, nverdict);
}

static struct vbatch *new_vb(uint16_t queue, unsigned cap)
{
	struct vbatch *vb = vbatch_new(queue, cap);

	assert_non_null(vb);
	assert_int_equal(vbatch_count(vb), 0);
	return vb;
}

static void add(struct vbatch *vb, uint32_t id, uint32_t verdict,
		long long mark)
{
	assert_int_equal(vbatch_add(vb, id, verdict, mark != NO_MARK,
				    mark != NO_MARK ? (uint32_t)mark : 0,
				    1000 + id), 0);
}

#define CHECK(vb, q, seq, nv, ...)					\
	do {								\
		static const struct want w_[] = { __VA_ARGS__ };	\
		check_build((vb), (q), (seq), w_,			\
			    sizeof(w_) / sizeof(w_[0]), (nv));		\
	} while (0)

static void test_new_zero_cap(void **state)
{
	errno = 0;
	assert_null(vbatch_new(0, 0));
	assert_int_equal(errno, EINVAL);
	vbatch_free(NULL);
}

static void test_single(void **state)
{
	struct vbatch *vb = new_vb(7, 8);

	add(vb, 42, NF_ACCEPT, NO_MARK);
	assert_int_equal(vbatch_count(vb), 1);
	CHECK(vb, 7, 100, 1, { T_VERDICT, 42, NF_ACCEPT, NO_MARK });
	vbatch_free(vb);
}

static void test_single_mark(void **state)
{
	struct vbatch *vb = new_vb(7, 8);

	add(vb, 42, NF_DROP, 0xdeadbeef);
	CHECK(vb, 7, 1, 1, { T_VERDICT, 42, NF_DROP, 0xdeadbeef });
	vbatch_free(vb);
}

static void test_run_is_one_batch(void **state)
{
	struct vbatch *vb = new_vb(3, 16);

	for (uint32_t id = 10; id <= 14; id++)
		add(vb, id, NF_ACCEPT, NO_MARK);
	CHECK(vb, 3, 5, 5, { T_BATCH, 14, NF_ACCEPT, NO_MARK });
	vbatch_free(vb);
}

static void test_run_of_two(void **state)
{
	struct vbatch *vb = new_vb(3, 16);

	add(vb, 10, NF_DROP, 9);
	add(vb, 11, NF_DROP, 9);
	CHECK(vb, 3, 0, 2, { T_BATCH, 11, NF_DROP, 9 });
	vbatch_free(vb);
}

static void test_break_verdict(void **state)
{
	struct vbatch *vb = new_vb(1, 16);

	add(vb, 1, NF_ACCEPT, NO_MARK);
	add(vb, 2, NF_ACCEPT, NO_MARK);
	add(vb, 3, NF_ACCEPT, NO_MARK);
	add(vb, 4, NF_DROP, NO_MARK);
	add(vb, 5, NF_DROP, NO_MARK);
	CHECK(vb, 1, 0, 5,
	      { T_BATCH, 3, NF_ACCEPT, NO_MARK },
	      { T_BATCH, 5, NF_DROP, NO_MARK });
	vbatch_free(vb);
}

static void test_break_mark(void **state)
{
	struct vbatch *vb = new_vb(1, 16);

	add(vb, 1, NF_ACCEPT, 7);
	add(vb, 2, NF_ACCEPT, 7);
	add(vb, 3, NF_ACCEPT, 8);
	add(vb, 4, NF_ACCEPT, 8);
	add(vb, 5, NF_ACCEPT, 7);
	CHECK(vb, 1, 0, 5,
	      { T_BATCH, 2, NF_ACCEPT, 7 },
	      { T_BATCH, 4, NF_ACCEPT, 8 },
	      { T_VERDICT, 5, NF_ACCEPT, 7 });
	vbatch_free(vb);
}

/* Mark 0 sent is not the same as no mark: the kernel would clear a mark. */
static void test_break_mark_presence(void **state)
{
	struct vbatch *vb = new_vb(1, 16);

	add(vb, 1, NF_ACCEPT, NO_MARK);
	add(vb, 2, NF_ACCEPT, NO_MARK);
	add(vb, 3, NF_ACCEPT, 0);
	add(vb, 4, NF_ACCEPT, 0);
	add(vb, 5, NF_ACCEPT, NO_MARK);
	add(vb, 6, NF_ACCEPT, 0);
	CHECK(vb, 1, 0, 6,
	      { T_BATCH, 2, NF_ACCEPT, NO_MARK },
	      { T_BATCH, 4, NF_ACCEPT, 0 },
	      { T_VERDICT, 5, NF_ACCEPT, NO_MARK },
	      { T_VERDICT, 6, NF_ACCEPT, 0 });
	vbatch_reset(vb);

	/* without has_mark the mark argument means nothing: still one run */
	assert_int_equal(vbatch_add(vb, 7, NF_DROP, false, 5, 1), 0);
	assert_int_equal(vbatch_add(vb, 8, NF_DROP, false, 6, 1), 0);
	assert_int_equal(vbatch_add(vb, 9, NF_DROP, false, 0, 1), 0);
	CHECK(vb, 1, 0, 3, { T_BATCH, 9, NF_DROP, NO_MARK });
	vbatch_free(vb);
}

static void test_break_gap(void **state)
{
	struct vbatch *vb = new_vb(1, 16);

	add(vb, 1, NF_ACCEPT, NO_MARK);
	add(vb, 2, NF_ACCEPT, NO_MARK);
	add(vb, 3, NF_ACCEPT, NO_MARK);
	add(vb, 5, NF_ACCEPT, NO_MARK);
	add(vb, 6, NF_ACCEPT, NO_MARK);
	add(vb, 7, NF_ACCEPT, NO_MARK);
	add(vb, 9, NF_ACCEPT, NO_MARK);
	CHECK(vb, 1, 0, 7,
	      { T_BATCH, 3, NF_ACCEPT, NO_MARK },
	      { T_BATCH, 7, NF_ACCEPT, NO_MARK },
	      { T_VERDICT, 9, NF_ACCEPT, NO_MARK });
	vbatch_free(vb);
}

/* Same verdict, every id apart: never merged. */
static void test_all_gaps(void **state)
{
	struct vbatch *vb = new_vb(1, 16);

	add(vb, 1, NF_ACCEPT, NO_MARK);
	add(vb, 3, NF_ACCEPT, NO_MARK);
	add(vb, 5, NF_ACCEPT, NO_MARK);
	add(vb, 4, NF_ACCEPT, NO_MARK);	/* id below the previous one */
	CHECK(vb, 1, 0, 4,
	      { T_VERDICT, 1, NF_ACCEPT, NO_MARK },
	      { T_VERDICT, 3, NF_ACCEPT, NO_MARK },
	      { T_VERDICT, 5, NF_ACCEPT, NO_MARK },
	      { T_VERDICT, 4, NF_ACCEPT, NO_MARK });
	vbatch_free(vb);
}

static void test_alternating(void **state)
{
	struct vbatch *vb = new_vb(2, 16);

	for (uint32_t id = 1; id <= 6; id++)
		add(vb, id, id & 1 ? NF_ACCEPT : NF_DROP, NO_MARK);
	CHECK(vb, 2, 0, 6,
	      { T_VERDICT, 1, NF_ACCEPT, NO_MARK },
	      { T_VERDICT, 2, NF_DROP, NO_MARK },
	      { T_VERDICT, 3, NF_ACCEPT, NO_MARK },
	      { T_VERDICT, 4, NF_DROP, NO_MARK },
	      { T_VERDICT, 5, NF_ACCEPT, NO_MARK },
	      { T_VERDICT, 6, NF_DROP, NO_MARK });
	vbatch_free(vb);
}

/* Build @vb and check its per-verdict counts. */
static void build_counts(struct vbatch *vb, unsigned accepts, unsigned drops,
			 unsigned repeats, unsigned others)
{
	struct vbatch_out out;

	vbatch_build(vb, 1, &out);
	assert_int_equal(out.accepts, accepts);
	assert_int_equal(out.drops, drops);
	assert_int_equal(out.repeats, repeats);
	assert_int_equal(out.others, others);
	assert_int_equal(out.verdicts, accepts + drops + repeats + others);
}

/* Everything at once: order kept, each break where it belongs. */
static void test_mixed(void **state)
{
	struct vbatch *vb = new_vb(0x1234, 32);

	add(vb, 100, NF_ACCEPT, NO_MARK);
	add(vb, 101, NF_ACCEPT, NO_MARK);
	add(vb, 102, NF_DROP, NO_MARK);
	add(vb, 103, NF_ACCEPT, 5);
	add(vb, 104, NF_ACCEPT, 5);
	add(vb, 105, NF_ACCEPT, 5);
	add(vb, 107, NF_ACCEPT, 5);
	add(vb, 108, NF_ACCEPT, NO_MARK);
	add(vb, 109, NF_ACCEPT, NO_MARK);
	add(vb, 110, NF_QUEUE_NR(3), NO_MARK);
	add(vb, 111, NF_DROP, NO_MARK);
	CHECK(vb, 0x1234, 77, 11,
	      { T_BATCH, 101, NF_ACCEPT, NO_MARK },
	      { T_VERDICT, 102, NF_DROP, NO_MARK },
	      { T_BATCH, 105, NF_ACCEPT, 5 },
	      { T_VERDICT, 107, NF_ACCEPT, 5 },
	      { T_BATCH, 109, NF_ACCEPT, NO_MARK },
	      { T_VERDICT, 110, NF_QUEUE_NR(3), NO_MARK },
	      { T_VERDICT, 111, NF_DROP, NO_MARK });
	/* the per-verdict counts, one run at a time */
	build_counts(vb, 8, 2, 0, 1);
	vbatch_free(vb);
}

static void test_verdict_values(void **state)
{
	struct vbatch *vb = new_vb(65535, 8);

	add(vb, 1, NF_QUEUE_NR(3), NO_MARK);
	add(vb, 2, NF_QUEUE_NR(3), NO_MARK);
	add(vb, 4, NF_QUEUE_NR(3) | NF_VERDICT_FLAG_QUEUE_BYPASS, 0xffffffff);
	add(vb, 5, NF_REPEAT, NO_MARK);
	add(vb, 6, NF_STOP, NO_MARK);
	CHECK(vb, 65535, 0, 5,
	      { T_BATCH, 2, NF_QUEUE_NR(3), NO_MARK },
	      { T_VERDICT, 4, NF_QUEUE_NR(3) | NF_VERDICT_FLAG_QUEUE_BYPASS,
		0xffffffff },
	      { T_VERDICT, 5, NF_REPEAT, NO_MARK },
	      { T_VERDICT, 6, NF_STOP, NO_MARK });
	assert_int_equal(NF_QUEUE_NR(3), (3 << 16) | NF_QUEUE);
	build_counts(vb, 0, 0, 1, 4);	/* queue with any number, stop: other */
	vbatch_free(vb);
}

static void test_queue_zero(void **state)
{
	struct vbatch *vb = new_vb(0, 4);

	add(vb, 1, NF_ACCEPT, NO_MARK);
	CHECK(vb, 0, 0, 1, { T_VERDICT, 1, NF_ACCEPT, NO_MARK });
	vbatch_free(vb);
}

/* Sequence numbers wrap like the kernel's u32, ids too (the kernel
 * compares ids with serial arithmetic, so 0 follows 0xffffffff). */
static void test_wrap(void **state)
{
	struct vbatch *vb = new_vb(1, 8);

	add(vb, 0xfffffffe, NF_ACCEPT, NO_MARK);
	add(vb, 0xffffffff, NF_ACCEPT, NO_MARK);
	add(vb, 0, NF_ACCEPT, NO_MARK);
	add(vb, 1, NF_DROP, NO_MARK);
	add(vb, 2, NF_ACCEPT, NO_MARK);
	CHECK(vb, 1, 0xfffffffe, 5,
	      { T_BATCH, 0, NF_ACCEPT, NO_MARK },
	      { T_VERDICT, 1, NF_DROP, NO_MARK },
	      { T_VERDICT, 2, NF_ACCEPT, NO_MARK });
	vbatch_free(vb);
}

/* The counters of vbatch_out, and building twice gives the same bytes
 * (nothing is removed by a build). */
static void test_out_counters(void **state)
{
	struct vbatch *vb = new_vb(9, 64);
	struct vbatch_out a, b;
	struct msg m[64];
	void *copy;
	size_t sum = 0;
	const struct nlmsghdr *nlh;
	int left;

	for (uint32_t id = 1; id <= 20; id++)
		add(vb, id, id <= 10 || id % 2 ? NF_ACCEPT : NF_DROP,
		    id > 15 ? (long long)id : NO_MARK);
	vbatch_build(vb, 1, &a);
	assert_int_equal(a.verdicts, 20);
	/* 1..11 accept: one batch; 12..20 alternate: nine singles */
	assert_int_equal(a.batch_msgs, 1);
	assert_int_equal(a.verdict_msgs, 9);
	assert_int_equal(parse(&a, m, 64), 10);
	assert_int_equal(m[0].id, 11);
	for (nlh = a.buf, left = (int)a.len; mnl_nlmsg_ok(nlh, left);
	     nlh = mnl_nlmsg_next(nlh, &left))
		sum += nlh->nlmsg_len;
	assert_int_equal(sum, a.len);
	assert_true(a.len <= vbatch_buf_size(64));

	copy = malloc(a.len);
	assert_non_null(copy);
	memcpy(copy, a.buf, a.len);
	vbatch_build(vb, 1, &b);
	assert_int_equal(vbatch_count(vb), 20);
	assert_int_equal(b.len, a.len);
	assert_memory_equal(b.buf, copy, a.len);
	free(copy);
	vbatch_free(vb);
}

static void test_empty_build(void **state)
{
	struct vbatch *vb = new_vb(1, 4);
	struct vbatch_out out;

	memset(&out, 0xa5, sizeof(out));
	vbatch_build(vb, 1, &out);
	assert_int_equal(out.len, 0);
	assert_int_equal(out.verdicts, 0);
	assert_int_equal(out.batch_msgs, 0);
	assert_int_equal(out.verdict_msgs, 0);
	vbatch_free(vb);
}

static void test_capacity(void **state)
{
	struct vbatch *vb = new_vb(1, 4);

	for (uint32_t id = 1; id <= 4; id++)
		add(vb, id, NF_ACCEPT, NO_MARK);
	assert_int_equal(vbatch_add(vb, 5, NF_ACCEPT, false, 0, 1), -ENOSPC);
	assert_int_equal(vbatch_add(vb, 5, NF_DROP, true, 1, 1), -ENOSPC);
	assert_int_equal(vbatch_count(vb), 4);
	/* the refused verdicts are not in the batch */
	CHECK(vb, 1, 0, 4, { T_BATCH, 4, NF_ACCEPT, NO_MARK });
	vbatch_free(vb);

	vb = new_vb(1, 1);
	add(vb, 1, NF_ACCEPT, NO_MARK);
	assert_int_equal(vbatch_add(vb, 2, NF_ACCEPT, false, 0, 1), -ENOSPC);
	vbatch_free(vb);
}

static void test_reset(void **state)
{
	struct vbatch *vb = new_vb(1, 4);
	struct vbatch_out out;

	for (uint32_t id = 1; id <= 4; id++)
		add(vb, id, NF_ACCEPT, NO_MARK);
	vbatch_reset(vb);
	assert_int_equal(vbatch_count(vb), 0);
	assert_int_equal(vbatch_oldest_ns(vb), 0);
	assert_int_equal(vbatch_due(vb, 1, 0, UINT64_MAX), 0);
	vbatch_build(vb, 1, &out);
	assert_int_equal(out.len, 0);
	assert_int_equal(out.verdicts, 0);
	/* full capacity again after a reset */
	for (uint32_t id = 5; id <= 8; id++)
		add(vb, id, NF_DROP, NO_MARK);
	assert_int_equal(vbatch_add(vb, 9, NF_DROP, false, 0, 1), -ENOSPC);
	CHECK(vb, 1, 0, 4, { T_BATCH, 8, NF_DROP, NO_MARK });
	vbatch_free(vb);
}

static void test_due(void **state)
{
	struct vbatch *vb = new_vb(1, 8);

	assert_int_equal(FLUSH_BATCH_FULL, 1);
	assert_int_equal(FLUSH_HOLD, 2);
	assert_int_equal(vbatch_due(vb, 1, 0, 0), 0);
	assert_int_equal(vbatch_due(vb, 1, 1000, UINT64_MAX), 0);

	assert_int_equal(vbatch_add(vb, 1, NF_ACCEPT, false, 0, 5000), 0);
	assert_int_equal(vbatch_add(vb, 2, NF_ACCEPT, false, 0, 5500), 0);
	/* 2 held, batch_max 3, hold 1000 */
	assert_int_equal(vbatch_due(vb, 3, 1000, 5000), 0);
	assert_int_equal(vbatch_due(vb, 3, 1000, 5999), 0);
	assert_int_equal(vbatch_due(vb, 3, 1000, 6000), FLUSH_HOLD);
	assert_int_equal(vbatch_due(vb, 3, 1000, 6500), FLUSH_HOLD);
	/* batch_max reached: full, whatever the time */
	assert_int_equal(vbatch_due(vb, 2, 1000, 5000), FLUSH_BATCH_FULL);
	assert_int_equal(vbatch_due(vb, 1, 1000, 5000), FLUSH_BATCH_FULL);
	assert_int_equal(vbatch_due(vb, 2, 1000, 9000), FLUSH_BATCH_FULL);

	assert_int_equal(vbatch_add(vb, 3, NF_ACCEPT, false, 0, 5900), 0);
	assert_int_equal(vbatch_due(vb, 3, 1000, 5000), FLUSH_BATCH_FULL);
	assert_int_equal(vbatch_due(vb, 4, 1000, 5999), 0);
	vbatch_reset(vb);
	assert_int_equal(vbatch_due(vb, 1, 0, 9000), 0);
	vbatch_free(vb);
}

/* A full batcher is due even when batch_max is above its capacity. */
static void test_due_cap(void **state)
{
	struct vbatch *vb = new_vb(1, 2);

	assert_int_equal(vbatch_add(vb, 1, NF_ACCEPT, false, 0, 100), 0);
	assert_int_equal(vbatch_due(vb, 256, 1000, 100), 0);
	assert_int_equal(vbatch_add(vb, 2, NF_ACCEPT, false, 0, 100), 0);
	assert_int_equal(vbatch_due(vb, 256, 1000, 100), FLUSH_BATCH_FULL);
	vbatch_free(vb);
}

static void test_oldest(void **state)
{
	struct vbatch *vb = new_vb(1, 8);

	assert_int_equal(vbatch_oldest_ns(vb), 0);
	assert_int_equal(vbatch_add(vb, 1, NF_ACCEPT, false, 0, 123456789),
			 0);
	assert_int_equal(vbatch_oldest_ns(vb), 123456789);
	assert_int_equal(vbatch_add(vb, 2, NF_ACCEPT, false, 0, 223456789),
			 0);
	assert_int_equal(vbatch_oldest_ns(vb), 123456789);
	vbatch_free(vb);
}

/* The watchdog verdicted ids up to N: those held are dropped, a prefix. */
static void test_drop_upto(void **state)
{
	struct vbatch *vb = new_vb(1, 8);
	struct vbatch_out out;
	struct msg m[8];

	add(vb, 10, NF_ACCEPT, NO_MARK);
	add(vb, 11, NF_DROP, NO_MARK);
	add(vb, 12, NF_ACCEPT, NO_MARK);
	assert_int_equal(vbatch_drop_upto(vb, 9), 0);
	assert_int_equal(vbatch_count(vb), 3);
	vbatch_build(vb, 1, &out);
	assert_int_equal(out.accepts, 2);
	assert_int_equal(out.drops, 1);
	assert_int_equal(vbatch_drop_upto(vb, 11), 2);
	assert_int_equal(vbatch_count(vb), 1);
	assert_int_equal(vbatch_oldest_ns(vb), 1012);
	/* what is left moved to the front: the worker counts the verdicts
	 * it sends from the build */
	vbatch_build(vb, 1, &out);
	assert_int_equal(out.verdicts, 1);
	assert_int_equal(out.accepts, 1);
	assert_int_equal(out.drops, 0);
	assert_int_equal(parse(&out, m, 8), 1);
	assert_int_equal(m[0].id, 12);
	assert_int_equal(vbatch_drop_upto(vb, 12), 1);
	assert_int_equal(vbatch_count(vb), 0);
	vbatch_reset(vb);

	/* wrap-safe: 0xfffffffe and 0xffffffff are before 1 */
	add(vb, 0xfffffffe, NF_ACCEPT, NO_MARK);
	add(vb, 0xffffffff, NF_ACCEPT, NO_MARK);
	add(vb, 0, NF_ACCEPT, NO_MARK);
	add(vb, 1, NF_ACCEPT, NO_MARK);
	assert_int_equal(vbatch_drop_upto(vb, 0), 3);
	assert_int_equal(vbatch_count(vb), 1);
	vbatch_free(vb);
}

static void test_account_hold(void **state)
{
	struct vbatch *vb = new_vb(1, 16);
	struct hist h, empty;
	uint64_t total = 0;

	memset(&h, 0, sizeof(h));
	memset(&empty, 0, sizeof(empty));
	vbatch_account_hold(vb, 1000, &h);
	assert_memory_equal(&h, &empty, sizeof(h));

	/* bursts received at 100 (x3), 250 (x2), 400 (x1) */
	assert_int_equal(vbatch_add(vb, 1, NF_ACCEPT, false, 0, 100), 0);
	assert_int_equal(vbatch_add(vb, 2, NF_DROP, false, 0, 100), 0);
	assert_int_equal(vbatch_add(vb, 3, NF_ACCEPT, true, 1, 100), 0);
	assert_int_equal(vbatch_add(vb, 4, NF_ACCEPT, false, 0, 250), 0);
	assert_int_equal(vbatch_add(vb, 5, NF_ACCEPT, false, 0, 250), 0);
	assert_int_equal(vbatch_add(vb, 6, NF_ACCEPT, false, 0, 400), 0);
	vbatch_account_hold(vb, 1000, &h);
	assert_int_equal(h.count, 6);
	assert_int_equal(h.sum, 900 * 3 + 750 * 2 + 600);
	assert_int_equal(h.max, 900);
	assert_int_equal(h.bucket[hist_index(900)], 3);
	assert_int_equal(h.bucket[hist_index(750)], 2);
	assert_int_equal(h.bucket[hist_index(600)], 1);
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		total += h.bucket[i];
	assert_int_equal(total, 6);

	/* accounting adds, it does not replace; the batch is unchanged */
	vbatch_account_hold(vb, 1100, &h);
	assert_int_equal(h.count, 12);
	assert_int_equal(h.sum, 4800 + 4800 + 600);
	assert_int_equal(h.max, 1000);
	assert_int_equal(vbatch_count(vb), 6);
	vbatch_free(vb);
}

/* A clock read before the receive time gives 0, not a huge hold. */
static void test_account_hold_clock(void **state)
{
	struct vbatch *vb = new_vb(1, 4);
	struct hist h;

	memset(&h, 0, sizeof(h));
	assert_int_equal(vbatch_add(vb, 1, NF_ACCEPT, false, 0, 5000), 0);
	assert_int_equal(vbatch_add(vb, 2, NF_ACCEPT, false, 0, 5000), 0);
	vbatch_account_hold(vb, 4000, &h);
	assert_int_equal(h.count, 2);
	assert_int_equal(h.sum, 0);
	assert_int_equal(h.max, 0);
	assert_int_equal(h.bucket[0], 2);
	vbatch_free(vb);
}

/* The worst case: every verdict its own message, every one with a mark. */
static void test_worst_case_size(void **state)
{
	static const unsigned caps[] = { 1, 2, 3, 64, 1024, 4096 };

	for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
		unsigned cap = caps[c];
		struct vbatch *vb = new_vb(65535, cap);
		struct vbatch_out out;
		const struct nlmsghdr *nlh;
		unsigned n = 0;
		int left;

		for (unsigned i = 0; i < cap; i++)
			assert_int_equal(vbatch_add(vb, 2 * i + 1, NF_ACCEPT,
						    true, 0xffffffff, i), 0);
		vbatch_build(vb, 0, &out);
		assert_int_equal(out.verdicts, cap);
		assert_int_equal(out.verdict_msgs, cap);
		assert_int_equal(out.batch_msgs, 0);
		assert_true(out.len <= vbatch_buf_size(cap));
		for (nlh = out.buf, left = (int)out.len;
		     mnl_nlmsg_ok(nlh, left);
		     nlh = mnl_nlmsg_next(nlh, &left)) {
			const struct nfqnl_msg_verdict_hdr *vh;

			vh = mnl_attr_get_payload(mnl_nlmsg_get_payload_offset(
				nlh, sizeof(struct nfgenmsg)));
			assert_int_equal(ntohl(vh->id), 2 * n + 1);
			n++;
		}
		assert_int_equal(left, 0);
		assert_int_equal(n, cap);
		vbatch_free(vb);
	}
	assert_true(vbatch_buf_size(2) >= 2 * vbatch_buf_size(1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_zero_cap),
		cmocka_unit_test(test_single),
		cmocka_unit_test(test_single_mark),
		cmocka_unit_test(test_run_is_one_batch),
		cmocka_unit_test(test_run_of_two),
		cmocka_unit_test(test_break_verdict),
		cmocka_unit_test(test_break_mark),
		cmocka_unit_test(test_break_mark_presence),
		cmocka_unit_test(test_break_gap),
		cmocka_unit_test(test_all_gaps),
		cmocka_unit_test(test_alternating),
		cmocka_unit_test(test_mixed),
		cmocka_unit_test(test_verdict_values),
		cmocka_unit_test(test_queue_zero),
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_out_counters),
		cmocka_unit_test(test_empty_build),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_due),
		cmocka_unit_test(test_due_cap),
		cmocka_unit_test(test_oldest),
		cmocka_unit_test(test_drop_upto),
		cmocka_unit_test(test_account_hold),
		cmocka_unit_test(test_account_hold_clock),
		cmocka_unit_test(test_worst_case_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
