/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * worker.h - one thread per NFQUEUE queue: its own netlink socket, burst
 * receive, a decide step per packet, batched verdicts.
 *
 * Life cycle (engine thread): worker_new() binds the queue, worker_start()
 * runs the thread, worker_stop() makes it verdict everything it holds and
 * drain the queue, worker_free() unbinds and closes. Statistics can be read
 * from any thread at any time with worker_stats_read().
 */
#ifndef NFQE_WORKER_H
#define NFQE_WORKER_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "hist.h"
#include "packet.h"

struct worker;

/* What the decide step returns for one packet. */
struct nfqe_verdict {
	uint32_t	verdict;	/* NF_ACCEPT, NF_DROP, NF_REPEAT, or
					 * NF_QUEUE_NR(n) to send it to queue n */
	uint32_t	mark;
	bool		set_mark;
};

/* Tunables that can change while running (SIGHUP). Read once per burst
 * under RCU; the engine publishes a new copy and frees the old one after a
 * grace period. */
struct nfqe_tunables {
	unsigned	batch_max;	/* flush after this many verdicts */
	unsigned	max_hold_us;	/* flush when the oldest waited this long */
	uint32_t	malformed_verdict; /* NF_ACCEPT or NF_DROP */
	unsigned	test_decide_delay_us; /* test knob: slow decide */
};

/*
 * The tunables are published under RCU by the engine thread (@tunables of
 * struct worker_params points at the slot) and read once per burst.
 * worker_tunables_publish() swaps @t into @slot and returns the old block,
 * to be freed with call_rcu(); the callback calls worker_tunables_retired()
 * before it frees. Beyond rcu_xchg_pointer() these only tell
 * ThreadSanitizer what RCU guarantees (engine/tsan.h). Engine thread.
 */
struct nfqe_tunables *worker_tunables_publish(struct nfqe_tunables **slot,
					      struct nfqe_tunables *t);
void worker_tunables_retired(struct nfqe_tunables *old);

struct flow;
struct flowtable;

/* One packet as the decide step sees it. */
struct nfqe_pkt {
	unsigned		queue;
	const struct pkt_info	*info;		/* parsed headers */
	const uint8_t		*data;		/* network header on */
	uint32_t		len;		/* bytes at @data */
	uint32_t		indev;		/* ingress ifindex, 0 if none */
	uint32_t		outdev;		/* egress ifindex, 0 if none */
	uint32_t		mark;		/* nfmark as queued */
	struct flow		*flow;		/* NULL: no flow table, or full */
	int			dir;		/* enum flow_dir of the packet */
	bool			flow_new;	/* this packet created the flow */
};

/*
 * The decide step, the one seam for policy: called once per well-formed
 * packet, in the worker thread, as an online QSBR reader (so @pkt->flow
 * stays valid during the call). It must not block. It writes @ret; the
 * worker has preset it to accept, no mark.
 */
typedef void (*worker_decide_fn)(void *ctx, const struct nfqe_pkt *pkt,
				 struct nfqe_verdict *ret);

struct worker_params {
	uint16_t	queue;
	int		cpu;		/* pin to this CPU, -1 for no pinning */
	uint32_t	copy_range;	/* bytes of each packet copied up */
	uint32_t	queue_maxlen;	/* kernel queue length */
	uint32_t	rcvbuf;		/* SO_RCVBUFFORCE bytes */
	bool		fail_open;	/* NFQA_CFG_F_FAIL_OPEN */
	bool		gso;		/* NFQA_CFG_F_GSO */
	bool		no_enobufs;	/* NETLINK_NO_ENOBUFS */
	unsigned	burst_max;	/* messages per recvmmsg */
	unsigned	batch_cap;	/* largest batch_max a reload may set */
	/* Pointer to the engine's RCU-published tunables. */
	struct nfqe_tunables **tunables;
	worker_decide_fn decide;
	void		*decide_ctx;
	/* Shared flow table, NULL for none; every packet is attributed to
	 * its flow (keyed with @flow_zone, or the ingress ifindex when
	 * @flow_zone_indev). */
	struct flowtable *ft;
	uint32_t	flow_zone;
	bool		flow_zone_indev;
};

