// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * worker.c - the data path: one thread per NFQUEUE queue.
 *
 * Read this file top to bottom to follow a packet:
 *
 *   worker_new()      open a netlink socket, size its buffer, bind the queue
 *                     (copy mode, maxlen, fail-open, GSO in one message)
 *   worker_main()     the thread: pin to a CPU, register as a QSBR reader,
 *                     then loop:
 *     wk_recv_burst()   recvmmsg(): up to burst_max packet messages at once;
 *                       when the socket is empty go RCU-offline and poll()
 *     wk_collect()      per packet: parse the NFQUEUE message and the IP
 *                       packet, build its flow key
 *     wk_decide_burst() look the burst's flows up at once in the shared flow
 *                       table (their cache misses overlap), then per packet,
 *                       in arrival order (wk_decide()): its flow (wk_flow()
 *                       creates a new one), the decide step, its verdict
 *                       into the batcher; flush early if batch_max is reached
 *                       or the oldest packet waited max_hold_us
 *     wk_flush()        at the end of every burst: all held verdicts go to
 *                       the kernel in one sendmsg() (vbatch.c coalesces runs
 *                       of ids into NFQNL_MSG_VERDICT_BATCH messages)
 *     rcu_quiescent_state() once per burst
 *   wk_drain()        on stop: verdict what is held, close the queue to new
 *                     packets (fail-open: maxlen 0 lets them pass), receive
 *                     and verdict what the kernel still queues
 *   worker_free()     unbind the queue and close the socket
 *
 * A packet is never held waiting for more traffic: the batch is flushed
 * whenever the socket has nothing more to give. Every packet gets a verdict
 * on every path: malformed packets get the configured malformed verdict,
 * and packets that arrive while binding are accepted at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <urcu-qsbr.h>

#include "flowtable.h"
#include "lastgasp.h"

#include "nfqe-config.h"
#include "log.h"
#include "nfqmsg.h"
#include "tsan.h"
#include "vbatch.h"
#include "worker.h"

/* Room for the netlink and NFQUEUE headers and attributes of one message,
 * on top of the copied packet bytes. */
#define WK_MSG_OVERHEAD		1024
#define WK_CPU_SAMPLE_BURSTS	64

/* One packet of a receive burst, between its parse and its decide step. */
struct wk_pkt {
	struct nfq_pkt		msg;
	struct pkt_info		info;
	int			perr;		/* pkt_parse(): 0 or pkt_error */
	int			slot;		/* in the key arrays, -1: none */
};

struct worker {
	/* read-mostly, set before the thread starts */
	struct worker_params	p;
	struct mnl_socket	*nl;
	int			fd;
	unsigned		portid;
	int			stop_fd;	/* eventfd: wakes poll() */
	pthread_t		thread;
	bool			started;
	bool			unbound;
	bool			stuck;		/* did not stop in time */

	/* owned by the worker thread */
	struct vbatch		*vb;
	struct wk_pkt		*pkts;		/* the burst being handled */
	unsigned		npkts;
	struct flow_key		*keys;		/* their flow keys, for one */
	int			*sides;		/* flowtable_lookup_burst() */
	struct flow		**flows;
	int			*dirs;
	unsigned		nkeys;
	struct mmsghdr		*msgs;
	struct iovec		*iov;
	char			*rxbuf;
	size_t			rx_slot;
	char			*txbuf;		/* config and single verdicts */
	uint32_t		seq;
	bool			flushed_mid_burst;
	unsigned		bursts_since_cpu;
	struct ratelimit	rl_err;

	int			stop;		/* set by worker_stop() */
	int			pause;		/* set by worker_pause() */
	bool			given;		/* socket handed to another
						 * process: never unbind */

	/* watchdog: written by the worker, read by the engine thread */
	uint64_t		busy_since;	/* burst start, 0 when idle */
	/* Held by the worker around every verdict it sends, and by the
	 * watchdog from its read of the kernel queue to its batch verdict:
	 * then no verdict of the worker lands in between, and what the
	 * watchdog counts is what its batch verdicts. */
	pthread_mutex_t		wd_lock;
	uint32_t		wd_upto;	/* ids the watchdog verdicted */
	int			wd_valid;	/* both set under wd_lock */
	/* watchdog: engine thread only */
	uint64_t		wd_packets;	/* st.packets at the last check */
	uint64_t		wd_since;	/* no progress since */
	char			*wd_txbuf;

	/* hot counters, written by the worker only */
	struct worker_stats	st __attribute__((aligned(64)));
};

