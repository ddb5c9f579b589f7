/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * httpmetrics.h - GET /metrics over HTTP for a Prometheus server to scrape
 * ([control] metrics_listen), served by libmicrohttpd.
 *
 * No thread of its own: the daemon runs in libmicrohttpd's external epoll
 * mode, its one descriptor polled by the engine's main loop next to the
 * signals and the control socket, and each scrape renders a fresh report
 * there (as `nfqectl metrics` does). At most HM_CONN_MAX connections, each
 * given HM_CONN_TIMEOUT_S of silence: a slow or stuck scraper cannot hold
 * the main loop, which never blocks on a connection.
 *
 *   GET or HEAD /metrics   200, text/plain; version=0.0.4
 *   any other path         404
 *   any other method       405 (Allow: GET, HEAD)
 */
#ifndef NFQE_HTTPMETRICS_H
#define NFQE_HTTPMETRICS_H

#include <stdio.h>

#define HM_CONN_MAX		16
#define HM_CONN_TIMEOUT_S	10

struct httpmetrics;

/* Writes the whole exposition to @out. 0, or -errno (the scrape then
 * gets 500). Called in the main thread. */
typedef int (*httpmetrics_render_fn)(void *ctx, FILE *out);

/*
 * httpmetrics_new - listen on @listen, "ADDRESS:PORT" or "[ADDRESS]:PORT"
 * (numeric; config_parse_listen() checked it). NULL with errno set and
 * the reason in @err (the address in use, permission denied...).
 */
struct httpmetrics *httpmetrics_new(const char *listen,
				    httpmetrics_render_fn render, void *ctx,
				    char *err, size_t errlen);

/* The descriptor to poll for input (-1 for NULL). */
int httpmetrics_fd(const struct httpmetrics *h);

/* Lower *@timeout_ms (poll()'s, -1: none) to when connections time out. */
void httpmetrics_timeout(const struct httpmetrics *h, int *timeout_ms);

/* Accept, read and answer what is ready, and drop timed-out connections;
 * never blocks. Nothing for NULL. */
void httpmetrics_run(struct httpmetrics *h);

/* Stop listening and close every connection. */
void httpmetrics_free(struct httpmetrics *h);

#endif
