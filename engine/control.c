// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The control socket's server side. It lives in the main thread next to
 * the signalfd, so a request sees the engine exactly as a signal would
 * (a reload from here is the same engine_reload() as SIGHUP) and needs no
 * locking. The price is that a slow peer could hold the main thread: the
 * accepted sockets are non-blocking and every read and write waits in
 * poll() against a deadline, so a peer costs at most 3 s.
 *
 * The answer is built in memory first (open_memstream), so that its first
 * line can say "ok" or "error: ..." whatever the writer found half way.
 */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <libgen.h>
#include <poll.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "nfqe-config.h"
#include "control.h"
#include "log.h"

#define CTL_REQUEST_MAX		256	/* bytes of a request line */
#define CTL_READ_MS		1000	/* for the peer to send its request */
#define CTL_WRITE_MS		2000	/* for the peer to take the answer */
#define CTL_ACCEPT_MAX		16	/* connections served per call */
#define CTL_FLOWS_MAX		100000

struct control {
	struct engine		*e;
	int			fd;
	char			*path;
	char			*group;		/* NULL: root only */
	gid_t			gid;
	uint64_t		start_ns;
	uint64_t		refused;
	struct ratelimit	rl;
	control_flows_fn	flows;
	void			*flows_ctx;
	metrics_hook_fn		metrics_hook;
	void			*metrics_hook_ctx;
	control_takeover_fn	takeover;
	void			*takeover_ctx;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Milliseconds left until @deadline_ns, 0 when past. */
static int ms_left(uint64_t deadline_ns)
{
	uint64_t now = now_ns();

	return now >= deadline_ns ? 0 :
	       (int)((deadline_ns - now + 999999) / 1000000);
}

/* Is something listening on @path? 1 yes, 0 no (stale), -errno. */
static int socket_alive(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, ret;

	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	ret = ret == 0 ? 1 : errno == ECONNREFUSED ? 0 : -errno;
	close(fd);
	return ret;
}

static int make_parent(const char *path, const struct control *c)
{
	char *copy = strdup(path), *dir;
	struct stat st;
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	dir = dirname(copy);
	if (stat(dir, &st) == 0)
		goto out;
	if (errno != ENOENT || mkdir(dir, 0750) < 0) {
		ret = -errno;
		goto out;
	}
	/* mkdir's mode went through the umask; say it again */
	if (chmod(dir, 0750) < 0 ||
	    (c->group && chown(dir, 0, c->gid) < 0))
		ret = -errno;
out:
	free(copy);
	return ret;
}

struct control *control_new(struct engine *e, const char *path,
			    const char *group, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct control *c;
	struct stat st;
	mode_t mask;
	int ret;

	if (!path || !*path || strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "control socket '%s': path empty or "
			 "longer than %zu bytes", path ? path : "",
			 sizeof(sa.sun_path) - 1);
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "control socket: out of memory");
		return NULL;
	}
	c->e = e;
	c->fd = -1;
	c->start_ns = now_ns();
	c->rl = (struct ratelimit)RATELIMIT_INIT;
	c->path = strdup(path);
	if (!c->path)
		goto err_nomem;
	if (group && *group) {
		struct group gr, *grp = NULL;
		char buf[4096];

		ret = getgrnam_r(group, &gr, buf, sizeof(buf), &grp);
		if (ret || !grp) {
			errno = ret ? ret : ENOENT;
			snprintf(err, errlen, "control group '%s': %s", group,
				 ret ? strerror(ret) : "no such group");
			goto err_free;
		}
		c->gid = gr.gr_gid;
		c->group = strdup(group);
		if (!c->group)
			goto err_nomem;
	}

	ret = make_parent(path, c);
	if (ret < 0) {
		errno = -ret;
		snprintf(err, errlen, "control socket %s: creating its "
			 "directory: %s", path, strerror(-ret));
		goto err_free;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			errno = EEXIST;
			snprintf(err, errlen, "control socket %s: exists and "
				 "is not a socket", path);
			goto err_free;
		}
		ret = socket_alive(path);
		if (ret != 0) {
			errno = ret > 0 ? EADDRINUSE : -ret;
			snprintf(err, errlen, "control socket %s: %s", path,
				 ret > 0 ? "another nfqe is listening" :
				 strerror(-ret));
			goto err_free;
		}
		unlink(path);	/* stale: its nfqe died */
	}

	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		goto err_errno;
	strcpy(sa.sun_path, path);
	/* no window in which the socket is wider open than 0660 */
	mask = umask(0117);
	ret = bind(c->fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(mask);
	if (ret < 0)
		goto err_errno;
	if ((c->group && chown(path, 0, c->gid) < 0) ||
	    chmod(path, 0660) < 0 || listen(c->fd, 16) < 0) {
		ret = errno;
		unlink(path);
		errno = ret;
		goto err_errno;
	}
	log_info("control socket %s (%s)", path,
		 c->group ? c->group : "root only");
	return c;

err_errno:
	snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
	goto err_free;
err_nomem:
	errno = ENOMEM;
	snprintf(err, errlen, "control socket: out of memory");
err_free:
	ret = errno;
	if (c->fd >= 0)
		close(c->fd);
	free(c->path);
	free(c->group);
	free(c);
	errno = ret;
	return NULL;
}

