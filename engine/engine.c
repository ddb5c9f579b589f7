// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The engine: binds the queue range (one worker per queue), then runs the
 * main thread's signal loop. The main thread never touches packets; it
 * reads counters, prints reports, and publishes new tunables under RCU.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <linux/netfilter.h>
#include <urcu-qsbr.h>

#include "nfqe-config.h"
#include "inspector.h"
#include "control.h"
#include "engine.h"
#include "httpmetrics.h"
#include "lastgasp.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "offload.h"
#include "privdrop.h"
#include "takeover.h"

#define BATCH_CAP	4096	/* largest batch_max a reload may set */

struct engine {
	struct nfqe_config	cfg;
	char			*conf_path;	/* NULL: built-in defaults */
	char			*cli_queues;	/* -q override, kept on reload */
	struct nfqe_tunables	*tunables;	/* RCU-published */
	int			sig_fd;
	unsigned		nworkers;
	struct worker		**workers;
	struct control		*control;	/* NULL: no control socket */
	struct httpmetrics	*http;		/* NULL: no metrics_listen */
	struct flowtable	*ft;		/* NULL: [flows] enable = no */
	struct policy_root	policy;		/* the workers' decide context */
	struct offload		*offload;	/* NULL: [offload] enable = no */
	bool			rcu_registered;
	bool			stuck;		/* a worker did not stop */
	bool			handed_over;	/* takeover: queues given away */
	int			kstats_fd;	/* nfq_kstats_open()'s, or -errno */
	uint64_t		start_realtime_ns; /* CLOCK_REALTIME at start */
	uint64_t		takeover_from;	/* CLOCK_MONOTONIC of the pause */
	uint64_t		takeover_gap_ns; /* pause to our workers' start */
};

#define REAP_PERIOD_NS	100000000ull	/* 10 reaper passes a second */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/*
 * With fail-open, a fatal signal (a plug-in's crash) closes the queues and
 * accepts what they hold before the process dies and the kernel drops it
 * (lastgasp.h). Armed while this process owns the bound sockets.
 */
static void engine_lastgasp_arm(struct engine *e)
{
	int ret;

	if (!e->cfg.fail_open)
		return;
	ret = lastgasp_arm(e->workers, e->nworkers, e->kstats_fd);
	if (ret < 0)
		log_warn("fatal-signal handler: %s: a crash drops what the "
			 "queues hold", strerror(-ret));
}

/* Tunables as published: freed with call_rcu(), so that a reload never
 * waits for a grace period (a worker stuck in a decide step would hold
 * the main loop, and with it the watchdog). */
struct tunables_box {
	struct nfqe_tunables	t;
	struct rcu_head		rcu;
};

static void tunables_free_rcu(struct rcu_head *head)
{
	struct tunables_box *box = caa_container_of(head, struct tunables_box,
						    rcu);

	worker_tunables_retired(&box->t);
	free(box);
}

static struct nfqe_tunables *tunables_new(const struct nfqe_config *cfg)
{
	struct tunables_box *box = calloc(1, sizeof(*box));
	struct nfqe_tunables *t;

	if (!box)
		return NULL;
	t = &box->t;
	t->batch_max = cfg->batch_max;
	t->max_hold_us = cfg->max_hold_us;
	t->malformed_verdict = cfg->malformed_drop ? NF_DROP : NF_ACCEPT;
	t->test_decide_delay_us = cfg->test_decide_delay_us;
	return t;
}

/*
 * liburcu's hash table resize thread unblocks SIGUSR1 (SIGRCU, for its
 * signal flavour), so the kernel delivers a process-wide SIGUSR1 there;
 * by default it would kill nfqe. Pass it on to the main thread (tid ==
 * pid), where it stays pending, blocked, until the signalfd reads it.
 */
static void engine_signal_forward(int sig)
{
	int saved = errno;

	syscall(SYS_tgkill, getpid(), getpid(), sig);
	errno = saved;
}

static int engine_signals(struct engine *e)
{
	struct sigaction sa = { .sa_handler = engine_signal_forward };
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGPIPE);
	/* blocked before any worker exists, so every thread inherits it and
	 * only the signalfd sees the signals */
	if (pthread_sigmask(SIG_BLOCK, &set, NULL))
		return -1;
	sigfillset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGUSR1, &sa, NULL) || sigaction(SIGUSR2, &sa, NULL))
		return -1;
	sigdelset(&set, SIGPIPE);
	e->sig_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	return e->sig_fd < 0 ? -1 : 0;
}

static struct flowtable *engine_flowtable_new(const struct nfqe_config *cfg)
{
	struct flowtable_params p;

