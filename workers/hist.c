// SPDX-License-Identifier: GPL-2.0-or-later
#include "hist.h"

#define LOAD(p)		__atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE(p, v)	__atomic_store_n((p), (v), __ATOMIC_RELAXED)

unsigned hist_index(uint64_t v)
{
	unsigned e;

	if (v < HIST_SUB)
		return v;
	e = 63 - __builtin_clzll(v);
	if (e > HIST_MAX_EXP)
		return HIST_BUCKETS - 1;
	return (e - HIST_SUB_BITS + 1) * HIST_SUB +
	       ((v >> (e - HIST_SUB_BITS)) & (HIST_SUB - 1));
}

uint64_t hist_bucket_low(unsigned idx)
{
	unsigned e;

	if (idx < HIST_SUB)
		return idx;
	e = idx / HIST_SUB + HIST_SUB_BITS - 1;
	return (uint64_t)(HIST_SUB + idx % HIST_SUB) << (e - HIST_SUB_BITS);
}

uint64_t hist_bucket_high(unsigned idx)
{
	return idx + 1 < HIST_BUCKETS ? hist_bucket_low(idx + 1) - 1 :
					UINT64_MAX;
}

void hist_add(struct hist *h, uint64_t v, uint64_t n)
{
	unsigned i = hist_index(v);

	/* Single writer: plain read-modify-write through relaxed atomics,
	 * no locked instruction on the packet path. */
	STORE(&h->bucket[i], LOAD(&h->bucket[i]) + n);
	STORE(&h->count, LOAD(&h->count) + n);
	STORE(&h->sum, LOAD(&h->sum) + v * n);
	if (v > LOAD(&h->max))
		STORE(&h->max, v);
}

void hist_snapshot(const struct hist *h, struct hist *ret)
{
	ret->count = LOAD(&h->count);
	ret->sum = LOAD(&h->sum);
	ret->max = LOAD(&h->max);
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		ret->bucket[i] = LOAD(&h->bucket[i]);
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->max > dst->max)
		dst->max = src->max;
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		dst->bucket[i] += src->bucket[i];
}

uint64_t hist_quantile(const struct hist *h, double q)
{
	uint64_t total = 0, rank, seen = 0, up;
	unsigned i;

	for (i = 0; i < HIST_BUCKETS; i++)
		total += h->bucket[i];
	if (!total)
		return 0;
	rank = (uint64_t)(q * (double)total);
	if (rank >= total)
		rank = total - 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen > rank)
			break;
	}
	/* the bucket's upper bound (i < HIST_BUCKETS: seen reached total):
	 * a quantile is never understated, nor above the max */
	up = hist_bucket_high(i);
	return up < h->max ? up : h->max;
}

uint64_t hist_count_le(const struct hist *h, uint64_t v)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < HIST_BUCKETS - 1; i++) {
		if (hist_bucket_high(i) > v)
			break;
		n += h->bucket[i];
	}
	return n;
}