#define ST_ADD(field, n)						\
	__atomic_store_n(&(field), __atomic_load_n(&(field),		\
			 __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static enum worker_vkind vkind_of(uint32_t verdict)
{
	switch (verdict & NF_VERDICT_MASK) {
	case NF_ACCEPT:
		return VK_ACCEPT;
	case NF_DROP:
		return VK_DROP;
	case NF_REPEAT:
		return VK_REPEAT;
	default:
		return VK_QUEUE;
	}
}

/*
 * Whether the watchdog already verdicted packet @id (wrap-safe). Without
 * wd_lock this may miss the latest batch (the caller then decides the
 * packet in vain); under it, it is exact.
 */
static bool wk_wd_covers(struct worker *w, uint32_t id)
{
	return __atomic_load_n(&w->wd_valid, __ATOMIC_ACQUIRE) &&
	       (int32_t)(id - __atomic_load_n(&w->wd_upto,
					      __ATOMIC_RELAXED)) <= 0;
}

/* ---- netlink set-up ------------------------------------------------- */

static int wk_sendto(struct worker *w, const void *buf, size_t len)
{
	ssize_t ret = mnl_socket_sendto(w->nl, buf, len);

	if (ret < 0)
		return -errno;
	return 0;
}

/*
 * Verdict one packet at once, outside the batcher (set-up, and the queue
 * closing at stop, when what the socket still holds may be packets the
 * watchdog accepted: those are skipped).
 */
static void wk_verdict_now(struct worker *w, uint32_t id, uint32_t verdict)
{
	struct nlmsghdr *nlh;
	int ret;

	pthread_mutex_lock(&w->wd_lock);
	if (wk_wd_covers(w, id)) {
		pthread_mutex_unlock(&w->wd_lock);
		ST_ADD(w->st.wd_skipped, 1);
		return;
	}
	nlh = nfq_nlmsg_put(w->txbuf, NFQNL_MSG_VERDICT, w->p.queue);
	nlh->nlmsg_seq = ++w->seq;
	nfq_nlmsg_verdict_put(nlh, id, verdict);
	ret = wk_sendto(w, nlh, nlh->nlmsg_len);
	pthread_mutex_unlock(&w->wd_lock);
	if (ret < 0)
		ST_ADD(w->st.send_errors, 1);
	ST_ADD(w->st.verdicts[vkind_of(verdict)], 1);
	ST_ADD(w->st.verdict_msgs, 1);
}

/*
 * Send one config message with NLM_F_ACK and wait for its ack. Packets
 * that the kernel queues before the ack arrives are accepted on the spot:
 * the decide step is not running yet, and no packet may be left behind.
 */
static int wk_config(struct worker *w, struct nlmsghdr *nlh)
{
	char *buf = w->rxbuf;
	uint32_t seq = ++w->seq;

	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	if (wk_sendto(w, nlh, nlh->nlmsg_len) < 0)
		return -errno;

	for (;;) {
		ssize_t n = recv(w->fd, buf, w->rx_slot, 0);
		struct nlmsghdr *m;
		int len;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				ST_ADD(w->st.enobufs, 1);
				continue;
			}
			return -errno;
		}
		len = (int)n;
		for (m = (struct nlmsghdr *)buf; nfqmsg_ok(m, len);
		     m = mnl_nlmsg_next(m, &len)) {
			struct nfq_pkt pkt;
			int error;

			switch (nfqmsg_kind(m, &error)) {
			case NFQMSG_ERROR:
				if (m->nlmsg_seq == seq)
					return error;	/* 0 is the ack */
				break;
			case NFQMSG_PACKET:
				if (nfqmsg_parse(m, &pkt) == 0) {
					ST_ADD(w->st.packets, 1);
					wk_verdict_now(w, pkt.id, NF_ACCEPT);
				}
				break;
			case NFQMSG_OTHER:
				break;
			}
		}
	}
}

static int wk_bind(struct worker *w)
{
	struct nlmsghdr *nlh;
	uint32_t flags = 0, mask = NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO;

	if (w->p.fail_open)
		flags |= NFQA_CFG_F_FAIL_OPEN;
	if (w->p.gso)
		flags |= NFQA_CFG_F_GSO;

	/* bind, copy mode, maxlen and flags in one message: the first packet
	 * the kernel queues already has the final settings */
	nlh = nfq_nlmsg_put(w->txbuf, NFQNL_MSG_CONFIG, w->p.queue);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_BIND);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, (int)w->p.copy_range);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, w->p.queue_maxlen);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(mask));
	return wk_config(w, nlh);
}

static int wk_set_maxlen(struct worker *w, uint32_t maxlen)
{
	struct nlmsghdr *nlh = nfq_nlmsg_put(w->txbuf, NFQNL_MSG_CONFIG,
					     w->p.queue);

	nfq_nlmsg_cfg_put_qmaxlen(nlh, maxlen);
	return wk_config(w, nlh);
}

static int wk_unbind(struct worker *w)
{
	struct nlmsghdr *nlh = nfq_nlmsg_put(w->txbuf, NFQNL_MSG_CONFIG,
					     w->p.queue);

	nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_UNBIND);
	return wk_config(w, nlh);
}

