// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The seccomp allowlist ([engine] seccomp = yes): the system calls nfqe's
 * threads make once start-up is done, and nothing else. Binding, socket
 * setup, setuid and capabilities all happened before; what is left is
 * netlink I/O on open sockets, poll, the control socket (accept, peer
 * credentials, user database lookups), /proc and stats files, memory,
 * threads (workers, liburcu's call_rcu thread), time, sd_notify and log
 * lines.
 *
 * Anything else kills the process (SECCOMP_RET_KILL_PROCESS), not only
 * the thread and not with an error: a call outside this list is a bug in
 * the list or code nfqe does not run, and an error return would leave a
 * daemon in an unknown state. The kernel logs the kill with the syscall
 * number (audit type=1326, "syscall=N"); `ausyscall N` names it. A killed
 * nfqe closes its netlink sockets, so the kernel unbinds its queues:
 * packets it held are dropped, and new ones pass unverdicted through the
 * rules' --queue-bypass (fail-open); systemd's Restart=on-failure then
 * starts it again.
 *
 * To find a missing call: strace -f -c -o /tmp/nfqe.strace nfqe -c FILE
 * with seccomp = no, under traffic, SIGHUP, SIGUSR1, nfqectl requests
 * and SIGTERM.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <seccomp.h>

#include "nfqe-config.h"
#include "log.h"
#include "privdrop.h"

/* Allowed whatever their arguments. Names, so that calls one architecture
 * lacks (open, poll...) are skipped rather than failing the build. */
static const char *const seccomp_allowed[] = {
	/* memory: malloc, thread stacks, liburcu */
	"brk", "mmap", "munmap", "mremap", "mprotect", "madvise",
	/* threads and their synchronisation (clone: see below) */
	"futex", "set_robust_list", "get_robust_list", "rseq", "membarrier",
	"sched_yield", "sched_getaffinity", "sched_setaffinity", "gettid",
	"getpid", "exit", "exit_group", "restart_syscall",
	/* signals: the signalfd is read(); glibc blocks signals around
	 * clone and its cancellation/abort paths use these */
	"rt_sigprocmask", "rt_sigreturn", "rt_sigaction", "sigaltstack",
	/* time: the vDSO normally answers without a syscall */
	"clock_gettime", "clock_getres", "gettimeofday", "time", "nanosleep",
	"clock_nanosleep",
	/* files: /proc stats, stats_json and metrics_textfile (temp file,
	 * rename), the config on reload, /sys for the CPU count, log lines */
	"read", "readv", "pread64", "write", "writev", "pwrite64", "open",
	"openat", "close", "fstat", "newfstatat", "stat", "lstat", "statx",
	"lseek", "fcntl", "getdents64", "rename", "renameat", "renameat2",
	"unlink", "unlinkat", "access", "faccessat", "faccessat2", "fsync",
	"fdatasync", "umask", "readlink", "readlinkat", "getcwd",
	/* sockets: netlink verdicts and config, the control socket and
	 * the metrics listener (libmicrohttpd: epoll, accept4, send...),
	 * sd_notify, the user database (nss-systemd speaks varlink) */
	"recvmmsg", "recvmsg", "recvfrom", "sendmsg", "sendmmsg", "sendto",
	"accept4", "accept", "connect", "getsockopt", "setsockopt",
	"getsockname", "getpeername", "shutdown",
	/* waiting */
	"poll", "ppoll", "select", "pselect6", "epoll_create1", "epoll_ctl",
	"epoll_wait", "epoll_pwait", "epoll_pwait2",
	/* identity, for log lines and the user database */
	"getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid",
	"getgroups", "uname", "getrandom", "sysinfo",
};

/* What sanitizer runtimes add: LeakSanitizer stops the world from a
 * clone()d tracer that ptraces every thread and is waited for. */
static const char *const seccomp_allowed_sanitize[] = {
	"ptrace", "wait4", "waitid", "prctl", "clone", "getppid", "kill",
	"tgkill", "mincore", "getrlimit", "prlimit64", "sched_getparam",
	"dup", "dup2", "dup3", "pipe2", "getdents", "sched_getaffinity",
};

static int seccomp_allow(scmp_filter_ctx ctx, const char *name,
			 unsigned argc, const struct scmp_arg_cmp *argv)
{
	int nr = seccomp_syscall_resolve_name(name);
	int ret;

	if (nr == __NR_SCMP_ERROR || nr < 0)
		return 0;	/* not a syscall on this architecture */
	ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, argc, argv);
	if (ret < 0)
		log_err("seccomp: allowing %s: %s", name, strerror(-ret));
	return ret;
}

