// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for the Prometheus exposition: a synthetic report with known
 * counters and hold samples, rendered and read back line by line; the
 * offload and inspector families; the conntrack statistics parser; the
 * atomic textfile.
 *
 * `test-metrics --promtool` pipes the same exposition into
 * `promtool check metrics` instead (exit 77 when promtool is missing).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "nfqe-config.h"
#include "metrics.h"

#define NS	1ull
#define US	1000ull
#define MS	1000000ull

/* Queue 3: known counters and hold samples; queue 4: no kernel row. Room
 * for two inspector reports after q[], as engine_report() lays them out;
 * report_extras() fills them. */
static struct report *report_new(void)
{
	struct report *r = calloc(1, sizeof(*r) + 2 * sizeof(r->q[0]) +
				  2 * sizeof(struct inspector_report));
	struct queue_report *q;

	assert_non_null(r);
	r->nqueues = 2;
	r->mono_ns = 123 * MS;

	q = &r->q[0];
	q->queue = 3;
	q->cpu = 1;
	q->st.packets = 4000;
	q->st.bytes = 336000;
	q->st.verdicts[VK_ACCEPT] = 3990;
	q->st.verdicts[VK_DROP] = 10;
	q->st.flushes = 500;
	q->st.flushed = 4000;
	q->st.flush_reason[FLUSH_HOLD] = 7;
	q->st.batch_msgs = 480;
	q->st.verdict_msgs = 20;
	q->st.bursts = 900;
	q->st.burst_pkts = 4000;
	q->st.enobufs = 2;
	q->st.malformed = 5;
	q->st.malformed_by[PKT_ERR_L4_TRUNC] = 5;
	q->st.cpu_ns = 1500000000;
	hist_add(&q->st.hold, 500 * NS, 10);	/* le 1e-06 and up */
	hist_add(&q->st.hold, 1500 * NS, 20);	/* le 2e-06 and up */
	hist_add(&q->st.hold, 30 * US, 5);	/* le 5e-05 and up */
	hist_add(&q->st.hold, 20 * MS, 1);	/* only +Inf */
	q->k.queue = 3;
	q->k.queue_total = 7;
	q->k.queue_dropped = 11;
	q->k.user_dropped = 13;
	q->k.id_sequence = 4007;

	q = &r->q[1];
	q->queue = 4;
	q->cpu = -1;
	q->st.packets = 17;
	q->kstats_err = -ENOENT;
	return r;
}

/* Offload in @mode and two inspectors, "content-1" and "dns". */
static struct report *report_extras(struct report *r, enum nfqe_mode mode)
{
	struct inspector_report *ir;

	r->have_offload = true;
	r->offload_mode = mode;
	r->offload.flows = 14;
	r->offload.bypasses = 16;
	r->offload.below_depth = 112;
	r->offload.unsupported = 3;
	r->offload.send_errors = 1;
	r->offload.set_errors = 2;
	r->offload.looped = 4;

	r->ninspectors = 2;
	r->insp = (struct inspector_report *)&r->q[r->nqueues];
	ir = &r->insp[0];
	strcpy(ir->name, "content-1");
	strcpy(ir->plugin, "content");
	ir->st.packets = 800;
	ir->st.results[INSPECT_ACCEPT] = 700;
	ir->st.results[INSPECT_FLOW_DROP] = 90;
	ir->st.results[INSPECT_DROP] = 10;
	ir->st.errors = 10;
	ir->st.cached = 60;
	ir = &r->insp[1];
	strcpy(ir->name, "dns");
	strcpy(ir->plugin, "dns");
	ir->st.packets = 25;
	ir->st.results[INSPECT_MORE] = 25;
	return r;
}

static char *render(const struct report *r, const struct metrics_extra *x)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(metrics_write(f, r, x), 0);
	assert_int_equal(fclose(f), 0);
	return text;
}

/* The value of the sample named exactly @series ("name{labels}"), -1 if
 * the exposition has no such line. */
static double value(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p && *p; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (!strncmp(p, series, n) && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	}
	return -1;
}