static int wk_socket_open(struct worker *w)
{
	int one = 1;
	int size = (int)w->p.rcvbuf;

	w->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!w->nl)
		return -errno;
	w->fd = mnl_socket_get_fd(w->nl);
	if (mnl_socket_bind(w->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return -errno;
	w->portid = mnl_socket_get_portid(w->nl);
	/* FORCE needs CAP_NET_ADMIN, which binding a queue needs anyway */
	if (setsockopt(w->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size,
		       sizeof(size)) < 0 &&
	    setsockopt(w->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) < 0)
		return -errno;
	if (w->p.no_enobufs &&
	    setsockopt(w->fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one,
		       sizeof(one)) < 0)
		return -errno;
	return 0;
}

static int wk_buffers_alloc(struct worker *w)
{
	unsigned n = w->p.burst_max;

	w->rx_slot = (w->p.copy_range + WK_MSG_OVERHEAD + 7) & ~(size_t)7;
	w->rxbuf = malloc(w->rx_slot * n);
	w->msgs = calloc(n, sizeof(*w->msgs));
	w->iov = calloc(n, sizeof(*w->iov));
	w->txbuf = malloc(MNL_SOCKET_BUFFER_SIZE);
	w->wd_txbuf = malloc(MNL_SOCKET_BUFFER_SIZE);
	w->vb = vbatch_new(w->p.queue, w->p.batch_cap);
	w->pkts = calloc(n, sizeof(*w->pkts));
	w->keys = calloc(n, sizeof(*w->keys));
	w->sides = calloc(n, sizeof(*w->sides));
	w->flows = calloc(n, sizeof(*w->flows));
	w->dirs = calloc(n, sizeof(*w->dirs));
	if (!w->rxbuf || !w->msgs || !w->iov || !w->txbuf || !w->wd_txbuf ||
	    !w->vb || !w->pkts || !w->keys || !w->sides || !w->flows ||
	    !w->dirs)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		w->iov[i].iov_base = w->rxbuf + i * w->rx_slot;
		w->iov[i].iov_len = w->rx_slot;
		w->msgs[i].msg_hdr.msg_iov = &w->iov[i];
		w->msgs[i].msg_hdr.msg_iovlen = 1;
	}
	return 0;
}

/* Allocate and set up everything but the netlink socket. */
static int wk_alloc(const struct worker_params *p, struct worker **ret_w,
		    char *err, size_t errlen)
{
	struct worker *w;
	int ret;

	if (!p->burst_max || !p->batch_cap || !p->tunables || !p->decide) {
		snprintf(err, errlen, "queue %u: invalid worker parameters",
			 p->queue);
		return -EINVAL;
	}
	ret = posix_memalign((void **)&w, 64, sizeof(*w));
	if (ret) {
		snprintf(err, errlen, "queue %u: out of memory", p->queue);
		return -ret;
	}
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->wd_lock, NULL);
	w->p = *p;
	w->fd = -1;
	w->rl_err = (struct ratelimit)RATELIMIT_INIT;
	w->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->stop_fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "queue %u: eventfd: %s", p->queue,
			 strerror(-ret));
		goto err_free;
	}
	ret = wk_buffers_alloc(w);
	if (ret < 0) {
		snprintf(err, errlen, "queue %u: out of memory", p->queue);
		goto err_free;
	}
	*ret_w = w;
	return 0;

err_free:
	w->unbound = true;
	worker_free(w);
	return ret;
}

struct worker *worker_new(const struct worker_params *p, char *err,
			  size_t errlen)
{
	struct worker *w;
	int ret;

	ret = wk_alloc(p, &w, err, errlen);
	if (ret < 0) {
		errno = -ret;
		return NULL;
	}
	ret = wk_socket_open(w);
	if (ret < 0) {
		snprintf(err, errlen, "queue %u: netlink socket: %s%s",
			 p->queue, strerror(-ret),
			 ret == -EPERM ? " (needs CAP_NET_ADMIN)" : "");
		goto err_free;
	}
	ret = wk_bind(w);
	if (ret == -EPERM || ret == -EBUSY) {
		snprintf(err, errlen,
			 "queue %u is already bound by another process (%s): "
			 "stop it or choose other queues",
			 p->queue, strerror(-ret));
		goto err_free;
	}
	if (ret < 0) {
		snprintf(err, errlen, "queue %u: bind failed: %s", p->queue,
			 strerror(-ret));
		goto err_free;
	}
	return w;

err_free:
	w->unbound = true;	/* never bound: nothing to unbind */
	worker_free(w);
	errno = -ret;
	return NULL;
}

/* ---- tunables (RCU) ------------------------------------------------- */

/* What a worker read of the tunables it is done with at its quiescent
 * state; the free after the grace period acquires it (tsan.h). */
static char wk_tsan_grace;

struct nfqe_tunables *worker_tunables_publish(struct nfqe_tunables **slot,
					      struct nfqe_tunables *t)
{
	struct nfqe_tunables *old;

	tsan_release(t);
	old = rcu_xchg_pointer(slot, t);
	tsan_release(old);	/* handed over to call_rcu() */
	return old;
}

void worker_tunables_retired(struct nfqe_tunables *old)
{
	tsan_acquire(old);
	tsan_acquire(&wk_tsan_grace);
}

/* ---- the data path -------------------------------------------------- */

/*
 * Send everything the batcher holds in one sendmsg(). Verdicts are counted
 * here, as sent: those of packets the watchdog accepted while this worker
 * was stuck (the one being decided then, and those decided but not yet
 * sent) are dropped instead, and counted as skipped; the kernel applied
 * the watchdog's verdict to them.
 */
