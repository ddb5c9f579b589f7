// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nfqectl - ask a running nfqe over its control socket.
 *
 * Each command is one request line and one answer (see nfqectl(8)); `top`
 * repeats the "sample" request every second and prints rates and the hold
 * p99 of the last second from the difference of two samples.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "nfqe-config.h"
#include "config.h"
#include "hist.h"

#define NFQECTL_TIMEOUT_S	10

static const char *sock_path = NFQE_DEFAULT_SOCKET;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: nfqectl [-s SOCKET] COMMAND\n"
		"\n"
		"Ask the running nfqe over its control socket (default %s).\n"
		"\n"
		"  status              version, uptime, queues, totals\n"
		"  stats [--json]      per-queue counters (table or JSON)\n"
		"  queues              nfqe's counters next to the kernel's\n"
		"  rules               packets decided by each rule, the\n"
		"                      default and the flows' cache\n"
		"  flows [--top N]     the N largest flows (default 10)\n"
		"  reload              reread the config file (as SIGHUP)\n"
		"  metrics             Prometheus text exposition\n"
		"  top [--count N]     live per-queue rates, every second\n"
		"\n"
		"  -s, --socket PATH   control socket\n"
		"  -V, --version       print the version and exit\n"
		"  -h, --help          this help\n"
		"\n"
		"Exit status: 0 ok, 1 nfqe not running or refused the "
		"request, 2 usage.\n", NFQE_DEFAULT_SOCKET);
}

/*
 * Send @req and read the answer. On "ok", 0 and the body after the first
 * line in @ret_body (malloc'd). Otherwise print why and return 1.
 */
static int ctl_request(const char *req, char **ret_body)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = NFQECTL_TIMEOUT_S };
	size_t len = 0, cap = 65536;
	char *buf, *nl;
	int fd;

	if (strlen(sock_path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "nfqectl: %s: socket path too long\n",
			sock_path);
		return 1;
	}
	strcpy(sa.sun_path, sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "nfqectl: socket: %s\n", strerror(errno));
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = errno;

		if (err == ENOENT || err == ENOTDIR)
			fprintf(stderr, "nfqectl: nfqe is not running (no "
				"socket at %s)\n", sock_path);
		else if (err == ECONNREFUSED)
			fprintf(stderr, "nfqectl: nfqe is not running (stale "
				"socket at %s)\n", sock_path);
		else if (err == EACCES || err == EPERM)
			fprintf(stderr, "nfqectl: permission denied: %s (root "
				"or nfqe's control group only)\n", sock_path);
		else
			fprintf(stderr, "nfqectl: %s: %s\n", sock_path,
				strerror(err));
		close(fd);
		return 1;
	}
	if (dprintf(fd, "%s\n", req) < 0 || shutdown(fd, SHUT_WR) < 0) {
		fprintf(stderr, "nfqectl: sending the request: %s\n",
			strerror(errno));
		close(fd);
		return 1;
	}
	buf = malloc(cap);
	if (!buf) {
		close(fd);
		fprintf(stderr, "nfqectl: out of memory\n");
		return 1;
	}
	for (;;) {
		ssize_t n;

		if (len + 1 == cap) {
			char *bigger = realloc(buf, cap * 2);

			if (!bigger) {
				fprintf(stderr, "nfqectl: out of memory\n");
				goto err_free;
			}
			buf = bigger;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - 1 - len);
		if (n == 0)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "nfqectl: reading the answer: %s\n",
				errno == EAGAIN ? "no answer within "
				"10 s" : strerror(errno));
			goto err_free;
		}
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	nl = strchr(buf, '\n');
	if (nl && !strncmp(buf, "ok\n", 3)) {
		memmove(buf, nl + 1, len - (size_t)(nl + 1 - buf) + 1);
		*ret_body = buf;
		return 0;
	}
	if (nl)
		*nl = '\0';
	if (!strncmp(buf, "error: ", 7))
		fprintf(stderr, "nfqectl: %s\n", buf + 7);
	else
		fprintf(stderr, "nfqectl: unexpected answer '%.80s'\n", buf);
	free(buf);
	return 1;

err_free:
	close(fd);
	free(buf);
	return 1;
}

static int cmd_simple(const char *req)
{
	char *body;

	if (ctl_request(req, &body))
		return 1;
	fputs(body, stdout);
	free(body);
	return fflush(stdout) ? 1 : 0;
}

/* ---- top -------------------------------------------------------------- */

enum {
	QS_PACKETS, QS_BYTES, QS_ACCEPT, QS_DROP, QS_ENOBUFS, QS_MALFORMED,
	QS_K_WAITING, QS_K_QDROP, QS_K_UDROP, QS_K_QUEUED, QS_CPU_NS,
	QS_OFFLOADED, QS_MAX,
};