void control_release(struct control *c)
{
	if (!c || c->fd < 0)
		return;
	close(c->fd);
	unlink(c->path);
	c->fd = -1;
}

void control_set_takeover(struct control *c, control_takeover_fn fn,
			  void *ctx)
{
	c->takeover = fn;
	c->takeover_ctx = ctx;
}

void control_free(struct control *c)
{
	if (!c)
		return;
	control_release(c);
	free(c->path);
	free(c->group);
	free(c);
}

int control_fd(const struct control *c)
{
	return c ? c->fd : -1;
}

void control_set_flows(struct control *c, control_flows_fn fn, void *ctx)
{
	c->flows = fn;
	c->flows_ctx = ctx;
}

void control_set_metrics_hook(struct control *c, metrics_hook_fn fn,
			      void *ctx)
{
	c->metrics_hook = fn;
	c->metrics_hook_ctx = ctx;
}

void control_metrics_extra(const struct control *c,
			   struct metrics_extra *ret)
{
	ret->control_refused = c ? c->refused : 0;
	ret->hook = c ? c->metrics_hook : NULL;
	ret->hook_ctx = c ? c->metrics_hook_ctx : NULL;
}

/* Root, or a member of the group: the peer process's own gid, or the
 * user's primary or supplementary groups in the user database. */
static bool peer_allowed(const struct control *c, const struct ucred *cr)
{
	struct passwd pw, *pwp = NULL;
	gid_t groups_buf[64], *groups = groups_buf;
	int ngroups = 64;
	bool member = false;
	char buf[4096];

	if (cr->uid == 0)
		return true;
	if (!c->group)
		return false;
	if (cr->gid == c->gid)
		return true;
	if (getpwuid_r(cr->uid, &pw, buf, sizeof(buf), &pwp) || !pwp)
		return false;
	if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &ngroups) < 0) {
		groups = calloc((size_t)ngroups, sizeof(*groups));
		if (!groups ||
		    getgrouplist(pw.pw_name, pw.pw_gid, groups, &ngroups) < 0)
			ngroups = 0;
	}
	for (int i = 0; i < ngroups && !member; i++)
		member = groups[i] == c->gid;
	if (groups != groups_buf)
		free(groups);
	return member;
}

/* ---- the requests ----------------------------------------------------- */

static const char ctl_requests[] =
	"status, stats [json], queues, rules, flows N, reload, metrics, sample";

static void answer_status(struct control *c, const struct report *r,
			  FILE *out)
{
	const struct worker_stats *s = &r->total;
	const struct nfq_kstats *k = &r->ktotal;

	fprintf(out, "%-16s %s\n%-16s %d\n%-16s %" PRIu64 "\n",
		"version", NFQE_VERSION, "pid", (int)getpid(), "uptime_s",
		(uint64_t)((now_ns() - c->start_ns) / 1000000000ull));
	if (r->nqueues)
		fprintf(out, "%-16s %u:%u\n", "queues", r->q[0].queue,
			r->q[r->nqueues - 1].queue);
	fprintf(out, "%-16s %u\n%-16s %" PRIu64 "\n%-16s %" PRIu64 "\n"
		"%-16s %" PRIu64 "\n%-16s %" PRIu64 "\n%-16s %" PRIu64 "\n"
		"%-16s %" PRIu64 "\n%-16s %" PRIu32 "\n%-16s %" PRIu64 "\n"
		"%-16s %" PRIu64 "\n",
		"workers", r->nqueues, "packets", s->packets,
		"accepted", s->verdicts[VK_ACCEPT],
		"dropped", s->verdicts[VK_DROP],
		"malformed", s->malformed, "enobufs", s->enobufs,
		"kernel_queued", k->id_sequence, "kernel_waiting",
		k->queue_total, "kernel_qdropped", k->queue_dropped,
		"kernel_udropped", k->user_dropped);
	fprintf(out, "%-16s %s\n%-16s %s\n", "control_group",
		c->group ? c->group : "(root only)", "flow_table",
		c->flows ? "yes" : "no");
	if (r->have_ct)
		fprintf(out, "%-16s clashres %" PRIu64 " insert_failed %"
			PRIu64 " drop %" PRIu64 " early_drop %" PRIu64 "\n",
			"conntrack", r->ct.clashres, r->ct.insert_failed,
			r->ct.drop, r->ct.early_drop);
	else
		fprintf(out, "%-16s n/a\n", "conntrack");
}

