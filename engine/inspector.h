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
};

struct inspector_set *inspector_set_new(void);
/* Free the set and drop its references to instances. NULL is fine. */
void inspector_set_free(struct inspector_set *set);

/* A key of section "[inspector NAME]": for config_section_parser. */
int inspector_set_key(void *set, const char *section, const char *name,
		      const char *value, char *err, size_t errlen);

/* Load and initialise every configured plug-in. 0 or -1 with @err. */
int inspector_set_load(struct inspector_set *set, char *err, size_t errlen);

/* The instance called NAME, or NULL. The pointer lives as long as @set. */
struct inspector *inspector_set_find(struct inspector_set *set,
				     const char *name);

/*
 * inspector_inspect - run @in on @pkt (worker thread, online QSBR reader;
 * @pkt->flow may be NULL). Per-flow plug-in state lives in the flow's slot.
 * Returns the result; *@ret_mark is set for INSPECT_MARK.
 */
enum inspect_result inspector_inspect(struct inspector *in,
				      const struct nfqe_pkt *pkt,
				      uint32_t *ret_mark);

/* The flow table's slot_free callback (set in flowtable_params). */
void inspector_slot_free(void *slot, void *arg);

#endif
