/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * stress-flowtable.c - several threads hammer one flow table with a mix of
 * lookup-or-add, update, lookup, burst lookup, delete, decision caching,
 * slots and reaping (the table resizing meanwhile)
 * under a fast virtual clock (so flows expire), the table at its cap.
 * Afterwards every counter must agree with a full walk, every record must be
 * freed exactly once and every slot freed exactly once.
 *
 * Environment: NFQE_STRESS_SECONDS (default 5), NFQE_STRESS_THREADS (2..8,
 * default 4), NFQE_STRESS_FLOWS (key space, 100000..1000000, default 200000).
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "flowtable-internal.h"

#define NS		1000000000ull
#define VCLOCK_SPEEDUP	100	/* virtual seconds per real second */
#define SLOT_MAGIC	0x5107f10eu
#define SLOT_DEAD	0xdeadu
#define HOT_KEYS	64
#define BURST_KEYS	20	/* more than one prefetch step */
#define SMALL_FLOW_MAX	256	/* the table worker_full_miss() fills */

/* TSan builds: liburcu's internal false positives, see tests/tsan.supp */
const char *__tsan_default_options(void);

const char *__tsan_default_options(void)
{
	return "suppressions=" FT_TSAN_SUPP;
}

#define check(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n",		\
			__FILE__, __LINE__, #cond);			\
		abort();						\
	}								\
} while (0)

struct stress {
	struct flowtable *ft;
	struct flowtable *small;	/* always full: worker_full_miss() */
	unsigned int flows;
	uint64_t start_ns;
	uint64_t end_ns;
	uint64_t slots_set;
	uint64_t slots_freed;
	uint64_t ops;
	uint64_t lost_checks;
};

struct slot {
	uint32_t magic;
	uint32_t index;
};

struct worker {
	pthread_t tid;
	struct stress *stress;
	uint64_t rng;
	uint64_t ops;
	uint64_t lost_checks;
	uint64_t slots_set;
	uint64_t bursts;
	unsigned int index;
	unsigned int fresh;	/* keys used in the small table */
	uint64_t full_misses;	/* inserts the full table refused */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NS + ts.tv_nsec;
}

static uint64_t vclock(const struct stress *s)
{
	return (mono_ns() - s->start_ns) * VCLOCK_SPEEDUP;
}

static uint64_t rng_next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static unsigned int env_uint(const char *name, unsigned int def,
			     unsigned int min, unsigned int max)
{
	const char *v = getenv(name);
	unsigned long n;

	if (!v || !*v)
		return def;
	n = strtoul(v, NULL, 10);
	if (n < min)
		return min;
	return n > max ? max : n;
}

static void slot_free(void *p, void *arg)
{
	struct stress *s = arg;
	struct slot *slot = p;

	check(slot->magic == SLOT_MAGIC);
	slot->magic = SLOT_DEAD;
	__atomic_fetch_add(&s->slots_freed, 1, __ATOMIC_RELAXED);
	free(slot);
}

/* Key number @i, from one side or the other. */
static void key_build(unsigned int i, bool reverse, struct flow_key *key,
		      int *side, uint8_t *proto)
{
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP,
					  IPPROTO_ICMP, IPPROTO_GRE };
	uint8_t a[4] = { 10, i >> 16, i >> 8, i };
	uint8_t b[4] = { 10, 200, 0, 1 + i % 7 };
	uint16_t pa = 1024 + i % 50000, pb = 80;
	int err;

	*proto = protos[i % 4];
	if (*proto == IPPROTO_ICMP) {
		pa = i & 0xffff;
		pb = reverse ? 0 : 8 << 8;
	}
	if (!reverse)
		err = flow_key_make(key, AF_INET, *proto, a, b, pa, pb, 0, side);
	else if (*proto == IPPROTO_ICMP)
		err = flow_key_make(key, AF_INET, *proto, b, a, pa, pb, 0, side);
	else
		err = flow_key_make(key, AF_INET, *proto, b, a, pb, pa, 0, side);
	check(err == 0);
}

static void worker_decide(struct worker *w, struct flow *flow, unsigned int i)
{
	const struct flowtable *ft = w->stress->ft;
	uint32_t verdict, mark;

	if (flow_decision_get(ft, flow, &verdict, &mark) == 0) {
		/* every writer stores a consistent pair */
		check(mark == (verdict ^ 0x5a5a5a5a));
		return;
	}
	flow_decision_set(ft, flow, i, i ^ 0x5a5a5a5a);
}