	flowtable_params_init(&p);
	p.flow_max = cfg->flow_max;
	/* start small and let the table grow: an iteration (the reaper)
	 * walks every bucket, so buckets sized for flow_max would cost a
	 * full flow_max walk per pass even with a handful of flows */
	p.buckets = 4096;
	while (p.buckets > 1024 && p.buckets / 2 >= cfg->flow_max)
		p.buckets /= 2;
	p.tcp_new_s = cfg->flow_timeout[FT_TCP_NEW];
	p.tcp_established_s = cfg->flow_timeout[FT_TCP_ESTABLISHED];
	p.tcp_closing_s = cfg->flow_timeout[FT_TCP_CLOSING];
	p.udp_new_s = cfg->flow_timeout[FT_UDP_NEW];
	p.udp_established_s = cfg->flow_timeout[FT_UDP_ESTABLISHED];
	p.icmp_s = cfg->flow_timeout[FT_ICMP];
	p.other_s = cfg->flow_timeout[FT_OTHER];
	/* flow slots hold inspector state: the wrapper knows its plug-in */
	p.slot_free = inspector_slot_free;
	return flowtable_new(&p);
}

static const char *const flow_state_names[] = {
	"new", "established", "closing",
};

/* Print the @n flows with the most packets to @out (main thread). */
static int engine_flows_print(void *ctx, unsigned n, FILE *out)
{
	struct engine *e = ctx;
	struct flow **top;
	int got;

	if (!e->ft)
		return -ENOENT;
	top = calloc(n ? n : 1, sizeof(*top));
	if (!top)
		return -ENOMEM;
	got = flowtable_top(e->ft, top, n);
	if (got < 0) {
		free(top);
		return got;
	}
	fprintf(out, "%-5s %-40s %-40s %-11s %10s %10s %12s %12s\n", "proto",
		"source", "destination", "state", "pkts_orig", "pkts_reply",
		"bytes_orig", "bytes_reply");
	for (int i = 0; i < got; i++) {
		struct flow_tuple t;
		struct flow_counters c;
		char sa[INET6_ADDRSTRLEN], da[INET6_ADDRSTRLEN];
		char src[64], dst[64];

		flow_tuple_get(top[i], &t);
		flow_counters_get(top[i], &c);
		inet_ntop(t.family, t.saddr, sa, sizeof(sa));
		inet_ntop(t.family, t.daddr, da, sizeof(da));
		snprintf(src, sizeof(src), t.family == AF_INET6 ? "[%s]:%u" :
			 "%s:%u", sa, t.sport);
		snprintf(dst, sizeof(dst), t.family == AF_INET6 ? "[%s]:%u" :
			 "%s:%u", da, t.dport);
		fprintf(out, "%-5u %-40s %-40s %-11s %10" PRIu64 " %10" PRIu64
			" %12" PRIu64 " %12" PRIu64 "\n", t.proto, src, dst,
			flow_state_names[flow_state_get(top[i]) % 3],
			c.packets[0], c.packets[1], c.bytes[0], c.bytes[1]);
	}
	free(top);
	return got;
}

/* Flow-table gauges in Prometheus text format. */
static void engine_flows_metrics(void *ctx, FILE *out)
{
	struct engine *e = ctx;
	struct flowtable_stats s;

	if (!e->ft)
		return;
	flowtable_stats_get(e->ft, &s);
	fprintf(out,
		"# HELP nfqe_flows Flows in the flow table.\n"
		"# TYPE nfqe_flows gauge\n"
		"nfqe_flows %" PRIu64 "\n"
		"# HELP nfqe_flows_max The flow table's cap (flow_max).\n"
		"# TYPE nfqe_flows_max gauge\n"
		"nfqe_flows_max %u\n"
		"# HELP nfqe_flows_created_total Flows inserted.\n"
		"# TYPE nfqe_flows_created_total counter\n"
		"nfqe_flows_created_total %" PRIu64 "\n"
		"# HELP nfqe_flows_removed_total Flows removed, by reason.\n"
		"# TYPE nfqe_flows_removed_total counter\n"
		"nfqe_flows_removed_total{reason=\"expired\"} %" PRIu64 "\n"
		"nfqe_flows_removed_total{reason=\"evicted\"} %" PRIu64 "\n"
		"nfqe_flows_removed_total{reason=\"deleted\"} %" PRIu64 "\n"
		"# HELP nfqe_flow_insert_races_lost_total Inserts that lost a race to another worker.\n"
		"# TYPE nfqe_flow_insert_races_lost_total counter\n"
		"nfqe_flow_insert_races_lost_total %" PRIu64 "\n"
		"# HELP nfqe_flows_not_stored_total New flows decided but not stored (table full or no memory).\n"
		"# TYPE nfqe_flows_not_stored_total counter\n"
		"nfqe_flows_not_stored_total{reason=\"full\"} %" PRIu64 "\n"
		"nfqe_flows_not_stored_total{reason=\"nomem\"} %" PRIu64 "\n",
		s.live, e->cfg.flow_max, s.created, s.expired, s.evicted,
		s.deleted, s.races_lost, s.full, s.alloc_failed);
}

/*
 * Every queue is bound and every privileged descriptor open, no worker
 * runs yet: become the configured user (CAP_NET_ADMIN only), install
 * the seccomp allowlist if asked, and warn about files the user cannot
 * reach.
 */
static int engine_privdrop(struct engine *e)
{
	const struct privdrop_params p = {
		.user = e->cfg.user,
		.seccomp = e->cfg.seccomp,
	};
	const char *const writes[] = {
		e->cfg.stats_json, e->cfg.metrics_textfile,
	};
	int ret = privdrop_apply(&p);

	if (ret == 0)
		privdrop_check_access(e->conf_path, writes, 2);
	return ret;
}

