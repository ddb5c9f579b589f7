/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * flowtable.h - lock-free flow table shared by the workers
 *
 * The table holds one record per connection (both directions), its state,
 * packet/byte counters and a cached verdict. It is built on liburcu's
 * resizable lock-free hash table (cds_lfht) with the QSBR flavour.
 *
 * RCU contexts used below (same vocabulary as liburcu):
 *
 *   "any thread"      no RCU requirement at all.
 *   "reader"          a thread registered with rcu_register_thread()
 *                     (urcu-qsbr) and currently online. In QSBR an online
 *                     thread is always inside a read-side critical section;
 *                     rcu_read_lock()/rcu_read_unlock() are allowed but not
 *                     needed. Flow pointers returned to a reader stay valid
 *                     until that thread's next quiescent state
 *                     (rcu_quiescent_state(), rcu_thread_offline(),
 *                     synchronize_rcu(), rcu_barrier() ...): never keep one
 *                     across a burst.
 *   "registered thread, not reading"
 *                     a registered thread holding no flow pointer; it may be
 *                     online or offline, the function goes offline itself
 *                     where it has to wait for a grace period.
 *
 * Per packet, a worker does (see flowtable_lookup_or_add()):
 *
 *	flow_key_make(&key, family, proto, saddr, daddr, sport, dport, zone,
 *		      &side);
 *	flow = flowtable_lookup_or_add(ft, &key, side, now_ns, &dir, NULL);
 *	if (flow) {
 *		flow_update(flow, dir, len, tcp_flags, now_ns);
 *		if (flow_decision_get(ft, flow, &verdict, &mark) < 0)
 *			decide, then flow_decision_set(ft, flow, verdict, mark);
 *	} else {
 *		decide without caching (table full or out of memory);
 *	}
 *
 * and once per burst rcu_quiescent_state(), with rcu_thread_offline() /
 * rcu_thread_online() around the blocking receive.
 *
 * Errors: int functions return 0 (or a count) or -errno; pointer functions
 * return NULL and set errno. Output parameters (ret_*) are written only on
 * success.
 */
#ifndef NFQE_FLOWTABLE_H
#define NFQE_FLOWTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct flowtable;
struct flow;

/* Direction of a packet relative to the flow's first packet. */
enum flow_dir {
	FLOW_DIR_ORIG = 0,	/* same direction as the first packet seen */
	FLOW_DIR_REPLY = 1,
};

/*
 * Side of a packet relative to the normalised key: FLOW_SIDE_LO when its
 * source is the key's lower endpoint (key.addr[0], key.port[0]).
 */
enum flow_side {
	FLOW_SIDE_LO = 0,
	FLOW_SIDE_HI = 1,
};

enum flow_state {
	FLOW_STATE_NEW = 0,		/* packets seen in one direction only */
	FLOW_STATE_ESTABLISHED = 1,	/* packets seen in both directions */
	FLOW_STATE_CLOSING = 2,		/* TCP FIN or RST seen (terminal) */
};

/* TCP header flag bits as passed to flow_update() (th_flags). */
#define FLOW_TCP_FIN	0x01
#define FLOW_TCP_SYN	0x02
#define FLOW_TCP_RST	0x04
#define FLOW_TCP_ACK	0x10

/*
 * Normalised flow key, a fixed-size value type: build it with
 * flow_key_make() only, which zeroes every unused byte so that keys compare
 * with memcmp(). Both directions of a connection give the same key.
 *
 * The endpoints are ordered: (addr[0], port[0]) <= (addr[1], port[1]),
 * addresses compared as bytes in network order, then ports. IPv4 addresses
 * use the first 4 bytes of addr[i], the rest is zero. Ports are in host
 * order. ICMP/ICMPv6: port[0] == port[1] == the echo identifier for echo
 * request/reply (icmp_type is then the echo request type, so a request and
 * its reply share the key), or the code for every other type (icmp_type is
 * the type). Protocols without ports: both ports are 0.
 */
struct flow_key {
	uint8_t addr[2][16];
	uint32_t zone;		/* ingress ifindex or conntrack-like zone */
	uint16_t port[2];
	uint8_t family;		/* AF_INET or AF_INET6 */
	uint8_t proto;		/* IPPROTO_* */
	uint8_t icmp_type;	/* 0 unless ICMP/ICMPv6 */
	uint8_t reserved;	/* always 0 */
};

