/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the bench tools (nfqe-gen, nfqe-sink, nfqe-naive, nfqe-batchref)
 * share: CPU pinning, the ready file, the stop signals and, for the two
 * NFQUEUE readers, binding a queue.
 */
#ifndef NFQE_BENCH_TOOL_H
#define NFQE_BENCH_TOOL_H

#include <stdbool.h>
#include <stdint.h>

struct mnl_socket;

/* Pin the calling process to @cpu; on failure say so (as @prog) and run
 * unpinned. */
void tool_pin_cpu(const char *prog, int cpu);

/* Create @path holding "ready\n", complete (write, then rename), so that a
 * poller never sees it half. 0 or -errno. */
int tool_ready_file(const char *path);

/* SIGTERM, SIGINT and (after @timeout_s seconds) SIGALRM call @handler,
 * without SA_RESTART: a blocking receive returns EINTR. */
void tool_stop_signals(void (*handler)(int), unsigned long timeout_s);

#ifdef TOOL_NFQUEUE
/* Bind @queue on @nl: copy @copy_range bytes of each packet, GSO on,
 * fail-open when asked. 0 or -errno. */
int tool_queue_bind(struct mnl_socket *nl, uint16_t queue, uint32_t copy_range,
		    bool fail_open);
#endif

#endif /* NFQE_BENCH_TOOL_H */
