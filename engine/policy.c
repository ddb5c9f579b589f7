/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The policy: [rules] and [inspector NAME] sections in, an immutable
 * struct policy out, published to the workers under RCU.
 *
 * Per packet, policy_decide() loads the policy pointer once, then:
 *  1. the flow has a decision cached by this policy: apply it, done;
 *  2. else the first matching rule (ruleset.c) gives the action;
 *  3. a final action whose rule is cacheable (ruleset.h) is stored on the
 *     flow with flow_decision_set().
 *
 * A cached decision is two 32-bit words kept by the flow table:
 *
 *	verdict word	bits 0-7    NF_ACCEPT, NF_DROP, NF_REPEAT or NF_QUEUE
 *			bit  8      a mark is set (CD_SET_MARK)
 *			bit  9      offloaded (CD_OFFLOAD): call the offload
 *				    hook again, it writes the verdict
 *			bits 10-14  the policy generation (CD_GEN)
 *			bits 16-31  NF_QUEUE: the queue number, as in the
 *				    kernel's verdict; with CD_SET_MARK: the
 *				    index of the mark's mask in the policy
 *	mark word	the mark value (within its mask)
 *
 * The mask is looked up, not stored, because "mark N/MASK" keeps the
 * packet's other mark bits: every packet's new mark is computed from its
 * own queued mark.
 *
 * Reload without waiting. policy_reload() publishes the new policy and
 * returns; the old one is retired by call_rcu() after a grace period:
 * flowtable_decision_flush(), then free. Until then the generation does the
 * flush's work: a worker running the new policy ignores every decision
 * stored under another generation, including those a worker still running
 * the old policy stores during the grace period. A stale decision of
 * generation g lives at most until the retirement queued by the reload
 * that replaced g; reloads are refused while POLICY_PENDING_MAX
 * retirements wait, so the 5-bit generation cannot wrap onto a live one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>

#include <linux/netfilter.h>
#include <urcu-qsbr.h>

#include "flowtable.h"
#include "inspector.h"
#include "log.h"
#include "offload.h"
#include "policy.h"
#include "ruleset.h"
#include "tsan.h"
#include "worker.h"

#define CD_SET_MARK	0x100u
#define CD_OFFLOAD	0x200u
#define CD_GEN_SHIFT	10
#define CD_GEN_MASK	0x1fu
#define CD_ARG_SHIFT	16

#define INSPECTOR_PREFIX	"inspector"

/*
 * ThreadSanitizer: publishing a policy releases it, a reader acquires it
 * and releases TSAN_GRACE when done; a retirement acquires both before it
 * flushes and frees (tsan.h).
 */
static char policy_tsan_grace;
#define TSAN_GRACE	(&policy_tsan_grace)

/*
 * Per-rule packet counters, one row per queue (queues beyond the rows share
 * them modulo, hence relaxed atomic adds): a worker's counters stay in its
 * own cache lines. In a row: each rule's, the default's, the cached
 * decisions'.
 */
#define POLICY_HIT_ROWS	16
#define POLICY_LINE	64

struct policy {
	struct ruleset		*rs;
	struct inspector_set	*insp;
	struct inspector	**inspectors;	/* by ruleset inspector index */
	uint64_t		*hits;		/* POLICY_HIT_ROWS x hit_stride */
	unsigned		hit_stride;	/* counters a row, whole lines */
	uint32_t		gen;		/* 0..CD_GEN_MASK */
	/* retirement (policy_reload()) */
	struct policy_root	*root;
	struct rcu_head		rcu;
};

_Static_assert(POLICY_PENDING_MAX + 2 <= CD_GEN_MASK + 1,
	       "the generation must outlast the pending retirements");

struct policy_builder {
	struct ruleset		*rs;
	struct inspector_set	*insp;
	char			**sections;	/* NAMEs of [inspector NAME] */
	unsigned		nsections;
	struct offload_config	oc;		/* [offload] */
};

