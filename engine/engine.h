/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * engine.h - the daemon's root: the config, the workers of the queue
 * range, the live tunables, and the reports built from their counters.
 */
#ifndef NFQE_ENGINE_H
#define NFQE_ENGINE_H

#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "flowtable.h"
#include "offload.h"
#include "policy.h"

struct offload_config;
#include "worker.h"

struct engine;

/* The conntrack counters of nfqe's network namespace (the router's). */
struct ct_stats {
	uint64_t	entries;	/* conntrack entries now (a gauge) */
	uint64_t	clashres;	/* insert clashes resolved */
	uint64_t	insert_failed;	/* clashes lost: packet dropped */
	uint64_t	drop;		/* dropped: table full, no early drop */
	uint64_t	early_drop;	/* entries evicted to make room */
};

/*
 * ct_stats_read - read @path (NULL: /proc/net/stat/nf_conntrack of the
 * calling thread's network namespace). The header line names the columns,
 * values are hex, one row per CPU. 0, -ENOENT when conntrack is not
 * loaded, -EBADMSG when the file has no row or a needed column is missing,
 * or -errno. @ret is written only on success.
 */
int ct_stats_read(const char *path, struct ct_stats *ret);

/* The process as a whole, from /proc/self/stat. */
struct proc_stats {
	uint64_t	cpu_ns;		/* user + system, every thread */
	uint64_t	rss_bytes;	/* resident memory */
};

/*
 * proc_stats_read - read @path (NULL: /proc/self/stat, which stays
 * readable after the privilege drop and under the seccomp allowlist).
 * 0, -EBADMSG when a field is missing, or -errno. @ret is written only on
 * success.
 */
int proc_stats_read(const char *path, struct proc_stats *ret);

/* One queue's counters next to the kernel's. */
struct queue_report {
	unsigned		queue;
	int			cpu;
	int			kstats_err;	/* 0 or -errno */
	struct nfq_kstats	k;
	struct worker_stats	st;
};

#define REPORT_NAME_MAX	64

/* One [inspector NAME] instance of the current policy. Its counters start
 * at zero when a reload builds new instances. */
struct inspector_report {
	char			name[REPORT_NAME_MAX];	/* the section's NAME */
	char			plugin[REPORT_NAME_MAX]; /* the plug-in's name */
	struct inspector_stats	st;
};

#define REPORT_RULE_TEXT_MAX	200	/* a config line's value fits */

/* One rule of the current policy's [rules]: its text, the packets it
 * decided (policy_rule_hits()). Zero again after a reload. */
struct rule_report {
	char			text[REPORT_RULE_TEXT_MAX];
	uint64_t		packets;
};

struct report {
	uint64_t		mono_ns;	/* CLOCK_MONOTONIC at collection */
	unsigned		nqueues;
	struct worker_stats	total;
	struct nfq_kstats	ktotal;
	bool			have_flows;	/* a flow table exists */
	bool			have_ct;	/* conntrack counters read */
	bool			have_proc;	/* proc counters read */
	struct proc_stats	proc;
	uint64_t		start_realtime_ns; /* the process's start */
	uint64_t		takeover_gap_ns; /* took over: queues paused */
	struct ct_stats		ct;
	struct flowtable_stats	flows;
	bool			have_offload;	/* [offload] enable = yes */
	enum nfqe_mode		offload_mode;	/* forward: repeat verdicts,
						 * raw: kernel set additions */
	struct offload_stats	offload;
	unsigned		ninspectors;
	struct inspector_report	*insp;		/* ninspectors; in the same
						 * allocation, after q[] */
	unsigned		nrules;
	struct rule_report	*rules;		/* nrules; same allocation,
						 * after insp[] */
	uint64_t		rule_default;	/* packets no rule matched */
	uint64_t		rule_cached;	/* decided from the flow's
						 * cached decision */
	char			default_text[16]; /* the default's action */
	uint64_t		rule_log_written;  /* "log" lines written */
	uint64_t		rule_log_suppressed; /* over the rate */
	struct queue_report	q[];
};

/*
 * engine_new - bind every queue of @cfg (one worker each) and start them.
 * With @takeover, take the bound queues over from the nfqe running behind
 * @cfg's control socket instead (takeover.h); bind them if none runs.
 * @policy is the first policy (NULL: accept all), owned by the engine from
 * here on, also when it fails. @oc (NULL or not enabled: no offload) is
 * copied.
 * @conf_path is the file reloads read again (NULL: built-in defaults);
 * @cli is the config as overridden on the command line. Returns NULL and
 * logs the reason (naming the queue) on failure; nothing stays bound.
 */
struct engine *engine_new(const struct nfqe_config *cfg, struct policy *policy,
			  const struct offload_config *oc,
			  const char *conf_path, const char *cli_queues,
			  bool takeover);
/* Stop every worker (each verdicts and drains what it holds), unbind. */
void engine_free(struct engine *e);

/* Whether a worker did not stop (a decide step that hangs). Then the
 * process must leave with _exit(): library destructors would wait for a
 * grace period the stuck worker never grants. */
bool engine_stuck(const struct engine *e);

/* The signal loop: returns the exit status once SIGTERM/SIGINT came. */
int engine_run(struct engine *e);

/* Reload: read the file again; keep running on error. 0 or -1. */
int engine_reload(struct engine *e);

/* A report for the current counters (free with free()). */
struct report *engine_report(struct engine *e);

/* The offload counters of a report, as their mode means them. */
struct offload_counts {
	uint64_t	flows;		/* distinct flows offloaded, once each
					 * (without a flow record: each bypass) */
	uint64_t	bypasses;	/* bypasses programmed: a flow's first,
					 * and again for each packet that still
					 * reached nfqe after its offload */
	uint64_t	repeat_verdicts; /* forward: NF_REPEAT with the bit */
	uint64_t	set_adds_ok;	/* raw: set elements added, two per
					 * bypass (sent, not refused) */
	uint64_t	set_adds_refused; /* raw: elements the kernel refused
					   * (or whose error reply was lost) */
	uint64_t	set_adds_unsent; /* raw: elements not sent (sendmsg
					  * failed), two per bypass */
	uint64_t	below_depth;	/* packets accepted below the depth */
	uint64_t	unsupported;	/* raw: no ports, not offloaded */
	uint64_t	loops;		/* forward: came back with the bit */
};

/* @r's offload counters (all 0 without offload). */
void report_offload_counts(const struct report *r,
			   struct offload_counts *ret);

/* The label of an inspector result: "accept", ..., "flow_mark". */
const char *report_inspect_result_name(enum inspect_result res);

void report_print_table(FILE *f, const struct report *r);
void report_print_line(FILE *f, const struct report *cur,
		       const struct report *prev);
void report_write_json(FILE *f, const struct report *r);
/* Write the JSON report to @path atomically (temp file + rename). */
int report_write_json_file(const char *path, const struct report *r);


/* `nfqe rules ...`: print an iptables-restore file. Exit status. */
int rules_main(int argc, char **argv);

#endif
