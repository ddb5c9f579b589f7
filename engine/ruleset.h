/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ruleset.h - the [rules] grammar: rule lines parsed straight into a
 * compact array of compiled rules, and first-match evaluation of a packet
 * against that array. No RCU, no caching, no plug-ins: policy.c adds those.
 *
 *	rule = MATCH... ACTION
 *	default = ACTION
 *
 *	MATCH	proto LIST		tcp udp icmp icmpv6 udplite sctp gre esp
 *					ah or 0..255
 *		src LIST, dst LIST	CIDR: 10.0.0.0/8, 2001:db8::/32, an
 *					address alone is /32 or /128
 *		sport LIST, dport LIST	P or P-Q
 *		port LIST		sport or dport in LIST
 *		iif NAME, oif NAME	if_nametoindex() when the rule is parsed
 *		state new|established
 *		queue LIST		the queue the packet came from, N or N-M
 *	ACTION	accept | drop | mark N[/MASK] | repeat mark N[/MASK] |
 *		queue N | inspect NAME | offload
 *
 * LIST is one value or a comma separated list (spaces after the commas are
 * fine); a value starting with '!' (or a lone '!' before it) negates the
 * whole match: "src !10.0.0.0/8,192.168.0.0/16" matches every source in
 * neither network. Numbers are decimal or 0x hex. A match keyword appears
 * at most once per rule; matches are ANDed. "queue N" is the action when it
 * ends the rule, a match anywhere else.
 *
 * Port matches need a packet with ports (TCP, UDP, UDP-Lite or SCTP, not a
 * later fragment); any other packet never matches a rule that has one,
 * negated or not. An IPv4 packet is in no IPv6 prefix and vice versa.
 *
 * Life cycle: ruleset_new(), ruleset_add() per "rule" key, ruleset_default()
 * for the "default" key, ruleset_compile() once; from then on the ruleset
 * is immutable and any number of threads may match against it.
 */
#ifndef NFQE_RULESET_H
#define NFQE_RULESET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nfqe_pkt;

/* Most rules, list entries per pool, inspector names, distinct masks. */
#define RULESET_MAX		65535

enum rule_action_type {
	RA_ACCEPT,
	RA_DROP,
	RA_MARK,	/* accept, mark = (queued & ~mask) | mark */
	RA_REPEAT,	/* NF_REPEAT with the mark, as RA_MARK */
	RA_QUEUE,	/* NF_QUEUE_NR(queue) */
	RA_INSPECT,	/* hand to inspector number @inspector */
	RA_OFFLOAD,
	RA_MAX,
};

struct rule_action {
	uint8_t		type;		/* enum rule_action_type */
	/* A final decision may be cached on the flow: the action's rule and
	 * every rule before it match only flow-stable fields (no state). */
	bool		cacheable : 1;
	bool		log : 1;	/* "log": a line per decision */
	uint16_t	queue;		/* RA_QUEUE */
	uint16_t	inspector;	/* RA_INSPECT: index in inspector names */
	uint16_t	mask_index;	/* RA_MARK, RA_REPEAT: index in masks[],
					 * 0 is the full mask 0xffffffff */
	uint32_t	mark;		/* RA_MARK, RA_REPEAT: within mask */
	uint32_t	mask;
};

/* Match kinds, as bits of rule.present and rule.negate. */
enum rule_match {
	RM_PROTO	= 1 << 0,
	RM_SRC		= 1 << 1,
	RM_DST		= 1 << 2,
	RM_SPORT	= 1 << 3,
	RM_DPORT	= 1 << 4,
	RM_PORT		= 1 << 5,
	RM_IIF		= 1 << 6,
	RM_OIF		= 1 << 7,
	RM_QUEUE	= 1 << 8,
	RM_STATE	= 1 << 9,
};

