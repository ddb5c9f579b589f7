/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * notify.h - the service manager's notification protocol (sd_notify(3)),
 * through libsystemd.
 *
 * Every function is a no-op returning 0 when NOTIFY_SOCKET is not set
 * (nfqe not started by systemd), so callers need no checks. They return
 * > 0 when the message was sent, 0 when there is nobody to tell, or
 * -errno; nothing here logs. Main thread only (sd_notify is thread-safe,
 * but the order of READY/RELOADING/STOPPING only means something from one
 * thread).
 */
#ifndef NFQE_NOTIFY_H
#define NFQE_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

/* READY=1: every queue is bound; also ends a reload. */
int notify_ready(void);

/* RELOADING=1 with MONOTONIC_USEC= (as Type=notify-reload wants); send
 * notify_ready() when the reload is done, whether it worked or not. */
int notify_reloading(void);

/* STOPPING=1: shutting down, draining the queues. */
int notify_stopping(void);

/* STATUS=...: one line for `systemctl status`. */
int notify_status(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/*
 * notify_watchdog_enabled - whether the manager expects WATCHDOG=1 pings
 * (WatchdogSec= in the unit, for this PID). On true, @ret_usec is the
 * watchdog timeout; ping at least every half of it.
 */
bool notify_watchdog_enabled(uint64_t *ret_usec);

/* WATCHDOG=1: the main loop runs and every worker makes progress. */
int notify_watchdog(void);

#endif