struct qsample {
	unsigned	queue;
	int		cpu;
	uint64_t	v[QS_MAX];
	struct hist	hold;
};

/* The "o" record: offload counters, process-wide. OS_BYPASSES came
 * last and later: an nfqe without it counted bypasses as flows. */
enum {
	OS_FLOWS, OS_BELOW_DEPTH, OS_UNSUPPORTED, OS_LOOPS, OS_SET_REFUSED,
	OS_SET_UNSENT, OS_BYPASSES, OS_MAX,
};

struct sample {
	uint64_t	time_ns;
	bool		ct_ok;
	uint64_t	ct[4];	/* clashres insert_failed drop early_drop */
	bool		offload_ok;
	bool		offload_raw;
	uint64_t	offload[OS_MAX];
	unsigned	n;
	struct qsample	*q;
};

static struct qsample *sample_queue(struct sample *s, unsigned queue)
{
	for (unsigned i = 0; i < s->n; i++)
		if (s->q[i].queue == queue)
			return &s->q[i];
	return NULL;
}

/* Parse the "sample" answer. 0 or -1 (malformed, out of memory). */
static int sample_parse(char *body, struct sample *s)
{
	char *save = NULL, *line;

	memset(s, 0, sizeof(*s));
	for (line = strtok_r(body, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *lsave = NULL, *tok = strtok_r(line, " ", &lsave);
		struct qsample *q;
		unsigned long queue;

		if (!tok)
			continue;
		if (!strcmp(tok, "time_ns")) {
			tok = strtok_r(NULL, " ", &lsave);
			s->time_ns = tok ? strtoull(tok, NULL, 10) : 0;
		} else if (!strcmp(tok, "ct")) {
			for (int i = 0; i < 4; i++) {
				tok = strtok_r(NULL, " ", &lsave);
				if (!tok || !strcmp(tok, "-"))
					break;
				s->ct[i] = strtoull(tok, NULL, 10);
				s->ct_ok = i == 3;
			}
		} else if (!strcmp(tok, "o")) {
			tok = strtok_r(NULL, " ", &lsave);
			if (!tok || !strcmp(tok, "-"))
				continue;
			s->offload_raw = !strcmp(tok, "raw");
			for (int i = 0; i < OS_MAX; i++) {
				tok = strtok_r(NULL, " ", &lsave);
				if (!tok && i == OS_BYPASSES) {
					s->offload[i] = s->offload[OS_FLOWS];
					break;
				}
				if (!tok)
					return -1;
				s->offload[i] = strtoull(tok, NULL, 10);
			}
			s->offload_ok = true;
		} else if (!strcmp(tok, "q")) {
			struct qsample *more = realloc(s->q, (s->n + 1) *
						       sizeof(*s->q));

			if (!more)
				return -1;
			s->q = more;
			q = &s->q[s->n++];
			memset(q, 0, sizeof(*q));
			tok = strtok_r(NULL, " ", &lsave);
			q->queue = tok ? (unsigned)strtoul(tok, NULL, 10) : 0;
			tok = strtok_r(NULL, " ", &lsave);
			q->cpu = tok ? atoi(tok) : -1;
			for (int i = 0; i < QS_MAX; i++) {
				tok = strtok_r(NULL, " ", &lsave);
				if (!tok)
					return -1;
				q->v[i] = strtoull(tok, NULL, 10);
			}
		} else if (!strcmp(tok, "h")) {
			tok = strtok_r(NULL, " ", &lsave);
			queue = tok ? strtoul(tok, NULL, 10) : 0;
			q = sample_queue(s, (unsigned)queue);
			tok = strtok_r(NULL, " ", &lsave);
			if (!q || !tok)
				return -1;
			q->hold.max = strtoull(tok, NULL, 10);
			while ((tok = strtok_r(NULL, " ", &lsave))) {
				char *colon = strchr(tok, ':');
				uint64_t low = strtoull(tok, NULL, 10), n;

				if (!colon)
					return -1;
				n = strtoull(colon + 1, NULL, 10);
				hist_add(&q->hold, low, n);
			}
		}
	}
	return s->time_ns && s->n ? 0 : -1;
}

static int sample_get(struct sample *s)
{
	char *body;
	int ret;

	if (ctl_request("sample", &body))
		return 1;
	ret = sample_parse(body, s);
	free(body);
	if (ret < 0) {
		free(s->q);
		s->q = NULL;
		fprintf(stderr, "nfqectl: nfqe sent a malformed sample\n");
		return 1;
	}
	return 0;
}

static uint64_t delta(uint64_t cur, uint64_t prev)
{
	return cur >= prev ? cur - prev : 0;
}

/* The hold histogram of the interval: @cur minus @prev. */
static void hist_delta(struct hist *d, const struct hist *cur,
		       const struct hist *prev)
{
	d->count = 0;
	d->sum = 0;
	d->max = cur->max;
	for (unsigned b = 0; b < HIST_BUCKETS; b++) {
		d->bucket[b] = delta(cur->bucket[b], prev->bucket[b]);
		d->count += d->bucket[b];
	}
}

/*
 * The offloaded share of an interval: bypasses programmed (a flow offloaded,
 * or offloaded again) per packet nfqe received, in percent. "off" without
 * offload, "-" without packets.
 */
static void offload_share(char *ret, size_t len, const struct sample *prev,
			  const struct sample *cur, uint64_t packets)
{
	if (!cur->offload_ok || !prev->offload_ok)
		snprintf(ret, len, "off");
	else if (!packets)
		snprintf(ret, len, "-");
	else
		snprintf(ret, len, "%.1f%%", 100.0 *
			 (double)delta(cur->offload[OS_BYPASSES],
				       prev->offload[OS_BYPASSES]) /
			 (double)packets);
}

static void top_row(const char *name, const char *cpu, double dt,
		    const uint64_t *d, const uint64_t *cur,
		    const struct hist *hold, const char *share)
{
	char p99[16];

	if (hold->count)
		snprintf(p99, sizeof(p99), "%.1fus",
			 hist_quantile(hold, 0.99) / 1000.0);
	else
		snprintf(p99, sizeof(p99), "-");
	printf("%5s %4s %10.0f %8.1f %9s %8.0f %8" PRIu64 " %9" PRIu64
	       " %9" PRIu64 " %8.0f %7s\n", name, cpu,
	       (double)d[QS_PACKETS] / dt,
	       (double)d[QS_BYTES] * 8 / dt / 1e6, p99,
	       (double)d[QS_DROP] / dt, d[QS_ENOBUFS], d[QS_MALFORMED],
	       cur[QS_K_WAITING],
	       (double)(d[QS_K_QDROP] + d[QS_K_UDROP]) / dt, share);
}

static void top_frame(const struct sample *prev, const struct sample *cur,
		      struct hist *scratch, struct hist *all)
{
	static const char *const ct_name[4] = {
		"clashres", "insert_failed", "drop", "early_drop",
	};
	static const char *const os_name[OS_MAX] = {
		[OS_UNSUPPORTED] = "unsupported", [OS_LOOPS] = "loops",
		[OS_SET_REFUSED] = "set_refused",
		[OS_SET_UNSENT] = "set_unsent",
	};
	double dt = (double)(cur->time_ns - prev->time_ns) / 1e9;
	uint64_t dall[QS_MAX] = { 0 }, call[QS_MAX] = { 0 };
	char qname[16], cpu[16], share[16];
	uint64_t packets = 0;

	if (dt <= 0)
		return;
	for (unsigned i = 0; i < cur->n; i++) {
		const struct qsample *p = sample_queue((struct sample *)prev,
						       cur->q[i].queue);

		if (p)
			packets += delta(cur->q[i].v[QS_PACKETS],
					 p->v[QS_PACKETS]);
	}
	offload_share(share, sizeof(share), prev, cur, packets);
	if (isatty(STDOUT_FILENO))
		fputs("\033[H\033[2J", stdout);
	printf("nfqe top: %u queue%s, last %.2f s\n", cur->n,
	       cur->n == 1 ? "" : "s", dt);
	printf("%5s %4s %10s %8s %9s %8s %8s %9s %9s %8s %7s\n", "queue",
	       "cpu", "pps", "Mbit/s", "hold_p99", "drop/s", "enobufs",
	       "malformed", "k_waiting", "k_lost/s", "offload");
	memset(all, 0, sizeof(*all));
	for (unsigned i = 0; i < cur->n; i++) {
		const struct qsample *c = &cur->q[i];
		const struct qsample *p = sample_queue((struct sample *)prev,
						       c->queue);
		uint64_t d[QS_MAX];

		if (!p)
			continue;
		for (int k = 0; k < QS_MAX; k++) {
			d[k] = delta(c->v[k], p->v[k]);
			dall[k] += d[k];
			call[k] += c->v[k];
		}
		hist_delta(scratch, &c->hold, &p->hold);
		hist_merge(all, scratch);
		snprintf(qname, sizeof(qname), "%u", c->queue);
		snprintf(cpu, sizeof(cpu), "%d", c->cpu);
		/* offload counts per process: per queue only when the
		 * queue is all there is */
		top_row(qname, cpu, dt, d, c->v, scratch,
			cur->n == 1 ? share : "-");
	}
	if (cur->n > 1)
		top_row("all", "-", dt, dall, call, all, share);
	printf("conntrack:");
	if (!cur->ct_ok || !prev->ct_ok)
		printf(" n/a");
	for (int k = 0; k < 4 && cur->ct_ok && prev->ct_ok; k++)
		printf(" %s %" PRIu64 " (+%" PRIu64 ")", ct_name[k],
		       cur->ct[k], delta(cur->ct[k], prev->ct[k]));
	printf("\noffloaded:");
	if (!cur->offload_ok || !prev->offload_ok) {
		printf(" off\n\n");
		fflush(stdout);
		return;
	}
	printf(" %s of %.0f pps (%s: %.0f flows/s, %.0f bypasses/s, %.0f "
	       "below depth/s", share, (double)packets / dt,
	       cur->offload_raw ? "raw" : "forward",
	       (double)delta(cur->offload[OS_FLOWS],
			     prev->offload[OS_FLOWS]) / dt,
	       (double)delta(cur->offload[OS_BYPASSES],
			     prev->offload[OS_BYPASSES]) / dt,
	       (double)delta(cur->offload[OS_BELOW_DEPTH],
			     prev->offload[OS_BELOW_DEPTH]) / dt);
	/* the error counters of the mode, since nfqe started */
	for (int k = OS_UNSUPPORTED; k <= OS_SET_UNSENT; k++)
		if ((k == OS_LOOPS) != cur->offload_raw)
			printf(", %s %" PRIu64, os_name[k], cur->offload[k]);
	printf(")\n\n");
	fflush(stdout);
}

static int cmd_top(unsigned long count)
{
	struct sample s[2];
	struct hist *scratch = malloc(2 * sizeof(struct hist));
	struct timespec next;
	int cur = 0, ret = 0;

	if (!scratch) {
		fprintf(stderr, "nfqectl: out of memory\n");
		return 1;
	}
	if (sample_get(&s[0])) {
		free(scratch);
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (unsigned long i = 0; !count || i < count; i++) {
		next.tv_sec++;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next,
				       NULL) == EINTR)
			;
		if (sample_get(&s[!cur])) {
			ret = 1;
			break;
		}
		top_frame(&s[cur], &s[!cur], &scratch[0], &scratch[1]);
		free(s[cur].q);
		cur = !cur;
	}
	free(s[cur].q);
	free(scratch);
	return ret;
}

