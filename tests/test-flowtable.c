/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test-flowtable.c - unit tests of the flow table: key normalisation for
 * every protocol, state, ageing with injected clocks, the cap and eviction,
 * decision cache, slots, a forced insert race.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <cmocka.h>

#include "flowtable-internal.h"

#define NS	1000000000ull

/* TSan builds: liburcu's internal false positives, see tests/tsan.supp */
const char *__tsan_default_options(void);

const char *__tsan_default_options(void)
{
	return "suppressions=" FT_TSAN_SUPP;
}

struct endpoint {
	int family;
	uint8_t addr[16];
	uint16_t port;
};

static struct endpoint ep(const char *addr, uint16_t port)
{
	struct endpoint e = { .port = port };

	e.family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(e.family, addr, e.addr), 1);
	return e;
}

static struct flow_key key_of(uint8_t proto, struct endpoint src,
			      struct endpoint dst, uint32_t zone, int *ret_side)
{
	struct flow_key key;

	memset(&key, 0xa5, sizeof(key));
	assert_int_equal(flow_key_make(&key, src.family, proto, src.addr,
				       dst.addr, src.port, dst.port, zone,
				       ret_side), 0);
	return key;
}

static struct flowtable *table_new(uint32_t flow_max)
{
	struct flowtable_params params;
	struct flowtable *ft;

	flowtable_params_init(&params);
	params.flow_max = flow_max;
	params.seed = 0x1234;
	ft = flowtable_new(&params);
	assert_non_null(ft);
	return ft;
}

static struct flowtable_stats stats_of(struct flowtable *ft)
{
	struct flowtable_stats st;

	flowtable_stats_get(ft, &st);
	return st;
}

/*
 * One packet from @src to @dst through the table, as a worker does it.
 * Return the flow, its direction in *ret_dir.
 */
static struct flow *packet(struct flowtable *ft, uint8_t proto,
			   struct endpoint src, struct endpoint dst,
			   uint8_t tcp_flags, uint64_t now_ns, int *ret_dir)
{
	struct flow_key key;
	struct flow *flow;
	int side, dir;

	key = key_of(proto, src, dst, 0, &side);
	flow = flowtable_lookup_or_add(ft, &key, side, now_ns, &dir, NULL);
	if (flow) {
		flow_update(flow, dir, 100, tcp_flags, now_ns);
		if (ret_dir)
			*ret_dir = dir;
	}
	return flow;
}

/* both directions of @proto between a and b: one key, opposite sides */
static void check_bidir(uint8_t proto, struct endpoint a, struct endpoint b,
			struct endpoint b_reply)
{
	struct flowtable *ft = table_new(1024);
	struct flow_key k1, k2;
	struct flow *f1, *f2;
	int s1, s2, d1, d2;

	k1 = key_of(proto, a, b, 7, &s1);
	k2 = key_of(proto, b_reply, a, 7, &s2);
	assert_memory_equal(&k1, &k2, sizeof(k1));
	if (memcmp(a.addr, b.addr, 16))
		assert_int_not_equal(s1, s2);

	f1 = packet(ft, proto, a, b, 0, 1 * NS, &d1);
	f2 = packet(ft, proto, b_reply, a, 0, 2 * NS, &d2);
	assert_non_null(f1);
	assert_ptr_equal(f1, f2);
	assert_int_equal(d1, FLOW_DIR_ORIG);
	assert_int_equal(d2, FLOW_DIR_REPLY);
	assert_int_equal(stats_of(ft).live, 1);
	assert_int_equal(flow_state_get(f1), FLOW_STATE_ESTABLISHED);
	flowtable_free(ft);
}

static void test_key_tcp(void **state)
{
	check_bidir(IPPROTO_TCP, ep("10.0.0.1", 40000), ep("10.0.0.2", 80),
		    ep("10.0.0.2", 80));
	/* the higher address initiates: direction must still be orig */
	check_bidir(IPPROTO_TCP, ep("192.168.1.9", 5000), ep("10.0.0.2", 22),
		    ep("10.0.0.2", 22));
	check_bidir(IPPROTO_TCP, ep("2001:db8::1", 40000), ep("2001:db8::2", 443),
		    ep("2001:db8::2", 443));
	/* same address, ports decide */
	check_bidir(IPPROTO_TCP, ep("127.0.0.1", 9000), ep("127.0.0.1", 80),
		    ep("127.0.0.1", 80));
}

