// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Reports: the per-queue table (SIGUSR1, exit), the live line
 * (stats_interval) and the JSON file (stats_json) read by tests, nfqe-bench
 * and scripts.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nfqe-config.h"
#include "engine.h"

static double ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0.0;
}

static const char *const inspect_result_label[INSPECT_RESULT_MAX] = {
	[INSPECT_ACCEPT] = "accept",
	[INSPECT_DROP] = "drop",
	[INSPECT_MARK] = "mark",
	[INSPECT_MORE] = "more",
	[INSPECT_FLOW_ACCEPT] = "flow_accept",
	[INSPECT_FLOW_DROP] = "flow_drop",
	[INSPECT_FLOW_MARK] = "flow_mark",
};

const char *report_inspect_result_name(enum inspect_result res)
{
	return (unsigned)res < INSPECT_RESULT_MAX ?
	       inspect_result_label[res] : "?";
}

/*
 * offload_stats counts flows (once each) and bypasses, not messages: in
 * forward mode each bypass is a repeat verdict; in raw mode a datagram with
 * two additions (one element per set), and the kernel's error replies come
 * back per element.
 */
void report_offload_counts(const struct report *r,
			   struct offload_counts *ret)
{
	const struct offload_stats *o = &r->offload;
	uint64_t sent;

	memset(ret, 0, sizeof(*ret));
	if (!r->have_offload)
		return;
	ret->flows = o->flows;
	ret->bypasses = o->bypasses;
	ret->below_depth = o->below_depth;
	ret->unsupported = o->unsupported;
	ret->loops = o->looped;
	if (r->offload_mode != MODE_RAW) {
		ret->repeat_verdicts = o->bypasses;
		return;
	}
	sent = 2 * o->bypasses;
	/* the counters are read one by one while workers add to them */
	ret->set_adds_refused = o->set_errors < sent ? o->set_errors : sent;
	ret->set_adds_ok = sent - ret->set_adds_refused;
	ret->set_adds_unsent = 2 * o->send_errors;
}

static void print_offload(FILE *f, const struct report *r)
{
	struct offload_counts c;

	report_offload_counts(r, &c);
	if (r->offload_mode == MODE_RAW)
		fprintf(f, "offload (raw): %" PRIu64 " flows offloaded, %"
			PRIu64 " set additions, %" PRIu64 " refused, %" PRIu64
			" not sent, %" PRIu64 " without ports, %" PRIu64
			" packets below depth\n", c.flows, c.set_adds_ok,
			c.set_adds_refused, c.set_adds_unsent, c.unsupported,
			c.below_depth);
	else
		fprintf(f, "offload (forward): %" PRIu64 " flows offloaded, %"
			PRIu64 " repeat verdicts, %" PRIu64 " loops, %" PRIu64
			" packets below depth\n", c.flows, c.repeat_verdicts,
			c.loops, c.below_depth);
}

#define REPORT_RULES_PRINTED	20

static void print_inspector(FILE *f, const struct inspector_report *ir)
{
	fprintf(f, "inspector %s (%s): %" PRIu64 " packets (", ir->name,
		ir->plugin, ir->st.packets);
	for (int i = 0; i < INSPECT_RESULT_MAX; i++)
		fprintf(f, "%s%s %" PRIu64, i ? ", " : "",
			inspect_result_label[i], ir->st.results[i]);
	fprintf(f, "), %" PRIu64 " errors, %" PRIu64 " cached\n",
		ir->st.errors, ir->st.cached);
}

