/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests for the [rules] grammar and matcher (engine/ruleset.c): good
 * rules, every kind of bad rule with its exact "file:line: " message (read
 * through policy_config_load(), the path nfqe and --check take), and each
 * match type at its edges: CIDR /0 /32 /128 and a prefix crossing the
 * 64-bit half of an IPv6 address, port ranges, lists, negation, first match
 * wins, the default.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
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

#include "config.h"
#include "policy.h"
#include "ruleset.h"
#include "worker.h"

static char tmpdir[64];
static char path[256];
static unsigned nfiles;
static char err[8192];

static struct pkt_info pi;
static struct nfqe_pkt pk;

static int setup(void **state)
{
	strcpy(tmpdir, "/tmp/nfqe-test-ruleset.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char p[300];

	for (unsigned i = 0; i < nfiles; i++) {
		snprintf(p, sizeof(p), "%s/t%03u.conf", tmpdir, i);
		unlink(p);
	}
	return rmdir(tmpdir);
}

static void write_conf(const char *text)
{
	FILE *f;

	snprintf(path, sizeof(path), "%s/t%03u.conf", tmpdir, nfiles++);
	f = fopen(path, "we");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

/* policy_config_load() of @text; the error text is left in err. */
static int load(const char *text)
{
	struct policy_builder *b = policy_builder_new();
	struct nfqe_config cfg;
	int ret;

	assert_non_null(b);
	write_conf(text);
	config_defaults(&cfg);
	ret = policy_config_load(path, &cfg, b, err, sizeof(err));
	policy_builder_free(b);
	return ret;
}

/* @text fails with exactly the lines in @want ("LINE: message", joined by
 * newlines), each prefixed with the file name here. */
static void load_bad(const char *text, const char *want)
{
	char expect[8192];
	const char *s;
	size_t o = 0;

	if (load(text) == 0)
		fail_msg("accepted:\n%s", text);
	for (s = want; *s;) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s) : strlen(s);

		o += (size_t)snprintf(expect + o, sizeof(expect) - o,
				      "%s%s:%.*s", o ? "\n" : "", path, (int)n,
				      s);
		s += n + (nl ? 1 : 0);
	}
	assert_string_equal(err, expect);
}

static void test_good(void **state)
{
	static const char text[] =
		"[engine]\n"
		"queues = 0:3\n"
		"[rules]\n"
		"; a comment\n"
		"rule = proto tcp dport 22 src 10.0.0.0/8 accept\n"
		"rule = proto udp,17,0x11 port 53,5353 drop\n"
		"rule = src 10.0.0.0/8, 192.168.0.0/16,2001:db8::/32 dst ::/0 "
		"mark 0x2a/0xff\n"
		"rule = dst !127.0.0.1 sport 1024-65535 repeat mark 16\n"
		"rule = state new iif lo oif lo queue 1-2 queue 7\n"
		"rule = queue 0 accept\n"
		"rule = proto ! icmp offload\n"
		"rule = drop\n"
		"default = queue 0x10\n";

	if (load(text) != 0)
		fail_msg("rejected: %s", err);
	assert_string_equal(err, "");
}