static void test_key_udp(void **state)
{
	check_bidir(IPPROTO_UDP, ep("10.0.0.1", 53000), ep("10.0.0.53", 53),
		    ep("10.0.0.53", 53));
	check_bidir(IPPROTO_UDP, ep("fe80::1", 546), ep("ff02::1:2", 547),
		    ep("ff02::1:2", 547));
}

static void test_key_icmp_echo(void **state)
{
	/* request: id 0x77, type 8 code 0; reply: id 0x77, type 0 code 0 */
	struct endpoint a = ep("10.0.0.1", 0x77), b = ep("10.0.0.2", 8 << 8);
	struct endpoint r = ep("10.0.0.2", 0x77), ra = ep("10.0.0.1", 0 << 8);
	struct flow_key req, rep, other;
	int s1, s2, s3;

	check_bidir(IPPROTO_ICMP, a, b, r);
	req = key_of(IPPROTO_ICMP, a, b, 0, &s1);
	rep = key_of(IPPROTO_ICMP, r, ra, 0, &s2);
	assert_memory_equal(&req, &rep, sizeof(req));
	assert_int_not_equal(s1, s2);
	assert_int_equal(req.icmp_type, 8);
	/* another echo id is another flow */
	a.port = 0x78;
	other = key_of(IPPROTO_ICMP, a, b, 0, &s3);
	assert_memory_not_equal(&req, &other, sizeof(req));
	/* destination unreachable (3/1) is keyed by type and code */
	b.port = 3 << 8 | 1;
	other = key_of(IPPROTO_ICMP, a, b, 0, &s3);
	assert_int_equal(other.icmp_type, 3);
	assert_int_equal(other.port[0], 1);
	assert_int_equal(other.port[1], 1);
}

static void test_key_icmpv6_echo(void **state)
{
	struct endpoint a = ep("2001:db8::1", 0x1234);
	struct endpoint b = ep("2001:db8::2", 128 << 8);
	struct endpoint r = ep("2001:db8::2", 0x1234);
	struct endpoint ra = ep("2001:db8::1", 129 << 8);
	struct flowtable *ft = table_new(1024);
	struct flow_key req, rep;
	struct flow_key key;
	struct flow *f1, *f2;
	int s1, s2, d1, d2;

	req = key_of(IPPROTO_ICMPV6, a, b, 0, &s1);
	rep = key_of(IPPROTO_ICMPV6, r, ra, 0, &s2);
	assert_memory_equal(&req, &rep, sizeof(req));
	assert_int_equal(req.icmp_type, 128);

	f1 = flowtable_lookup_or_add(ft, &req, s1, NS, &d1, NULL);
	f2 = flowtable_lookup_or_add(ft, &rep, s2, NS, &d2, NULL);
	assert_ptr_equal(f1, f2);
	assert_int_equal(d1, FLOW_DIR_ORIG);
	assert_int_equal(d2, FLOW_DIR_REPLY);
	/* ICMPv6 with an IPv4 family is refused */
	assert_int_equal(flow_key_make(&key, AF_INET, IPPROTO_ICMPV6, a.addr,
				       b.addr, 0, 0, 0, &s1), -EINVAL);
	flowtable_free(ft);
}

static void test_key_other_proto(void **state)
{
	struct endpoint a = ep("10.1.1.1", 1111), b = ep("10.2.2.2", 2222);
	struct flow_key k1, k2;
	int s1, s2;

	/* GRE: ports are ignored, both directions one flow */
	check_bidir(IPPROTO_GRE, a, b, b);
	k1 = key_of(IPPROTO_GRE, a, b, 0, &s1);
	b.port = 9;
	k2 = key_of(IPPROTO_GRE, b, a, 0, &s2);
	assert_memory_equal(&k1, &k2, sizeof(k1));
	assert_int_equal(k1.port[0], 0);
	assert_int_equal(k1.port[1], 0);
	/* SCTP keeps its ports */
	check_bidir(IPPROTO_SCTP, a, b, b);
}

static void test_key_zone_and_errors(void **state)
{
	struct endpoint a = ep("10.0.0.1", 1), b = ep("10.0.0.2", 2);
	struct flow_key k1, k2;
	int side;

	k1 = key_of(IPPROTO_TCP, a, b, 1, &side);
	k2 = key_of(IPPROTO_TCP, a, b, 2, &side);
	assert_memory_not_equal(&k1, &k2, sizeof(k1));
	assert_int_equal(k1.reserved, 0);
	assert_int_equal(flow_key_make(&k1, AF_UNIX, IPPROTO_TCP, a.addr,
				       b.addr, 1, 2, 0, &side), -EAFNOSUPPORT);
	assert_int_equal(flow_key_make(&k1, AF_INET, IPPROTO_TCP, NULL,
				       b.addr, 1, 2, 0, &side), -EINVAL);
}