/* The value lists of a rule, indexes into ruleset.ranges. */
enum rule_list_kind {
	RL_PROTO,
	RL_SPORT,
	RL_DPORT,
	RL_PORT,
	RL_IIF,
	RL_OIF,
	RL_QUEUE,
	RL_MAX,
};

struct rule_range {
	uint32_t	lo, hi;		/* inclusive */
};

struct rule_net4 {
	uint32_t	addr, mask;	/* network order, addr & mask == addr */
};

struct rule_net6 {
	uint64_t	addr[2], mask[2];	/* as loaded from the bytes */
};

struct rule_slice {
	uint16_t	off, n;
};

/* A compiled rule: one cache line, no pointers. */
struct rule {
	uint16_t		present;	/* enum rule_match bits */
	uint16_t		negate;		/* enum rule_match bits */
	uint8_t			state_new;	/* RM_STATE: 1 new, 0 established */
	struct rule_slice	list[RL_MAX];	/* ranges */
	struct rule_slice	src4, src6, dst4, dst6;
	struct rule_action	action;
};

/*
 * The compiled rule set. Everything is reachable from here and nothing
 * changes after ruleset_compile(); policy.c reads the arrays directly.
 */
struct ruleset {
	struct rule		*rules;
	unsigned		nrules;
	struct rule_action	dflt;		/* "default", accept if unset */
	bool			dflt_set;
	bool			compiled;
	struct rule_range	*ranges;
	unsigned		nranges;
	struct rule_net4	*net4;
	unsigned		nnet4;
	struct rule_net6	*net6;
	unsigned		nnet6;
	uint32_t		*masks;		/* masks[0] == 0xffffffff */
	unsigned		nmasks;
	char			**inspectors;	/* names used by inspect */
	unsigned		ninspectors;
	char			**texts;	/* each rule's source text */
	/* allocation sizes while parsing */
	unsigned		cap_rules, cap_ranges, cap_net4, cap_net6;
	unsigned		cap_masks, cap_inspectors;
	/* inspect NAME is refused unless this says the name exists */
	bool			(*inspector_known)(void *ctx, const char *name);
	void			*inspector_ctx;
};

/* An empty rule set (default accept). NULL with errno ENOMEM. */
struct ruleset *ruleset_new(void);

/* NULL is fine. */
void ruleset_free(struct ruleset *rs);

/*
 * Check "inspect NAME" against @known while parsing (NULL: any name).
 * Set it before the first ruleset_add().
 */
void ruleset_set_inspector_check(struct ruleset *rs,
				 bool (*known)(void *ctx, const char *name),
				 void *ctx);

/*
 * ruleset_add - parse the value of one "rule" key and append the rule.
 * Returns 0, or -1 with a message in @err (no file:line; config.c adds it)
 * and the rule set unchanged. Not after ruleset_compile().
 */
int ruleset_add(struct ruleset *rs, const char *text, char *err,
		size_t errlen);

/* The "default" key: one ACTION. 0 or -1 with @err, as ruleset_add(). */
int ruleset_default(struct ruleset *rs, const char *text, char *err,
		    size_t errlen);

/* Finish: cacheability, trimmed arrays. 0 or -ENOMEM. Once. */
int ruleset_compile(struct ruleset *rs);

/*
 * ruleset_match - the index of the first rule that matches @pkt, or -1
 * when none does (the default applies). Any thread; reads @pkt->flow's
 * state only for rules with a state match (no flow: new).
 */
int ruleset_match(const struct ruleset *rs, const struct nfqe_pkt *pkt);

/* The action of rule @index, or of the default for -1. */
static inline const struct rule_action *
ruleset_action(const struct ruleset *rs, int index)
{
	return index < 0 ? &rs->dflt : &rs->rules[index].action;
}

/* Short name of an action type: "accept", "mark", ... */
const char *ruleset_action_name(unsigned type);

/* The name "proto" takes for protocol number @proto ("tcp", "gre", ...),
 * NULL for one without a name. */
const char *ruleset_proto_name(uint8_t proto);

#endif