/* Calls allowed with some arguments only. */
static int seccomp_allow_restricted(scmp_filter_ctx ctx)
{
	/* threads only: a clone without CLONE_THREAD is a fork */
	const struct scmp_arg_cmp clone_thread =
		SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD);
	/* sd_notify and nss-systemd open unix sockets; nothing else may be
	 * opened: the netlink sockets exist already */
	const struct scmp_arg_cmp af_unix = SCMP_A0(SCMP_CMP_EQ, AF_UNIX);
	/* pthread_setname_np() on the calling thread */
	const struct scmp_arg_cmp set_name = SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME);
	const struct scmp_arg_cmp get_name = SCMP_A0(SCMP_CMP_EQ, PR_GET_NAME);
	/* stdio asks whether stderr is a terminal */
	const struct scmp_arg_cmp tcgets = SCMP_A1(SCMP_CMP_EQ, TCGETS);
	/* a reload resolves the rules' iif/oif names: if_nametoindex() on
	 * an AF_UNIX datagram socket */
	const struct scmp_arg_cmp ifindex = SCMP_A1(SCMP_CMP_EQ, SIOCGIFINDEX);
	/* abort(): a signal to this process only */
	const struct scmp_arg_cmp self = SCMP_A0(SCMP_CMP_EQ, getpid());
	int ret = 0;

	ret = ret ? ret : seccomp_allow(ctx, "clone", 1, &clone_thread);
	ret = ret ? ret : seccomp_allow(ctx, "socket", 1, &af_unix);
	ret = ret ? ret : seccomp_allow(ctx, "prctl", 1, &set_name);
	ret = ret ? ret : seccomp_allow(ctx, "prctl", 1, &get_name);
	ret = ret ? ret : seccomp_allow(ctx, "ioctl", 1, &tcgets);
	ret = ret ? ret : seccomp_allow(ctx, "ioctl", 1, &ifindex);
	ret = ret ? ret : seccomp_allow(ctx, "tgkill", 1, &self);
	/* clone3 passes its flags in memory, out of the filter's sight:
	 * ENOSYS makes glibc fall back to clone */
	ret = ret ? ret : seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
					   SCMP_SYS(clone3), 0);
	return ret;
}

int privdrop_seccomp_install(void)
{
	/* A trap, not a kill: the SIGSYS reaches the fatal-signal handler
	 * (lastgasp.h), which accepts what the queues hold and names the
	 * call. Without a handler SIGSYS's default action ends the process
	 * as a kill would; the kernel forces it on a thread that blocks it. */
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	unsigned n = sizeof(seccomp_allowed) / sizeof(seccomp_allowed[0]);
	int ret = 0;

	if (!ctx) {
		log_err("seccomp: out of memory");
		return -ENOMEM;
	}
	/* every thread that exists, not only this one */
	ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	for (unsigned i = 0; !ret && i < n; i++)
		ret = seccomp_allow(ctx, seccomp_allowed[i], 0, NULL);
	if (!ret)
		ret = seccomp_allow_restricted(ctx);
	if (ENABLE_SANITIZERS) {
		n = sizeof(seccomp_allowed_sanitize) /
		    sizeof(seccomp_allowed_sanitize[0]);
		for (unsigned i = 0; !ret && i < n; i++)
			ret = seccomp_allow(ctx, seccomp_allowed_sanitize[i],
					    0, NULL);
	}
	if (!ret) {
		ret = seccomp_load(ctx);
		if (ret < 0)
			log_err("seccomp: loading the filter: %s",
				strerror(-ret));
	}
	seccomp_release(ctx);
	if (ret < 0)
		return ret;
	log_info("seccomp: system call allowlist installed; any other call "
		 "kills nfqe");
	return 0;
}