static void wk_flush(struct worker *w, enum worker_flush_reason reason)
{
	struct vbatch_out out;
	uint64_t t;

	if (!vbatch_count(w->vb))
		return;
	pthread_mutex_lock(&w->wd_lock);
	if (__atomic_load_n(&w->wd_valid, __ATOMIC_RELAXED))
		ST_ADD(w->st.wd_skipped,
		       vbatch_drop_upto(w->vb, __atomic_load_n(&w->wd_upto,
							       __ATOMIC_RELAXED)));
	if (!vbatch_count(w->vb)) {
		pthread_mutex_unlock(&w->wd_lock);
		return;
	}
	vbatch_build(w->vb, w->seq + 1, &out);
	w->seq += out.batch_msgs + out.verdict_msgs;
	/* hold ends when the verdicts are handed to the kernel; the sendmsg
	 * itself runs the re-injected packets' whole path synchronously */
	t = now_ns();
	while (mnl_socket_sendto(w->nl, out.buf, out.len) < 0) {
		unsigned missed;

		if (errno == EINTR)
			continue;
		/* The verdicts are lost to us: with fail-open the kernel
		 * still holds the packets until the queue is unbound. */
		ST_ADD(w->st.send_errors, 1);
		if (ratelimit_ok(&w->rl_err, &missed))
			log_err("queue %u: sending %u verdicts failed: %s "
				"(%u similar suppressed)", w->p.queue,
				out.verdicts, strerror(errno), missed);
		break;
	}
	pthread_mutex_unlock(&w->wd_lock);
	ST_ADD(w->st.verdicts[VK_ACCEPT], out.accepts);
	ST_ADD(w->st.verdicts[VK_DROP], out.drops);
	ST_ADD(w->st.verdicts[VK_REPEAT], out.repeats);
	ST_ADD(w->st.verdicts[VK_QUEUE], out.others);
	vbatch_account_hold(w->vb, t, &w->st.hold);
	vbatch_reset(w->vb);
	w->flushed_mid_burst = reason != FLUSH_BURST_END;
	ST_ADD(w->st.flushes, 1);
	ST_ADD(w->st.flushed, out.verdicts);
	ST_ADD(w->st.flush_reason[reason], 1);
	ST_ADD(w->st.batch_msgs, out.batch_msgs);
	ST_ADD(w->st.verdict_msgs, out.verdict_msgs);
}

static void wk_test_delay(const struct nfqe_tunables *tun)
{
	struct timespec ts;

	if (!ENABLE_TEST_KNOBS || !tun->test_decide_delay_us)
		return;
	ts.tv_sec = tun->test_decide_delay_us / 1000000;
	ts.tv_nsec = (long)(tun->test_decide_delay_us % 1000000) * 1000;
	nanosleep(&ts, NULL);
}

/*
 * The flow of packet @p: found by the burst lookup, or created now (its
 * first packet, or one whose flow appeared earlier in this burst). NULL
 * when it cannot be stored (table full, no memory): the packet is still
 * decided, only without flow state.
 */
static struct flow *wk_flow(struct worker *w, const struct wk_pkt *p,
			    uint64_t now, int *ret_dir, bool *ret_created)
{
	struct flow *flow = w->flows[p->slot];
	bool in_burst = false;

	*ret_created = false;
	if (flow) {
		*ret_dir = w->dirs[p->slot];
	} else {
		flow = flowtable_lookup_or_add(w->p.ft, &w->keys[p->slot],
					       w->sides[p->slot], now, ret_dir,
					       ret_created);
		/* not there when the burst was looked up, not created by
		 * this packet: an earlier packet of this burst created it */
		in_burst = flow && !*ret_created;
	}
	if (flow && flow_update(flow, *ret_dir, p->info.ip_len,
				p->info.l4proto == IPPROTO_TCP ?
				p->info.tcp_flags : 0, now) == FLOW_STATE_NEW &&
	    in_burst && !w->flushed_mid_burst)
		/*
		 * The conntrack race, measured: this packet of a new flow
		 * came while the flow's first packet was still held here,
		 * so in forward mode the kernel gave it an unconfirmed
		 * conntrack entry of its own. Known for sure when the first
		 * packet came in this same burst and nothing was flushed
		 * yet: a lower bound.
		 */
		ST_ADD(w->st.ct_race_held, 1);
	return flow;
}

/* A kernel reply: only errors come back (verdicts carry no NLM_F_ACK). */
static void wk_handle_error(struct worker *w, int error)
{
	unsigned missed;

	if (!error)
		return;
	ST_ADD(w->st.kernel_errors, 1);
	if (ratelimit_ok(&w->rl_err, &missed))
		log_warn("queue %u: kernel refused a verdict: %s "
			 "(%u similar suppressed)", w->p.queue,
			 strerror(-error), missed);
}

/*
 * First pass over a packet message: parse the NFQUEUE message and the IP
 * packet, build its flow key. The packet joins the burst in arrival order.
 */
static void wk_collect(struct worker *w, const struct nlmsghdr *nlh)
{
	struct wk_pkt *p = &w->pkts[w->npkts];
	uint32_t zone;

	if (nfqmsg_parse(nlh, &p->msg) < 0) {
		/* No id: nothing can be verdicted. The kernel keeps such a
		 * packet until the queue is unbound; count it loudly. */
		ST_ADD(w->st.malformed, 1);
		ST_ADD(w->st.kernel_errors, 1);
		return;
	}
	ST_ADD(w->st.packets, 1);
	ST_ADD(w->st.bytes, p->msg.wire_len ? p->msg.wire_len : p->msg.len);
	p->perr = pkt_parse(p->msg.payload, p->msg.len, p->msg.wire_len,
			    &p->info);
	p->slot = -1;
	zone = w->p.flow_zone_indev ? p->msg.indev : w->p.flow_zone;
	if (!p->perr && w->p.ft &&
	    flow_key_make(&w->keys[w->nkeys], p->info.family,
			  p->info.l4proto, &p->info.src, &p->info.dst,
			  p->info.sport, p->info.dport, zone,
			  &w->sides[w->nkeys]) == 0)
		p->slot = (int)w->nkeys++;
	w->npkts++;
}