static double valuef(const char *text, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static double valuef(const char *text, const char *fmt, ...)
{
	char series[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(series, sizeof(series), fmt, ap);
	va_end(ap);
	return value(text, series);
}

#define Q3	"{queue=\"3\"}"
#define Q3L	"{queue=\"3\","	/* more labels follow */
#define Q4	"{queue=\"4\"}"

/* The sample @series has value @want (-1: there is no such sample). */
static void expect(const char *text, const char *series, double want)
{
	double got = value(text, series);

	if (got != want)
		fail_msg("%s: %g, expected %g", series, got, want);
}

static void test_counters(void **state)
{
	struct report *r = report_new();
	char *t = render(r, NULL);

	expect(t, "nfqe_info{version=\"" NFQE_VERSION "\"}", 1);
	expect(t, "nfqe_queues", 2);
	expect(t, "nfqe_packets_total" Q3, 4000);
	expect(t, "nfqe_packets_total" Q4, 17);
	expect(t, "nfqe_bytes_total" Q3, 336000);
	expect(t, "nfqe_verdicts_total" Q3L "verdict=\"accept\"}", 3990);
	expect(t, "nfqe_verdicts_total" Q3L "verdict=\"drop\"}", 10);
	expect(t, "nfqe_verdicts_total{queue=\"4\",verdict=\"repeat\"}", 0);
	expect(t, "nfqe_batches_total" Q3, 500);
	expect(t, "nfqe_batched_verdicts_total" Q3, 4000);
	expect(t, "nfqe_batch_flushes_total" Q3L "reason=\"hold\"}", 7);
	expect(t, "nfqe_verdict_messages_total" Q3L "type=\"batch\"}", 480);
	expect(t, "nfqe_bursts_total" Q3, 900);
	expect(t, "nfqe_enobufs_total" Q3, 2);
	expect(t, "nfqe_malformed_total" Q3L "reason=\"l4_trunc\"}", 5);
	expect(t, "nfqe_malformed_total" Q3L "reason=\"ihl\"}", 0);
	expect(t, "nfqe_malformed_total" Q3L "reason=\"ok\"}", -1);
	expect(t, "nfqe_cpu_seconds_total" Q3, 1.5);

	/* the kernel's row, and none for a queue the kernel does not list */
	expect(t, "nfqe_queue_bound" Q3, 1);
	expect(t, "nfqe_queue_bound" Q4, 0);
	expect(t, "nfqe_kernel_queue_length" Q3, 7);
	expect(t, "nfqe_kernel_queue_dropped_total" Q3, 11);
	expect(t, "nfqe_kernel_user_dropped_total" Q3, 13);
	expect(t, "nfqe_kernel_packets_total" Q3, 4007);
	expect(t, "nfqe_kernel_queue_length" Q4, -1);
	expect(t, "nfqe_kernel_packets_total" Q4, -1);

	/* no conntrack without its statistics; refusals always; no offload
	 * and no inspector families when there are none */
	assert_null(strstr(t, "nfqe_conntrack"));
	assert_null(strstr(t, "nfqe_offload"));
	assert_null(strstr(t, "nfqe_inspector"));
	expect(t, "nfqe_control_refused_total", 0);
	free(t);
	free(r);
}

static void test_hold_histogram(void **state)
{
	static const double want[] = {	/* cumulative, per le bound */
		10, 30, 30, 30, 30, 35, 35, 35, 35, 35, 35, 35, 35,
	};
	static const char *const le[] = {
		"1e-06", "2e-06", "5e-06", "1e-05", "2e-05", "5e-05", "0.0001",
		"0.0002", "0.0005", "0.001", "0.002", "0.005", "0.01",
	};
	struct report *r = report_new();
	char *t = render(r, NULL);
	double prev = 0, inf, count;

	assert_int_equal(metrics_hold_le_count, 13);
	assert_true(strstr(t, "# TYPE nfqe_hold_seconds histogram\n") != NULL);
	for (unsigned i = 0; i < metrics_hold_le_count; i++) {
		double v = valuef(t, "nfqe_hold_seconds_bucket" Q3L
				  "le=\"%s\"}", le[i]);

		assert_true(v == want[i]);
		assert_true(v >= prev);
		prev = v;
	}
	inf = value(t, "nfqe_hold_seconds_bucket" Q3L "le=\"+Inf\"}");
	count = value(t, "nfqe_hold_seconds_count" Q3);
	assert_true(inf == 36);
	assert_true(count == inf);
	assert_true(inf >= prev);
	expect(t, "nfqe_hold_seconds_sum" Q3, 0.020185);

	/* an empty histogram is all zeros, still complete */
	expect(t, "nfqe_hold_seconds_bucket{queue=\"4\",le=\"0.01\"}", 0);
	expect(t, "nfqe_hold_seconds_bucket{queue=\"4\",le=\"+Inf\"}", 0);
	expect(t, "nfqe_hold_seconds_count" Q4, 0);
	free(t);
	free(r);
}

static void test_offload_forward(void **state)
{
	struct report *r = report_extras(report_new(), MODE_FORWARD);
	char *t = render(r, NULL);

	assert_non_null(strstr(t, "# TYPE nfqe_offload_flows_total counter\n"));
	/* 14 flows, 2 of them offloaded again: 16 repeat verdicts */
	expect(t, "nfqe_offload_flows_total", 14);
	expect(t, "nfqe_offload_bypasses_total", 16);
	expect(t, "nfqe_offload_repeat_verdicts_total", 16);
	/* no sets in forward mode: the family is there, all zero */
	expect(t, "nfqe_offload_set_adds_total{result=\"ok\"}", 0);
	expect(t, "nfqe_offload_set_adds_total{result=\"refused\"}", 0);
	expect(t, "nfqe_offload_set_adds_total{result=\"unsent\"}", 0);
	expect(t, "nfqe_offload_below_depth_total", 112);
	expect(t, "nfqe_offload_loops_total", 4);
	free(t);
	free(r);
}

static void test_offload_raw(void **state)
{
	struct report *r = report_extras(report_new(), MODE_RAW);
	struct offload_counts c;
	char *t = render(r, NULL);

	/* 14 flows, 16 bypasses: 32 elements sent, 2 refused; 1 bypass
	 * not sent: 2 */
	expect(t, "nfqe_offload_flows_total", 14);
	expect(t, "nfqe_offload_bypasses_total", 16);
	expect(t, "nfqe_offload_repeat_verdicts_total", 0);
	expect(t, "nfqe_offload_set_adds_total{result=\"ok\"}", 30);
	expect(t, "nfqe_offload_set_adds_total{result=\"refused\"}", 2);
	expect(t, "nfqe_offload_set_adds_total{result=\"unsent\"}", 2);
	expect(t, "nfqe_offload_unsupported_total", 3);
	free(t);

	/* more errors read than additions (a racy snapshot): never below 0 */
	r->offload.set_errors = 40;
	report_offload_counts(r, &c);
	assert_int_equal(c.set_adds_ok, 0);
	assert_int_equal(c.set_adds_refused, 32);
	r->have_offload = false;
	report_offload_counts(r, &c);
	assert_int_equal(c.flows, 0);
	free(r);
}

static void test_inspectors(void **state)
{
	static const char *const verdicts[] = {
		"accept", "drop", "mark", "more", "flow_accept", "flow_drop",
		"flow_mark",
	};
	struct report *r = report_extras(report_new(), MODE_FORWARD);
	char *t = render(r, NULL);
	double sum = 0;

	expect(t, "nfqe_inspector_packets_total{inspector=\"content-1\"}", 800);
	expect(t, "nfqe_inspector_packets_total{inspector=\"dns\"}", 25);
	expect(t, "nfqe_inspector_verdicts_total{inspector=\"content-1\","
	       "verdict=\"accept\"}", 700);
	expect(t, "nfqe_inspector_verdicts_total{inspector=\"content-1\","
	       "verdict=\"flow_drop\"}", 90);
	expect(t, "nfqe_inspector_verdicts_total{inspector=\"dns\","
	       "verdict=\"more\"}", 25);
	expect(t, "nfqe_inspector_errors_total{inspector=\"content-1\"}", 10);
	expect(t, "nfqe_inspector_errors_total{inspector=\"dns\"}", 0);
	expect(t, "nfqe_inspector_cached_total{inspector=\"content-1\"}", 60);
	/* every verdict label, and they add up to the packets */
	for (unsigned v = 0; v < INSPECT_RESULT_MAX; v++) {
		double n = valuef(t, "nfqe_inspector_verdicts_total{inspector="
				  "\"content-1\",verdict=\"%s\"}", verdicts[v]);

		assert_true(n >= 0);
		assert_string_equal(report_inspect_result_name(v), verdicts[v]);
		sum += n;
	}
	assert_true(sum == 800);
	free(t);
	free(r);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* Per-rule counters: every rule by position with its text (quotes,
 * backslashes and newlines escaped), the default, the cache; the same in
 * the JSON and the table. */
static void test_rules(void **state)
{
	struct report *r = report_new();
	struct rule_report rules[2] = {
		{ .text = "src 192.0.2.0/24 drop", .packets = 16 },
		{ .text = "a\"b\\c\nd", .packets = 2 },
	};
	char *t, *text = NULL;
	size_t len;
	FILE *f;

	(void)state;
	r->nrules = 2;
	r->rules = rules;
	r->rule_default = 48;
	r->rule_cached = 3136;
	r->rule_log_written = 7;
	r->rule_log_suppressed = 3;
	strcpy(r->default_text, "accept");
	t = render(r, NULL);
	expect(t, "nfqe_rule_packets_total{rule=\"1\",text=\"src 192.0.2.0/24 "
	       "drop\"}", 16);
	expect(t, "nfqe_rule_packets_total{rule=\"2\",text=\"a\\\"b\\\\c\\nd\"}",
	       2);
	expect(t, "nfqe_rule_packets_total{rule=\"default\",text=\"accept\"}",
	       48);
	expect(t, "nfqe_rule_cached_packets_total", 3136);
	expect(t, "nfqe_rule_log_lines_total{result=\"written\"}", 7);
	expect(t, "nfqe_rule_log_lines_total{result=\"suppressed\"}", 3);
	free(t);

	f = open_memstream(&text, &len);
	assert_non_null(f);
	report_write_json(f, r);
	report_print_table(f, r);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(text, ",\"rules\":{\"list\":[{\"rule\":1,"
			       "\"text\":\"src 192.0.2.0/24 drop\",\"packets\":16},"
			       "{\"rule\":2,\"text\":\"a\\\"b\\\\c\\u000ad\","
			       "\"packets\":2}],\"default\":{\"text\":\"accept\","
			       "\"packets\":48},\"cached\":3136,"
			       "\"log_written\":7,\"log_suppressed\":3}"));
	assert_non_null(strstr(text, "\nrules: 3136 packets decided from the "
			       "flow's cache, 48 by the default (accept)\n"
			       "rule 1: 16 packets: src 192.0.2.0/24 drop\n"));
	free(text);
	free(r);
}

/* /proc/self/stat: the fields after the last ')' (a command may hold
 * blanks and parentheses); the process families from them. */
static void test_process(void **state)
{
	char dir[] = "/tmp/test-metrics.XXXXXX", path[64];
	long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	struct proc_stats ps = { 1, 2 }, real;
	struct report *r = report_new();
	char *t;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/stat", dir);
	/* utime 250, stime 50 ticks; rss 1000 pages */
	write_file(path, "4242 (nfqe (x) y) S 1 4242 4242 0 -1 4194560 300 0 0 0 "
		   "250 50 0 0 20 0 5 0 12345 100000000 1000 18446744073709551615 "
		   "1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n");
	assert_int_equal(proc_stats_read(path, &ps), 0);
	assert_int_equal(ps.cpu_ns, 300 * (1000000000ull / (uint64_t)tick));
	assert_int_equal(ps.rss_bytes, 1000 * (uint64_t)page);
	/* cut before rss: refused, nothing written */
	write_file(path, "4242 (nfqe) S 1 4242 4242 0 -1 4194560 300 0 0 0 250 50\n");
	ps = (struct proc_stats){ 1, 2 };
	assert_int_equal(proc_stats_read(path, &ps), -EBADMSG);
	assert_int_equal(ps.cpu_ns, 1);
	write_file(path, "no parenthesis\n");
	assert_int_equal(proc_stats_read(path, &ps), -EBADMSG);
	assert_int_equal(proc_stats_read("/nonexistent/stat", &ps), -ENOENT);
	unlink(path);
	rmdir(dir);
	/* this process's own: something resident */
	assert_int_equal(proc_stats_read(NULL, &real), 0);
	assert_true(real.rss_bytes > 0);

	t = render(r, NULL);
	expect(t, "process_cpu_seconds_total", -1);
	expect(t, "process_start_time_seconds", -1);
	free(t);
	r->have_proc = true;
	r->proc = (struct proc_stats){ .cpu_ns = 3250000000ull,
				       .rss_bytes = 4096000 };
	r->start_realtime_ns = 1700000000123000000ull;
	t = render(r, NULL);
	expect(t, "process_cpu_seconds_total", 3.25);
	expect(t, "process_resident_memory_bytes", 4096000);
	expect(t, "process_start_time_seconds", 1700000000.123);
	assert_non_null(strstr(t, "# TYPE process_cpu_seconds_total counter\n"));
	assert_non_null(strstr(t, "# TYPE process_start_time_seconds gauge\n"));
	free(t);
	free(r);
}

/* The same counters in the JSON report and the SIGUSR1 table. */
static void test_report_text(void **state)
{
	struct report *r = report_extras(report_new(), MODE_RAW);
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	report_write_json(f, r);
	report_print_table(f, r);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(text, ",\"offload\":{\"mode\":\"raw\","
			       "\"flows\":14,\"bypasses\":16,"
			       "\"repeat_verdicts\":0,"
			       "\"set_adds\":30,\"set_add_errors\":2,"
			       "\"set_send_errors\":2,\"below_depth\":112,"
			       "\"unsupported\":3,\"loops\":4}"));
	assert_non_null(strstr(text, "\"inspectors\":[{\"name\":"
			       "\"content-1\",\"plugin\":\"content\","
			       "\"packets\":800,\"verdicts\":{\"accept\":700,"
			       "\"drop\":10,\"mark\":0,\"more\":0,"
			       "\"flow_accept\":0,\"flow_drop\":90,"
			       "\"flow_mark\":0},\"errors\":10,\"cached\":60,"
			       "\"slot_rebinds\":0},{\"name\":\"dns\""));
	assert_non_null(strstr(text, "\noffload (raw): 14 flows offloaded, "
			       "30 set additions, 2 refused, 2 not sent, "
			       "3 without ports, 112 packets below depth\n"));
	assert_non_null(strstr(text, "\ninspector content-1 (content): 800 "
			       "packets (accept 700, drop 10, mark 0, more 0, "
			       "flow_accept 0, flow_drop 90, flow_mark 0), "
			       "10 errors, 60 cached\n"));
	assert_non_null(strstr(text, "\ninspector dns (dns): 25 packets ("));
	free(text);

	/* neither: "inspectors" is an empty list, no "offload" */
	r->have_offload = false;
	r->ninspectors = 0;
	text = NULL;
	f = open_memstream(&text, &len);
	assert_non_null(f);
	report_write_json(f, r);
	assert_int_equal(fclose(f), 0);
	assert_null(strstr(text, "\"offload\""));
	assert_non_null(strstr(text, ",\"inspectors\":[]}\n"));
	free(text);
	free(r);
}

/* Strip a sample line to its metric name. */
static void sample_name(const char *line, char *name, size_t size)
{
	size_t n = strcspn(line, "{ ");

	assert_true(n < size);
	memcpy(name, line, n);
	name[n] = '\0';
}

/*
 * Every sample belongs to the family of the TYPE line before it (a
 * histogram's by its _bucket/_sum/_count suffix), every family has HELP
 * then TYPE, and no family appears twice.
 */
static void test_families(void **state)
{
	struct report *r = report_extras(report_new(), MODE_RAW);
	struct ct_stats ct = { .clashres = 1 };
	struct metrics_extra x = { .ct = &ct };
	char *t = render(r, &x), *save = NULL, *line;
	char family[128] = "", type[32] = "", help[128] = "", name[128];
	char seen[8192] = " ";
	unsigned families = 0, samples = 0;

	for (line = strtok_r(t, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "# HELP ", 7)) {
			sample_name(line + 7, help, sizeof(help));
			assert_true(strlen(line) > 8 + strlen(help));
			continue;
		}
		if (!strncmp(line, "# TYPE ", 7)) {
			char key[140];

			assert_int_equal(sscanf(line + 7, "%127s %31s", family,
						type), 2);
			assert_string_equal(family, help);
			snprintf(key, sizeof(key), " %s ", family);
			assert_null(strstr(seen, key));
			strcat(seen, key + 1);
			families++;
			continue;
		}
		assert_true(line[0] != '#');
		sample_name(line, name, sizeof(name));
		if (!strcmp(type, "histogram")) {
			size_t n = strlen(family);

			assert_memory_equal(name, family, n);
			assert_true(!strcmp(name + n, "_bucket") ||
				    !strcmp(name + n, "_sum") ||
				    !strcmp(name + n, "_count"));
		} else {
			assert_string_equal(name, family);
		}
		if (!strcmp(type, "counter"))
			assert_non_null(strstr(family, "_total"));
		samples++;
	}
	assert_true(families >= 35);
	assert_true(samples > families);
	free(t);
	free(r);
}

