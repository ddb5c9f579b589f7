/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests for offload: the [offload] keys, the ipset netlink messages
 * (byte for byte, and walked with libmnl the way the kernel's policies
 * read them), the conntrack-glue verdict, the forward-mode verdict with
 * depth and loop detection, distinct flows against bypasses, and the
 * rules `nfqe rules --offload` prints.
 * No privileges needed: nothing here talks to the kernel except the glue
 * probe offload_new() makes (its answer is only logged).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <urcu-qsbr.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/netfilter/ipset/ip_set.h>

#include "ctglue.h"
#include "engine.h"
#include "flowtable.h"
#include "offload.h"
#include "worker.h"

static char err[2048];

static void test_config_keys(void **state)
{
	struct offload_config c;

	offload_config_defaults(&c);
	assert_false(c.enable);
	assert_int_equal(c.mark, 0x40000000);
	assert_int_equal(c.mask, 0);
	assert_string_equal(c.set_name, "nfqe_offload");
	assert_int_equal(c.set_timeout, 60);
	assert_int_equal(c.depth, 1);

#define KEY(n, v) offload_config_key(&c, "offload", n, v, err, sizeof(err))
	assert_int_equal(KEY("enable", "yes"), 0);
	assert_true(c.enable);
	assert_int_equal(KEY("enable", "off"), 0);
	assert_false(c.enable);
	assert_int_equal(KEY("mark", "0x100"), 0);
	assert_int_equal(KEY("mask", "0xf00"), 0);
	assert_int_equal(c.mark, 0x100);
	assert_int_equal(c.mask, 0xf00);
	assert_int_equal(KEY("set_name", "acc.el-1_x"), 0);
	assert_string_equal(c.set_name, "acc.el-1_x");
	assert_int_equal(KEY("set_timeout", "2147483"), 0);
	assert_int_equal(KEY("depth", "65535"), 0);
	assert_int_equal(offload_config_check(&c, err, sizeof(err)), 0);

	assert_int_equal(KEY("enable", "maybe"), -1);
	assert_non_null(strstr(err, "enable"));
	assert_int_equal(KEY("mark", "0"), -1);
	assert_int_equal(KEY("mark", "0x100000000"), -1);
	assert_int_equal(KEY("mark", "-1"), -1);
	assert_int_equal(KEY("set_name", ""), -1);
	assert_int_equal(KEY("set_name", "with space"), -1);
	assert_int_equal(KEY("set_name", "a234567890123456789012345678x"), -1);
	assert_int_equal(KEY("set_timeout", "0"), -1);
	assert_int_equal(KEY("set_timeout", "2147484"), -1);
	assert_int_equal(KEY("depth", "0"), -1);
	assert_int_equal(KEY("depth", "65536"), -1);
	assert_int_equal(KEY("nope", "1"), -1);
	assert_non_null(strstr(err, "unknown key 'nope' in [offload]"));
	/* unchanged by the failures */
	assert_string_equal(c.set_name, "acc.el-1_x");
	assert_int_equal(c.depth, 65535);

	assert_int_equal(KEY("mark", "0x1100"), 0);
	assert_int_equal(offload_config_check(&c, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "outside mask"));
#undef KEY
}

static void test_config_file(void **state)
{
	char path[] = "/tmp/nfqe-test-offload.XXXXXX";
	struct offload_config oc;
	struct nfqe_config cfg;
	const struct config_section_parser p = {
		"offload", false, offload_config_key, &oc };
	FILE *f;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs("[engine]\nmode = raw\n[offload]\nenable = yes\n"
	      "set_timeout = 30\ndepth = 4\nbogus = 1\n", f);
	fclose(f);
	config_defaults(&cfg);
	offload_config_defaults(&oc);
	assert_int_equal(config_load_ext(path, &cfg, &p, 1, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, ":7: unknown key 'bogus'"));
	assert_true(oc.enable);
	assert_int_equal(oc.set_timeout, 30);
	assert_int_equal(oc.depth, 4);
	assert_int_equal(cfg.mode, MODE_RAW);
	unlink(path);
}