/*
 * The running side of a takeover (control socket request "takeover A:B"):
 * pause every worker (each sends what it holds), give up the control
 * socket, send the bound sockets. The engine loop then ends without
 * unbinding anything.
 */
static int engine_takeover_give(void *ctx, int conn, const char *arg,
				char *err, size_t errlen)
{
	struct engine *e = ctx;
	unsigned first, last, paused = 0;
	unsigned queues[TAKEOVER_MAX_QUEUES];
	int fds[TAKEOVER_MAX_QUEUES], ret;
	uint64_t paused_ns;

	if (config_parse_queues(arg, &first, &last) < 0 ||
	    first != e->cfg.queue_first || last != e->cfg.queue_last) {
		snprintf(err, errlen, "this nfqe serves queues %u:%u, not '%s'",
			 e->cfg.queue_first, e->cfg.queue_last, arg);
		return -1;
	}
	if (e->stuck || e->nworkers > TAKEOVER_MAX_QUEUES) {
		snprintf(err, errlen, "cannot hand over %u queues now",
			 e->nworkers);
		return -1;
	}
	for (; paused < e->nworkers; paused++) {
		if (worker_pause(e->workers[paused], 1000) < 0) {
			snprintf(err, errlen, "queue %u: worker did not pause",
				 worker_queue(e->workers[paused]));
			goto err_resume;
		}
		queues[paused] = worker_queue(e->workers[paused]);
		fds[paused] = worker_fd(e->workers[paused]);
	}
	paused_ns = mono_ns();
	/* the sockets are about to belong to the new nfqe too */
	lastgasp_disarm();
	/* the new nfqe creates its control socket and listens for scrapes
	 * once it has the queues */
	control_release(e->control);
	httpmetrics_free(e->http);
	e->http = NULL;
	ret = takeover_send(conn, queues, fds, e->nworkers, paused_ns);
	if (ret < 0) {
		snprintf(err, errlen, "sending the sockets: %s", strerror(-ret));
		log_err("takeover failed (%s); going on without a control "
			"socket%s", err,
			e->cfg.metrics_listen[0] ? " or metrics_listen" : "");
		goto err_resume;
	}
	for (unsigned i = 0; i < e->nworkers; i++)
		worker_set_given(e->workers[i]);
	e->handed_over = true;
	log_info("handed queues %u:%u over to a new nfqe", first, last);
	return 0;

err_resume:
	for (unsigned i = 0; i < paused; i++)
		worker_start(e->workers[i]);
	if (paused == e->nworkers)
		engine_lastgasp_arm(e);
	return -1;
}

/* The new side: the sockets of the running nfqe, or -ENOENT when none
 * runs (then bind as usual). */
static int engine_takeover_take(struct engine *e, int **ret_fds)
{
	char err[256];
	int ret;

	if (!e->cfg.control_socket[0]) {
		log_err("takeover needs the running nfqe's control socket "
			"([control] socket)");
		return -EINVAL;
	}
	ret = takeover_request(e->cfg.control_socket, e->cfg.queue_first,
			       e->cfg.queue_last, ret_fds, &e->takeover_from,
			       err, sizeof(err));
	if (ret == -ENOENT || ret == -ECONNREFUSED) {
		log_info("takeover: no nfqe answers on %s: binding the queues",
			 e->cfg.control_socket);
		return -ENOENT;
	}
	if (ret < 0)
		log_err("takeover: %s", err);
	return ret;
}

static int engine_http_metrics(void *ctx, FILE *out);