/*
 * A flow as seen from its originator (for printing). Addresses in network
 * order (IPv4: first 4 bytes), ports in host order. ICMP/ICMPv6: sport is
 * the echo identifier (0 for other types) and dport is type << 8 | code,
 * with the echo request type for an echo flow.
 */
struct flow_tuple {
	uint8_t saddr[16];
	uint8_t daddr[16];
	uint32_t zone;
	uint16_t sport;
	uint16_t dport;
	uint8_t family;
	uint8_t proto;
};

/* Counters indexed by enum flow_dir. Times are the caller's now_ns clock. */
struct flow_counters {
	uint64_t packets[2];
	uint64_t bytes[2];
	uint64_t first_ns;
	uint64_t last_ns;
};

/*
 * Table parameters; start from flowtable_params_init(). Idle timeouts are in
 * seconds, per protocol and state: a flow is removed by flowtable_reap() once
 * now_ns - last_ns >= timeout. "udp" covers UDP and UDP-Lite, "icmp" covers
 * ICMP and ICMPv6, "other" every other protocol (SCTP, DCCP, GRE, ...).
 */
struct flowtable_params {
	uint32_t flow_max;		/* hard cap on live flows, default 1048576 */
	uint32_t buckets;		/* initial buckets (power of 2), 0: flow_max
					 * rounded up to a power of 2. The table
					 * then keeps about one bucket per flow,
					 * never fewer than this */
	uint32_t tcp_new_s;		/* default 30 */
	uint32_t tcp_established_s;	/* default 600 */
	uint32_t tcp_closing_s;		/* default 10 */
	uint32_t udp_new_s;		/* default 30 */
	uint32_t udp_established_s;	/* default 120 */
	uint32_t icmp_s;		/* default 30 */
	uint32_t other_s;		/* default 60 */
	uint64_t seed;			/* hash seed, 0: random (getrandom(2)) */
	/*
	 * Called with a flow's slot (when not NULL) when the flow is freed,
	 * from liburcu's call_rcu thread or from flowtable_free(). It must not
	 * call into this table. NULL: slots are not freed.
	 */
	void (*slot_free)(void *slot, void *arg);
	void *slot_free_arg;
};

/*
 * Table counters, all monotonic except live. At rest,
 * live == created - expired - evicted - deleted.
 */
struct flowtable_stats {
	uint64_t live;		/* flows in the table */
	uint64_t created;	/* flows inserted */
	uint64_t expired;	/* removed by the reaper (or eviction) after
				 * their idle timeout */
	uint64_t evicted;	/* removed early because the table was full */
	uint64_t deleted;	/* removed with flowtable_del() */
	uint64_t races_lost;	/* inserts that lost to a concurrent insert of
				 * the same key (the winner was returned) */
	uint64_t full;		/* new flows not stored: table at flow_max or
				 * too many records waiting for a grace
				 * period */
	uint64_t alloc_failed;	/* new flows not stored: out of memory */
	uint64_t records;	/* flow records allocated, including those
				 * waiting for a grace period; at most
				 * flow_max + max(flow_max / 8, 64) */
	uint64_t record_bytes;	/* allocator footprint of one record */
};

typedef int (*flowtable_walk_fn)(struct flow *flow, void *arg);

/*
 * flowtable_params_init - fill @ret with the defaults listed above.
 * Context: any thread.
 */
void flowtable_params_init(struct flowtable_params *ret);

/*
 * flowtable_new - create a table.
 * @params: parameters, copied; NULL for the defaults.
 *
 * Return the table, or NULL with errno EINVAL (flow_max 0 or above 2^30, a
 * zero timeout, buckets not a power of 2), ENOMEM, or the error of
 * getrandom(2).
 * Context: any thread, need not be registered.
 */
struct flowtable *flowtable_new(const struct flowtable_params *params);

/*
 * flowtable_free - remove every flow, wait for their frees (rcu_barrier())
 * and destroy the table. Accepts NULL.
 *
 * No other thread may use @ft or hold one of its flows any more.
 * Context: registered thread, not reading; not from a call_rcu callback.
 */
void flowtable_free(struct flowtable *ft);