static void test_conntrack(void **state)
{
	char dir[] = "/tmp/test-metrics.XXXXXX", path[64];
	struct ct_stats ct = { 0 };
	struct report *r = report_new();
	struct metrics_extra x = { .ct = &ct, .control_refused = 3 };
	char *t;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/nf_conntrack", dir);
	/* the kernel's layout: hex, one row per CPU, entries repeated */
	write_file(path,
		"entries  clashres found new invalid ignore delete chainlength "
		"insert insert_failed drop early_drop icmp_error  expect_new "
		"expect_create expect_delete search_restart\n"
		"0000002a  00000003 00000000 00000000 00000010 00000000 "
		"00000000 00000000 00000000 00000001 00000000 00000000 "
		"00000000  00000000 00000000 00000000 00000000\n"
		"0000002a  0000000a 00000000 00000000 00000000 00000000 "
		"00000000 00000000 00000000 00000002 00000005 000000ff "
		"00000000  00000000 00000000 00000000 00000000\n");
	assert_int_equal(ct_stats_read(path, &ct), 0);
	assert_int_equal(ct.entries, 42);
	assert_int_equal(ct.clashres, 13);
	assert_int_equal(ct.insert_failed, 3);
	assert_int_equal(ct.drop, 5);
	assert_int_equal(ct.early_drop, 255);

	t = render(r, &x);
	expect(t, "nfqe_conntrack_entries", 42);
	expect(t, "nfqe_conntrack_clashres_total", 13);
	expect(t, "nfqe_conntrack_insert_failed_total", 3);
	expect(t, "nfqe_conntrack_drop_total", 5);
	expect(t, "nfqe_conntrack_early_drop_total", 255);
	expect(t, "nfqe_control_refused_total", 3);
	free(t);

	/* a header only, or no file: an error, @ret untouched */
	write_file(path, "entries clashres insert_failed drop early_drop\n");
	assert_int_equal(ct_stats_read(path, &ct), -EBADMSG);
	assert_int_equal(ct.early_drop, 255);
	unlink(path);
	assert_int_equal(ct_stats_read(path, &ct), -ENOENT);
	rmdir(dir);
	free(r);
}