static void test_bad(void **state)
{
	load_bad("[rules]\n"
		 "rule = proto udp\n"
		 "rule = accept drop\n"
		 "rule = accept proto udp\n"
		 "rule = frob 1 accept\n"
		 "rule =\n"
		 "rule = sport 1 sport 2 accept\n"
		 "rule = sport\n",
		 "2: rule: no action: end the rule with accept, drop, mark "
		 "N[/MASK], repeat mark N[/MASK], queue N, inspect NAME or "
		 "offload\n"
		 "3: rule: two actions: 'accept' and 'drop' (one action ends "
		 "a rule)\n"
		 "4: rule: 'proto' after the action 'accept': the action ends "
		 "the rule\n"
		 "5: rule: unknown word 'frob' (matches: proto, src, dst, "
		 "sport, dport, port, iif, oif, state, queue; actions: accept, "
		 "drop, mark N[/MASK], repeat mark N[/MASK], queue N, inspect "
		 "NAME or offload)\n"
		 "6: rule: no action: end the rule with accept, drop, mark "
		 "N[/MASK], repeat mark N[/MASK], queue N, inspect NAME or "
		 "offload\n"
		 "7: rule: 'sport' given twice in one rule\n"
		 "8: rule: 'sport' needs a value");
	/* CIDRs */
	load_bad("[rules]\n"
		 "rule = src 10.0.0.1/8 accept\n"
		 "rule = src 10.0.0.0/33 accept\n"
		 "rule = dst 2001:db8::/129 accept\n"
		 "rule = src 10.0.0.256 accept\n"
		 "rule = src 10.0.0.0/ accept\n"
		 "rule = src 10.0.0.0/0x8 accept\n"
		 "rule = dst 10.0.0.0/8,,10.1.0.0/16 accept\n"
		 "rule = dst 2001:db8::1/64 accept\n",
		 "2: rule: src: '10.0.0.1/8' has bits set past the /8 prefix\n"
		 "3: rule: src: '10.0.0.0/33': prefix length is not 0..32\n"
		 "4: rule: dst: '2001:db8::/129': prefix length is not "
		 "0..128\n"
		 "5: rule: src: '10.0.0.256' is not an address or CIDR\n"
		 "6: rule: src: '10.0.0.0/': prefix length is not 0..32\n"
		 "7: rule: src: '10.0.0.0/0x8': prefix length is not 0..32\n"
		 "8: rule: dst: '10.0.0.0/8,,10.1.0.0/16' has an empty list "
		 "entry\n"
		 "9: rule: dst: '2001:db8::1/64' has bits set past the /64 "
		 "prefix");
	/* ports, protocols, numbers */
	load_bad("[rules]\n"
		 "rule = dport 90-80 accept\n"
		 "rule = sport 65536 accept\n"
		 "rule = port 1-x accept\n"
		 "rule = dport -5 accept\n"
		 "rule = proto tcpp accept\n"
		 "rule = proto 256 accept\n"
		 "rule = queue 1 queue 65536\n"
		 "rule = state old accept\n",
		 "2: rule: dport: range '90-80' is empty (90 > 80)\n"
		 "3: rule: sport: '65536' is not a number in 0..65535\n"
		 "4: rule: port: '1-x' is not a range P-Q in 0..65535\n"
		 "5: rule: dport: '-5' is not a range P-Q in 0..65535\n"
		 "6: rule: proto: 'tcpp' is not tcp, udp, icmp, icmpv6, "
		 "udplite, sctp, gre, esp, ah or 0..255\n"
		 "7: rule: proto: '256' is not tcp, udp, icmp, icmpv6, "
		 "udplite, sctp, gre, esp, ah or 0..255\n"
		 "8: rule: queue: '65536' is not a queue number 0..65535\n"
		 "9: rule: state: 'old' is not new or established");
	/* actions, interfaces, inspectors, keys */
	load_bad("[rules]\n"
		 "rule = mark 0x1ff/0xff\n"
		 "rule = mark\n"
		 "rule = mark 0x100000000\n"
		 "rule = repeat 5\n"
		 "rule = repeat\n"
		 "rule = inspect\n"
		 "rule = inspect nope\n"
		 "rule = iif nosuch-if0 accept\n"
		 "rule = src ! \n"
		 "default = proto udp\n"
		 "default = drop\n"
		 "default = accept\n"
		 "defaults = accept\n",
		 "2: rule: mark: '0x1ff/0xff': the mark has bits outside the "
		 "mask\n"
		 "3: rule: mark needs a value N[/MASK]\n"
		 "4: rule: mark: '0x100000000' is not N or N/MASK (32-bit "
		 "numbers, decimal or 0x hex)\n"
		 "5: rule: repeat needs 'mark N[/MASK]' (without a new mark "
		 "the packet would loop)\n"
		 "6: rule: repeat needs 'mark N[/MASK]' (without a new mark "
		 "the packet would loop)\n"
		 "7: rule: inspect needs an inspector name\n"
		 "8: rule: inspect: no [inspector nope] section\n"
		 "9: rule: iif: no interface 'nosuch-if0' (names are resolved "
		 "when the rules are loaded)\n"
		 "10: rule: 'src !' needs a value\n"
		 "11: default: 'proto': default takes an action only (accept, "
		 "drop, mark N[/MASK], repeat mark N[/MASK], queue N, inspect "
		 "NAME or offload)\n"
		 "13: default: default given twice\n"
		 "14: unknown key 'defaults' in [rules] (rule or default)");
}