static void answer_queues(const struct report *r, FILE *out)
{
	fprintf(out, "%5s %4s %12s %12s %8s %9s %9s %9s %8s\n", "queue",
		"cpu", "packets", "k_queued", "k_gap", "k_waiting", "k_qdrop",
		"k_udrop", "k_portid");
	for (unsigned i = 0; i < r->nqueues; i++) {
		const struct queue_report *q = &r->q[i];

		fprintf(out, "%5u %4d %12" PRIu64, q->queue, q->cpu,
			q->st.packets);
		if (q->kstats_err) {
			fprintf(out, " %12s %8s %9s %9s %9s %8s\n", "-", "-",
				"-", "-", "-", "unbound");
			continue;
		}
		/* id_sequence is the kernel's 32-bit packet id: the gap is
		 * what it queued that nfqe has not read (in flight, or
		 * lost to a full socket) */
		fprintf(out, " %12" PRIu64 " %8" PRIu32 " %9" PRIu32
			" %9" PRIu64 " %9" PRIu64 " %8" PRIu32 "\n",
			q->k.id_sequence,
			(uint32_t)q->k.id_sequence - (uint32_t)q->st.packets,
			q->k.queue_total, q->k.queue_dropped,
			q->k.user_dropped, q->k.portid);
	}
}

/* What decided the packets: each rule, the default, the flows' cache. */
static void answer_rules(const struct report *r, FILE *out)
{
	fprintf(out, "%7s %14s  %s\n", "rule", "packets", "text");
	for (unsigned i = 0; i < r->nrules; i++)
		fprintf(out, "%7u %14" PRIu64 "  %s\n", i + 1,
			r->rules[i].packets, r->rules[i].text);
	fprintf(out, "%7s %14" PRIu64 "  %s\n", "default", r->rule_default,
		r->default_text);
	fprintf(out, "%7s %14" PRIu64 "  %s\n", "cached", r->rule_cached,
		"(the flow's cached decision)");
}

/* Counters and hold buckets for `nfqectl top`, one record per line:
 *   time_ns NS
 *   ct CLASHRES INSERT_FAILED DROP EARLY_DROP      ("ct -" without)
 *   o MODE FLOWS BELOW_DEPTH UNSUPPORTED LOOPS SET_REFUSED SET_UNSENT
 *     BYPASSES (offload counters, process-wide; "o -" without offload;
 *     BYPASSES last: readers of the older record stop before it)
 *   q QUEUE CPU PACKETS BYTES ACCEPT DROP ENOBUFS MALFORMED K_WAITING
 *     K_QDROP K_UDROP K_QUEUED CPU_NS -
 *     (the last field is "-": offload counts per process, not per queue)
 *   h QUEUE MAX LOW:COUNT...   (non-empty hold buckets by lower bound) */
static void answer_sample(const struct report *r, FILE *out)
{
	struct offload_counts oc;

	fprintf(out, "time_ns %" PRIu64 "\n", r->mono_ns);
	report_offload_counts(r, &oc);
	if (r->have_offload)
		fprintf(out, "o %s %" PRIu64 " %" PRIu64 " %" PRIu64 " %"
			PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
			r->offload_mode == MODE_RAW ? "raw" : "forward",
			oc.flows, oc.below_depth, oc.unsupported, oc.loops,
			oc.set_adds_refused, oc.set_adds_unsent, oc.bypasses);
	else
		fprintf(out, "o -\n");
	if (r->have_ct)
		fprintf(out, "ct %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
			"\n", r->ct.clashres, r->ct.insert_failed, r->ct.drop,
			r->ct.early_drop);
	else
		fprintf(out, "ct -\n");
	for (unsigned i = 0; i < r->nqueues; i++) {
		const struct queue_report *q = &r->q[i];
		const struct hist *h = &q->st.hold;

		fprintf(out, "q %u %d %" PRIu64 " %" PRIu64 " %" PRIu64 " %"
			PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu32 " %" PRIu64
			" %" PRIu64 " %" PRIu64 " %" PRIu64 " -\n", q->queue,
			q->cpu, q->st.packets, q->st.bytes,
			q->st.verdicts[VK_ACCEPT], q->st.verdicts[VK_DROP],
			q->st.enobufs, q->st.malformed, q->k.queue_total,
			q->k.queue_dropped, q->k.user_dropped,
			q->k.id_sequence, q->st.cpu_ns);
		fprintf(out, "h %u %" PRIu64, q->queue, h->max);
		for (unsigned b = 0; b < HIST_BUCKETS; b++)
			if (h->bucket[b])
				fprintf(out, " %" PRIu64 ":%" PRIu64,
					hist_bucket_low(b), h->bucket[b]);
		fputc('\n', out);
	}
}