static bool builder_has_section(const struct policy_builder *b,
				const char *name)
{
	for (unsigned i = 0; i < b->nsections; i++)
		if (!strcmp(b->sections[i], name))
			return true;
	return false;
}

static int builder_add_section(struct policy_builder *b, const char *name)
{
	char **n;

	if (builder_has_section(b, name))
		return 0;
	n = realloc(b->sections, (b->nsections + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	b->sections = n;
	b->sections[b->nsections] = strdup(name);
	if (!b->sections[b->nsections])
		return -ENOMEM;
	b->nsections++;
	return 0;
}

static bool inspector_known(void *ctx, const char *name)
{
	return builder_has_section(ctx, name);
}

struct policy_builder *policy_builder_new(void)
{
	struct policy_builder *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->rs = ruleset_new();
	b->insp = inspector_set_new();
	if (!b->rs || !b->insp) {
		policy_builder_free(b);
		errno = ENOMEM;
		return NULL;
	}
	ruleset_set_inspector_check(b->rs, inspector_known, b);
	offload_config_defaults(&b->oc);
	return b;
}

const struct offload_config *
policy_builder_offload(const struct policy_builder *b)
{
	return &b->oc;
}

void policy_builder_free(struct policy_builder *b)
{
	if (!b)
		return;
	ruleset_free(b->rs);
	inspector_set_free(b->insp);
	for (unsigned i = 0; i < b->nsections; i++)
		free(b->sections[i]);
	free(b->sections);
	free(b);
}

static int rules_key(void *ctx, const char *section, const char *name,
		     const char *value, char *err, size_t errlen)
{
	struct policy_builder *b = ctx;
	char msg[400];
	int ret;

	if (!b->rs) {
		snprintf(err, errlen, "policy already built");
		return -1;
	}
	if (!strcmp(name, "rule"))
		ret = ruleset_add(b->rs, value, msg, sizeof(msg));
	else if (!strcmp(name, "default"))
		ret = ruleset_default(b->rs, value, msg, sizeof(msg));
	else {
		snprintf(err, errlen, "unknown key '%s' in [rules] (rule or "
			 "default)", name);
		return -1;
	}
	if (ret)
		snprintf(err, errlen, "%s: %s", name, msg);
	return ret;
}

static int inspector_key(void *ctx, const char *section, const char *name,
			 const char *value, char *err, size_t errlen)
{
	struct policy_builder *b = ctx;

	if (!b->insp) {
		snprintf(err, errlen, "policy already built");
		return -1;
	}
	if (builder_add_section(b, section + strlen(INSPECTOR_PREFIX) + 1)) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return inspector_set_key(b->insp, section, name, value, err, errlen);
}

/* The section parsers for config_load_ext(): [rules] and [inspector NAME].
 * Writes at most @max, returns how many. */
static unsigned policy_builder_parsers(struct policy_builder *b,
				       struct config_section_parser *ret,
				       unsigned max)
{
	const struct config_section_parser p[] = {
		{ "rules", false, rules_key, b },
		{ INSPECTOR_PREFIX, true, inspector_key, b },
		{ "offload", false, offload_config_key, &b->oc },
	};
	unsigned n = sizeof(p) / sizeof(p[0]);

	if (n > max)
		n = max;
	memcpy(ret, p, n * sizeof(p[0]));
	return n;
}

/*
 * Collect the [inspector NAME] headers as inih will read them (the text
 * between the brackets, untrimmed), so that a rule may name an inspector
 * whose section comes later in the file. An unreadable file is left to
 * config_load_ext() to report.
 */
static int prescan_sections(struct policy_builder *b, const char *path)
{
	const size_t plen = strlen(INSPECTOR_PREFIX);
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	int ret = 0;

	if (!f)
		return 0;
	while (!ret && getline(&line, &cap, f) > 0) {
		char *s = line, *end;

		while (*s == ' ' || *s == '\t')
			s++;
		if (*s != '[')
			continue;
		s++;
		end = strchr(s, ']');
		if (!end)
			continue;
		*end = '\0';
		if (!strncmp(s, INSPECTOR_PREFIX, plen) && s[plen] == ' ' &&
		    s[plen + 1])
			ret = builder_add_section(b, s + plen + 1);
	}
	free(line);
	fclose(f);
	return ret;
}

int policy_config_load(const char *path, struct nfqe_config *cfg,
		       struct policy_builder *b, char *err, size_t errlen)
{
	struct config_section_parser parsers[4];
	unsigned n;

	if (prescan_sections(b, path) < 0) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	n = policy_builder_parsers(b, parsers, 4);
	if (config_load_ext(path, cfg, parsers, n, err, errlen) < 0)
		return -1;
	return offload_config_check(&b->oc, err, errlen);
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	ruleset_free(p->rs);
	free(p->inspectors);
	free(p->hits);
	inspector_set_free(p->insp);
	free(p);
}

struct policy *policy_build(struct policy_builder *b, char *err,
			    size_t errlen)
{
	struct policy *p;
	struct ruleset *rs = b->rs;

	if (!rs || !b->insp) {
		snprintf(err, errlen, "policy already built from this builder");
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p || ruleset_compile(rs) < 0)
		goto err_nomem;
	/* rules, default, cached; rounded up to whole cache lines */
	p->hit_stride = (rs->nrules + 2 + POLICY_LINE / 8 - 1) &
			~(POLICY_LINE / 8 - 1);
	p->hits = aligned_alloc(POLICY_LINE, (size_t)POLICY_HIT_ROWS *
				p->hit_stride * sizeof(*p->hits));
	if (!p->hits)
		goto err_nomem;
	memset(p->hits, 0, (size_t)POLICY_HIT_ROWS * p->hit_stride *
	       sizeof(*p->hits));
	if (rs->ninspectors) {
		p->inspectors = calloc(rs->ninspectors,
				       sizeof(*p->inspectors));
		if (!p->inspectors)
			goto err_nomem;
	}
	if (inspector_set_load(b->insp, err, errlen) < 0) {
		errno = EINVAL;
		goto err_free;
	}
	for (unsigned i = 0; i < rs->ninspectors; i++) {
		p->inspectors[i] = inspector_set_find(b->insp,
						      rs->inspectors[i]);
		if (!p->inspectors[i]) {
			snprintf(err, errlen, "inspect %s: [inspector %s] "
				 "defines no inspector (no keys?)",
				 rs->inspectors[i], rs->inspectors[i]);
			errno = ENOENT;
			goto err_free;
		}
	}
	p->rs = rs;
	p->insp = b->insp;
	b->rs = NULL;
	b->insp = NULL;
	return p;

err_nomem:
	snprintf(err, errlen, "out of memory");
	errno = ENOMEM;
err_free:
	if (p) {
		free(p->inspectors);
		free(p->hits);
	}
	free(p);
	return NULL;
}

void policy_describe(const struct policy *p, char *ret, size_t len)
{
	const struct ruleset *rs;

	if (!p) {
		snprintf(ret, len, "no rules, default accept");
		return;
	}
	rs = p->rs;
	snprintf(ret, len, "%u rule%s, default %s, %u inspector%s in use",
		 rs->nrules, rs->nrules == 1 ? "" : "s",
		 ruleset_action_name(rs->dflt.type), rs->ninspectors,
		 rs->ninspectors == 1 ? "" : "s");
}

unsigned policy_rule_count(const struct policy *p)
{
	return p ? p->rs->nrules : 0;
}

const char *policy_rule_text(const struct policy *p, unsigned i)
{
	return p && i < p->rs->nrules ? p->rs->texts[i] : NULL;
}

const char *policy_default_text(const struct policy *p)
{
	return ruleset_action_name(p ? p->rs->dflt.type : RA_ACCEPT);
}

uint64_t policy_rule_hits(const struct policy *p, unsigned slot)
{
	uint64_t sum = 0;

	if (!p || slot >= p->rs->nrules + 2)
		return 0;
	for (unsigned row = 0; row < POLICY_HIT_ROWS; row++)
		sum += __atomic_load_n(&p->hits[row * p->hit_stride + slot],
				       __ATOMIC_RELAXED);
	return sum;
}

struct inspector_set *policy_inspectors(const struct policy *p)
{
	return p ? p->insp : NULL;
}

void policy_root_init(struct policy_root *root, struct flowtable *ft,
		      struct policy *p)
{
	root->ft = ft;
	root->pending = 0;
	tsan_release(p);
	rcu_assign_pointer(root->cur, p);
}

void policy_root_fini(struct policy_root *root)
{
	bool online = rcu_read_ongoing();

	if (online)
		rcu_thread_offline();
	rcu_barrier();		/* every retirement has run */
	if (online)
		rcu_thread_online();
	/* pairs with the retirements' release: their accesses come first */
	(void)__atomic_load_n(&root->pending, __ATOMIC_ACQUIRE);
	policy_free(root->cur);
	root->cur = NULL;
}

/* call_rcu(): no worker decides with @head's policy any more, so no
 * decision of it can be stored after this flush. */
static void policy_retire_rcu(struct rcu_head *head)
{
	struct policy *old = caa_container_of(head, struct policy, rcu);
	struct policy_root *root;

	tsan_acquire(old);		/* call_rcu()'s hand-over */
	tsan_acquire(TSAN_GRACE);
	root = old->root;
	if (root->ft)
		flowtable_decision_flush(root->ft);
	policy_free(old);
	__atomic_sub_fetch(&root->pending, 1, __ATOMIC_RELEASE);
}

int policy_reload(struct policy_root *root, struct policy *next)
{
	struct policy *old = root->cur;

	if (__atomic_load_n(&root->pending, __ATOMIC_ACQUIRE) >=
	    POLICY_PENDING_MAX)
		return -EBUSY;
	if (next)
		next->gen = old ? (old->gen + 1) & CD_GEN_MASK : 1;
	tsan_release(next);
	old = rcu_xchg_pointer(&root->cur, next);
	if (!old)
		return 0;	/* no policy cached anything */
	old->root = root;
	__atomic_add_fetch(&root->pending, 1, __ATOMIC_RELAXED);
	tsan_release(old);
	call_rcu(&old->rcu, policy_retire_rcu);
	return 0;
}

bool policy_inspect_verdict(enum inspect_result res, uint32_t mark,
			    struct nfqe_verdict *ret)
{
	bool final = res == INSPECT_FLOW_ACCEPT || res == INSPECT_FLOW_DROP ||
		     res == INSPECT_FLOW_MARK;

	switch (res) {
	case INSPECT_DROP:
	case INSPECT_FLOW_DROP:
		ret->verdict = NF_DROP;
		return final;
	case INSPECT_MARK:
	case INSPECT_FLOW_MARK:
		ret->mark = mark;
		ret->set_mark = true;
		/* fall through */
	case INSPECT_FLOW_ACCEPT:
		ret->verdict = NF_ACCEPT;
		return final;
	case INSPECT_ACCEPT:
	case INSPECT_MORE:
	default:
		ret->verdict = NF_ACCEPT;
		return false;
	}
}

/* Apply the decision @cv/@cm cached on the flow; false when it is not one
 * of @p's (then @ret is untouched). */
static inline bool cached_apply(const struct policy_root *root,
				const struct policy *p, uint32_t cv,
				uint32_t cm, const struct nfqe_pkt *pkt,
				struct nfqe_verdict *ret)
{
	uint32_t verdict = cv & NF_VERDICT_MASK;

	if (((cv >> CD_GEN_SHIFT) & CD_GEN_MASK) != p->gen)
		return false;
	if (cv & CD_OFFLOAD) {
		offload_flow(root->offload, pkt, ret);
		return true;
	}
	if (verdict == NF_QUEUE) {
		ret->verdict = (cv & NF_VERDICT_QMASK) | NF_QUEUE;
		return true;
	}
	if (cv & CD_SET_MARK) {
		uint32_t idx = cv >> CD_ARG_SHIFT, mask;

		if (idx >= p->rs->nmasks)
			return false;
		mask = p->rs->masks[idx];
		ret->mark = (pkt->mark & ~mask) | cm;
		ret->set_mark = true;
	}
	ret->verdict = verdict;
	return true;
}

static inline void set_mark(const struct rule_action *a,
			    const struct nfqe_pkt *pkt,
			    struct nfqe_verdict *ret)
{
	ret->mark = (pkt->mark & ~a->mask) | a->mark;
	ret->set_mark = true;
}

void policy_log_line(char *buf, size_t len, int index, const char *what,
		     const struct nfqe_pkt *pkt)
{
	const struct pkt_info *pi = pkt->info;
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], who[32];
	char proto[16], sport[16] = "", dport[16] = "";
	bool v6 = pi->family == AF_INET6;
	const char *l = v6 ? "[" : "", *r = v6 ? "]" : "";

	if (index < 0)
		snprintf(who, sizeof(who), "default");
	else
		snprintf(who, sizeof(who), "rule %d", index + 1);
	inet_ntop(pi->family, &pi->src, src, sizeof(src));
	inet_ntop(pi->family, &pi->dst, dst, sizeof(dst));
	if (ruleset_proto_name(pi->l4proto))
		snprintf(proto, sizeof(proto), "%s",
			 ruleset_proto_name(pi->l4proto));
	else
		snprintf(proto, sizeof(proto), "proto %u", pi->l4proto);
	if (pkt_has_ports(pi)) {
		snprintf(sport, sizeof(sport), ":%u", pi->sport);
		snprintf(dport, sizeof(dport), ":%u", pi->dport);
	} else {
		l = r = "";
	}
	snprintf(buf, len, "%s (%s): %s %s%s%s%s -> %s%s%s%s on queue %u",
		 who, what, proto, l, src, r, sport, l,
		 dst, r, dport, pkt->queue);
}

/* A "log" rule decided @pkt (@what: policy_log_line()): its line, unless
 * POLICY_LOG_RATE lines were written this second already (then counted).
 * Any worker. */
static void log_decision(struct policy_root *root, int index,
			 const char *what, const struct nfqe_pkt *pkt)
{
	struct timespec ts;
	uint64_t second, seen;
	char line[256];

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	second = (uint64_t)ts.tv_sec;
	seen = __atomic_load_n(&root->log_second, __ATOMIC_RELAXED);
	/* a new second: the one worker that moves it on resets the count
	 * (others racing it may get a line or two more: a bound, not a
	 * budget) */
	if (seen != second &&
	    __atomic_compare_exchange_n(&root->log_second, &seen, second,
					false, __ATOMIC_RELAXED,
					__ATOMIC_RELAXED))
		__atomic_store_n(&root->log_in_second, 0, __ATOMIC_RELAXED);
	if (__atomic_fetch_add(&root->log_in_second, 1, __ATOMIC_RELAXED) >=
	    POLICY_LOG_RATE) {
		__atomic_fetch_add(&root->log_suppressed, 1, __ATOMIC_RELAXED);
		return;
	}
	__atomic_fetch_add(&root->log_written, 1, __ATOMIC_RELAXED);
	policy_log_line(line, sizeof(line), index, what, pkt);
	log_info("%s", line);
}

/* An inspect rule with "log": its inspector dropped @pkt (or its flow). */
static void log_inspect_drop(struct policy_root *root, int index,
			     const struct inspector *in,
			     enum inspect_result res,
			     const struct nfqe_pkt *pkt)
{
	char what[96];

	snprintf(what, sizeof(what), "inspect %s: %s", inspector_name(in),
		 res == INSPECT_FLOW_DROP ? "flow_drop" : "drop");
	log_decision(root, index, what, pkt);
}

/* Count a packet for counter @slot of @p (policy_rule_hits()). */
static inline void hit(const struct policy *p, const struct nfqe_pkt *pkt,
		       unsigned slot)
{
	__atomic_fetch_add(&p->hits[(pkt->queue % POLICY_HIT_ROWS) *
				    p->hit_stride + slot], 1,
			   __ATOMIC_RELAXED);
}

static inline void decide(struct policy_root *root,
			  const struct policy *p, const struct nfqe_pkt *pkt,
			  struct nfqe_verdict *ret)
{
	struct flow *flow = root->ft ? pkt->flow : NULL;
	const struct rule_action *a;
	uint32_t cv, cm, mask_index = 0, mark = 0;
	enum inspect_result res;
	bool final = true, offloaded = false;
	int index;

	if (flow && !flow_decision_get(root->ft, flow, &cv, &cm) &&
	    cached_apply(root, p, cv, cm, pkt, ret)) {
		hit(p, pkt, p->rs->nrules + 1);
		return;
	}
	index = ruleset_match(p->rs, pkt);
	hit(p, pkt, index < 0 ? p->rs->nrules : (unsigned)index);
	a = ruleset_action(p->rs, index);
	/* an inspect rule logs what its inspector drops, below */
	if (a->log && a->type != RA_INSPECT)
		log_decision(root, index, ruleset_action_name(a->type), pkt);
	switch (a->type) {
	case RA_ACCEPT:
		ret->verdict = NF_ACCEPT;
		break;
	case RA_DROP:
		ret->verdict = NF_DROP;
		break;
	case RA_MARK:
	case RA_REPEAT:
		ret->verdict = a->type == RA_MARK ? NF_ACCEPT : NF_REPEAT;
		set_mark(a, pkt, ret);
		mask_index = a->mask_index;
		mark = a->mark;
		break;
	case RA_QUEUE:
		ret->verdict = NF_QUEUE_NR((uint32_t)a->queue);
		break;
	case RA_OFFLOAD:
		final = offload_decide(root->offload, pkt, ret);
		offloaded = true;
		break;
	case RA_INSPECT:
		res = inspector_inspect(p->inspectors[a->inspector], pkt,
					&mark);
		final = policy_inspect_verdict(res, mark, ret);
		if (a->log && (res == INSPECT_DROP || res == INSPECT_FLOW_DROP))
			log_inspect_drop(root, index, p->inspectors[a->inspector],
					 res, pkt);
		if (res == INSPECT_FLOW_ACCEPT && root->offload) {
			/* the plug-in has seen enough: the kernel takes the
			 * rest of the flow */
			offload_flow(root->offload, pkt, ret);
			offloaded = true;
		}
		break;
	default:
		ret->verdict = NF_ACCEPT;
		final = false;
		break;
	}
	if (!final || !flow || !a->cacheable)
		return;
	cv = ret->verdict | p->gen << CD_GEN_SHIFT;
	if (offloaded) {
		/* the hook decides again for every later packet */
		cv = NF_ACCEPT | CD_OFFLOAD | p->gen << CD_GEN_SHIFT;
		mark = 0;
	} else if (ret->set_mark && (a->type == RA_MARK || a->type == RA_REPEAT)) {
		cv |= CD_SET_MARK | mask_index << CD_ARG_SHIFT;
	} else if (ret->set_mark) {
		/* a hook's mark: the whole mark, mask index 0 */
		cv |= CD_SET_MARK;
		mark = ret->mark;
	} else {
		mark = 0;
	}
	flow_decision_set(root->ft, flow, cv, mark);
}

void policy_decide(void *ctx, const struct nfqe_pkt *pkt,
		   struct nfqe_verdict *ret)
{
	struct policy_root *root = ctx;
	const struct policy *p = rcu_dereference(root->cur);

	if (!p)
		return;		/* no policy: the preset accept */
	tsan_acquire(p);
	decide(root, p, pkt, ret);
	tsan_release(TSAN_GRACE);
}
