// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The inspector loader and the shipped plug-ins on synthetic packets: the
 * built .so files are loaded by path from $NFQE_BUILD_ROOT/plugins (and
 * tests/plugin-badabi.so), packets are parsed by the real parser and
 * attributed to flows of a real flow table whose slot_free is
 * inspector_slot_free, as in the daemon.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <urcu-qsbr.h>

#include <cmocka.h>

#include <nfqe/inspector.h>

#include "flowtable.h"
#include "inspector.h"
#include "packet.h"
#include "worker.h"

static const char *build_root;
static struct flowtable *ft;

static const char *plugin_path(const char *name)
{
	static char path[4][4096];
	static unsigned next;
	char *p = path[next++ % 4];

	if (!strcmp(name, "badabi"))
		snprintf(p, sizeof(path[0]), "%s/tests/plugin-badabi.so",
			 build_root);
	else
		snprintf(p, sizeof(path[0]), "%s/plugins/%s.so", build_root,
			 name);
	return p;
}

/* --- packets --- */

struct tpkt {
	uint8_t		buf[2048];
	size_t		len;
	struct pkt_info	info;
	struct nfqe_pkt	pkt;
};

static size_t put_l4(uint8_t *p, uint8_t proto, uint16_t sport,
		     uint16_t dport, const void *payload, size_t plen)
{
	size_t hl = proto == IPPROTO_TCP ? 20 : 8;

	memset(p, 0, hl);
	p[0] = sport >> 8;
	p[1] = sport & 0xff;
	p[2] = dport >> 8;
	p[3] = dport & 0xff;
	if (proto == IPPROTO_TCP) {
		p[12] = 5 << 4;		/* data offset */
		p[13] = 0x18;		/* PSH ACK */
		p[15] = 0xff;		/* window */
	} else {
		p[4] = (uint8_t)((hl + plen) >> 8);
		p[5] = (uint8_t)((hl + plen) & 0xff);
	}
	if (plen)
		memcpy(p + hl, payload, plen);
	return hl + plen;
}

/* A packet from host @host (10.0.0.host or fd00::host) to 10.0.1.1 or
 * fd00::1:1, parsed; no flow yet. */
static void pkt_make(struct tpkt *t, int family, uint8_t proto, uint8_t host,
		     uint16_t sport, uint16_t dport, const void *payload,
		     size_t plen)
{
	uint8_t *p = t->buf;
	size_t l4;

	memset(t, 0, sizeof(*t));
	if (family == AF_INET) {
		p[0] = 0x45;
		p[8] = 64;
		p[9] = proto;
		p[12] = 10;
		p[15] = host;
		p[16] = 10;
		p[18] = 1;
		p[19] = 1;
		l4 = put_l4(p + 20, proto, sport, dport, payload, plen);
		t->len = 20 + l4;
		p[2] = (uint8_t)(t->len >> 8);
		p[3] = (uint8_t)(t->len & 0xff);
	} else {
		p[0] = 0x60;
		p[6] = proto;
		p[7] = 64;
		p[8] = 0xfd;
		p[23] = host;
		p[24] = 0xfd;
		p[37] = 1;
		p[39] = 1;
		l4 = put_l4(p + 40, proto, sport, dport, payload, plen);
		t->len = 40 + l4;
		p[4] = (uint8_t)(l4 >> 8);
		p[5] = (uint8_t)(l4 & 0xff);
	}
	assert_int_equal(pkt_parse(t->buf, t->len, 0, &t->info), PKT_OK);
	t->pkt.queue = 3;
	t->pkt.info = &t->info;
	t->pkt.data = t->buf;
	t->pkt.len = (uint32_t)t->len;
}

/* Attribute the packet to its flow in the test's table, as a worker does. */
static void pkt_flow(struct tpkt *t)
{
	struct flow_key key;
	struct flow *flow;
	bool created;
	int side, dir;

	assert_int_equal(flow_key_make(&key, t->info.family, t->info.l4proto,
				       &t->info.src, &t->info.dst,
				       t->info.sport, t->info.dport, 0,
				       &side), 0);
	flow = flowtable_lookup_or_add(ft, &key, side, 1, &dir, &created);
	assert_non_null(flow);
	flow_update(flow, dir, t->info.ip_len, 0, 1);
	t->pkt.flow = flow;
	t->pkt.dir = dir;
	t->pkt.flow_new = created;
}

/* make + flow + inspect */
static enum inspect_result run(struct inspector *in, int family, uint8_t proto,
			       uint8_t host, uint16_t sport, uint16_t dport,
			       const void *payload, size_t plen, bool flow,
			       uint32_t *ret_mark)
{
	struct tpkt t;
	uint32_t mark = 0xdeadbeef;
	enum inspect_result r;

	pkt_make(&t, family, proto, host, sport, dport, payload, plen);
	if (flow)
		pkt_flow(&t);
	r = inspector_inspect(in, &t.pkt, &mark);
	if (ret_mark)
		*ret_mark = mark;
	return r;
}

/* --- sets --- */

/*
 * Configure one [inspector NAME] from "key", "value" pairs (NULL ends) and
 * load it. NULL on failure with the message in @err.
 */