static void hook(void *ctx, FILE *out)
{
	fprintf(out, "# HELP nfqe_flows Flows in the table.\n"
		"# TYPE nfqe_flows gauge\nnfqe_flows %d\n", *(int *)ctx);
}

static void test_hook(void **state)
{
	int flows = 77;
	struct report *r = report_new();
	struct metrics_extra x = { .hook = hook, .hook_ctx = &flows };
	char *t = render(r, &x);

	expect(t, "nfqe_flows", 77);
	free(t);
	free(r);
}

static void test_textfile(void **state)
{
	char dir[] = "/tmp/test-metrics.XXXXXX", path[64], bad[96];
	struct report *r = report_new();
	char *want = render(r, NULL), got[1 << 16];
	struct stat st;
	size_t n;
	FILE *f;

	/* the process families stay out of the textfile (node_exporter
	 * has its own): the same text as without them */
	r->have_proc = true;
	r->proc.rss_bytes = 4096;
	r->start_realtime_ns = 1;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/nfqe.prom", dir);
	assert_int_equal(metrics_write_textfile(path, r, NULL), 0);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(got, 1, sizeof(got) - 1, f);
	fclose(f);
	got[n] = '\0';
	assert_string_equal(got, want);

	/* a second write replaces it; no temp file stays behind */
	r->q[0].st.packets = 4001;
	assert_int_equal(metrics_write_textfile(path, r, NULL), 0);
	assert_int_equal(stat(path, &st), 0);
	snprintf(bad, sizeof(bad), "%s.tmp.%d", path, (int)getpid());
	assert_int_equal(stat(bad, &st), -1);

	/* a directory that does not exist: an error, nothing written */
	snprintf(bad, sizeof(bad), "%s/missing/nfqe.prom", dir);
	assert_int_equal(metrics_write_textfile(bad, r, NULL), -ENOENT);

	unlink(path);
	assert_int_equal(rmdir(dir), 0);
	free(want);
	free(r);
}

