/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests for policy_decide() with a real flow table: decisions stick to
 * flows (proved by swapping in a policy that decides differently without a
 * flush: the cached decision stays until flowtable_decision_flush()),
 * policy_reload() applies the new rules at once and flushes after the
 * grace period, refuses to pile up retirements, rules with "state" are not
 * cached, mark/mask arithmetic on cached and uncached packets, repeat
 * mark, queue N, offload, the inspector result mapping, and reloads racing
 * two deciding threads.
 *
 * This thread is the only QSBR reader outside the race test and stays
 * online, so no grace period ends (and no retirement runs) until it says
 * so: the tests rely on that to observe the states in between.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <linux/netfilter.h>
#include <urcu-qsbr.h>

#include "config.h"
#include "flowtable.h"
#include "policy.h"
#include "ruleset.h"
#include "worker.h"

static char tmpdir[64];
static unsigned nfiles;
static char err[4096];
static struct flowtable *ft;
static struct policy_root root;

static int setup(void **state)
{
	struct flowtable_params p;

	strcpy(tmpdir, "/tmp/nfqe-test-policy.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	rcu_register_thread();
	flowtable_params_init(&p);
	p.flow_max = 4096;
	p.slot_free = inspector_slot_free;
	ft = flowtable_new(&p);
	return ft ? 0 : -1;
}

static int teardown(void **state)
{
	char p[300];

	flowtable_free(ft);
	rcu_unregister_thread();
	for (unsigned i = 0; i < nfiles; i++) {
		snprintf(p, sizeof(p), "%s/t%03u.conf", tmpdir, i);
		unlink(p);
	}
	return rmdir(tmpdir);
}

/* Each test starts with no policy and no cached decision. */
static int test_setup(void **state)
{
	policy_root_init(&root, ft, NULL);
	flowtable_decision_flush(ft);
	return 0;
}

static int test_teardown(void **state)
{
	policy_root_fini(&root);
	return 0;
}

/* A policy from the [rules] lines in @rules. */
static struct policy *policy_of(const char *rules)
{
	struct policy_builder *b = policy_builder_new();
	struct nfqe_config cfg;
	struct policy *p;
	char path[300];
	FILE *f;

	assert_non_null(b);
	snprintf(path, sizeof(path), "%s/t%03u.conf", tmpdir, nfiles++);
	f = fopen(path, "we");
	assert_non_null(f);
	fprintf(f, "[rules]\n%s", rules);
	assert_int_equal(fclose(f), 0);
	config_defaults(&cfg);
	if (policy_config_load(path, &cfg, b, err, sizeof(err)))
		fail_msg("config: %s", err);
	p = policy_build(b, err, sizeof(err));
	if (!p)
		fail_msg("build: %s", err);
	policy_builder_free(b);
	return p;
}

struct tpkt {
	struct pkt_info		pi;
	struct nfqe_pkt		pk;
};

/* A UDP packet, attributed to its flow the way the worker does it. */
static void mkpkt(struct tpkt *t, const char *src, const char *dst,
		  uint16_t sport, uint16_t dport, uint32_t mark, bool flow)
{
	struct flow_key key;
	bool created = false;
	int side;

	memset(t, 0, sizeof(*t));
	t->pi.family = AF_INET;
	t->pi.l4proto = IPPROTO_UDP;
	t->pi.flags = PKT_F_L4;
	t->pi.sport = sport;
	t->pi.dport = dport;
	assert_int_equal(inet_pton(AF_INET, src, &t->pi.src.v4), 1);
	assert_int_equal(inet_pton(AF_INET, dst, &t->pi.dst.v4), 1);
	t->pk.info = &t->pi;
	t->pk.mark = mark;
	if (!flow)
		return;
	assert_int_equal(flow_key_make(&key, AF_INET, IPPROTO_UDP,
				       &t->pi.src, &t->pi.dst, sport, dport, 0,
				       &side), 0);
	t->pk.flow = flowtable_lookup_or_add(ft, &key, side, 1, &t->pk.dir,
					     &created);
	assert_non_null(t->pk.flow);
	t->pk.flow_new = created;
	flow_update(t->pk.flow, t->pk.dir, 100, 0, 1);
}

static struct nfqe_verdict decide(struct tpkt *t)
{
	struct nfqe_verdict v = { .verdict = NF_ACCEPT };

	policy_decide(&root, &t->pk, &v);
	return v;
}

static bool cached(const struct tpkt *t)
{
	return flow_decision_get(ft, t->pk.flow, NULL, NULL) == 0;
}

/* Let every pending retirement run (flow pointers become invalid). */
static void barrier(void)
{
	rcu_thread_offline();
	rcu_barrier();
	rcu_thread_online();
}

static void test_no_policy(void **state)
{
	struct tpkt t;
	struct nfqe_verdict v;

	mkpkt(&t, "10.0.0.1", "10.0.0.2", 1, 2, 0, true);
	v = decide(&t);
	assert_int_equal(v.verdict, NF_ACCEPT);
	assert_false(v.set_mark);
	assert_false(cached(&t));
}

static void test_cache_sticks_until_flush(void **state)
{
	struct policy *a = policy_of("rule = src 10.0.0.0/8 drop\n"
				     "default = accept\n");
	struct policy *b = policy_of("rule = src 10.0.0.0/8 accept\n"
				     "default = drop\n");
	struct tpkt t, u;

	policy_root_init(&root, ft, a);
	mkpkt(&t, "10.0.0.1", "10.0.0.2", 1000, 53, 0, true);
	assert_true(t.pk.flow_new);
	assert_false(cached(&t));
	assert_int_equal(decide(&t).verdict, NF_DROP);
	assert_true(cached(&t));

	/* swap in b without a reload: the flow keeps a's decision, so the
	 * second packet did not evaluate any rule */
	root.cur = b;
	mkpkt(&t, "10.0.0.1", "10.0.0.2", 1000, 53, 0, true);
	assert_false(t.pk.flow_new);
	assert_int_equal(decide(&t).verdict, NF_DROP);
	/* a new flow is decided by b */
	mkpkt(&u, "10.0.0.9", "10.0.0.2", 1000, 53, 0, true);
	assert_int_equal(decide(&u).verdict, NF_ACCEPT);
	/* the reply direction of a cached flow gets the flow's decision */
	mkpkt(&t, "10.0.0.2", "10.0.0.1", 53, 1000, 0, true);
	assert_int_equal(t.pk.dir, FLOW_DIR_REPLY);
	assert_int_equal(decide(&t).verdict, NF_DROP);

	flowtable_decision_flush(ft);
	mkpkt(&t, "10.0.0.1", "10.0.0.2", 1000, 53, 0, true);
	assert_false(cached(&t));
	assert_int_equal(decide(&t).verdict, NF_ACCEPT);
	assert_true(cached(&t));
	policy_free(a);
}

static void test_reload_applies_at_once(void **state)
{
	struct tpkt t;

	policy_root_init(&root, ft, policy_of("default = drop\n"));
	mkpkt(&t, "10.0.0.1", "10.0.0.2", 1000, 53, 0, true);
	assert_int_equal(decide(&t).verdict, NF_DROP);
	assert_true(cached(&t));
	assert_int_equal(policy_reload(&root, policy_of("default = accept\n")),
			 0);
	assert_int_equal(__atomic_load_n(&root.pending, __ATOMIC_ACQUIRE), 1);
	/* no grace period yet: the old decision is still stored, and ignored */
	assert_true(cached(&t));
	assert_int_equal(decide(&t).verdict, NF_ACCEPT);
	assert_true(cached(&t));
	/* the retirement flushes, then the new policy caches again */
	barrier();
	assert_int_equal(__atomic_load_n(&root.pending, __ATOMIC_ACQUIRE), 0);
	mkpkt(&t, "10.0.0.1", "10.0.0.2", 1000, 53, 0, true);
	assert_false(cached(&t));
	assert_int_equal(decide(&t).verdict, NF_ACCEPT);
	assert_true(cached(&t));
	assert_int_equal(policy_reload(&root, policy_of("default = drop\n")),
			 0);
	assert_int_equal(decide(&t).verdict, NF_DROP);
	barrier();
}

/* A stuck grace period: reloads are refused, not piled up, not waited for. */
static void test_reload_busy(void **state)
{
	struct policy *p;
	struct tpkt t;

	policy_root_init(&root, ft, policy_of("default = drop\n"));
	for (int i = 0; i < POLICY_PENDING_MAX; i++)
		assert_int_equal(policy_reload(&root, policy_of(i % 2 ?
				 "default = drop\n" : "default = accept\n")),
				 0);
	p = policy_of("default = queue 9\n");
	assert_int_equal(policy_reload(&root, p), -EBUSY);
	mkpkt(&t, "10.0.0.1", "10.0.0.2", 1000, 53, 0, true);
	assert_int_equal(decide(&t).verdict, NF_DROP);	/* the last one */
	barrier();
	assert_int_equal(policy_reload(&root, p), 0);
	mkpkt(&t, "10.0.0.1", "10.0.0.2", 1000, 53, 0, true);
	assert_int_equal(decide(&t).verdict, NF_QUEUE_NR(9u));
}

static void test_state_not_cached(void **state)
{
	struct tpkt t;

	policy_root_init(&root, ft, policy_of(
		"rule = dport 7 accept\n"	/* before any state rule */
		"rule = state new drop\n"
		"rule = port 8 accept\n"	/* after one: not cached */
		"default = mark 5\n"));
	mkpkt(&t, "10.1.0.1", "10.1.0.2", 1000, 7, 0, true);
	assert_int_equal(decide(&t).verdict, NF_ACCEPT);
	assert_true(cached(&t));

	/* first packet: new, dropped, not cached */
	mkpkt(&t, "10.1.0.1", "10.1.0.2", 1000, 8, 0, true);
	assert_int_equal(decide(&t).verdict, NF_DROP);
	assert_false(cached(&t));
	mkpkt(&t, "10.1.0.1", "10.1.0.2", 1000, 8, 0, true);
	assert_int_equal(decide(&t).verdict, NF_DROP);	/* still new */
	/* the reply makes it established: rule 2 now, not cached either */
	mkpkt(&t, "10.1.0.2", "10.1.0.1", 8, 1000, 0, true);
	assert_int_equal(flow_state_get(t.pk.flow), FLOW_STATE_ESTABLISHED);
	assert_int_equal(decide(&t).verdict, NF_ACCEPT);
	assert_false(cached(&t));
	/* the default after a state rule is not cached */
	mkpkt(&t, "10.1.0.1", "10.1.0.2", 1001, 9, 0, true);
	mkpkt(&t, "10.1.0.2", "10.1.0.1", 9, 1001, 0, true);
	assert_int_equal(decide(&t).verdict, NF_ACCEPT);
	assert_false(cached(&t));
	/* without a flow a packet is new */
	mkpkt(&t, "10.1.0.7", "10.1.0.2", 1000, 8, 0, false);
	assert_int_equal(decide(&t).verdict, NF_DROP);
}

/* What decided each packet: the rule (first match), the default, or the
 * flow's cached decision; queues beyond the counter rows share them. */
static void test_rule_hits(void **state)
{
	const struct policy *p;
	uint64_t hits[3 + 2];
	struct tpkt t;

	policy_root_init(&root, ft, policy_of(
		"rule = dport 7 drop\n"	/* cached: before any state rule */
		"rule = state new accept\n"
		"rule = dport 9 accept\n"
		"default = drop\n"));
	p = rcu_dereference(root.cur);
	assert_int_equal(policy_rule_count(p), 3);
	assert_string_equal(policy_rule_text(p, 0), "dport 7 drop");
	assert_string_equal(policy_rule_text(p, 2), "dport 9 accept");
	assert_null(policy_rule_text(p, 3));
	assert_string_equal(policy_default_text(p), "drop");

	mkpkt(&t, "10.3.0.1", "10.3.0.2", 1000, 7, 0, true);
	decide(&t);				/* rule 1, cached */
	mkpkt(&t, "10.3.0.1", "10.3.0.2", 1000, 7, 0, true);
	t.pk.queue = 17;			/* another counter row */
	decide(&t);				/* cached */
	mkpkt(&t, "10.3.0.1", "10.3.0.2", 1001, 9, 0, true);
	decide(&t);				/* rule 2: new */
	mkpkt(&t, "10.3.0.1", "10.3.0.2", 1003, 5, 0, true);
	decide(&t);				/* rule 2: new */
	mkpkt(&t, "10.3.0.2", "10.3.0.1", 5, 1003, 0, true);
	t.pk.queue = 300;
	decide(&t);				/* established: default */
	mkpkt(&t, "10.3.0.1", "10.3.0.2", 1004, 9, 0, true);
	decide(&t);				/* rule 2: new */
	mkpkt(&t, "10.3.0.2", "10.3.0.1", 9, 1004, 0, true);
	decide(&t);				/* default */
	mkpkt(&t, "10.3.0.1", "10.3.0.2", 1004, 9, 0, true);
	decide(&t);				/* rule 3: established */

	for (unsigned i = 0; i < 5; i++)
		hits[i] = policy_rule_hits(p, i);
	assert_int_equal(hits[0], 1);
	assert_int_equal(hits[1], 3);
	assert_int_equal(hits[2], 1);
	assert_int_equal(hits[3], 2);		/* default */
	assert_int_equal(hits[4], 1);		/* cached */

	/* a reload starts from zero */
	assert_int_equal(policy_reload(&root, policy_of("rule = dport 7 drop\n")), 0);
	p = rcu_dereference(root.cur);
	assert_int_equal(policy_rule_hits(p, 0) + policy_rule_hits(p, 1) +
			 policy_rule_hits(p, 2), 0);
	/* past the cached slot, and without a policy: nothing */
	assert_int_equal(policy_rule_hits(p, 3), 0);
	assert_int_equal(policy_rule_hits(NULL, 0), 0);
	barrier();
}

static void expect_line(const struct tpkt *t, int index, const char *what,
			const char *want)
{
	char line[256];

	policy_log_line(line, sizeof(line), index, what, &t->pk);
	assert_string_equal(line, want);
}

/* The line of a "log" rule: who, action, protocol, addresses, queue. */
static void test_log_line(void **state)
{
	struct tpkt t;
	char line[8];

	(void)state;
	mkpkt(&t, "10.3.0.1", "10.3.0.2", 4000, 9, 0, false);
	t.pk.queue = 2;
	expect_line(&t, 0, "drop",
		    "rule 1 (drop): udp 10.3.0.1:4000 -> 10.3.0.2:9 on queue 2");
	/* every protocol with ports shows them, as the rules match them */
	t.pi.l4proto = IPPROTO_SCTP;
	expect_line(&t, 0, "drop",
		    "rule 1 (drop): sctp 10.3.0.1:4000 -> 10.3.0.2:9 on queue 2");
	t.pi.family = AF_INET6;
	t.pi.l4proto = IPPROTO_TCP;
	assert_int_equal(inet_pton(AF_INET6, "fd00::1", &t.pi.src.v6), 1);
	assert_int_equal(inet_pton(AF_INET6, "fd00::2", &t.pi.dst.v6), 1);
	expect_line(&t, -1, "accept", "default (accept): tcp [fd00::1]:4000 "
		    "-> [fd00::2]:9 on queue 2");
	t.pi.l4proto = IPPROTO_ICMPV6;
	expect_line(&t, 11, "inspect web: flow_drop",
		    "rule 12 (inspect web: flow_drop): icmpv6 fd00::1 -> fd00::2 "
		    "on queue 2");
	t.pi.family = AF_INET;
	t.pi.flags = 0;
	assert_int_equal(inet_pton(AF_INET, "10.3.0.1", &t.pi.src.v4), 1);
	assert_int_equal(inet_pton(AF_INET, "10.3.0.2", &t.pi.dst.v4), 1);
	t.pi.l4proto = IPPROTO_GRE;
	expect_line(&t, 2, "drop",
		    "rule 3 (drop): gre 10.3.0.1 -> 10.3.0.2 on queue 2");
	t.pi.l4proto = 253;	/* experimental: no name */
	expect_line(&t, 2, "drop",
		    "rule 3 (drop): proto 253 10.3.0.1 -> 10.3.0.2 on queue 2");
	/* a short buffer is cut, terminated */
	policy_log_line(line, sizeof(line), 2, "drop", &t.pk);
	assert_string_equal(line, "rule 3 ");
}

/* "log" rules write at most POLICY_LOG_RATE lines a second; the others
 * are counted. Only decisions the rule list makes log: not the cache. */
static void test_log_rate(void **state)
{
	uint64_t w0 = root.log_written, s0 = root.log_suppressed, w, s;
	struct tpkt t;

	(void)state;
	policy_root_init(&root, ft, policy_of(
		"rule = dport 7 drop log\n"
		"rule = dport 8 drop\n"));
	/* the same flow twice: its second packet is the cache's, no line */
	mkpkt(&t, "10.4.0.1", "10.4.0.2", 1000, 7, 0, true);
	decide(&t);
	mkpkt(&t, "10.4.0.1", "10.4.0.2", 1000, 7, 0, true);
	decide(&t);
	assert_int_equal(root.log_written + root.log_suppressed - w0 - s0, 1);
	/* a rule without log writes nothing */
	mkpkt(&t, "10.4.0.1", "10.4.0.2", 1000, 8, 0, false);
	decide(&t);
	assert_int_equal(root.log_written + root.log_suppressed - w0 - s0, 1);
	/* 200 flows at once: within one second, or two at most */
	for (unsigned i = 0; i < 200; i++) {
		mkpkt(&t, "10.4.1.1", "10.4.0.2", (uint16_t)(2000 + i), 7, 0,
		      false);
		decide(&t);
	}
	w = root.log_written - w0;
	s = root.log_suppressed - s0;
	assert_int_equal(w + s, 201);
	assert_true(w >= POLICY_LOG_RATE && w <= 2 * POLICY_LOG_RATE + 2);
}

static void test_mark_mask(void **state)
{
	struct nfqe_verdict v;
	struct tpkt t;

	policy_root_init(&root, ft, policy_of(
		"rule = dport 1 mark 0x2a/0xff\n"
		"rule = dport 2 mark 0x7\n"
		"rule = dport 3 mark 0x0/0xf0000000\n"));
	mkpkt(&t, "10.2.0.1", "10.2.0.2", 1000, 1, 0x12345600, true);
	v = decide(&t);
	assert_int_equal(v.verdict, NF_ACCEPT);
	assert_true(v.set_mark);
	assert_int_equal(v.mark, 0x1234562a);
	assert_true(cached(&t));
	/* cached: the mask applies to this packet's own mark */
	mkpkt(&t, "10.2.0.1", "10.2.0.2", 1000, 1, 0xffffffff, true);
	v = decide(&t);
	assert_int_equal(v.verdict, NF_ACCEPT);
	assert_true(v.set_mark);
	assert_int_equal(v.mark, 0xffffff2a);

	mkpkt(&t, "10.2.0.1", "10.2.0.2", 1000, 2, 0xabcdef00, true);
	v = decide(&t);
	assert_true(v.set_mark);
	assert_int_equal(v.mark, 7);
	mkpkt(&t, "10.2.0.1", "10.2.0.2", 1000, 2, 0x55, true);
	v = decide(&t);
	assert_true(cached(&t));
	assert_int_equal(v.mark, 7);

	mkpkt(&t, "10.2.0.1", "10.2.0.2", 1000, 3, 0xffff0001, true);
	v = decide(&t);
	assert_int_equal(v.mark, 0x0fff0001);
	mkpkt(&t, "10.2.0.1", "10.2.0.2", 1000, 3, 0xf0000000, true);
	v = decide(&t);
	assert_int_equal(v.mark, 0);
}

static void test_repeat_queue_offload(void **state)
{
	struct nfqe_verdict v;
	struct tpkt t;

	policy_root_init(&root, ft, policy_of(
		"rule = dport 1 repeat mark 0x10\n"
		"rule = dport 2 queue 3\n"
		"rule = dport 3 offload\n"
		"rule = dport 4 repeat mark 0x10/0x10\n"));
	for (int i = 0; i < 2; i++) {	/* uncached, then cached */
		mkpkt(&t, "10.3.0.1", "10.3.0.2", 1000, 1, 0x1, true);
		v = decide(&t);
		assert_int_equal(v.verdict, NF_REPEAT);
		assert_true(v.set_mark);
		assert_int_equal(v.mark, 0x10);
		assert_true(cached(&t));

		mkpkt(&t, "10.3.0.1", "10.3.0.2", 1000, 2, 0x1, true);
		v = decide(&t);
		assert_int_equal(v.verdict, NF_QUEUE_NR(3u));
		assert_false(v.set_mark);
		assert_true(cached(&t));

		mkpkt(&t, "10.3.0.1", "10.3.0.2", 1000, 3, 0x1, true);
		v = decide(&t);
		assert_int_equal(v.verdict, NF_ACCEPT);
		assert_false(v.set_mark);
		assert_true(cached(&t));

		mkpkt(&t, "10.3.0.1", "10.3.0.2", 1000, 4, 0x1, true);
		v = decide(&t);
		assert_int_equal(v.verdict, NF_REPEAT);
		assert_int_equal(v.mark, 0x11);
	}
	/* queue numbers up to 65535 survive the cache */
	assert_int_equal(policy_reload(&root,
				       policy_of("default = queue 65535\n")), 0);
	for (int i = 0; i < 2; i++) {
		mkpkt(&t, "10.3.0.1", "10.3.0.2", 1000, 2, 0, true);
		assert_int_equal(decide(&t).verdict, NF_QUEUE_NR(65535u));
	}
}

static void test_no_flow_table(void **state)
{
	struct tpkt t;

	policy_root_init(&root, NULL, policy_of("default = drop\n"));
	mkpkt(&t, "10.4.0.1", "10.4.0.2", 1000, 1, 0, true);
	assert_int_equal(decide(&t).verdict, NF_DROP);
	assert_false(cached(&t));
	root.ft = ft;
}

static void test_inspect_mapping(void **state)
{
	static const struct {
		enum inspect_result	res;
		uint32_t		verdict;
		bool			set_mark;
		bool			final;
	} map[] = {
		{ INSPECT_ACCEPT, NF_ACCEPT, false, false },
		{ INSPECT_MORE, NF_ACCEPT, false, false },
		{ INSPECT_DROP, NF_DROP, false, false },
		{ INSPECT_MARK, NF_ACCEPT, true, false },
		{ INSPECT_FLOW_ACCEPT, NF_ACCEPT, false, true },
		{ INSPECT_FLOW_DROP, NF_DROP, false, true },
		{ INSPECT_FLOW_MARK, NF_ACCEPT, true, true },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		struct nfqe_verdict v = { .verdict = NF_ACCEPT };

		assert_int_equal(policy_inspect_verdict(map[i].res, 0x99, &v),
				 map[i].final);
		assert_int_equal(v.verdict, map[i].verdict);
		assert_int_equal(v.set_mark, map[i].set_mark);
		if (map[i].set_mark)
			assert_int_equal(v.mark, 0x99);
	}
}

/*
 * inspect through a real plug-in, the build's example (skipped without
 * it): a byte budget of 250, then FLOW_MARK 0x7 or FLOW_DROP. Undecided
 * packets (MORE) are accepted and not cached; the final result is.
 */
static void test_inspect_example(void **state)
{
	const char *build = getenv("NFQE_BUILD_ROOT");
	char plugin[512], text[2048];
	struct nfqe_verdict v;
	struct tpkt t;

	snprintf(plugin, sizeof(plugin), "%s/plugins/example.so",
		 build ? build : ".");
	if (access(plugin, R_OK))
		skip();
	snprintf(text, sizeof(text),
		 "rule = dport 53 inspect ex\n"
		 "rule = dport 54 inspect exdrop\n"
		 "[inspector ex]\npath = %s\nmax_bytes = 250\nmark = 0x7\n"
		 "[inspector exdrop]\npath = %s\nmax_bytes = 250\n",
		 plugin, plugin);
	policy_root_init(&root, ft, policy_of(text));
	for (int i = 1; i <= 4; i++) {
		mkpkt(&t, "10.6.0.1", "10.6.0.2", 1000, 53, 0xff00, true);
		t.pi.payload_len = 100;
		v = decide(&t);
		assert_int_equal(v.verdict, NF_ACCEPT);
		assert_int_equal(v.set_mark, i >= 3);
		if (i >= 3)
			assert_int_equal(v.mark, 0x7);
		assert_int_equal(cached(&t), i >= 3);
	}
	for (int i = 1; i <= 4; i++) {
		mkpkt(&t, "10.6.0.1", "10.6.0.2", 1000, 54, 0, true);
		t.pi.payload_len = 100;
		v = decide(&t);
		assert_int_equal(v.verdict, i >= 3 ? NF_DROP : NF_ACCEPT);
		assert_int_equal(cached(&t), i >= 3);
	}
}

static void test_describe(void **state)
{
	struct policy *p = policy_of("rule = proto udp drop\n"
				     "rule = proto tcp accept\n"
				     "default = queue 2\n");
	char d[128];

	policy_describe(p, d, sizeof(d));
	assert_string_equal(d, "2 rules, default queue, 0 inspectors in use");
	policy_describe(NULL, d, sizeof(d));
	assert_string_equal(d, "no rules, default accept");
	policy_free(p);
}

/*
 * Two deciding threads while the main thread reloads between "drop 10/8"
 * and "accept 10/8": every verdict is one of the two, and right after each
 * policy_reload() returns, the flow follows the new rules even though the
 * readers keep caching decisions on it.
 */
#define RACE_RELOADS	60

static volatile int race_stop;

static void *race_reader(void *arg)
{
	struct tpkt t;
	unsigned long n = 0;

	rcu_register_thread();
	while (!__atomic_load_n(&race_stop, __ATOMIC_ACQUIRE)) {
		struct nfqe_verdict v;

		mkpkt(&t, "10.5.0.1", "10.5.0.2", 1000, 53, 0, true);
		v = decide(&t);
		if (v.verdict != NF_DROP && v.verdict != NF_ACCEPT)
			abort();
		if (++n % 16 == 0)
			rcu_quiescent_state();
	}
	rcu_unregister_thread();
	return NULL;
}

static void test_reload_race(void **state)
{
	pthread_t th[2];
	struct tpkt t;

	/* valgrind runs one thread at a time: the spinning readers would
	 * starve the grace periods the reloads wait for */
	if (getenv("NFQE_VALGRIND"))
		skip();
	policy_root_init(&root, ft, policy_of("rule = src 10.0.0.0/8 drop\n"));
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, race_reader,
						NULL), 0);
	for (int i = 0; i < RACE_RELOADS; i++) {
		bool drop = i % 2;
		struct policy *p = policy_of(drop ?
					     "rule = src 10.0.0.0/8 drop\n" :
					     "rule = src 10.0.0.0/8 accept\n"
					     "default = drop\n");

		if (policy_reload(&root, p) == -EBUSY) {
			barrier();
			assert_int_equal(policy_reload(&root, p), 0);
		}
		mkpkt(&t, "10.5.0.1", "10.5.0.2", 1000, 53, 0, true);
		assert_int_equal(decide(&t).verdict,
				 drop ? NF_DROP : NF_ACCEPT);
		rcu_quiescent_state();
	}
	__atomic_store_n(&race_stop, 1, __ATOMIC_RELEASE);
	rcu_thread_offline();
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	rcu_thread_online();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f)	cmocka_unit_test_setup_teardown(f, test_setup, test_teardown)
		T(test_no_policy),
		T(test_cache_sticks_until_flush),
		T(test_reload_applies_at_once),
		T(test_reload_busy),
		T(test_state_not_cached),
		T(test_rule_hits),
		T(test_log_line),
		T(test_log_rate),
		T(test_mark_mask),
		T(test_repeat_queue_offload),
		T(test_no_flow_table),
		T(test_inspect_mapping),
		T(test_inspect_example),
		T(test_describe),
		T(test_reload_race),
#undef T
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
