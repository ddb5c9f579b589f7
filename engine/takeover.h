/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * takeover.h - hand the bound queues of a running nfqe to a new one
 * without losing a packet (restart, upgrade).
 *
 * The new process connects to the running one's control socket and sends
 * "takeover A:B". The running one pauses its workers (each sends the
 * verdicts it holds; the queues stay bound; unread packets stay in the
 * sockets), closes its control socket, and answers with one message
 *	"ok takeover N PAUSED_NS Q1 ... QN\n"
 * carrying the N netlink sockets as SCM_RIGHTS, in that order. It then
 * exits without unbinding. The new process adopts the sockets, verdicts
 * what waited in them and goes on; the packets waited PAUSED_NS (the
 * CLOCK_MONOTONIC time of the pause) until then.
 */
#ifndef NFQE_TAKEOVER_H
#define NFQE_TAKEOVER_H

#include <stddef.h>
#include <stdint.h>

/* SCM_MAX_FD: the most descriptors one message may carry */
#define TAKEOVER_MAX_QUEUES	253

/*
 * takeover_send - the running side's answer on connection @conn.
 * 0 or -errno.
 */
int takeover_send(int conn, const unsigned *queues, const int *fds,
		  unsigned n, uint64_t paused_ns);

/*
 * takeover_request - the new side: ask the nfqe behind control socket
 * @path for queues @first..@last. On success *@ret_fds (caller frees, and
 * owns the descriptors) holds one socket per queue, in queue order, and
 * *@ret_paused_ns the pause time. Returns 0; -ENOENT or -ECONNREFUSED when
 * no nfqe listens there; other -errno with a reason in @err.
 */
int takeover_request(const char *path, unsigned first, unsigned last,
		     int **ret_fds, uint64_t *ret_paused_ns, char *err,
		     size_t errlen);

#endif