static struct inspector_set *set_load(const char *name, char *err,
				      size_t errlen, ...)
{
	struct inspector_set *set = inspector_set_new();
	char section[128];
	const char *k, *v;
	va_list ap;

	assert_non_null(set);
	snprintf(section, sizeof(section), "inspector %s", name);
	err[0] = '\0';
	va_start(ap, errlen);
	while ((k = va_arg(ap, const char *))) {
		v = va_arg(ap, const char *);
		if (inspector_set_key(set, section, k, v, err, errlen) < 0) {
			va_end(ap);
			inspector_set_free(set);
			return NULL;
		}
	}
	va_end(ap);
	if (inspector_set_load(set, err, errlen) < 0) {
		inspector_set_free(set);
		return NULL;
	}
	return set;
}

static int table_setup(void **state)
{
	struct flowtable_params p;

	flowtable_params_init(&p);
	p.flow_max = 4096;
	p.slot_free = inspector_slot_free;
	ft = flowtable_new(&p);
	return ft ? 0 : -1;
}

static int table_teardown(void **state)
{
	flowtable_free(ft);
	ft = NULL;
	return 0;
}

/* --- the loader --- */

static void test_abi_mismatch(void **state)
{
	struct inspector_set *set;
	char err[512], want[128];

	set = set_load("bad", err, sizeof(err), "path", plugin_path("badabi"),
		       NULL);
	assert_null(set);
	assert_non_null(strstr(err, "path: "));
	snprintf(want, sizeof(want), "inspector ABI version %u, this nfqe has "
		 "version %u", NFQE_INSPECTOR_ABI_VERSION + 1,
		 NFQE_INSPECTOR_ABI_VERSION);
	assert_non_null(strstr(err, want));
}

static void test_load_errors(void **state)
{
	struct inspector_set *set;
	char err[512];

	set = set_load("x", err, sizeof(err), "path", "/nonexistent/x.so",
		       NULL);
	assert_null(set);
	assert_non_null(strstr(err, "cannot load plug-in"));

	/* keys but no path: refused at load */
	set = set_load("x", err, sizeof(err), "string", "a", NULL);
	assert_null(set);
	assert_non_null(strstr(err, "[inspector x]: no path"));

	set = set_load("x", err, sizeof(err), "path", plugin_path("content"),
		       "path", plugin_path("content"), NULL);
	assert_null(set);
	assert_non_null(strstr(err, "given twice"));

	set = set_load("x", err, sizeof(err), "path", plugin_path("content"),
		       "on_error", "maybe", NULL);
	assert_null(set);
	assert_non_null(strstr(err, "on_error"));

	set = set_load("bad name", err, sizeof(err), "path",
		       plugin_path("content"), NULL);
	assert_null(set);

	/* the plug-in's init refuses: the section and plug-in are named */
	set = set_load("c", err, sizeof(err), "path", plugin_path("content"),
		       "strin", "a", NULL);
	assert_null(set);
	assert_non_null(strstr(err, "[inspector c] (content): unknown key "
				    "'strin'"));
	set = set_load("c", err, sizeof(err), "path", plugin_path("content"),
		       "string", "a\\x4", NULL);
	assert_null(set);
	assert_non_null(strstr(err, "two hex digits"));
	set = set_load("c", err, sizeof(err), "path", plugin_path("content"),
		       "regex", "a(b", NULL);
	assert_null(set);
	assert_non_null(strstr(err, "regex: "));
	set = set_load("c", err, sizeof(err), "path", plugin_path("content"),
		       NULL);
	assert_null(set);
	assert_non_null(strstr(err, "at least one"));
	set = set_load("d", err, sizeof(err), "path", plugin_path("dns"),
		       "block", "a..b", NULL);
	assert_null(set);
	assert_non_null(strstr(err, "not a domain name"));
}

static void test_set_find(void **state)
{
	struct inspector_set *set = inspector_set_new();
	char err[256];

	assert_int_equal(inspector_set_key(set, "inspector a", "path",
					   plugin_path("content"), err,
					   sizeof(err)), 0);
	assert_int_equal(inspector_set_key(set, "inspector a", "string", "x",
					   err, sizeof(err)), 0);
	assert_int_equal(inspector_set_key(set, "inspector b", "path",
					   plugin_path("dns"), err,
					   sizeof(err)), 0);
	assert_int_equal(inspector_set_key(set, "inspector b", "block",
					   "example.com", err, sizeof(err)), 0);
	assert_int_equal(inspector_set_load(set, err, sizeof(err)), 0);
	assert_int_equal(inspector_set_count(set), 2);
	assert_string_equal(inspector_name(inspector_set_find(set, "a")), "a");
	assert_string_equal(inspector_plugin_name(inspector_set_find(set, "b")),
			    "dns");
	assert_null(inspector_set_find(set, "c"));
	/* loading twice is harmless */
	assert_int_equal(inspector_set_load(set, err, sizeof(err)), 0);
	inspector_set_free(set);
	inspector_set_free(NULL);
}

/* --- content --- */

static const uint8_t bench_flow3[] = {
	'n', 'f', 'q', 'e', 0, 0, 0, 3, 0, 0, 0, 7,
};

