/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * log.h - logging to stderr, systemd style.
 *
 * Each line may start with an sd-daemon priority prefix ("<3>"), so that
 * journald keeps the level: on by default when stderr is the journal
 * (JOURNAL_STREAM is set), configurable. Data-path warnings go through a
 * rate limiter and are always counted by the caller as well.
 */
#ifndef NFQE_LOG_H
#define NFQE_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

void log_set_level(int prio);
/* Parse "err", "warning", "notice", "info", "debug". -1 if unknown. */
int log_level_parse(const char *s);

void nfqe_log(int prio, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...)	nfqe_log(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	nfqe_log(LOG_WARNING, __VA_ARGS__)
#define log_notice(...)	nfqe_log(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)	nfqe_log(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	nfqe_log(LOG_DEBUG, __VA_ARGS__)

/* At most @burst messages per second; the rest are counted in @missed and
 * reported with the next message let through. One owner thread. */
struct ratelimit {
	uint64_t	window_ns;
	unsigned	burst;
	unsigned	printed;
	unsigned	missed;
};

#define RATELIMIT_INIT	{ 0, 5, 0, 0 }

/* true if a message may be printed now; @ret_missed: messages suppressed
 * since the last one printed. */
bool ratelimit_ok(struct ratelimit *rl, unsigned *ret_missed);

#endif
