/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench-flowtable.c - flow table micro-benchmarks, one JSON object per line.
 *
 * For 10^4, 10^5 and 10^6 flows: inserts/s (1 and 2 threads), lookups/s for
 * hits and misses with 1 and 2 threads, the same lookups on a baseline
 * (chained hash table behind a pthread rwlock), bytes of memory per flow
 * (RSS delta over the filled table), and the cost of the per-packet counter
 * update (relaxed atomics on the record vs per-thread counters).
 *
 * Keys are uniformly random over the flow set (worst case for caches). Each
 * measurement runs NFQE_BENCH_MS milliseconds (default 400).
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <urcu-qsbr.h>

#include "flowtable.h"

#define NS		1000000000ull
#define MAX_THREADS	2
#define BURST		64

static uint64_t bench_ns = 400000000ull;

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NS + ts.tv_nsec;
}

static uint64_t rng_next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Flow number @i as a UDP key; @miss: a key that is never inserted. */
static void key_of(uint32_t i, bool miss, struct flow_key *key, int *side)
{
	uint8_t a[4] = { 10, i >> 16, i >> 8, i };
	uint8_t b[4] = { 172, 16, 0, 1 };

	flow_key_make(key, AF_INET, IPPROTO_UDP, a, b, 1024 + (i & 0x7fff), 53,
		      miss ? 1 : 0, side);
}

/*
 * The same key patched into a template, so that the lookup loops measure the
 * table and not flow_key_make() (a worker builds its key once per packet
 * anyway). 10.x.x.x is always the lower endpoint: side is FLOW_SIDE_LO.
 * main() checks that both agree.
 */
static struct flow_key key_template[2];

static void key_fast(uint32_t i, bool miss, struct flow_key *key)
{
	*key = key_template[miss];
	key->addr[0][1] = i >> 16;
	key->addr[0][2] = i >> 8;
	key->addr[0][3] = i;
	key->port[0] = 1024 + (i & 0x7fff);
}

static void key_fast_init(void)
{
	struct flow_key key;
	int side;

	for (int miss = 0; miss < 2; miss++)
		key_of(0, miss, &key_template[miss], &side);
	for (uint32_t i = 0; i < 1000000; i += 7919) {
		key_of(i, true, &key_template[0], &side);
		key_fast(i, true, &key);
		if (memcmp(&key, &key_template[0], sizeof(key)) ||
		    side != FLOW_SIDE_LO) {
			fprintf(stderr, "key template mismatch\n");
			exit(1);
		}
	}
	key_of(0, false, &key_template[0], &side);
}

static long rss_bytes(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return 0;
	if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
		resident = 0;
	fclose(f);
	return resident * sysconf(_SC_PAGESIZE);
}

/* Baseline: chained hash table, one pthread rwlock. */
struct rw_node {
	struct flow_key key;
	struct rw_node *next;
};

struct rw_table {
	pthread_rwlock_t lock;
	struct rw_node **buckets;
	uint64_t mask;
};