struct engine *engine_new(const struct nfqe_config *cfg, struct policy *policy,
			  const struct offload_config *oc,
			  const char *conf_path, const char *cli_queues,
			  bool takeover)
{
	struct engine *e = calloc(1, sizeof(*e));
	unsigned n = cfg->queue_last - cfg->queue_first + 1;
	int *adopt = NULL;
	char err[256];
	int ret;

	if (!e) {
		policy_free(policy);
		return NULL;
	}
	/* owned from here on: engine_free() frees it on every path */
	policy_root_init(&e->policy, NULL, policy);
	e->cfg = *cfg;
	e->sig_fd = -1;
	e->kstats_fd = -1;
	e->start_realtime_ns = realtime_ns();
	e->conf_path = conf_path ? strdup(conf_path) : NULL;
	e->cli_queues = cli_queues ? strdup(cli_queues) : NULL;
	e->tunables = tunables_new(cfg);
	e->workers = calloc(n, sizeof(*e->workers));
	if (!e->tunables || !e->workers) {
		log_err("out of memory");
		goto err_free;
	}
	if (engine_signals(e) < 0) {
		log_err("signals: %s", strerror(errno));
		goto err_free;
	}
	/* the main thread reads flows (reaper, dumps): a QSBR reader too */
	rcu_register_thread();
	e->rcu_registered = true;
	if (takeover) {
		ret = engine_takeover_take(e, &adopt);
		if (ret < 0 && ret != -ENOENT)
			goto err_free;
	}
	/* as root, before the queues are bound: the glue probe wants an
	 * unbound queue, and the raw-mode sets must exist before any rule
	 * refers to them */
	if (oc && oc->enable) {
		char oerr[512];

		e->offload = offload_new(oc, cfg, oerr, sizeof(oerr));
		if (!e->offload) {
			log_err("%s", oerr);
			goto err_free;
		}
	}
	e->policy.offload = e->offload;
	for (unsigned i = 0; i < n; i++) {
		struct worker_params p = {
			.queue = (uint16_t)(cfg->queue_first + i),
			.cpu = config_queue_cpu(cfg, cfg->queue_first + i),
			.copy_range = cfg->copy_range,
			.queue_maxlen = cfg->queue_maxlen,
			.rcvbuf = cfg->rcvbuf,
			.fail_open = cfg->fail_open,
			.gso = cfg->gso,
			.no_enobufs = cfg->no_enobufs,
			.burst_max = cfg->burst_max,
			.batch_cap = BATCH_CAP,
			.tunables = &e->tunables,
			.decide = policy_decide,
			.decide_ctx = &e->policy,
			.flow_zone = cfg->flow_zone,
			.flow_zone_indev = cfg->flow_zone_indev,
		};

		if (adopt) {
			e->workers[i] = worker_adopt(&p, adopt[i], err,
						     sizeof(err));
			if (e->workers[i])
				adopt[i] = -1;
		} else {
			e->workers[i] = worker_new(&p, err, sizeof(err));
		}
		if (!e->workers[i]) {
			log_err("%s", err);
			goto err_free;
		}
		e->nworkers++;
	}
	/* the socket appearing means every queue is bound; created before
	 * the privilege drop: it may need chown and a root-owned directory */
	if (cfg->control_socket[0]) {
		e->control = control_new(e, cfg->control_socket,
					 cfg->control_group, err, sizeof(err));
		if (!e->control) {
			log_err("%s", err);
			goto err_free;
		}
		if (cfg->flows_enable) {
			control_set_flows(e->control, engine_flows_print, e);
			control_set_metrics_hook(e->control,
						 engine_flows_metrics, e);
		}
	}
	/* before the privilege drop too: the port may be below 1024. At a
	 * start, no listener is an error; in a takeover the queues matter
	 * more: go on without it rather than give them up. */
	if (cfg->metrics_listen[0]) {
		e->http = httpmetrics_new(cfg->metrics_listen,
					  engine_http_metrics, e, err,
					  sizeof(err));
		if (e->http) {
			log_info("metrics at http://%s/metrics",
				 cfg->metrics_listen);
		} else if (adopt) {
			log_err("%s; taking the queues over without it", err);
		} else {
			log_err("%s", err);
			goto err_free;
		}
	}
	/* mode 0440 root: open it while still root */
	e->kstats_fd = nfq_kstats_open();
	if (e->kstats_fd < 0)
		log_warn("/proc/net/netfilter/nfnetlink_queue: %s: no kernel "
			 "queue counters (reports, watchdog, drain check, "
			 "accepting at a crash)", strerror(-e->kstats_fd));
	engine_lastgasp_arm(e);
	if (engine_privdrop(e) < 0)
		goto err_free;
	/* Threads only from here on, so that they inherit the dropped
	 * privileges and the filter: liburcu starts the hash table's resize
	 * thread in flowtable_new(), then the workers. */
	if (cfg->flows_enable) {
		e->ft = engine_flowtable_new(cfg);
		if (!e->ft) {
			log_err("flow table (flow_max %u): %s", cfg->flow_max,
				strerror(errno));
			goto err_free;
		}
	}
	e->policy.ft = e->ft;	/* no worker runs yet */
	for (unsigned i = 0; i < e->nworkers; i++) {
		worker_set_flowtable(e->workers[i], e->ft);
		ret = worker_start(e->workers[i]);
		if (ret < 0) {
			log_err("queue %u: starting worker thread: %s",
				worker_queue(e->workers[i]), strerror(-ret));
			goto err_free;
		}
	}
	log_info("%s queues %u:%u, %u worker%s, fail_open %s, "
		 "batch_max %u, max_hold %u us", adopt ? "took over" : "bound",
		 cfg->queue_first, cfg->queue_last, e->nworkers,
		 e->nworkers > 1 ? "s" : "", cfg->fail_open ? "on" : "off",
		 cfg->batch_max, cfg->max_hold_us);
	if (adopt) {
		/* the packets that arrived meanwhile waited this long */
		e->takeover_gap_ns = mono_ns() - e->takeover_from;
		log_info("takeover: queues were paused for %.3f ms",
			 (double)e->takeover_gap_ns / 1e6);
		free(adopt);
	}
	if (e->control)
		control_set_takeover(e->control, engine_takeover_give, e);
	return e;

err_free:
	if (adopt) {
		/* sockets not adopted yet: closing them releases the queues */
		for (unsigned i = 0; i < n; i++)
			if (adopt[i] >= 0)
				close(adopt[i]);
		free(adopt);
	}
	engine_free(e);	/* frees the policy too: e->policy owns it */
	return NULL;
}

