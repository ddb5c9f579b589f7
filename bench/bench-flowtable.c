/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * bench-flowtable.c - flow table micro-benchmarks, one JSON object per line.
 *
 * For each table size (NFQE_BENCH_FLOWS, a comma-separated list, default
 * 10000,100000,1000000):
 *
 *   insert	flowtable_lookup_or_add() of every flow, 1 and 2 threads.
 *   memory	resident bytes per flow of a filled table (records, buckets,
 *		allocator), and how much of it is on transparent huge pages.
 *   lookup	flowtable_lookup() of existing flows ("hit") and of absent
 *		ones ("miss"), 1 and 2 threads, with keys drawn uniformly
 *		(the strict case: nearly every lookup misses the caches) or
 *		from a Zipf distribution (s = 0.99, the popular flows spread
 *		over the table), on a table created for all its flows and on
 *		one grown from 4096 buckets as the engine creates it.
 *   burst	flowtable_lookup_burst() over bursts of 32 keys.
 *   rwlock	the same lookups on a baseline: chained hash table behind one
 *		pthread_rwlock_t, with the flow table's hash and secret, 160
 *		byte records holding the key first, the same record allocator
 *		and one bucket per flow.
 *
 * then the per-packet counter update (relaxed atomics on the record vs per
 * thread counters) and a "targets" line per size. Every thread replays its
 * own precomputed key index sequence, so the key generator costs the same
 * for every table. Each timed run lasts NFQE_BENCH_MS (default 400) ms.
 */
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <urcu-qsbr.h>

#include "flowtable-internal.h"

#define NS		1000000000ull
#define MAX_THREADS	2
#define BURST		32
#define SEQ_LEN		(1u << 20)	/* key indexes per thread */
#define ZIPF_S		0.99
#define GROWN_BUCKETS	4096
#define RECORD_SIZE	160

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
	struct flow_key key, want;
	int side;

	for (int miss = 0; miss < 2; miss++)
		key_of(0, miss, &key_template[miss], &side);
	for (uint32_t i = 0; i < 1000000; i += 7919) {
		for (int miss = 0; miss < 2; miss++) {
			key_of(i, miss, &want, &side);
			key_fast(i, miss, &key);
			if (memcmp(&key, &want, sizeof(key)) ||
			    side != FLOW_SIDE_LO) {
				fprintf(stderr, "key template mismatch\n");
				exit(1);
			}
		}
	}
}

static void proc_kb(const char *file, const char *field, long *ret)
{
	size_t len = strlen(field);
	char line[256];
	FILE *f = fopen(file, "r");

	*ret = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, field, len) && line[len] == ':') {
			*ret = atol(line + len + 1) * 1024;
			break;
		}
	}
	fclose(f);
}

/* Key index sequences: uniform, or Zipf with scattered popular flows. */
enum keys { KEYS_UNIFORM, KEYS_ZIPF, KEYS_MAX };

static const char *const keys_name[] = { "uniform", "zipf" };

static uint32_t *seq[KEYS_MAX][MAX_THREADS];

static void seq_fill(uint32_t n)
{
	double *cdf = malloc(n * sizeof(*cdf)), sum = 0;

	if (!cdf)
		exit(1);
	for (uint32_t r = 0; r < n; r++)
		cdf[r] = sum += 1 / pow(r + 1, ZIPF_S);
	for (unsigned int t = 0; t < MAX_THREADS; t++) {
		uint64_t rng = 0x2545f4914f6cdd1dull * (t + 1);

		for (int k = 0; k < KEYS_MAX; k++) {
			free(seq[k][t]);
			seq[k][t] = malloc(SEQ_LEN * sizeof(uint32_t));
			if (!seq[k][t])
				exit(1);
		}
		for (uint32_t j = 0; j < SEQ_LEN; j++) {
			double u = (rng_next(&rng) >> 11) * 0x1p-53 * sum;
			uint32_t lo = 0, hi = n - 1;

			seq[KEYS_UNIFORM][t][j] = rng_next(&rng) % n;
			while (lo < hi) {
				uint32_t mid = lo + (hi - lo) / 2;

				if (cdf[mid] < u)
					lo = mid + 1;
				else
					hi = mid;
			}
			/* rank -> flow: popular flows are not neighbours */
			seq[KEYS_ZIPF][t][j] = lo * 2654435761ull % n;
		}
	}
	free(cdf);
}

