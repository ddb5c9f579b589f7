// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Unit tests for nfqe.conf: defaults, a file with every key, and every kind
 * of bad input, each checked for its exact "file:line: " prefix and the key
 * it names. Config files are written to a mkdtemp() directory.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "nfqe-config.h"
#include "config.h"

#define MAX_FILES	256

static char tmpdir[64];
static char *files[MAX_FILES];
static unsigned nfiles;
static char path[256];		/* the file written last */
static char err[4096];

static int setup(void **state)
{
	strcpy(tmpdir, "/tmp/nfqe-test-config.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	for (unsigned i = 0; i < nfiles; i++) {
		unlink(files[i]);
		free(files[i]);
	}
	nfiles = 0;
	return rmdir(tmpdir);
}

/* Write @text to a new file in the temp dir; its name is left in path. */
static void write_conf(const char *text)
{
	FILE *f;

	assert_true(nfiles < MAX_FILES);
	snprintf(path, sizeof(path), "%s/t%03u.conf", tmpdir, nfiles);
	files[nfiles] = strdup(path);
	assert_non_null(files[nfiles]);
	nfiles++;
	f = fopen(path, "we");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Load @text over the defaults into @cfg; the result of config_load(). */
static int load(const char *text, struct nfqe_config *cfg)
{
	write_conf(text);
	config_defaults(cfg);
	memset(err, 'x', sizeof(err));
	return config_load(path, cfg, err, sizeof(err));
}

static void load_ok(const char *text, struct nfqe_config *cfg)
{
	if (load(text, cfg) != 0)
		fail_msg("config_load failed for:\n%s\nerror: %s", text, err);
	assert_string_equal(err, "");
}

/* @msg must be "<path>:<line>: ...@key...@what..." on one line. */
static void check_msg(const char *msg, unsigned line, const char *key,
		      const char *what)
{
	char prefix[300];

	snprintf(prefix, sizeof(prefix), "%s:%u: ", path, line);
	if (strncmp(msg, prefix, strlen(prefix)) ||
	    (key && !strstr(msg + strlen(prefix), key)) ||
	    (what && !strstr(msg + strlen(prefix), what)))
		fail_msg("want '%s...%s...%s', got '%s'", prefix,
			 key ? key : "", what ? what : "", msg);
}

/* Loading @text must fail with exactly one error at @line. */
static void load_bad(const char *text, unsigned line, const char *key,
		     const char *what)
{
	struct nfqe_config cfg;

	if (load(text, &cfg) != -1)
		fail_msg("config_load accepted:\n%s", text);
	if (strchr(err, '\n'))
		fail_msg("want one error for:\n%s\ngot: %s", text, err);
	check_msg(err, line, key, what);
}

/* One bad value of [@section] @key, after a comment and a blank line so
 * the line number is not trivially 2. */
static void bad_value(const char *section, const char *key, const char *value,
		      const char *what)
{
	char text[512];

	snprintf(text, sizeof(text),
		 "# nfqe test\n\n[%s]\n%s = %s\n", section, key, value);
	load_bad(text, 4, key, what);
}

static void test_defaults(void **state)
{
	struct nfqe_config cfg;

	memset(&cfg, 0x5a, sizeof(cfg));
	config_defaults(&cfg);
	assert_int_equal(cfg.queue_first, 0);
	assert_int_equal(cfg.queue_last, 1);
	assert_int_equal(cfg.mode, MODE_FORWARD);
	assert_int_equal(cfg.stats_interval, 0);
	assert_string_equal(cfg.stats_json, "");
	assert_int_equal(cfg.log_level, LOG_INFO);
	assert_int_equal(cfg.cpu_pin, PIN_AUTO);
	assert_int_equal(cfg.cpu_count, 0);
	assert_int_equal(cfg.copy_range, 65531);
	assert_int_equal(cfg.queue_maxlen, 8192);
	assert_int_equal(cfg.rcvbuf, 32u << 20);
	assert_true(cfg.fail_open);
	assert_true(cfg.gso);
	assert_true(cfg.no_enobufs);
	assert_int_equal(cfg.burst_max, 64);
	assert_int_equal(cfg.batch_max, 256);
	assert_int_equal(cfg.max_hold_us, 100);
	assert_false(cfg.malformed_drop);
	assert_int_equal(cfg.test_decide_delay_us, 0);
	assert_int_equal(config_check(&cfg, err, sizeof(err)), 0);
}

static void test_empty_file(void **state)
{
	struct nfqe_config cfg, def;

	config_defaults(&def);
	load_ok("", &cfg);
	assert_memory_equal(&cfg, &def, sizeof(cfg));
	load_ok("# only a comment\n; and another\n\n[engine]\n[queue]\n",
		&cfg);
	assert_memory_equal(&cfg, &def, sizeof(cfg));
}

static void test_full(void **state)
{
	struct nfqe_config cfg;
	char text[1024];

	snprintf(text, sizeof(text),
		 "# every key\n"
		 "[engine]\n"
		 "queues = 10:17\n"
		 "mode = raw\n"
		 "stats_interval = 30\n"
		 "stats_json = /run/nfqe/stats.json\n"
		 "log_level = debug\n"
		 "\n"
		 "[queue]\n"
		 "cpu_pin = 0\n"
		 "copy_range = 128\n"
		 "queue_maxlen = 1024\n"
		 "rcvbuf = 1048576\n"
		 "fail_open = no\n"
		 "gso = off\n"
		 "no_enobufs = false\n"
		 "burst_max = 32\n"
		 "batch_max = 1024\n"
		 "max_hold_us = 250\n"
		 "malformed = drop\n"
		 "%s",
		 ENABLE_TEST_KNOBS ? "[test]\ndecide_delay_us = 7\n" : "");
	load_ok(text, &cfg);
	assert_int_equal(cfg.queue_first, 10);
	assert_int_equal(cfg.queue_last, 17);
	assert_int_equal(cfg.mode, MODE_RAW);
	assert_int_equal(cfg.stats_interval, 30);
	assert_string_equal(cfg.stats_json, "/run/nfqe/stats.json");
	assert_int_equal(cfg.log_level, LOG_DEBUG);
	assert_int_equal(cfg.cpu_pin, PIN_LIST);
	assert_int_equal(cfg.cpu_count, 1);
	assert_int_equal(cfg.cpu_list[0], 0);
	assert_int_equal(cfg.copy_range, 128);
	assert_int_equal(cfg.queue_maxlen, 1024);
	assert_int_equal(cfg.rcvbuf, 1048576);
	assert_false(cfg.fail_open);
	assert_false(cfg.gso);
	assert_false(cfg.no_enobufs);
	assert_int_equal(cfg.burst_max, 32);
	assert_int_equal(cfg.batch_max, 1024);
	assert_int_equal(cfg.max_hold_us, 250);
	assert_true(cfg.malformed_drop);
	assert_int_equal(cfg.test_decide_delay_us, ENABLE_TEST_KNOBS ? 7 : 0);
	assert_int_equal(config_check(&cfg, err, sizeof(err)), 0);
}

/* The other spellings: none / auto, accept, the other levels, blanks. */
static void test_values(void **state)
{
	struct nfqe_config cfg;

	load_ok("[engine]\nmode = forward\nlog_level = err\n"
		"[queue]\ncpu_pin = none\nmalformed = accept\n", &cfg);
	assert_int_equal(cfg.mode, MODE_FORWARD);
	assert_int_equal(cfg.log_level, LOG_ERR);
	assert_int_equal(cfg.cpu_pin, PIN_NONE);
	assert_false(cfg.malformed_drop);

	load_ok("[queue]\ncpu_pin = 0\ncpu_pin = auto\n", &cfg);
	assert_int_equal(cfg.cpu_pin, PIN_AUTO);

	load_ok("[engine]\nlog_level = warning\n", &cfg);
	assert_int_equal(cfg.log_level, LOG_WARNING);
	load_ok("[engine]\nlog_level = notice\n", &cfg);
	assert_int_equal(cfg.log_level, LOG_NOTICE);
	load_ok("[engine]\nlog_level = info\n", &cfg);
	assert_int_equal(cfg.log_level, LOG_INFO);

	load_ok("[engine]\nqueues = 3\n", &cfg);
	assert_int_equal(cfg.queue_first, 3);
	assert_int_equal(cfg.queue_last, 3);

	load_ok("  [queue]  \n\tbatch_max   =   12  \n", &cfg);
	assert_int_equal(cfg.batch_max, 12);

	/* the last of a repeated key wins */
	load_ok("[queue]\nbatch_max = 12\nbatch_max = 13\n", &cfg);
	assert_int_equal(cfg.batch_max, 13);
}

static void test_bools(void **state)
{
	static const char *const yes[] = { "yes", "true", "on", "1", "YES",
					   "True" };
	static const char *const no[] = { "no", "false", "off", "0", "NO",
					  "Off" };
	struct nfqe_config cfg;
	char text[128];

	for (size_t i = 0; i < 6; i++) {
		snprintf(text, sizeof(text),
			 "[queue]\nfail_open = %s\ngso = %s\n", no[i], no[i]);
		load_ok(text, &cfg);
		assert_false(cfg.fail_open);
		assert_false(cfg.gso);
		snprintf(text, sizeof(text),
			 "[queue]\nfail_open = %s\nno_enobufs = %s\n", yes[i],
			 yes[i]);
		cfg.fail_open = false;
		load_ok(text, &cfg);
		assert_true(cfg.fail_open);
		assert_true(cfg.no_enobufs);
	}
}

/* Bounds are inclusive. */
static void test_bounds(void **state)
{
	struct nfqe_config cfg;

	load_ok("[engine]\nstats_interval = 0\n"
		"[queue]\nbatch_max = 1\nmax_hold_us = 1\nburst_max = 1\n"
		"copy_range = 64\nqueue_maxlen = 1\nrcvbuf = 65536\n", &cfg);
	assert_int_equal(cfg.batch_max, 1);
	assert_int_equal(cfg.max_hold_us, 1);
	assert_int_equal(cfg.burst_max, 1);
	assert_int_equal(cfg.copy_range, 64);
	assert_int_equal(cfg.queue_maxlen, 1);
	assert_int_equal(cfg.rcvbuf, 65536);
	load_ok("[engine]\nstats_interval = 3600\nqueues = 65280:65535\n"
		"[queue]\nbatch_max = 4096\nmax_hold_us = 1000000\n"
		"burst_max = 1024\ncopy_range = 65531\n"
		"queue_maxlen = 16777216\nrcvbuf = 1073741824\n", &cfg);
	assert_int_equal(cfg.stats_interval, 3600);
	assert_int_equal(cfg.queue_first, 65280);
	assert_int_equal(cfg.queue_last, 65535);
	assert_int_equal(cfg.batch_max, 4096);
	assert_int_equal(cfg.max_hold_us, 1000000);
	assert_int_equal(cfg.burst_max, 1024);
	assert_int_equal(cfg.copy_range, 65531);
	assert_int_equal(cfg.queue_maxlen, 16777216);
	assert_int_equal(cfg.rcvbuf, 1073741824);
}

/* A file sets only what it names; the rest stays as it was. */
static void test_load_over(void **state)
{
	struct nfqe_config cfg;

	write_conf("[queue]\ngso = no\n");
	config_defaults(&cfg);
	cfg.batch_max = 7;
	cfg.queue_first = 4;
	cfg.queue_last = 5;
	assert_int_equal(config_load(path, &cfg, err, sizeof(err)), 0);
	assert_false(cfg.gso);
	assert_int_equal(cfg.batch_max, 7);
	assert_int_equal(cfg.queue_first, 4);
	assert_int_equal(cfg.queue_last, 5);
}

static void test_missing_file(void **state)
{
	struct nfqe_config cfg;
	char missing[300];

	snprintf(missing, sizeof(missing), "%s/no-such.conf", tmpdir);
	config_defaults(&cfg);
	assert_int_equal(config_load(missing, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, missing));
	assert_non_null(strstr(err, strerror(ENOENT)));
}

static void test_bad_number(void **state)
{
	bad_value("queue", "batch_max", "abc", "not a number");
	bad_value("queue", "batch_max", "12abc", "not a number");
	bad_value("queue", "batch_max", "1.5", "not a number");
	bad_value("queue", "batch_max", "-1", "not a number");
	bad_value("queue", "batch_max", "", "not a number");
	bad_value("queue", "batch_max", "99999999999999999999999",
		  "not a number");
	bad_value("queue", "max_hold_us", "100us", "not a number");
	bad_value("queue", "copy_range", "x", "not a number");
	bad_value("queue", "queue_maxlen", "-5", "not a number");
	bad_value("queue", "rcvbuf", "1M", "not a number");
	bad_value("queue", "burst_max", "six", "not a number");
	bad_value("engine", "stats_interval", "10s", "not a number");
}

static void test_bad_range(void **state)
{
	bad_value("queue", "batch_max", "0", "out of range");
	bad_value("queue", "batch_max", "4097", "out of range");
	/* not truncated to 32 bits on the way */
	bad_value("queue", "batch_max", "4294967297", "out of range");
	bad_value("queue", "max_hold_us", "0", "out of range");
	bad_value("queue", "max_hold_us", "1000001", "out of range");
	bad_value("queue", "burst_max", "0", "out of range");
	bad_value("queue", "burst_max", "1025", "out of range");
	bad_value("queue", "copy_range", "63", "out of range");
	bad_value("queue", "copy_range", "65532", "out of range");
	bad_value("queue", "queue_maxlen", "0", "out of range");
	bad_value("queue", "queue_maxlen", "16777217", "out of range");
	bad_value("queue", "rcvbuf", "65535", "out of range");
	bad_value("queue", "rcvbuf", "1073741825", "out of range");
	bad_value("engine", "stats_interval", "3601", "out of range");
	if (ENABLE_TEST_KNOBS)
		bad_value("test", "decide_delay_us", "1000001", "out of range");
}

static void test_bad_bool(void **state)
{
	bad_value("queue", "fail_open", "maybe", "not yes or no");
	bad_value("queue", "fail_open", "", "not yes or no");
	bad_value("queue", "gso", "2", "not yes or no");
	bad_value("queue", "no_enobufs", "yess", "not yes or no");
}

static void test_bad_queues(void **state)
{
	static const char *const bad[] = {
		"1:x", "5:2", "0:300", "0:256", "70000", "65535:65536", "",
		"1:", ":1", "-1", "1:2:3", "x", "1-3",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		bad_value("engine", "queues", bad[i], bad[i]);
}

static void test_bad_enum(void **state)
{
	char cpu[32];

	bad_value("engine", "mode", "bridge", "bridge");
	bad_value("engine", "mode", "", "forward or raw");
	bad_value("queue", "malformed", "reject", "accept or drop");
	bad_value("queue", "malformed", "", "accept or drop");
	bad_value("engine", "log_level", "verbose", "verbose");
	bad_value("engine", "log_level", "7", "debug");

	snprintf(cpu, sizeof(cpu), "%ld", sysconf(_SC_NPROCESSORS_CONF));
	bad_value("queue", "cpu_pin", cpu, cpu);
	bad_value("queue", "cpu_pin", "abc", "abc");
	bad_value("queue", "cpu_pin", "-1", "-1");
	bad_value("queue", "cpu_pin", "0,abc", "0,abc");
	bad_value("queue", "cpu_pin", "0x", "0x");
	bad_value("queue", "cpu_pin", "", "auto, none or a list");
	bad_value("queue", "cpu_pin", "100000", "100000");
}

static void test_cpu_list(void **state)
{
	struct nfqe_config cfg;
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	char text[128];

	snprintf(text, sizeof(text), "[queue]\ncpu_pin = 0, %ld,0\n",
		 ncpu - 1);
	load_ok(text, &cfg);
	assert_int_equal(cfg.cpu_pin, PIN_LIST);
	assert_int_equal(cfg.cpu_count, 3);
	assert_int_equal(cfg.cpu_list[0], 0);
	assert_int_equal(cfg.cpu_list[1], ncpu - 1);
	assert_int_equal(cfg.cpu_list[2], 0);
}

static void test_unknown(void **state)
{
	load_bad("[queue]\nbatchmax = 1\n", 2, "batchmax", "unknown key");
	/* a real key in the wrong section */
	load_bad("[engine]\n\nbatch_max = 1\n", 3, "batch_max", "[engine]");
	load_bad("[queue]\nqueues = 0:1\n", 2, "queues", "unknown key");
	load_bad("# x\n[bogus]\nkey = 1\n", 3, "bogus", "unknown section");
	load_bad("[Queue]\nbatch_max = 1\n", 2, "Queue", "unknown section");
	/* a key before any section */
	load_bad("batch_max = 1\n[queue]\n", 1, "batch_max", NULL);
	if (!ENABLE_TEST_KNOBS)
		load_bad("[test]\ndecide_delay_us = 1\n", 2, "decide_delay_us",
			 "test knobs");
}

static void test_syntax(void **state)
{
	struct nfqe_config cfg;
	char *line, *save = NULL;
	bool found = false;

	load_bad("[queue]\nbatch_max = 1\nbatch_max\n", 3, NULL,
		 "syntax error");
	load_bad("[queue]\n= 5\n", 2, NULL, NULL);

	/* A broken section header: its own syntax error; the keys under it
	 * are then outside any section and reported as well. */
	assert_int_equal(load("# x\n[queue\nbatch_max = 1\n", &cfg), -1);
	for (line = strtok_r(err, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strstr(line, "syntax error")) {
			check_msg(line, 2, NULL, "syntax error");
			found = true;
		}
	}
	assert_true(found);
	assert_int_equal(cfg.batch_max, 256);
}

/* Every error is reported, each with its own line, in file order. */
static void test_many_errors(void **state)
{
	static const struct {
		unsigned	line;
		const char	*key;
	} want[] = {
		{ 3, "queues" },
		{ 5, "log_level" },
		{ 7, "batch_max" },
		{ 8, "gso" },
		{ 11, "nope" },
		{ 13, "syntax error" },
	};
	struct nfqe_config cfg;
	char *line, *save = NULL;
	unsigned n = 0;

	assert_int_equal(load("# several errors\n"	/* 1 */
			      "[engine]\n"		/* 2 */
			      "queues = 5:2\n"		/* 3 */
			      "mode = raw\n"		/* 4 */
			      "log_level = loud\n"	/* 5 */
			      "[queue]\n"		/* 6 */
			      "batch_max = 0\n"		/* 7 */
			      "gso = perhaps\n"		/* 8 */
			      "burst_max = 16\n"	/* 9 */
			      "[nope]\n"		/* 10 */
			      "a = b\n"			/* 11 */
			      "[queue]\n"		/* 12 */
			      "this line has no equals sign\n" /* 13 */
			      "max_hold_us = 5\n",	/* 14 */
			      &cfg), -1);
	for (line = strtok_r(err, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		assert_true(n < sizeof(want) / sizeof(want[0]));
		check_msg(line, want[n].line, want[n].key, NULL);
		n++;
	}
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	/* parsing went on past each error */
	assert_int_equal(cfg.mode, MODE_RAW);
	assert_int_equal(cfg.burst_max, 16);
	assert_int_equal(cfg.max_hold_us, 5);
	/* bad values left the old ones */
	assert_int_equal(cfg.batch_max, 256);
	assert_true(cfg.gso);
	assert_int_equal(cfg.queue_first, 0);
	assert_int_equal(cfg.queue_last, 1);
}

/* A short error buffer is filled and terminated, never overrun. */
static void test_err_short(void **state)
{
	struct nfqe_config cfg;
	char area[1024];

	write_conf("[queue]\nbatch_max = 0\ngso = x\nburst_max = y\n");
	for (size_t len = 1; len <= 200; len++) {
		memset(area, 'z', sizeof(area));
		config_defaults(&cfg);
		assert_int_equal(config_load(path, &cfg, area, len), -1);
		assert_true(memchr(area, '\0', len) != NULL);
		for (size_t i = len; i < sizeof(area); i++)
			if (area[i] != 'z')
				fail_msg("errlen %zu: byte %zu written", len, i);
	}
	memset(area, 'z', sizeof(area));
	assert_int_equal(config_load(path, &cfg, area, 0), -1);
	assert_int_equal(area[0], 'z');
}

static void test_test_knob(void **state)
{
	struct nfqe_config cfg;

	if (!ENABLE_TEST_KNOBS) {
		load_bad("[test]\ndecide_delay_us = 5\n", 2, "decide_delay_us",
			 "test knobs");
		return;
	}
	load_ok("[test]\ndecide_delay_us = 0\n", &cfg);
	assert_int_equal(cfg.test_decide_delay_us, 0);
	load_ok("[test]\ndecide_delay_us = 1000000\n", &cfg);
	assert_int_equal(cfg.test_decide_delay_us, 1000000);
	bad_value("test", "decide_delay_us", "soon", "not a number");
	load_bad("[test]\nother = 1\n", 2, "other", "unknown key");
}

/*
 * BUG (engine/config.c, config_load/counting_reader): inih reads a line
 * into a fixed buffer of INI_MAX_LINE (200) bytes and does not grow it, so
 * a line of 200 or more characters is cut in two and its tail parsed as a
 * line of its own, with the next line number. A long line must be taken
 * whole or refused with one error on its own line, never split.
 */

/* Load @text whose line @line is long: it loads, or fails with exactly one
 * error on @line. Returns the result of config_load(). */
static int load_long(const char *text, unsigned line, struct nfqe_config *cfg)
{
	int ret = load(text, cfg);

	if (ret == 0)
		return 0;
	if (strchr(err, '\n'))
		fail_msg("want one error, got: %s", err);
	check_msg(err, line, NULL, "too long");
	return ret;
}

/* A stats_json path of 230 characters fits the key (255). Now: refused
 * with "file:3: syntax error" in a file of two lines. */
static void test_long_value(void **state)
{
	struct nfqe_config cfg;
	char text[512], json[231];

	memset(json, 'p', sizeof(json) - 1);
	json[0] = '/';
	json[sizeof(json) - 1] = '\0';
	snprintf(text, sizeof(text), "[engine]\nstats_json = %s\n", json);
	if (load_long(text, 2, &cfg) == 0)
		assert_string_equal(cfg.stats_json, json);
}

/* A comment must never change the config. Now: the tail of the comment
 * sets batch_max = 1 and the file loads without an error. */
static void test_long_comment(void **state)
{
	struct nfqe_config cfg;
	char text[512], comment[300];

	memset(comment, '-', sizeof(comment) - 1);
	comment[0] = '#';
	/* "batch_max = 1" starts at byte 199, the start of inih's 2nd read */
	strcpy(comment + 199, "batch_max = 1");
	snprintf(text, sizeof(text), "[queue]\n%s\nburst_max = 8\n", comment);
	if (load_long(text, 2, &cfg) == 0) {
		assert_int_equal(cfg.batch_max, 256);
		assert_int_equal(cfg.burst_max, 8);
	}
}

/* A stats_json of 256 characters is too long: one error, on its line.
 * Now: "file:3: syntax error", and the first 186 characters were taken as
 * the stats_json value. */
static void test_value_too_long(void **state)
{
	struct nfqe_config cfg;
	char text[512], json[257];

	memset(json, 'p', sizeof(json) - 1);
	json[0] = '/';
	json[sizeof(json) - 1] = '\0';
	snprintf(text, sizeof(text), "[engine]\nstats_json = %s\n", json);
	assert_int_equal(load_long(text, 2, &cfg), -1);
	assert_string_equal(cfg.stats_json, "");
}

static void test_parse_queues(void **state)
{
	static const struct {
		const char	*s;
		int		ret;
		unsigned	first, last;
	} cases[] = {
		{ "0:3", 0, 0, 3 },
		{ "5", 0, 5, 5 },
		{ "0", 0, 0, 0 },
		{ "0:255", 0, 0, 255 },
		{ "100:355", 0, 100, 355 },
		{ "65535", 0, 65535, 65535 },
		{ "65535:65535", 0, 65535, 65535 },
		{ "65280:65535", 0, 65280, 65535 },
		{ "0:256", -EINVAL },
		{ "0:300", -EINVAL },
		{ "5:2", -EINVAL },
		{ "1:x", -EINVAL },
		{ "70000", -EINVAL },
		{ "65536", -EINVAL },
		{ "65535:65536", -EINVAL },
		{ "", -EINVAL },
		{ ":", -EINVAL },
		{ "1:", -EINVAL },
		{ ":1", -EINVAL },
		{ "-1", -EINVAL },
		{ "1:-1", -EINVAL },
		{ "1:2:3", -EINVAL },
		{ "1 ", -EINVAL },
		{ "x", -EINVAL },
		{ "99999999999999999999999", -EINVAL },
		{ "0:99999999999999999999999", -EINVAL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned first = 777, last = 888;
		int ret = config_parse_queues(cases[i].s, &first, &last);

		if (ret != cases[i].ret)
			fail_msg("'%s': got %d, want %d", cases[i].s, ret,
				 cases[i].ret);
		if (ret == 0) {
			assert_int_equal(first, cases[i].first);
			assert_int_equal(last, cases[i].last);
		} else {
			/* output parameters only written on success */
			assert_int_equal(first, 777);
			assert_int_equal(last, 888);
		}
	}
}

static void test_parse_listen(void **state)
{
	static const char *const bad[] = {
		"", "9477", ":9477", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0",
		"127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:+80",
		"127.0.0.1:80x", "localhost:9477", "1.2.3:9477", "::1:9477",
		"[::1]", "[::1]9477", "[::1]:", "[127.0.0.1]:9477", "[::1:9477",
		"[]:80", "0.0.0.0:9477:1",
	};
	struct sockaddr_storage ss;
	const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
	char text[INET6_ADDRSTRLEN];
	socklen_t len;

	(void)state;
	assert_int_equal(config_parse_listen("127.0.0.1:9477", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_int_equal(ntohs(in->sin_port), 9477);
	assert_int_equal(ntohl(in->sin_addr.s_addr), 0x7f000001);
	assert_int_equal(config_parse_listen("0.0.0.0:1", &ss, &len), 0);
	assert_int_equal(ntohs(in->sin_port), 1);
	assert_int_equal(config_parse_listen("[fd00::1]:65535", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_int_equal(ntohs(in6->sin6_port), 65535);
	inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
	assert_string_equal(text, "fd00::1");
	assert_int_equal(config_parse_listen("[::]:80", &ss, &len), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&ss, 0x5a, sizeof(ss));
		len = 777;
		if (config_parse_listen(bad[i], &ss, &len) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		/* output parameters only written on success */
		assert_int_equal(len, 777);
		assert_int_equal(ss.ss_family, 0x5a5a);
	}
}

static void test_metrics_listen(void **state)
{
	struct nfqe_config cfg;

	(void)state;
	config_defaults(&cfg);
	assert_string_equal(cfg.metrics_listen, "");
	load_ok("[control]\nmetrics_listen = [::1]:9477\n", &cfg);
	assert_string_equal(cfg.metrics_listen, "[::1]:9477");
	load_ok("[control]\nmetrics_listen =\n", &cfg);
	assert_string_equal(cfg.metrics_listen, "");
	bad_value("control", "metrics_listen", "localhost:9477",
		  "'localhost:9477' is not ADDRESS:PORT");
	bad_value("control", "metrics_listen", "127.0.0.1:70000",
		  "is not ADDRESS:PORT");
}

static void test_check(void **state)
{
	struct nfqe_config cfg;

	config_defaults(&cfg);
	cfg.queue_first = 5;
	cfg.queue_last = 4;
	assert_int_equal(config_check(&cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "5:4"));
	cfg.queue_first = 0;
	cfg.queue_last = 256;
	assert_int_equal(config_check(&cfg, err, sizeof(err)), -1);
	cfg.queue_last = 255;
	assert_int_equal(config_check(&cfg, err, sizeof(err)), 0);
}

static void test_queue_cpu(void **state)
{
	struct nfqe_config cfg;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	assert_true(ncpu > 0);
	config_defaults(&cfg);
	cfg.queue_first = 4;
	cfg.queue_last = 4 + 2 * (unsigned)ncpu;
	for (unsigned q = 4; q <= cfg.queue_last; q++)
		assert_int_equal(config_queue_cpu(&cfg, q),
				 (int)((q - 4) % (unsigned)ncpu));

	cfg.cpu_pin = PIN_NONE;
	for (unsigned q = 4; q <= cfg.queue_last; q++)
		assert_int_equal(config_queue_cpu(&cfg, q), -1);

	cfg.cpu_pin = PIN_LIST;
	cfg.cpu_count = 3;
	cfg.cpu_list[0] = 3;
	cfg.cpu_list[1] = 5;
	cfg.cpu_list[2] = 7;
	assert_int_equal(config_queue_cpu(&cfg, 4), 3);
	assert_int_equal(config_queue_cpu(&cfg, 5), 5);
	assert_int_equal(config_queue_cpu(&cfg, 6), 7);
	assert_int_equal(config_queue_cpu(&cfg, 7), 3);
	assert_int_equal(config_queue_cpu(&cfg, 8), 5);

	/* and a list read from a file */
	load_ok("[engine]\nqueues = 10:13\n[queue]\ncpu_pin = 0,0\n", &cfg);
	for (unsigned q = 10; q <= 13; q++)
		assert_int_equal(config_queue_cpu(&cfg, q), 0);
}

static void test_restart_keys(void **state)
{
	struct nfqe_config a, b;
	char ret[256];

	config_defaults(&a);
	b = a;
	memset(ret, 'x', sizeof(ret));
	config_restart_keys(&a, &b, ret, sizeof(ret));
	assert_string_equal(ret, "");

	/* live keys: nothing to restart */
	b.batch_max = 1;
	b.max_hold_us = 999;
	b.stats_interval = 10;
	strcpy(b.stats_json, "/tmp/x.json");
	b.log_level = LOG_DEBUG;
	b.malformed_drop = true;
	b.test_decide_delay_us = 5;
	config_restart_keys(&a, &b, ret, sizeof(ret));
	assert_string_equal(ret, "");

#define ONE(field, value, name)						\
	do {								\
		b = a;							\
		b.field = value;					\
		config_restart_keys(&a, &b, ret, sizeof(ret));		\
		assert_string_equal(ret, name);				\
	} while (0)
	ONE(queue_first, 1, "queues");
	ONE(queue_last, 7, "queues");
	ONE(mode, MODE_RAW, "mode");
	ONE(cpu_pin, PIN_NONE, "cpu_pin");
	ONE(cpu_count, 1, "cpu_pin");
	ONE(cpu_list[5], 1, "cpu_pin");
	ONE(copy_range, 128, "copy_range");
	ONE(queue_maxlen, 16, "queue_maxlen");
	ONE(rcvbuf, 1 << 20, "rcvbuf");
	ONE(fail_open, false, "fail_open");
	ONE(gso, false, "gso");
	ONE(no_enobufs, false, "no_enobufs");
	ONE(burst_max, 8, "burst_max");
	ONE(metrics_listen[0], '1', "metrics_listen");
#undef ONE

	b = a;
	b.queue_last = 3;
	b.mode = MODE_RAW;
	b.burst_max = 1;
	b.batch_max = 1;
	config_restart_keys(&a, &b, ret, sizeof(ret));
	assert_string_equal(ret, "queues, mode, burst_max");

	/* a short buffer is terminated, never overrun */
	memset(ret, 'x', sizeof(ret));
	config_restart_keys(&a, &b, ret, 8);
	assert_true(memchr(ret, '\0', 8) != NULL);
	assert_int_equal(ret[8], 'x');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_empty_file),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_bools),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_load_over),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_bad_number),
		cmocka_unit_test(test_bad_range),
		cmocka_unit_test(test_bad_bool),
		cmocka_unit_test(test_bad_queues),
		cmocka_unit_test(test_bad_enum),
		cmocka_unit_test(test_cpu_list),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_many_errors),
		cmocka_unit_test(test_err_short),
		cmocka_unit_test(test_test_knob),
		cmocka_unit_test(test_long_value),
		cmocka_unit_test(test_long_comment),
		cmocka_unit_test(test_value_too_long),
		cmocka_unit_test(test_parse_queues),
		cmocka_unit_test(test_parse_listen),
		cmocka_unit_test(test_metrics_listen),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_queue_cpu),
		cmocka_unit_test(test_restart_keys),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