static void test_hash_seed(void **state)
{
	struct endpoint a = ep("10.0.0.1", 1), b = ep("10.0.0.2", 2);
	uint64_t s1[4], s2[4], s3[4];
	struct flow_key key;
	int side;

	key = key_of(IPPROTO_TCP, a, b, 0, &side);
	ft_secret_init(s1, 1);
	ft_secret_init(s2, 1);
	ft_secret_init(s3, 2);
	assert_int_equal(ft_key_hash(s1, &key), ft_key_hash(s2, &key));
	assert_int_not_equal(ft_key_hash(s1, &key), ft_key_hash(s3, &key));
}

static void test_tuple(void **state)
{
	struct endpoint cli = ep("10.9.9.9", 40000), srv = ep("10.0.0.1", 443);
	struct flowtable *ft = table_new(16);
	struct flow_tuple t;
	struct flow *flow;

	flow = packet(ft, IPPROTO_TCP, cli, srv, FLOW_TCP_SYN, NS, NULL);
	assert_non_null(flow);
	flow_tuple_get(flow, &t);
	assert_int_equal(t.family, AF_INET);
	assert_int_equal(t.proto, IPPROTO_TCP);
	assert_memory_equal(t.saddr, cli.addr, 4);
	assert_memory_equal(t.daddr, srv.addr, 4);
	assert_int_equal(t.sport, 40000);
	assert_int_equal(t.dport, 443);
	flowtable_free(ft);
}

static void test_state_and_counters(void **state)
{
	struct endpoint c = ep("10.0.0.1", 1000), s = ep("10.0.0.2", 80);
	struct flowtable *ft = table_new(16);
	struct flow_counters cnt;
	struct flow *flow;

	flow = packet(ft, IPPROTO_TCP, c, s, FLOW_TCP_SYN, 1 * NS, NULL);
	assert_int_equal(flow_state_get(flow), FLOW_STATE_NEW);
	packet(ft, IPPROTO_TCP, c, s, FLOW_TCP_ACK, 2 * NS, NULL);
	assert_int_equal(flow_state_get(flow), FLOW_STATE_NEW);
	packet(ft, IPPROTO_TCP, s, c, FLOW_TCP_SYN | FLOW_TCP_ACK, 3 * NS, NULL);
	assert_int_equal(flow_state_get(flow), FLOW_STATE_ESTABLISHED);
	packet(ft, IPPROTO_TCP, s, c, FLOW_TCP_FIN | FLOW_TCP_ACK, 4 * NS, NULL);
	assert_int_equal(flow_state_get(flow), FLOW_STATE_CLOSING);
	/* no way back from closing */
	packet(ft, IPPROTO_TCP, c, s, FLOW_TCP_ACK, 5 * NS, NULL);
	assert_int_equal(flow_state_get(flow), FLOW_STATE_CLOSING);

	flow_counters_get(flow, &cnt);
	assert_int_equal(cnt.packets[FLOW_DIR_ORIG], 3);
	assert_int_equal(cnt.packets[FLOW_DIR_REPLY], 2);
	assert_int_equal(cnt.bytes[FLOW_DIR_ORIG], 300);
	assert_int_equal(cnt.first_ns, 1 * NS);
	assert_int_equal(cnt.last_ns, 5 * NS);
	/* an older clock never moves last seen back */
	flow_update(flow, FLOW_DIR_ORIG, 1, 0, 2 * NS);
	flow_counters_get(flow, &cnt);
	assert_int_equal(cnt.last_ns, 5 * NS);
	flowtable_free(ft);
}

static void test_decision(void **state)
{
	struct endpoint a = ep("10.0.0.1", 1), b = ep("10.0.0.2", 2);
	struct flowtable *ft = table_new(16);
	uint32_t verdict = 0, mark = 0;
	struct flow *flow;

	flow = packet(ft, IPPROTO_UDP, a, b, 0, NS, NULL);
	assert_int_equal(flow_decision_get(ft, flow, &verdict, &mark), -ENOENT);
	flow_decision_set(ft, flow, 0xdeadbeef, 0xcafe);
	assert_int_equal(flow_decision_get(ft, flow, &verdict, &mark), 0);
	assert_int_equal(verdict, 0xdeadbeef);
	assert_int_equal(mark, 0xcafe);
	assert_int_equal(flow_decision_get(ft, flow, NULL, NULL), 0);

	flowtable_decision_flush(ft);
	verdict = 7;
	assert_int_equal(flow_decision_get(ft, flow, &verdict, &mark), -ENOENT);
	assert_int_equal(verdict, 7);
	flow_decision_set(ft, flow, 1, 2);
	assert_int_equal(flow_decision_get(ft, flow, &verdict, &mark), 0);
	assert_int_equal(verdict, 1);
	assert_int_equal(mark, 2);
	flowtable_free(ft);
}

