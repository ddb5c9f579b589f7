/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * flowtable.c - lock-free flow table.
 *
 * Design note
 *
 * Why cds_lfht + QSBR: every packet does one lookup, from several worker
 * threads at once, while new flows are inserted and old ones aged out.
 * liburcu's cds_lfht gives lock-free lookups, add_unique and removal on a
 * split-ordered list that resizes without stopping readers. With the QSBR
 * flavour a read-side critical section costs nothing: workers announce one
 * quiescent state per receive burst, so a lookup is a hash, a bucket load
 * and a key compare. Records are freed with call_rcu() after a grace period.
 *
 * Normalisation: the key stores the two (address, port) endpoints in a fixed
 * order (flowkey.c) so both directions find the same record; the record
 * remembers which side sent the first packet, which turns the packet's side
 * into enum flow_dir.
 *
 * Buckets: the table starts with params.buckets (default flow_max rounded
 * up to a power of two) and keeps about one bucket per flow: an insert that
 * finds more live flows than buckets queues a resize to the next power of
 * two (a call_rcu() callback that goes offline and calls cds_lfht_resize(),
 * as liburcu's own lazy resize does), and the reaper queues a shrink once
 * under 1/8 of the buckets are used, never below the initial size.
 * CDS_LFHT_AUTO_RESIZE is not used: for tables past ~16k nodes it grows only
 * when the count reaches 8 nodes per bucket, so a table started small (the
 * engine starts at 4096 buckets, because an iteration walks every bucket)
 * ran a million flows on 131072 buckets, 7.6 nodes per chain and a cache
 * miss for each node visited. A bucket is 16 bytes and its hint (below) 8:
 * 24 to 48 bytes per flow, 25 at a million flows.
 *
 * Bursts: a lookup is a chain of dependent cache misses (bucket, record),
 * which cds_lfht does not let us prefetch. flowtable_lookup_burst() hashes a
 * burst first and prefetches, per key, the record last found under its
 * bucket index (ft->hint, 8 bytes per bucket, only ever prefetched), then
 * does the real lookups: the record misses of a burst overlap, and the
 * shorter lookups let the CPU overlap the bucket misses too.
 *
 * Cap and eviction: an insert reserves its flow with one compare-and-swap
 * on a word holding both the live count and the record count, so live never
 * exceeds flow_max, and records (live plus removed ones still waiting for
 * their grace period: liburcu's call_rcu thread frees in batches about every
 * 10 ms) never exceed flow_max + max(flow_max / 8, 64). That bounds the
 * memory under any churn. A new flow that finds no room is not stored (the
 * caller still decides the packet, "full" is counted). If live is at
 * flow_max, that thread also runs one bounded eviction if no reap or
 * eviction is running (trylock, it never waits): it samples the next 32 flows after
 * the shared scan cursor (wrapping once) and removes the 8 of them that rank
 * lowest: expired flows first (counted as expired), then flows still in
 * state NEW, then the others, least recently seen first (counted as
 * evicted). A flood of one-packet flows thus evicts flood flows before
 * established ones. Cost per full insert: one lookup, 32 node visits,
 * <= 8 removals.
 *
 * Ageing: flowtable_reap() walks the table from the same cursor, removes
 * flows idle for longer than their protocol/state timeout and stops after
 * its budget or at the end of the table (the next call starts again from the
 * first flow). The cursor is a copy of the last kept flow's key, looked up
 * again on the next call (the split-ordered list has no stable positions);
 * if that flow disappeared meanwhile the scan restarts from the first flow.
 *
 * Memory: a record is 160 bytes (a jemalloc size class), from a dedicated
 * jemalloc arena without thread cache (arena-jemalloc.c; malloc(3) without
 * jemalloc and under sanitizers). Existing flows never allocate.
 * Counters are relaxed atomic adds on the record: NFQUEUE balancing sends a
 * flow to one queue, so the line is not shared in practice, and per-CPU
 * copies would multiply the record size (bench/README.md, flow table
 * benchmark, has the measurement).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/random.h>

#include "flowtable-internal.h"

#define FT_NS_PER_S		1000000000ull
#define FT_FLOW_MAX_LIMIT	(1u << 30)
#define FT_EVICT_SAMPLE		32
#define FT_EVICT_BATCH		8
#define FT_PENDING_MIN		64
#define FT_BURST_STEP		16	/* keys whose misses overlap */
#define FT_LIVE			1ull
#define FT_RECORD		(1ull << 32)
#define FT_LIVE_MASK		(FT_RECORD - 1)

char ft_tsan_grace;

void flowtable_params_init(struct flowtable_params *ret)
{
	*ret = (struct flowtable_params) {
		.flow_max = 1u << 20,
		.tcp_new_s = 30,
		.tcp_established_s = 600,
		.tcp_closing_s = 10,
		.udp_new_s = 30,
		.udp_established_s = 120,
		.icmp_s = 30,
		.other_s = 60,
	};
}

static unsigned long ft_pow2_roundup(unsigned long v)
{
	unsigned long p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

static int ft_params_check(const struct flowtable_params *p)
{
	if (!p->flow_max || p->flow_max > FT_FLOW_MAX_LIMIT)
		return -EINVAL;
	if (p->buckets & (p->buckets - 1))
		return -EINVAL;
	if (!p->tcp_new_s || !p->tcp_established_s || !p->tcp_closing_s ||
	    !p->udp_new_s || !p->udp_established_s || !p->icmp_s ||
	    !p->other_s)
		return -EINVAL;
	return 0;
}

static void ft_timeouts_init(struct flowtable *ft)
{
	const struct flowtable_params *p = &ft->params;
	uint64_t *t = ft->timeout_ns;

	t[FT_TIMEOUT_TCP_NEW] = p->tcp_new_s * FT_NS_PER_S;
	t[FT_TIMEOUT_TCP_ESTABLISHED] = p->tcp_established_s * FT_NS_PER_S;
	t[FT_TIMEOUT_TCP_CLOSING] = p->tcp_closing_s * FT_NS_PER_S;
	t[FT_TIMEOUT_UDP_NEW] = p->udp_new_s * FT_NS_PER_S;
	t[FT_TIMEOUT_UDP_ESTABLISHED] = p->udp_established_s * FT_NS_PER_S;
	t[FT_TIMEOUT_ICMP] = p->icmp_s * FT_NS_PER_S;
	t[FT_TIMEOUT_OTHER] = p->other_s * FT_NS_PER_S;
}

static int ft_seed_init(struct flowtable *ft)
{
	uint64_t seed = ft->params.seed;

	if (!seed && getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		return -errno;
	ft_secret_init(ft->secret, seed);
	return 0;
}

/* records allowed to wait for a grace period on top of flow_max */
static uint64_t ft_pending_max(uint64_t flow_max)
{
	return flow_max / 8 > FT_PENDING_MIN ? flow_max / 8 : FT_PENDING_MIN;
}

static int ft_ht_init(struct flowtable *ft)
{
	unsigned long max = ft_pow2_roundup(ft->flow_max);
	unsigned long init = ft->params.buckets ? ft->params.buckets : max;

	if (init > max)
		init = max;
	ft->buckets_min = init;
	ft->buckets_max = max;
	ft->buckets = init;
	/* pages become resident as the table grows into them */
	ft->hint = mmap(NULL, max * sizeof(*ft->hint), PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (ft->hint == MAP_FAILED) {
		ft->hint = NULL;
		return -ENOMEM;
	}
	/* no CDS_LFHT_AUTO_RESIZE: ft_resize_check() sizes the table */
	ft->ht = cds_lfht_new_flavor(init, init, max, 0, &urcu_qsbr_flavor,
				     NULL);
	return ft->ht ? 0 : -ENOMEM;
}

struct flowtable *flowtable_new(const struct flowtable_params *params)
{
	struct flowtable *ft;
	int err;

	ft = aligned_alloc(64, sizeof(*ft));
	if (!ft)
		return NULL;
	memset(ft, 0, sizeof(*ft));
	if (params)
		ft->params = *params;
	else
		flowtable_params_init(&ft->params);
	err = ft_params_check(&ft->params);
	if (err < 0)
		goto err_free_ft;
	ft->flow_max = ft->params.flow_max;
	ft->records_max = ft->flow_max + ft_pending_max(ft->flow_max);
	ft->decision_gen = 1;
	ft_timeouts_init(ft);
	err = ft_seed_init(ft);
	if (err < 0)
		goto err_free_ft;
	err = pthread_mutex_init(&ft->maint_lock, NULL);
	if (err) {
		err = -err;
		goto err_free_ft;
	}
	ft->arena = ft_arena_new(sizeof(struct flow), ft->records_max);
	if (!ft->arena) {
		err = -errno;
		goto err_destroy_lock;
	}
	err = ft_ht_init(ft);
	if (err < 0)
		goto err_free_arena;
	return ft;

err_free_arena:
	if (ft->hint)
		munmap(ft->hint, ft->buckets_max * sizeof(*ft->hint));
	ft_arena_free(ft->arena);
err_destroy_lock:
	pthread_mutex_destroy(&ft->maint_lock);
err_free_ft:
	free(ft);
	errno = -err;
	return NULL;
}

static struct flow *ft_flow_of(struct cds_lfht_node *node)
{
	struct flow *flow = caa_container_of(node, struct flow, node);

	/* pairs with the release in ft_flow_alloc(): the record is initialised */
	(void)__atomic_load_n(&flow->bits, __ATOMIC_ACQUIRE);
	return flow;
}

static int ft_match(struct cds_lfht_node *node, const void *key)
{
	return ft_key_equal(&ft_flow_of(node)->key, key);
}

static uint64_t ft_hash(const struct flowtable *ft, const struct flow_key *key)
{
	return ft_key_hash(ft->secret, key);
}

static void ft_count(uint64_t *counter)
{
	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

/*
 * Buckets for @live flows with @size now: grow when there are more flows
 * than buckets, shrink when under 1/8 are used, to one bucket per flow
 * (rounded up to a power of 2) within [buckets_min, buckets_max].
 */
static uint64_t ft_buckets_want(const struct flowtable *ft, uint64_t live,
				uint64_t size)
{
	uint64_t want;

	if (live <= size && live >= size / 8)
		return size;
	want = ft_pow2_roundup(live);
	if (want < ft->buckets_min)
		return ft->buckets_min;
	return want > ft->buckets_max ? ft->buckets_max : want;
}

static void ft_resize_rcu(struct rcu_head *head)
{
	struct flowtable *ft = caa_container_of(head, struct flowtable,
						resize_rcu);
	uint64_t size, live, want;

	ft_tsan_acquire();
	size = __atomic_load_n(&ft->buckets, __ATOMIC_RELAXED);
	/*
	 * Flows keep arriving during a resize and their inserts do not queue
	 * another one: look again a few times rather than requeue from here
	 * (rcu_barrier() in flowtable_free() would not wait for that one).
	 */
	for (int i = 0; i < 4; i++) {
		live = __atomic_load_n(&ft->count, __ATOMIC_RELAXED);
		want = ft_buckets_want(ft, live & FT_LIVE_MASK, size);
		if (want == size)
			break;
		/* goes offline around the resize, as liburcu's lazy resize */
		cds_lfht_resize(ft->ht, want);
		size = want;
		__atomic_store_n(&ft->buckets, size, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&ft->resize_queued, false, __ATOMIC_RELEASE);
	ft_tsan_release();
}

/*
 * Queue a resize when @live flows need another bucket count. One relaxed
 * load on the insert path; at most one resize is queued at a time.
 */
static void ft_resize_check(struct flowtable *ft, uint64_t live)
{
	uint64_t size = __atomic_load_n(&ft->buckets, __ATOMIC_RELAXED);

	if (ft_buckets_want(ft, live, size) == size)
		return;
	if (__atomic_exchange_n(&ft->resize_queued, true, __ATOMIC_ACQUIRE))
		return;
	ft_tsan_release();
	call_rcu(&ft->resize_rcu, ft_resize_rcu);
}

static void ft_flow_free_rcu(struct rcu_head *head)
{
	struct flow *flow = caa_container_of(head, struct flow, rcu);
	struct flowtable *ft;

	ft_tsan_acquire();
	ft = flow->ft;
	if (flow->slot && ft->params.slot_free)
		ft->params.slot_free(flow->slot, ft->params.slot_free_arg);
	ft_arena_put(ft->arena, flow);
	__atomic_fetch_sub(&ft->count, FT_RECORD, __ATOMIC_RELAXED);
	ft_tsan_release();
}

/* Unlink @flow and free it after a grace period; 0 or -ENOENT. */
static int ft_flow_remove(struct flowtable *ft, struct flow *flow)
{
	if (cds_lfht_del(ft->ht, &flow->node))
		return -ENOENT;
	__atomic_fetch_sub(&ft->count, FT_LIVE, __ATOMIC_RELAXED);
	call_rcu(&flow->rcu, ft_flow_free_rcu);
	return 0;
}

void flowtable_free(struct flowtable *ft)
{
	struct cds_lfht_iter iter;
	struct cds_lfht_node *node;
	bool was_online;

	if (!ft)
		return;
	if (ft->ht) {
		was_online = rcu_read_ongoing();
		if (!was_online)
			rcu_thread_online();
		cds_lfht_for_each(ft->ht, &iter, node)
			ft_flow_remove(ft, ft_flow_of(node));
		ft_tsan_release();
		/*
		 * Offline: the frees and a pending resize both wait for a
		 * grace period, which this thread would otherwise block.
		 */
		rcu_thread_offline();
		rcu_barrier();
		ft_tsan_acquire();
		cds_lfht_destroy(ft->ht, NULL);
		if (was_online)
			rcu_thread_online();
	}
	if (ft->hint)
		munmap(ft->hint, ft->buckets_max * sizeof(*ft->hint));
	ft_arena_free(ft->arena);
	pthread_mutex_destroy(&ft->maint_lock);
	free(ft);
}

static int ft_flow_dir(const struct flow *flow, int side)
{
	uint32_t bits = __atomic_load_n(&flow->bits, __ATOMIC_RELAXED);

	return (side ^ (bits & FT_BIT_INIT_HI)) & 1;
}

static struct flow *ft_find(struct flowtable *ft, const struct flow_key *key,
			    uint64_t hash)
{
	struct cds_lfht_iter iter;
	struct cds_lfht_node *node;

	cds_lfht_lookup(ft->ht, hash, ft_match, key, &iter);
	node = cds_lfht_iter_get_node(&iter);
	return node ? ft_flow_of(node) : NULL;
}

static uintptr_t *ft_hint_slot(struct flowtable *ft, uint64_t hash)
{
	uint64_t size = __atomic_load_n(&ft->buckets, __ATOMIC_RELAXED);

	return &ft->hint[hash & (size - 1)];
}

static void ft_hint_set(uintptr_t *slot, const struct flow *flow)
{
	/* a store only when it changes: no line ping-pong between readers */
	if (__atomic_load_n(slot, __ATOMIC_RELAXED) != (uintptr_t)flow)
		__atomic_store_n(slot, (uintptr_t)flow, __ATOMIC_RELAXED);
}

/*
 * Reserve one live flow and one record; -ENOSPC when live is at flow_max
 * (eviction helps), -EAGAIN when too many removed records still wait for
 * their grace period (eviction would not help).
 */
static int ft_reserve(struct flowtable *ft, uint64_t *ret_live)
{
	uint64_t count = __atomic_load_n(&ft->count, __ATOMIC_RELAXED);

	do {
		if ((count & FT_LIVE_MASK) >= ft->flow_max)
			return -ENOSPC;
		if (count >> 32 >= ft->records_max)
			return -EAGAIN;
	} while (!__atomic_compare_exchange_n(&ft->count, &count,
					      count + FT_LIVE + FT_RECORD, true,
					      __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	*ret_live = (count & FT_LIVE_MASK) + 1;
	return 0;
}

static void ft_unreserve(struct flowtable *ft)
{
	__atomic_fetch_sub(&ft->count, FT_LIVE + FT_RECORD, __ATOMIC_RELAXED);
}

static struct flow *ft_flow_alloc(struct flowtable *ft,
				  const struct flow_key *key, int side,
				  uint64_t now_ns)
{
	struct flow *flow = ft_arena_get(ft->arena);

	if (!flow)
		return NULL;
	memset(flow, 0, sizeof(*flow));
	flow->key = *key;
	flow->first_ns = now_ns;
	flow->last_ns = now_ns;
	flow->ft = ft;
	cds_lfht_node_init(&flow->node);
	__atomic_store_n(&flow->bits, side ? FT_BIT_INIT_HI : 0,
			 __ATOMIC_RELEASE);
	return flow;
}

static void ft_evict(struct flowtable *ft, uint64_t now_ns);

static struct flow *ft_insert(struct flowtable *ft, const struct flow_key *key,
			      uint64_t hash, int side, uint64_t now_ns,
			      bool *ret_created)
{
	struct cds_lfht_node *node;
	struct flow *flow;
	uint64_t live;
	int err;

	err = ft_reserve(ft, &live);
	if (err < 0) {
		ft_count(&ft->full);
		if (err == -ENOSPC)
			ft_evict(ft, now_ns);
		errno = ENOSPC;
		return NULL;
	}
	flow = ft_flow_alloc(ft, key, side, now_ns);
	if (!flow) {
		ft_unreserve(ft);
		ft_count(&ft->alloc_failed);
		errno = ENOMEM;
		return NULL;
	}
	node = cds_lfht_add_unique(ft->ht, hash, ft_match, key, &flow->node);
	if (node != &flow->node) {
		/* never published: no grace period needed */
		ft_unreserve(ft);
		ft_count(&ft->races_lost);
		ft_arena_put(ft->arena, flow);
		return ft_flow_of(node);
	}
	ft_count(&ft->created);
	ft_hint_set(ft_hint_slot(ft, hash), flow);
	ft_resize_check(ft, live);
	*ret_created = true;
	return flow;
}

struct flow *flowtable_lookup_or_add(struct flowtable *ft,
				     const struct flow_key *key, int side,
				     uint64_t now_ns, int *ret_dir,
				     bool *ret_created)
{
	uint64_t hash = ft_hash(ft, key);
	bool created = false;
	struct flow *flow;

	flow = ft_find(ft, key, hash);
	if (!flow)
		flow = ft_insert(ft, key, hash, side, now_ns, &created);
	if (flow) {
		if (ret_dir)
			*ret_dir = ft_flow_dir(flow, side);
		if (ret_created)
			*ret_created = created;
	}
	/* a miss read flows too: the chain's keys, a full table's sample */
	ft_tsan_release();
	return flow;
}

struct flow *flowtable_lookup(struct flowtable *ft, const struct flow_key *key,
			      int side, int *ret_dir)
{
	struct flow *flow = ft_find(ft, key, ft_hash(ft, key));

	if (flow && ret_dir)
		*ret_dir = ft_flow_dir(flow, side);
	ft_tsan_release();	/* a miss read the chain's keys too */
	if (!flow)
		errno = ENOENT;
	return flow;
}

unsigned int flowtable_lookup_burst(struct flowtable *ft,
				    const struct flow_key *keys,
				    const int *sides, unsigned int n,
				    struct flow **ret_flows, int *ret_dirs)
{
	uint64_t hash[FT_BURST_STEP];
	uintptr_t *slot[FT_BURST_STEP];
	unsigned int found = 0;

	for (unsigned int first = 0; first < n; first += FT_BURST_STEP) {
		unsigned int m = n - first < FT_BURST_STEP ? n - first :
							     FT_BURST_STEP;
		const struct flow_key *key = keys + first;
		struct flow **flows = ret_flows + first;

		for (unsigned int i = 0; i < m; i++) {
			hash[i] = ft_hash(ft, &key[i]);
			slot[i] = ft_hint_slot(ft, hash[i]);
			__builtin_prefetch(slot[i]);
		}
		for (unsigned int i = 0; i < m; i++) {
			const char *hint = (const char *)
				__atomic_load_n(slot[i], __ATOMIC_RELAXED);

			/* node, key and bits: two lines when unaligned */
			__builtin_prefetch(hint);
			__builtin_prefetch(hint + offsetof(struct flow, bits));
		}
		for (unsigned int i = 0; i < m; i++) {
			flows[i] = ft_find(ft, &key[i], hash[i]);
			if (!flows[i])
				continue;
			found++;
			ft_hint_set(slot[i], flows[i]);
			if (ret_dirs)
				ret_dirs[first + i] =
					ft_flow_dir(flows[i], sides[first + i]);
		}
	}
	ft_tsan_release();
	return found;
}

int flowtable_del(struct flowtable *ft, struct flow *flow)
{
	int err = ft_flow_remove(ft, flow);

	if (!err)
		ft_count(&ft->deleted);
	ft_tsan_release();
	return err;
}

static enum flow_state ft_bits_state(uint32_t bits)
{
	return (bits & FT_STATE_MASK) >> FT_STATE_SHIFT;
}

static enum ft_timeout ft_flow_timeout(const struct flow *flow, uint32_t bits)
{
	enum flow_state state = ft_bits_state(bits);

	switch (flow->key.proto) {
	case IPPROTO_TCP:
		if (state == FLOW_STATE_CLOSING)
			return FT_TIMEOUT_TCP_CLOSING;
		return state == FLOW_STATE_NEW ? FT_TIMEOUT_TCP_NEW :
						 FT_TIMEOUT_TCP_ESTABLISHED;
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
		return state == FLOW_STATE_NEW ? FT_TIMEOUT_UDP_NEW :
						 FT_TIMEOUT_UDP_ESTABLISHED;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		return FT_TIMEOUT_ICMP;
	default:
		return FT_TIMEOUT_OTHER;
	}
}

static bool ft_flow_expired(const struct flowtable *ft,
			    const struct flow *flow, uint64_t now_ns)
{
	uint32_t bits = __atomic_load_n(&flow->bits, __ATOMIC_RELAXED);
	uint64_t last = __atomic_load_n(&flow->last_ns, __ATOMIC_RELAXED);

	if (now_ns < last)
		return false;
	return now_ns - last >= ft->timeout_ns[ft_flow_timeout(flow, bits)];
}

static void ft_cursor_save(struct flowtable *ft, const struct flow *flow)
{
	ft->cursor_key = flow->key;
	ft->cursor_valid = true;
}

/* Position @iter on the flow after the cursor, or on the first flow. */
static void ft_cursor_start(struct flowtable *ft, struct cds_lfht_iter *iter)
{
	const struct flow_key *key = &ft->cursor_key;

	if (ft->cursor_valid) {
		cds_lfht_lookup(ft->ht, ft_hash(ft, key), ft_match, key, iter);
		if (cds_lfht_iter_get_node(iter)) {
			cds_lfht_next(ft->ht, iter);
			return;
		}
	}
	cds_lfht_first(ft->ht, iter);
}

int flowtable_reap(struct flowtable *ft, uint64_t now_ns, unsigned int budget)
{
	struct flow *flow, *kept = NULL;
	struct cds_lfht_node *node;
	struct cds_lfht_iter iter;
	int removed = 0;

	pthread_mutex_lock(&ft->maint_lock);
	ft_cursor_start(ft, &iter);
	for (; budget; budget--) {
		node = cds_lfht_iter_get_node(&iter);
		if (!node) {
			ft->cursor_valid = false;
			kept = NULL;
			break;
		}
		flow = ft_flow_of(node);
		cds_lfht_next(ft->ht, &iter);
		if (!ft_flow_expired(ft, flow, now_ns))
			kept = flow;
		else if (!ft_flow_remove(ft, flow) && removed < INT32_MAX)
			removed++;
	}
	if (kept)
		ft_cursor_save(ft, kept);
	__atomic_fetch_add(&ft->expired, removed, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&ft->maint_lock);
	ft_resize_check(ft, __atomic_load_n(&ft->count, __ATOMIC_RELAXED) &
			    FT_LIVE_MASK);
	ft_tsan_release();
	return removed;
}

struct ft_candidate {
	struct flow *flow;
	uint64_t rank;		/* lower goes first, 0: expired */
	unsigned int pos;	/* order in the table scan */
};

#define FT_RANK_CLASS_SHIFT	62
#define FT_RANK_TIME_MASK	((1ull << FT_RANK_CLASS_SHIFT) - 1)

static uint64_t ft_evict_rank(const struct flowtable *ft,
			      const struct flow *flow, uint64_t now_ns)
{
	uint32_t bits = __atomic_load_n(&flow->bits, __ATOMIC_RELAXED);
	uint64_t last = __atomic_load_n(&flow->last_ns, __ATOMIC_RELAXED);
	uint64_t class = ft_bits_state(bits) == FLOW_STATE_NEW ? 1 : 2;

	if (ft_flow_expired(ft, flow, now_ns))
		return 0;
	return class << FT_RANK_CLASS_SHIFT | (last & FT_RANK_TIME_MASK);
}

/* Collect up to FT_EVICT_SAMPLE flows after the cursor, wrapping once. */
static unsigned int ft_evict_sample(struct flowtable *ft, uint64_t now_ns,
				    struct ft_candidate *cand)
{
	struct cds_lfht_node *node;
	struct cds_lfht_iter iter;
	bool wrapped = false;
	struct flow *flow;
	unsigned int n = 0;

	ft_cursor_start(ft, &iter);
	while (n < FT_EVICT_SAMPLE) {
		node = cds_lfht_iter_get_node(&iter);
		if (!node) {
			if (wrapped)
				break;
			wrapped = true;
			cds_lfht_first(ft->ht, &iter);
			continue;
		}
		flow = ft_flow_of(node);
		if (n && flow == cand[0].flow)
			break;
		cand[n].flow = flow;
		cand[n].rank = ft_evict_rank(ft, flow, now_ns);
		cand[n].pos = n;
		n++;
		cds_lfht_next(ft->ht, &iter);
	}
	return n;
}

static void ft_candidates_sort(struct ft_candidate *cand, unsigned int n)
{
	for (unsigned int i = 1; i < n; i++) {
		struct ft_candidate c = cand[i];
		unsigned int j = i;

		for (; j && cand[j - 1].rank > c.rank; j--)
			cand[j] = cand[j - 1];
		cand[j] = c;
	}
}

static void ft_evict(struct flowtable *ft, uint64_t now_ns)
{
	struct ft_candidate cand[FT_EVICT_SAMPLE];
	unsigned int n, i, last = 0;
	struct flow *kept = NULL;

	if (pthread_mutex_trylock(&ft->maint_lock))
		return;
	n = ft_evict_sample(ft, now_ns, cand);
	ft_candidates_sort(cand, n);
	for (i = 0; i < n && i < FT_EVICT_BATCH; i++) {
		if (ft_flow_remove(ft, cand[i].flow))
			continue;
		ft_count(cand[i].rank ? &ft->evicted : &ft->expired);
	}
	for (; i < n; i++) {
		if (!kept || cand[i].pos > last) {
			kept = cand[i].flow;
			last = cand[i].pos;
		}
	}
	if (kept)
		ft_cursor_save(ft, kept);
	pthread_mutex_unlock(&ft->maint_lock);
}

static uint64_t ft_flow_packets(const struct flow *flow)
{
	return __atomic_load_n(&flow->packets[0], __ATOMIC_RELAXED) +
	       __atomic_load_n(&flow->packets[1], __ATOMIC_RELAXED);
}

struct ft_top_entry {
	struct flow *flow;
	uint64_t packets;
};

/* Min-heap on packets: the root is the smallest of the current top n. */
static void ft_heap_down(struct ft_top_entry *heap, unsigned int n,
			 unsigned int i)
{
	for (;;) {
		unsigned int l = 2 * i + 1, r = l + 1, min = i;
		struct ft_top_entry tmp;

		if (l < n && heap[l].packets < heap[min].packets)
			min = l;
		if (r < n && heap[r].packets < heap[min].packets)
			min = r;
		if (min == i)
			return;
		tmp = heap[i];
		heap[i] = heap[min];
		heap[min] = tmp;
		i = min;
	}
}

static void ft_heap_up(struct ft_top_entry *heap, unsigned int i)
{
	while (i) {
		unsigned int parent = (i - 1) / 2;
		struct ft_top_entry tmp;

		if (heap[parent].packets <= heap[i].packets)
			return;
		tmp = heap[i];
		heap[i] = heap[parent];
		heap[parent] = tmp;
		i = parent;
	}
}

int flowtable_top(struct flowtable *ft, struct flow **ret, unsigned int n)
{
	struct ft_top_entry *heap, e;
	struct cds_lfht_node *node;
	struct cds_lfht_iter iter;
	unsigned int count = 0;

	if (!n)
		return 0;
	heap = calloc(n, sizeof(*heap));
	if (!heap)
		return -ENOMEM;
	cds_lfht_for_each(ft->ht, &iter, node) {
		e.flow = ft_flow_of(node);
		e.packets = ft_flow_packets(e.flow);
		if (count < n) {
			heap[count] = e;
			ft_heap_up(heap, count++);
		} else if (e.packets > heap[0].packets) {
			heap[0] = e;
			ft_heap_down(heap, n, 0);
		}
	}
	/* pop the smallest to the end: decreasing order */
	for (unsigned int i = count; i; i--) {
		ret[i - 1] = heap[0].flow;
		heap[0] = heap[i - 1];
		ft_heap_down(heap, i - 1, 0);
	}
	free(heap);
	ft_tsan_release();
	return count;
}

size_t flowtable_walk(struct flowtable *ft, flowtable_walk_fn fn, void *arg)
{
	struct cds_lfht_node *node;
	struct cds_lfht_iter iter;
	size_t visited = 0;

	cds_lfht_for_each(ft->ht, &iter, node) {
		visited++;
		if (fn(ft_flow_of(node), arg))
			break;
	}
	ft_tsan_release();
	return visited;
}

static uint64_t ft_read(const uint64_t *counter)
{
	return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

void flowtable_stats_get(const struct flowtable *ft,
			 struct flowtable_stats *ret)
{
	uint64_t count = ft_read(&ft->count);

	*ret = (struct flowtable_stats) {
		.live = count & FT_LIVE_MASK,
		.created = ft_read(&ft->created),
		.expired = ft_read(&ft->expired),
		.evicted = ft_read(&ft->evicted),
		.deleted = ft_read(&ft->deleted),
		.races_lost = ft_read(&ft->races_lost),
		.full = ft_read(&ft->full),
		.alloc_failed = ft_read(&ft->alloc_failed),
		.records = count >> 32,
		.record_bytes = ft_arena_record_bytes(ft->arena),
	};
}

void flowtable_decision_flush(struct flowtable *ft)
{
	uint32_t gen = __atomic_load_n(&ft->decision_gen, __ATOMIC_RELAXED);

	/* 0 marks a never decided flow: skip it on wrap-around */
	gen = gen + 1 ? gen + 1 : 1;
	__atomic_store_n(&ft->decision_gen, gen, __ATOMIC_RELEASE);
}

static uint32_t ft_bits_next(uint32_t bits, uint8_t proto, int dir,
			     uint8_t tcp_flags)
{
	uint32_t seen = FT_BIT_SEEN_ORIG | FT_BIT_SEEN_REPLY;
	uint32_t next = bits | (dir ? FT_BIT_SEEN_REPLY : FT_BIT_SEEN_ORIG);
	uint32_t state = ft_bits_state(next);

	if (state == FLOW_STATE_NEW && (next & seen) == seen)
		state = FLOW_STATE_ESTABLISHED;
	if (proto == IPPROTO_TCP && (tcp_flags & (FLOW_TCP_FIN | FLOW_TCP_RST)))
		state = FLOW_STATE_CLOSING;
	return (next & ~FT_STATE_MASK) | state << FT_STATE_SHIFT;
}

enum flow_state flow_update(struct flow *flow, int dir, uint32_t bytes,
			    uint8_t tcp_flags, uint64_t now_ns)
{
	uint32_t bits, next;

	dir &= 1;
	__atomic_fetch_add(&flow->packets[dir], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&flow->bytes[dir], bytes, __ATOMIC_RELAXED);
	if (__atomic_load_n(&flow->last_ns, __ATOMIC_RELAXED) < now_ns)
		__atomic_store_n(&flow->last_ns, now_ns, __ATOMIC_RELAXED);

	bits = __atomic_load_n(&flow->bits, __ATOMIC_RELAXED);
	next = ft_bits_next(bits, flow->key.proto, dir, tcp_flags);
	while (next != bits &&
	       !__atomic_compare_exchange_n(&flow->bits, &bits, next, true,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		next = ft_bits_next(bits, flow->key.proto, dir, tcp_flags);
	ft_tsan_release();
	return ft_bits_state(next);
}

void flow_decision_set(const struct flowtable *ft, struct flow *flow,
		       uint32_t verdict, uint32_t mark)
{
	uint32_t gen = __atomic_load_n(&ft->decision_gen, __ATOMIC_ACQUIRE);

	__atomic_store_n(&flow->decision, (uint64_t)mark << 32 | verdict,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&flow->decision_gen, gen, __ATOMIC_RELEASE);
	ft_tsan_release();
}

int flow_decision_get(const struct flowtable *ft, const struct flow *flow,
		      uint32_t *ret_verdict, uint32_t *ret_mark)
{
	uint32_t gen = __atomic_load_n(&flow->decision_gen, __ATOMIC_ACQUIRE);
	uint64_t decision;

	ft_tsan_release();
	if (gen != __atomic_load_n(&ft->decision_gen, __ATOMIC_RELAXED))
		return -ENOENT;
	decision = __atomic_load_n(&flow->decision, __ATOMIC_RELAXED);
	if (ret_verdict)
		*ret_verdict = (uint32_t)decision;
	if (ret_mark)
		*ret_mark = decision >> 32;
	return 0;
}

uint32_t flow_flags_set(struct flow *flow, uint32_t flags)
{
	uint32_t old = __atomic_load_n(&flow->flags, __ATOMIC_RELAXED);

	/* flags are set once in a flow's life: later calls only read, so
	 * they do not take the cache line from the other workers */
	if ((old & flags) != flags)
		old = __atomic_fetch_or(&flow->flags, flags, __ATOMIC_RELAXED);
	ft_tsan_release();
	return old;
}

uint32_t flow_flags_get(const struct flow *flow)
{
	uint32_t flags = __atomic_load_n(&flow->flags, __ATOMIC_RELAXED);

	ft_tsan_release();
	return flags;
}

void *flow_slot_get(const struct flow *flow)
{
	void *slot = __atomic_load_n(&flow->slot, __ATOMIC_ACQUIRE);

	ft_tsan_release();
	return slot;
}

int flow_slot_set(struct flow *flow, void *slot)
{
	void *expected = NULL;
	bool set;

	set = __atomic_compare_exchange_n(&flow->slot, &expected, slot, false,
					  __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	ft_tsan_release();
	return set ? 0 : -EBUSY;
}

void flow_tuple_get(const struct flow *flow, struct flow_tuple *ret)
{
	uint32_t bits = __atomic_load_n(&flow->bits, __ATOMIC_RELAXED);

	ft_key_tuple(&flow->key, bits & FT_BIT_INIT_HI, ret);
	ft_tsan_release();
}

void flow_counters_get(const struct flow *flow, struct flow_counters *ret)
{
	for (int dir = 0; dir < 2; dir++) {
		ret->packets[dir] = ft_read(&flow->packets[dir]);
		ret->bytes[dir] = ft_read(&flow->bytes[dir]);
	}
	ret->first_ns = flow->first_ns;
	ret->last_ns = ft_read(&flow->last_ns);
	ft_tsan_release();
}

enum flow_state flow_state_get(const struct flow *flow)
{
	uint32_t bits = __atomic_load_n(&flow->bits, __ATOMIC_RELAXED);

	ft_tsan_release();
	return ft_bits_state(bits);
}
