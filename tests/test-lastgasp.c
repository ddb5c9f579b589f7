// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for what the fatal-signal handler needs of a thread: an
 * alternate signal stack (lastgasp_thread_init/exit) and, for a thread
 * started with every signal blocked (liburcu >= 0.14 starts its call_rcu
 * threads so; a fault there would kill the process without any handler),
 * the fatal signals unblocked (lastgasp_thread_adopt). Each case runs in
 * a thread of its own, whose mask and stack it may change.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "lastgasp.h"

static const int fatal[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS };
#define NFATAL	(sizeof(fatal) / sizeof(fatal[0]))

/* Run @fn in a new thread; its result (0: passed). */
static int in_thread(void *(*fn)(void *))
{
	pthread_t t;
	void *ret;

	assert_int_equal(pthread_create(&t, NULL, fn, NULL), 0);
	assert_int_equal(pthread_join(t, &ret), 0);
	return (int)(intptr_t)ret;
}

#define FAIL_IF(cond)	do { if (cond) return (void *)(intptr_t)__LINE__; } while (0)

static bool has_altstack(void)
{
	stack_t ss;

	return sigaltstack(NULL, &ss) == 0 && !(ss.ss_flags & SS_DISABLE);
}

static void *adopt_thread(void *arg)
{
	sigset_t all, now;

	(void)arg;
	sigfillset(&all);
	FAIL_IF(pthread_sigmask(SIG_BLOCK, &all, NULL));
	lastgasp_thread_adopt();
	FAIL_IF(pthread_sigmask(SIG_BLOCK, NULL, &now));
	for (unsigned i = 0; i < NFATAL; i++)
		FAIL_IF(sigismember(&now, fatal[i]));
	/* only those: the others stay with the engine's signalfd */
	FAIL_IF(!sigismember(&now, SIGTERM));
	FAIL_IF(!sigismember(&now, SIGHUP));
	FAIL_IF(!sigismember(&now, SIGUSR1));
	FAIL_IF(!has_altstack());
	/* once per thread: a second call changes nothing */
	FAIL_IF(pthread_sigmask(SIG_BLOCK, &all, NULL));
	lastgasp_thread_adopt();
	FAIL_IF(pthread_sigmask(SIG_BLOCK, NULL, &now));
	FAIL_IF(!sigismember(&now, SIGSEGV));
	return NULL;
}

static void test_adopt(void **state)
{
	(void)state;
	assert_int_equal(in_thread(adopt_thread), 0);
}

static void *stack_thread(void *arg)
{
	stack_t ss;
	bool had = has_altstack();

	(void)arg;
	FAIL_IF(lastgasp_thread_init() != 0);
	FAIL_IF(sigaltstack(NULL, &ss) || (ss.ss_flags & SS_DISABLE));
	/* ours is 64 KiB; a sanitizer's, kept, may be smaller */
	FAIL_IF(!had && ss.ss_size != 64 * 1024);
	lastgasp_thread_exit();
	FAIL_IF(sigaltstack(NULL, &ss));
	/* taken back if it was ours, left alone if it was not */
	FAIL_IF(had == !!(ss.ss_flags & SS_DISABLE));
	return NULL;
}

static void test_thread_stack(void **state)
{
	(void)state;
	assert_int_equal(in_thread(stack_thread), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_adopt),
		cmocka_unit_test(test_thread_stack),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