/* user flags: set once, reported by the one call that set them, kept
 * across a decision flush */
static void test_flags(void **state)
{
	struct endpoint a = ep("10.0.0.1", 1), b = ep("10.0.0.2", 2);
	struct flowtable *ft = table_new(16);
	struct flow *flow, *other;

	flow = packet(ft, IPPROTO_UDP, a, b, 0, NS, NULL);
	other = packet(ft, IPPROTO_UDP, a, ep("10.0.0.3", 2), 0, NS, NULL);
	assert_int_equal(flow_flags_get(flow), 0);
	assert_int_equal(flow_flags_set(flow, 0x1), 0);
	assert_int_equal(flow_flags_set(flow, 0x1), 0x1);
	assert_int_equal(flow_flags_set(flow, 0x3), 0x1);
	assert_int_equal(flow_flags_get(flow), 0x3);
	flowtable_decision_flush(ft);
	assert_int_equal(flow_flags_get(flow), 0x3);
	/* the reply direction finds the same record and its flags */
	assert_ptr_equal(packet(ft, IPPROTO_UDP, b, a, 0, NS, NULL), flow);
	assert_int_equal(flow_flags_set(flow, 0x1), 0x3);
	assert_int_equal(flow_flags_get(other), 0);
	flowtable_free(ft);
}

static int slots_freed;

static void slot_free(void *slot, void *arg)
{
	assert_ptr_equal(arg, &slots_freed);
	__atomic_fetch_add(&slots_freed, 1, __ATOMIC_RELAXED);
	free(slot);
}

static void test_slot_and_del(void **state)
{
	struct endpoint a = ep("10.0.0.1", 1), b = ep("10.0.0.2", 2);
	struct flowtable_params params;
	struct flow *flow, *other;
	struct flowtable *ft;
	struct flow_key key;
	void *slot;
	int side;

	flowtable_params_init(&params);
	params.flow_max = 16;
	params.slot_free = slot_free;
	params.slot_free_arg = &slots_freed;
	ft = flowtable_new(&params);
	assert_non_null(ft);
	slots_freed = 0;

	flow = packet(ft, IPPROTO_UDP, a, b, 0, NS, NULL);
	assert_null(flow_slot_get(flow));
	slot = malloc(8);
	assert_int_equal(flow_slot_set(flow, slot), 0);
	assert_ptr_equal(flow_slot_get(flow), slot);
	assert_int_equal(flow_slot_set(flow, &side), -EBUSY);

	assert_int_equal(flowtable_del(ft, flow), 0);
	assert_int_equal(flowtable_del(ft, flow), -ENOENT);
	key = key_of(IPPROTO_UDP, a, b, 0, &side);
	errno = 0;
	assert_null(flowtable_lookup(ft, &key, side, NULL));
	assert_int_equal(errno, ENOENT);
	rcu_barrier();
	assert_int_equal(__atomic_load_n(&slots_freed, __ATOMIC_RELAXED), 1);
	assert_int_equal(stats_of(ft).deleted, 1);
	assert_int_equal(stats_of(ft).live, 0);

	/* slots of flows still present are freed by flowtable_free() */
	other = packet(ft, IPPROTO_UDP, b, a, 0, NS, NULL);
	assert_int_equal(flow_slot_set(other, malloc(8)), 0);
	flowtable_free(ft);
	assert_int_equal(__atomic_load_n(&slots_freed, __ATOMIC_RELAXED), 2);
}