/*
 * An inspector whose section comes after the rule is known (prescan). The
 * inspector loads its plug-in when it reads "path": the example plug-in of
 * the build, or skip.
 */
static void test_inspector_later(void **state)
{
	const char *build = getenv("NFQE_BUILD_ROOT");
	char plugin[512], text[1024];

	snprintf(plugin, sizeof(plugin), "%s/plugins/example.so",
		 build ? build : ".");
	if (access(plugin, R_OK))
		skip();
	snprintf(text, sizeof(text),
		 "[rules]\n"
		 "rule = proto udp inspect later\n"
		 "rule = state established inspect later\n"
		 "[inspector later]\n"
		 "path = %s\n", plugin);
	if (load(text) != 0)
		fail_msg("rejected: %s", err);
}

static struct ruleset *rs_of(const char *dflt, ...)
{
	struct ruleset *rs = ruleset_new();
	const char *r;
	va_list ap;

	assert_non_null(rs);
	va_start(ap, dflt);
	while ((r = va_arg(ap, const char *))) {
		if (ruleset_add(rs, r, err, sizeof(err)))
			fail_msg("'%s': %s", r, err);
	}
	va_end(ap);
	if (dflt && ruleset_default(rs, dflt, err, sizeof(err)))
		fail_msg("default '%s': %s", dflt, err);
	assert_int_equal(ruleset_compile(rs), 0);
	return rs;
}

static void pkt_l4(uint8_t proto, uint16_t sport, uint16_t dport)
{
	pi.l4proto = proto;
	pi.sport = sport;
	pi.dport = dport;
	pi.flags = PKT_F_L4;
}

static void pkt4(const char *src, const char *dst, uint8_t proto,
		 uint16_t sport, uint16_t dport)
{
	memset(&pi, 0, sizeof(pi));
	memset(&pk, 0, sizeof(pk));
	pi.family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, src, &pi.src.v4), 1);
	assert_int_equal(inet_pton(AF_INET, dst, &pi.dst.v4), 1);
	pkt_l4(proto, sport, dport);
	pk.info = &pi;
}

static void pkt6(const char *src, const char *dst, uint8_t proto,
		 uint16_t sport, uint16_t dport)
{
	memset(&pi, 0, sizeof(pi));
	memset(&pk, 0, sizeof(pk));
	pi.family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, src, &pi.src.v6), 1);
	assert_int_equal(inet_pton(AF_INET6, dst, &pi.dst.v6), 1);
	pkt_l4(proto, sport, dport);
	pk.info = &pi;
}

#define M(rs)	ruleset_match((rs), &pk)

/* "log" after the action, the rule's last word; for the default too. */
static void test_log(void **state)
{
	struct ruleset *rs = rs_of("drop log", "src 10.0.0.0/8 accept log",
				   "dport 7 queue 3 log", "queue 5 drop",
				   "dport 9 mark 1/1", NULL);

	(void)state;
	assert_true(rs->rules[0].action.log);
	assert_int_equal(rs->rules[0].action.type, RA_ACCEPT);
	assert_true(rs->rules[1].action.log);
	assert_int_equal(rs->rules[1].action.type, RA_QUEUE);
	assert_int_equal(rs->rules[1].action.queue, 3);
	/* "queue 5" before an action is the match */
	assert_false(rs->rules[2].action.log);
	assert_true(rs->rules[2].present & RM_QUEUE);
	assert_false(rs->rules[3].action.log);
	assert_true(rs->dflt.log);
	assert_int_equal(rs->dflt.type, RA_DROP);
	ruleset_free(rs);

	load_bad("[rules]\n"
		 "rule = drop log now\n"
		 "rule = log drop\n"
		 "rule = log\n",
		 "2: rule: 'now' after 'log': log ends the rule\n"
		 "3: rule: unknown word 'log' (matches: proto, src, dst, sport, "
		 "dport, port, iif, oif, state, queue; actions: accept, drop, "
		 "mark N[/MASK], repeat mark N[/MASK], queue N, inspect NAME or "
		 "offload)\n"
		 "4: rule: unknown word 'log' (matches: proto, src, dst, sport, "
		 "dport, port, iif, oif, state, queue; actions: accept, drop, "
		 "mark N[/MASK], repeat mark N[/MASK], queue N, inspect NAME or "
		 "offload)");
}

