/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Offload: the config section, the kernel sets of raw mode (ipset over
 * libmnl, NFNL_SUBSYS_IPSET), and the verdict of the "offload" action.
 *
 * Why two hash:ip,port,ip sets and not one: the kernel has no ipset type
 * with two ports, and one set keyed on a single port would offload every
 * flow between two hosts that shares that port. Two sets matched together
 * hold both ports; see offload.h for what that still lets through.
 *
 * Why the workers do not wait for the ack of an addition: the addition
 * happens inside sendmsg() (netlink to the kernel is synchronous), so the
 * element is in the set before the verdict of the deciding packet leaves;
 * only errors come back, on the queue's own socket, and are read the next
 * time that worker offloads (or at exit).
 *
 * Why elements are re-added: an element lives set_timeout seconds from
 * its addition (the set match does not refresh it, and a SET --exist
 * target in the rules would take the set's lock on every offloaded
 * packet). A packet of an offloaded flow reaching nfqe again means its
 * element expired (or was never added); adding it again costs one message.
 *
 * Why flows are counted with a flag on the flow: a flow gets a bypass for
 * each of its packets that still reaches nfqe (queued before the bypass
 * took effect, or its set element expired), so the bypasses are not the
 * flows. The first bypass sets OFFLOAD_FLOW_COUNTED on the flow's record
 * (one atomic or, then only loads); a flow the table forgot (reaped while
 * the kernel bypassed it) and sees again is counted again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <arpa/inet.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/ipset/ip_set.h>

#include "ctglue.h"
#include "flowtable.h"
#include "log.h"
#include "offload.h"
#include "worker.h"

#define OFFLOAD_TYPENAME	"hash:ip,port,ip"
/* revision 1 (SCTP, UDP-Lite) has the timeout extension and exists on
 * every kernel since 2011 */
#define OFFLOAD_TYPE_REVISION	1
#define OFFLOAD_CTL_TIMEOUT_MS	2000

#define ST_ADD(f, n)	__atomic_store_n(&(f), (f) + (n), __ATOMIC_RELAXED)

/* flow_flags_set(): the flow is in offload_stats.flows */
#define OFFLOAD_FLOW_COUNTED	0x1u

enum { FAM4, FAM6, NFAM };
enum { SET_S, SET_D, NSET };

/* One queue's socket and counters: one worker writes them. */
struct offload_queue {
	struct mnl_socket	*nl;
	uint32_t		seq;
	bool			logged;
	struct offload_stats	st;
} __attribute__((aligned(64)));

struct offload {
	struct offload_config	c;
	uint32_t		mask;		/* c.mask, or c.mark when 0 */
	enum nfqe_mode		mode;
	uint8_t			proto;		/* IPSET_ATTR_PROTOCOL */
	int			ct_glue;	/* nfq_probe_ct_glue() */
	unsigned		queue_first;
	unsigned		nqueues;
	struct mnl_socket	*ctl;		/* raw: create, flush, destroy */
	uint32_t		ctl_seq;
	char			names[NFAM][NSET][IPSET_MAXNAMELEN];
	bool			created[NFAM][NSET];
	struct offload_queue	q[];
};

/* ---- config ---- */

void offload_config_defaults(struct offload_config *c)
{
	memset(c, 0, sizeof(*c));
	c->mark = 0x40000000;
	c->mask = 0;		/* the mark's bits */
	strcpy(c->set_name, "nfqe_offload");
	c->set_timeout = 60;
	c->depth = 1;
}

static int parse_bool(const char *v, bool *ret)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (unsigned i = 0; i < 4; i++) {
		if (!strcasecmp(v, yes[i])) {
			*ret = true;
			return 0;
		}
		if (!strcasecmp(v, no[i])) {
			*ret = false;
			return 0;
		}
	}
	return -1;
}

static int parse_u32(const char *v, unsigned long min, unsigned long max,
		     uint32_t *ret)
{
	unsigned long long n;
	char *end;

	if (!*v || *v == '-')
		return -1;
	errno = 0;
	n = strtoull(v, &end, 0);
	if (errno || *end || n < min || n > max)
		return -1;
	*ret = (uint32_t)n;
	return 0;
}