void report_print_table(FILE *f, const struct report *r)
{
	fprintf(f, "%5s %4s %12s %12s %10s %8s %7s %7s %8s %8s %9s %9s "
		"%9s %10s %10s %10s\n",
		"queue", "cpu", "packets", "accept", "drop", "other",
		"batch", "burst", "enobufs", "malform", "hold_p50", "hold_p99",
		"hold_p999", "k_total", "k_dropped", "k_udropped");
	for (unsigned i = 0; i <= r->nqueues; i++) {
		const struct worker_stats *s = i < r->nqueues ?
			&r->q[i].st : &r->total;
		const struct nfq_kstats *k = i < r->nqueues ?
			&r->q[i].k : &r->ktotal;
		char qname[16], cpu[8];

		if (i < r->nqueues) {
			snprintf(qname, sizeof(qname), "%u", r->q[i].queue);
			snprintf(cpu, sizeof(cpu), "%d", r->q[i].cpu);
		} else {
			if (r->nqueues < 2)
				break;
			strcpy(qname, "all");
			strcpy(cpu, "-");
		}
		fprintf(f, "%5s %4s %12" PRIu64 " %12" PRIu64 " %10" PRIu64
			" %8" PRIu64 " %7.1f %7.1f %8" PRIu64 " %8" PRIu64
			" %7.1fus %7.1fus %7.1fus %10" PRIu64 " %10" PRIu64
			" %10" PRIu64 "\n",
			qname, cpu, s->packets, s->verdicts[VK_ACCEPT],
			s->verdicts[VK_DROP],
			s->verdicts[VK_REPEAT] + s->verdicts[VK_QUEUE],
			ratio(s->flushed, s->flushes),
			ratio(s->burst_pkts, s->bursts), s->enobufs,
			s->malformed,
			hist_quantile(&s->hold, 0.50) / 1000.0,
			hist_quantile(&s->hold, 0.99) / 1000.0,
			hist_quantile(&s->hold, 0.999) / 1000.0,
			k->id_sequence, k->queue_dropped, k->user_dropped);
	}
	if (r->have_ct)
		fprintf(f, "conntrack: clashres %" PRIu64 ", insert_failed %"
			PRIu64 ", drop %" PRIu64 ", early_drop %" PRIu64
			"; new-flow packets held behind their first: %" PRIu64
			"\n", r->ct.clashres, r->ct.insert_failed, r->ct.drop,
			r->ct.early_drop, r->total.ct_race_held);
	if (r->have_flows)
		fprintf(f, "flows: %" PRIu64 " live, %" PRIu64 " created, %"
			PRIu64 " expired, %" PRIu64 " evicted, %" PRIu64
			" insert races lost, %" PRIu64 " not stored (full)\n",
			r->flows.live, r->flows.created, r->flows.expired,
			r->flows.evicted, r->flows.races_lost, r->flows.full);
	if (r->have_offload)
		print_offload(f, r);
	/* rules: the first REPORT_RULES_PRINTED, the rest in the JSON */
	if (r->nrules || r->rule_default || r->rule_cached) {
		fprintf(f, "rules: %" PRIu64 " packets decided from the "
			"flow's cache, %" PRIu64 " by the default (%s)\n",
			r->rule_cached, r->rule_default, r->default_text);
		for (unsigned i = 0; i < r->nrules &&
				     i < REPORT_RULES_PRINTED; i++)
			fprintf(f, "rule %u: %" PRIu64 " packets: %s\n", i + 1,
				r->rules[i].packets, r->rules[i].text);
		if (r->nrules > REPORT_RULES_PRINTED)
			fprintf(f, "(%u more rules: stats JSON, metrics)\n",
				r->nrules - REPORT_RULES_PRINTED);
	}
	for (unsigned i = 0; i < r->ninspectors; i++)
		print_inspector(f, &r->insp[i]);
	fflush(f);
}

void report_print_line(FILE *f, const struct report *cur,
		       const struct report *prev)
{
	double dt = (double)(cur->mono_ns - prev->mono_ns) / 1e9;
	uint64_t lost;

	if (dt <= 0)
		return;
	lost = cur->ktotal.queue_dropped + cur->ktotal.user_dropped;
	fprintf(f, "nfqe: %9.0f pps", (double)(cur->total.packets -
					      prev->total.packets) / dt);
	for (unsigned i = 0; i < cur->nqueues && i < prev->nqueues; i++)
		fprintf(f, " q%u %.0f", cur->q[i].queue,
			(double)(cur->q[i].st.packets -
				 prev->q[i].st.packets) / dt);
	fprintf(f, " | batch %.1f burst %.1f | hold p50 %.1fus p99 %.1fus"
		" | kernel dropped %" PRIu64 " enobufs %" PRIu64
		" malformed %" PRIu64 "\n",
		ratio(cur->total.flushed - prev->total.flushed,
		      cur->total.flushes - prev->total.flushes),
		ratio(cur->total.burst_pkts - prev->total.burst_pkts,
		      cur->total.bursts - prev->total.bursts),
		hist_quantile(&cur->total.hold, 0.50) / 1000.0,
		hist_quantile(&cur->total.hold, 0.99) / 1000.0,
		lost, cur->total.enobufs, cur->total.malformed);
	fflush(f);
}

/*
 * The histogram's non-empty buckets, [low, high, count] in ns (high at
 * most the max): a reader that keeps two reports can take the quantiles
 * of what happened between them (nfqe-bench does).
 */