static void test_cidr4(void **state)
{
	struct ruleset *rs = rs_of(NULL,
		"src 10.1.2.3/32 accept",	/* 0 */
		"src 10.1.2.0/24 accept",	/* 1 */
		"dst 192.168.0.0/31 accept",	/* 2 */
		"src 0.0.0.0/0 drop",		/* 3 */
		NULL);

	pkt4("10.1.2.3", "1.1.1.1", IPPROTO_UDP, 1, 2);
	assert_int_equal(M(rs), 0);
	pkt4("10.1.2.4", "1.1.1.1", IPPROTO_UDP, 1, 2);
	assert_int_equal(M(rs), 1);
	pkt4("10.1.2.255", "1.1.1.1", IPPROTO_UDP, 1, 2);
	assert_int_equal(M(rs), 1);
	pkt4("10.1.3.0", "192.168.0.1", IPPROTO_UDP, 1, 2);
	assert_int_equal(M(rs), 2);
	pkt4("10.1.1.255", "192.168.0.2", IPPROTO_UDP, 1, 2);
	assert_int_equal(M(rs), 3);	/* /0 takes every IPv4 source */
	pkt4("255.255.255.255", "0.0.0.0", 0, 0, 0);
	assert_int_equal(M(rs), 3);
	/* no IPv6 packet is in an IPv4 prefix, not even /0 */
	pkt6("::ffff:10.1.2.3", "::1", IPPROTO_UDP, 1, 2);
	assert_int_equal(M(rs), -1);
	ruleset_free(rs);
}

static void test_cidr6(void **state)
{
	struct ruleset *rs = rs_of(NULL,
		"src 2001:db8::1/128 accept",		/* 0 */
		"src 2001:db8:0:0:8000::/65 accept",	/* 1 */
		"src 2001:db8::/64 accept",		/* 2 */
		"dst 8000::/1 accept",			/* 3 */
		"src ::/0 drop",			/* 4 */
		NULL);

	pkt6("2001:db8::1", "::1", IPPROTO_TCP, 1, 2);
	assert_int_equal(M(rs), 0);
	pkt6("2001:db8::2", "::1", IPPROTO_TCP, 1, 2);
	assert_int_equal(M(rs), 2);
	pkt6("2001:db8::8000:0:0:0", "::1", IPPROTO_TCP, 1, 2);
	assert_int_equal(M(rs), 1);
	pkt6("2001:db8::ffff:ffff:ffff:ffff", "::1", IPPROTO_TCP, 1, 2);
	assert_int_equal(M(rs), 1);
	pkt6("2001:db8::7fff:ffff:ffff:ffff", "::1", IPPROTO_TCP, 1, 2);
	assert_int_equal(M(rs), 2);
	pkt6("2001:db8:0:1::", "ffff::", IPPROTO_TCP, 1, 2);
	assert_int_equal(M(rs), 3);
	pkt6("2001:db8:0:1::", "7fff:ffff::", IPPROTO_TCP, 1, 2);
	assert_int_equal(M(rs), 4);
	pkt4("10.0.0.1", "10.0.0.2", IPPROTO_TCP, 1, 2);
	assert_int_equal(M(rs), -1);
	ruleset_free(rs);
}

