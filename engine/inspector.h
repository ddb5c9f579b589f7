/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * inspector.h - the engine's side of the plug-in ABI (include/nfqe/
 * inspector.h): load a plug-in with dlopen(), check its ABI version, run
 * its per-packet inspect under the policy, free its per-flow state.
 *
 * An inspector instance is configured by an [inspector NAME] section:
 *	[inspector NAME]
 *	path = /usr/lib/nfqe/content.so
 *	on_error = accept | drop      ; plug-in returned an error
 *	KEY = VALUE ...               ; passed to the plug-in's init
 *
 * Instances are reference counted: a reload builds new instances, and an
 * old one is finalised once no policy and no flow slot refers to it.
 *
 * A path without a '/' is looked up in NFQE_PLUGINDIR. The plug-in is
 * opened (and its ABI version checked) when the path key is read, so
 * config_load_ext() puts that line's file:line on the error; init runs in
 * inspector_set_load(), once the whole section is known.
 *
 * Per flow, the table's slot holds a small wrapper: a reference to the
 * instance, the plug-in's own slot, how many packets the instance saw and
 * its final result. A flow keeps the state of one instance: when another
 * instance (after a reload, or a second rule) inspects it, the old
 * instance's slot is freed and the new one starts afresh.
 */
#ifndef NFQE_INSPECTOR_ENGINE_H
#define NFQE_INSPECTOR_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nfqe_pkt;
struct flowtable;
struct inspector;
struct inspector_set;	/* the [inspector NAME] sections of one config */

/* What an inspection decided for this packet (and maybe the flow). */
enum inspect_result {
	INSPECT_ACCEPT,		/* accept this packet, inspect the next ones */
	INSPECT_DROP,		/* drop this packet, inspect the next ones */
	INSPECT_MARK,		/* accept with *ret_mark */
	INSPECT_MORE,		/* accept it; the plug-in needs more packets */
	INSPECT_FLOW_ACCEPT,	/* final: accept the whole flow */
	INSPECT_FLOW_DROP,	/* final: drop the whole flow */
	INSPECT_FLOW_MARK,	/* final: accept the whole flow with *ret_mark */
	INSPECT_RESULT_MAX,
};

/* Per-instance counters (relaxed atomics, any thread may read them). */
struct inspector_stats {
	uint64_t	packets;		/* inspector_inspect() calls */
	uint64_t	results[INSPECT_RESULT_MAX];
	uint64_t	errors;			/* NFQE_INSP_ERROR or out of range */
	uint64_t	cached;			/* answered from the flow's final
						 * result, plug-in not called */
	uint64_t	slot_rebinds;		/* a flow's slot taken over from
						 * another instance */
};

struct inspector_set *inspector_set_new(void);
/* Free the set and drop its references to instances. NULL is fine. */
void inspector_set_free(struct inspector_set *set);

/* A key of section "[inspector NAME]": for config_section_parser. */
int inspector_set_key(void *set, const char *section, const char *name,
		      const char *value, char *err, size_t errlen);

/* Load and initialise every configured plug-in. 0 or -1 with @err. */
int inspector_set_load(struct inspector_set *set, char *err, size_t errlen);

/* Number of instances in @set; inspector_set_at() walks them. */
unsigned inspector_set_count(const struct inspector_set *set);
struct inspector *inspector_set_at(struct inspector_set *set, unsigned i);

/* The instance called NAME, or NULL. The pointer lives as long as @set. */
struct inspector *inspector_set_find(struct inspector_set *set,
				     const char *name);

/*
 * inspector_inspect - run @in on @pkt (worker thread, online QSBR reader;
 * @pkt->flow may be NULL). Per-flow plug-in state lives in the flow's slot.
 * Returns the result; *@ret_mark is set for INSPECT_MARK and
 * INSPECT_FLOW_MARK. Once a flow got a final result (INSPECT_FLOW_*) the
 * same result comes back for its later packets without calling the
 * plug-in, so caching it in the flow table is an optimisation only. A
 * plug-in error becomes INSPECT_ACCEPT or INSPECT_DROP (on_error).
 * Allocates only on a flow's first inspected packet (the slot wrapper).
 */
enum inspect_result inspector_inspect(struct inspector *in,
				      const struct nfqe_pkt *pkt,
				      uint32_t *ret_mark);

/* The flow table's slot_free callback (set in flowtable_params). */
void inspector_slot_free(void *slot, void *arg);

/* The section's NAME and the plug-in's own name ("content"). */
const char *inspector_name(const struct inspector *in);
const char *inspector_plugin_name(const struct inspector *in);

/* Copy the counters of @in. Any thread. */
void inspector_stats_read(const struct inspector *in,
			  struct inspector_stats *ret);

#endif
