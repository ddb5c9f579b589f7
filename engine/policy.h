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
 * offload, an inspector's FLOW_ACCEPT/FLOW_DROP/FLOW_MARK) is stored on the
 * packet's
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
struct offload;
struct policy;
struct policy_builder;
struct offload_config;

/* What the engine hands to policy_decide() as its context. */
struct policy_root {
	struct policy		*cur;	/* RCU-published; rcu_dereference() */
	struct flowtable	*ft;	/* NULL: no decision caching */
	struct offload		*offload; /* NULL: "offload" only accepts */
	unsigned		pending; /* replaced policies not yet retired */
	/* rules with "log": at most POLICY_LOG_RATE lines a second */
	uint64_t		log_second;	/* CLOCK_MONOTONIC second */
	uint32_t		log_in_second;	/* lines asked for in it */
	uint64_t		log_written;
	uint64_t		log_suppressed;
};

#define POLICY_LOG_RATE	20

/*
 * policy_log_line - the line a "log" rule writes for @pkt: "rule N
 * (WHAT): PROTO SRC[:PORT] -> DST[:PORT] on queue Q" (@index < 0: "default
 * (WHAT)"); WHAT is the action ("drop"), or for an inspect rule the
 * inspector and its result ("inspect web: flow_drop"); IPv6 addresses in
 * brackets when a port follows. Into @buf, always terminated.
 */
void policy_log_line(char *buf, size_t len, int index, const char *what,
		     const struct nfqe_pkt *pkt);

/* Reloads that may wait for their grace period at once; more: -EBUSY. */
#define POLICY_PENDING_MAX	8

/* An empty builder: no rules, default accept. NULL with errno ENOMEM. */
struct policy_builder *policy_builder_new(void);
/* NULL is fine; so is a builder policy_build() has consumed. */
void policy_builder_free(struct policy_builder *b);


/*
 * policy_config_load - config_load_ext() of @path with the policy's
 * parsers. It first reads the [inspector NAME] headers of @path, so that
 * "inspect NAME" can be checked (with file:line) wherever in the file the
 * section is. Returns 0, or -1 with every "file:line: message" in @err.
 * Interface names are resolved here: an unknown one is an error.
 */
int policy_config_load(const char *path, struct nfqe_config *cfg,
		       struct policy_builder *b, char *err, size_t errlen);

/* The [offload] section as parsed (defaults if none); valid as long as
 * @b. */
const struct offload_config *
policy_builder_offload(const struct policy_builder *b);

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

/*
 * policy_inspectors - the [inspector NAME] instances of @p (NULL: none),
 * for their counters (inspector_set_count(), inspector_set_at()). Valid
 * as long as @p: a caller that got @p with rcu_dereference() reads the
 * set inside its read-side section (an online QSBR reader, such as the
 * engine's main thread outside poll()).
 */
struct inspector_set *policy_inspectors(const struct policy *p);

/*
 * The [rules] list of @p (NULL: none) and what it decided. Rules are
 * numbered from 0 in config order; policy_rule_text() is the rule as
 * written (NULL past the end), policy_default_text() the default's action.
 * policy_rule_hits() sums counter @slot over the queues: for a slot below
 * policy_rule_count(@p) the packets that rule decided (its first match),
 * then at the count those none matched (the default), one past it those
 * decided from their flow's cached decision (no rule evaluated); 0 past
 * that or for NULL. They start at zero with each policy (a reload). Same
 * context as policy_inspectors().
 */
unsigned policy_rule_count(const struct policy *p);
const char *policy_rule_text(const struct policy *p, unsigned i);
const char *policy_default_text(const struct policy *p);
uint64_t policy_rule_hits(const struct policy *p, unsigned slot);

/* Publish @p (may be NULL: accept all) as the first policy. Before the
 * workers start. */
void policy_root_init(struct policy_root *root, struct flowtable *ft,
		      struct policy *p);

/*
 * Wait for the replaced policies to be retired (rcu_barrier()), then free
 * the current one. Once no worker runs any more; the flow table must still
 * exist. Context: registered thread, holding no RCU pointer.
 */
void policy_root_fini(struct policy_root *root);

/*
 * policy_reload - publish @next in place of the current policy.
 *
 * The pointer is exchanged (rcu_xchg_pointer()); from the next packet on a
 * worker decides with @next, and decisions the old policy cached on flows
 * are ignored at once (each carries its policy's generation). After a
 * grace period, in liburcu's call_rcu thread, every cached decision is
 * flushed (flowtable_decision_flush()) and the old policy freed. The
 * caller never waits for the grace period: a worker stuck in a decide step
 * must not stall the main loop (and its watchdog), as for the tunables.
 * Queues stay bound; no packet is held back.
 *
 * Returns 0, or -EBUSY when POLICY_PENDING_MAX replaced policies still
 * wait for a grace period (a worker is stuck): then nothing changed and
 * @next still belongs to the caller.
 * Context: a registered QSBR thread (the engine's main thread), one reload
 * at a time.
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
 * policy_inspect_verdict - what an inspector's result @res (and @mark for
 * INSPECT_MARK) means for the packet: writes @ret, returns true when the
 * decision is final for the flow (INSPECT_FLOW_*). Exposed for the tests.
 */
bool policy_inspect_verdict(enum inspect_result res, uint32_t mark,
			    struct nfqe_verdict *ret);

#endif