bool engine_stuck(const struct engine *e)
{
	return e->stuck;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	control_free(e->control);
	httpmetrics_free(e->http);
	for (unsigned i = 0; i < e->nworkers; i++)
		if (worker_stop(e->workers[i], WORKER_STOP_TIMEOUT_MS, 0) < 0)
			e->stuck = true;
	/* the sockets close (or belong to the new nfqe after a takeover) */
	lastgasp_disarm();
	for (unsigned i = 0; i < e->nworkers; i++)
		worker_free(e->workers[i]);
	free(e->workers);
	/* no worker holds a flow any more; rcu_barrier() inside. A stuck
	 * worker would never let a grace period end: leave it all to the
	 * process exit then. */
	if (e->stuck)
		return;
	nfq_kstats_close();
	/* retirements flush the flow table's decisions: before it goes */
	policy_root_fini(&e->policy);
	flowtable_free(e->ft);
	offload_free(e->offload);
	if (e->rcu_registered)
		rcu_unregister_thread();
	if (e->tunables)
		free(caa_container_of(e->tunables, struct tunables_box, t));
	if (e->sig_fd >= 0)
		close(e->sig_fd);
	free(e->conf_path);
	free(e->cli_queues);
	free(e);
}

_Static_assert(_Alignof(struct queue_report) >=
	       _Alignof(struct inspector_report),
	       "the inspector reports follow q[] in one allocation");

/* The counters of the current policy's inspectors, read by the main
 * thread: an online QSBR reader here, and the only thread that replaces
 * the policy, so the set outlives this call. */
static void engine_report_inspectors(struct report *r,
				     struct inspector_set *set)
{
	for (unsigned i = 0; i < r->ninspectors; i++) {
		const struct inspector *in = inspector_set_at(set, i);
		struct inspector_report *ir = &r->insp[i];

		snprintf(ir->name, sizeof(ir->name), "%s", inspector_name(in));
		snprintf(ir->plugin, sizeof(ir->plugin), "%s",
			 inspector_plugin_name(in));
		inspector_stats_read(in, &ir->st);
	}
}

/* The [rules] counters of @p into @r (r->rules sized for them). */
static void engine_report_rules(struct report *r, const struct policy *p)
{
	for (unsigned i = 0; i < r->nrules; i++) {
		snprintf(r->rules[i].text, sizeof(r->rules[i].text), "%s",
			 policy_rule_text(p, i));
		r->rules[i].packets = policy_rule_hits(p, i);
	}
	r->rule_default = policy_rule_hits(p, r->nrules);
	r->rule_cached = policy_rule_hits(p, r->nrules + 1);
	snprintf(r->default_text, sizeof(r->default_text), "%s",
		 policy_default_text(p));
}

_Static_assert(_Alignof(struct inspector_report) >=
	       _Alignof(struct rule_report) &&
	       sizeof(struct inspector_report) % _Alignof(struct rule_report) == 0,
	       "the rule reports follow insp[] in one allocation");

struct report *engine_report(struct engine *e)
{
	const struct policy *p = rcu_dereference(e->policy.cur);
	struct inspector_set *set = policy_inspectors(p);
	unsigned ninsp = set ? inspector_set_count(set) : 0;
	unsigned nrules = policy_rule_count(p);
	struct report *r = calloc(1, sizeof(*r) +
				  e->nworkers * sizeof(r->q[0]) +
				  ninsp * sizeof(r->insp[0]) +
				  nrules * sizeof(r->rules[0]));

	if (!r)
		return NULL;
	r->mono_ns = mono_ns();
	r->nqueues = e->nworkers;
	r->ninspectors = ninsp;
	r->insp = ninsp ? (struct inspector_report *)&r->q[e->nworkers] :
			  NULL;
	engine_report_inspectors(r, set);
	r->nrules = nrules;
	r->rules = (struct rule_report *)
		((struct inspector_report *)&r->q[e->nworkers] + ninsp);
	engine_report_rules(r, p);
	r->rule_log_written = __atomic_load_n(&e->policy.log_written,
					      __ATOMIC_RELAXED);
	r->rule_log_suppressed = __atomic_load_n(&e->policy.log_suppressed,
						 __ATOMIC_RELAXED);
	if (e->offload) {
		r->have_offload = true;
		r->offload_mode = e->cfg.mode;
		offload_stats_read(e->offload, &r->offload);
	}
	for (unsigned i = 0; i < e->nworkers; i++) {
		struct queue_report *q = &r->q[i];
		uint64_t *dst = (uint64_t *)&r->total;
		const uint64_t *src = (const uint64_t *)&q->st;
		size_t words = offsetof(struct worker_stats, hold) /
			       sizeof(uint64_t);

		q->queue = worker_queue(e->workers[i]);
		q->cpu = worker_cpu(e->workers[i]);
		worker_stats_read(e->workers[i], &q->st);
		q->kstats_err = nfq_kstats_read(NULL, q->queue, &q->k);
		for (size_t w = 0; w < words; w++)
			dst[w] += src[w];
		hist_merge(&r->total.hold, &q->st.hold);
		r->ktotal.queue_total += q->k.queue_total;
		r->ktotal.queue_dropped += q->k.queue_dropped;
		r->ktotal.user_dropped += q->k.user_dropped;
		r->ktotal.id_sequence += q->k.id_sequence;
	}
	if (e->ft) {
		r->have_flows = true;
		flowtable_stats_get(e->ft, &r->flows);
	}
	r->have_ct = ct_stats_read(NULL, &r->ct) == 0;
	r->have_proc = proc_stats_read(NULL, &r->proc) == 0;
	r->start_realtime_ns = e->start_realtime_ns;
	r->takeover_gap_ns = e->takeover_gap_ns;
	return r;
}