static void test_set_names(void **state)
{
	struct offload_config c;
	char n[64];

	offload_config_defaults(&c);
	offload_set_name(&c, AF_INET, 's', n, sizeof(n));
	assert_string_equal(n, "nfqe_offload-4s");
	offload_set_name(&c, AF_INET6, 'd', n, sizeof(n));
	assert_string_equal(n, "nfqe_offload-6d");
	/* the longest prefix still fits IPSET_MAXNAMELEN */
	memset(c.set_name, 'x', OFFLOAD_SET_NAME_MAX);
	c.set_name[OFFLOAD_SET_NAME_MAX] = '\0';
	offload_set_name(&c, AF_INET6, 'd', n, sizeof(n));
	assert_int_equal(strlen(n), IPSET_MAXNAMELEN - 1);
}

/* IPSET_CMD_ADD of (10.0.0.1, udp:53, 10.0.0.2), timeout 60, seq
 * 0x01020304, written out from include/uapi/linux/netfilter/ipset/ip_set.h
 * and the kernel's hash:ip,port,ip uadt (IP/IP2 nested with
 * NLA_F_NESTED, address, port and timeout with NLA_F_NET_BYTEORDER). */
static const uint8_t add4[] = {
	92, 0, 0, 0,			/* nlmsg_len */
	0x09, 0x06,			/* IPSET << 8 | IPSET_CMD_ADD */
	0x01, 0x00,			/* NLM_F_REQUEST only */
	0x04, 0x03, 0x02, 0x01,		/* seq */
	0, 0, 0, 0,			/* portid */
	AF_INET, NFNETLINK_V0, 0, 0,	/* nfgenmsg */
	5, 0, 1, 0, 7, 0, 0, 0,		/* PROTOCOL 7 */
	9, 0, 2, 0, 't', '-', '4', 's', 0, 0, 0, 0,	/* SETNAME "t-4s" */
	52, 0, 0x07, 0x80,		/* DATA, nested */
	12, 0, 0x01, 0x80,		/*  IP, nested */
	8, 0, 0x01, 0x40, 10, 0, 0, 1,	/*   IPADDR_IPV4, net order */
	6, 0, 0x04, 0x40, 0, 53, 0, 0,	/*  PORT 53, net order */
	5, 0, 0x07, 0x00, IPPROTO_UDP, 0, 0, 0,	/*  PROTO */
	12, 0, 0x14, 0x80,		/*  IP2 (20), nested */
	8, 0, 0x01, 0x40, 10, 0, 0, 2,	/*   IPADDR_IPV4 */
	8, 0, 0x06, 0x40, 0, 0, 0, 60,	/*  TIMEOUT 60, net order */
};

static void test_msg_add4_bytes(void **state)
{
	uint8_t buf[OFFLOAD_MSG_MAX];
	struct in_addr a, b;
	int len;

	inet_pton(AF_INET, "10.0.0.1", &a);
	inet_pton(AF_INET, "10.0.0.2", &b);
	len = offload_msg_adt(buf, sizeof(buf), 7, IPSET_CMD_ADD, "t-4s",
			      AF_INET, &a, IPPROTO_UDP, 53, &b, 60,
			      0x01020304);
	assert_int_equal(len, sizeof(add4));
	assert_memory_equal(buf, add4, sizeof(add4));
	/* DEL: the same element, no timeout */
	len = offload_msg_adt(buf, sizeof(buf), 7, IPSET_CMD_DEL, "t-4s",
			      AF_INET, &a, IPPROTO_UDP, 53, &b, 60, 1);
	assert_int_equal(len, sizeof(add4) - 8);
	assert_int_equal(((struct nlmsghdr *)buf)->nlmsg_type,
			 NFNL_SUBSYS_IPSET << 8 | IPSET_CMD_DEL);
}

struct walk {
	const struct nlattr	*tb[IPSET_ATTR_ADT_MAX + 1];
};

static int walk_cb(const struct nlattr *a, void *data)
{
	struct walk *w = data;
	uint16_t type = mnl_attr_get_type(a);

	assert_true(type <= IPSET_ATTR_ADT_MAX);
	assert_null(w->tb[type]);	/* every attribute once */
	w->tb[type] = a;
	return MNL_CB_OK;
}

