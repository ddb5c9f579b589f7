// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The Prometheus exposition of a report. Families are written whole (every
 * queue's sample of one family before the next family), as the text format
 * requires. The hold histogram's buckets come from hist_count_le(), whose
 * counts are cumulative by construction; _count and le="+Inf" are both the
 * sum of the snapshot's buckets, so they agree even when the snapshot raced
 * the worker's separate count field.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nfqe-config.h"
#include "metrics.h"
#include "policy.h"

#define NFQE_XSTR(x)	#x
#define NFQE_STR(x)	NFQE_XSTR(x)

const uint64_t metrics_hold_le_ns[] = {
	1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000, 500000,
	1000000, 2000000, 5000000, 10000000,
};
const unsigned metrics_hold_le_count =
	sizeof(metrics_hold_le_ns) / sizeof(metrics_hold_le_ns[0]);

/* The le label of each bucket, spelled as Prometheus clients do (%g). */
static const char *const hold_le_label[] = {
	"1e-06", "2e-06", "5e-06", "1e-05", "2e-05", "5e-05", "0.0001",
	"0.0002", "0.0005", "0.001", "0.002", "0.005", "0.01",
};

struct queue_counter {
	const char	*name;
	const char	*help;
	size_t		offset;		/* in struct worker_stats */
};

#define WS(f)	offsetof(struct worker_stats, f)

static const struct queue_counter queue_counters[] = {
	{ "nfqe_packets_total", "Packets received from the queue.",
	  WS(packets) },
	{ "nfqe_bytes_total", "Bytes of the packets received, as queued "
	  "(not as copied).", WS(bytes) },
	{ "nfqe_batches_total", "Verdict batches sent (sendmsg calls).",
	  WS(flushes) },
	{ "nfqe_batched_verdicts_total", "Verdicts sent in batches (the sum "
	  "of the batch sizes).", WS(flushed) },
	{ "nfqe_bursts_total", "Receive bursts that returned packets.",
	  WS(bursts) },
	{ "nfqe_burst_messages_total", "Messages returned by receive "
	  "bursts.", WS(burst_pkts) },
	{ "nfqe_enobufs_total", "ENOBUFS reported by the queue's netlink "
	  "socket (the kernel dropped messages to it).", WS(enobufs) },
	{ "nfqe_verdict_send_errors_total", "Verdict sends that failed.",
	  WS(send_errors) },
	{ "nfqe_verdict_kernel_errors_total", "Verdicts the kernel answered "
	  "with an error.", WS(kernel_errors) },
};

static const char *const verdict_label[VK_MAX] = {
	[VK_ACCEPT] = "accept",
	[VK_DROP] = "drop",
	[VK_REPEAT] = "repeat",
	[VK_QUEUE] = "queue",
};

static const char *const flush_label[FLUSH_REASON_MAX] = {
	[FLUSH_BURST_END] = "burst_end",
	[FLUSH_BATCH_FULL] = "batch_full",
	[FLUSH_HOLD] = "hold",
	[FLUSH_STOP] = "stop",
};