/* Baseline: chained hash table, one pthread rwlock, flow-sized records. */
struct rw_node {
	struct flow_key key;
	struct rw_node *next;
	uint8_t payload[RECORD_SIZE - 56];	/* counters, times, decision */
};

_Static_assert(sizeof(struct rw_node) == RECORD_SIZE, "baseline record");

struct rw_table {
	pthread_rwlock_t lock;
	struct rw_node **buckets;
	struct ft_arena *arena;
	uint64_t secret[4];
	uint64_t mask;
};

static struct rw_table *rw_new(uint32_t n)
{
	struct rw_table *t = calloc(1, sizeof(*t));
	uint64_t size = 1;

	while (size < n)
		size <<= 1;
	t->buckets = calloc(size, sizeof(*t->buckets));
	/* the flow table's allocator (records_max as for flow_max n) */
	t->arena = ft_arena_new(sizeof(struct rw_node), n + n / 8 + 64);
	if (!t->buckets || !t->arena)
		exit(1);
	ft_secret_init(t->secret, 0x5eed);
	t->mask = size - 1;
	pthread_rwlock_init(&t->lock, NULL);
	return t;
}

static void rw_add(struct rw_table *t, const struct flow_key *key)
{
	struct rw_node *node = ft_arena_get(t->arena);
	uint64_t b = ft_key_hash(t->secret, key) & t->mask;

	memset(node, 0, sizeof(*node));
	node->key = *key;
	pthread_rwlock_wrlock(&t->lock);
	node->next = t->buckets[b];
	t->buckets[b] = node;
	pthread_rwlock_unlock(&t->lock);
}

static bool rw_lookup(struct rw_table *t, const struct flow_key *key)
{
	uint64_t b = ft_key_hash(t->secret, key) & t->mask;
	struct rw_node *node;
	bool found = false;

	pthread_rwlock_rdlock(&t->lock);
	for (node = t->buckets[b]; node; node = node->next) {
		if (ft_key_equal(&node->key, key)) {
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
			ft_arena_put(t->arena, node);
		}
	}
	ft_arena_free(t->arena);
	free(t->buckets);
	pthread_rwlock_destroy(&t->lock);
	free(t);
}

enum op {
	OP_FT_HIT,
	OP_FT_MISS,
	OP_FT_BURST,
	OP_RW_HIT,
	OP_RW_MISS,
	OP_FT_INSERT,
	OP_CNT_ATOMIC,
	OP_CNT_PERTHREAD,
};

struct run {
	enum op op;
	enum keys keys;
	const char *table;		/* printed name */
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

/* One burst of BURST operations starting at @pos of the sequence. */
static uint64_t run_burst(struct run *r, struct worker *w, uint32_t pos,
			  uint64_t now)
{
	const uint32_t *s = seq[r->keys][w->id] + pos;
	bool miss = r->op == OP_FT_MISS || r->op == OP_RW_MISS;
	struct flow_key keys[BURST];
	struct flow *flows[BURST];
	uint64_t found = 0;
	int sides[BURST];

	switch (r->op) {
	case OP_FT_HIT:
	case OP_FT_MISS:
		for (int k = 0; k < BURST; k++) {
			key_fast(s[k], miss, &keys[0]);
			found += !!flowtable_lookup(r->ft, &keys[0],
						    FLOW_SIDE_LO, NULL);
		}
		return found;
	case OP_FT_BURST:
		for (int k = 0; k < BURST; k++) {
			key_fast(s[k], false, &keys[k]);
			sides[k] = FLOW_SIDE_LO;
		}
		return flowtable_lookup_burst(r->ft, keys, sides, BURST, flows,
					      NULL);
	case OP_RW_HIT:
	case OP_RW_MISS:
		for (int k = 0; k < BURST; k++) {
			key_fast(s[k], miss, &keys[0]);
			found += rw_lookup(r->rw, &keys[0]);
		}
		return found;
	case OP_CNT_ATOMIC:
		for (int k = 0; k < BURST; k++)
			flow_update(r->flows[w->id], FLOW_DIR_ORIG, 100, 0, now);
		return BURST;
	case OP_CNT_PERTHREAD:
		for (int k = 0; k < BURST; k++) {
			w->counters[0]++;
			w->counters[1] += 100;
			__asm__ volatile("" ::: "memory");
		}
		return BURST;
	default:
		return 0;
	}
}

/* Timed loop: bursts of BURST ops, a quiescent state after each. */
static void *worker_timed(void *arg)
{
	struct worker *w = arg;
	struct run *r = w->run;
	uint64_t start, end;
	uint32_t pos = 0;

	rcu_register_thread();
	pthread_barrier_wait(&r->start);
	start = mono_ns();
	end = start + bench_ns;
	do {
		w->found += run_burst(r, w, pos, start);
		pos = (pos + BURST) % SEQ_LEN;
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
		[OP_FT_HIT] = "lookup_hit",
		[OP_FT_MISS] = "lookup_miss",
		[OP_FT_BURST] = "lookup_burst_hit",
		[OP_RW_HIT] = "lookup_hit",
		[OP_RW_MISS] = "lookup_miss",
		[OP_FT_INSERT] = "insert",
		[OP_CNT_ATOMIC] = "counter_update",
		[OP_CNT_PERTHREAD] = "counter_update",
	};

	return names[op];
}

/* Run @r on its threads and print one line; return ops/s per thread. */
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
	printf("{\"bench\": \"%s\", \"table\": \"%s\", \"keys\": \"%s\", "
	       "\"flows\": %u, \"threads\": %u, \"mops\": %.2f, "
	       "\"mops_per_thread\": %.2f, \"ns_per_op\": %.1f, "
	       "\"found\": %lu%s}\n",
	       op_name(r->op), r->table, keys_name[r->keys], r->n, r->threads,
	       mops, mops / r->threads, r->threads * 1e3 / (mops ? mops : 1),
	       found, extra);
	fflush(stdout);
	return mops / r->threads;
}

