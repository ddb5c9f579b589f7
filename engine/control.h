/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * control.h - the control socket: a unix stream socket that answers one
 * request line per connection (status, stats [json], queues, rules, flows N,
 * reload, metrics, sample), for nfqectl(8) and scripts.
 *
 * The answer's first line is "ok" or "error: REASON"; then the server
 * closes. Peers must be root or members of the configured group
 * (SO_PEERCRED, then the user's groups from getgrouplist(3)); others get
 * "error: permission denied" and are counted.
 *
 * Everything here runs in the engine's main thread, which also reads
 * signals: a connection is given at most 1 s to send its request and 2 s
 * to take the answer, then it is dropped.
 */
#ifndef NFQE_CONTROL_H
#define NFQE_CONTROL_H

#include <stdint.h>
#include <stdio.h>

#include "engine.h"
#include "metrics.h"

struct control;

/*
 * Writes the @n largest flows to @out, one per line, for `flows N`.
 * Called in the main thread. 0 or -errno.
 */
typedef int (*control_flows_fn)(void *ctx, unsigned n, FILE *out);

/*
 * control_new - listen on the unix socket @path for @e.
 *
 * Creates @path's parent directory if it is missing (mode 0750, group
 * @group), replaces a stale socket (nobody answering), and refuses to
 * start when another process listens there. The socket is mode 0660,
 * owner root, group @group. @group NULL or "": root only.
 *
 * Returns the server, or NULL with errno set and the reason in @err
 * (e.g. "control socket /run/nfqe/nfqe.sock: another nfqe is listening").
 */
struct control *control_new(struct engine *e, const char *path,
			    const char *group, char *err, size_t errlen);

/* The listening socket, to poll for POLLIN; -1 for a NULL @c. */
int control_fd(const struct control *c);

/*
 * control_handle - on POLLIN: accept the waiting connections (a bounded
 * number per call), answer each, close it. Never fails; problems are
 * logged (rate-limited) and the connection dropped.
 */
void control_handle(struct control *c);

/* Set the flow table's `flows N` writer. Until then `flows` answers
 * "error: flows: no flow table in this build". */
void control_set_flows(struct control *c, control_flows_fn fn, void *ctx);

/*
 * The "takeover A:B" request (root peers only): @fn answers on the
 * connection @conn itself (takeover.h) and returns 0, or -1 with a reason
 * in @err that the control socket sends as "error: ...".
 */
typedef int (*control_takeover_fn)(void *ctx, int conn, const char *arg,
				   char *err, size_t errlen);
void control_set_takeover(struct control *c, control_takeover_fn fn,
			  void *ctx);

/* Close and unlink the listening socket now (a takeover: the next nfqe
 * creates its own); control_fd() is -1 afterwards. */
void control_release(struct control *c);

/* More metric families for the `metrics` answer (see metrics.h). */
void control_set_metrics_hook(struct control *c, metrics_hook_fn fn,
			      void *ctx);

/*
 * control_metrics_extra - what the control module adds to an exposition
 * (refused peers, the metrics hook), for the textfile. @c may be NULL;
 * @ret->ct is left for the caller.
 */
void control_metrics_extra(const struct control *c,
			   struct metrics_extra *ret);

/* Close and unlink the socket. NULL is fine. */
void control_free(struct control *c);

#endif