static void json_hist_buckets(FILE *f, const struct hist *h)
{
	const char *sep = "";

	fprintf(f, ",\"buckets\":[");
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		uint64_t high = hist_bucket_high(i);

		if (!h->bucket[i])
			continue;
		fprintf(f, "%s[%" PRIu64 ",%" PRIu64 ",%" PRIu64 "]", sep,
			hist_bucket_low(i), high < h->max ? high : h->max,
			h->bucket[i]);
		sep = ",";
	}
	fputc(']', f);
}

static void json_stats(FILE *f, const struct worker_stats *s,
		       const struct nfq_kstats *k)
{
	fprintf(f, "\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64
		",\"accept\":%" PRIu64 ",\"drop\":%" PRIu64
		",\"repeat\":%" PRIu64 ",\"queue_verdicts\":%" PRIu64
		",\"flushes\":%" PRIu64 ",\"flushed\":%" PRIu64
		",\"mean_batch\":%.3f,\"batch_msgs\":%" PRIu64
		",\"verdict_msgs\":%" PRIu64 ",\"bursts\":%" PRIu64
		",\"burst_pkts\":%" PRIu64 ",\"mean_burst\":%.3f"
		",\"flush_burst_end\":%" PRIu64
		",\"flush_batch_full\":%" PRIu64 ",\"flush_hold\":%" PRIu64
		",\"flush_stop\":%" PRIu64 ",\"enobufs\":%" PRIu64
		",\"malformed\":%" PRIu64 ",\"send_errors\":%" PRIu64
		",\"kernel_errors\":%" PRIu64 ",\"flow_untracked\":%" PRIu64 ",\"ct_race_held\":%" PRIu64
		",\"wd_events\":%" PRIu64 ",\"wd_accepted\":%" PRIu64
		",\"wd_skipped\":%" PRIu64
		",\"cpu_ns\":%" PRIu64,
		s->packets, s->bytes, s->verdicts[VK_ACCEPT],
		s->verdicts[VK_DROP], s->verdicts[VK_REPEAT],
		s->verdicts[VK_QUEUE], s->flushes, s->flushed,
		ratio(s->flushed, s->flushes), s->batch_msgs, s->verdict_msgs,
		s->bursts, s->burst_pkts, ratio(s->burst_pkts, s->bursts),
		s->flush_reason[FLUSH_BURST_END],
		s->flush_reason[FLUSH_BATCH_FULL], s->flush_reason[FLUSH_HOLD],
		s->flush_reason[FLUSH_STOP], s->enobufs, s->malformed,
		s->send_errors, s->kernel_errors, s->flow_untracked,
		s->ct_race_held, s->wd_events, s->wd_accepted, s->wd_skipped,
		s->cpu_ns);
	fprintf(f, ",\"malformed_by\":{");
	for (int e = 1; e < PKT_ERR_MAX; e++)
		fprintf(f, "%s\"%s\":%" PRIu64, e > 1 ? "," : "",
			pkt_error_name(e), s->malformed_by[e]);
	fprintf(f, "},\"hold_ns\":{\"p50\":%" PRIu64 ",\"p99\":%" PRIu64
		",\"p999\":%" PRIu64 ",\"max\":%" PRIu64 ",\"count\":%" PRIu64
		",\"sum\":%" PRIu64,
		hist_quantile(&s->hold, 0.50), hist_quantile(&s->hold, 0.99),
		hist_quantile(&s->hold, 0.999), s->hold.max, s->hold.count,
		s->hold.sum);
	json_hist_buckets(f, &s->hold);
	fputc('}', f);
	fprintf(f, ",\"kernel\":{\"queue_total\":%" PRIu32
		",\"queue_dropped\":%" PRIu64 ",\"user_dropped\":%" PRIu64
		",\"id_sequence\":%" PRIu64 "}",
		k->queue_total, k->queue_dropped, k->user_dropped,
		k->id_sequence);
}

/* A JSON string: the plug-in chose its own name. */
static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_offload(FILE *f, const struct report *r)
{
	struct offload_counts c;

	report_offload_counts(r, &c);
	fprintf(f, ",\"offload\":{\"mode\":\"%s\",\"flows\":%" PRIu64
		",\"bypasses\":%" PRIu64 ",\"repeat_verdicts\":%" PRIu64
		",\"set_adds\":%" PRIu64 ",\"set_add_errors\":%" PRIu64
		",\"set_send_errors\":%" PRIu64 ",\"below_depth\":%" PRIu64
		",\"unsupported\":%" PRIu64 ",\"loops\":%" PRIu64 "}",
		r->offload_mode == MODE_RAW ? "raw" : "forward", c.flows,
		c.bypasses, c.repeat_verdicts, c.set_adds_ok,
		c.set_adds_refused, c.set_adds_unsent, c.below_depth,
		c.unsupported, c.loops);
}

