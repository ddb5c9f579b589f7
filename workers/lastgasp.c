// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * lastgasp.c - on a fatal signal, close the queues and accept what they
 * hold before the process dies (see lastgasp.h).
 *
 * Everything the handler needs is prepared by lastgasp_arm(): for each
 * queue, its socket, a config message that sets the queue's length to 0
 * and a verdict batch message whose id is patched in the handler. The
 * handler runs at most once (the first fatal signal of any thread). Its
 * state is global, the exception to the house rule: a signal handler can
 * reach nothing else. Published with a release store of lg_n, taken back
 * (lastgasp_disarm()) only once the signals' earlier actions are back.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/netlink.h>

#include "lastgasp.h"
#include "worker.h"

#define LG_MSG		64	/* either message fits with room to spare */
#define LG_KSTATS_MAX	(64 * 1024)
#define LG_ALTSTACK	(64 * 1024)	/* the handler, and what it chains to */
#define LG_SYS_SECCOMP	1	/* si_code of a seccomp trap (the kernel's
				 * asm-generic/siginfo.h; glibc lacks it) */

struct lg_queue {
	int		fd;
	unsigned	queue;
	size_t		cfg_len;
	size_t		verdict_len;
	size_t		id_off;		/* of the batch's id, in verdict */
	char		cfg[LG_MSG] __attribute__((aligned(4)));
	char		verdict[LG_MSG] __attribute__((aligned(4)));
};

static const int lg_signals[] = {
	SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS,
};
#define LG_NSIG	(sizeof(lg_signals) / sizeof(lg_signals[0]))

static struct lg_queue *lg_q;
static unsigned lg_n;			/* 0: disarmed */
static int lg_kstats = -1;
static int lg_fired;
static struct sigaction lg_old[LG_NSIG];
static char lg_buf[LG_KSTATS_MAX];	/* the counters, read in the handler */
static __thread void *lg_altstack;	/* this thread's, if we gave it one */

static void lg_send(int fd, const void *buf, size_t len)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };

	/* nothing to do about an error: the process is dying */
	(void)sendto(fd, buf, len, 0, (struct sockaddr *)&kernel,
		     sizeof(kernel));
}

/* Parse an unsigned decimal at *@p (leading blanks skipped); false at the
 * end of the line. */
static bool lg_number(const char **p, const char *end, uint64_t *ret)
{
	const char *s = *p;
	uint64_t v = 0;

	while (s < end && *s == ' ')
		s++;
	if (s >= end || *s < '0' || *s > '9')
		return false;
	while (s < end && *s >= '0' && *s <= '9')
		v = v * 10 + (uint64_t)(*s++ - '0');
	*p = s;
	*ret = v;
	return true;
}

/* Accept everything queue @q holds, given its line of the counters:
 * queue_number peer_portid queue_total copy_mode copy_range queue_dropped
 * user_dropped id_sequence 1. */
static void lg_accept(const struct lg_queue *q, uint64_t total,
		      uint64_t id_sequence)
{
	char msg[LG_MSG] __attribute__((aligned(4)));
	uint32_t id = htonl((uint32_t)id_sequence);

	if (!total)
		return;
	memcpy(msg, q->verdict, q->verdict_len);
	memcpy(msg + q->id_off, &id, sizeof(id));
	lg_send(q->fd, msg, q->verdict_len);
}

/* Append @v in decimal at @p; returns the end. */
static char *lg_utoa(char *p, uint64_t v)
{
	char digits[20];
	unsigned n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = digits[--n];
	return p;
}

static char *lg_str(char *p, const char *s)
{
	while (*s)
		*p++ = *s++;
	return p;
}

/* One line on stderr: what killed nfqe and what the handler accepted
 * (@accepted < 0: the counters could not be read). write() only. */