static void test_ageing(void **state)
{
	struct endpoint a = ep("10.0.0.1", 1), b = ep("10.0.0.2", 2);
	struct endpoint c = ep("10.0.0.3", 3);
	struct flowtable *ft = table_new(64);
	struct flow_key key;
	int side;

	/* t=0: TCP syn only (new, 30 s), UDP both ways (est, 120 s), ICMP */
	packet(ft, IPPROTO_TCP, a, b, FLOW_TCP_SYN, 0, NULL);
	packet(ft, IPPROTO_UDP, a, b, 0, 0, NULL);
	packet(ft, IPPROTO_UDP, b, a, 0, 0, NULL);
	packet(ft, IPPROTO_ICMP, a, c, 0, 0, NULL);
	/* TCP closing (10 s) */
	packet(ft, IPPROTO_TCP, a, c, FLOW_TCP_SYN, 0, NULL);
	packet(ft, IPPROTO_TCP, c, a, FLOW_TCP_RST, 0, NULL);
	assert_int_equal(stats_of(ft).live, 4);

	assert_int_equal(flowtable_reap(ft, 9 * NS, 1000), 0);
	assert_int_equal(flowtable_reap(ft, 10 * NS, 1000), 1);
	assert_int_equal(flowtable_reap(ft, 29 * NS, 1000), 0);
	/* tcp new and icmp */
	assert_int_equal(flowtable_reap(ft, 30 * NS, 1000), 2);
	key = key_of(IPPROTO_UDP, a, b, 0, &side);
	assert_non_null(flowtable_lookup(ft, &key, side, NULL));
	/* a packet at 100 s keeps the UDP flow alive until 220 s */
	packet(ft, IPPROTO_UDP, a, b, 0, 100 * NS, NULL);
	assert_int_equal(flowtable_reap(ft, 219 * NS, 1000), 0);
	assert_int_equal(flowtable_reap(ft, 220 * NS, 1000), 1);
	assert_int_equal(stats_of(ft).live, 0);
	assert_int_equal(stats_of(ft).expired, 4);
	flowtable_free(ft);
}

static void insert_n(struct flowtable *ft, uint8_t proto, unsigned int first,
		     unsigned int n, uint64_t now_ns)
{
	struct endpoint a = ep("10.0.0.1", 0), b = ep("10.0.0.2", 80);

	for (unsigned int i = first; i < first + n; i++) {
		a.port = i & 0xffff;
		a.addr[2] = i >> 16;
		assert_non_null(packet(ft, proto, a, b, 0, now_ns, NULL));
	}
}

static void test_reap_budget(void **state)
{
	struct flowtable *ft = table_new(1024);
	int total = 0, n;

	insert_n(ft, IPPROTO_UDP, 0, 100, 0);
	/* half of them are refreshed and stay */
	insert_n(ft, IPPROTO_UDP, 0, 50, 20 * NS);
	for (int i = 0; i < 20; i++) {
		n = flowtable_reap(ft, 40 * NS, 10);
		assert_in_range(n, 0, 10);
		total += n;
		rcu_quiescent_state();
	}
	assert_int_equal(total, 50);
	assert_int_equal(stats_of(ft).live, 50);
	assert_int_equal(flowtable_reap(ft, 40 * NS, 0), 0);
	flowtable_free(ft);
}

static void test_cap(void **state)
{
	struct endpoint a = ep("10.0.0.1", 1), b = ep("10.0.0.2", 2);
	struct flowtable *ft = table_new(16);
	struct flowtable_stats st;
	struct flow_key key;
	int side;

	insert_n(ft, IPPROTO_TCP, 0, 16, NS);
	assert_int_equal(stats_of(ft).live, 16);
	key = key_of(IPPROTO_TCP, a, b, 0, &side);
	errno = 0;
	assert_null(flowtable_lookup_or_add(ft, &key, side, NS, NULL, NULL));
	assert_int_equal(errno, ENOSPC);
	st = stats_of(ft);
	assert_int_equal(st.full, 1);
	/* the full insert evicted a batch: never above the cap */
	assert_true(st.live <= 16);
	assert_int_equal(st.live, 16 - st.evicted);
	assert_int_equal(st.evicted, 8);
	/* the evicted room takes the next new flow */
	assert_non_null(flowtable_lookup_or_add(ft, &key, side, NS, NULL,
						NULL));
	flowtable_free(ft);
}

static void test_eviction_prefers_new(void **state)
{
	struct flowtable *ft = table_new(64);
	struct endpoint a = ep("10.0.0.1", 0), b = ep("10.0.0.2", 80);
	struct flowtable_stats st;
	struct flow_key key;
	struct flow *flow;
	int side;

	/* 32 established flows, seen last at 50 s */
	for (int i = 0; i < 32; i++) {
		a.port = i;
		packet(ft, IPPROTO_TCP, a, b, 0, NS, NULL);
		packet(ft, IPPROTO_TCP, b, a, 0, 50 * NS, NULL);
	}
	/* 32 one-packet flows seen later, at 60 s */
	insert_n(ft, IPPROTO_TCP, 1000, 32, 60 * NS);
	/* flood: each full insert evicts, only new flows may go */
	for (int i = 0; i < 12; i++) {
		a.port = 5000 + i;
		key = key_of(IPPROTO_TCP, a, b, 0, &side);
		flowtable_lookup_or_add(ft, &key, side, 61 * NS, NULL, NULL);
		rcu_quiescent_state();
	}
	st = stats_of(ft);
	assert_true(st.evicted >= 8);
	assert_true(st.live <= 64);
	for (int i = 0; i < 32; i++) {
		a.port = i;
		key = key_of(IPPROTO_TCP, a, b, 0, &side);
		flow = flowtable_lookup(ft, &key, side, NULL);
		assert_non_null(flow);
		assert_int_equal(flow_state_get(flow), FLOW_STATE_ESTABLISHED);
	}
	flowtable_free(ft);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NS + ts.tv_nsec;
}