enum worker_flush_reason {
	FLUSH_BURST_END,	/* receive burst done */
	FLUSH_BATCH_FULL,	/* batch_max reached */
	FLUSH_HOLD,		/* oldest packet waited max_hold_us */
	FLUSH_STOP,		/* stopping */
	FLUSH_REASON_MAX,
};

/* Verdict kinds counted per queue. */
enum worker_vkind {
	VK_ACCEPT,
	VK_DROP,
	VK_REPEAT,
	VK_QUEUE,
	VK_MAX,
};

/*
 * Per-queue counters. Each is written by one thread: the worker's, but
 * wd_events and wd_accepted by the engine thread (worker_watchdog()).
 * Read them with worker_stats_read(), which copies them with relaxed
 * atomic loads.
 *
 * Every packet the kernel queued gets exactly one verdict: the worker's
 * (counted in verdicts[] when sent) or the watchdog's (wd_accepted). So,
 * without send errors, kernel errors and packets the kernel passed or
 * dropped without queueing them (fail-open, queue_dropped, user_dropped):
 *	id sequence == sum of verdicts[] + wd_accepted
 * and once the worker is idle, every packet it received was verdicted by
 * it or left to the watchdog (skipped on receipt, or decided but not sent
 * when the watchdog took it):
 *	packets == sum of verdicts[] + wd_skipped
 */
struct worker_stats {
	uint64_t	packets;	/* packet messages received */
	uint64_t	bytes;		/* packet bytes (as queued, not copied) */
	uint64_t	verdicts[VK_MAX];	/* sent by the worker */
	uint64_t	flushes;	/* sendmsg calls carrying verdicts */
	uint64_t	flushed;	/* verdicts sent (sum of batch sizes) */
	uint64_t	flush_reason[FLUSH_REASON_MAX];
	uint64_t	batch_msgs;	/* NFQNL_MSG_VERDICT_BATCH messages */
	uint64_t	verdict_msgs;	/* NFQNL_MSG_VERDICT messages */
	uint64_t	bursts;		/* recvmmsg calls that returned > 0 */
	uint64_t	burst_pkts;	/* messages those calls returned */
	uint64_t	enobufs;	/* ENOBUFS reported by the socket */
	uint64_t	malformed;	/* packets the parser refused */
	uint64_t	malformed_by[PKT_ERR_MAX];
	uint64_t	send_errors;	/* verdict sendmsg failures */
	uint64_t	kernel_errors;	/* NLMSG_ERROR replies to verdicts */
	uint64_t	flow_untracked;	/* packets with no flow record (table
					 * full, no memory, no key) */
	uint64_t	wd_events;	/* watchdog found the worker stuck */
	uint64_t	wd_accepted;	/* packets the watchdog's batches
					 * verdicted (the kernel queue length
					 * each batch covered) */
	uint64_t	wd_skipped;	/* received, or decided but not sent,
					 * when the watchdog had already
					 * verdicted them */
	uint64_t	ct_race_held;	/* packets of a new flow received while
					 * an earlier one of it was held here
					 * (the conntrack race; lower bound) */
	uint64_t	cpu_ns;		/* worker thread CPU time */
	struct hist	hold;		/* receive to verdict sent, ns */
};

/*
 * worker_new - open a netlink socket and bind @p->queue.
 *
 * Returns the worker, or NULL with errno set and a human-readable reason
 * in @err (size @errlen), e.g. "queue 3 is bound by another process".
 * Engine thread only.
 */
struct worker *worker_new(const struct worker_params *p, char *err,
			  size_t errlen);

/*
 * Give @w the flow table @ft (NULL: none), in place of @p->ft, before
 * worker_start(): the engine creates the table (and liburcu its resize
 * thread) only after dropping privileges, which is after binding.
 * Engine thread only.
 */
void worker_set_flowtable(struct worker *w, struct flowtable *ft);

/* Start the thread. 0 or -errno. */
int worker_start(struct worker *w);

#define WORKER_STOP_TIMEOUT_MS	3000

/*
 * Ask the worker to stop, wait for it at most @timeout_ms: it verdicts
 * everything it holds, then (with fail-open) shrinks the kernel queue to 0
 * so new packets pass, drains what is queued, and exits. Returns 0, or
 * -ETIMEDOUT when the thread is stuck (a decide step that hangs): then it
 * is left running, and worker_free() leaves it alone; the process should
 * exit, which releases the queue (see worker_release()). With @wd_ns, the
 * watchdog (accept) keeps running while it waits, as worker_watchdog()
 * with that timeout. Engine thread only.
 */