static void lg_say(int sig, const siginfo_t *si, unsigned queues,
		   int64_t accepted)
{
	char line[192], *p = line;

	p = lg_str(p, "nfqe: ");
	if (sig == SIGSYS && si && si->si_code == LG_SYS_SECCOMP) {
		p = lg_str(p, "seccomp: system call ");
		p = lg_utoa(p, (uint64_t)(unsigned)si->si_syscall);
		p = lg_str(p, " is not in the allowlist; ");
	} else {
		p = lg_str(p, "fatal signal ");
		p = lg_utoa(p, (uint64_t)sig);
		p = lg_str(p, "; ");
	}
	p = lg_str(p, "closed ");
	p = lg_utoa(p, queues);
	p = lg_str(p, queues == 1 ? " queue" : " queues");
	if (accepted >= 0) {
		p = lg_str(p, " and accepted the ");
		p = lg_utoa(p, (uint64_t)accepted);
		p = lg_str(p, " packets they held");
	}
	p = lg_str(p, "\n");
	(void)write(STDERR_FILENO, line, (size_t)(p - line));
}

/* Close the queues and accept what they hold: the packets accepted, or -1
 * without the counters. */
static int64_t lg_release(void)
{
	unsigned n = __atomic_load_n(&lg_n, __ATOMIC_ACQUIRE);
	const struct lg_queue *q = lg_q;
	int64_t accepted = 0;
	size_t len = 0;
	const char *p, *stop;
	ssize_t got;

	/* closed first: nothing queues between the batch and the death */
	for (unsigned i = 0; i < n; i++)
		lg_send(q[i].fd, q[i].cfg, q[i].cfg_len);
	if (lg_kstats < 0)
		return -1;
	do {
		got = pread(lg_kstats, lg_buf + len, sizeof(lg_buf) - len,
			    (off_t)len);
		if (got > 0)
			len += (size_t)got;
	} while ((got > 0 || (got < 0 && errno == EINTR)) &&
		 len < sizeof(lg_buf));
	for (p = lg_buf, stop = lg_buf + len; p < stop;) {
		const char *eol = memchr(p, '\n', (size_t)(stop - p));
		const char *lend = eol ? eol : stop;
		uint64_t f[8];
		unsigned k;

		for (k = 0; k < 8 && lg_number(&p, lend, &f[k]); k++)
			;
		if (k == 8)
			for (unsigned i = 0; i < n; i++)
				if (q[i].queue == f[0]) {
					lg_accept(&q[i], f[2], f[7]);
					accepted += (int64_t)f[2];
				}
		p = lend + 1;
	}
	return accepted;
}

static void lg_handler(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	const struct sigaction *old;
	unsigned i = 0;

	/* installed for lg_signals only: one of them is sig */
	while (lg_signals[i] != sig)
		i++;
	old = &lg_old[i];
	if (!__atomic_exchange_n(&lg_fired, 1, __ATOMIC_ACQ_REL))
		lg_say(sig, si, __atomic_load_n(&lg_n, __ATOMIC_ACQUIRE),
		       lg_release());
	errno = saved;
	/* the earlier action, as if this handler had never been there */
	sigaction(sig, old, NULL);
	if ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction) {
		old->sa_sigaction(sig, si, uc);
	} else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
		old->sa_handler(sig);
	} else {
		/* pending until this handler returns, then the default: a
		 * fault would fault again anyway, a raise() or an abort()
		 * would not */
		raise(sig);
	}
}

static int lg_build(struct lg_queue *q, unsigned queue, int fd)
{
	struct nlmsghdr *nlh;
	struct nlattr *attr;
	struct nfqnl_msg_verdict_hdr *vh;

	q->fd = fd;
	q->queue = queue;
	nlh = nfq_nlmsg_put(q->cfg, NFQNL_MSG_CONFIG, (int)queue);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, 0);
	q->cfg_len = nlh->nlmsg_len;
	nlh = nfq_nlmsg_put(q->verdict, NFQNL_MSG_VERDICT_BATCH, (int)queue);
	nfq_nlmsg_verdict_put(nlh, 0, NF_ACCEPT);
	q->verdict_len = nlh->nlmsg_len;
	attr = mnl_nlmsg_get_payload_offset(nlh, sizeof(struct nfgenmsg));
	if (mnl_attr_get_type(attr) != NFQA_VERDICT_HDR ||
	    mnl_attr_get_payload_len(attr) < sizeof(*vh))
		return -EPROTO;
	vh = mnl_attr_get_payload(attr);
	q->id_off = (size_t)((char *)&vh->id - q->verdict);
	return q->cfg_len <= LG_MSG && q->verdict_len <= LG_MSG ? 0 : -EMSGSIZE;
}

