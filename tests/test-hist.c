// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the log-linear histogram: bucket boundaries against the
 * values they hold, quantiles against the exact quantiles of sorted
 * samples (nearest rank), merge and cumulative counts.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hist.h"

/* Values below this have a bucket with an upper bound. */
#define HIST_LIMIT	((uint64_t)1 << (HIST_MAX_EXP + 1))

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	/* xorshift64*: deterministic, so failures reproduce */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static struct hist *hist_new(void)
{
	struct hist *h = calloc(1, sizeof(*h));

	assert_non_null(h);
	return h;
}

static uint64_t bucket_sum(const struct hist *h)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		n += h->bucket[i];
	return n;
}

/* low(index(v)) <= v < low(index(v) + 1), for v with a bounded bucket. */
static void check_value(uint64_t v)
{
	unsigned i = hist_index(v);

	assert_true(i < HIST_BUCKETS);
	if (v >= HIST_LIMIT) {
		assert_int_equal(i, HIST_BUCKETS - 1);
		return;
	}
	assert_true(hist_bucket_low(i) <= v);
	if (i + 1 < HIST_BUCKETS)
		assert_true(v < hist_bucket_low(i + 1));
}

static void test_index_exact_small(void **state)
{
	for (uint64_t v = 0; v < HIST_SUB; v++) {
		assert_int_equal(hist_index(v), v);
		assert_int_equal(hist_bucket_low(v), v);
	}
	/* the first log buckets are still one value wide */
	for (uint64_t v = HIST_SUB; v < 2 * HIST_SUB; v++) {
		assert_int_equal(hist_index(v), v);
		assert_int_equal(hist_bucket_low(v), v);
	}
}

static void test_index_dense(void **state)
{
	unsigned prev = 0;

	for (uint64_t v = 0; v < (1u << 20); v++) {
		unsigned i = hist_index(v);

		check_value(v);
		assert_true(i >= prev);
		assert_true(i <= prev + 1);	/* no bucket skipped */
		prev = i;
	}
}

/* Around every power of two and every sub-bucket edge up to the top. */
static void test_index_edges(void **state)
{
	for (unsigned e = 4; e <= 63; e++) {
		for (uint64_t s = 0; s < HIST_SUB; s++) {
			uint64_t v = ((uint64_t)1 << e) +
				     (s << (e - HIST_SUB_BITS));

			check_value(v - 1);
			check_value(v);
			check_value(v + 1);
			assert_true(hist_index(v - 1) <= hist_index(v));
		}
	}
	check_value(UINT64_MAX);
}

static void test_index_random_monotonic(void **state)
{
	for (unsigned k = 0; k < 200000; k++) {
		uint64_t a = rng() >> (rng() % 64), b = rng() >> (rng() % 64);

		check_value(a);
		check_value(b);
		if (a <= b)
			assert_true(hist_index(a) <= hist_index(b));
		else
			assert_true(hist_index(a) >= hist_index(b));
	}
}

/* Every bucket's low and high values map back to it, the next bucket
 * starts right after its high, lows increase, and a bucket is at most
 * 1/16 of its low value wide (the error bound). */
static void test_bucket_low_roundtrip(void **state)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		uint64_t low = hist_bucket_low(i);

		assert_int_equal(hist_index(low), i);
		assert_int_equal(hist_index(hist_bucket_high(i)), i);
		if (i + 1 < HIST_BUCKETS)
			assert_int_equal(hist_bucket_high(i) + 1,
					 hist_bucket_low(i + 1));
		else
			assert_true(hist_bucket_high(i) == UINT64_MAX);
		if (i > 0)
			assert_true(low > hist_bucket_low(i - 1));
		if (i >= HIST_SUB && i + 1 < HIST_BUCKETS)
			assert_true((hist_bucket_low(i + 1) - low) * HIST_SUB <=
				    low);
	}
	/* the last bucket starts below the limit and holds everything above */
	assert_true(hist_bucket_low(HIST_BUCKETS - 1) < HIST_LIMIT);
	assert_int_equal(hist_index(HIST_LIMIT - 1), HIST_BUCKETS - 1);
}

static void test_empty(void **state)
{
	struct hist *h = hist_new();

	assert_int_equal(hist_quantile(h, 0.0), 0);
	assert_int_equal(hist_quantile(h, 0.5), 0);
	assert_int_equal(hist_quantile(h, 0.99), 0);
	assert_int_equal(hist_quantile(h, 1.0), 0);
	assert_int_equal(hist_count_le(h, 0), 0);
	assert_int_equal(hist_count_le(h, UINT64_MAX), 0);
	free(h);
}

