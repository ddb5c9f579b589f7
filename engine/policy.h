/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy.h - what happens to packets: ordered rules from the config file,
 * compiled once into an immutable struct policy that the engine publishes
 * under RCU, plus decisions cached per flow in the flow table.
 *
 *	[rules]
 *	rule = proto tcp dport 22 src 10.0.0.0/8 accept
 *	rule = proto udp dport 53 inspect dns
 *	rule = state new iif eth0 drop
 *	default = accept
 *
 * Building: policy_builder_new(), pass policy_builder_parsers() to
 * config_load_ext() (so every error carries file:line), then
 * policy_build(). A failed build leaves the running policy alone.
 */
#ifndef NFQE_POLICY_H
#define NFQE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct nfqe_pkt;
struct nfqe_verdict;
struct flowtable;
struct policy;
struct policy_builder;

/* What the engine hands to policy_decide() as its context. */
struct policy_root {
	struct policy		*cur;	/* RCU-published; rcu_dereference() */
	struct flowtable	*ft;	/* NULL: no decision caching */
};

struct policy_builder *policy_builder_new(void);
void policy_builder_free(struct policy_builder *b);

/*
 * The section parsers for config_load_ext(): [rules], [inspector NAME] and
 * any other section the policy owns. Writes at most @max, returns how many.
 */
unsigned policy_builder_parsers(struct policy_builder *b,
				struct config_section_parser *ret,
				unsigned max);

/* Compile what was parsed (loads plug-ins). NULL with @err on failure. */
struct policy *policy_build(struct policy_builder *b, char *err,
			    size_t errlen);

/* Free a policy no worker can see any more (after a grace period). */
void policy_free(struct policy *p);

/* Short description for the log: "12 rules, default accept, 2 inspectors". */
void policy_describe(const struct policy *p, char *ret, size_t len);

/*
 * policy_decide - the worker's decide step (worker_decide_fn); @ctx is a
 * struct policy_root. Worker thread, online QSBR reader.
 */
void policy_decide(void *ctx, const struct nfqe_pkt *pkt,
		   struct nfqe_verdict *ret);

#endif