/* Second pass, per packet in arrival order: its flow, the decide step,
 * its verdict into the batcher (flushed early when due). */
static void wk_decide(struct worker *w, const struct wk_pkt *p,
		      const struct nfqe_tunables *tun, uint64_t recv_ns)
{
	struct nfqe_verdict v = { .verdict = NF_ACCEPT };
	int due;

	if (wk_wd_covers(w, p->msg.id)) {
		/* the watchdog accepted it while this worker was stuck (on
		 * an earlier packet of this very burst, maybe) */
		ST_ADD(w->st.wd_skipped, 1);
		return;
	}
	if (p->perr) {
		ST_ADD(w->st.malformed, 1);
		ST_ADD(w->st.malformed_by[p->perr], 1);
		v.verdict = tun->malformed_verdict;
	} else {
		struct nfqe_pkt dp = {
			.queue = w->p.queue, .info = &p->info,
			.data = p->msg.payload, .len = p->msg.len,
			.indev = p->msg.indev, .outdev = p->msg.outdev,
			.mark = p->msg.mark,
		};

		if (p->slot >= 0)
			dp.flow = wk_flow(w, p, recv_ns, &dp.dir,
					  &dp.flow_new);
		if (w->p.ft && !dp.flow)
			ST_ADD(w->st.flow_untracked, 1);
		wk_test_delay(tun);
		w->p.decide(w->p.decide_ctx, &dp, &v);
	}

	if (vbatch_add(w->vb, p->msg.id, v.verdict, v.set_mark, v.mark,
		       recv_ns)) {
		wk_flush(w, FLUSH_BATCH_FULL);
		vbatch_add(w->vb, p->msg.id, v.verdict, v.set_mark, v.mark,
			   recv_ns);
	}
	due = vbatch_due(w->vb, tun->batch_max,
			 (uint64_t)tun->max_hold_us * 1000, now_ns());
	if (due)
		wk_flush(w, due);
}

/*
 * Decide the collected packets: look all their flows up at once (the cache
 * misses of a burst overlap), then decide each in arrival order.
 */
static void wk_decide_burst(struct worker *w, const struct nfqe_tunables *tun,
			    uint64_t recv_ns)
{
	if (w->nkeys)
		flowtable_lookup_burst(w->p.ft, w->keys, w->sides, w->nkeys,
				       w->flows, w->dirs);
	for (unsigned i = 0; i < w->npkts; i++)
		wk_decide(w, &w->pkts[i], tun, recv_ns);
	w->npkts = 0;
	w->nkeys = 0;
}

/* One received datagram: normally one NFQUEUE packet message. */
static void wk_handle_msg(struct worker *w, const void *buf, size_t len,
			  const struct nfqe_tunables *tun, uint64_t recv_ns)
{
	const struct nlmsghdr *nlh = buf;
	int rem = (int)len;

	for (; nfqmsg_ok(nlh, rem); nlh = mnl_nlmsg_next(nlh, &rem)) {
		int error;

		switch (nfqmsg_kind(nlh, &error)) {
		case NFQMSG_PACKET:
			/* a datagram normally holds one message: the burst
			 * arrays have room for burst_max of them */
			if (w->npkts == w->p.burst_max)
				wk_decide_burst(w, tun, recv_ns);
			wk_collect(w, nlh);
			break;
		case NFQMSG_ERROR:
			wk_handle_error(w, error);
			break;
		case NFQMSG_OTHER:
			break;
		}
	}
}

/*
 * Receive one burst and handle it. Returns the number of messages, 0 when
 * the socket is empty, -errno on a hard error.
 */
static int wk_recv_burst(struct worker *w)
{
	const struct nfqe_tunables *tun;
	uint64_t recv_ns;
	int n;

	n = recvmmsg(w->fd, w->msgs, w->p.burst_max, MSG_DONTWAIT, NULL);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		if (errno == ENOBUFS) {
			/* the kernel dropped messages for us: it counts them
			 * as user_dropped; we count the event */
			ST_ADD(w->st.enobufs, 1);
			return 1;
		}
		return -errno;
	}
	recv_ns = now_ns();
	__atomic_store_n(&w->busy_since, recv_ns, __ATOMIC_RELAXED);
	w->flushed_mid_burst = false;
	tun = rcu_dereference(*w->p.tunables);
	tsan_acquire(tun);
	ST_ADD(w->st.bursts, 1);
	ST_ADD(w->st.burst_pkts, (uint64_t)n);
	for (int i = 0; i < n; i++) {
		struct msghdr *mh = &w->msgs[i].msg_hdr;

		if (mh->msg_flags & MSG_TRUNC) {
			/* cannot happen with rx_slot sized from copy_range;
			 * keep what fits so the packet still gets a verdict
			 * (its payload attribute is lost: malformed) */
			struct nlmsghdr *nlh = w->iov[i].iov_base;

			if (w->msgs[i].msg_len >= sizeof(*nlh) &&
			    nlh->nlmsg_len > w->msgs[i].msg_len)
				nlh->nlmsg_len = w->msgs[i].msg_len;
		}
		wk_handle_msg(w, w->iov[i].iov_base, w->msgs[i].msg_len, tun,
			      recv_ns);
	}
	wk_decide_burst(w, tun, recv_ns);
	wk_flush(w, FLUSH_BURST_END);
	__atomic_store_n(&w->busy_since, 0, __ATOMIC_RELAXED);
	return n;
}