static void test_add(void **state)
{
	struct hist *h = hist_new(), *g = hist_new();

	hist_add(h, 1000, 5);
	for (int i = 0; i < 5; i++)
		hist_add(g, 1000, 1);
	assert_memory_equal(h, g, sizeof(*h));
	assert_int_equal(h->count, 5);
	assert_int_equal(h->sum, 5000);
	assert_int_equal(h->max, 1000);
	assert_int_equal(h->bucket[hist_index(1000)], 5);
	assert_int_equal(bucket_sum(h), 5);

	hist_add(h, 7, 2);
	hist_add(h, 0, 1);
	assert_int_equal(h->count, 8);
	assert_int_equal(h->sum, 5014);
	assert_int_equal(h->max, 1000);
	assert_int_equal(h->bucket[7], 2);
	assert_int_equal(h->bucket[0], 1);
	free(h);
	free(g);
}

static void test_snapshot(void **state)
{
	struct hist *h = hist_new(), *s = hist_new();

	for (unsigned k = 0; k < 1000; k++)
		hist_add(h, rng() % 1000000, 1 + k % 3);
	memset(s, 0xff, sizeof(*s));
	hist_snapshot(h, s);
	assert_memory_equal(h, s, sizeof(*h));
	free(h);
	free(s);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank quantile of sorted @v: the value of rank floor(q * n). */
static uint64_t exact_quantile(const uint64_t *v, size_t n, double q)
{
	size_t rank = (size_t)(q * (double)n);

	return v[rank < n ? rank : n - 1];
}

/* Add @v[0..@n) to a histogram and check many quantiles against the exact
 * ones: never below (an upper bound is reported), at most 1/16 above, never
 * above the maximum. */
static void check_quantiles(uint64_t *v, size_t n)
{
	static const double qs[] = {
		0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99,
		0.999, 0.9999, 1.0,
	};
	struct hist *h = hist_new();

	for (size_t i = 0; i < n; i++)
		hist_add(h, v[i], 1);
	qsort(v, n, sizeof(v[0]), cmp_u64);
	assert_int_equal(h->max, v[n - 1]);
	for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
		uint64_t want = exact_quantile(v, n, qs[k]);
		uint64_t got = hist_quantile(h, qs[k]);

		if (got < want || got - want > want / HIST_SUB || got > h->max)
			fail_msg("q %g: got %llu, exact %llu, max %llu", qs[k],
				 (unsigned long long)got,
				 (unsigned long long)want,
				 (unsigned long long)h->max);
	}
	free(h);
}

static void test_quantile_uniform(void **state)
{
	size_t n = 100000;
	uint64_t *v = malloc(n * sizeof(*v));

	assert_non_null(v);
	for (size_t i = 0; i < n; i++)
		v[i] = i + 1;
	check_quantiles(v, n);
	for (size_t i = 0; i < n; i++)
		v[i] = rng() % 10000000;
	check_quantiles(v, n);
	free(v);
}

/* Heavy tail over many powers of two: 2^(random 0..36) * (1 + frac). */
static void test_quantile_log(void **state)
{
	size_t n = 50000;
	uint64_t *v = malloc(n * sizeof(*v));

	assert_non_null(v);
	for (size_t i = 0; i < n; i++) {
		unsigned e = rng() % 37;

		v[i] = ((uint64_t)1 << e) + (rng() & (((uint64_t)1 << e) - 1));
	}
	check_quantiles(v, n);
	free(v);
}

/* Bimodal: 99% near 20 us, 1% near 5 ms. */
static void test_quantile_bimodal(void **state)
{
	size_t n = 20000;
	uint64_t *v = malloc(n * sizeof(*v));
	struct hist *h = hist_new();

	assert_non_null(v);
	for (size_t i = 0; i < n; i++)
		v[i] = i % 100 ? 20000 + rng() % 1000 : 5000000 + rng() % 1000;
	for (size_t i = 0; i < n; i++)
		hist_add(h, v[i], 1);
	assert_true(hist_quantile(h, 0.5) < 22000);
	assert_true(hist_quantile(h, 0.995) >= 5000000);
	check_quantiles(v, n);
	free(h);
	free(v);
}

/* One value only: every quantile is that value (clipped to max). */
static void test_quantile_constant(void **state)
{
	static const uint64_t values[] = { 0, 1, 15, 16, 17, 1000, 123456789,
					   HIST_LIMIT - 1 };

	for (size_t k = 0; k < sizeof(values) / sizeof(values[0]); k++) {
		struct hist *h = hist_new();

		hist_add(h, values[k], 1000);
		assert_int_equal(hist_quantile(h, 0), values[k]);
		assert_int_equal(hist_quantile(h, 0.5), values[k]);
		assert_int_equal(hist_quantile(h, 1), values[k]);
		free(h);
	}
}

static void test_quantile_small_exact(void **state)
{
	struct hist *h = hist_new();

	/* 0..9, ten samples each */
	for (uint64_t v = 0; v < 10; v++)
		hist_add(h, v, 10);
	assert_int_equal(hist_quantile(h, 0), 0);
	assert_int_equal(hist_quantile(h, 0.05), 0);
	assert_int_equal(hist_quantile(h, 0.1), 1);
	assert_int_equal(hist_quantile(h, 0.5), 5);
	assert_int_equal(hist_quantile(h, 0.99), 9);
	assert_int_equal(hist_quantile(h, 1), 9);
	free(h);
}