static void test_content_string(void **state)
{
	struct inspector_set *set;
	struct inspector *in;
	struct inspector_stats st;
	char err[256];
	static const char http[] = "GET /admin HTTP/1.1\r\n";
	static const char fine[] = "GET /index HTTP/1.1\r\n";

	set = set_load("c", err, sizeof(err), "path", plugin_path("content"),
		       "string", "/admin", "string", "nfqe\\x00\\x00\\x00\\x03",
		       NULL);
	assert_non_null(set);
	in = inspector_set_find(set, "c");

	/* all four combinations of family and protocol */
	assert_int_equal(run(in, AF_INET, IPPROTO_TCP, 1, 1000, 80, http,
			     strlen(http), true, NULL), INSPECT_FLOW_DROP);
	assert_int_equal(run(in, AF_INET6, IPPROTO_TCP, 1, 1000, 80, http,
			     strlen(http), true, NULL), INSPECT_FLOW_DROP);
	assert_int_equal(run(in, AF_INET, IPPROTO_UDP, 2, 1000, 9, bench_flow3,
			     sizeof(bench_flow3), true, NULL),
			 INSPECT_FLOW_DROP);
	assert_int_equal(run(in, AF_INET6, IPPROTO_UDP, 2, 1000, 9,
			     bench_flow3, sizeof(bench_flow3), true, NULL),
			 INSPECT_FLOW_DROP);
	/* no match: undecided, the flow's next packets are wanted */
	assert_int_equal(run(in, AF_INET, IPPROTO_TCP, 3, 1000, 80, fine,
			     strlen(fine), true, NULL), INSPECT_MORE);
	assert_int_equal(run(in, AF_INET6, IPPROTO_UDP, 3, 1000, 9, fine,
			     strlen(fine), true, NULL), INSPECT_MORE);
	/* the escape is exact: flow 4 is not flow 3 */
	{
		uint8_t f4[sizeof(bench_flow3)];

		memcpy(f4, bench_flow3, sizeof(f4));
		f4[7] = 4;
		assert_int_equal(run(in, AF_INET, IPPROTO_UDP, 4, 1000, 9, f4,
				     sizeof(f4), true, NULL), INSPECT_MORE);
	}
	/* a match is final: the flow's next (harmless) packet is dropped
	 * without calling the plug-in */
	assert_int_equal(run(in, AF_INET, IPPROTO_TCP, 1, 1000, 80, fine,
			     strlen(fine), true, NULL), INSPECT_FLOW_DROP);
	inspector_stats_read(in, &st);
	assert_int_equal(st.packets, 8);
	assert_int_equal(st.cached, 1);
	assert_int_equal(st.results[INSPECT_FLOW_DROP], 5);
	assert_int_equal(st.results[INSPECT_MORE], 3);
	/* without a flow record: per packet, no depth */
	assert_int_equal(run(in, AF_INET, IPPROTO_UDP, 9, 1000, 9, fine,
			     strlen(fine), false, NULL), INSPECT_ACCEPT);
	assert_int_equal(run(in, AF_INET, IPPROTO_UDP, 9, 1000, 9, http,
			     strlen(http), false, NULL), INSPECT_FLOW_DROP);
	inspector_set_free(set);
}

static void test_content_regex(void **state)
{
	struct inspector_set *set;
	struct inspector *in;
	char err[256];
	uint8_t pl[sizeof(bench_flow3)];

	set = set_load("r", err, sizeof(err), "path", plugin_path("content"),
		       "regex", "^nfqe\\x00{3}[\\x01-\\x03]",
		       "regex", "(?i)user-agent: *evil", NULL);
	assert_non_null(set);
	in = inspector_set_find(set, "r");
	memcpy(pl, bench_flow3, sizeof(pl));
	for (uint8_t f = 0; f < 6; f++) {
		pl[7] = f;
		assert_int_equal(run(in, f & 1 ? AF_INET6 : AF_INET,
				     IPPROTO_UDP, 10 + f, 2000, 9, pl,
				     sizeof(pl), true, NULL),
				 f >= 1 && f <= 3 ? INSPECT_FLOW_DROP :
						    INSPECT_MORE);
	}
	/* anchored: the same bytes later in the payload do not match */
	{
		uint8_t late[1 + sizeof(bench_flow3)] = { 'x' };

		memcpy(late + 1, bench_flow3, sizeof(bench_flow3));
		assert_int_equal(run(in, AF_INET, IPPROTO_TCP, 20, 2000, 80,
				     late, sizeof(late), true, NULL),
				 INSPECT_MORE);
	}
	assert_int_equal(run(in, AF_INET6, IPPROTO_TCP, 21, 2000, 80,
			     "GET / HTTP/1.1\r\nUSER-AGENT:   EviL\r\n", 35,
			     true, NULL), INSPECT_FLOW_DROP);
	inspector_set_free(set);
}

