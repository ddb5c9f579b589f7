// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * example - the tutorial plug-in: a per-flow payload byte budget.
 *
 * A flow may carry max_bytes bytes of payload (both directions together);
 * the packet that goes over the budget, and every later packet of the
 * flow, is dropped (or, with mark = N, the flow is marked instead).
 *
 *	[inspector budget]
 *	path = example.so
 *	max_bytes = 100000
 *	mark = 0x20                 ; optional: mark instead of drop
 *	on_error = accept           ; nfqe's key: what an ERROR return means
 *
 *	[rules]
 *	rule = proto tcp dport 80 inspect budget
 *
 * Build a plug-in of your own outside nfqe's tree with:
 *
 *	cc -O2 -fPIC -shared -fvisibility=hidden \
 *		$(pkg-config --cflags nfqe) -o budget.so example.c
 *
 * Everything a plug-in can use is in <nfqe/inspector.h>; nfqe exports no
 * functions to plug-ins (they are loaded with RTLD_LOCAL and must link
 * whatever libraries they need themselves).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The one header of the ABI. */
#include <nfqe/inspector.h>

/*
 * An instance: made by init from one [inspector NAME] section. Two
 * sections with the same path give two instances of this plug-in in one
 * process, so keep configuration here and not in globals.
 *
 * Every worker thread calls inspect with the same instance at the same
 * time, so after init the instance is read-only.
 */
struct example {
	uint64_t	max_bytes;
	uint32_t	mark;
	int		use_mark;
};

/*
 * Per-flow state: what the flow slot points to. nfqe stores the pointer
 * with the flow and hands it back on every packet of that flow, and to
 * flow_free when the flow ends. Calls for one flow never overlap, so no
 * locking is needed here.
 */
struct example_flow {
	uint64_t	bytes;
};

static int parse_u64(const char *key, const char *s, uint64_t *ret, char *err,
		     size_t errlen)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (!*s || *end || errno || *s == '-') {
		/* The message names the key; nfqe adds the section name. */
		snprintf(err, errlen, "%s: '%s' is not a number", key, s);
		return -1;
	}
	*ret = v;
	return 0;
}

/*
 * init: parse the section's keys (in file order; nfqe's own keys path and
 * on_error are not among them) and return the instance. On any problem
 * return NULL with a message: nfqe refuses to start (or keeps the old
 * configuration on a reload). Unknown keys should be errors: a typo must
 * not silently disable a check.
 */
static void *example_init(const struct nfqe_kv *kv, unsigned nkv, char *err,
			  size_t errlen)
{
	struct example *ex = calloc(1, sizeof(*ex));
	uint64_t v;

	if (!ex) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (unsigned i = 0; i < nkv; i++) {
		if (!strcmp(kv[i].key, "max_bytes")) {
			if (parse_u64(kv[i].key, kv[i].value, &ex->max_bytes,
				      err, errlen) < 0)
				goto err_free;
		} else if (!strcmp(kv[i].key, "mark")) {
			if (parse_u64(kv[i].key, kv[i].value, &v, err,
				      errlen) < 0)
				goto err_free;
			if (v > UINT32_MAX) {
				snprintf(err, errlen, "mark: above 2^32");
				goto err_free;
			}
			ex->mark = (uint32_t)v;
			ex->use_mark = 1;
		} else {
			snprintf(err, errlen, "unknown key '%s' (max_bytes, "
				 "mark)", kv[i].key);
			goto err_free;
		}
	}
	if (!ex->max_bytes) {
		snprintf(err, errlen, "max_bytes = N is required");
		goto err_free;
	}
	return ex;

err_free:
	free(ex);
	return NULL;
}

/*
 * inspect: the data path. Decide quickly, never block. The packet view is
 * valid during this call only.
 *
 * flow_slot is NULL when nfqe has no flow record for the packet (flow
 * table full or disabled): decide from the packet alone. Otherwise
 * *flow_slot is ours: NULL on the flow's first packet, then whatever we
 * stored. Allocating it here, once per flow, is the one allocation a
 * plug-in may make on the data path.
 */
static enum nfqe_insp_verdict example_inspect(void *instance,
					      const struct nfqe_insp_packet *pkt,
					      void **flow_slot,
					      uint32_t *ret_mark)
{
	const struct example *ex = instance;
	struct example_flow *f;

	if (!flow_slot)
		/* No flow, no budget: one packet alone can still be over. */
		return pkt->payload_len > ex->max_bytes ? NFQE_INSP_DROP :
							  NFQE_INSP_ACCEPT;
	f = *flow_slot;
	if (!f) {
		f = calloc(1, sizeof(*f));
		if (!f)
			/* on_error decides this packet; the next one of the
			 * flow tries again */
			return NFQE_INSP_ERROR;
		*flow_slot = f;
	}
	f->bytes += pkt->payload_len;
	if (f->bytes <= ex->max_bytes)
		/* Undecided: accept this packet, show us the next ones. */
		return NFQE_INSP_NEED_MORE;
	/*
	 * Over budget: a final verdict. nfqe applies it to the rest of the
	 * flow without calling us again, and the slot is freed with the
	 * flow (not now).
	 */
	if (ex->use_mark) {
		*ret_mark = ex->mark;
		return NFQE_INSP_FLOW_MARK;
	}
	return NFQE_INSP_FLOW_DROP;
}

/*
 * flow_free: the flow ended (idle timeout, eviction, nfqe stopping) or
 * another instance took it over after a reload. Any thread.
 */
static void example_flow_free(void *instance, void *slot)
{
	free(slot);
}

/* fini: after the last inspect and flow_free of this instance. */
static void example_fini(void *instance)
{
	free(instance);
}

/*
 * The descriptor: static and constant. abi_version is what this file was
 * compiled against; nfqe refuses to load a plug-in whose version differs
 * from its own.
 */
static const struct nfqe_inspector example_inspector = {
	.abi_version	= NFQE_INSPECTOR_ABI_VERSION,
	.name		= "example",
	.init		= example_init,
	.inspect	= example_inspect,
	.flow_free	= example_flow_free,
	.fini		= example_fini,
};

/* The one exported symbol. */
NFQE_INSPECTOR_EXPORT const struct nfqe_inspector *nfqe_inspector_entry(void)
{
	return &example_inspector;
}