static void test_lists_and_negation(void **state)
{
	struct ruleset *rs = rs_of("drop",
		"src !10.0.0.0/8,192.168.0.0/16 dport 1 accept",	/* 0 */
		"src 10.0.0.0/8, 2001:db8::/32 dport 2 accept",	/* 1 */
		"proto !tcp,udp dport 3 accept",	/* 2 */
		"proto !tcp,udp accept",		/* 3 */
		"dst ! 10.9.9.9 dport 4 accept",	/* 4 */
		NULL);

	pkt4("11.0.0.1", "1.1.1.1", IPPROTO_UDP, 9, 1);
	assert_int_equal(M(rs), 0);
	pkt4("10.0.0.1", "1.1.1.1", IPPROTO_UDP, 9, 1);
	assert_int_equal(M(rs), -1);
	pkt4("192.168.3.1", "1.1.1.1", IPPROTO_UDP, 9, 1);
	assert_int_equal(M(rs), -1);
	pkt6("2001:db8::5", "::1", IPPROTO_UDP, 9, 1);
	assert_int_equal(M(rs), 0);	/* in no IPv4 prefix */
	pkt6("2001:db8::5", "::1", IPPROTO_UDP, 9, 2);
	assert_int_equal(M(rs), 1);
	pkt4("10.255.0.1", "1.1.1.1", IPPROTO_UDP, 9, 2);
	assert_int_equal(M(rs), 1);
	pkt4("1.1.1.1", "1.1.1.1", IPPROTO_SCTP, 9, 3);
	assert_int_equal(M(rs), 2);
	pkt4("1.1.1.1", "1.1.1.1", IPPROTO_ICMP, 0, 0x0800);
	assert_int_equal(M(rs), 3);
	pkt4("1.1.1.1", "10.9.9.9", IPPROTO_TCP, 9, 4);
	assert_int_equal(M(rs), -1);
	pkt4("1.1.1.1", "10.9.9.8", IPPROTO_TCP, 9, 4);
	assert_int_equal(M(rs), 4);
	assert_int_equal(ruleset_action(rs, -1)->type, RA_DROP);
	ruleset_free(rs);
}

static void test_ports(void **state)
{
	struct ruleset *rs = rs_of(NULL,
		"sport 1000-2000 dport 53 accept",	/* 0 */
		"port 0x1bb accept",			/* 1 */
		"dport !0-1023 drop",			/* 2 */
		"dport 0 accept",			/* 3 */
		"dport 65535 accept",			/* 4 */
		NULL);

	pkt4("1.1.1.1", "2.2.2.2", IPPROTO_UDP, 999, 53);
	assert_int_equal(M(rs), -1);
	pkt4("1.1.1.1", "2.2.2.2", IPPROTO_UDP, 1000, 53);
	assert_int_equal(M(rs), 0);
	pkt4("1.1.1.1", "2.2.2.2", IPPROTO_UDP, 2000, 53);
	assert_int_equal(M(rs), 0);
	pkt4("1.1.1.1", "2.2.2.2", IPPROTO_UDP, 2001, 53);
	assert_int_equal(M(rs), -1);
	pkt4("1.1.1.1", "2.2.2.2", IPPROTO_TCP, 443, 9);
	assert_int_equal(M(rs), 1);	/* port: the source side */
	pkt4("1.1.1.1", "2.2.2.2", IPPROTO_TCP, 9, 443);
	assert_int_equal(M(rs), 1);	/* port: the destination side */
	pkt4("1.1.1.1", "2.2.2.2", IPPROTO_TCP, 9, 1024);
	assert_int_equal(M(rs), 2);
	pkt4("1.1.1.1", "2.2.2.2", IPPROTO_TCP, 9, 1023);
	assert_int_equal(M(rs), -1);
	pkt4("1.1.1.1", "2.2.2.2", IPPROTO_TCP, 9, 0);
	assert_int_equal(M(rs), 3);
	pkt6("::1", "::2", IPPROTO_UDPLITE, 9, 65535);
	assert_int_equal(M(rs), 2);	/* 65535 is not in 0-1023 */
	/* ICMP has no ports: no port rule matches, negated or not */
	pkt4("1.1.1.1", "2.2.2.2", IPPROTO_ICMP, 443, 0x0800);
	assert_int_equal(M(rs), -1);
	/* nor does a later fragment (no L4 header) */
	pkt4("1.1.1.1", "2.2.2.2", IPPROTO_UDP, 0, 0);
	pi.flags = PKT_F_FRAGMENT;
	assert_int_equal(M(rs), -1);
	ruleset_free(rs);
}