int offload_config_key(void *ctx, const char *section, const char *name,
		       const char *value, char *err, size_t errlen)
{
	struct offload_config *c = ctx;
	uint32_t n;

	if (!strcmp(name, "enable")) {
		if (parse_bool(value, &c->enable) == 0)
			return 0;
		snprintf(err, errlen, "enable: '%s' is not yes or no", value);
		return -1;
	}
	if (!strcmp(name, "mark") || !strcmp(name, "mask")) {
		if (parse_u32(value, 1, UINT32_MAX, &n) < 0) {
			snprintf(err, errlen, "%s: '%s' is not a 32-bit value "
				 "other than 0", name, value);
			return -1;
		}
		if (name[2] == 'r')
			c->mark = n;
		else
			c->mask = n;
		return 0;
	}
	if (!strcmp(name, "set_name")) {
		size_t len = strlen(value);

		if (!len || len > OFFLOAD_SET_NAME_MAX ||
		    strspn(value, "abcdefghijklmnopqrstuvwxyz"
			   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != len) {
			snprintf(err, errlen, "set_name: '%s' is not 1..%d "
				 "letters, digits, '_', '.' or '-'", value,
				 OFFLOAD_SET_NAME_MAX);
			return -1;
		}
		memcpy(c->set_name, value, len + 1);
		return 0;
	}
	if (!strcmp(name, "set_timeout")) {
		/* the kernel's limit: UINT_MAX / MSEC_PER_SEC */
		if (parse_u32(value, 1, 2147483, &n) < 0) {
			snprintf(err, errlen, "set_timeout: '%s' is not 1..%u "
				 "seconds", value, 2147483u);
			return -1;
		}
		c->set_timeout = n;
		return 0;
	}
	if (!strcmp(name, "depth")) {
		if (parse_u32(value, 1, 65535, &n) < 0) {
			snprintf(err, errlen, "depth: '%s' is not 1..65535 "
				 "packets", value);
			return -1;
		}
		c->depth = n;
		return 0;
	}
	snprintf(err, errlen, "unknown key '%s' in [offload] (enable, mark, "
		 "mask, set_name, set_timeout, depth)", name);
	return -1;
}

static uint32_t cfg_mask(const struct offload_config *c)
{
	return c->mask ? c->mask : c->mark;
}

int offload_config_check(const struct offload_config *c, char *err,
			 size_t errlen)
{
	if (c->mark & ~cfg_mask(c)) {
		snprintf(err, errlen, "[offload] mark 0x%x has bits outside "
			 "mask 0x%x", c->mark, cfg_mask(c));
		return -1;
	}
	return 0;
}

void offload_set_name(const struct offload_config *c, int family, char which,
		      char *ret, size_t len)
{
	snprintf(ret, len, "%s-%c%c", c->set_name,
		 family == AF_INET6 ? '6' : '4', which);
}

/* ---- ipset messages ---- */

static struct nlmsghdr *ipset_hdr_put(void *buf, int cmd, int family,
				      uint16_t flags, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (NFNL_SUBSYS_IPSET << 8) | cmd;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = (uint8_t)family;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = htons(0);
	return nlh;
}

static void put_net_u32(struct nlmsghdr *nlh, uint16_t type, uint32_t v)
{
	mnl_attr_put_u32(nlh, type | NLA_F_NET_BYTEORDER, htonl(v));
}

static void put_addr(struct nlmsghdr *nlh, uint16_t type, int family,
		     const void *addr)
{
	struct nlattr *nest = mnl_attr_nest_start(nlh, type);

	if (family == AF_INET6)
		mnl_attr_put(nlh, IPSET_ATTR_IPADDR_IPV6 | NLA_F_NET_BYTEORDER,
			     16, addr);
	else
		mnl_attr_put(nlh, IPSET_ATTR_IPADDR_IPV4 | NLA_F_NET_BYTEORDER,
			     4, addr);
	mnl_attr_nest_end(nlh, nest);
}

int offload_msg_protocol(void *buf, size_t len, uint32_t seq)
{
	struct nlmsghdr *nlh;

	if (len < OFFLOAD_MSG_MAX)
		return -ENOSPC;
	memset(buf, 0, OFFLOAD_MSG_MAX);
	nlh = ipset_hdr_put(buf, IPSET_CMD_PROTOCOL, AF_INET, 0, seq);
	mnl_attr_put_u8(nlh, IPSET_ATTR_PROTOCOL, IPSET_PROTOCOL);
	return (int)nlh->nlmsg_len;
}

int offload_msg_create(void *buf, size_t len, uint8_t proto, const char *name,
		       int family, uint32_t timeout, uint32_t maxelem,
		       uint32_t seq)
{
	struct nlmsghdr *nlh;
	struct nlattr *data;

	if (len < OFFLOAD_MSG_MAX || strlen(name) >= IPSET_MAXNAMELEN)
		return -ENOSPC;
	memset(buf, 0, OFFLOAD_MSG_MAX);
	/* no NLM_F_EXCL: an identical set of an earlier run is taken over */
	nlh = ipset_hdr_put(buf, IPSET_CMD_CREATE, AF_INET, NLM_F_ACK, seq);
	mnl_attr_put_u8(nlh, IPSET_ATTR_PROTOCOL, proto);
	mnl_attr_put_strz(nlh, IPSET_ATTR_SETNAME, name);
	mnl_attr_put_strz(nlh, IPSET_ATTR_TYPENAME, OFFLOAD_TYPENAME);
	mnl_attr_put_u8(nlh, IPSET_ATTR_REVISION, OFFLOAD_TYPE_REVISION);
	mnl_attr_put_u8(nlh, IPSET_ATTR_FAMILY,
			family == AF_INET6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
	data = mnl_attr_nest_start(nlh, IPSET_ATTR_DATA);
	put_net_u32(nlh, IPSET_ATTR_TIMEOUT, timeout);
	put_net_u32(nlh, IPSET_ATTR_MAXELEM, maxelem);
	mnl_attr_nest_end(nlh, data);
	return (int)nlh->nlmsg_len;
}

int offload_msg_set_cmd(void *buf, size_t len, uint8_t proto, int cmd,
			const char *name, uint32_t seq)
{
	struct nlmsghdr *nlh;

	if (len < OFFLOAD_MSG_MAX || strlen(name) >= IPSET_MAXNAMELEN)
		return -ENOSPC;
	memset(buf, 0, OFFLOAD_MSG_MAX);
	nlh = ipset_hdr_put(buf, cmd, AF_INET, NLM_F_ACK, seq);
	mnl_attr_put_u8(nlh, IPSET_ATTR_PROTOCOL, proto);
	mnl_attr_put_strz(nlh, IPSET_ATTR_SETNAME, name);
	return (int)nlh->nlmsg_len;
}

int offload_msg_adt(void *buf, size_t len, uint8_t proto, int cmd,
		    const char *name, int family, const void *ip,
		    uint8_t l4proto, uint16_t port, const void *ip2,
		    uint32_t timeout, uint32_t seq)
{
	struct nlmsghdr *nlh;
	struct nlattr *data;

	if (len < OFFLOAD_MSG_MAX || strlen(name) >= IPSET_MAXNAMELEN)
		return -ENOSPC;
	memset(buf, 0, OFFLOAD_MSG_MAX);
	/* no NLM_F_EXCL: adding an element again renews its timeout; no
	 * NLM_F_ACK: only errors come back */
	nlh = ipset_hdr_put(buf, cmd, family, 0, seq);
	mnl_attr_put_u8(nlh, IPSET_ATTR_PROTOCOL, proto);
	mnl_attr_put_strz(nlh, IPSET_ATTR_SETNAME, name);
	data = mnl_attr_nest_start(nlh, IPSET_ATTR_DATA);
	put_addr(nlh, IPSET_ATTR_IP, family, ip);
	mnl_attr_put_u16(nlh, IPSET_ATTR_PORT | NLA_F_NET_BYTEORDER,
			 htons(port));
	mnl_attr_put_u8(nlh, IPSET_ATTR_PROTO, l4proto);
	put_addr(nlh, IPSET_ATTR_IP2, family, ip2);
	if (cmd == IPSET_CMD_ADD && timeout)
		put_net_u32(nlh, IPSET_ATTR_TIMEOUT, timeout);
	mnl_attr_nest_end(nlh, data);
	return (int)nlh->nlmsg_len;
}

/* ---- the control socket (engine thread) ---- */

static const char *ipset_strerror(int err)
{
	switch (err) {
	case IPSET_ERR_PROTOCOL:
		return "ipset protocol error";
	case IPSET_ERR_FIND_TYPE:
		return "the kernel has no " OFFLOAD_TYPENAME " set type";
	case IPSET_ERR_MAX_SETS:
		return "too many sets";
	case IPSET_ERR_BUSY:
		return "set in use by a rule";
	case IPSET_ERR_EXIST_SETNAME2:
	case IPSET_ERR_EXIST:
		return "a set of that name exists with other parameters";
	case IPSET_ERR_TYPE_MISMATCH:
		return "set type mismatch";
	case IPSET_ERR_INVALID_FAMILY:
		return "invalid family";
	case IPSET_ERR_TIMEOUT:
		return "the set has no timeout support";
	case IPSET_ERR_REFERENCED:
		return "set referenced";
	case IPSET_ERR_TYPE_SPECIFIC + 1:	/* hash full */
		return "set full (maxelem reached)";
	default:
		return err < IPSET_ERR_PRIVATE ? strerror(err) :
						 "ipset error";
	}
}

struct proto_reply {
	uint8_t	proto;
	uint8_t	proto_min;
};

static int proto_attr_cb(const struct nlattr *a, void *data)
{
	struct proto_reply *r = data;

	if (mnl_attr_get_type(a) == IPSET_ATTR_PROTOCOL &&
	    mnl_attr_validate(a, MNL_TYPE_U8) == 0)
		r->proto = mnl_attr_get_u8(a);
	else if (mnl_attr_get_type(a) == IPSET_ATTR_PROTOCOL_MIN &&
		 mnl_attr_validate(a, MNL_TYPE_U8) == 0)
		r->proto_min = mnl_attr_get_u8(a);
	return MNL_CB_OK;
}

static int proto_cb(const struct nlmsghdr *nlh, void *data)
{
	mnl_attr_parse(nlh, sizeof(struct nfgenmsg), proto_attr_cb, data);
	return MNL_CB_OK;
}

/* Send @nlh on the control socket, run @cb on replies until the ack.
 * 0, -errno, or -IPSET_ERR_*. */
static int ctl_request(struct offload *o, struct nlmsghdr *nlh,
		       mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	unsigned portid = mnl_socket_get_portid(o->ctl);
	ssize_t n;
	int ret;

	nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(o->ctl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(o->ctl, buf, sizeof(buf));
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		ret = mnl_cb_run(buf, (size_t)n, nlh->nlmsg_seq, portid, cb,
				 data);
	} while (ret == MNL_CB_OK);
	return ret < 0 ? -errno : 0;
}

static int ctl_open(struct offload *o)
{
	struct timeval tv = { .tv_sec = OFFLOAD_CTL_TIMEOUT_MS / 1000 };

	o->ctl = mnl_socket_open(NETLINK_NETFILTER);
	if (!o->ctl)
		return -errno;
	if (mnl_socket_bind(o->ctl, 0, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	/* bounded: a kernel that never answers must not hang start/stop */
	if (setsockopt(mnl_socket_get_fd(o->ctl), SOL_SOCKET, SO_RCVTIMEO,
		       &tv, sizeof(tv)) < 0)
		return -errno;
	o->ctl_seq = (uint32_t)time(NULL);
	return 0;
}

static int ctl_set_cmd(struct offload *o, int cmd, const char *name)
{
	char buf[OFFLOAD_MSG_MAX];

	offload_msg_set_cmd(buf, sizeof(buf), o->proto, cmd, name,
			    ++o->ctl_seq);
	return ctl_request(o, (struct nlmsghdr *)buf, NULL, NULL);
}

static int sets_create(struct offload *o, uint32_t maxelem, char *err,
		       size_t errlen)
{
	static const int fams[NFAM] = { AF_INET, AF_INET6 };
	static const char which[NSET] = { 's', 'd' };
	struct proto_reply pr = { 0 };
	char buf[OFFLOAD_MSG_MAX];
	int ret;

	offload_msg_protocol(buf, sizeof(buf), ++o->ctl_seq);
	ret = ctl_request(o, (struct nlmsghdr *)buf, proto_cb, &pr);
	if (ret < 0 || !pr.proto) {
		snprintf(err, errlen, "[offload] raw mode needs ipset in the "
			 "kernel (CONFIG_IP_SET): asking its protocol "
			 "version: %s", ret < 0 ? ipset_strerror(-ret) :
						  "no answer");
		return -EPROTONOSUPPORT;
	}
	o->proto = pr.proto < IPSET_PROTOCOL ? pr.proto : IPSET_PROTOCOL;
	if (o->proto < IPSET_PROTOCOL_MIN) {
		snprintf(err, errlen, "[offload] the kernel's ipset protocol "
			 "%u is older than %u", pr.proto, IPSET_PROTOCOL_MIN);
		return -EPROTONOSUPPORT;
	}
	for (int f = 0; f < NFAM; f++) {
		for (int s = 0; s < NSET; s++) {
			const char *name = o->names[f][s];

			offload_set_name(&o->c, fams[f], which[s],
					 o->names[f][s], IPSET_MAXNAMELEN);
			offload_msg_create(buf, sizeof(buf), o->proto, name,
					   fams[f], o->c.set_timeout, maxelem,
					   ++o->ctl_seq);
			ret = ctl_request(o, (struct nlmsghdr *)buf, NULL,
					  NULL);
			if (!ret) {
				o->created[f][s] = true;
				/* an earlier run's set: forget its flows */
				ret = ctl_set_cmd(o, IPSET_CMD_FLUSH, name);
			}
			if (ret < 0) {
				snprintf(err, errlen, "[offload] creating set "
					 "%s (%s, timeout %u): %s", name,
					 OFFLOAD_TYPENAME, o->c.set_timeout,
					 ipset_strerror(-ret));
				return ret;
			}
		}
	}
	return 0;
}

static void sets_destroy(struct offload *o)
{
	for (int f = 0; f < NFAM; f++) {
		for (int s = 0; s < NSET; s++) {
			const char *name = o->names[f][s];
			int ret;

			if (!o->created[f][s])
				continue;
			ret = ctl_set_cmd(o, IPSET_CMD_DESTROY, name);
			if (ret == -IPSET_ERR_BUSY) {
				/* the rules still refer to it: leave it
				 * empty, so no flow skips the queue on the
				 * word of a stopped nfqe */
				ret = ctl_set_cmd(o, IPSET_CMD_FLUSH, name);
				if (!ret)
					log_info("offload: set %s is still "
						 "used by a rule: flushed, "
						 "not destroyed", name);
			}
			if (ret < 0)
				log_warn("offload: removing set %s: %s", name,
					 ipset_strerror(-ret));
		}
	}
}

/* ---- life cycle ---- */

struct offload *offload_new(const struct offload_config *oc,
			    const struct nfqe_config *cfg, char *err,
			    size_t errlen)
{
	unsigned n = cfg->queue_last - cfg->queue_first + 1;
	struct offload *o;
	int ret;

	if (!oc->enable) {
		errno = 0;
		return NULL;
	}
	if (offload_config_check(oc, err, errlen) < 0) {
		errno = EINVAL;
		return NULL;
	}
	o = calloc(1, sizeof(*o) + n * sizeof(o->q[0]));
	if (!o) {
		snprintf(err, errlen, "[offload]: out of memory");
		return NULL;
	}
	o->c = *oc;
	o->mask = cfg_mask(oc);
	o->mode = cfg->mode;
	o->queue_first = cfg->queue_first;
	o->nqueues = n;

	/* the answer is the kernel's, not the queue's: ask once */
	o->ct_glue = nfq_probe_ct_glue(NULL, (uint16_t)cfg->queue_first);
	if (o->ct_glue == 0)
		log_info("%s", CTGLUE_MISSING_MSG);
	else if (o->ct_glue > 0)
		log_info("kernel has CONFIG_NETFILTER_NETLINK_GLUE_CT; offload "
			 "still uses the repeat path (connmark in the verdict "
			 "is not wired in yet)");
	else
		log_warn("probing the conntrack glue: %s",
			 strerror(-o->ct_glue));

	if (o->mode == MODE_RAW) {
		ret = ctl_open(o);
		if (ret < 0) {
			snprintf(err, errlen, "[offload] netlink socket: %s",
				 strerror(-ret));
			goto err_free;
		}
		ret = sets_create(o, cfg->flow_max, err, errlen);
		if (ret < 0)
			goto err_free;
		for (unsigned i = 0; i < n; i++) {
			struct mnl_socket *nl = mnl_socket_open2(
				NETLINK_NETFILTER, SOCK_NONBLOCK |
				SOCK_CLOEXEC);

			o->q[i].nl = nl;
			if (!nl || mnl_socket_bind(nl, 0,
						   MNL_SOCKET_AUTOPID) < 0) {
				snprintf(err, errlen, "[offload] netlink socket "
					 "for queue %u: %s",
					 cfg->queue_first + i, strerror(errno));
				goto err_free;
			}
			o->q[i].seq = 1;
		}
		log_info("offload: raw mode, sets %s %s %s %s (%s, timeout "
			 "%u s), depth %u", o->names[FAM4][SET_S],
			 o->names[FAM4][SET_D], o->names[FAM6][SET_S],
			 o->names[FAM6][SET_D], OFFLOAD_TYPENAME,
			 o->c.set_timeout, o->c.depth);
	} else {
		log_info("offload: forward mode, repeat verdict with mark "
			 "0x%x/0x%x, depth %u", o->c.mark, o->mask,
			 o->c.depth);
	}
	return o;

err_free:
	offload_free(o);
	errno = EIO;
	return NULL;
}

static void queue_drain(struct offload_queue *q, unsigned queue);

void offload_free(struct offload *o)
{
	struct offload_stats st;

	if (!o)
		return;
	for (unsigned i = 0; i < o->nqueues; i++) {
		if (!o->q[i].nl)
			continue;
		queue_drain(&o->q[i], o->queue_first + i);
		mnl_socket_close(o->q[i].nl);
	}
	offload_stats_read(o, &st);
	if (st.bypasses || st.looped || st.set_errors || st.send_errors)
		log_info("offload: %llu flows offloaded, %llu bypasses, %llu "
			 "packets below depth, %llu without ports, %llu kernel "
			 "set errors, %llu send errors, %llu repeat loops",
			 (unsigned long long)st.flows,
			 (unsigned long long)st.bypasses,
			 (unsigned long long)st.below_depth,
			 (unsigned long long)st.unsupported,
			 (unsigned long long)st.set_errors,
			 (unsigned long long)st.send_errors,
			 (unsigned long long)st.looped);
	if (o->ctl) {
		sets_destroy(o);
		mnl_socket_close(o->ctl);
	}
	free(o);
}

void offload_stats_read(const struct offload *o, struct offload_stats *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (!o)
		return;
	for (unsigned i = 0; i < o->nqueues; i++) {
		const uint64_t *src = (const uint64_t *)&o->q[i].st;
		uint64_t *dst = (uint64_t *)ret;

		for (size_t w = 0; w < sizeof(*ret) / sizeof(uint64_t); w++)
			dst[w] += __atomic_load_n(&src[w], __ATOMIC_RELAXED);
	}
}

/* ---- the data path (worker threads) ---- */

/* Read the error replies of earlier additions (never blocks). */
static void queue_drain(struct offload_queue *q, unsigned queue)
{
	char buf[4096] __attribute__((aligned(4)));
	ssize_t n;

	while ((n = recv(mnl_socket_get_fd(q->nl), buf, sizeof(buf),
			 MSG_DONTWAIT)) != 0) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
		int len = (int)n;

		if (n < 0) {
			if (errno == ENOBUFS)	/* replies lost: errors */
				ST_ADD(q->st.set_errors, 1);
			if (errno != EINTR && errno != ENOBUFS)
				return;
			continue;
		}
		for (; mnl_nlmsg_ok(nlh, len);
		     nlh = mnl_nlmsg_next(nlh, &len)) {
			const struct nlmsgerr *e;

			if (nlh->nlmsg_type != NLMSG_ERROR ||
			    nlh->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
				continue;
			e = mnl_nlmsg_get_payload(nlh);
			if (!e->error)
				continue;
			ST_ADD(q->st.set_errors, 1);
			if (!q->logged) {
				q->logged = true;
				log_warn("queue %u: the kernel refused a flow "
					 "for the offload set: %s (further "
					 "errors are only counted)", queue,
					 ipset_strerror(-e->error));
			}
		}
	}
}

/* A bypass was programmed for @pkt: count it, and its flow the first
 * time. Without a flow record every bypass counts as a flow. */
static void count_bypass(struct offload_stats *st, const struct nfqe_pkt *pkt)
{
	ST_ADD(st->bypasses, 1);
	if (!pkt->flow ||
	    !(flow_flags_set(pkt->flow, OFFLOAD_FLOW_COUNTED) &
	      OFFLOAD_FLOW_COUNTED))
		ST_ADD(st->flows, 1);
}

static void raw_offload(struct offload *o, const struct nfqe_pkt *pkt,
			struct nfqe_verdict *ret)
{
	const struct pkt_info *pi = pkt->info;
	unsigned idx = pkt->queue - o->queue_first;
	int fam = pi->family == AF_INET6 ? FAM6 : FAM4;
	struct offload_queue *q;
	char buf[2][OFFLOAD_MSG_MAX];
	struct iovec iov[2];
	struct sockaddr_nl snl = { .nl_family = AF_NETLINK };
	struct msghdr mh = {
		.msg_name = &snl, .msg_namelen = sizeof(snl),
		.msg_iov = iov, .msg_iovlen = 2,
	};
	int len;

	ret->verdict = NF_ACCEPT;
	if (idx >= o->nqueues)
		return;
	q = &o->q[idx];
	if (!pkt_has_ports(pi) || (pi->flags & PKT_F_FRAGMENT)) {
		ST_ADD(q->st.unsupported, 1);
		return;
	}
	queue_drain(q, pkt->queue);
	/* the packet's own tuple: the rules match it and its reverse */
	len = offload_msg_adt(buf[0], sizeof(buf[0]), o->proto, IPSET_CMD_ADD,
			      o->names[fam][SET_S], pi->family, &pi->src,
			      pi->l4proto, pi->sport, &pi->dst,
			      o->c.set_timeout, q->seq++);
	iov[0] = (struct iovec){ buf[0], (size_t)len };
	len = offload_msg_adt(buf[1], sizeof(buf[1]), o->proto, IPSET_CMD_ADD,
			      o->names[fam][SET_D], pi->family, &pi->src,
			      pi->l4proto, pi->dport, &pi->dst,
			      o->c.set_timeout, q->seq++);
	iov[1] = (struct iovec){ buf[1], (size_t)len };
	/* both messages in one datagram: nfnetlink runs them in order */
	if (sendmsg(mnl_socket_get_fd(q->nl), &mh, 0) < 0) {
		ST_ADD(q->st.send_errors, 1);
		return;
	}
	count_bypass(&q->st, pkt);
}

static void forward_offload(struct offload *o, const struct nfqe_pkt *pkt,
			    struct nfqe_verdict *ret)
{
	unsigned idx = pkt->queue - o->queue_first;
	struct offload_stats *st = idx < o->nqueues ? &o->q[idx].st : NULL;

	if ((pkt->mark & o->mask) == o->c.mark) {
		/* it ran the hook once more and came back: the rules that
		 * save the mark and accept are missing. Accepting breaks
		 * the loop; the flow stays in user space. */
		ret->verdict = NF_ACCEPT;
		if (st)
			ST_ADD(st->looped, 1);
		return;
	}
	ret->verdict = NF_REPEAT;
	ret->mark = (pkt->mark & ~o->mask) | o->c.mark;
	ret->set_mark = true;
	if (st)
		count_bypass(st, pkt);
}

void offload_flow(struct offload *o, const struct nfqe_pkt *pkt,
		  struct nfqe_verdict *ret)
{
	if (!o) {
		ret->verdict = NF_ACCEPT;
		return;
	}
	if (o->mode == MODE_RAW)
		raw_offload(o, pkt, ret);
	else
		forward_offload(o, pkt, ret);
}

bool offload_decide(struct offload *o, const struct nfqe_pkt *pkt,
		    struct nfqe_verdict *ret)
{
	if (o && o->c.depth > 1 && pkt->flow) {
		struct flow_counters c;

		flow_counters_get(pkt->flow, &c);
		if (c.packets[0] + c.packets[1] < o->c.depth) {
			unsigned idx = pkt->queue - o->queue_first;

			if (idx < o->nqueues)
				ST_ADD(o->q[idx].st.below_depth, 1);
			ret->verdict = NF_ACCEPT;
			return false;
		}
	}
	offload_flow(o, pkt, ret);
	return true;
}
