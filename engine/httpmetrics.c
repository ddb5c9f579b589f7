// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * httpmetrics.c - GET /metrics over HTTP (see httpmetrics.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "config.h"
#include "httpmetrics.h"

#define HM_CONN_MEMORY	(32 * 1024)	/* per connection: a GET's headers */

struct httpmetrics {
	struct MHD_Daemon	*d;
	httpmetrics_render_fn	render;
	void			*ctx;
	char			last_err[160];	/* libmicrohttpd's last log */
};

static void hm_log(void *cls, const char *fmt, va_list ap)
{
	struct httpmetrics *h = cls;
	size_t n;

	vsnprintf(h->last_err, sizeof(h->last_err), fmt, ap);
	n = strlen(h->last_err);
	while (n && (h->last_err[n - 1] == '\n' || h->last_err[n - 1] == '.'))
		h->last_err[--n] = '\0';
}

/* Queue @r (NULL: out of memory, the connection closes) with @status. */
static enum MHD_Result hm_queue(struct MHD_Connection *conn, unsigned status,
				struct MHD_Response *r, const char *type)
{
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result hm_reply(struct MHD_Connection *conn, unsigned status,
				const char *text)
{
	return hm_queue(conn, status,
			MHD_create_response_from_buffer(strlen(text),
							(void *)text,
							MHD_RESPMEM_PERSISTENT),
			"text/plain; charset=utf-8");
}

static enum MHD_Result hm_metrics(struct httpmetrics *h,
				  struct MHD_Connection *conn)
{
	struct MHD_Response *r;
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	int err = out ? h->render(h->ctx, out) : -errno;

	if (out && fclose(out) && !err)
		err = -EIO;
	if (err) {
		free(buf);
		return hm_reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
				"nfqe: no report\n");
	}
	r = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
	if (!r)
		free(buf);
	return hm_queue(conn, MHD_HTTP_OK, r,
			"text/plain; version=0.0.4; charset=utf-8");
}

static enum MHD_Result hm_answer(void *cls, struct MHD_Connection *conn,
				 const char *url, const char *method,
				 const char *version, const char *upload,
				 size_t *upload_size, void **con_cls)
{
	struct httpmetrics *h = cls;

	(void)version;
	(void)upload;
	(void)con_cls;
	/* a body is not read: the answer (405) comes first, then close */
	*upload_size = 0;
	if (strcmp(method, MHD_HTTP_METHOD_GET) &&
	    strcmp(method, MHD_HTTP_METHOD_HEAD))
		return hm_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				"nfqe: GET /metrics\n");
	if (strcmp(url, "/metrics"))
		return hm_reply(conn, MHD_HTTP_NOT_FOUND,
				"nfqe: not found; the metrics are at /metrics\n");
	return hm_metrics(h, conn);
}

struct httpmetrics *httpmetrics_new(const char *listen,
				    httpmetrics_render_fn render, void *ctx,
				    char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct httpmetrics *h;
	socklen_t sslen;
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;

	if (config_parse_listen(listen, &ss, &sslen) < 0) {
		snprintf(err, errlen, "metrics_listen '%s': not ADDRESS:PORT",
			 listen);
		errno = EINVAL;
		return NULL;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(err, errlen, "metrics_listen: out of memory");
		return NULL;
	}
	h->render = render;
	h->ctx = ctx;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, hm_answer, h,
				MHD_OPTION_EXTERNAL_LOGGER, hm_log, h,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				MHD_OPTION_CONNECTION_LIMIT,
				(unsigned)HM_CONN_MAX,
				MHD_OPTION_CONNECTION_TIMEOUT,
				(unsigned)HM_CONN_TIMEOUT_S,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT,
				(size_t)HM_CONN_MEMORY,
				MHD_OPTION_END);
	if (!h->d) {
		/* "Failed to bind to port 0: Address already in use": the
		 * port it names is the unused argument; keep the reason */
		const char *why = strrchr(h->last_err, ':');
		int saved = errno ? errno : EADDRNOTAVAIL;

		if (why && why[1] == ' ' && why[2])
			why += 2;
		else
			why = h->last_err[0] ? h->last_err : "cannot listen";
		snprintf(err, errlen, "metrics_listen %s: %s", listen, why);
		free(h);
		errno = saved;
		return NULL;
	}
	return h;
}

int httpmetrics_fd(const struct httpmetrics *h)
{
	const union MHD_DaemonInfo *i;

	if (!h)
		return -1;
	i = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
	return i ? i->epoll_fd : -1;
}

void httpmetrics_timeout(const struct httpmetrics *h, int *timeout_ms)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (!h || MHD_get_timeout(h->d, &ms) != MHD_YES)
		return;
	if (ms > 1000000)
		ms = 1000000;
	if (*timeout_ms < 0 || (int)ms < *timeout_ms)
		*timeout_ms = (int)ms;
}

void httpmetrics_run(struct httpmetrics *h)
{
	if (h)
		MHD_run(h->d);
}

void httpmetrics_free(struct httpmetrics *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d);
	free(h);
}