static void test_flood(void **state)
{
	const unsigned int cap = 10000, tuples = 1000000;
	struct endpoint a = ep("10.0.0.1", 0), b = ep("10.0.0.2", 80);
	struct flowtable *ft = table_new(cap);
	uint64_t start = mono_ns(), max_records = 0;
	struct flowtable_stats st;
	struct flow_key key;
	unsigned int stored = 0;
	int side;

	for (unsigned int i = 0; i < tuples; i++) {
		a.port = i & 0xffff;
		memcpy(&a.addr[1], &i, 3);
		key = key_of(IPPROTO_UDP, a, b, 0, &side);
		if (flowtable_lookup_or_add(ft, &key, side, i, NULL, NULL))
			stored++;
		if (i % 1024)
			continue;
		/* one burst: quiescent state, check the bounds */
		rcu_quiescent_state();
		st = stats_of(ft);
		assert_true(st.live <= cap);
		if (st.records > max_records)
			max_records = st.records;
	}
	st = stats_of(ft);
	assert_true(st.live <= cap);
	assert_true(st.full > 0);
	assert_true(st.evicted > 0);
	assert_int_equal(st.created, stored);
	assert_int_equal(st.live, st.created - st.evicted - st.expired);
	/* memory: records waiting for a grace period stay a few bursts */
	assert_true(max_records <= cap + cap / 8);
	/* bounded work: 60 s is far above any sane run, even sanitized */
	assert_true(mono_ns() - start < 60 * NS);
	rcu_barrier();
	assert_int_equal(stats_of(ft).records, stats_of(ft).live);
	flowtable_free(ft);
}

static int by_packets(struct flow *flow, void *arg)
{
	(*(size_t *)arg)++;
	return 0;
}

static void test_top_and_walk(void **state)
{
	struct endpoint a = ep("10.0.0.1", 0), b = ep("10.0.0.2", 80);
	struct flowtable *ft = table_new(64);
	struct flow_counters cnt;
	struct flow *top[4];
	size_t seen = 0;

	/* flow i gets i packets */
	for (int i = 1; i <= 20; i++) {
		a.port = i;
		for (int p = 0; p < i; p++)
			packet(ft, IPPROTO_UDP, a, b, 0, NS, NULL);
	}
	assert_int_equal(flowtable_top(ft, top, 4), 4);
	for (int i = 0; i < 4; i++) {
		flow_counters_get(top[i], &cnt);
		assert_int_equal(cnt.packets[0] + cnt.packets[1], 20 - i);
	}
	assert_int_equal(flowtable_top(ft, top, 0), 0);
	assert_int_equal(flowtable_walk(ft, by_packets, &seen), 20);
	assert_int_equal(seen, 20);
	flowtable_free(ft);

	ft = table_new(64);
	assert_int_equal(flowtable_top(ft, top, 4), 0);
	flowtable_free(ft);
}

#define RACE_KEYS	64
#define RACE_ROUNDS	4000

struct race {
	struct flowtable *ft;
	struct flow_key keys[RACE_KEYS];
	int sides[RACE_KEYS];
	struct flow *got[2][RACE_KEYS];
	unsigned int arrived;
	unsigned int round;
	unsigned int rounds;
};

/* spin barrier for two threads */
static void race_wait(struct race *r, unsigned int round)
{
	__atomic_fetch_add(&r->arrived, 1, __ATOMIC_ACQ_REL);
	while (__atomic_load_n(&r->arrived, __ATOMIC_ACQUIRE) < 2 * round)
		;
}

struct race_arg {
	struct race *race;
	int id;
};