static void test_msg_add6_walk(void **state)
{
	uint8_t buf[OFFLOAD_MSG_MAX];
	struct in6_addr a, b;
	struct walk top = { 0 }, data = { 0 }, ip = { 0 };
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
	int len;

	inet_pton(AF_INET6, "2001:db8::1", &a);
	inet_pton(AF_INET6, "2001:db8::2", &b);
	len = offload_msg_adt(buf, sizeof(buf), 6, IPSET_CMD_ADD, "x-6d",
			      AF_INET6, &a, IPPROTO_TCP, 443, &b, 5, 9);
	assert_true(len > 0 && mnl_nlmsg_ok(nlh, len));
	assert_int_equal(nlh->nlmsg_flags, NLM_F_REQUEST);
	assert_int_equal(mnl_attr_parse(nlh, sizeof(struct nfgenmsg), walk_cb,
					&top), MNL_CB_OK);
	assert_int_equal(mnl_attr_get_u8(top.tb[IPSET_ATTR_PROTOCOL]), 6);
	assert_string_equal(mnl_attr_get_str(top.tb[IPSET_ATTR_SETNAME]),
			    "x-6d");
	assert_true(top.tb[IPSET_ATTR_DATA]->nla_type & NLA_F_NESTED);
	mnl_attr_parse_nested(top.tb[IPSET_ATTR_DATA], walk_cb, &data);
	assert_true(data.tb[IPSET_ATTR_PORT]->nla_type & NLA_F_NET_BYTEORDER);
	assert_int_equal(ntohs(mnl_attr_get_u16(data.tb[IPSET_ATTR_PORT])),
			 443);
	assert_int_equal(mnl_attr_get_u8(data.tb[IPSET_ATTR_PROTO]),
			 IPPROTO_TCP);
	assert_true(data.tb[IPSET_ATTR_TIMEOUT]->nla_type &
		    NLA_F_NET_BYTEORDER);
	assert_int_equal(ntohl(mnl_attr_get_u32(data.tb[IPSET_ATTR_TIMEOUT])),
			 5);
	assert_true(data.tb[IPSET_ATTR_IP2]->nla_type & NLA_F_NESTED);
	mnl_attr_parse_nested(data.tb[IPSET_ATTR_IP2], walk_cb, &ip);
	assert_null(ip.tb[IPSET_ATTR_IPADDR_IPV4]);
	assert_true(ip.tb[IPSET_ATTR_IPADDR_IPV6]->nla_type &
		    NLA_F_NET_BYTEORDER);
	assert_int_equal(mnl_attr_get_payload_len(
				ip.tb[IPSET_ATTR_IPADDR_IPV6]), 16);
	assert_memory_equal(mnl_attr_get_payload(
				ip.tb[IPSET_ATTR_IPADDR_IPV6]), &b, 16);
}

static void test_msg_create(void **state)
{
	uint8_t buf[OFFLOAD_MSG_MAX];
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
	struct walk top = { 0 }, data = { 0 };
	int len;

	len = offload_msg_create(buf, sizeof(buf), 7, "nfqe_offload-6s",
				 AF_INET6, 60, 262144, 3);
	assert_true(len > 0 && mnl_nlmsg_ok(nlh, len));
	assert_int_equal(nlh->nlmsg_type,
			 NFNL_SUBSYS_IPSET << 8 | IPSET_CMD_CREATE);
	/* an identical set is taken over: no NLM_F_EXCL */
	assert_int_equal(nlh->nlmsg_flags, NLM_F_REQUEST | NLM_F_ACK);
	mnl_attr_parse(nlh, sizeof(struct nfgenmsg), walk_cb, &top);
	assert_string_equal(mnl_attr_get_str(top.tb[IPSET_ATTR_SETNAME]),
			    "nfqe_offload-6s");
	assert_string_equal(mnl_attr_get_str(top.tb[IPSET_ATTR_TYPENAME]),
			    "hash:ip,port,ip");
	assert_int_equal(mnl_attr_get_u8(top.tb[IPSET_ATTR_FAMILY]),
			 NFPROTO_IPV6);
	assert_int_equal(mnl_attr_get_u8(top.tb[IPSET_ATTR_REVISION]), 1);
	mnl_attr_parse_nested(top.tb[IPSET_ATTR_DATA], walk_cb, &data);
	assert_int_equal(ntohl(mnl_attr_get_u32(data.tb[IPSET_ATTR_TIMEOUT])),
			 60);
	assert_int_equal(ntohl(mnl_attr_get_u32(data.tb[IPSET_ATTR_MAXELEM])),
			 262144);
	assert_true(data.tb[IPSET_ATTR_MAXELEM]->nla_type &
		    NLA_F_NET_BYTEORDER);

	len = offload_msg_set_cmd(buf, sizeof(buf), 7, IPSET_CMD_DESTROY,
				  "nfqe_offload-6s", 4);
	assert_int_equal(len, 16 + 4 + 8 + 20);
	assert_int_equal(nlh->nlmsg_type,
			 NFNL_SUBSYS_IPSET << 8 | IPSET_CMD_DESTROY);
	len = offload_msg_protocol(buf, sizeof(buf), 5);
	assert_int_equal(len, 16 + 4 + 8);

	/* too small a buffer, too long a name */
	assert_int_equal(offload_msg_protocol(buf, 16, 1), -ENOSPC);
	assert_int_equal(offload_msg_set_cmd(buf, sizeof(buf), 7,
			 IPSET_CMD_FLUSH, "0123456789012345678901234567890123",
			 1), -ENOSPC);
}

