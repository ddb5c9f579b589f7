/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * offload.h - decided flows stop reaching user space.
 *
 * A flow whose rule says "offload" (or whose inspector gave a final
 * accept) is handed to the kernel so that its later packets skip the
 * queue. How depends on the queue mode:
 *
 * forward (after conntrack): the repeat path. The verdict is NF_REPEAT
 *	with the offload bit in the packet mark; the packet runs the
 *	FORWARD hook again, where the rules of "nfqe rules --offload" save
 *	that bit into the connmark and accept it. From then on the NFQE
 *	chain accepts every packet whose connmark has the bit, in both
 *	directions, before the NFQUEUE rule. (A kernel with
 *	CONFIG_NETFILTER_NETLINK_GLUE_CT could set the connmark in the
 *	verdict itself; see ctglue.h.)
 * raw (before conntrack, no connmark yet): the kernel set. nfqe owns two
 *	ipsets of type hash:ip,port,ip per address family, created at start
 *	and destroyed at exit:
 *		NAME-4s  (orig src, proto:orig sport, orig dst)
 *		NAME-4d  (orig src, proto:orig dport, orig dst)
 *	(NAME-6s, NAME-6d for IPv6). A packet whose tuple, or its reverse,
 *	is in both sets is accepted before the NFQUEUE rule:
 *		-m set --match-set NAME-4s src,src,dst
 *		-m set --match-set NAME-4d src,dst,dst -j ACCEPT
 *		-m set --match-set NAME-4s dst,dst,src
 *		-m set --match-set NAME-4d dst,src,src -j ACCEPT
 *	The pair stands for the 5-tuple (hash:ip,port,ip holds one port).
 *	It can only err towards offloading a flow whose two ports each
 *	belong to another offloaded flow between the same two hosts. The
 *	workers add a flow with IPSET_CMD_ADD (with IPSET_ATTR_TIMEOUT
 *	= set_timeout) on a netlink socket of their own, without waiting
 *	for the ack; error replies are read back later and counted.
 *	Elements expire set_timeout seconds after they were added; a packet
 *	of an offloaded flow that reaches nfqe again adds it again.
 *	Only TCP, UDP, UDP-Lite and SCTP flows are offloaded in raw mode
 *	(the set's "port" of other protocols differs per direction).
 *
 * Depth: with [offload] depth = N, nfqe sees the first N packets of a flow
 * that a rule offloads (both directions counted) and offloads it at the
 * N-th; earlier ones are accepted without a cached decision.
 *
 *	[offload]
 *	enable = yes
 *	mark = 0x40000000	; forward mode: the bit in mark and connmark
 *	mask = 0x40000000	; the bits nfqe owns (default: mark)
 *	set_name = nfqe_offload	; raw mode: set name prefix (<= 28 chars)
 *	set_timeout = 60	; raw mode: seconds an element lives
 *	depth = 1		; packets seen before offloading
 */
#ifndef NFQE_OFFLOAD_H
#define NFQE_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "config.h"

struct nfqe_pkt;
struct nfqe_verdict;
struct offload;

#define OFFLOAD_SET_NAME_MAX	28	/* + "-4s" and the NUL: IPSET_MAXNAMELEN */

struct offload_config {
	bool		enable;
	uint32_t	mark;
	uint32_t	mask;
	char		set_name[OFFLOAD_SET_NAME_MAX + 1];
	unsigned	set_timeout;	/* s, 1..2147483 */
	unsigned	depth;		/* 1..65535 */
};

void offload_config_defaults(struct offload_config *c);

/*
 * offload_config_key - the [offload] section parser for config_load_ext()
 * (struct config_section_parser { "offload", false, offload_config_key,
 * &cfg }): @ctx is a struct offload_config. 0, or -1 with a message.
 */
int offload_config_key(void *ctx, const char *section, const char *name,
		       const char *value, char *err, size_t errlen);

/* Cross-key checks once the file is read: 0, or -1 with a message. */
int offload_config_check(const struct offload_config *c, char *err,
			 size_t errlen);

/* The set names: @which 's' or 'd', @family AF_INET or AF_INET6. */
void offload_set_name(const struct offload_config *c, int family, char which,
		      char *ret, size_t len);

/*
 * offload_new - set up offloading for the queues of @cfg in @cfg->mode:
 * probes the conntrack glue once (and logs once when it is missing); in
 * raw mode creates (or takes over and flushes) the four sets and opens
 * one netlink socket per queue. Call it before privileges are dropped and
 * before the workers start. Returns NULL with errno and a message in @err.
 * @oc->enable false: returns NULL with errno 0 (nothing to do).
 */
struct offload *offload_new(const struct offload_config *oc,
			    const struct nfqe_config *cfg, char *err,
			    size_t errlen);

/* Raw mode: destroy the sets (flush those the rules still reference),
 * close the sockets, log the counters once. NULL is fine. After the
 * workers stopped. */
void offload_free(struct offload *o);

/*
 * offload_decide - the "offload" action for @pkt: programs the bypass when
 * the flow has reached the configured depth, and writes the verdict.
 * Returns true when the verdict is final for the flow (cache it), false
 * for a packet below the depth (accepted, decide the next one again).
 * @o NULL: accept, final. Worker thread of @pkt->queue (each queue's
 * socket has one user); never blocks, never allocates.
 */
bool offload_decide(struct offload *o, const struct nfqe_pkt *pkt,
		    struct nfqe_verdict *ret);

/*
 * offload_flow - program the bypass for @pkt's flow now, whatever the
 * depth (an inspector's final accept). Writes the verdict. As
 * offload_decide().
 */
void offload_flow(struct offload *o, const struct nfqe_pkt *pkt,
		  struct nfqe_verdict *ret);

struct offload_stats {
	uint64_t	flows;		/* distinct flows offloaded: counted at
					 * a flow's first bypass (flow_flags_set()
					 * on its record); a packet without a
					 * flow record counts at every bypass */
	uint64_t	bypasses;	/* bypasses programmed (repeat verdicts,
					 * set-addition datagrams): a flow's
					 * first, and again for each of its
					 * packets that still reaches nfqe */
	uint64_t	below_depth;	/* packets accepted below the depth */
	uint64_t	unsupported;	/* raw: no ports, accepted in user space */
	uint64_t	send_errors;	/* raw: sendto to the set failed */
	uint64_t	set_errors;	/* raw: the kernel refused an addition */
	uint64_t	looped;		/* forward: a packet came back with the
					 * offload mark (rules missing?) */
};

/* Sum of the per-queue counters. Any thread (relaxed loads). */
void offload_stats_read(const struct offload *o, struct offload_stats *ret);

/*
 * The ipset netlink messages, exposed for the tests. Each writes one
 * message into @buf (@len bytes) and returns its length, or -ENOSPC.
 * @proto is the IPSET_ATTR_PROTOCOL value (6 or 7).
 */
#define OFFLOAD_MSG_MAX		256
int offload_msg_protocol(void *buf, size_t len, uint32_t seq);
int offload_msg_create(void *buf, size_t len, uint8_t proto, const char *name,
		       int family, uint32_t timeout, uint32_t maxelem,
		       uint32_t seq);
/* IPSET_CMD_DESTROY or IPSET_CMD_FLUSH */
int offload_msg_set_cmd(void *buf, size_t len, uint8_t proto, int cmd,
			const char *name, uint32_t seq);
/* IPSET_CMD_ADD (@timeout > 0: IPSET_ATTR_TIMEOUT) or IPSET_CMD_DEL of
 * (@ip, @l4proto:@port, @ip2); addresses in network order, @port in host
 * order. */
int offload_msg_adt(void *buf, size_t len, uint8_t proto, int cmd,
		    const char *name, int family, const void *ip,
		    uint8_t l4proto, uint16_t port, const void *ip2,
		    uint32_t timeout, uint32_t seq);

#endif
