// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"

static int log_level = LOG_INFO;

void log_set_level(int prio)
{
	__atomic_store_n(&log_level, prio, __ATOMIC_RELAXED);
}

static int log_get_level(void)
{
	return __atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

int log_level_parse(const char *s)
{
	static const struct {
		const char *name;
		int prio;
	} names[] = {
		{ "err", LOG_ERR }, { "error", LOG_ERR },
		{ "warning", LOG_WARNING }, { "warn", LOG_WARNING },
		{ "notice", LOG_NOTICE }, { "info", LOG_INFO },
		{ "debug", LOG_DEBUG },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(s, names[i].name))
			return names[i].prio;
	return -1;
}

void nfqe_log(int prio, const char *fmt, ...)
{
	char line[1024];
	int n = 0;
	va_list ap;

	if (prio > log_get_level())
		return;
	/* under systemd (stderr to the journal): a <priority> prefix */
	if (getenv("JOURNAL_STREAM"))
		n = snprintf(line, sizeof(line), "<%d>", prio);
	n += snprintf(line + n, sizeof(line) - n, "nfqe: ");
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	/* one write per line, so lines of several threads never interleave */
	fprintf(stderr, "%s\n", line);
}

bool ratelimit_ok(struct ratelimit *rl, unsigned *ret_missed)
{
	struct timespec ts;
	uint64_t now;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
	if (now - rl->window_ns >= 1000000000ull) {
		rl->window_ns = now;
		rl->printed = 0;
	}
	if (rl->printed >= rl->burst) {
		rl->missed++;
		return false;
	}
	rl->printed++;
	*ret_missed = rl->missed;
	rl->missed = 0;
	return true;
}