static void wk_sample_cpu(struct worker *w)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0)
		__atomic_store_n(&w->st.cpu_ns,
				 (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec,
				 __ATOMIC_RELAXED);
}

/* Wait for packets or for worker_stop(), as an offline QSBR reader. */
static void wk_wait(struct worker *w)
{
	struct pollfd pfd[2] = {
		{ .fd = w->fd, .events = POLLIN },
		{ .fd = w->stop_fd, .events = POLLIN },
	};

	wk_sample_cpu(w);
	rcu_thread_offline();
	poll(pfd, 2, -1);
	rcu_thread_online();
}

/*
 * Stop: nothing held may be lost. With fail-open the queue is shrunk to
 * length 0 first, so the kernel accepts new packets itself instead of
 * queueing them; then everything still queued is received and verdicted.
 */
static void wk_drain(struct worker *w)
{
	struct nfq_kstats ks;
	int ret, idle = 0;

	wk_flush(w, FLUSH_STOP);
	if (w->p.fail_open) {
		ret = wk_set_maxlen(w, 0);
		if (ret < 0)
			log_warn("queue %u: closing the queue: %s", w->p.queue,
				 strerror(-ret));
	}
	/* Without fail-open traffic keeps coming: drain until the socket is
	 * empty and let the rules' --queue-bypass take over at unbind. */
	for (unsigned rounds = 0; rounds < 100000; rounds++) {
		ret = wk_recv_burst(w);
		if (ret < 0)
			break;
		if (ret > 0) {
			idle = 0;
			continue;
		}
		if (!w->p.fail_open)
			break;
		/* The kernel delivers every queued packet to the socket
		 * before it queues it, so an empty socket and an empty
		 * kernel queue agree; check the latter to be sure. */
		if (nfq_kstats_read(NULL, w->p.queue, &ks) < 0 ||
		    ks.queue_total == 0 || ++idle > 1000)
			break;
		tsan_release(&wk_tsan_grace);
		rcu_quiescent_state();
		rcu_thread_offline();
		poll(&(struct pollfd){ .fd = w->fd, .events = POLLIN }, 1, 1);
		rcu_thread_online();
	}
	wk_flush(w, FLUSH_STOP);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char name[16];
	int ret;

	snprintf(name, sizeof(name), "nfqe-q%u", w->p.queue);
	pthread_setname_np(pthread_self(), name);
	ret = lastgasp_thread_init();
	if (ret < 0)
		log_warn("queue %u: no alternate signal stack (%s): a stack "
			 "overflow would lose what the queue holds",
			 w->p.queue, strerror(-ret));
	rcu_register_thread();

	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE) &&
	       !__atomic_load_n(&w->pause, __ATOMIC_ACQUIRE)) {
		int n = wk_recv_burst(w);

		if (n < 0) {
			unsigned missed;

			if (ratelimit_ok(&w->rl_err, &missed))
				log_err("queue %u: receive failed: %s",
					w->p.queue, strerror(-n));
			wk_wait(w);
			continue;
		}
		tsan_release(&wk_tsan_grace);
		rcu_quiescent_state();
		if (n == 0)
			wk_wait(w);
		else if (++w->bursts_since_cpu >= WK_CPU_SAMPLE_BURSTS) {
			w->bursts_since_cpu = 0;
			wk_sample_cpu(w);
		}
	}
	/* paused (a takeover): what is unread stays in the socket for the
	 * next owner; only a stop drains */
	if (__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE))
		wk_drain(w);
	else
		wk_flush(w, FLUSH_STOP);
	wk_sample_cpu(w);
	rcu_unregister_thread();
	lastgasp_thread_exit();
	return NULL;
}

/* ---- life cycle and stats ------------------------------------------- */

void worker_set_flowtable(struct worker *w, struct flowtable *ft)
{
	w->p.ft = ft;
}