/* Is @prog in $PATH? */
static bool in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[4096], *save = NULL, *dir;

	if (!path || strlen(path) >= sizeof(buf))
		return false;
	strcpy(buf, path);
	for (dir = strtok_r(buf, ":", &save); dir;
	     dir = strtok_r(NULL, ":", &save)) {
		char full[4200];

		snprintf(full, sizeof(full), "%s/%s", dir, prog);
		if (access(full, X_OK) == 0)
			return true;
	}
	return false;
}

/* The exposition, with every optional family, through promtool's linter. */
static int run_promtool(void)
{
	struct report *r;
	struct ct_stats ct = { .entries = 1 };
	int flows = 1, status;
	struct metrics_extra x = {
		.ct = &ct, .hook = hook, .hook_ctx = &flows,
	};
	FILE *p;

	if (!in_path("promtool")) {
		printf("SKIP: promtool not found (Debian package "
		       "'prometheus')\n");
		return 77;
	}
	r = report_extras(report_new(), MODE_RAW);
	p = popen("promtool check metrics", "w");
	if (!p) {
		perror("popen promtool");
		return 1;
	}
	metrics_write(p, r, &x);
	status = pclose(p);
	free(r);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		printf("FAIL: promtool check metrics: status %d\n", status);
		return 1;
	}
	printf("promtool check metrics: OK\n");
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_hold_histogram),
		cmocka_unit_test(test_offload_forward),
		cmocka_unit_test(test_offload_raw),
		cmocka_unit_test(test_inspectors),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_process),
		cmocka_unit_test(test_report_text),
		cmocka_unit_test(test_families),
		cmocka_unit_test(test_conntrack),
		cmocka_unit_test(test_hook),
		cmocka_unit_test(test_textfile),
	};

	if (argc > 1 && !strcmp(argv[1], "--promtool"))
		return run_promtool();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