static void answer_metrics(struct control *c, const struct report *r,
			   FILE *out)
{
	struct metrics_extra x = { 0 };

	control_metrics_extra(c, &x);
	if (r->have_ct)
		x.ct = &r->ct;
	metrics_write(out, r, &x);
}

/*
 * Answer @req into @out. 0, or -1 with the reason in @err (the body is
 * then thrown away).
 */
static int control_dispatch(struct control *c, char *req, FILE *out,
			    char *err, size_t errlen)
{
	char *save = NULL, *cmd = strtok_r(req, " \t", &save);
	char *arg = strtok_r(NULL, " \t", &save);
	char *extra = strtok_r(NULL, " \t", &save);
	struct report *r;
	int ret = 0;

	if (!cmd) {
		snprintf(err, errlen, "empty request (try: %s)", ctl_requests);
		return -1;
	}
	if (!strcmp(cmd, "reload") && !arg) {
		if (engine_reload(c->e) < 0) {
			snprintf(err, errlen, "reload failed, the running "
				 "config stays (the reason is in nfqe's log)");
			return -1;
		}
		fprintf(out, "reloaded\n");
		return 0;
	}
	if (!strcmp(cmd, "flows") && !extra) {
		unsigned long n = 10;
		char *end;

		if (arg) {
			n = strtoul(arg, &end, 10);
			if (*end || !n || n > CTL_FLOWS_MAX) {
				snprintf(err, errlen, "flows: '%s' is not a "
					 "count in 1..%d", arg, CTL_FLOWS_MAX);
				return -1;
			}
		}
		if (!c->flows) {
			snprintf(err, errlen,
				 "flows: no flow table in this build");
			return -1;
		}
		ret = c->flows(c->flows_ctx, (unsigned)n, out);
		if (ret < 0) {
			snprintf(err, errlen, "flows: %s", strerror(-ret));
			return -1;
		}
		return 0;
	}

	r = engine_report(c->e);
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (!strcmp(cmd, "status") && !arg)
		answer_status(c, r, out);
	else if (!strcmp(cmd, "stats") && !arg)
		report_print_table(out, r);
	else if (!strcmp(cmd, "stats") && !strcmp(arg, "json") && !extra)
		report_write_json(out, r);
	else if (!strcmp(cmd, "queues") && !arg)
		answer_queues(r, out);
	else if (!strcmp(cmd, "rules") && !arg)
		answer_rules(r, out);
	else if (!strcmp(cmd, "metrics") && !arg)
		answer_metrics(c, r, out);
	else if (!strcmp(cmd, "sample") && !arg)
		answer_sample(r, out);
	else {
		snprintf(err, errlen, "unknown request '%.64s%s%.32s' (try: "
			 "%s)", cmd, arg ? " " : "", arg ? arg : "",
			 ctl_requests);
		ret = -1;
	}
	free(r);
	return ret;
}

/* ---- the connection --------------------------------------------------- */

/* Read one line into @buf (NUL-terminated, without the newline) before
 * @deadline_ns. Its length, or -errno (-ETIMEDOUT, -EMSGSIZE; -ENODATA
 * when the peer closed without a byte, as another nfqe's probe does). */
