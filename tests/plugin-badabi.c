// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A plug-in built for an ABI version this nfqe does not have: the loader
 * must refuse it before calling anything else in it.
 */
#include <stdlib.h>

#include <nfqe/inspector.h>

static void *badabi_init(const struct nfqe_kv *kv, unsigned nkv, char *err,
			 size_t errlen)
{
	abort();	/* never reached: the version check comes first */
}

static enum nfqe_insp_verdict badabi_inspect(void *instance,
					     const struct nfqe_insp_packet *pkt,
					     void **flow_slot,
					     uint32_t *ret_mark)
{
	abort();
}

static const struct nfqe_inspector badabi = {
	.abi_version	= NFQE_INSPECTOR_ABI_VERSION + 1,
	.name		= "badabi",
	.init		= badabi_init,
	.inspect	= badabi_inspect,
};

NFQE_INSPECTOR_EXPORT const struct nfqe_inspector *nfqe_inspector_entry(void)
{
	return &badabi;
}