static void test_content_depth(void **state)
{
	struct inspector_set *set;
	struct inspector *in;
	struct inspector_stats st;
	char err[256];

	set = set_load("d", err, sizeof(err), "path", plugin_path("content"),
		       "string", "attack", "depth", "3", NULL);
	assert_non_null(set);
	in = inspector_set_find(set, "d");
	/* a packet without payload (a handshake) does not count */
	assert_int_equal(run(in, AF_INET, IPPROTO_TCP, 1, 3000, 80, NULL, 0,
			     true, NULL), INSPECT_MORE);
	assert_int_equal(run(in, AF_INET, IPPROTO_TCP, 1, 3000, 80, "a", 1,
			     true, NULL), INSPECT_MORE);
	assert_int_equal(run(in, AF_INET, IPPROTO_TCP, 1, 3000, 80, "b", 1,
			     true, NULL), INSPECT_MORE);
	assert_int_equal(run(in, AF_INET, IPPROTO_TCP, 1, 3000, 80, "c", 1,
			     true, NULL), INSPECT_FLOW_ACCEPT);
	/* past the depth the flow is accepted for good, even an attack */
	assert_int_equal(run(in, AF_INET, IPPROTO_TCP, 1, 3000, 80, "attack",
			     6, true, NULL), INSPECT_FLOW_ACCEPT);
	inspector_stats_read(in, &st);
	assert_int_equal(st.cached, 1);
	/* within the depth it is caught; the other direction counts too */
	assert_int_equal(run(in, AF_INET6, IPPROTO_UDP, 2, 3000, 53, "x", 1,
			     true, NULL), INSPECT_MORE);
	{
		struct tpkt t;
		uint32_t mark;

		uint8_t a[16];

		/* the reply: ports 53 -> 3000, addresses swapped */
		pkt_make(&t, AF_INET6, IPPROTO_UDP, 2, 53, 3000, "attack", 6);
		memcpy(a, t.buf + 8, 16);
		memcpy(t.buf + 8, t.buf + 24, 16);
		memcpy(t.buf + 24, a, 16);
		assert_int_equal(pkt_parse(t.buf, t.len, 0, &t.info), PKT_OK);
		pkt_flow(&t);
		assert_int_equal(t.pkt.dir, FLOW_DIR_REPLY);
		assert_int_equal(inspector_inspect(in, &t.pkt, &mark),
				 INSPECT_FLOW_DROP);
	}
	inspector_set_free(set);
}

static void test_content_mark(void **state)
{
	struct inspector_set *set;
	struct inspector *in;
	char err[256];
	uint32_t mark;

	set = set_load("m", err, sizeof(err), "path", plugin_path("content"),
		       "string", "\\x00\\xff\\\\", "action", "mark 0x42", NULL);
	assert_non_null(set);
	in = inspector_set_find(set, "m");
	assert_int_equal(run(in, AF_INET, IPPROTO_UDP, 1, 4000, 9,
			     "a\0\xff\\b", 5, true, &mark), INSPECT_FLOW_MARK);
	assert_int_equal(mark, 0x42);
	/* the final mark is kept for the flow */
	mark = 0;
	assert_int_equal(run(in, AF_INET, IPPROTO_UDP, 1, 4000, 9, "zz", 2,
			     true, &mark), INSPECT_FLOW_MARK);
	assert_int_equal(mark, 0x42);
	/* no match: the mark is not touched */
	assert_int_equal(run(in, AF_INET, IPPROTO_UDP, 2, 4000, 9, "zz", 2,
			     true, &mark), INSPECT_MORE);
	assert_int_equal(mark, 0xdeadbeef);
	inspector_set_free(set);

	set = set_load("m", err, sizeof(err), "path", plugin_path("content"),
		       "string", "x", "action", "mark", NULL);
	assert_null(set);
	assert_non_null(strstr(err, "action"));
}

/* --- dns --- */

/* Append a string literal's bytes (without its NUL) at @q + @n. */
#define PUT(q, n, lit) \
	(memcpy((q) + (n), (lit), sizeof(lit) - 1), (n) += sizeof(lit) - 1)

/* A query for @name (dotted, may hold any bytes except '.') into @p. */
static size_t dns_query(uint8_t *p, const char *name, uint16_t flags)
{
	size_t n = 12;

	memset(p, 0, 12);
	p[0] = 0x12;
	p[1] = 0x34;
	p[2] = flags >> 8;
	p[3] = flags & 0xff;
	p[5] = 1;		/* qdcount */
	while (*name) {
		size_t l = strcspn(name, ".");

		p[n++] = (uint8_t)l;
		memcpy(p + n, name, l);
		n += l;
		name += l;
		if (*name == '.')
			name++;
	}
	p[n++] = 0;
	p[n++] = 0;
	p[n++] = 1;		/* A */
	p[n++] = 0;
	p[n++] = 1;		/* IN */
	return n;
}

static enum inspect_result dns_run(struct inspector *in, const void *q,
				   size_t len)
{
	static uint16_t next_sport = 10000;
	uint16_t sport = next_sport++;

	/* a new source port each time, as resolvers do, and with flows */
	return run(in, sport & 1 ? AF_INET6 : AF_INET, IPPROTO_UDP, 7,
		   sport, 53, q, len, true, NULL);
}

static enum inspect_result dns_name(struct inspector *in, const char *name)
{
	uint8_t q[512];

	return dns_run(in, q, dns_query(q, name, 0x0100));
}

