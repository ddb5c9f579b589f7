/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * nfqe/inspector.h - the inspector plug-in ABI of nfqe (installed header).
 *
 * A plug-in is a shared object that nfqe loads with
 * dlopen(RTLD_NOW | RTLD_LOCAL) for each [inspector NAME] section of its
 * configuration. It exports one function:
 *
 *	NFQE_INSPECTOR_EXPORT const struct nfqe_inspector *
 *	nfqe_inspector_entry(void);
 *
 * returning a static struct nfqe_inspector whose first member is
 * NFQE_INSPECTOR_ABI_VERSION as the plug-in was compiled. nfqe refuses a
 * plug-in built for another ABI version. Any change to a struct or a
 * function type in this header bumps the version: there is no minor
 * version and no size negotiation.
 *
 * Threads. One instance (the return value of init) serves every worker
 * thread at once: inspect runs concurrently for different flows, so the
 * instance must be read-only after init (or use atomics). For one flow,
 * nfqe serialises the calls: inspect never runs twice at the same time
 * with the same flow slot. inspect runs in the data path: it must not
 * block, sleep or take locks shared with slow paths, and it must not
 * allocate except for a flow's slot (see inspect). init and fini run in
 * nfqe's engine thread; flow_free may run in any thread (usually
 * liburcu's call_rcu thread), concurrently with inspect on other flows.
 *
 * Failure. A plug-in runs inside nfqe: a crash ends nfqe, its queues are
 * unbound and the kernel either passes the traffic (rules with
 * --queue-bypass: fail-open) or drops it (fail-closed). A hang stalls the
 * queue of the thread that called it. Return NFQE_INSP_ERROR instead;
 * the instance's on_error key (accept | drop) decides the packet.
 *
 * See nfqe-inspector(3) and plugins/example.c.
 */
#ifndef NFQE_INSPECTOR_H
#define NFQE_INSPECTOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NFQE_INSPECTOR_ABI_VERSION	1

/* The name nfqe looks up with dlsym(). */
#define NFQE_INSPECTOR_ENTRY		"nfqe_inspector_entry"

/* Put on nfqe_inspector_entry() when building with -fvisibility=hidden. */
#define NFQE_INSPECTOR_EXPORT	__attribute__((visibility("default")))

/* What inspect decided. */
enum nfqe_insp_verdict {
	NFQE_INSP_ACCEPT = 0,	/* accept this packet; inspect the next ones */
	NFQE_INSP_DROP,		/* drop this packet; inspect the next ones */
	NFQE_INSP_MARK,		/* accept this packet with *ret_mark */
	NFQE_INSP_NEED_MORE,	/* accept this packet; undecided, the flow's
				 * next packets are wanted */
	NFQE_INSP_FLOW_ACCEPT,	/* final: accept this packet and the rest of
				 * the flow; inspect is not called again */
	NFQE_INSP_FLOW_DROP,	/* final: drop this packet and the rest of
				 * the flow */
	NFQE_INSP_FLOW_MARK,	/* final: accept the flow with *ret_mark */
	NFQE_INSP_ERROR,	/* the plug-in failed: on_error decides */
	NFQE_INSP_VERDICT_MAX,
};

/* Direction of a packet relative to its flow's first packet. */
enum nfqe_insp_dir {
	NFQE_INSP_DIR_ORIG = 0,
	NFQE_INSP_DIR_REPLY = 1,
};

/* nfqe_insp_packet.flags */
enum nfqe_insp_flags {
	NFQE_INSP_F_L4		= 1 << 0, /* sport/dport are valid */
	NFQE_INSP_F_FRAGMENT	= 1 << 1, /* an IP fragment (the first one
					   * has L4, later ones do not) */
	NFQE_INSP_F_TRUNCATED	= 1 << 2, /* the copy range cut the packet:
					   * payload_len is what is at hand */
	NFQE_INSP_F_FLOW	= 1 << 3, /* the packet has a flow record:
					   * flow_slot is not NULL */
	NFQE_INSP_F_FLOW_NEW	= 1 << 4, /* this packet created the flow */
};