static struct flowtable *ft_new(uint32_t n, uint32_t buckets)
{
	struct flowtable_params params;
	struct flowtable *ft;

	flowtable_params_init(&params);
	params.flow_max = n;
	params.buckets = buckets;
	ft = flowtable_new(&params);
	if (!ft) {
		fprintf(stderr, "flowtable_new: %s\n", strerror(errno));
		exit(1);
	}
	return ft;
}

/* Fill @ft with flows [0, n) and let queued resizes finish. */
static void ft_fill(struct flowtable *ft, uint32_t n)
{
	struct flow_key key;
	int side;

	for (uint32_t i = 0; i < n; i++) {
		key_of(i, false, &key, &side);
		flowtable_lookup_or_add(ft, &key, side, 0, NULL, NULL);
		if (!(i % BURST))
			rcu_quiescent_state();
	}
	rcu_thread_offline();
	rcu_barrier();
	rcu_thread_online();
}

static void bench_inserts(uint32_t n, unsigned int threads)
{
	struct run r = {
		.op = OP_FT_INSERT, .n = n, .threads = threads,
		.table = "flowtable",
	};

	r.ft = ft_new(n, 0);
	run_print(&r, "");
	flowtable_free(r.ft);
}

/* Fill a table grown from GROWN_BUCKETS and print its memory footprint. */
static double bench_memory(uint32_t n, struct flowtable **ret)
{
	long rss0, rss1, huge0, huge1;
	struct flowtable_stats st;
	struct flowtable *ft;
	uint64_t buckets;
	double per_flow;

	proc_kb("/proc/self/smaps_rollup", "Rss", &rss0);
	proc_kb("/proc/self/smaps_rollup", "AnonHugePages", &huge0);
	ft = ft_new(n, GROWN_BUCKETS);
	ft_fill(ft, n);
	proc_kb("/proc/self/smaps_rollup", "Rss", &rss1);
	proc_kb("/proc/self/smaps_rollup", "AnonHugePages", &huge1);
	flowtable_stats_get(ft, &st);
	buckets = __atomic_load_n(&ft->buckets, __ATOMIC_RELAXED);
	per_flow = (double)(rss1 - rss0) / st.live;
	/* model: a record, and per bucket its 16-byte node and 8-byte hint */
	printf("{\"bench\": \"memory\", \"table\": \"flowtable\", "
	       "\"flows\": %lu, \"buckets\": %lu, \"rss_bytes_per_flow\": %.1f, "
	       "\"huge_page_bytes_per_flow\": %.1f, \"record_bytes\": %lu, "
	       "\"model_bytes_per_flow\": %.1f}\n", st.live, buckets, per_flow,
	       (double)(huge1 - huge0) / st.live, st.record_bytes,
	       st.record_bytes + 24.0 * buckets / st.live);
	*ret = ft;
	return per_flow;
}

