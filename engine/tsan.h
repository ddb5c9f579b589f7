/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ThreadSanitizer annotations for what RCU guarantees.
 *
 * TSan sees neither liburcu's publication (rcu_xchg_pointer(),
 * rcu_dereference()) nor its grace periods: liburcu is not instrumented.
 * The annotations model exactly what RCU guarantees: the publisher releases
 * the new object and a reader acquires it; a reader releases a "grace"
 * object when it is done (at its quiescent state), and whoever frees after
 * the grace period acquires it first; call_rcu() hands the old object over
 * (release before, acquire in the callback). Compiled out without TSan.
 * The flow table, which must not depend on the engine, has its own copy
 * (flowtable/flowtable-internal.h).
 */
#ifndef NFQE_TSAN_H
#define NFQE_TSAN_H

#if defined(__SANITIZE_THREAD__)
#define NFQE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define NFQE_TSAN 1
#endif
#endif

#ifdef NFQE_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);

static inline void tsan_release(const void *addr)
{
	__tsan_release((void *)addr);
}

static inline void tsan_acquire(const void *addr)
{
	__tsan_acquire((void *)addr);
}
#else
static inline void tsan_release(const void *addr)
{
	(void)addr;
}

static inline void tsan_acquire(const void *addr)
{
	(void)addr;
}
#endif

#endif /* NFQE_TSAN_H */
