/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lastgasp.h - what a fatal signal does before the process dies.
 *
 * When nfqe dies (a plug-in's SIGSEGV, an abort()), the kernel unbinds its
 * queues and drops every packet they hold: the ones a worker was deciding,
 * the verdicts it had not sent yet, everything unread in its socket. With
 * fail-open, the handler armed here first does what a stop that gives up on
 * a stuck worker does (worker_release()): it closes each queue to new
 * packets (length 0: the kernel passes them) and accepts everything the
 * queue holds with one verdict batch up to its id sequence, on the
 * worker's own socket, and writes one line to stderr: the signal (for
 * a seccomp trap, the system call) and how many packets it accepted. Then
 * the signal's earlier action runs: a sanitizer's report, or the default
 * (a core, exit status 128 + signal).
 *
 * The handler only reads its own tables, pread()s the kernel's queue
 * counters and sends prebuilt netlink messages: async-signal-safe calls.
 */
#ifndef NFQE_LASTGASP_H
#define NFQE_LASTGASP_H

struct worker;

/*
 * lastgasp_arm - install the handler for SIGSEGV, SIGBUS, SIGILL, SIGFPE,
 * SIGABRT and SIGSYS (the seccomp filter traps: seccomp.c) for the queues
 * of the @n workers @w (their sockets).
 * @kstats_fd: /proc/net/netfilter/nfnetlink_queue open for reading (< 0:
 * the queues are only closed, not accepted). 0 or -errno.
 */
int lastgasp_arm(struct worker *const *w, unsigned n, int kstats_fd);

/* Forget the queues (their sockets are about to close, or to belong to
 * another process) and put back the signals' earlier actions. */
void lastgasp_disarm(void);

/*
 * lastgasp_thread_init - give the calling thread an alternate signal stack,
 * unless it has one (a sanitizer's): the handler then runs after a stack
 * overflow too (a plug-in recursing without end), which would otherwise
 * kill the process before any handler could run. 0 or -errno.
 * lastgasp_thread_exit - take it back, before the thread ends.
 */
int lastgasp_thread_init(void);
void lastgasp_thread_exit(void);

/*
 * lastgasp_thread_adopt - for a thread nfqe did not start that runs
 * plug-in code: liburcu's call_rcu thread, which frees flows and so calls
 * the plug-ins' flow_free. liburcu starts it with every signal blocked,
 * and the kernel kills a thread that faults with its fault signal blocked
 * without running any handler. Unblocks the signals lastgasp_arm()
 * handles in the calling thread and gives it an alternate stack; once per
 * thread, cheap after that (a thread-local flag).
 */
void lastgasp_thread_adopt(void);

#endif
