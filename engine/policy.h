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
 * The grammar and the matcher are in ruleset.h; this is the glue: config
 * sections, plug-ins, per-flow caching, RCU publication.
 *
 * Building: policy_builder_new(), policy_config_load() (config_load_ext()
 * with policy_builder_parsers(), so every error carries file:line), then
 * policy_build(). A failed build leaves the running policy alone.
 *
 * Caching. A final decision (accept, drop, mark, repeat mark, queue,
 * offload, an inspector's FLOW_ACCEPT/FLOW_DROP) is stored on the packet's
 * flow when its rule and every rule before it use no "state" match; the
 * default is cached when no rule uses "state". Later packets of the flow,
 * in both directions, get the stored decision without rule evaluation
 * (a mark with a mask is applied again to each packet's own mark). Other
 * inspector results are never cached. A reload forgets every stored
 * decision.
 */
#ifndef NFQE_POLICY_H
#define NFQE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "inspector.h"

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

/* An empty builder: no rules, default accept. NULL with errno ENOMEM. */
struct policy_builder *policy_builder_new(void);
/* NULL is fine; so is a builder policy_build() has consumed. */
void policy_builder_free(struct policy_builder *b);

/*
 * The section parsers for config_load_ext(): [rules] and [inspector NAME].
 * Writes at most @max, returns how many.
 */
unsigned policy_builder_parsers(struct policy_builder *b,
				struct config_section_parser *ret,
				unsigned max);

/*
 * policy_config_load - config_load_ext() of @path with the policy's
 * parsers. It first reads the [inspector NAME] headers of @path, so that
 * "inspect NAME" can be checked (with file:line) wherever in the file the
 * section is. Returns 0, or -1 with every "file:line: message" in @err.
 * Interface names are resolved here: an unknown one is an error.
 */
int policy_config_load(const char *path, struct nfqe_config *cfg,
		       struct policy_builder *b, char *err, size_t errlen);

/*
 * Compile what was parsed and load the plug-ins. The builder gives up its
 * content (free it afterwards). NULL with @err and errno on failure.
 */
struct policy *policy_build(struct policy_builder *b, char *err,
			    size_t errlen);

/* Free a policy no worker can see any more (after a grace period). NULL is
 * fine. */
void policy_free(struct policy *p);

/* Short description for the log: "12 rules, default accept, 2 inspectors". */
void policy_describe(const struct policy *p, char *ret, size_t len);

/* Publish @p (may be NULL: accept all) as the first policy. Before the
 * workers start. */
void policy_root_init(struct policy_root *root, struct flowtable *ft,
		      struct policy *p);

/* Free the current policy. Once no worker runs any more. */
void policy_root_fini(struct policy_root *root);

/*
 * policy_reload - publish @next in place of the current policy: exchange
 * the pointer, wait for a grace period (no worker decides with the old
 * policy any more), forget every decision cached on flows, free the old
 * policy. Packets keep flowing throughout; a worker sees either policy for
 * a whole packet. Returns 0.
 * Context: a registered QSBR thread holding no RCU pointer (the engine's
 * main thread), one reload at a time.
 */
int policy_reload(struct policy_root *root, struct policy *next);

/*
 * policy_decide - the worker's decide step (worker_decide_fn); @ctx is a
 * struct policy_root. Worker thread, online QSBR reader. A flow with a
 * cached decision costs a pointer load and the flow's decision words; no
 * allocation ever.
 */
void policy_decide(void *ctx, const struct nfqe_pkt *pkt,
		   struct nfqe_verdict *ret);

/*
 * policy_offload - the seam for the kernel bypass of the "offload" action,
 * called for the first packet of a flow a rule offloads (later packets get
 * the cached decision and never reach it). Today it only accepts; the
 * offload work will program the bypass for @pkt->flow here. It must write
 * a final verdict into @ret, which is cached on the flow.
 * Context: as policy_decide().
 */
void policy_offload(const struct policy_root *root, const struct policy *p,
		    const struct nfqe_pkt *pkt, struct nfqe_verdict *ret);

/*
 * policy_inspect_verdict - what an inspector's result @res (and @mark for
 * INSPECT_MARK) means for the packet: writes @ret, returns true when the
 * decision is final for the flow (INSPECT_FLOW_*). Exposed for the tests.
 */
bool policy_inspect_verdict(enum inspect_result res, uint32_t mark,
			    struct nfqe_verdict *ret);

#endif