static void engine_write_json(struct engine *e, const struct report *r)
{
	int ret;

	if (!e->cfg.stats_json[0])
		return;
	ret = report_write_json_file(e->cfg.stats_json, r);
	if (ret < 0)
		log_warn("stats_json %s: %s", e->cfg.stats_json,
			 strerror(-ret));
}

/* What the exposition carries besides @r: conntrack, the control
 * socket's refusals, the flow table's gauges. */
static void engine_metrics_extra(struct engine *e, const struct report *r,
				 struct metrics_extra *x)
{
	control_metrics_extra(e->control, x);
	x->hook = engine_flows_metrics;
	x->hook_ctx = e;
	x->ct = r->have_ct ? &r->ct : NULL;
}

static void engine_write_metrics(struct engine *e, const struct report *r)
{
	struct metrics_extra x;
	int ret;

	if (!e->cfg.metrics_textfile[0])
		return;
	engine_metrics_extra(e, r, &x);
	ret = metrics_write_textfile(e->cfg.metrics_textfile, r, &x);
	if (ret < 0)
		log_warn("metrics_textfile %s: %s", e->cfg.metrics_textfile,
			 strerror(-ret));
}

/* A scrape of [control] metrics_listen: a fresh report, as nfqectl's. */
static int engine_http_metrics(void *ctx, FILE *out)
{
	struct engine *e = ctx;
	struct report *r = engine_report(e);
	struct metrics_extra x;
	int ret;

	if (!r)
		return -ENOMEM;
	engine_metrics_extra(e, r, &x);
	ret = metrics_write(out, r, &x);
	free(r);
	return ret;
}

static int engine_reload_config(struct engine *e);

int engine_reload(struct engine *e)
{
	int ret;

	notify_reloading();
	ret = engine_reload_config(e);
	notify_ready();
	return ret;
}

static int engine_reload_config(struct engine *e)
{
	struct nfqe_config cfg;
	struct nfqe_tunables *t, *old;
	struct policy_builder *b;
	struct policy *policy;
	char err[4096], restart[256], desc[128];
	int ret;

	config_defaults(&cfg);
	b = policy_builder_new();
	if (!b) {
		log_err("reload failed: out of memory");
		return -1;
	}
	ret = e->conf_path ? policy_config_load(e->conf_path, &cfg, b, err,
						sizeof(err)) : 0;
	policy = ret < 0 ? NULL : policy_build(b, err, sizeof(err));
	policy_builder_free(b);
	if (!policy) {
		log_err("reload failed, the running config stays:\n%s", err);
		return -1;
	}
	if (e->cli_queues)
		config_parse_queues(e->cli_queues, &cfg.queue_first,
				    &cfg.queue_last);
	cfg.seccomp_cli = e->cfg.seccomp_cli;
	if (cfg.seccomp_cli >= 0)
		cfg.seccomp = cfg.seccomp_cli;
	if (config_check(&cfg, err, sizeof(err)) < 0) {
		log_err("reload failed, the running config stays: %s", err);
		policy_free(policy);
		return -1;
	}
	t = tunables_new(&cfg);
	if (!t) {
		log_err("reload failed: out of memory");
		policy_free(policy);
		return -1;
	}
	/* never waits for a grace period, as the tunables below */
	policy_describe(policy, desc, sizeof(desc));
	ret = policy_reload(&e->policy, policy);
	if (ret < 0) {
		log_err("reload failed, the running config stays: %d replaced "
			"policies still wait for a grace period (is a worker "
			"stuck?)", POLICY_PENDING_MAX);
		policy_free(policy);
		free(caa_container_of(t, struct tunables_box, t));
		return -1;
	}
	config_restart_keys(&e->cfg, &cfg, restart, sizeof(restart));
	if (restart[0])
		log_warn("reload: %s changed; these need a restart and keep "
			 "their running values", restart);

	/* live keys only; the rest keep their running values */
	e->cfg.batch_max = cfg.batch_max;
	e->cfg.max_hold_us = cfg.max_hold_us;
	e->cfg.malformed_drop = cfg.malformed_drop;
	e->cfg.watchdog_ms = cfg.watchdog_ms;
	e->cfg.watchdog_stop = cfg.watchdog_stop;
	e->cfg.test_decide_delay_us = cfg.test_decide_delay_us;
	e->cfg.stats_interval = cfg.stats_interval;
	e->cfg.log_level = cfg.log_level;
	memcpy(e->cfg.stats_json, cfg.stats_json, sizeof(cfg.stats_json));
	memcpy(e->cfg.metrics_textfile, cfg.metrics_textfile,
	       sizeof(cfg.metrics_textfile));
	e->cfg.metrics_interval = cfg.metrics_interval;
	log_set_level(cfg.log_level);

	old = worker_tunables_publish(&e->tunables, t);
	call_rcu(&caa_container_of(old, struct tunables_box, t)->rcu,
		 tunables_free_rcu);
	log_info("reloaded: batch_max %u, max_hold %u us, malformed %s; "
		 "policy: %s", t->batch_max, t->max_hold_us,
		 t->malformed_verdict == NF_DROP ? "drop" : "accept", desc);
	return 0;
}

