// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The policy seam. The worker calls policy_decide() once per well-formed
 * packet with the verdict preset to accept without a mark; rules and
 * inspector plug-ins will decide here.
 */
#include "engine.h"

void policy_decide(void *ctx, const struct nfqe_pkt *pkt,
		   struct nfqe_verdict *ret)
{
	/* accept all: leave the preset verdict */
}