static void family(FILE *f, const char *name, const char *type,
		   const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A family of one unlabelled sample. */
static void sample(FILE *f, const char *name, const char *type,
		   const char *help, uint64_t value)
{
	family(f, name, type, help);
	fprintf(f, "%s %" PRIu64 "\n", name, value);
}

static uint64_t stat_word(const struct worker_stats *s, size_t offset)
{
	return *(const uint64_t *)((const char *)s + offset);
}

static void write_queue_counters(FILE *f, const struct report *r)
{
	for (size_t c = 0; c < sizeof(queue_counters) /
			       sizeof(queue_counters[0]); c++) {
		const struct queue_counter *qc = &queue_counters[c];

		family(f, qc->name, "counter", qc->help);
		for (unsigned i = 0; i < r->nqueues; i++)
			fprintf(f, "%s{queue=\"%u\"} %" PRIu64 "\n", qc->name,
				r->q[i].queue, stat_word(&r->q[i].st,
							 qc->offset));
	}

	family(f, "nfqe_verdicts_total", "counter",
	       "Verdicts sent, by verdict.");
	for (unsigned i = 0; i < r->nqueues; i++)
		for (int v = 0; v < VK_MAX; v++)
			fprintf(f, "nfqe_verdicts_total{queue=\"%u\","
				"verdict=\"%s\"} %" PRIu64 "\n", r->q[i].queue,
				verdict_label[v], r->q[i].st.verdicts[v]);

	family(f, "nfqe_batch_flushes_total", "counter",
	       "Verdict batches flushed, by what flushed them.");
	for (unsigned i = 0; i < r->nqueues; i++)
		for (int fr = 0; fr < FLUSH_REASON_MAX; fr++)
			fprintf(f, "nfqe_batch_flushes_total{queue=\"%u\","
				"reason=\"%s\"} %" PRIu64 "\n", r->q[i].queue,
				flush_label[fr], r->q[i].st.flush_reason[fr]);

	family(f, "nfqe_verdict_messages_total", "counter",
	       "Netlink verdict messages sent, by type (one batch message "
	       "covers a run of packet ids).");
	for (unsigned i = 0; i < r->nqueues; i++)
		fprintf(f, "nfqe_verdict_messages_total{queue=\"%u\","
			"type=\"batch\"} %" PRIu64 "\n"
			"nfqe_verdict_messages_total{queue=\"%u\","
			"type=\"single\"} %" PRIu64 "\n",
			r->q[i].queue, r->q[i].st.batch_msgs, r->q[i].queue,
			r->q[i].st.verdict_msgs);

	family(f, "nfqe_malformed_total", "counter",
	       "Packets the parser refused, by reason (they get the "
	       "malformed verdict).");
	for (unsigned i = 0; i < r->nqueues; i++)
		for (int e = 1; e < PKT_ERR_MAX; e++)
			fprintf(f, "nfqe_malformed_total{queue=\"%u\","
				"reason=\"%s\"} %" PRIu64 "\n", r->q[i].queue,
				pkt_error_name(e), r->q[i].st.malformed_by[e]);

	family(f, "nfqe_cpu_seconds_total", "counter",
	       "CPU time of the queue's worker thread.");
	for (unsigned i = 0; i < r->nqueues; i++)
		fprintf(f, "nfqe_cpu_seconds_total{queue=\"%u\"} %.9f\n",
			r->q[i].queue, (double)r->q[i].st.cpu_ns / 1e9);
}

static void write_hold(FILE *f, const struct report *r)
{
	family(f, "nfqe_hold_seconds", "histogram",
	       "Time from receiving a packet to sending its verdict. A "
	       "bucket counts the samples of the internal log-linear "
	       "buckets that lie wholly at or below le.");
	for (unsigned i = 0; i < r->nqueues; i++) {
		const struct hist *h = &r->q[i].st.hold;
		unsigned queue = r->q[i].queue;
		uint64_t total = 0;

		for (unsigned b = 0; b < HIST_BUCKETS; b++)
			total += h->bucket[b];
		for (unsigned b = 0; b < metrics_hold_le_count; b++)
			fprintf(f, "nfqe_hold_seconds_bucket{queue=\"%u\","
				"le=\"%s\"} %" PRIu64 "\n", queue,
				hold_le_label[b],
				hist_count_le(h, metrics_hold_le_ns[b]));
		fprintf(f, "nfqe_hold_seconds_bucket{queue=\"%u\","
			"le=\"+Inf\"} %" PRIu64 "\n"
			"nfqe_hold_seconds_sum{queue=\"%u\"} %.9f\n"
			"nfqe_hold_seconds_count{queue=\"%u\"} %" PRIu64 "\n",
			queue, total, queue, (double)h->sum / 1e9, queue,
			total);
	}
}

static void write_kernel(FILE *f, const struct report *r)
{
	static const struct {
		const char	*name;
		const char	*type;
		const char	*help;
	} fams[] = {
		{ "nfqe_kernel_queue_length", "gauge",
		  "Packets waiting in the kernel queue now." },
		{ "nfqe_kernel_queue_dropped_total", "counter",
		  "Packets the kernel dropped because the queue was full "
		  "(without fail-open)." },
		{ "nfqe_kernel_user_dropped_total", "counter",
		  "Packets the kernel dropped because nfqe's netlink socket "
		  "was full." },
		{ "nfqe_kernel_packets_total", "counter",
		  "Packets the kernel queued (its id_sequence; 32 bits, "
		  "wraps)." },
	};

	family(f, "nfqe_queue_bound", "gauge",
	       "1 when the kernel lists the queue in "
	       "/proc/net/netfilter/nfnetlink_queue, else 0 (then it has no "
	       "nfqe_kernel_* samples).");
	for (unsigned i = 0; i < r->nqueues; i++)
		fprintf(f, "nfqe_queue_bound{queue=\"%u\"} %d\n",
			r->q[i].queue, r->q[i].kstats_err ? 0 : 1);
	for (size_t k = 0; k < sizeof(fams) / sizeof(fams[0]); k++) {
		family(f, fams[k].name, fams[k].type, fams[k].help);
		for (unsigned i = 0; i < r->nqueues; i++) {
			const struct nfq_kstats *ks = &r->q[i].k;
			uint64_t v;

			if (r->q[i].kstats_err)
				continue;
			switch (k) {
			case 0:
				v = ks->queue_total;
				break;
			case 1:
				v = ks->queue_dropped;
				break;
			case 2:
				v = ks->user_dropped;
				break;
			default:
				v = ks->id_sequence;
				break;
			}
			fprintf(f, "%s{queue=\"%u\"} %" PRIu64 "\n",
				fams[k].name, r->q[i].queue, v);
		}
	}
}

static void write_conntrack(FILE *f, const struct ct_stats *ct)
{
	sample(f, "nfqe_conntrack_entries", "gauge",
	       "Conntrack entries in nfqe's network namespace.",
	       ct->entries);
	sample(f, "nfqe_conntrack_clashres_total", "counter",
	       "Conntrack insert clashes resolved (the packet kept going).",
	       ct->clashres);
	sample(f, "nfqe_conntrack_insert_failed_total", "counter",
	       "Conntrack insert clashes not resolved (the packet was "
	       "dropped).",
	       ct->insert_failed);
	sample(f, "nfqe_conntrack_drop_total", "counter",
	       "Packets dropped because the conntrack table was full.",
	       ct->drop);
	sample(f, "nfqe_conntrack_early_drop_total", "counter",
	       "Conntrack entries evicted early to make room.",
	       ct->early_drop);
}

static void write_offload(FILE *f, const struct report *r)
{
	struct offload_counts c;

	report_offload_counts(r, &c);
	sample(f, "nfqe_offload_flows_total", "counter",
	       "Distinct flows offloaded, each counted once at its first "
	       "bypass (without a flow record, as with [flows] enable = no: "
	       "every bypass).",
	       c.flows);
	sample(f, "nfqe_offload_bypasses_total", "counter",
	       "Bypasses programmed (forward: repeat verdicts with the "
	       "offload mark, raw: additions to the two kernel sets); a "
	       "flow counts again for each packet that reached nfqe after "
	       "its offload.",
	       c.bypasses);
	sample(f, "nfqe_offload_repeat_verdicts_total", "counter",
	       "Forward mode: NF_REPEAT verdicts carrying the offload mark.",
	       c.repeat_verdicts);
	family(f, "nfqe_offload_set_adds_total", "counter",
	       "Raw mode: kernel set elements added (two per bypass), by "
	       "result: ok, refused by the kernel, unsent (sendmsg failed).");
	fprintf(f, "nfqe_offload_set_adds_total{result=\"ok\"} %" PRIu64 "\n"
		"nfqe_offload_set_adds_total{result=\"refused\"} %" PRIu64
		"\n"
		"nfqe_offload_set_adds_total{result=\"unsent\"} %" PRIu64 "\n",
		c.set_adds_ok, c.set_adds_refused, c.set_adds_unsent);
	sample(f, "nfqe_offload_below_depth_total", "counter",
	       "Packets of offloaded flows accepted before the flow reached "
	       "[offload] depth.",
	       c.below_depth);
	sample(f, "nfqe_offload_unsupported_total", "counter",
	       "Raw mode: packets without ports (or fragments), accepted in "
	       "user space instead of offloaded.",
	       c.unsupported);
	sample(f, "nfqe_offload_loops_total", "counter",
	       "Forward mode: packets that came back with the offload mark "
	       "(the rules that save it are missing?), accepted.",
	       c.loops);
}

/* Instances of the current policy: a reload starts them at zero. */
static void write_inspectors(FILE *f, const struct report *r)
{
	family(f, "nfqe_inspector_packets_total", "counter",
	       "Packets an inspector instance was asked about (cached final "
	       "results included).");
	for (unsigned i = 0; i < r->ninspectors; i++)
		fprintf(f, "nfqe_inspector_packets_total{inspector=\"%s\"} %"
			PRIu64 "\n", r->insp[i].name, r->insp[i].st.packets);
	family(f, "nfqe_inspector_verdicts_total", "counter",
	       "An inspector instance's results, by verdict (plug-in errors "
	       "counted as their on_error verdict).");
	for (unsigned i = 0; i < r->ninspectors; i++)
		for (int v = 0; v < INSPECT_RESULT_MAX; v++)
			fprintf(f, "nfqe_inspector_verdicts_total{inspector="
				"\"%s\",verdict=\"%s\"} %" PRIu64 "\n",
				r->insp[i].name, report_inspect_result_name(v),
				r->insp[i].st.results[v]);
	family(f, "nfqe_inspector_errors_total", "counter",
	       "Plug-in errors (an error or an unknown verdict returned).");
	for (unsigned i = 0; i < r->ninspectors; i++)
		fprintf(f, "nfqe_inspector_errors_total{inspector=\"%s\"} %"
			PRIu64 "\n", r->insp[i].name, r->insp[i].st.errors);
	family(f, "nfqe_inspector_cached_total", "counter",
	       "Packets answered from their flow's final result without "
	       "calling the plug-in.");
	for (unsigned i = 0; i < r->ninspectors; i++)
		fprintf(f, "nfqe_inspector_cached_total{inspector=\"%s\"} %"
			PRIu64 "\n", r->insp[i].name, r->insp[i].st.cached);
}

/* The standard process families of Prometheus client libraries: a
 * restart shows as a new start time (a crash that systemd restarted). */
static void write_process(FILE *f, const struct report *r)
{
	if (r->start_realtime_ns) {
		family(f, "process_start_time_seconds", "gauge",
		       "Start time of the process since unix epoch in "
		       "seconds.");
		fprintf(f, "process_start_time_seconds %.3f\n",
			(double)r->start_realtime_ns / 1e9);
	}
	if (!r->have_proc)
		return;
	family(f, "process_cpu_seconds_total", "counter",
	       "Total user and system CPU time spent in seconds.");
	fprintf(f, "process_cpu_seconds_total %.2f\n",
		(double)r->proc.cpu_ns / 1e9);
	family(f, "process_resident_memory_bytes", "gauge",
	       "Resident memory size in bytes.");
	fprintf(f, "process_resident_memory_bytes %" PRIu64 "\n",
		r->proc.rss_bytes);
}

/* A label value: backslash, double quote and newline escaped. */
static void label_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void write_rules(FILE *f, const struct report *r)
{
	family(f, "nfqe_rule_packets_total", "counter",
	       "Packets the [rules] list decided by this rule, its first "
	       "match (rule: position from 1, or default when none matched; "
	       "text: as written). Packets decided from their flow's cached "
	       "decision are in nfqe_rule_cached_packets_total. From zero "
	       "after a reload.");
	for (unsigned i = 0; i < r->nrules; i++) {
		fprintf(f, "nfqe_rule_packets_total{rule=\"%u\",text=\"", i + 1);
		label_value(f, r->rules[i].text);
		fprintf(f, "\"} %" PRIu64 "\n", r->rules[i].packets);
	}
	fprintf(f, "nfqe_rule_packets_total{rule=\"default\",text=\"");
	label_value(f, r->default_text);
	fprintf(f, "\"} %" PRIu64 "\n", r->rule_default);
	sample(f, "nfqe_rule_cached_packets_total", "counter",
	       "Packets decided from their flow's cached decision, without "
	       "the [rules] list. From zero after a reload.",
	       r->rule_cached);
	family(f, "nfqe_rule_log_lines_total", "counter",
	       "Lines of rules with \"log\": written, or suppressed over the "
	       "rate (" NFQE_STR(POLICY_LOG_RATE) " a second).");
	fprintf(f, "nfqe_rule_log_lines_total{result=\"written\"} %" PRIu64
		"\nnfqe_rule_log_lines_total{result=\"suppressed\"} %" PRIu64
		"\n", r->rule_log_written, r->rule_log_suppressed);
}

/* @process: the process families too (not in a node_exporter textfile:
 * node_exporter exports its own, and a second family of the same name
 * would make it refuse the file) */
static int write_all(FILE *f, const struct report *r,
		     const struct metrics_extra *x, bool process)
{
	static const struct metrics_extra none;

	if (!x)
		x = &none;
	family(f, "nfqe_info", "gauge", "Always 1; the version is a label.");
	fprintf(f, "nfqe_info{version=\"%s\"} 1\n", NFQE_VERSION);
	family(f, "nfqe_queues", "gauge", "Queues nfqe has a worker for.");
	fprintf(f, "nfqe_queues %u\n", r->nqueues);
	if (process)
		write_process(f, r);
	write_queue_counters(f, r);
	write_hold(f, r);
	write_kernel(f, r);
	if (x->ct)
		write_conntrack(f, x->ct);
	if (r->have_offload)
		write_offload(f, r);
	write_rules(f, r);
	if (r->ninspectors)
		write_inspectors(f, r);
	sample(f, "nfqe_control_refused_total", "counter",
	       "Control socket peers refused (neither root nor in the "
	       "control group).",
	       x->control_refused);
	if (x->hook)
		x->hook(x->hook_ctx, f);
	return ferror(f) ? -EIO : 0;
}

int metrics_write(FILE *f, const struct report *r,
		  const struct metrics_extra *x)
{
	return write_all(f, r, x, true);
}

int metrics_write_textfile(const char *path, const struct report *r,
			   const struct metrics_extra *x)
{
	char tmp[PATH_MAX];
	FILE *f;
	int ret = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	ret = write_all(f, r, x, false);
	if (fflush(f) && !ret)
		ret = -errno;
	if (fclose(f) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

/* The column of @name in the header's @cols, -1 if absent. */
static int ct_column(char **cols, int ncols, const char *name)
{
	for (int i = 0; i < ncols; i++)
		if (!strcmp(cols[i], name))
			return i;
	return -1;
}

int proc_stats_read(const char *path, struct proc_stats *ret)
{
	/* after "(comm)": state ppid ... utime(12) stime(13) ... rss(22) */
	enum { UTIME = 12, STIME = 13, RSS = 22 };
	uint64_t field[RSS + 1] = { 0 };
	char buf[1024], *p, *end;
	long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	size_t len;
	FILE *f = fopen(path ? path : "/proc/self/stat", "re");
	unsigned n;

	if (!f)
		return -errno;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	/* the command may hold blanks and parentheses: from the last ')' */
	p = strrchr(buf, ')');
	if (!p || tick <= 0 || page <= 0)
		return -EBADMSG;
	p++;
	/* the state is a letter: field 1 is skipped */
	while (*p == ' ')
		p++;
	if (!*p)
		return -EBADMSG;
	p++;
	for (n = 2; n <= RSS; n++) {
		field[n] = strtoull(p, &end, 10);
		if (end == p)
			return -EBADMSG;
		p = end;
	}
	ret->cpu_ns = (field[UTIME] + field[STIME]) * (1000000000ull /
						       (uint64_t)tick);
	ret->rss_bytes = field[RSS] * (uint64_t)page;
	return 0;
}

int ct_stats_read(const char *path, struct ct_stats *ret)
{
	static const char *const names[] = {
		"entries", "clashres", "insert_failed", "drop", "early_drop",
	};
	char header[1024], line[1024], *cols[64], *save = NULL, *tok;
	int ncols = 0, idx[5], rows = 0;
	uint64_t sum[5] = { 0 };
	FILE *f = fopen(path ? path : "/proc/net/stat/nf_conntrack", "re");

	if (!f)
		return -errno;
	if (!fgets(header, sizeof(header), f)) {
		fclose(f);
		return -EBADMSG;
	}
	for (tok = strtok_r(header, " \t\n", &save); tok && ncols < 64;
	     tok = strtok_r(NULL, " \t\n", &save))
		cols[ncols++] = tok;
	for (int n = 0; n < 5; n++)
		idx[n] = ct_column(cols, ncols, names[n]);
	while (fgets(line, sizeof(line), f)) {
		uint64_t val[64];
		int nval = 0;

		save = NULL;
		for (tok = strtok_r(line, " \t\n", &save); tok && nval < 64;
		     tok = strtok_r(NULL, " \t\n", &save))
			val[nval++] = strtoull(tok, NULL, 16);
		if (nval != ncols)
			continue;
		for (int n = 0; n < 5; n++) {
			if (idx[n] < 0)
				continue;
			/* entries is the namespace's count, repeated on
			 * every CPU's row; the rest are per-CPU events */
			if (n == 0)
				sum[n] = val[idx[n]];
			else
				sum[n] += val[idx[n]];
		}
		rows++;
	}
	fclose(f);
	if (!rows || idx[2] < 0)
		return -EBADMSG;
	ret->entries = sum[0];
	ret->clashres = sum[1];
	ret->insert_failed = sum[2];
	ret->drop = sum[3];
	ret->early_drop = sum[4];
	return 0;
}