static void worker_slot(struct worker *w, struct flow *flow, unsigned int i)
{
	struct slot *slot, *cur = flow_slot_get(flow);

	if (cur) {
		check(cur->magic == SLOT_MAGIC);
		return;
	}
	slot = malloc(sizeof(*slot));
	check(slot);
	*slot = (struct slot) { .magic = SLOT_MAGIC, .index = i };
	if (flow_slot_set(flow, slot) == 0)
		w->slots_set++;
	else
		free(slot);
}

/*
 * After lookup_or_add gave @flow for @key, a plain lookup must find the same
 * record, unless it was removed meanwhile: nothing is ever lost.
 */
static void worker_check_found(struct worker *w, struct flow *flow,
			       const struct flow_key *key, int side)
{
	struct flow *again = flowtable_lookup(w->stress->ft, key, side, NULL);

	check(!memcmp(&flow->key, key, sizeof(*key)));
	if (again != flow)
		check(cds_lfht_is_node_deleted(&flow->node));
	w->lost_checks++;
}

/* A burst of neighbouring keys: each hit is its key's flow, seen right. */
static void worker_burst(struct worker *w, unsigned int i, uint64_t r)
{
	struct flow_key keys[BURST_KEYS];
	struct flow *flows[BURST_KEYS];
	int sides[BURST_KEYS], dirs[BURST_KEYS];
	unsigned int found = 0;
	uint8_t proto;

	for (unsigned int k = 0; k < BURST_KEYS; k++)
		key_build((i + k) % w->stress->flows, r & (1ull << (41 + k)),
			  &keys[k], &sides[k], &proto);
	check(flowtable_lookup_burst(w->stress->ft, keys, sides, BURST_KEYS,
				     flows, dirs) <= BURST_KEYS);
	for (unsigned int k = 0; k < BURST_KEYS; k++) {
		if (!flows[k])
			continue;
		found++;
		check(!memcmp(&flows[k]->key, &keys[k], sizeof(keys[k])));
		check(dirs[k] == FLOW_DIR_ORIG || dirs[k] == FLOW_DIR_REPLY);
		flow_update(flows[k], dirs[k], 64, 0, vclock(w->stress));
	}
	w->lost_checks += found;
}

static void worker_op(struct worker *w)
{
	struct stress *s = w->stress;
	uint64_t r = rng_next(&w->rng);
	unsigned int i = r % s->flows, op = (r >> 32) % 100;
	uint64_t now = vclock(s);
	struct flow_key key;
	struct flow *flow;
	uint8_t proto;
	int side, dir;

	/* one op in 8 on a few hot keys: same-flow contention, insert races */
	if (((r >> 24) & 7) == 0)
		i = (r >> 8) % HOT_KEYS;
	key_build(i, r & (1ull << 40), &key, &side, &proto);
	if (op < 2) {
		flowtable_reap(s->ft, now, 512);
		return;
	}
	if (op < 12) {
		flow = flowtable_lookup(s->ft, &key, side, &dir);
		if (flow && op < 5)
			flowtable_del(s->ft, flow);
		return;
	}
	if (op < 16) {
		worker_burst(w, i, r);
		return;
	}
	flow = flowtable_lookup_or_add(s->ft, &key, side, now, &dir, NULL);
	if (!flow) {
		check(errno == ENOSPC);
		return;
	}
	flow_update(flow, dir, 64 + op, proto == IPPROTO_TCP ? op & 7 : 0, now);
	worker_decide(w, flow, i);
	if (op < 20)
		worker_slot(w, flow, i);
	if (op > 95)
		worker_check_found(w, flow, &key, side);
}

/*
 * A burst that ends on a miss in a full table (the insert evicts and gives
 * nothing), then the frees of what it evicted run before this thread
 * touches a table again, as when a worker goes idle after such a burst:
 * under TSan, whether the table orders the eviction's reads before those
 * frees (its annotations on every path, the misses' included). A small
 * table of its own, filled with new keys until an insert is refused.
 */