static void *race_thread(void *p)
{
	struct race_arg *arg = p;
	struct race *r = arg->race;

	rcu_register_thread();
	for (unsigned int round = 1; round <= r->rounds; round++) {
		race_wait(r, round);
		for (int k = 0; k < RACE_KEYS; k++)
			arg->race->got[arg->id][k] = flowtable_lookup_or_add(
				r->ft, &r->keys[k], r->sides[k], round,
				NULL, NULL);
		race_wait(r, round + r->rounds);
		rcu_quiescent_state();
	}
	rcu_unregister_thread();
	return NULL;
}

static int count_cb(struct flow *flow, void *arg)
{
	return 0;
}

static void test_insert_race(void **state)
{
	/* valgrind runs one thread at a time: no race can be forced */
	if (getenv("NFQE_VALGRIND"))
		skip();

	struct endpoint a = ep("10.0.0.1", 0), b = ep("10.0.0.2", 80);
	struct race *r = calloc(1, sizeof(*r));
	struct race_arg args[2];
	pthread_t tids[2];
	uint64_t races = 0;

	assert_non_null(r);
	/* room for both racers' transient reservations: no "full" */
	r->ft = table_new(2 * RACE_KEYS);
	r->rounds = 1;
	for (int k = 0; k < RACE_KEYS; k++) {
		a.port = k;
		r->keys[k] = key_of(IPPROTO_TCP, a, b, 0, &r->sides[k]);
	}
	/* every round inserts the same keys from both threads at once */
	for (int attempt = 0; attempt < RACE_ROUNDS && !races; attempt++) {
		r->arrived = 0;
		rcu_thread_offline();
		for (int t = 0; t < 2; t++) {
			args[t] = (struct race_arg) { .race = r, .id = t };
			assert_int_equal(pthread_create(&tids[t], NULL,
							race_thread, &args[t]), 0);
		}
		for (int t = 0; t < 2; t++)
			pthread_join(tids[t], NULL);
		rcu_thread_online();
		for (int k = 0; k < RACE_KEYS; k++) {
			assert_non_null(r->got[0][k]);
			assert_ptr_equal(r->got[0][k], r->got[1][k]);
		}
		assert_int_equal(stats_of(r->ft).live, RACE_KEYS);
		assert_int_equal(flowtable_walk(r->ft, count_cb, NULL),
				 RACE_KEYS);
		races = stats_of(r->ft).races_lost;
		for (int k = 0; k < RACE_KEYS; k++)
			assert_int_equal(flowtable_del(r->ft, r->got[0][k]), 0);
		/* the freed records must not count against the next round */
		rcu_barrier();
	}
	assert_true(races > 0);
	assert_int_equal(stats_of(r->ft).full, 0);
	flowtable_free(r->ft);
	free(r);
}

static void test_params(void **state)
{
	struct flowtable_params params;
	struct flowtable *ft;

	flowtable_params_init(&params);
	params.flow_max = 0;
	errno = 0;
	assert_null(flowtable_new(&params));
	assert_int_equal(errno, EINVAL);
	flowtable_params_init(&params);
	params.buckets = 3;
	assert_null(flowtable_new(&params));
	flowtable_params_init(&params);
	params.udp_new_s = 0;
	assert_null(flowtable_new(&params));
	flowtable_free(NULL);
	/* a small initial table grows by itself */
	flowtable_params_init(&params);
	params.flow_max = 4096;
	params.buckets = 1;
	ft = flowtable_new(&params);
	assert_non_null(ft);
	insert_n(ft, IPPROTO_UDP, 0, 4096, NS);
	assert_int_equal(stats_of(ft).live, 4096);
	flowtable_free(ft);
}

/* wait until the queued resize (a call_rcu callback) has run */
static uint64_t buckets_settled(struct flowtable *ft)
{
	rcu_thread_offline();
	rcu_barrier();
	rcu_thread_online();
	ft_tsan_acquire();
	return __atomic_load_n(&ft->buckets, __ATOMIC_RELAXED);
}