static void test_huge(void **state)
{
	static const uint64_t values[] = { HIST_LIMIT, HIST_LIMIT + 1,
					   (uint64_t)1 << 50, (uint64_t)1 << 63,
					   UINT64_MAX };
	struct hist *h = hist_new();

	for (size_t k = 0; k < sizeof(values) / sizeof(values[0]); k++)
		assert_int_equal(hist_index(values[k]), HIST_BUCKETS - 1);
	hist_add(h, 10, 99);
	hist_add(h, UINT64_MAX, 1);
	assert_int_equal(h->count, 100);
	assert_int_equal(h->max, UINT64_MAX);
	assert_int_equal(h->bucket[HIST_BUCKETS - 1], 1);
	assert_int_equal(bucket_sum(h), 100);
	assert_int_equal(hist_quantile(h, 0.5), 10);
	assert_int_equal(hist_quantile(h, 1.0), UINT64_MAX);
	assert_int_equal(hist_count_le(h, 10), 99);
	assert_int_equal(hist_count_le(h, HIST_LIMIT), 99);
	/* the top bounded bucket still counts at its upper bound */
	hist_add(h, hist_bucket_low(HIST_BUCKETS - 2), 1);
	assert_int_equal(hist_count_le(h,
			 hist_bucket_low(HIST_BUCKETS - 1) - 2), 99);
	assert_int_equal(hist_count_le(h,
			 hist_bucket_low(HIST_BUCKETS - 1) - 1), 100);
	free(h);

	/* the last bucket has no upper bound: its quantiles are the max */
	h = hist_new();
	hist_add(h, (uint64_t)1 << 45, 3);
	assert_int_equal(hist_quantile(h, 0), (uint64_t)1 << 45);
	assert_int_equal(hist_quantile(h, 1), (uint64_t)1 << 45);
	assert_int_equal(h->sum, (uint64_t)3 << 45);
	free(h);
}

static void test_merge(void **state)
{
	struct hist *a = hist_new(), *b = hist_new(), *all = hist_new();
	struct hist *zero = hist_new();

	for (unsigned k = 0; k < 5000; k++) {
		uint64_t v = rng() % 100000000;

		hist_add(k % 2 ? a : b, v, 1);
		hist_add(all, v, 1);
	}
	hist_add(b, 999999999, 1);
	hist_add(all, 999999999, 1);
	hist_merge(a, b);
	assert_int_equal(a->count, all->count);
	assert_int_equal(a->sum, all->sum);
	assert_int_equal(a->max, 999999999);
	assert_memory_equal(a->bucket, all->bucket, sizeof(a->bucket));
	assert_int_equal(hist_quantile(a, 0.5), hist_quantile(all, 0.5));
	assert_int_equal(hist_quantile(a, 0.99), hist_quantile(all, 0.99));

	/* merging an empty one changes nothing; into an empty one copies */
	hist_merge(a, zero);
	assert_memory_equal(a, all, sizeof(*a));
	hist_merge(zero, all);
	assert_memory_equal(zero, all, sizeof(*a));
	free(a);
	free(b);
	free(all);
	free(zero);
}

static void test_count_le(void **state)
{
	struct hist *h = hist_new();
	uint64_t prev = 0;

	for (uint64_t v = 0; v < 16; v++)
		hist_add(h, v, v + 1);	/* v appears v + 1 times */
	for (uint64_t v = 0; v < 16; v++)
		assert_int_equal(hist_count_le(h, v), (v + 1) * (v + 2) / 2);

	hist_add(h, 1000, 10);
	hist_add(h, 1000000, 10);
	/* exact at bucket upper bounds, which is what le= buckets use */
	assert_int_equal(hist_count_le(h, hist_bucket_low(hist_index(1000) + 1)
				       - 1), 136 + 10);
	assert_int_equal(hist_count_le(h, hist_bucket_low(hist_index(1000))
				       - 1), 136);
	assert_int_equal(hist_count_le(h, 999999), 146);
	assert_int_equal(hist_count_le(h, hist_bucket_low(hist_index(1000000)
						       + 1) - 1), 156);

	/* monotonic and never above count, from 0 to the top */
	for (uint64_t v = 0; v < HIST_LIMIT; v = v * 9 / 8 + 1) {
		uint64_t n = hist_count_le(h, v);

		assert_true(n >= prev);
		assert_true(n <= h->count);
		prev = n;
	}
	assert_int_equal(prev, h->count);
	free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_index_exact_small),
		cmocka_unit_test(test_index_dense),
		cmocka_unit_test(test_index_edges),
		cmocka_unit_test(test_index_random_monotonic),
		cmocka_unit_test(test_bucket_low_roundtrip),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_add),
		cmocka_unit_test(test_snapshot),
		cmocka_unit_test(test_quantile_uniform),
		cmocka_unit_test(test_quantile_log),
		cmocka_unit_test(test_quantile_bimodal),
		cmocka_unit_test(test_quantile_constant),
		cmocka_unit_test(test_quantile_small_exact),
		cmocka_unit_test(test_huge),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_count_le),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
