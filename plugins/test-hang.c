// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * test-hang - a misbehaving plug-in for tests (not installed): its inspect
 * hangs, crashes or fails on command, and it can trace its life cycle.
 *
 *	[inspector bad]
 *	path = test-hang.so
 *	action = hang         ; accept | drop | hang | crash | error
 *	after = 100           ; behave (accept) for the instance's first 100
 *	                      ; packets, then do action (default 0)
 *	hang = sleep          ; sleep | spin (busy loop)
 *	hang_ms = 0           ; how long a hang lasts, 0: forever
 *	crash = segv          ; segv | abort | stack (recurse until the
 *	                      ; stack overflows) | syscall (one that nfqe's
 *	                      ; seccomp allowlist lacks: syslog(2))
 *	wait_file = /tmp/go   ; before the action, wait until this file
 *	                      ; exists (the test says when; 10 ms polls)
 *	slot = yes            ; allocate a per-flow slot (flow_free checks)
 *	free_crash = yes      ; flow_free (in liburcu's call_rcu thread)
 *	                      ; waits for wait_file, then faults (a store
 *	                      ; to an unmapped address)
 *	trace = /tmp/t.log    ; append "init", "inspect" (first only),
 *	                      ; "flow_free", "fini" lines
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <nfqe/inspector.h>

enum th_action {
	TH_ACCEPT,
	TH_DROP,
	TH_HANG,
	TH_CRASH,
	TH_ERROR,
};

enum th_crash {
	TH_SEGV,
	TH_ABORT,
	TH_STACK,
	TH_SYSCALL,
};

struct test_hang {
	enum th_action		action;
	unsigned long long	after;
	int			spin;
	unsigned long		hang_ms;
	int			crash;		/* enum th_crash */
	char			*wait_file;
	int			slot;
	int			free_crash;
	int			trace_fd;
	atomic_ullong		packets;
};

/* Recurse until the stack overflows (a real fault, not a raise()): a
 * frame the compiler can neither fold into a loop nor drop. */
static unsigned long recurse(unsigned long depth)
{
	volatile char frame[256];

	if (!depth)	/* never: the stack ends long before depth wraps */
		return 0;
	frame[0] = (char)depth;
	frame[sizeof(frame) - 1] = (char)depth;
	return recurse(depth + 1) + frame[0] + frame[sizeof(frame) - 1];
}

static void trace(const struct test_hang *t, const char *what)
{
	char line[64];
	int n;

	if (t->trace_fd < 0)
		return;
	n = snprintf(line, sizeof(line), "%s\n", what);
	/* one write(2) per line with O_APPEND: lines never interleave */
	if (write(t->trace_fd, line, (size_t)n) < 0)
		return;
}

static int parse_ull(const char *key, const char *s, unsigned long long *ret,
		     char *err, size_t errlen)
{
	char *end;

	errno = 0;
	*ret = strtoull(s, &end, 0);
	if (!*s || *end || errno || *s == '-') {
		snprintf(err, errlen, "%s: '%s' is not a number", key, s);
		return -1;
	}
	return 0;
}

static int one_of(const char *key, const char *v, const char *const *names,
		  int *ret, char *err, size_t errlen)
{
	for (int i = 0; names[i]; i++) {
		if (!strcasecmp(v, names[i])) {
			*ret = i;
			return 0;
		}
	}
	snprintf(err, errlen, "%s: '%s' is not valid", key, v);
	return -1;
}

static void th_fini(void *instance)
{
	struct test_hang *t = instance;

	trace(t, "fini");
	if (t->trace_fd >= 0)
		close(t->trace_fd);
	free(t->wait_file);
	free(t);
}

static void *th_init(const struct nfqe_kv *kv, unsigned nkv, char *err,
		     size_t errlen)
{
	static const char *const actions[] = {
		"accept", "drop", "hang", "crash", "error", NULL };
	static const char *const hangs[] = { "sleep", "spin", NULL };
	static const char *const crashes[] = {
		"segv", "abort", "stack", "syscall", NULL };
	static const char *const yesno[] = { "no", "yes", NULL };
	struct test_hang *t = calloc(1, sizeof(*t));
	unsigned long long v;
	int i = 0, r = 0;

	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	t->trace_fd = -1;
	for (unsigned k = 0; k < nkv && !r; k++) {
		const char *key = kv[k].key, *val = kv[k].value;

		if (!strcmp(key, "action")) {
			r = one_of(key, val, actions, &i, err, errlen);
			t->action = (enum th_action)i;
		} else if (!strcmp(key, "after")) {
			r = parse_ull(key, val, &t->after, err, errlen);
		} else if (!strcmp(key, "hang")) {
			r = one_of(key, val, hangs, &t->spin, err, errlen);
		} else if (!strcmp(key, "hang_ms")) {
			r = parse_ull(key, val, &v, err, errlen);
			t->hang_ms = (unsigned long)v;
		} else if (!strcmp(key, "crash")) {
			r = one_of(key, val, crashes, &t->crash, err, errlen);
		} else if (!strcmp(key, "wait_file")) {
			free(t->wait_file);
			t->wait_file = strdup(val);
			if (!t->wait_file) {
				snprintf(err, errlen, "out of memory");
				r = -1;
			}
		} else if (!strcmp(key, "slot")) {
			r = one_of(key, val, yesno, &t->slot, err, errlen);
		} else if (!strcmp(key, "free_crash")) {
			r = one_of(key, val, yesno, &t->free_crash, err,
				   errlen);
		} else if (!strcmp(key, "trace")) {
			if (t->trace_fd >= 0)
				close(t->trace_fd);
			t->trace_fd = open(val, O_WRONLY | O_CREAT | O_APPEND |
					   O_CLOEXEC, 0644);
			if (t->trace_fd < 0) {
				snprintf(err, errlen, "trace: %s: %s", val,
					 strerror(errno));
				r = -1;
			}
		} else {
			snprintf(err, errlen, "unknown key '%s'", key);
			r = -1;
		}
	}
	if (r) {
		th_fini(t);
		return NULL;
	}
	trace(t, "init");
	return t;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void hang(const struct test_hang *t)
{
	uint64_t end = mono_ms() + t->hang_ms;
	volatile unsigned long spins = 0;

	while (!t->hang_ms || mono_ms() < end) {
		if (t->spin) {
			spins++;
		} else {
			struct timespec ts = { 0, 10 * 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
	}
}

/* Die as @t's crash says; SIGSEGV when that did not (a system call the
 * filter let through). */
static void crash(const struct test_hang *t)
{
	switch (t->crash) {
	case TH_ABORT:
		abort();
	case TH_STACK:
		(void)recurse(1);
		break;
	case TH_SYSCALL:	/* klogctl's buffer size */
		(void)syscall(SYS_syslog, 10, NULL, 0);
		break;
	}
	raise(SIGSEGV);
}

/* Sleep until @t's wait_file exists (10 ms polls); nothing without one. */
static void wait_for_file(const struct test_hang *t)
{
	while (t->wait_file && access(t->wait_file, F_OK)) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
}

static enum nfqe_insp_verdict th_inspect(void *instance,
					 const struct nfqe_insp_packet *pkt,
					 void **flow_slot, uint32_t *ret_mark)
{
	struct test_hang *t = instance;
	unsigned long long n = atomic_fetch_add(&t->packets, 1);

	if (!n)
		trace(t, "inspect");
	if (t->slot && flow_slot && !*flow_slot) {
		*flow_slot = malloc(16);
		if (!*flow_slot)
			return NFQE_INSP_ERROR;
	}
	if (n < t->after)
		return NFQE_INSP_ACCEPT;
	wait_for_file(t);
	switch (t->action) {
	case TH_ACCEPT:
		return NFQE_INSP_ACCEPT;
	case TH_DROP:
		return NFQE_INSP_DROP;
	case TH_HANG:
		hang(t);
		return NFQE_INSP_ACCEPT;
	case TH_CRASH:
		crash(t);
		return NFQE_INSP_ERROR;
	case TH_ERROR:
		return NFQE_INSP_ERROR;
	}
	return NFQE_INSP_ERROR;
}

static void th_flow_free(void *instance, void *slot)
{
	struct test_hang *t = instance;

	trace(t, "flow_free");
	free(slot);
	if (t->free_crash) {
		wait_for_file(t);
		/* a real fault, which the kernel delivers even to a thread
		 * that blocks SIGSEGV (a raise() would stay pending there) */
		*(volatile int *)(uintptr_t)4096 = 1;
	}
}

static const struct nfqe_inspector th_inspector = {
	.abi_version	= NFQE_INSPECTOR_ABI_VERSION,
	.name		= "test-hang",
	.init		= th_init,
	.inspect	= th_inspect,
	.flow_free	= th_flow_free,
	.fini		= th_fini,
};

NFQE_INSPECTOR_EXPORT const struct nfqe_inspector *nfqe_inspector_entry(void)
{
	return &th_inspector;
}