/*
 * flow_key_make - build the normalised key of a packet.
 * @ret: the key.
 * @family: AF_INET or AF_INET6.
 * @proto: IPPROTO_*; IPPROTO_ICMP needs AF_INET, IPPROTO_ICMPV6 AF_INET6.
 * @saddr, @daddr: source/destination address in network order
 *		   (struct in_addr or struct in6_addr).
 * @sport, @dport: ports in host order. ICMP/ICMPv6: @sport is the echo
 *		   identifier (ignored for other types) and @dport is
 *		   type << 8 | code. Ignored for protocols without ports.
 * @zone: ingress ifindex or zone; part of the key.
 * @ret_side: enum flow_side of this packet, to pass to the lookup.
 *
 * Return 0, or -EINVAL (NULL pointer, ICMP/family mismatch) or
 * -EAFNOSUPPORT (@family).
 * Context: any thread.
 */
int flow_key_make(struct flow_key *ret, int family, uint8_t proto,
		  const void *saddr, const void *daddr,
		  uint16_t sport, uint16_t dport, uint32_t zone, int *ret_side);

/*
 * flowtable_lookup_or_add - the per-packet entry: find the flow of @key or
 * insert a new one whose originator is @side.
 * @ft: the table.
 * @key: built by flow_key_make().
 * @side: from flow_key_make().
 * @now_ns: the caller's monotonic clock, becomes first/last seen of a new
 *	    flow. The packet is not counted: call flow_update() next.
 * @ret_dir: optional, enum flow_dir of this packet.
 * @ret_created: optional, true when this call inserted the flow.
 *
 * When two threads insert the same key at once, one loses, its copy is
 * freed and it gets the winner (counted in races_lost). No allocation
 * happens for an existing flow.
 *
 * Return the flow, or NULL with errno ENOSPC (table at flow_max, or too
 * many removed records still waiting for a grace period: the flow is not
 * stored, "full" is counted and, at flow_max, a bounded eviction runs, see
 * flowtable.c; near the cap, concurrent inserts of one key may also see
 * ENOSPC since each reserves room before the race is settled) or ENOMEM. The pointer is valid until the caller's next
 * quiescent state.
 * Context: reader.
 */
struct flow *flowtable_lookup_or_add(struct flowtable *ft,
				     const struct flow_key *key, int side,
				     uint64_t now_ns, int *ret_dir,
				     bool *ret_created);

/*
 * flowtable_lookup - find the flow of @key without inserting.
 * @ret_dir: optional, enum flow_dir of a packet from @side.
 *
 * Return the flow, or NULL with errno ENOENT.
 * Context: reader.
 */
struct flow *flowtable_lookup(struct flowtable *ft, const struct flow_key *key,
			      int side, int *ret_dir);

/*
 * flowtable_lookup_burst - flowtable_lookup() of @n keys at once, for a
 * worker's receive burst: the hashes are computed first and the memory of
 * the flows last found under them is prefetched, so that the cache misses
 * of the burst overlap instead of following each other.
 * @keys, @sides: @n keys and their sides (from flow_key_make()).
 * @ret_flows: @n entries: the flow of each key, or NULL.
 * @ret_dirs: optional, @n entries: enum flow_dir of each found flow (left
 *	      unset for a NULL flow).
 *
 * Return the number of flows found (<= @n). Same pointer lifetime as
 * flowtable_lookup().
 * Context: reader.
 */
unsigned int flowtable_lookup_burst(struct flowtable *ft,
				    const struct flow_key *keys,
				    const int *sides, unsigned int n,
				    struct flow **ret_flows, int *ret_dirs);

/*
 * flowtable_del - remove @flow; it is freed after a grace period.
 *
 * Return 0, or -ENOENT if it was already removed (by another thread, the
 * reaper or an eviction).
 * Context: reader.
 */
int flowtable_del(struct flowtable *ft, struct flow *flow);

/*
 * flowtable_reap - remove idle flows (see struct flowtable_params).
 * @now_ns: same clock as the packets' now_ns.
 * @budget: at most this many flows are visited in this call.
 *
 * The scan resumes where the previous call (or eviction) stopped, so calling
 * it periodically with a small budget ages the whole table. Removed flows
 * are freed with call_rcu(). Serialised with other reaps and evictions by a
 * mutex: call it from one housekeeping thread.
 *
 * Return the number of flows removed (>= 0).
 * Context: reader (the engine's housekeeping thread, registered and online).
 */
int flowtable_reap(struct flowtable *ft, uint64_t now_ns, unsigned int budget);