/* ---- main ------------------------------------------------------------- */

/* Parse --OPT N (or N alone) from the command's arguments. */
static int parse_count(int argc, char **argv, const char *opt,
		       unsigned long *ret)
{
	char *end;
	int i = 0;

	if (argc == 0)
		return 0;
	if (!strcmp(argv[0], opt))
		i = 1;
	if (argc != i + 1)
		return -1;
	*ret = strtoul(argv[i], &end, 10);
	return !*argv[i] || *end || !*ret || *ret > 1000000 ? -1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	unsigned long n;
	char req[64];
	const char *cmd;
	int c;

	/* '+': stop at the command, its options are its own */
	while ((c = getopt_long(argc, argv, "+s:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			sock_path = optarg;
			break;
		case 'V':
			printf("nfqectl %s\n", NFQE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	argc -= optind + 1;
	argv += optind + 1;

	if (!strcmp(cmd, "status") && !argc)
		return cmd_simple("status");
	if (!strcmp(cmd, "stats") && !argc)
		return cmd_simple("stats");
	if (!strcmp(cmd, "stats") && argc == 1 && !strcmp(argv[0], "--json"))
		return cmd_simple("stats json");
	if (!strcmp(cmd, "queues") && !argc)
		return cmd_simple("queues");
	if (!strcmp(cmd, "rules") && !argc)
		return cmd_simple("rules");
	if (!strcmp(cmd, "reload") && !argc)
		return cmd_simple("reload");
	if (!strcmp(cmd, "metrics") && !argc)
		return cmd_simple("metrics");
	if (!strcmp(cmd, "flows")) {
		n = 10;
		if (parse_count(argc, argv, "--top", &n) < 0) {
			fprintf(stderr, "nfqectl: usage: flows [--top N]\n");
			return 2;
		}
		snprintf(req, sizeof(req), "flows %lu", n);
		return cmd_simple(req);
	}
	if (!strcmp(cmd, "top")) {
		n = 0;
		if (parse_count(argc, argv, "--count", &n) < 0) {
			fprintf(stderr, "nfqectl: usage: top [--count N]\n");
			return 2;
		}
		return cmd_top(n);
	}
	fprintf(stderr, "nfqectl: unknown command or arguments: %s\n", cmd);
	usage(stderr);
	return 2;
}
