/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * flowtable-internal.h - flow record, table and allocator internals. Only
 * flowtable/ and its tests include this.
 */
#ifndef NFQE_FLOWTABLE_INTERNAL_H
#define NFQE_FLOWTABLE_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <urcu-qsbr.h>
#include <urcu/rculfhash.h>

#include "flowtable.h"

/*
 * ThreadSanitizer cannot see liburcu's grace periods (liburcu is not
 * instrumented), so the frees done from call_rcu() would be reported as
 * racing with the readers' earlier accesses. Every API function that touches
 * a flow ends with ft_tsan_release() and the free callback starts with
 * ft_tsan_acquire(): this models exactly the RCU guarantee (a callback runs
 * after every access made before the readers' quiescent states). Likewise
 * the callback releases and flowtable_free() acquires after rcu_barrier().
 * Compiled out without TSan.
 */
#if defined(__SANITIZE_THREAD__)
#define FT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FT_TSAN 1
#endif
#endif

extern char ft_tsan_grace;

#ifdef FT_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);

static inline void ft_tsan_release(void)
{
	__tsan_release(&ft_tsan_grace);
}

static inline void ft_tsan_acquire(void)
{
	__tsan_acquire(&ft_tsan_grace);
}
#else
static inline void ft_tsan_release(void)
{
}

static inline void ft_tsan_acquire(void)
{
}
#endif

/* flow->bits: originator side, directions seen, state */
#define FT_BIT_INIT_HI		0x1u	/* the originator is the key's hi side */
#define FT_BIT_SEEN_ORIG	0x2u
#define FT_BIT_SEEN_REPLY	0x4u
#define FT_STATE_SHIFT		3
#define FT_STATE_MASK		(0x3u << FT_STATE_SHIFT)

/*
 * One record per connection, 160 bytes (a jemalloc size class). The first
 * cache line holds what a lookup reads (node, key, bits), the second what
 * flow_update() and the decision cache write, the rest is cold.
 */
struct flow {
	struct cds_lfht_node node;
	struct flow_key key;
	uint32_t bits;			/* published with release */

	uint64_t packets[2];		/* relaxed atomics, by enum flow_dir */
	uint64_t bytes[2];
	uint64_t last_ns;
	uint64_t decision;		/* verdict | (uint64_t)mark << 32 */
	uint32_t decision_gen;		/* == table's gen: decision valid */
	uint32_t flags;			/* the user's, flow_flags_set() */
	uint64_t first_ns;

	void *slot;
	struct flowtable *ft;
	struct rcu_head rcu;
};

_Static_assert(sizeof(struct flow_key) == 44, "flow_key layout");
_Static_assert(offsetof(struct flow, bits) + sizeof(uint32_t) <= 64,
	       "lookup fields in the first cache line");
_Static_assert(sizeof(struct flow) == 160, "flow record size class");

/*
 * Fixed-size record allocator (flowtable/arena-*.c): a dedicated jemalloc
 * arena of one size class (no thread cache, so the arena's statistics are
 * exact), or malloc(3) without jemalloc (and under sanitizers). @count is
 * the most records the table will hold at once. ft_arena_get() may be
 * called by several threads at once.
 */
struct ft_arena;

struct ft_arena *ft_arena_new(size_t size, size_t count);
void ft_arena_free(struct ft_arena *arena);
void *ft_arena_get(struct ft_arena *arena);
void ft_arena_put(struct ft_arena *arena, void *ptr);
size_t ft_arena_record_bytes(const struct ft_arena *arena);

enum ft_timeout {
	FT_TIMEOUT_TCP_NEW,
	FT_TIMEOUT_TCP_ESTABLISHED,
	FT_TIMEOUT_TCP_CLOSING,
	FT_TIMEOUT_UDP_NEW,
	FT_TIMEOUT_UDP_ESTABLISHED,
	FT_TIMEOUT_ICMP,
	FT_TIMEOUT_OTHER,
	FT_TIMEOUT_MAX,
};

struct flowtable {
	/* read-mostly */
	struct cds_lfht *ht;
	struct ft_arena *arena;
	uint64_t secret[4];
	uint64_t timeout_ns[FT_TIMEOUT_MAX];
	uint64_t flow_max;
	uint64_t records_max;
	uint32_t decision_gen;
	uint64_t buckets_min;		/* initial size, never shrunk below */
	uint64_t buckets_max;
	/*
	 * Prefetch hints: per bucket index, the flow last found there, for
	 * flowtable_lookup_burst(). Only ever prefetched, never dereferenced:
	 * a stale or freed entry costs a wasted prefetch. buckets_max
	 * entries reserved, the first `buckets` of them used.
	 */
	uintptr_t *hint;
	struct flowtable_params params;

	/* bucket count, set by the resize callback (see flowtable.c) */
	uint64_t buckets;
	bool resize_queued;
	struct rcu_head resize_rcu;

	/* reaper and eviction, under maint_lock */
	pthread_mutex_t maint_lock;
	struct flow_key cursor_key;
	bool cursor_valid;

	/*
	 * written on inserts and removals. count: live flows in the low 32
	 * bits, allocated records (live + waiting for a grace period) in the
	 * high 32 bits, so that one CAS checks both limits.
	 */
	uint64_t count __attribute__((aligned(64)));
	uint64_t created;
	uint64_t races_lost;
	uint64_t full;
	uint64_t alloc_failed;
	uint64_t expired;
	uint64_t evicted;
	uint64_t deleted;
} __attribute__((aligned(64)));

static inline uint64_t ft_mum(uint64_t a, uint64_t b)
{
	__uint128_t r = (__uint128_t)a * b;

	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t ft_load64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t ft_load32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/*
 * Seeded hash of the 44-byte key: three chained 64x64->128 multiply-folds
 * (wyhash's mixing step) and a final fold. Keys are secret-salted so that
 * bucket placement cannot be predicted from outside.
 */
static inline uint64_t ft_key_hash(const uint64_t secret[4],
				   const struct flow_key *key)
{
	const uint8_t *p = (const uint8_t *)key;
	uint64_t tail;
	uint64_t h;

	tail = ft_load32(p + 40);
	h = ft_mum(ft_load64(p) ^ secret[1], ft_load64(p + 8) ^ secret[0]);
	h = ft_mum(ft_load64(p + 16) ^ secret[2], ft_load64(p + 24) ^ h);
	h = ft_mum(ft_load64(p + 32) ^ secret[3], tail ^ h);
	return ft_mum(h ^ secret[0], sizeof(*key) ^ secret[1]);
}

static inline bool ft_key_equal(const struct flow_key *a,
				const struct flow_key *b)
{
	const uint8_t *pa = (const uint8_t *)a;
	const uint8_t *pb = (const uint8_t *)b;
	uint64_t diff = ft_load32(pa + 40) ^ ft_load32(pb + 40);

	for (size_t i = 0; i < 40; i += 8)
		diff |= ft_load64(pa + i) ^ ft_load64(pb + i);
	return !diff;
}

/* seed -> secret words, splitmix64 */
void ft_secret_init(uint64_t secret[4], uint64_t seed);

/* key -> originator's view; @init_hi: the originator is the key's hi side */
void ft_key_tuple(const struct flow_key *key, bool init_hi,
		  struct flow_tuple *ret);

#endif /* NFQE_FLOWTABLE_INTERNAL_H */