int worker_stop(struct worker *w, unsigned timeout_ms, uint64_t wd_ns);

/*
 * worker_release - for a worker worker_stop() gave up on, just before the
 * process exits (whose unbind would drop what the queue holds): with
 * @fail_open, close the queue to new packets (length 0: the kernel passes
 * them), then accept everything queued in one batch verdict, counted in
 * wd_accepted. Returns the packets accepted, or -errno. Engine thread only.
 */
int worker_release(struct worker *w, bool fail_open);

/*
 * worker_pause - make the worker send what it holds and end its thread,
 * leaving the queue bound and what is unread in the socket (a takeover:
 * the socket goes to another process). worker_start() resumes it.
 * 0 or -ETIMEDOUT. Engine thread only.
 */
int worker_pause(struct worker *w, unsigned timeout_ms);

/* The netlink socket's descriptor (for a takeover). */
int worker_fd(const struct worker *w);

/* The socket now belongs to another process too: worker_free() closes
 * this process's descriptor but never unbinds the queue. */
void worker_set_given(struct worker *w);

/*
 * worker_adopt - a worker on a netlink socket @fd received from another
 * nfqe (SCM_RIGHTS), bound and configured there; nothing is sent to the
 * kernel. Returns the worker (owning @fd) or NULL with errno and @err.
 */
struct worker *worker_adopt(const struct worker_params *p, int fd, char *err,
			    size_t errlen);

/* Unbind the queue, close the socket, free. NULL is fine. A stuck worker
 * (see worker_stop()) is left as it is. */
void worker_free(struct worker *w);

/*
 * worker_watchdog - called periodically by the engine thread (and only
 * there). The worker is stuck when it has been inside one burst, without
 * receiving a packet, for @timeout_ns. With @accept, everything the kernel
 * holds in the queue is then accepted at once on the worker's socket (a
 * verdict batch up to the queue's id sequence, counted in wd_accepted);
 * the worker skips those ids when it comes back, and drops the verdicts it
 * decided for them meanwhile. Never blocks on the worker: when the worker
 * is sending verdicts at that moment, this returns 0 and the next call
 * looks again. Returns 1 when stuck, 0 otherwise, -errno on error (then
 * nothing was accepted).
 */
int worker_watchdog(struct worker *w, uint64_t now_ns, uint64_t timeout_ns,
		    bool accept);

unsigned worker_queue(const struct worker *w);
int worker_cpu(const struct worker *w);

/* Copy the counters. Any thread. */
void worker_stats_read(const struct worker *w, struct worker_stats *ret);

/* Kernel's view of one queue, from /proc/net/netfilter/nfnetlink_queue. */
struct nfq_kstats {
	uint32_t	queue;
	uint32_t	portid;
	uint32_t	queue_total;	/* packets waiting in the queue now */
	uint32_t	copy_mode;
	uint32_t	copy_range;
	uint64_t	queue_dropped;	/* dropped: queue full, fail-closed */
	uint64_t	user_dropped;	/* dropped: netlink socket full */
	uint64_t	id_sequence;	/* last packet id = packets queued */
};

/*
 * nfq_kstats_read - read the row for @queue from @path (NULL: the /proc
 * file of the calling thread's network namespace, through the descriptor
 * nfq_kstats_open() keeps, if it was called). 0, -ENOENT when the queue
 * has no row (unbound), or -errno. Any thread.
 */
int nfq_kstats_read(const char *path, unsigned queue, struct nfq_kstats *ret);

/*
 * nfq_kstats_open - open /proc/net/netfilter/nfnetlink_queue once and keep
 * it for nfq_kstats_read(NULL, ...). The file is mode 0440 root: open it
 * before dropping privileges. Returns the descriptor (still owned here:
 * for pread(), e.g. lastgasp_arm()) or -errno. nfq_kstats_close() closes
 * it.
 * Engine thread only, while no worker runs.
 */
int nfq_kstats_open(void);
void nfq_kstats_close(void);

#endif