static void test_ifaces_queue_state(void **state)
{
	unsigned lo = if_nametoindex("lo");
	struct ruleset *rs;

	if (!lo)
		skip();
	rs = rs_of("accept",
		"iif lo queue 3",		/* 0: action queue 3 */
		"oif !lo queue 4-5 drop",	/* 1: queue 4-5 is a match */
		"queue 7 state new drop",	/* 2 */
		"queue 7 state established mark 1", /* 3 */
		NULL);

	pkt4("1.1.1.1", "2.2.2.2", IPPROTO_UDP, 1, 2);
	pk.indev = lo;
	assert_int_equal(M(rs), 0);
	assert_int_equal(ruleset_action(rs, 0)->type, RA_QUEUE);
	assert_int_equal(ruleset_action(rs, 0)->queue, 3);
	pk.indev = lo + 1000;
	pk.outdev = lo;
	pk.queue = 4;
	assert_int_equal(M(rs), -1);
	pk.outdev = lo + 1000;
	assert_int_equal(M(rs), 1);
	pk.queue = 6;
	assert_int_equal(M(rs), -1);
	pk.queue = 7;
	assert_int_equal(M(rs), 2);	/* no flow: new */
	assert_true(ruleset_action(rs, 0)->cacheable);
	assert_true(ruleset_action(rs, 1)->cacheable);
	assert_false(ruleset_action(rs, 2)->cacheable);
	assert_false(ruleset_action(rs, 3)->cacheable);
	assert_false(ruleset_action(rs, -1)->cacheable);
	ruleset_free(rs);
}

static void test_order_and_default(void **state)
{
	struct ruleset *rs = rs_of(NULL,
		"proto udp drop",
		"proto udp accept",
		"accept",
		NULL);
	const struct rule_action *a;

	pkt4("1.1.1.1", "2.2.2.2", IPPROTO_UDP, 1, 2);
	assert_int_equal(M(rs), 0);
	pkt4("1.1.1.1", "2.2.2.2", IPPROTO_TCP, 1, 2);
	assert_int_equal(M(rs), 2);	/* a rule with no match takes all */
	ruleset_free(rs);

	/* no rules, no default: accept, cacheable */
	rs = rs_of(NULL, NULL);
	assert_int_equal(M(rs), -1);
	a = ruleset_action(rs, -1);
	assert_int_equal(a->type, RA_ACCEPT);
	assert_true(a->cacheable);
	ruleset_free(rs);

	rs = rs_of("mark 010/0xff", "proto udp repeat mark 0x10", NULL);
	a = ruleset_action(rs, -1);
	assert_int_equal(a->type, RA_MARK);
	assert_int_equal(a->mark, 10);	/* decimal: no octal */
	assert_int_equal(a->mask, 0xff);
	assert_int_equal(rs->masks[a->mask_index], 0xff);
	a = ruleset_action(rs, 0);
	assert_int_equal(a->type, RA_REPEAT);
	assert_int_equal(a->mark, 0x10);
	assert_int_equal(a->mask_index, 0);
	assert_int_equal(rs->masks[0], 0xffffffff);
	ruleset_free(rs);
}

/* A rejected rule leaves the set as it was. */
static void test_rollback(void **state)
{
	struct ruleset *rs = ruleset_new();
	unsigned nr, n4, n6, nm;

	assert_non_null(rs);
	assert_int_equal(ruleset_add(rs, "src 10.0.0.0/8 dport 1 accept", err,
				     sizeof(err)), 0);
	nr = rs->nranges;
	n4 = rs->nnet4;
	n6 = rs->nnet6;
	nm = rs->nmasks;
	assert_int_equal(ruleset_add(rs, "src 10.0.0.0/8,::/0 dport 1,2,3 "
				     "mark 1/3 frob", err, sizeof(err)), -1);
	assert_int_equal(ruleset_add(rs, "dport 5 mark 1/3 inspect x", err,
				     sizeof(err)), -1);
	assert_int_equal(rs->nrules, 1);
	assert_int_equal(rs->nranges, nr);
	assert_int_equal(rs->nnet4, n4);
	assert_int_equal(rs->nnet6, n6);
	assert_int_equal(rs->nmasks, nm);
	assert_int_equal(rs->ninspectors, 0);
	ruleset_free(rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_log),
		cmocka_unit_test(test_inspector_later),
		cmocka_unit_test(test_cidr4),
		cmocka_unit_test(test_cidr6),
		cmocka_unit_test(test_lists_and_negation),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_ifaces_queue_state),
		cmocka_unit_test(test_order_and_default),
		cmocka_unit_test(test_rollback),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