/* Shorten @timeout_ms to a periodic deadline @next (armed on first use;
 * @period_ns 0: off). */
static void tick_arm(uint64_t *next, uint64_t period_ns, uint64_t now,
		     int *timeout_ms)
{
	int ms;

	if (!period_ns) {
		*next = 0;
		return;
	}
	if (!*next)
		*next = now + period_ns;
	ms = now >= *next ? 0 : (int)((*next - now) / 1000000) + 1;
	if (*timeout_ms < 0 || ms < *timeout_ms)
		*timeout_ms = ms;
}

/* Is the deadline @next past? Then move it on by a period (or past @now,
 * when the loop fell behind). */
static bool tick_due(uint64_t *next, uint64_t period_ns, uint64_t now)
{
	if (!period_ns || !*next || now < *next)
		return false;
	*next += period_ns;
	if (*next <= now)
		*next = now + period_ns;
	return true;
}

/*
 * The worker watchdog: a worker stuck inside one burst (a decide step or
 * plug-in that hangs) for watchdog_ms. With watchdog = accept, what its
 * queue holds is accepted and keeps being accepted while it is stuck; with
 * watchdog = stop, nfqe stops and reports (exit status 1). Returns true to
 * stop.
 */
static bool engine_worker_watchdog(struct engine *e, uint64_t now)
{
	uint64_t timeout = (uint64_t)e->cfg.watchdog_ms * 1000000;
	bool stop = false;

	for (unsigned i = 0; i < e->nworkers; i++) {
		int ret = worker_watchdog(e->workers[i], now, timeout,
					  !e->cfg.watchdog_stop);

		if (ret == 0)
			continue;
		if (ret < 0) {
			log_warn("queue %u: watchdog: %s",
				 worker_queue(e->workers[i]), strerror(-ret));
			continue;
		}
		if (e->cfg.watchdog_stop) {
			log_err("queue %u: worker stuck for %u ms (watchdog = "
				"stop): stopping", worker_queue(e->workers[i]),
				e->cfg.watchdog_ms);
			stop = true;
		} else {
			log_warn("queue %u: worker stuck for %u ms: accepting "
				 "what its queue holds (watchdog = accept)",
				 worker_queue(e->workers[i]),
				 e->cfg.watchdog_ms);
		}
	}
	return stop;
}

static void engine_status(const struct report *cur,
			  const struct report *prev)
{
	double dt = (double)(cur->mono_ns - prev->mono_ns) / 1e9;

	notify_status("%u queue%s, %.0f pps, kernel dropped %" PRIu64,
		      cur->nqueues, cur->nqueues == 1 ? "" : "s",
		      dt > 0 ? (double)(cur->total.packets -
					prev->total.packets) / dt : 0.0,
		      cur->ktotal.queue_dropped + cur->ktotal.user_dropped);
}

/*
 * The watchdog ping says the main loop runs and no worker is stuck. A
 * worker is stuck when the kernel had packets waiting for it at both ends
 * of a watchdog period and it read none in between. Idle queues (nothing
 * waiting) are healthy whatever their counters do.
 */
static void engine_watchdog(struct engine *e, struct report **prev)
{
	struct report *cur = engine_report(e);
	unsigned stuck = 0;

	if (!cur)
		return;
	for (unsigned i = 0; *prev && i < cur->nqueues; i++) {
		const struct queue_report *c = &cur->q[i], *p = &(*prev)->q[i];

		if (c->kstats_err || p->kstats_err || !c->k.queue_total ||
		    !p->k.queue_total || c->st.packets != p->st.packets)
			continue;
		stuck++;
		log_err("queue %u: no packet read for %.1f s while %u wait in "
			"the kernel; withholding the watchdog ping", c->queue,
			(double)(cur->mono_ns - (*prev)->mono_ns) / 1e9,
			c->k.queue_total);
	}
	if (!stuck)
		notify_watchdog();
	if (*prev)
		engine_status(cur, *prev);
	free(*prev);
	*prev = cur;
}