static ssize_t read_request(int fd, char *buf, size_t size,
			    uint64_t deadline_ns)
{
	size_t len = 0;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		char *nl;
		ssize_t n;

		n = recv(fd, buf + len, size - 1 - len, 0);
		if (n > 0) {
			len += (size_t)n;
			buf[len] = '\0';
			nl = memchr(buf, '\n', len);
			if (nl) {
				*nl = '\0';
				len = (size_t)(nl - buf);
				break;
			}
			if (len == size - 1)
				return -EMSGSIZE;
			continue;
		}
		if (n == 0 && !len)	/* a connect probe, no request */
			return -ENODATA;
		if (n == 0)	/* peer closed its side: the line ends */
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		if (poll(&pfd, 1, ms_left(deadline_ns)) == 0)
			return -ETIMEDOUT;
	}
	buf[len] = '\0';
	if (len && buf[len - 1] == '\r')
		buf[--len] = '\0';
	return (ssize_t)len;
}

static int write_all(int fd, const char *buf, size_t len,
		     uint64_t deadline_ns)
{
	while (len) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return -errno;
		if (poll(&pfd, 1, ms_left(deadline_ns)) == 0)
			return -ETIMEDOUT;
	}
	return 0;
}

static void control_serve(struct control *c, int fd)
{
	uint64_t start = now_ns();
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	char req[CTL_REQUEST_MAX], err[512], *body = NULL;
	size_t body_len = 0;
	unsigned missed;
	FILE *out;
	ssize_t n;
	int ret;

	/* Read first even from a peer about to be refused: closing with
	 * its request unread would reset the connection and lose the
	 * answer that says why. */
	n = read_request(fd, req, sizeof(req),
			 start + CTL_READ_MS * 1000000ull);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) < 0) {
		if (ratelimit_ok(&c->rl, &missed))
			log_warn("control: SO_PEERCRED: %s", strerror(errno));
		return;
	}
	if (!peer_allowed(c, &cr)) {
		c->refused++;
		if (ratelimit_ok(&c->rl, &missed))
			log_warn("control: refused uid %u pid %d (not "
				 "root%s%s)", (unsigned)cr.uid, (int)cr.pid,
				 c->group ? " nor in group " : "",
				 c->group ? c->group : "");
		snprintf(err, sizeof(err), "error: permission denied\n");
		write_all(fd, err, strlen(err), now_ns() + CTL_WRITE_MS *
			  1000000ull);
		return;
	}
	if (n == -ENODATA)
		return;
	if (n < 0) {
		if (n == -EMSGSIZE) {
			snprintf(err, sizeof(err), "error: request longer "
				 "than %d bytes\n", CTL_REQUEST_MAX - 1);
			write_all(fd, err, strlen(err), now_ns() +
				  CTL_WRITE_MS * 1000000ull);
		} else if (ratelimit_ok(&c->rl, &missed)) {
			log_warn("control: reading the request from pid %d: %s",
				 (int)cr.pid, strerror((int)-n));
		}
		return;
	}
	log_debug("control: pid %d uid %u: %s", (int)cr.pid,
		  (unsigned)cr.uid, req);
	if (!strncmp(req, "takeover", 8) && (!req[8] || req[8] == ' ')) {
		/* hands out the bound queues: root only, whatever the group */
		if (cr.uid != 0)
			snprintf(err, sizeof(err), "permission denied");
		else if (!c->takeover)
			snprintf(err, sizeof(err), "takeover not supported");
		else if (c->takeover(c->takeover_ctx, fd, req[8] ?
				     req + 9 : "", err, sizeof(err)) == 0)
			return;
		if (asprintf(&body, "error: %s\n", err) >= 0) {
			write_all(fd, body, strlen(body), now_ns() +
				  CTL_WRITE_MS * 1000000ull);
			free(body);
		}
		return;
	}

	out = open_memstream(&body, &body_len);
	if (!out)
		return;
	fputs("ok\n", out);
	ret = control_dispatch(c, req, out, err, sizeof(err));
	if (fclose(out) || ret < 0) {
		if (ret == 0)
			snprintf(err, sizeof(err), "out of memory");
		free(body);
		body = NULL;
		if (asprintf(&body, "error: %s\n", err) < 0)
			return;
		body_len = strlen(body);
	}
	ret = write_all(fd, body, body_len, now_ns() +
			CTL_WRITE_MS * 1000000ull);
	if (ret < 0 && ratelimit_ok(&c->rl, &missed))
		log_warn("control: answering pid %d: %s", (int)cr.pid,
			 strerror(-ret));
	free(body);
}

void control_handle(struct control *c)
{
	for (int i = 0; i < CTL_ACCEPT_MAX; i++) {
		int fd = accept4(c->fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		unsigned missed;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && ratelimit_ok(&c->rl, &missed))
				log_warn("control: accept: %s",
					 strerror(errno));
			return;
		}
		control_serve(c, fd);
		close(fd);
	}
}