static void json_inspectors(FILE *f, const struct report *r)
{
	fprintf(f, ",\"inspectors\":[");
	for (unsigned i = 0; i < r->ninspectors; i++) {
		const struct inspector_report *ir = &r->insp[i];

		fprintf(f, "%s{\"name\":", i ? "," : "");
		json_string(f, ir->name);
		fprintf(f, ",\"plugin\":");
		json_string(f, ir->plugin);
		fprintf(f, ",\"packets\":%" PRIu64 ",\"verdicts\":{",
			ir->st.packets);
		for (int v = 0; v < INSPECT_RESULT_MAX; v++)
			fprintf(f, "%s\"%s\":%" PRIu64, v ? "," : "",
				inspect_result_label[v], ir->st.results[v]);
		fprintf(f, "},\"errors\":%" PRIu64 ",\"cached\":%" PRIu64
			",\"slot_rebinds\":%" PRIu64 "}", ir->st.errors,
			ir->st.cached, ir->st.slot_rebinds);
	}
	fputc(']', f);
}

static void json_rules(FILE *f, const struct report *r)
{
	fprintf(f, ",\"rules\":{\"list\":[");
	for (unsigned i = 0; i < r->nrules; i++) {
		fprintf(f, "%s{\"rule\":%u,\"text\":", i ? "," : "", i + 1);
		json_string(f, r->rules[i].text);
		fprintf(f, ",\"packets\":%" PRIu64 "}", r->rules[i].packets);
	}
	fprintf(f, "],\"default\":{\"text\":");
	json_string(f, r->default_text);
	fprintf(f, ",\"packets\":%" PRIu64 "},\"cached\":%" PRIu64
		",\"log_written\":%" PRIu64 ",\"log_suppressed\":%" PRIu64 "}",
		r->rule_default, r->rule_cached, r->rule_log_written,
		r->rule_log_suppressed);
}

void report_write_json(FILE *f, const struct report *r)
{
	fprintf(f, "{\"version\":\"%s\",\"pid\":%d,\"takeover_gap_ns\":%"
		PRIu64 ",\"queues\":[", NFQE_VERSION, (int)getpid(),
		r->takeover_gap_ns);
	for (unsigned i = 0; i < r->nqueues; i++) {
		fprintf(f, "%s{\"queue\":%u,\"cpu\":%d,\"kernel_row\":%s,",
			i ? "," : "", r->q[i].queue, r->q[i].cpu,
			r->q[i].kstats_err ? "false" : "true");
		json_stats(f, &r->q[i].st, &r->q[i].k);
		fputc('}', f);
	}
	fprintf(f, "],\"total\":{");
	json_stats(f, &r->total, &r->ktotal);
	fputc('}', f);
	if (r->have_flows)
		fprintf(f, ",\"flows\":{\"live\":%" PRIu64 ",\"created\":%" PRIu64
			",\"expired\":%" PRIu64 ",\"evicted\":%" PRIu64
			",\"deleted\":%" PRIu64 ",\"races_lost\":%" PRIu64
			",\"full\":%" PRIu64 ",\"alloc_failed\":%" PRIu64
			",\"records\":%" PRIu64 ",\"record_bytes\":%" PRIu64 "}",
			r->flows.live, r->flows.created, r->flows.expired,
			r->flows.evicted, r->flows.deleted, r->flows.races_lost,
			r->flows.full, r->flows.alloc_failed, r->flows.records,
			r->flows.record_bytes);
	if (r->have_ct)
		fprintf(f, ",\"conntrack\":{\"entries\":%" PRIu64
			",\"clashres\":%" PRIu64 ",\"insert_failed\":%" PRIu64
			",\"drop\":%" PRIu64 ",\"early_drop\":%" PRIu64 "}",
			r->ct.entries, r->ct.clashres, r->ct.insert_failed,
			r->ct.drop, r->ct.early_drop);
	if (r->have_offload)
		json_offload(f, r);
	json_rules(f, r);
	json_inspectors(f, r);
	fprintf(f, "}\n");
}

int report_write_json_file(const char *path, const struct report *r)
{
	char tmp[300];
	FILE *f;
	int ret = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	report_write_json(f, r);
	if (fflush(f) || ferror(f))
		ret = -EIO;
	if (fclose(f) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}