int engine_run(struct engine *e)
{
	struct report *prev = engine_report(e), *wd_prev = NULL, *cur;
	uint64_t next_tick = 0, next_metrics = 0, next_wd = 0, wd_usec = 0;
	uint64_t wd_period = 0, next_reap = 0, next_wwd = 0;
	bool stop = false;
	int ret, status = 0;

	if (notify_watchdog_enabled(&wd_usec))
		wd_period = wd_usec * 1000 / 2;
	notify_ready();
	notify_status("%u queue%s bound", e->nworkers,
		      e->nworkers == 1 ? "" : "s");
	while (!stop) {
		struct pollfd pfd[3] = {
			{ .fd = e->sig_fd, .events = POLLIN },
			{ .fd = control_fd(e->control), .events = POLLIN },
			{ .fd = httpmetrics_fd(e->http), .events = POLLIN },
		};
		struct signalfd_siginfo si;
		uint64_t now = mono_ns();
		int timeout = -1;

		tick_arm(&next_tick, e->cfg.stats_interval * 1000000000ull,
			 now, &timeout);
		tick_arm(&next_metrics, e->cfg.metrics_textfile[0] ?
			 e->cfg.metrics_interval * 1000000000ull : 0, now,
			 &timeout);
		tick_arm(&next_wd, wd_period, now, &timeout);
		tick_arm(&next_reap, e->ft ? REAP_PERIOD_NS : 0, now, &timeout);
		tick_arm(&next_wwd, (uint64_t)e->cfg.watchdog_ms * 250000, now,
			 &timeout);
		httpmetrics_timeout(e->http, &timeout);
		/* a QSBR reader must not block online: grace periods (the
		 * workers' flow frees, reloads) would wait for it */
		rcu_thread_offline();
		ret = poll(pfd, 3, timeout);
		rcu_thread_online();
		if (ret < 0 && errno != EINTR) {
			log_err("poll: %s", strerror(errno));
			break;
		}
		if (pfd[1].revents & POLLIN) {
			control_handle(e->control);
			if (e->handed_over)
				stop = true;
		}
		/* new scrapes, and connections that timed out */
		httpmetrics_run(e->http);
		while (read(e->sig_fd, &si, sizeof(si)) == sizeof(si)) {
			switch (si.ssi_signo) {
			case SIGTERM:
			case SIGINT:
				log_info("signal %d: stopping", si.ssi_signo);
				stop = true;
				break;
			case SIGHUP:
				engine_reload(e);
				break;
			case SIGUSR2:
				if (e->ft)
					engine_flows_print(e, 20, stderr);
				else
					log_info("SIGUSR2: no flow table");
				break;
			case SIGUSR1:
				cur = engine_report(e);
				if (cur) {
					report_print_table(stderr, cur);
					engine_write_json(e, cur);
					free(cur);
				}
				break;
			}
		}
		now = mono_ns();
		if (tick_due(&next_tick, e->cfg.stats_interval * 1000000000ull,
			     now)) {
			cur = engine_report(e);
			if (cur && prev) {
				report_print_line(stderr, cur, prev);
				engine_write_json(e, cur);
			}
			if (cur) {
				free(prev);
				prev = cur;
			}
		}
		if (tick_due(&next_metrics, e->cfg.metrics_interval *
			     1000000000ull, now)) {
			cur = engine_report(e);
			if (cur)
				engine_write_metrics(e, cur);
			free(cur);
		}
		if (tick_due(&next_wd, wd_period, now))
			engine_watchdog(e, &wd_prev);
		if (tick_due(&next_wwd, (uint64_t)e->cfg.watchdog_ms * 250000,
			     now) && engine_worker_watchdog(e, now)) {
			stop = true;
			status = 1;
		}
		if (tick_due(&next_reap, e->ft ? REAP_PERIOD_NS : 0, now))
			flowtable_reap(e->ft, now, e->cfg.flow_max / 64 + 256);
		rcu_quiescent_state();
	}
	free(prev);
	free(wd_prev);
	notify_stopping();

	/* every worker verdicts what it holds and drains its queue; with
	 * watchdog = accept the watchdog keeps a stuck one's queue moving
	 * meanwhile */
	for (unsigned i = 0; i < e->nworkers; i++) {
		/* after the watchdog said stop, a worker is known stuck */
		unsigned ms = status ? e->cfg.watchdog_ms :
				       WORKER_STOP_TIMEOUT_MS;
		uint64_t wd_ns = e->cfg.watchdog_ms && !e->cfg.watchdog_stop ?
				 (uint64_t)e->cfg.watchdog_ms * 1000000 : 0;
		int n;

		if (worker_stop(e->workers[i], ms, wd_ns) == 0)
			continue;
		e->stuck = true;
		status = 1;
		/* exiting unbinds the queue, which drops what it holds:
		 * accept it when the configuration says to (fail-open, or
		 * watchdog = accept) */
		if (!e->cfg.fail_open && !wd_ns) {
			log_err("queue %u: worker did not stop within %u ms; "
				"exiting, the kernel drops what its queue holds "
				"(fail_open = no, watchdog = stop)",
				worker_queue(e->workers[i]), ms);
			continue;
		}
		n = worker_release(e->workers[i], e->cfg.fail_open);
		if (n < 0)
			log_err("queue %u: worker did not stop within %u ms; "
				"accepting its queue failed (%s): the kernel "
				"drops what it holds", worker_queue(e->workers[i]),
				ms, strerror(-n));
		else
			log_err("queue %u: worker did not stop within %u ms; "
				"exiting, %d queued packets accepted%s",
				worker_queue(e->workers[i]), ms, n,
				e->cfg.fail_open ? ", the queue closed to new "
				"ones (fail-open)" : "");
	}
	cur = engine_report(e);
	if (cur) {
		report_print_table(stderr, cur);
		engine_write_json(e, cur);
		engine_write_metrics(e, cur);
		free(cur);
	}
	return status;
}