static uint64_t mum(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;

	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* the same multiply-fold hash as the flow table, fixed secret */
static uint64_t rw_hash(const struct flow_key *key)
{
	uint64_t w[6] = { 0 };

	memcpy(w, key, sizeof(*key));
	return mum(mum(w[0] ^ 0x9e37, w[1] ^ 0x79b9) ^ w[2],
		   mum(w[3] ^ w[4], w[5] ^ 0x7f4a));
}

static struct rw_table *rw_new(uint32_t n)
{
	struct rw_table *t = calloc(1, sizeof(*t));
	uint64_t size = 1;

	while (size < n)
		size <<= 1;
	t->buckets = calloc(size, sizeof(*t->buckets));
	t->mask = size - 1;
	pthread_rwlock_init(&t->lock, NULL);
	return t;
}

static void rw_add(struct rw_table *t, const struct flow_key *key)
{
	struct rw_node *node = malloc(sizeof(*node));
	uint64_t b = rw_hash(key) & t->mask;

	node->key = *key;
	pthread_rwlock_wrlock(&t->lock);
	node->next = t->buckets[b];
	t->buckets[b] = node;
	pthread_rwlock_unlock(&t->lock);
}

static bool rw_lookup(struct rw_table *t, const struct flow_key *key)
{
	struct rw_node *node;
	bool found = false;

	pthread_rwlock_rdlock(&t->lock);
	for (node = t->buckets[rw_hash(key) & t->mask]; node; node = node->next) {
		if (!memcmp(&node->key, key, sizeof(*key))) {
			found = true;
			break;
		}
	}
	pthread_rwlock_unlock(&t->lock);
	return found;
}

static void rw_free(struct rw_table *t)
{
	for (uint64_t b = 0; b <= t->mask; b++) {
		struct rw_node *node = t->buckets[b], *next;

		for (; node; node = next) {
			next = node->next;
			free(node);
		}
	}
	free(t->buckets);
	pthread_rwlock_destroy(&t->lock);
	free(t);
}

enum op {
	OP_FT_HIT,
	OP_FT_MISS,
	OP_RW_HIT,
	OP_RW_MISS,
	OP_FT_INSERT,
	OP_CNT_ATOMIC,
	OP_CNT_PERTHREAD,
};

struct run {
	enum op op;
	bool hot;			/* 90% of lookups on 1% of the flows */
	struct flowtable *ft;
	struct rw_table *rw;
	struct flow *flows[MAX_THREADS];	/* counter runs */
	uint32_t n;
	unsigned int threads;
	pthread_barrier_t start;
};

struct worker {
	pthread_t tid;
	struct run *run;
	unsigned int id;
	uint64_t ops;
	uint64_t found;
	uint64_t ns;
	uint64_t counters[2] __attribute__((aligned(64)));
};

static bool run_one(struct run *r, struct worker *w, uint64_t *rng,
		    uint64_t now)
{
	uint64_t x = rng_next(rng);
	uint32_t i = x % r->n;
	struct flow_key key;

	if (r->hot && (x >> 40) % 10)
		i = (x >> 8) % (r->n / 100);
	switch (r->op) {
	case OP_FT_HIT:
	case OP_FT_MISS:
		key_fast(i, r->op == OP_FT_MISS, &key);
		return flowtable_lookup(r->ft, &key, FLOW_SIDE_LO, NULL);
	case OP_RW_HIT:
	case OP_RW_MISS:
		key_fast(i, r->op == OP_RW_MISS, &key);
		return rw_lookup(r->rw, &key);
	case OP_CNT_ATOMIC:
		flow_update(r->flows[w->id], FLOW_DIR_ORIG, 100, 0, now);
		return true;
	case OP_CNT_PERTHREAD:
		w->counters[0]++;
		w->counters[1] += 100;
		__asm__ volatile("" ::: "memory");
		return true;
	default:
		return false;
	}
}

/* Timed loop: bursts of BURST ops, a quiescent state after each. */
static void *worker_timed(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->run;
	uint64_t rng = 0x2545f4914f6cdd1dull * (w->id + 1);
	uint64_t start, end;

	rcu_register_thread();
	pthread_barrier_wait(&r->start);
	start = mono_ns();
	end = start + bench_ns;
	do {
		for (int k = 0; k < BURST; k++)
			w->found += run_one(r, w, &rng, start);
		w->ops += BURST;
		rcu_quiescent_state();
	} while (mono_ns() < end);
	w->ns = mono_ns() - start;
	rcu_unregister_thread();
	return NULL;
}

/* Insert flows [id * n / threads, (id + 1) * n / threads) once. */
static void *worker_insert(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->run;
	uint32_t first = (uint64_t)r->n * w->id / r->threads;
	uint32_t last = (uint64_t)r->n * (w->id + 1) / r->threads;
	struct flow_key key;
	uint64_t start;
	int side;

	rcu_register_thread();
	pthread_barrier_wait(&r->start);
	start = mono_ns();
	for (uint32_t i = first; i < last; i++) {
		key_of(i, false, &key, &side);
		if (flowtable_lookup_or_add(r->ft, &key, side, start, NULL,
					    NULL))
			w->found++;
		w->ops++;
		if (!(i % BURST))
			rcu_quiescent_state();
	}
	w->ns = mono_ns() - start;
	rcu_unregister_thread();
	return NULL;
}

static const char *op_name(enum op op)
{
	static const char *const names[] = {
		[OP_FT_HIT] = "\"lookup_hit\", \"table\": \"flowtable\"",
		[OP_FT_MISS] = "\"lookup_miss\", \"table\": \"flowtable\"",
		[OP_RW_HIT] = "\"lookup_hit\", \"table\": \"rwlock\"",
		[OP_RW_MISS] = "\"lookup_miss\", \"table\": \"rwlock\"",
		[OP_FT_INSERT] = "\"insert\", \"table\": \"flowtable\"",
		[OP_CNT_ATOMIC] = "\"counter_update\", \"table\": \"atomic\"",
		[OP_CNT_PERTHREAD] =
			"\"counter_update\", \"table\": \"per_thread\"",
	};

	return names[op];
}

/* Run @r on its threads and print one line; return total ops/s. */
static double run_print(struct run *r, const char *extra)
{
	struct worker w[MAX_THREADS];
	uint64_t ops = 0, found = 0, ns = 0;
	double mops;

	pthread_barrier_init(&r->start, NULL, r->threads);
	rcu_thread_offline();
	for (unsigned int t = 0; t < r->threads; t++) {
		w[t] = (struct worker) { .run = r, .id = t };
		pthread_create(&w[t].tid, NULL,
			       r->op == OP_FT_INSERT ? worker_insert :
						       worker_timed, &w[t]);
	}
	for (unsigned int t = 0; t < r->threads; t++) {
		pthread_join(w[t].tid, NULL);
		ops += w[t].ops;
		found += w[t].found;
		ns = w[t].ns > ns ? w[t].ns : ns;
	}
	rcu_thread_online();
	pthread_barrier_destroy(&r->start);
	mops = ops * 1e3 / (ns ? ns : 1);
	printf("{\"bench\": %s%s, \"flows\": %u, \"threads\": %u, "
	       "\"mops\": %.2f, \"mops_per_thread\": %.2f, "
	       "\"ns_per_op\": %.1f, \"found\": %lu%s}\n",
	       op_name(r->op), r->hot ? ", \"keys\": \"hot\"" : "", r->n,
	       r->threads, mops, mops / r->threads,
	       r->threads * 1e3 / (mops ? mops : 1), found, extra);
	fflush(stdout);
	return mops;
}

static struct flowtable *ft_new(uint32_t n)
{
	struct flowtable_params params;
	struct flowtable *ft;

	flowtable_params_init(&params);
	params.flow_max = n;
	ft = flowtable_new(&params);
	if (!ft) {
		fprintf(stderr, "flowtable_new: %s\n", strerror(errno));
		exit(1);
	}
	return ft;
}

static void bench_inserts(uint32_t n, unsigned int threads)
{
	struct run r = {
		.op = OP_FT_INSERT, .n = n, .threads = threads,
	};

	r.ft = ft_new(n);
	run_print(&r, "");
	flowtable_free(r.ft);
}

static void bench_memory(struct flowtable *ft, uint32_t n, long rss_before)
{
	struct flowtable_stats st;
	uint64_t buckets = 1;
	long rss = rss_bytes() - rss_before;

	while (buckets < n)
		buckets <<= 1;
	flowtable_stats_get(ft, &st);
	printf("{\"bench\": \"memory\", \"table\": \"flowtable\", "
	       "\"flows\": %lu, \"rss_bytes_per_flow\": %.1f, "
	       "\"record_bytes\": %lu, \"bucket_bytes_per_flow\": %.1f, "
	       "\"model_bytes_per_flow\": %.1f}\n", st.live,
	       (double)rss / st.live, st.record_bytes,
	       16.0 * buckets / st.live,
	       st.record_bytes + 16.0 * buckets / st.live);
}

static void bench_lookups(struct run *r, enum op hit, enum op miss,
			  double *ret_hit2)
{
	for (unsigned int t = 1; t <= MAX_THREADS; t++) {
		r->threads = t;
		r->op = hit;
		if (t == 2)
			*ret_hit2 = run_print(r, "");
		else
			run_print(r, "");
		r->op = miss;
		run_print(r, "");
	}
	if (r->n < 1000000)
		return;
	/* a skewed mix: 90% of the lookups on 1% of the flows */
	r->hot = true;
	r->op = hit;
	for (r->threads = 1; r->threads <= MAX_THREADS; r->threads++)
		run_print(r, "");
	r->hot = false;
}

static void bench_size(uint32_t n)
{
	struct run r = { .n = n };
	double ft2 = 0, rw2 = 0;
	struct flow_key key;
	long rss_before;
	char extra[64];
	int side;

	bench_inserts(n, 1);
	bench_inserts(n, 2);

	rss_before = rss_bytes();
	r.ft = ft_new(n);
	for (uint32_t i = 0; i < n; i++) {
		key_of(i, false, &key, &side);
		flowtable_lookup_or_add(r.ft, &key, side, 0, NULL, NULL);
		if (!(i % BURST))
			rcu_quiescent_state();
	}
	bench_memory(r.ft, n, rss_before);
	bench_lookups(&r, OP_FT_HIT, OP_FT_MISS, &ft2);
	flowtable_free(r.ft);

	r.rw = rw_new(n);
	for (uint32_t i = 0; i < n; i++) {
		key_of(i, false, &key, &side);
		rw_add(r.rw, &key);
	}
	bench_lookups(&r, OP_RW_HIT, OP_RW_MISS, &rw2);
	rw_free(r.rw);

	snprintf(extra, sizeof(extra), "%.2f", rw2 ? ft2 / rw2 : 0);
	printf("{\"bench\": \"speedup_2_threads\", \"flows\": %u, "
	       "\"flowtable_over_rwlock\": %s}\n", n, extra);
}

/* Per-packet counter update: on one shared record, distinct records, or
 * per-thread counters (what per-CPU counters would cost at best). */
static void bench_counters(void)
{
	struct run r = { .n = 2 };
	struct flow_key key;
	int side;

	r.ft = ft_new(16);
	for (int i = 0; i < 2; i++) {
		key_of(i, false, &key, &side);
		r.flows[i] = flowtable_lookup_or_add(r.ft, &key, side, 0, NULL,
						     NULL);
	}
	r.op = OP_CNT_ATOMIC;
	r.threads = 1;
	run_print(&r, ", \"records\": \"own\"");
	r.threads = 2;
	run_print(&r, ", \"records\": \"own\"");
	r.flows[1] = r.flows[0];
	run_print(&r, ", \"records\": \"shared\"");
	r.op = OP_CNT_PERTHREAD;
	r.threads = 1;
	run_print(&r, "");
	r.threads = 2;
	run_print(&r, "");
	flowtable_free(r.ft);
}

int main(int argc, char **argv)
{
	static const uint32_t sizes[] = { 10000, 100000, 1000000 };
	const char *ms = getenv("NFQE_BENCH_MS");

	if (ms && atoi(ms) > 0)
		bench_ns = atoi(ms) * 1000000ull;
	key_fast_init();
	rcu_register_thread();
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		bench_size(sizes[i]);
	bench_counters();
	rcu_unregister_thread();
	return 0;
}
