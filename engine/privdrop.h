/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * privdrop.h - least privilege: once every queue is bound and every
 * privileged file descriptor is open, nfqe becomes an unprivileged user
 * that keeps only CAP_NET_ADMIN, sets no_new_privs, and optionally
 * confines itself to a seccomp allowlist of the system calls it makes.
 *
 * What nfqe still does afterwards, and why it still works:
 *   - verdicts and queue config (fail-open drain, unbind at exit) on the
 *     netlink sockets opened before: nfnetlink checks CAP_NET_ADMIN of the
 *     sending thread, which every thread keeps;
 *   - reading /proc/net/netfilter/nfnetlink_queue and
 *     /proc/net/stat/nf_conntrack: world-readable;
 *   - writing stats_json and metrics_textfile (temp file + rename): the
 *     directory must be writable by the user; failures are logged;
 *   - reloads read the config file again: it must be readable by the user.
 * Reloads cannot bind other queues or move the control socket; that
 * needs a restart anyway.
 */
#ifndef NFQE_PRIVDROP_H
#define NFQE_PRIVDROP_H

#include <stdbool.h>

/* The user nfqe becomes when none is configured, if it exists... */
#define PRIVDROP_USER_DEFAULT	"nfqe"
/* ...and otherwise. */
#define PRIVDROP_USER_FALLBACK	"nobody"

struct privdrop_params {
	/* A user name or numeric uid; "" (or NULL): PRIVDROP_USER_DEFAULT if
	 * it exists, else PRIVDROP_USER_FALLBACK; "root": stay root. */
	const char	*user;
	/* Install the seccomp allowlist (privdrop_seccomp_install()). */
	bool		seccomp;
};

/*
 * privdrop_apply - become @p->user with CAP_NET_ADMIN only.
 *
 * Changes uid, gid and groups (supplementary groups dropped), keeps
 * CAP_NET_ADMIN effective and permitted and nothing else, empties the
 * bounding and ambient sets, sets no_new_privs, then installs the seccomp
 * allowlist if asked. With "root" only no_new_privs (and seccomp) apply,
 * and the log says nfqe runs as root. Started without root (file or
 * ambient capabilities), nfqe keeps its user and drops every capability
 * but CAP_NET_ADMIN.
 *
 * Context: the main thread, while it is the only thread: credentials
 * change for every thread (glibc broadcasts setuid), but capabilities
 * are per thread and only the caller's are kept. Threads created later
 * inherit the caller's credentials, capabilities and filter.
 *
 * Returns 0, or -errno with the reason logged: -EBUSY (other threads
 * exist), -ENOENT (no such user), -EPERM (a step failed). On failure the
 * privileges may be half dropped: the caller must exit.
 */
int privdrop_apply(const struct privdrop_params *p);

/*
 * privdrop_check_access - after privdrop_apply(): warn (log only) when the
 * current user cannot read @conf_path (reloads would fail) or cannot
 * create files in the directory of a path of @write_paths (@n of them;
 * NULL or "" entries are skipped), as stats_json and metrics_textfile
 * need.
 */
void privdrop_check_access(const char *conf_path,
			   const char *const *write_paths, unsigned n);

/*
 * privdrop_seccomp_install - allow only the system calls nfqe makes after
 * start-up (netlink I/O, poll, the control socket, /proc and stats files,
 * memory, threads, time, sd_notify); anything else kills the whole
 * process (SECCOMP_RET_KILL_PROCESS; the kernel logs the syscall number
 * as an audit "type=1326" record). The filter is synchronised to every
 * thread (TSYNC) and inherited by threads created later.
 *
 * Context: no_new_privs must be set (privdrop_apply() does) or the caller
 * must have CAP_SYS_ADMIN. Returns 0 or -errno (logged).
 */
int privdrop_seccomp_install(void);

#endif