/* NFQNL_MSG_VERDICT for queue 3, id 42, NF_ACCEPT, mark 0x11, connmark
 * 0x40000000/0x40000000 */
static const uint8_t ctverdict[] = {
	60, 0, 0, 0,
	0x01, 0x03,			/* QUEUE << 8 | NFQNL_MSG_VERDICT */
	0x01, 0x00,			/* NLM_F_REQUEST */
	7, 0, 0, 0,			/* seq */
	0, 0, 0, 0,
	AF_UNSPEC, NFNETLINK_V0, 0, 3,	/* res_id = queue, network order */
	12, 0, NFQA_VERDICT_HDR, 0, 0, 0, 0, 1, 0, 0, 0, 42,
	8, 0, NFQA_MARK, 0, 0, 0, 0, 0x11,
	20, 0, NFQA_CT, 0x80,		/* nested */
	8, 0, CTA_MARK, 0, 0x40, 0, 0, 0,
	8, 0, CTA_MARK_MASK, 0, 0x40, 0, 0, 0,
};

static void test_ctglue_verdict(void **state)
{
	uint8_t buf[CTGLUE_VERDICT_MAX];
	int len;

	len = ctglue_verdict_build(buf, sizeof(buf), 3, 42, NF_ACCEPT, true,
				   0x11, 0x40000000, 0x40000000, 7);
	assert_int_equal(len, sizeof(ctverdict));
	assert_memory_equal(buf, ctverdict, sizeof(ctverdict));
	len = ctglue_verdict_build(buf, sizeof(buf), 3, 42, NF_ACCEPT, false,
				   0, 1, 1, 7);
	assert_int_equal(len, sizeof(ctverdict) - 8);
	assert_int_equal(ctglue_verdict_build(buf, 64, 3, 42, NF_ACCEPT,
					      false, 0, 1, 1, 7), -ENOSPC);
}

static struct flowtable *test_ft(void)
{
	struct flowtable_params p;

	flowtable_params_init(&p);
	p.flow_max = 1024;
	p.buckets = 1024;
	return flowtable_new(&p);
}

/* A UDP packet 10.1.0.1:@sport -> 10.2.0.1:9 with @mark, accounted on its
 * flow in @ft (no flow record when @ft is NULL). */
static void udp_pkt(struct flowtable *ft, struct pkt_info *pi,
		    struct nfqe_pkt *pk, uint16_t sport, uint32_t mark)
{
	struct flow_key key;
	bool created;
	int side;

	memset(pi, 0, sizeof(*pi));
	memset(pk, 0, sizeof(*pk));
	pi->family = AF_INET;
	pi->l4proto = IPPROTO_UDP;
	pi->flags = PKT_F_L4;
	pi->sport = sport;
	pi->dport = 9;
	inet_pton(AF_INET, "10.1.0.1", &pi->src.v4);
	inet_pton(AF_INET, "10.2.0.1", &pi->dst.v4);
	pk->info = pi;
	pk->mark = mark;
	pk->queue = 1;
	if (!ft)
		return;
	assert_int_equal(flow_key_make(&key, AF_INET, IPPROTO_UDP, &pi->src,
				       &pi->dst, sport, 9, 0, &side), 0);
	pk->flow = flowtable_lookup_or_add(ft, &key, side, 1, &pk->dir,
					   &created);
	assert_non_null(pk->flow);
	flow_update(pk->flow, pk->dir, 100, 0, 1);
}