static void test_dns_blocklist(void **state)
{
	struct inspector_set *set;
	struct inspector *in;
	char err[256], list[] = "/tmp/nfqe-test-dns.XXXXXX";
	FILE *f;
	int fd;

	fd = mkstemp(list);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fprintf(f, "# blocked\n\nads.example.net\n0.0.0.0 tracker.test # hosts\n"
		"  *.wild.org.  \n");
	fclose(f);
	set = set_load("dns", err, sizeof(err), "path", plugin_path("dns"),
		       "block", "example.com", "block", "Evil.ORG.",
		       "list", list, NULL);
	unlink(list);
	assert_non_null(set);
	in = inspector_set_find(set, "dns");

	assert_int_equal(dns_name(in, "example.com"), INSPECT_DROP);
	assert_int_equal(dns_name(in, "www.example.com"), INSPECT_DROP);
	assert_int_equal(dns_name(in, "a.b.c.example.com"), INSPECT_DROP);
	assert_int_equal(dns_name(in, "WWW.ExAmPlE.CoM"), INSPECT_DROP);
	assert_int_equal(dns_name(in, "evil.org"), INSPECT_DROP);
	assert_int_equal(dns_name(in, "x.ads.example.net"), INSPECT_DROP);
	assert_int_equal(dns_name(in, "tracker.test"), INSPECT_DROP);
	assert_int_equal(dns_name(in, "wild.org"), INSPECT_DROP);
	assert_int_equal(dns_name(in, "a.wild.org"), INSPECT_DROP);
	/* not a suffix trick: label boundaries count */
	assert_int_equal(dns_name(in, "notexample.com"), INSPECT_ACCEPT);
	assert_int_equal(dns_name(in, "example.com.evil.net"), INSPECT_ACCEPT);
	assert_int_equal(dns_name(in, "example.co"), INSPECT_ACCEPT);
	assert_int_equal(dns_name(in, "com"), INSPECT_ACCEPT);
	assert_int_equal(dns_name(in, "example.net"), INSPECT_ACCEPT);
	assert_int_equal(dns_name(in, "www.example.org"), INSPECT_ACCEPT);
	/* a label holding the bytes "www.example" is one label, not two */
	{
		uint8_t q[64];
		size_t n = 0;

		PUT(q, n, "\x12\x34\x01\x00\x00\x01\0\0\0\0\0\0");
		PUT(q, n, "\x0b" "www.example" "\x03" "com" "\0" "\0\1\0\1");
		assert_int_equal(dns_run(in, q, n), INSPECT_ACCEPT);
		/* while "example.com" as labels is blocked */
		n = 12;
		PUT(q, n, "\x07" "example" "\x03" "com" "\0" "\0\1\0\1");
		assert_int_equal(dns_run(in, q, n), INSPECT_DROP);
	}
	/* the root, and a query with no question */
	assert_int_equal(dns_name(in, ""), INSPECT_ACCEPT);
	{
		uint8_t q[12] = { 0, 1, 1, 0 };

		assert_int_equal(dns_run(in, q, sizeof(q)), INSPECT_ACCEPT);
	}
	/* a response (QR) is not judged */
	{
		uint8_t q[512];

		assert_int_equal(dns_run(in, q, dns_query(q, "example.com",
							  0x8180)),
				 INSPECT_ACCEPT);
	}
	/* per packet: the same 5-tuple asks a blocked and a fine name */
	{
		uint8_t q[512];

		assert_int_equal(run(in, AF_INET, IPPROTO_UDP, 8, 5353, 53, q,
				     dns_query(q, "example.com", 0x0100), true,
				     NULL), INSPECT_DROP);
		assert_int_equal(run(in, AF_INET, IPPROTO_UDP, 8, 5353, 53, q,
				     dns_query(q, "example.org", 0x0100), true,
				     NULL), INSPECT_ACCEPT);
	}
	/* TCP is not parsed */
	{
		uint8_t q[512];

		assert_int_equal(run(in, AF_INET, IPPROTO_TCP, 8, 5353, 53, q,
				     dns_query(q, "example.com", 0x0100), true,
				     NULL), INSPECT_ACCEPT);
	}
	inspector_set_free(set);
}