/* One key = value line of the plug-in's [inspector NAME] section, in file
 * order; keys may repeat. "path" and "on_error" are nfqe's own and are not
 * passed. The strings live until init returns: copy what you keep. */
struct nfqe_kv {
	const char	*key;
	const char	*value;
};

/*
 * The packet as a plug-in sees it: a stable view built by nfqe for each
 * call; every pointer is valid during the call only. Addresses are in
 * network order (4 bytes for IPv4, 16 for IPv6), ports in host order.
 */
struct nfqe_insp_packet {
	uint8_t		family;		/* AF_INET or AF_INET6 */
	uint8_t		l4proto;	/* IPPROTO_* after extension headers */
	uint8_t		dir;		/* enum nfqe_insp_dir; ORIG without
					 * a flow record */
	uint8_t		flags;		/* enum nfqe_insp_flags */
	uint16_t	sport;		/* 0 without NFQE_INSP_F_L4 */
	uint16_t	dport;		/* ICMP: type << 8 | code */
	const uint8_t	*saddr;
	const uint8_t	*daddr;
	const uint8_t	*payload;	/* L4 payload (after TCP options) */
	uint32_t	payload_len;
	uint32_t	packet_len;	/* bytes at @packet */
	const uint8_t	*packet;	/* the whole packet from the IP header */
	uint32_t	queue;		/* NFQUEUE number */
	uint32_t	mark;		/* nfmark as queued */
	uint32_t	indev;		/* ingress ifindex, 0 if none */
	uint32_t	outdev;		/* egress ifindex, 0 if none */
	uint64_t	flow_packets;	/* packets of the flow so far, both
					 * directions, this one included;
					 * 0 without a flow record */
	uint32_t	flow_inspected;	/* packets of the flow this instance
					 * inspected before this one */
};

struct nfqe_inspector {
	/* NFQE_INSPECTOR_ABI_VERSION; always the first member. */
	uint32_t	abi_version;
	/* Short name for logs ("content"). */
	const char	*name;

	/*
	 * init - make an instance from its configuration.
	 * @kv, @nkv: the section's keys (see struct nfqe_kv).
	 * Return the instance (any non-NULL pointer; a plug-in without state
	 * may return a pointer to a static object), or NULL with a message
	 * in @err ("string: bad escape \x4"): nfqe prefixes the section name.
	 */
	void	*(*init)(const struct nfqe_kv *kv, unsigned nkv, char *err,
			 size_t errlen);

	/*
	 * inspect - decide one packet (worker thread, data path).
	 * @flow_slot: the plug-in's per-flow slot, NULL when the packet has
	 *	no flow record (table full or disabled): then decide from the
	 *	packet alone. *@flow_slot is NULL on the flow's first call; the
	 *	plug-in may store anything there (an allocation, or an integer
	 *	cast to a pointer) and nfqe passes it to flow_free when the flow
	 *	ends. A slot stays with the instance that set it.
	 * @ret_mark: written for NFQE_INSP_MARK and NFQE_INSP_FLOW_MARK.
	 * Return an enum nfqe_insp_verdict; anything out of range counts as
	 * NFQE_INSP_ERROR.
	 */
	enum nfqe_insp_verdict (*inspect)(void *instance,
					  const struct nfqe_insp_packet *pkt,
					  void **flow_slot, uint32_t *ret_mark);

	/* flow_free - free a non-NULL slot. NULL: slots need no freeing. */
	void	(*flow_free)(void *instance, void *slot);

	/* fini - free the instance, after its last inspect and flow_free. */
	void	(*fini)(void *instance);
};

/* The one symbol a plug-in exports. */
typedef const struct nfqe_inspector *(*nfqe_inspector_entry_fn)(void);

const struct nfqe_inspector *nfqe_inspector_entry(void);

#ifdef __cplusplus
}
#endif

#endif /* NFQE_INSPECTOR_H */
