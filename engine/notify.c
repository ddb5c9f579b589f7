// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * sd_notify(3) messages. libsystemd does the socket work (abstract or
 * path NOTIFY_SOCKET, credentials); this file only spells the messages.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "notify.h"

int notify_ready(void)
{
	return sd_notify(0, "READY=1");
}

int notify_reloading(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
			  (unsigned long long)ts.tv_sec * 1000000ull +
			  (unsigned long long)ts.tv_nsec / 1000);
}

int notify_stopping(void)
{
	return sd_notify(0, "STOPPING=1");
}

int notify_status(const char *fmt, ...)
{
	char status[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(status, sizeof(status), fmt, ap);
	va_end(ap);
	return sd_notifyf(0, "STATUS=%s", status);
}

bool notify_watchdog_enabled(uint64_t *ret_usec)
{
	uint64_t usec;

	if (sd_watchdog_enabled(0, &usec) <= 0 || !usec)
		return false;
	*ret_usec = usec;
	return true;
}

int notify_watchdog(void)
{
	return sd_notify(0, "WATCHDOG=1");
}