static void test_dns_malformed(void **state)
{
	struct inspector_set *set, *lax;
	struct inspector *in, *in_lax;
	uint8_t q[600];
	char err[256];
	size_t n;

	set = set_load("dns", err, sizeof(err), "path", plugin_path("dns"),
		       "block", "example.com", NULL);
	assert_non_null(set);
	in = inspector_set_find(set, "dns");
	lax = set_load("lax", err, sizeof(err), "path", plugin_path("dns"),
		       "block", "example.com", "malformed", "accept", NULL);
	assert_non_null(lax);
	in_lax = inspector_set_find(lax, "lax");

	/* shorter than the header */
	assert_int_equal(dns_run(in, "\x12\x34\x01\x00\x00\x01", 6),
			 INSPECT_DROP);
	assert_int_equal(dns_run(in_lax, "\x12\x34\x01\x00\x00\x01", 6),
			 INSPECT_ACCEPT);
	/* truncated inside a label, before the root label, before qtype */
	n = dns_query(q, "www.example.com", 0x0100);
	for (size_t cut = 13; cut < n; cut++) {
		assert_int_equal(dns_run(in, q, cut), INSPECT_DROP);
		assert_int_equal(dns_run(in_lax, q, cut), INSPECT_ACCEPT);
	}
	assert_int_equal(dns_run(in, q, n), INSPECT_DROP);	/* blocked */
	/* qdcount larger than what is there */
	n = dns_query(q, "example.org", 0x0100);
	q[4] = 0xff;
	assert_int_equal(dns_run(in, q, n), INSPECT_DROP);
	assert_int_equal(dns_run(in_lax, q, n), INSPECT_ACCEPT);
	/* label types 01 and 10, with room behind them for a 65-byte label
	 * (0x41 & 0x3f would be "x" and then the root) */
	memset(q, 0, sizeof(q));
	n = 0;
	PUT(q, n, "\x12\x34\x01\x00\x00\x01\0\0\0\0\0\0");
	PUT(q, n, "\x41" "x" "\0" "\0\1\0\1");
	n += 80;
	assert_int_equal(dns_run(in, q, n), INSPECT_DROP);
	assert_int_equal(dns_run(in_lax, q, n), INSPECT_ACCEPT);
	q[12] = 0x81;
	assert_int_equal(dns_run(in, q, n), INSPECT_DROP);
	q[12] = 0x01;
	assert_int_equal(dns_run(in, q, n), INSPECT_ACCEPT);
	/* a name over 255 bytes: 5 labels of 63 */
	memset(q, 0, 12);
	q[2] = 1;
	q[5] = 1;
	n = 12;
	for (int i = 0; i < 5; i++) {
		q[n++] = 63;
		memset(q + n, 'a', 63);
		n += 63;
	}
	q[n++] = 0;
	memcpy(q + n, "\0\1\0\1", 4);
	n += 4;
	assert_int_equal(dns_run(in, q, n), INSPECT_DROP);
	/* exactly 255 bytes is fine: 3 x 63 + 1 x 61 + root */
	n = 12;
	for (int i = 0; i < 4; i++) {
		uint8_t l = i < 3 ? 63 : 61;

		q[n++] = l;
		memset(q + n, 'b', l);
		n += l;
	}
	q[n++] = 0;
	memcpy(q + n, "\0\1\0\1", 4);
	n += 4;
	assert_int_equal(n - 12 - 4, 255);
	assert_int_equal(dns_run(in, q, n), INSPECT_ACCEPT);

	/* compression pointers: to itself */
	memcpy(q, "\x12\x34\x01\x00\x00\x01\0\0\0\0\0\0", 12);
	memcpy(q + 12, "\xc0\x0c\0\1\0\1", 6);
	assert_int_equal(dns_run(in, q, 18), INSPECT_DROP);
	assert_int_equal(dns_run(in_lax, q, 18), INSPECT_ACCEPT);
	/* a label, then back to it: a loop */
	memcpy(q + 12, "\x01x\xc0\x0c\0\1\0\1", 8);
	assert_int_equal(dns_run(in, q, 20), INSPECT_DROP);
	/* forward */
	memcpy(q + 12, "\xc0\x0e\x01x\0\0\1\0\1", 9);
	assert_int_equal(dns_run(in, q, 21), INSPECT_DROP);
	/* into the header */
	memcpy(q + 12, "\xc0\x02\0\1\0\1", 6);
	assert_int_equal(dns_run(in, q, 18), INSPECT_DROP);
	/* cut in the middle of a pointer */
	memcpy(q + 12, "\x01x\xc0", 3);
	assert_int_equal(dns_run(in, q, 15), INSPECT_DROP);
	/* two questions pointing at each other: second -> first's label,
	 * first ends in a pointer forward to the second */
	memcpy(q, "\x12\x34\x01\x00\x00\x02\0\0\0\0\0\0", 12);
	memcpy(q + 12, "\x01" "a\xc0\x14\0\1\0\1" "\x01" "b\xc0\x0c\0\1\0\1",
	       16);
	assert_int_equal(dns_run(in, q, 28), INSPECT_DROP);
	/* a legitimate backward pointer: the third question is
	 * ok.<the first question's example.org>; the second is blocked */
	n = 0;
	PUT(q, n, "\x12\x34\x01\x00\x00\x03\0\0\0\0\0\0");
	PUT(q, n, "\x07" "example" "\x03" "org" "\0" "\0\1\0\1");
	PUT(q, n, "\x03" "www" "\x07" "example" "\x03" "com" "\0"
	    "\0\1\0\1");
	PUT(q, n, "\x02" "ok" "\xc0\x0c" "\0\1\0\1");
	assert_int_equal(n, 59);
	assert_int_equal(dns_run(in, q, n), INSPECT_DROP);
	/* without the second: fine */
	memmove(q + 29, q + 50, 9);
	q[5] = 2;
	assert_int_equal(dns_run(in, q, 38), INSPECT_ACCEPT);
	inspector_set_free(set);

	/* a chain of two backward pointers: b -> a -> com */
	set = set_load("dns", err, sizeof(err), "path", plugin_path("dns"),
		       "block", "b.a.com", NULL);
	assert_non_null(set);
	in = inspector_set_find(set, "dns");
	n = 0;
	PUT(q, n, "\x12\x34\x01\x00\x00\x02\0\0\0\0\0\0");
	PUT(q, n, "\x03" "com" "\0" "\0\1\0\1");
	PUT(q, n, "\x01" "a" "\xc0\x0c" "\0\1\0\1");
	assert_int_equal(dns_run(in, q, n), INSPECT_ACCEPT);
	PUT(q, n, "\x01" "b" "\xc0\x15" "\0\1\0\1");
	q[5] = 3;
	assert_int_equal(dns_run(in, q, n), INSPECT_DROP);
	/* the middle name pointing forward instead: malformed */
	q[12 + 9 + 3] = 0x1d;
	assert_int_equal(dns_run(in, q, n), INSPECT_DROP);
	assert_int_equal(dns_run(in_lax, q, n), INSPECT_ACCEPT);
	inspector_set_free(set);
	inspector_set_free(lax);
}