struct result {
	double ft[KEYS_MAX][MAX_THREADS + 1];	/* hit, per thread */
	double burst[KEYS_MAX][MAX_THREADS + 1];
	double rw[KEYS_MAX][MAX_THREADS + 1];
	double bytes;
};

static void bench_lookups(struct run *r, enum op hit, enum op miss,
			  double res[KEYS_MAX][MAX_THREADS + 1])
{
	for (r->threads = 1; r->threads <= MAX_THREADS; r->threads++) {
		for (r->keys = 0; r->keys < KEYS_MAX; r->keys++) {
			r->op = hit;
			res[r->keys][r->threads] = run_print(r, "");
		}
		if (miss != hit) {
			r->keys = KEYS_UNIFORM;
			r->op = miss;
			run_print(r, "");
		}
	}
}

static void print_targets(uint32_t n, const struct result *res)
{
	for (int k = 0; k < KEYS_MAX; k++) {
		double one = res->ft[k][1] > res->burst[k][1] ?
			     res->ft[k][1] : res->burst[k][1];
		double two = res->ft[k][2] > res->burst[k][2] ?
			     res->ft[k][2] : res->burst[k][2];

		printf("{\"bench\": \"targets\", \"flows\": %u, \"keys\": "
		       "\"%s\", \"lookup_mops_per_core\": %.2f, "
		       "\"lookup_mops_per_core_2_threads\": %.2f, "
		       "\"over_rwlock_2_threads\": %.2f, "
		       "\"over_rwlock_2_threads_single\": %.2f, "
		       "\"bytes_per_flow\": %.1f}\n",
		       n, keys_name[k], one, two, two / res->rw[k][2],
		       res->ft[k][2] / res->rw[k][2], res->bytes);
	}
	fflush(stdout);
}

static void bench_size(uint32_t n)
{
	struct result res = { 0 };
	struct run r = { .n = n };
	struct flow_key key;
	int side;

	seq_fill(n);
	bench_inserts(n, 1);
	bench_inserts(n, 2);

	/* the engine's table: created small, grown by its flows */
	res.bytes = bench_memory(n, &r.ft);
	r.table = "flowtable";
	bench_lookups(&r, OP_FT_HIT, OP_FT_MISS, res.ft);
	r.table = "flowtable_burst";
	bench_lookups(&r, OP_FT_BURST, OP_FT_BURST, res.burst);
	flowtable_free(r.ft);

	/* created with one bucket per flow from the start */
	r.ft = ft_new(n, 0);
	ft_fill(r.ft, n);
	r.table = "flowtable_presized";
	r.keys = KEYS_UNIFORM;
	r.op = OP_FT_HIT;
	for (r.threads = 1; r.threads <= MAX_THREADS; r.threads++)
		run_print(&r, "");
	flowtable_free(r.ft);
	r.ft = NULL;

	r.rw = rw_new(n);
	for (uint32_t i = 0; i < n; i++) {
		key_of(i, false, &key, &side);
		rw_add(r.rw, &key);
	}
	r.table = "rwlock";
	bench_lookups(&r, OP_RW_HIT, OP_RW_MISS, res.rw);
	rw_free(r.rw);

	print_targets(n, &res);
}

/* Per-packet counter update: on one shared record, distinct records, or
 * per-thread counters (what per-CPU counters would cost at best). */
static void bench_counters(void)
{
	struct run r = { .n = 2, .table = "atomic" };
	struct flow_key key;
	int side;

	r.ft = ft_new(16, 0);
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
	r.table = "per_thread";
	r.threads = 1;
	run_print(&r, "");
	r.threads = 2;
	run_print(&r, "");
	flowtable_free(r.ft);
}

int main(void)
{
	const char *ms = getenv("NFQE_BENCH_MS");
	const char *sizes = getenv("NFQE_BENCH_FLOWS");
	char *end;

	if (ms && atoi(ms) > 0)
		bench_ns = atoi(ms) * 1000000ull;
	if (!sizes || !*sizes)
		sizes = "10000,100000,1000000";
	key_fast_init();
	rcu_register_thread();
	for (;;) {
		unsigned long n = strtoul(sizes, &end, 10);

		if (end == sizes || n < 100 || n > 1u << 26) {
			fprintf(stderr, "NFQE_BENCH_FLOWS: bad size list\n");
			return 1;
		}
		bench_size(n);
		if (*end != ',')
			break;
		sizes = end + 1;
	}
	bench_counters();
	rcu_unregister_thread();
	return 0;
}