int lastgasp_arm(struct worker *const *w, unsigned n, int kstats_fd)
{
	struct sigaction sa = {
		.sa_sigaction = lg_handler,
		.sa_flags = SA_SIGINFO | SA_ONSTACK,
	};
	struct lg_queue *q;
	int ret;

	if (__atomic_load_n(&lg_n, __ATOMIC_RELAXED))
		lastgasp_disarm();
	if (!n)
		return 0;
	q = calloc(n, sizeof(*q));
	if (!q)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		ret = lg_build(&q[i], worker_queue(w[i]), worker_fd(w[i]));
		if (ret < 0) {
			free(q);
			return ret;
		}
	}
	lg_q = q;
	lg_kstats = kstats_fd;
	__atomic_store_n(&lg_fired, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&lg_n, n, __ATOMIC_RELEASE);
	/* the handler runs with every signal blocked */
	sigfillset(&sa.sa_mask);
	for (unsigned i = 0; i < LG_NSIG; i++) {
		if (sigaction(lg_signals[i], &sa, &lg_old[i]) < 0) {
			ret = -errno;
			while (i--)
				sigaction(lg_signals[i], &lg_old[i], NULL);
			__atomic_store_n(&lg_n, 0, __ATOMIC_RELEASE);
			lg_q = NULL;
			free(q);
			return ret;
		}
	}
	return 0;
}

void lastgasp_disarm(void)
{
	if (!__atomic_load_n(&lg_n, __ATOMIC_RELAXED))
		return;
	for (unsigned i = 0; i < LG_NSIG; i++)
		sigaction(lg_signals[i], &lg_old[i], NULL);
	__atomic_store_n(&lg_n, 0, __ATOMIC_RELEASE);
	free(lg_q);
	lg_q = NULL;
	lg_kstats = -1;
}

int lastgasp_thread_init(void)
{
	stack_t ss, old;

	if (sigaltstack(NULL, &old) < 0)
		return -errno;
	if (!(old.ss_flags & SS_DISABLE))
		return 0;	/* a sanitizer's: big enough for both */
	ss.ss_sp = mmap(NULL, LG_ALTSTACK, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (ss.ss_sp == MAP_FAILED)
		return -errno;
	ss.ss_size = LG_ALTSTACK;
	ss.ss_flags = 0;
	if (sigaltstack(&ss, NULL) < 0) {
		int ret = -errno;

		munmap(ss.ss_sp, LG_ALTSTACK);
		return ret;
	}
	lg_altstack = ss.ss_sp;
	return 0;
}

void lastgasp_thread_exit(void)
{
	stack_t ss = { .ss_flags = SS_DISABLE };

	if (!lg_altstack)
		return;
	if (sigaltstack(&ss, NULL) == 0)
		munmap(lg_altstack, LG_ALTSTACK);
	lg_altstack = NULL;
}

void lastgasp_thread_adopt(void)
{
	static __thread bool adopted;
	sigset_t set;

	if (adopted)
		return;
	adopted = true;
	sigemptyset(&set);
	for (unsigned i = 0; i < LG_NSIG; i++)
		sigaddset(&set, lg_signals[i]);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	/* without a stack of its own (mmap failed) the handler runs on the
	 * thread's: everything but an overflow is still covered */
	(void)lastgasp_thread_init();
}