static void test_forward_verdict(void **state)
{
	struct nfqe_config cfg;
	struct offload_config oc;
	struct offload_stats st;
	struct flowtable *ft;
	struct offload *o;
	struct pkt_info pi;
	struct nfqe_pkt pk;
	struct nfqe_verdict v;

	rcu_register_thread();
	ft = test_ft();
	assert_non_null(ft);
	config_defaults(&cfg);
	offload_config_defaults(&oc);
	assert_null(offload_new(&oc, &cfg, err, sizeof(err)));	/* off */
	assert_int_equal(errno, 0);
	oc.enable = true;
	oc.depth = 3;
	oc.mark = 0x400;
	oc.mask = 0xf00;
	o = offload_new(&oc, &cfg, err, sizeof(err));
	assert_non_null(o);

	for (int i = 1; i <= 2; i++) {	/* below the depth */
		udp_pkt(ft, &pi, &pk, 2000, 0x105);
		v = (struct nfqe_verdict){ .verdict = NF_DROP };
		assert_false(offload_decide(o, &pk, &v));
		assert_int_equal(v.verdict, NF_ACCEPT);
		assert_false(v.set_mark);
	}
	udp_pkt(ft, &pi, &pk, 2000, 0x105);
	v = (struct nfqe_verdict){ .verdict = NF_DROP };
	assert_true(offload_decide(o, &pk, &v));
	assert_int_equal(v.verdict, NF_REPEAT);
	assert_true(v.set_mark);
	assert_int_equal(v.mark, 0x405);	/* 0x100 replaced, 0x5 kept */
	offload_stats_read(o, &st);
	assert_int_equal(st.flows, 1);
	assert_int_equal(st.bypasses, 1);

	/* queued before the bypass took effect: offloaded again, the same
	 * flow (the cached decision calls offload_flow()) */
	for (int i = 0; i < 2; i++) {
		udp_pkt(ft, &pi, &pk, 2000, 0x105);
		v = (struct nfqe_verdict){ .verdict = NF_DROP };
		offload_flow(o, &pk, &v);
		assert_int_equal(v.verdict, NF_REPEAT);
	}
	/* another flow, past the depth at once (an inspector's accept) */
	udp_pkt(ft, &pi, &pk, 2001, 0x105);
	v = (struct nfqe_verdict){ .verdict = NF_DROP };
	offload_flow(o, &pk, &v);
	assert_int_equal(v.verdict, NF_REPEAT);
	offload_stats_read(o, &st);
	assert_int_equal(st.flows, 2);
	assert_int_equal(st.bypasses, 4);
	/* no flow record: every bypass counts as a flow */
	for (int i = 0; i < 2; i++) {
		udp_pkt(NULL, &pi, &pk, 2000, 0x105);
		v = (struct nfqe_verdict){ .verdict = NF_DROP };
		offload_flow(o, &pk, &v);
		assert_int_equal(v.verdict, NF_REPEAT);
	}

	/* back with the bit: the rules are missing, break the loop */
	udp_pkt(NULL, &pi, &pk, 2000, 0x405);
	v = (struct nfqe_verdict){ .verdict = NF_DROP };
	offload_flow(o, &pk, &v);
	assert_int_equal(v.verdict, NF_ACCEPT);

	offload_stats_read(o, &st);
	assert_int_equal(st.below_depth, 2);
	assert_int_equal(st.flows, 4);
	assert_int_equal(st.bypasses, 6);
	assert_int_equal(st.looped, 1);
	offload_free(o);
	flowtable_free(ft);
	rcu_unregister_thread();

	/* no offload object: accept, final */
	v = (struct nfqe_verdict){ .verdict = NF_DROP };
	assert_true(offload_decide(NULL, &pk, &v));
	assert_int_equal(v.verdict, NF_ACCEPT);
}