/* --- life cycle: references, slots, errors --- */

static char *slurp(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

static unsigned count_lines(const char *text, const char *line)
{
	size_t n = strlen(line);
	unsigned c = 0;

	for (const char *p = text; (p = strstr(p, line)); p += n)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			c++;
	return c;
}

static void test_refcount_slots(void **state)
{
	char ta[] = "/tmp/nfqe-test-trace-a.XXXXXX";
	char tb[] = "/tmp/nfqe-test-trace-b.XXXXXX";
	struct inspector_set *a, *b;
	struct inspector *ia, *ib;
	struct inspector_stats st;
	struct flowtable_params p;
	char err[256];
	int fd;

	fd = mkstemp(ta);
	close(fd);
	fd = mkstemp(tb);
	close(fd);
	flowtable_params_init(&p);
	p.flow_max = 64;
	p.slot_free = inspector_slot_free;
	ft = flowtable_new(&p);
	assert_non_null(ft);

	a = set_load("t", err, sizeof(err), "path", plugin_path("test-hang"),
		     "slot", "yes", "trace", ta, NULL);
	assert_non_null(a);
	ia = inspector_set_find(a, "t");
	/* three flows get a slot each; a second packet reuses it */
	for (uint8_t h = 1; h <= 3; h++)
		assert_int_equal(run(ia, AF_INET, IPPROTO_UDP, h, 7000, 9, "x",
				     1, true, NULL), INSPECT_ACCEPT);
	assert_int_equal(run(ia, AF_INET, IPPROTO_UDP, 1, 7000, 9, "x", 1,
			     true, NULL), INSPECT_ACCEPT);
	assert_string_equal(slurp(ta), "init\ninspect\n");

	/* a reload: the new set b, then the old set goes; a lives on in
	 * its flows */
	b = set_load("t", err, sizeof(err), "path", plugin_path("test-hang"),
		     "slot", "yes", "trace", tb, NULL);
	assert_non_null(b);
	ib = inspector_set_find(b, "t");
	inspector_set_free(a);
	assert_int_equal(count_lines(slurp(ta), "fini"), 0);

	/* flows 1 and 2 move to b: a's slots are freed there and then */
	assert_int_equal(run(ib, AF_INET, IPPROTO_UDP, 1, 7000, 9, "x", 1,
			     true, NULL), INSPECT_ACCEPT);
	assert_int_equal(run(ib, AF_INET, IPPROTO_UDP, 2, 7000, 9, "x", 1,
			     true, NULL), INSPECT_ACCEPT);
	assert_int_equal(count_lines(slurp(ta), "flow_free"), 2);
	assert_int_equal(count_lines(slurp(ta), "fini"), 0);
	inspector_stats_read(ib, &st);
	assert_int_equal(st.slot_rebinds, 2);
	/* flow 4 only ever saw b */
	assert_int_equal(run(ib, AF_INET, IPPROTO_UDP, 4, 7000, 9, "x", 1,
			     true, NULL), INSPECT_ACCEPT);

	/* the table goes: flow 3 frees a's last slot, a is finalised; b
	 * keeps its set's reference */
	flowtable_free(ft);
	ft = NULL;
	assert_string_equal(slurp(ta), "init\ninspect\nflow_free\nflow_free\n"
				       "flow_free\nfini\n");
	assert_int_equal(count_lines(slurp(tb), "flow_free"), 3);
	assert_int_equal(count_lines(slurp(tb), "fini"), 0);
	inspector_set_free(b);
	assert_int_equal(count_lines(slurp(tb), "fini"), 1);
	unlink(ta);
	unlink(tb);
}

static void test_on_error(void **state)
{
	struct inspector_set *set;
	struct inspector_stats st;
	struct inspector *in;
	char err[256];

	set = set_load("e", err, sizeof(err), "path", plugin_path("test-hang"),
		       "action", "error", "after", "1", "on_error", "drop",
		       NULL);
	assert_non_null(set);
	in = inspector_set_find(set, "e");
	assert_int_equal(run(in, AF_INET, IPPROTO_UDP, 1, 8000, 9, "x", 1,
			     true, NULL), INSPECT_ACCEPT);
	for (int i = 0; i < 3; i++)
		assert_int_equal(run(in, AF_INET, IPPROTO_UDP, 1, 8000, 9, "x",
				     1, true, NULL), INSPECT_DROP);
	inspector_stats_read(in, &st);
	assert_int_equal(st.errors, 3);
	inspector_set_free(set);

	set = set_load("e", err, sizeof(err), "path", plugin_path("test-hang"),
		       "action", "error", NULL);
	assert_non_null(set);
	in = inspector_set_find(set, "e");
	/* the default is accept; without a flow as well */
	assert_int_equal(run(in, AF_INET6, IPPROTO_TCP, 1, 8000, 9, "x", 1,
			     true, NULL), INSPECT_ACCEPT);
	assert_int_equal(run(in, AF_INET6, IPPROTO_TCP, 1, 8000, 9, "x", 1,
			     false, NULL), INSPECT_ACCEPT);
	inspector_stats_read(in, &st);
	assert_int_equal(st.errors, 2);
	inspector_set_free(set);
}

static void test_example_budget(void **state)
{
	struct inspector_set *set;
	struct inspector *in;
	char err[256];
	char big[100];
	uint32_t mark;

	memset(big, 'z', sizeof(big));
	set = set_load("b", err, sizeof(err), "path", plugin_path("example"),
		       "max_bytes", "250", NULL);
	assert_non_null(set);
	in = inspector_set_find(set, "b");
	assert_int_equal(run(in, AF_INET, IPPROTO_TCP, 1, 9000, 80, big, 100,
			     true, NULL), INSPECT_MORE);
	assert_int_equal(run(in, AF_INET, IPPROTO_TCP, 1, 9000, 80, big, 100,
			     true, NULL), INSPECT_MORE);
	assert_int_equal(run(in, AF_INET, IPPROTO_TCP, 1, 9000, 80, big, 100,
			     true, NULL), INSPECT_FLOW_DROP);
	assert_int_equal(run(in, AF_INET, IPPROTO_TCP, 1, 9000, 80, big, 1,
			     true, NULL), INSPECT_FLOW_DROP);
	/* another flow has its own budget */
	assert_int_equal(run(in, AF_INET, IPPROTO_TCP, 2, 9000, 80, big, 100,
			     true, NULL), INSPECT_MORE);
	inspector_set_free(set);

	set = set_load("b", err, sizeof(err), "path", plugin_path("example"),
		       "max_bytes", "50", "mark", "7", NULL);
	assert_non_null(set);
	in = inspector_set_find(set, "b");
	assert_int_equal(run(in, AF_INET, IPPROTO_TCP, 3, 9000, 80, big, 100,
			     true, &mark), INSPECT_FLOW_MARK);
	assert_int_equal(mark, 7);
	inspector_set_free(set);
	set = set_load("b", err, sizeof(err), "path", plugin_path("example"),
		       NULL);
	assert_null(set);
	assert_non_null(strstr(err, "max_bytes"));
}

/* --- one flow, two workers --- */

#define SAME_FLOW_PACKETS	200000

struct same_flow {
	struct inspector	*in;
	unsigned		results[INSPECT_RESULT_MAX];
};

static void *same_flow_worker(void *arg)
{
	struct same_flow *sf = arg;

	rcu_register_thread();
	for (unsigned i = 0; i < SAME_FLOW_PACKETS; i++) {
		struct tpkt t;
		uint32_t mark;

		pkt_make(&t, AF_INET, IPPROTO_UDP, 1, 5555, 9, "payload", 7);
		pkt_flow(&t);
		sf->results[inspector_inspect(sf->in, &t.pkt, &mark)]++;
		rcu_quiescent_state();
	}
	rcu_unregister_thread();
	return NULL;
}

/*
 * Both directions of a flow may reach two queues: calls for one flow are
 * serialised, so the content plug-in's unlocked per-flow counter loses no
 * update and exactly the packet number "depth" ends the inspection.
 */
static void test_same_flow_threads(void **state)
{
	struct same_flow sf[2] = { { 0 } };
	struct inspector_set *set;
	struct inspector_stats st;
	pthread_t th[2];
	char depth[16], err[256];

	snprintf(depth, sizeof(depth), "%u", 2 * SAME_FLOW_PACKETS);
	set = set_load("c", err, sizeof(err), "path", plugin_path("content"),
		       "string", "attack", "depth", depth, NULL);
	assert_non_null(set);
	sf[0].in = sf[1].in = inspector_set_find(set, "c");
	rcu_thread_offline();
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, same_flow_worker,
						&sf[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	rcu_thread_online();
	inspector_stats_read(sf[0].in, &st);
	assert_int_equal(st.packets, 2 * SAME_FLOW_PACKETS);
	assert_int_equal(st.results[INSPECT_FLOW_ACCEPT], 1);
	assert_int_equal(st.results[INSPECT_MORE], 2 * SAME_FLOW_PACKETS - 1);
	assert_int_equal(sf[0].results[INSPECT_FLOW_ACCEPT] +
			 sf[1].results[INSPECT_FLOW_ACCEPT], 1);
	inspector_set_free(set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_abi_mismatch),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_set_find),
		cmocka_unit_test_setup_teardown(test_content_string,
						table_setup, table_teardown),
		cmocka_unit_test_setup_teardown(test_content_regex,
						table_setup, table_teardown),
		cmocka_unit_test_setup_teardown(test_content_depth,
						table_setup, table_teardown),
		cmocka_unit_test_setup_teardown(test_content_mark,
						table_setup, table_teardown),
		cmocka_unit_test_setup_teardown(test_dns_blocklist,
						table_setup, table_teardown),
		cmocka_unit_test_setup_teardown(test_dns_malformed,
						table_setup, table_teardown),
		cmocka_unit_test(test_refcount_slots),
		cmocka_unit_test_setup_teardown(test_on_error,
						table_setup, table_teardown),
		cmocka_unit_test_setup_teardown(test_example_budget,
						table_setup, table_teardown),
		cmocka_unit_test_setup_teardown(test_same_flow_threads,
						table_setup, table_teardown),
	};
	int ret;

	build_root = getenv("NFQE_BUILD_ROOT");
	if (!build_root) {
		fprintf(stderr, "SKIP: NFQE_BUILD_ROOT is not set (run "
			"through meson test)\n");
		return 77;
	}
	rcu_register_thread();
	ret = cmocka_run_group_tests_name("inspector", tests, NULL, NULL);
	rcu_unregister_thread();
	return ret;
}