static void test_buckets_follow_flows(void **state)
{
	struct endpoint a = ep("10.0.0.1", 0), b = ep("10.0.0.2", 80);
	struct flowtable_params params;
	struct flowtable *ft;
	struct flow_key key;
	struct flow *flow;
	int side;

	flowtable_params_init(&params);
	params.flow_max = 1u << 14;
	params.buckets = 64;
	params.seed = 0x1234;
	ft = flowtable_new(&params);
	assert_non_null(ft);
	assert_int_equal(buckets_settled(ft), 64);
	/* one bucket per flow, not liburcu's eight */
	insert_n(ft, IPPROTO_UDP, 0, 5000, NS);
	assert_int_equal(buckets_settled(ft), 8192);
	/* capped at flow_max rounded up */
	insert_n(ft, IPPROTO_UDP, 5000, 11384, NS);
	assert_int_equal(stats_of(ft).live, 1u << 14);
	assert_int_equal(buckets_settled(ft), 1u << 14);
	/* every flow still found after the resizes */
	for (unsigned int i = 0; i < 1u << 14; i += 97) {
		a.port = i & 0xffff;
		a.addr[2] = i >> 16;
		key = key_of(IPPROTO_UDP, a, b, 0, &side);
		assert_non_null(flowtable_lookup(ft, &key, side, NULL));
	}
	/* mostly idle: the reaper shrinks it back, not below the start */
	for (unsigned int i = 100; i < 1u << 14; i++) {
		a.port = i & 0xffff;
		a.addr[2] = i >> 16;
		key = key_of(IPPROTO_UDP, a, b, 0, &side);
		flow = flowtable_lookup(ft, &key, side, NULL);
		assert_non_null(flow);
		assert_int_equal(flowtable_del(ft, flow), 0);
	}
	flowtable_reap(ft, NS, 1);
	assert_int_equal(buckets_settled(ft), 128);
	assert_int_equal(stats_of(ft).live, 100);
	flowtable_free(ft);
}

static void test_lookup_burst(void **state)
{
	struct endpoint a = ep("10.0.0.1", 0), b = ep("10.0.0.2", 80);
	struct flowtable *ft = table_new(4096);
	struct flow_key keys[37];
	struct flow *flows[37];
	int sides[37], dirs[37], dir;
	unsigned int found = 0;

	insert_n(ft, IPPROTO_UDP, 0, 1000, NS);
	/* from both sides, present and absent keys, not a multiple of 16 */
	for (unsigned int i = 0; i < 37; i++) {
		a.port = i * 53 & 0xffff;
		a.addr[2] = 0;
		if (i % 2)
			keys[i] = key_of(IPPROTO_UDP, b, a, 0, &sides[i]);
		else
			keys[i] = key_of(IPPROTO_UDP, a, b, 0, &sides[i]);
		found += i * 53 < 1000;
	}
	memset(flows, 0xa5, sizeof(flows));
	/* twice: cold, then with the prefetch hints set */
	for (int pass = 0; pass < 2; pass++) {
		assert_int_equal(flowtable_lookup_burst(ft, keys, sides, 37,
							flows, dirs), found);
		for (unsigned int i = 0; i < 37; i++) {
			struct flow *one = flowtable_lookup(ft, &keys[i],
							    sides[i], &dir);

			assert_ptr_equal(flows[i], one);
			if (one)
				assert_int_equal(dirs[i], dir);
			if (one)
				assert_int_equal(dir, i % 2 ? FLOW_DIR_REPLY :
							      FLOW_DIR_ORIG);
		}
	}
	assert_int_equal(flowtable_lookup_burst(ft, keys, sides, 0, flows,
						NULL), 0);
	assert_int_equal(flowtable_lookup_burst(ft, keys, sides, 37, flows,
						NULL), found);
	/* a deleted flow is not found through its stale hint */
	assert_non_null(flows[0]);
	assert_int_equal(flowtable_del(ft, flows[0]), 0);
	assert_int_equal(flowtable_lookup_burst(ft, keys, sides, 1, flows,
						NULL), 0);
	assert_null(flows[0]);
	flowtable_free(ft);
}

static int group_setup(void **state)
{
	rcu_register_thread();
	return 0;
}

static int group_teardown(void **state)
{
	rcu_unregister_thread();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_tcp),
		cmocka_unit_test(test_key_udp),
		cmocka_unit_test(test_key_icmp_echo),
		cmocka_unit_test(test_key_icmpv6_echo),
		cmocka_unit_test(test_key_other_proto),
		cmocka_unit_test(test_key_zone_and_errors),
		cmocka_unit_test(test_hash_seed),
		cmocka_unit_test(test_tuple),
		cmocka_unit_test(test_state_and_counters),
		cmocka_unit_test(test_decision),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_slot_and_del),
		cmocka_unit_test(test_ageing),
		cmocka_unit_test(test_reap_budget),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_eviction_prefers_new),
		cmocka_unit_test(test_flood),
		cmocka_unit_test(test_top_and_walk),
		cmocka_unit_test(test_insert_race),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_buckets_follow_flows),
		cmocka_unit_test(test_lookup_burst),
	};

	return cmocka_run_group_tests_name("flowtable", tests, group_setup,
					   group_teardown);
}