/* Run `nfqe rules ARGS` and return what it printed (static buffer). */
static const char *rules_out(int rc_want, ...)
{
	static char out[8192];
	char *argv[16] = { "rules" };
	char path[] = "/tmp/nfqe-test-offload-out.XXXXXX";
	int argc = 1, fd = mkstemp(path), saved;
	va_list ap;
	ssize_t n;

	va_start(ap, rc_want);
	while ((argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	assert_true(fd >= 0);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	dup2(fd, STDOUT_FILENO);
	assert_int_equal(rules_main(argc, argv), rc_want);
	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	n = pread(fd, out, sizeof(out) - 1, 0);
	assert_true(n >= 0);
	out[n] = '\0';
	close(fd);
	unlink(path);
	return out;
}

static void assert_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line))) {
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || !p[n]))
			return;
		p += n;
	}
	fail_msg("no line '%s' in:\n%s", line, text);
}

static void test_rules_text(void **state)
{
	char path[] = "/tmp/nfqe-test-offload-conf.XXXXXX";
	const char *o;
	FILE *f;
	int fd;

	o = rules_out(0, "--queues", "0:1", "--offload", NULL);
	assert_line(o, "-A NFQE -m connmark --mark 0x40000000/0x40000000 -j ACCEPT");
	assert_line(o, "-A NFQE -m mark --mark 0x40000000/0x40000000 -j CONNMARK "
		    "--save-mark --nfmask 0x40000000 --ctmask 0x40000000");
	assert_line(o, "-A NFQE -m mark --mark 0x40000000/0x40000000 -j ACCEPT");
	/* the bypass rules come before the queue rule */
	assert_true(strstr(o, "connmark") < strstr(o, "NFQUEUE"));

	o = rules_out(0, "--mode", "raw", "--offload", NULL);
	assert_line(o, "-A NFQE -m set --match-set nfqe_offload-4s src,src,dst "
		    "-m set --match-set nfqe_offload-4d src,dst,dst -j ACCEPT");
	assert_line(o, "-A NFQE -m set --match-set nfqe_offload-4s dst,dst,src "
		    "-m set --match-set nfqe_offload-4d dst,src,src -j ACCEPT");
	assert_true(strstr(o, "match-set") < strstr(o, "NFQUEUE"));
	o = rules_out(0, "--mode", "raw", "--offload", "--ipv6", NULL);
	assert_line(o, "-A NFQE -m set --match-set nfqe_offload-6s src,src,dst "
		    "-m set --match-set nfqe_offload-6d src,dst,dst -j ACCEPT");
	assert_line(o, "-A NFQE -m set --match-set nfqe_offload-6s dst,dst,src "
		    "-m set --match-set nfqe_offload-6d dst,src,src -j ACCEPT");
	assert_null(strstr(o, "-4s"));
	assert_null(strstr(o, "-4d"));
	/* the comments name the IPv6 tools */
	assert_non_null(strstr(o, "# load: ip6tables-restore --noflush"));
	assert_non_null(strstr(o, "# remove: ip6tables -t raw -D PREROUTING"));
	assert_null(strstr(o, " iptables"));

	/* from the config file, with [rules] and [inspector] sections in it */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fputs("[engine]\nmode = raw\n[rules]\ndefault = offload\n"
	      "[inspector x]\npath = none.so\n[offload]\nenable = yes\n"
	      "set_name = acc\n", f);
	fclose(f);
	o = rules_out(0, "-c", path, NULL);
	assert_line(o, "-A NFQE -m set --match-set acc-4s src,src,dst "
		    "-m set --match-set acc-4d src,dst,dst -j ACCEPT");
	o = rules_out(0, "-c", path, "--mode", "forward", NULL);
	assert_line(o, "-A NFQE -m connmark --mark 0x40000000/0x40000000 -j ACCEPT");
	/* without offload: no bypass rules */
	o = rules_out(0, "--mode", "raw", NULL);
	assert_null(strstr(o, "match-set"));
	f = fopen(path, "w");
	fputs("[offload]\nenable = yes\nmark = 0x3\nmask = 0x1\n", f);
	fclose(f);
	rules_out(1, "-c", path, NULL);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_keys),
		cmocka_unit_test(test_config_file),
		cmocka_unit_test(test_set_names),
		cmocka_unit_test(test_msg_add4_bytes),
		cmocka_unit_test(test_msg_add6_walk),
		cmocka_unit_test(test_msg_create),
		cmocka_unit_test(test_ctglue_verdict),
		cmocka_unit_test(test_forward_verdict),
		cmocka_unit_test(test_rules_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