/*
 * flowtable_top - the @n flows with the most packets (both directions), in
 * decreasing order. A full table scan: for dumps, not for the data path.
 * @ret: array of at least @n entries, valid until the caller's next
 *	 quiescent state.
 *
 * Return the number of flows written (<= @n), or -ENOMEM.
 * Context: reader.
 */
int flowtable_top(struct flowtable *ft, struct flow **ret, unsigned int n);

/*
 * flowtable_walk - call @fn on every flow until it returns non-zero. Flows
 * inserted or removed during the walk may or may not be seen; none is seen
 * twice. @fn may call flowtable_del() on its flow.
 *
 * Return the number of flows passed to @fn.
 * Context: reader.
 */
size_t flowtable_walk(struct flowtable *ft, flowtable_walk_fn fn, void *arg);

/*
 * flowtable_stats_get - snapshot of the counters (each read atomically, not
 * all at the same instant).
 * Context: any thread.
 */
void flowtable_stats_get(const struct flowtable *ft,
			 struct flowtable_stats *ret);

/*
 * flowtable_decision_flush - forget every cached decision at once (O(1):
 * bumps a generation). For a policy reload: publish the new policy, wait
 * with synchronize_rcu() until no worker still decides with the old one,
 * then flush.
 * Context: any thread.
 */
void flowtable_decision_flush(struct flowtable *ft);

/*
 * flow_update - account one packet of @flow.
 * @dir: enum flow_dir from the lookup.
 * @bytes: packet length.
 * @tcp_flags: TCP flags (FLOW_TCP_*) for TCP, 0 otherwise.
 * @now_ns: becomes last seen.
 *
 * Counters are relaxed atomic adds. State moves NEW -> ESTABLISHED once
 * both directions were seen, and to CLOSING on a TCP FIN or RST.
 * Return the state after this packet.
 * Context: reader.
 */
enum flow_state flow_update(struct flow *flow, int dir, uint32_t bytes,
			    uint8_t tcp_flags, uint64_t now_ns);

/*
 * flow_decision_set - cache a verdict and mark on @flow (atomic pair),
 * valid until flowtable_decision_flush(). Last writer wins.
 * Context: reader.
 */
void flow_decision_set(const struct flowtable *ft, struct flow *flow,
		       uint32_t verdict, uint32_t mark);

/*
 * flow_decision_get - read the cached decision of @flow.
 *
 * Return 0 with *@ret_verdict and *@ret_mark (either may be NULL) set, or
 * -ENOENT when the flow is not decided (or was decided before the last
 * flush).
 * Context: reader.
 */
int flow_decision_get(const struct flowtable *ft, const struct flow *flow,
		      uint32_t *ret_verdict, uint32_t *ret_mark);

/*
 * flow_flags_set - set @flags among @flow's 32 user flags: bits the table
 * never interprets, 0 when the flow is created, never cleared (neither by
 * flowtable_decision_flush() nor otherwise) until the flow is freed. For
 * facts about a flow that hold for its whole life, such as "counted once".
 *
 * Return the flags as they were before this call: a bit of @flags that is
 * clear in the result was set by this call, and by exactly one of several
 * concurrent callers. Relaxed: orders nothing else.
 * Context: reader.
 */
uint32_t flow_flags_set(struct flow *flow, uint32_t flags);

/*
 * flow_flags_get - @flow's user flags (see flow_flags_set()).
 * Context: reader.
 */
uint32_t flow_flags_get(const struct flow *flow);

/*
 * flow_slot_get - the plug-in slot of @flow, NULL if unset.
 * Context: reader.
 */
void *flow_slot_get(const struct flow *flow);

/*
 * flow_slot_set - set the slot of @flow once. On success the table owns
 * @slot and passes it to params.slot_free when the flow is freed.
 *
 * Return 0, or -EBUSY if a slot is already set (the caller keeps @slot).
 * Context: reader.
 */
int flow_slot_set(struct flow *flow, void *slot);

/*
 * flow_tuple_get - the flow's endpoints as seen from its originator.
 * Context: reader.
 */
void flow_tuple_get(const struct flow *flow, struct flow_tuple *ret);

/*
 * flow_counters_get - packets and bytes per direction, first/last seen.
 * Context: reader.
 */
void flow_counters_get(const struct flow *flow, struct flow_counters *ret);

/*
 * flow_state_get - the current enum flow_state of @flow.
 * Context: reader.
 */
enum flow_state flow_state_get(const struct flow *flow);

#endif /* NFQE_FLOWTABLE_H */