int worker_start(struct worker *w)
{
	pthread_attr_t attr;
	uint64_t v;
	int ret;

	/* a restart after worker_pause(): forget its wake-up */
	__atomic_store_n(&w->pause, 0, __ATOMIC_RELEASE);
	if (read(w->stop_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;

	pthread_attr_init(&attr);
	if (w->p.cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(w->p.cpu, &set);
		pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	}
	ret = pthread_create(&w->thread, &attr, worker_main, w);
	pthread_attr_destroy(&attr);
	if (ret)
		return -ret;
	w->started = true;
	return 0;
}

/* Raise @flag (stop or pause), wake the worker, wait for its thread. */
/*
 * Wait at most @timeout_ms for the thread to end after raising @flag. With
 * @wd_ns, the watchdog keeps accepting what the queue holds (as it does
 * while nfqe runs) for as long as the worker is stuck in the meantime.
 */
static int wk_end(struct worker *w, int *flag, unsigned timeout_ms,
		  uint64_t wd_ns)
{
	uint64_t one = 1, end;
	int ret;

	if (!w || !w->started)
		return 0;
	if (w->stuck)
		return -ETIMEDOUT;
	__atomic_store_n(flag, 1, __ATOMIC_RELEASE);
	if (write(w->stop_fd, &one, sizeof(one)) < 0)
		log_warn("queue %u: waking worker: %s", w->p.queue,
			 strerror(errno));
	end = now_ns() + (uint64_t)timeout_ms * 1000000;
	for (;;) {
		/* slices of 20 ms at most, so the watchdog keeps its pace */
		uint64_t now = now_ns(), slice = end > now ? end - now : 0;
		struct timespec deadline;

		if (slice > 20000000)
			slice = 20000000;
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_nsec += (long)slice;
		if (deadline.tv_nsec >= 1000000000) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000;
		}
		ret = pthread_timedjoin_np(w->thread, NULL, &deadline);
		if (ret != ETIMEDOUT || now_ns() >= end)
			break;
		if (wd_ns && (ret = worker_watchdog(w, now_ns(), wd_ns,
						    true)) < 0) {
			log_warn("queue %u: watchdog while stopping: %s",
				 w->p.queue, strerror(-ret));
			wd_ns = 0;
		}
	}
	if (ret) {
		/* stuck (a decide step that hangs): leave it; the process
		 * exits, and worker_release() or the kernel's unbind takes
		 * care of what the queue holds */
		w->stuck = true;
		return -ret;
	}
	w->started = false;
	return 0;
}

int worker_stop(struct worker *w, unsigned timeout_ms, uint64_t wd_ns)
{
	return wk_end(w, &w->stop, timeout_ms, wd_ns);
}

int worker_pause(struct worker *w, unsigned timeout_ms)
{
	return wk_end(w, &w->pause, timeout_ms, 0);
}

int worker_fd(const struct worker *w)
{
	return w->fd;
}

void worker_set_given(struct worker *w)
{
	w->given = true;
}

struct worker *worker_adopt(const struct worker_params *p, int fd, char *err,
			    size_t errlen)
{
	struct worker *w;
	int ret;

	ret = wk_alloc(p, &w, err, errlen);
	if (ret < 0) {
		errno = -ret;
		return NULL;
	}
	/* the socket comes bound and configured (copy mode, maxlen, flags,
	 * buffer) by the process that handed it over; packets may already
	 * wait in it, and are this worker's to verdict */
	w->nl = mnl_socket_fdopen(fd);
	if (!w->nl) {
		ret = -errno;
		snprintf(err, errlen, "queue %u: adopting socket %d: %s",
			 p->queue, fd, strerror(-ret));
		w->unbound = true;
		worker_free(w);
		errno = -ret;
		return NULL;
	}
	w->fd = fd;
	w->portid = mnl_socket_get_portid(w->nl);
	return w;
}

void worker_free(struct worker *w)
{
	if (!w)
		return;
	worker_stop(w, WORKER_STOP_TIMEOUT_MS, 0);
	if (w->stuck)
		return;	/* its thread still runs: leak it, never free under it */
	if (w->nl && !w->unbound && !w->given) {
		int ret = wk_unbind(w);

		if (ret < 0)
			log_warn("queue %u: unbind: %s", w->p.queue,
				 strerror(-ret));
	}
	if (w->nl)
		mnl_socket_close(w->nl);
	if (w->stop_fd >= 0)
		close(w->stop_fd);
	vbatch_free(w->vb);
	free(w->rxbuf);
	free(w->msgs);
	free(w->iov);
	free(w->txbuf);
	free(w->wd_txbuf);
	free(w->pkts);
	free(w->keys);
	free(w->sides);
	free(w->flows);
	free(w->dirs);
	pthread_mutex_destroy(&w->wd_lock);
	free(w);
}

/*
 * Accept everything the kernel queue holds, under wd_lock. The batch
 * verdict covers every queued id up to the id sequence read, and nothing
 * else verdicts on this queue meanwhile (the worker's sends wait for the
 * lock), so the queue length read is the number of packets the batch
 * verdicts: what wd_accepted counts. Those are the packets the worker
 * held unsent (the one in its decide step included) and those still
 * unread in its socket; what it already sent is no longer queued.
 * Packets queued after the read have higher ids and stay for the worker.
 */
static int wk_wd_accept(struct worker *w)
{
	struct nfq_kstats ks;
	struct nlmsghdr *nlh;
	int ret;

	ret = nfq_kstats_read(NULL, w->p.queue, &ks);
	if (ret < 0)
		return ret;
	if (!ks.queue_total)
		return 0;
	/* only the socket that bound the queue may verdict on it: use the
	 * worker's socket, from this thread; netlink sends are atomic */
	nlh = nfq_nlmsg_put(w->wd_txbuf, NFQNL_MSG_VERDICT_BATCH, w->p.queue);
	nfq_nlmsg_verdict_put(nlh, (int)(uint32_t)ks.id_sequence, NF_ACCEPT);
	if (mnl_socket_sendto(w->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	/* only now: the worker must never skip a packet nobody verdicted */
	__atomic_store_n(&w->wd_upto, (uint32_t)ks.id_sequence,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&w->wd_valid, 1, __ATOMIC_RELEASE);
	ST_ADD(w->st.wd_accepted, ks.queue_total);
	return 0;
}

int worker_watchdog(struct worker *w, uint64_t now_ns, uint64_t timeout_ns,
		    bool accept)
{
	uint64_t busy = __atomic_load_n(&w->busy_since, __ATOMIC_RELAXED);
	uint64_t packets = __atomic_load_n(&w->st.packets, __ATOMIC_RELAXED);
	int ret;

	if (!busy || packets != w->wd_packets) {
		w->wd_packets = packets;
		w->wd_since = now_ns;
		return 0;
	}
	if (now_ns - w->wd_since < timeout_ns)
		return 0;
	/* stuck: no packet received for timeout_ns inside one burst; but a
	 * worker sending verdicts right now is moving: look again at the
	 * next check (never block the engine thread on the worker) */
	if (accept && pthread_mutex_trylock(&w->wd_lock))
		return 0;
	ST_ADD(w->st.wd_events, 1);
	w->wd_since = now_ns;
	if (!accept)
		return 1;
	ret = wk_wd_accept(w);
	pthread_mutex_unlock(&w->wd_lock);
	return ret < 0 ? ret : 1;
}

/*
 * The worker is stuck and the process is about to exit, which unbinds the
 * queue: the kernel would drop what it holds. Accept it instead, as the
 * watchdog does (the same batch verdict, counted in wd_accepted). With
 * @fail_open the queue is first shrunk to length 0 so that the kernel
 * passes new packets itself; nothing then queues between the batch and the
 * exit. The config message asks for no ACK: the engine thread must not
 * read the worker's socket.
 */
int worker_release(struct worker *w, bool fail_open)
{
	uint64_t before;
	int ret;

	if (!w || !w->stuck || !w->nl)
		return 0;
	/* the stuck worker cannot hold wd_lock: it is inside its decide
	 * step, and sends only under the lock */
	if (pthread_mutex_trylock(&w->wd_lock))
		return -EBUSY;
	if (fail_open) {
		struct nlmsghdr *nlh = nfq_nlmsg_put(w->wd_txbuf,
						     NFQNL_MSG_CONFIG,
						     w->p.queue);

		nfq_nlmsg_cfg_put_qmaxlen(nlh, 0);
		if (mnl_socket_sendto(w->nl, nlh, nlh->nlmsg_len) < 0)
			log_warn("queue %u: closing the queue: %s",
				 w->p.queue, strerror(errno));
	}
	before = __atomic_load_n(&w->st.wd_accepted, __ATOMIC_RELAXED);
	ret = wk_wd_accept(w);
	pthread_mutex_unlock(&w->wd_lock);
	if (ret < 0)
		return ret;
	return (int)(__atomic_load_n(&w->st.wd_accepted, __ATOMIC_RELAXED) -
		     before);
}

unsigned worker_queue(const struct worker *w)
{
	return w->p.queue;
}

int worker_cpu(const struct worker *w)
{
	return w->p.cpu;
}

void worker_stats_read(const struct worker *w, struct worker_stats *ret)
{
	const uint64_t *src = (const uint64_t *)&w->st;
	uint64_t *dst = (uint64_t *)ret;
	size_t words = offsetof(struct worker_stats, hold) / sizeof(uint64_t);

	for (size_t i = 0; i < words; i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
	hist_snapshot(&w->st.hold, &ret->hold);
}

#define NFQ_KSTATS_PATH	"/proc/net/netfilter/nfnetlink_queue"

/* The kernel's queue table, opened while root (nfq_kstats_open()). */
static int kstats_fd = -1;

int nfq_kstats_open(void)
{
	int fd = open(NFQ_KSTATS_PATH, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	nfq_kstats_close();
	kstats_fd = fd;
	return fd;
}

void nfq_kstats_close(void)
{
	if (kstats_fd >= 0)
		close(kstats_fd);
	kstats_fd = -1;
}

/*
 * The whole table through the kept descriptor, as a stream. pread() from
 * offset 0 makes the kernel's seq_file start over, so every call sees
 * fresh counters, and concurrent readers do not share a file position.
 */
static FILE *kstats_snapshot(char **ret_buf)
{
	size_t len = 0, cap = 0;
	char *buf = NULL, *bigger;
	ssize_t n;
	FILE *f;

	do {
		if (cap - len < 4096) {
			cap = cap * 2 + 4096;
			bigger = realloc(buf, cap);
			if (!bigger) {
				free(buf);
				errno = ENOMEM;
				return NULL;
			}
			buf = bigger;
		}
		n = pread(kstats_fd, buf + len, cap - len, (off_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return NULL;
		}
		len += (size_t)n;
	} while (n > 0);
	f = len ? fmemopen(buf, len, "r") : NULL;
	if (!f) {
		free(buf);
		if (!len)
			errno = ENOENT;	/* no queue bound in this netns */
		return NULL;
	}
	*ret_buf = buf;
	return f;
}

int nfq_kstats_read(const char *path, unsigned queue, struct nfq_kstats *ret)
{
	char line[256], *buf = NULL;
	FILE *f;
	int found = -ENOENT;

	if (!path && kstats_fd >= 0)
		f = kstats_snapshot(&buf);
	else
		f = fopen(path ? path : NFQ_KSTATS_PATH, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		struct nfq_kstats k;

		if (sscanf(line, "%" SCNu32 " %" SCNu32 " %" SCNu32 " %" SCNu32
			   " %" SCNu32 " %" SCNu64 " %" SCNu64 " %" SCNu64,
			   &k.queue, &k.portid, &k.queue_total, &k.copy_mode,
			   &k.copy_range, &k.queue_dropped, &k.user_dropped,
			   &k.id_sequence) != 8)
			continue;
		if (k.queue == queue) {
			*ret = k;
			found = 0;
			break;
		}
	}
	fclose(f);
	free(buf);
	return found;
}