static void worker_full_miss(struct worker *w)
{
	struct stress *s = w->stress;
	struct flow_key key;
	struct flow *flow;
	uint8_t proto;
	int side;

	for (unsigned int n = 0; n <= 2 * SMALL_FLOW_MAX; n++) {
		/* this thread's own keys (below 2^24: all distinct) */
		key_build(w->index << 20 | (w->fresh++ & 0xfffff), false,
			  &key, &side, &proto);
		flow = flowtable_lookup_or_add(s->small, &key, side,
					       vclock(s), NULL, NULL);
		if (!flow) {
			check(errno == ENOSPC);
			w->full_misses++;
			break;
		}
	}
	rcu_thread_offline();
	rcu_barrier();
	rcu_thread_online();
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;

	rcu_register_thread();
	while (mono_ns() < w->stress->end_ns) {
		/* one "burst", then a quiescent state */
		for (int n = 0; n < 64; n++)
			worker_op(w);
		w->ops += 64;
		if (++w->bursts % 32 == 0)
			worker_full_miss(w);
		rcu_quiescent_state();
	}
	rcu_unregister_thread();
	__atomic_fetch_add(&w->stress->slots_set, w->slots_set,
			   __ATOMIC_RELAXED);
	return NULL;
}

static int count_flow(struct flow *flow, void *arg)
{
	(*(uint64_t *)arg)++;
	return 0;
}

static void stress_verify(struct stress *s)
{
	struct flowtable_stats st;
	uint64_t walked = 0;

	rcu_barrier();
	flowtable_walk(s->ft, count_flow, &walked);
	flowtable_stats_get(s->ft, &st);
	printf("{\"live\": %lu, \"walked\": %lu, \"created\": %lu, "
	       "\"expired\": %lu, \"evicted\": %lu, \"deleted\": %lu, "
	       "\"races_lost\": %lu, \"full\": %lu, \"records\": %lu}\n",
	       st.live, walked, st.created, st.expired, st.evicted,
	       st.deleted, st.races_lost, st.full, st.records);
	check(st.created - st.expired - st.evicted - st.deleted == st.live);
	check(walked == st.live);
	check(st.records == st.live);
	check(st.live <= s->flows);
	check(st.created > 0 && st.deleted > 0 && st.expired > 0);
}

int main(void)
{
	unsigned int seconds = env_uint("NFQE_STRESS_SECONDS", 5, 1, 3600);
	unsigned int nthreads = env_uint("NFQE_STRESS_THREADS", 4, 2, 8);
	struct stress s = {
		.flows = env_uint("NFQE_STRESS_FLOWS", 200000, 100000, 1000000),
	};
	struct flowtable_params params;
	struct worker workers[8];
	uint64_t ops = 0, checks = 0, full_misses = 0;

	flowtable_params_init(&params);
	/* below the key space: the cap and eviction are part of the mix */
	params.flow_max = s.flows / 4;
	/* start small as the engine does: resizes run under the load */
	params.buckets = 1024;
	params.slot_free = slot_free;
	params.slot_free_arg = &s;
	s.ft = flowtable_new(&params);
	check(s.ft);
	flowtable_params_init(&params);
	params.flow_max = SMALL_FLOW_MAX;
	s.small = flowtable_new(&params);
	check(s.small);

	s.start_ns = mono_ns();
	s.end_ns = s.start_ns + seconds * NS;
	for (unsigned int t = 0; t < nthreads; t++) {
		workers[t] = (struct worker) {
			.stress = &s,
			.rng = 0x9e3779b97f4a7c15ull * (t + 1),
			.index = t,
		};
		check(!pthread_create(&workers[t].tid, NULL, worker_run,
				      &workers[t]));
	}
	for (unsigned int t = 0; t < nthreads; t++) {
		pthread_join(workers[t].tid, NULL);
		ops += workers[t].ops;
		checks += workers[t].lost_checks;
		full_misses += workers[t].full_misses;
	}

	rcu_register_thread();
	stress_verify(&s);
	flowtable_free(s.ft);
	flowtable_free(s.small);
	rcu_unregister_thread();
	printf("{\"threads\": %u, \"seconds\": %u, \"flows\": %u, "
	       "\"ops\": %lu, \"lost_checks\": %lu, \"slots_set\": %lu, "
	       "\"slots_freed\": %lu, \"full_misses\": %lu}\n", nthreads,
	       seconds, s.flows, ops, checks, s.slots_set, s.slots_freed,
	       full_misses);
	check(s.slots_set == s.slots_freed);
	check(full_misses > 0);
	return 0;
}
