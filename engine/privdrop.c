// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Dropping privileges once start-up is done. The order is the point:
 *
 *   engine_new()  bind every queue (CAP_NET_ADMIN, SO_RCVBUFFORCE), open
 *                 the control socket (chown to its group: CAP_CHOWN),
 *                 the signalfd
 *   privdrop_apply()  in the main thread, still the only thread:
 *                 setgroups/setgid/setuid keeping CAP_NET_ADMIN alone
 *                 (libcap-ng), bounding and ambient sets emptied,
 *                 no_new_privs, then the seccomp allowlist
 *   worker_start() threads inherit all of it
 *
 * Capabilities are per thread: a thread that existed before the uid
 * change would have lost every capability in glibc's setuid broadcast,
 * CAP_NET_ADMIN included, and its verdicts would fail with EPERM. That is
 * why privdrop_apply() refuses to run when other threads exist.
 */
#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>

#include <cap-ng.h>

#include "nfqe-config.h"
#include "log.h"
#include "privdrop.h"

/* Threads of this process, from /proc/self/status; -errno. */
static int privdrop_threads(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	int n = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %d", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* Look @name up as a user name, then as a numeric uid. 0, -ENOENT or
 * -errno. @buf backs the strings of @pw. */
static int privdrop_user_lookup(const char *name, struct passwd *pw,
				char *buf, size_t size)
{
	struct passwd *res = NULL;
	unsigned long uid;
	char *end;
	int ret;

	ret = getpwnam_r(name, pw, buf, size, &res);
	if (!ret && res)
		return 0;
	errno = 0;
	uid = strtoul(name, &end, 10);
	if (*name && !*end && !errno && uid < (uid_t)-1) {
		ret = getpwuid_r((uid_t)uid, pw, buf, size, &res);
		if (!ret && res)
			return 0;
	}
	return ret && ret != ENOENT && ret != ESRCH ? -ret : -ENOENT;
}

static const char *capng_change_id_strerror(int ret)
{
	switch (ret) {
	case -2:
		return "keeping capabilities across the uid change failed";
	case -3:
		return "applying the intermediate capabilities failed";
	case -4:
		return "changing the gid failed";
	case -5:
		return "dropping supplementary groups failed";
	case -6:
		return "changing the uid failed";
	case -7:
		return "clearing keep-caps failed";
	case -8:
		return "clearing the bounding set failed (needs CAP_SETPCAP)";
	case -9:
		return "dropping CAP_SETPCAP or ambient capabilities failed";
	default:
		return "libcap-ng failed";
	}
}

/*
 * glibc loads NSS modules on first use (dlopen: open, mmap PROT_EXEC),
 * which the seccomp allowlist does not allow later. The control socket
 * looks peers up with getpwuid_r() and getgrouplist(): do both once now.
 */
static void privdrop_nss_preload(const struct passwd *pw)
{
	gid_t groups[64];
	int ngroups = 64;
	struct group gr, *grp = NULL;
	struct passwd pwb, *res = NULL;
	char buf[4096];

	getpwuid_r(pw->pw_uid, &pwb, buf, sizeof(buf), &res);
	getgrgid_r(pw->pw_gid, &gr, buf, sizeof(buf), &grp);
	getgrouplist(pw->pw_name, pw->pw_gid, groups, &ngroups);
}

/* Every capability but CAP_NET_ADMIN, for a process started without
 * root: its uid cannot change, the rest still can. */
static int privdrop_caps_only(void)
{
	int ret;

	capng_clear(CAPNG_SELECT_CAPS);
	capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED,
		     CAP_NET_ADMIN);
	ret = capng_apply(CAPNG_SELECT_CAPS);
	if (ret < 0) {
		log_err("privileges: keeping only CAP_NET_ADMIN failed (%d)",
			ret);
		return -EPERM;
	}
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	return 0;
}

/* Read back what the kernel says: uid, gid, groups and capabilities. */
static int privdrop_verify(uid_t uid, gid_t gid)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;

	if (getresuid(&ruid, &euid, &suid) || getresgid(&rgid, &egid, &sgid) ||
	    ruid != uid || euid != uid || suid != uid || rgid != gid ||
	    egid != gid || sgid != gid || getgroups(0, NULL) != 0) {
		log_err("privileges: the user change did not take");
		return -EPERM;
	}
	capng_get_caps_process();
	if (capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_PARTIAL ||
	    !capng_have_capability(CAPNG_EFFECTIVE, CAP_NET_ADMIN) ||
	    capng_have_capability(CAPNG_EFFECTIVE, CAP_SETUID) ||
	    capng_have_capability(CAPNG_PERMITTED, CAP_SYS_ADMIN)) {
		log_err("privileges: capabilities are not CAP_NET_ADMIN alone");
		return -EPERM;
	}
	return 0;
}

static int privdrop_no_new_privs(void)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		log_err("privileges: PR_SET_NO_NEW_PRIVS: %s",
			strerror(errno));
		return -errno;
	}
	return 0;
}

int privdrop_apply(const struct privdrop_params *p)
{
	const char *want = p->user && *p->user ? p->user : NULL;
	struct passwd pw;
	char buf[4096];
	int ret;

	ret = privdrop_threads();
	if (ret != 1) {
		log_err("privileges: %d threads exist; dropping must happen "
			"before any thread starts", ret);
		return -EBUSY;
	}
	if (!want) {
		ret = privdrop_user_lookup(PRIVDROP_USER_DEFAULT, &pw, buf,
					   sizeof(buf));
		if (ret == -ENOENT)
			ret = privdrop_user_lookup(PRIVDROP_USER_FALLBACK, &pw,
						   buf, sizeof(buf));
	} else {
		ret = privdrop_user_lookup(want, &pw, buf, sizeof(buf));
	}
	if (ret < 0) {
		log_err("privileges: user '%s': %s", want ? want :
			PRIVDROP_USER_DEFAULT "' nor '" PRIVDROP_USER_FALLBACK,
			ret == -ENOENT ? "no such user" : strerror(-ret));
		return ret;
	}

	if (geteuid() != 0) {
		if (want && pw.pw_uid != geteuid())
			log_warn("privileges: started as uid %u, not root: "
				 "cannot become '%s'", (unsigned)geteuid(),
				 want);
		ret = privdrop_caps_only();
		if (!ret)
			ret = privdrop_no_new_privs();
		if (ret)
			return ret;
		log_info("running as uid %u (started without root) with "
			 "CAP_NET_ADMIN only, no_new_privs",
			 (unsigned)geteuid());
	} else if (pw.pw_uid == 0) {
		ret = privdrop_no_new_privs();
		if (ret)
			return ret;
		log_warn("running as root (user = %s): privileges are not "
			 "dropped", want ? want : "root");
	} else {
		privdrop_nss_preload(&pw);
		capng_clear(CAPNG_SELECT_ALL);
		capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED,
			     CAP_NET_ADMIN);
		ret = capng_change_id((int)pw.pw_uid, (int)pw.pw_gid,
				      CAPNG_DROP_SUPP_GRP |
				      CAPNG_CLEAR_BOUNDING |
				      CAPNG_CLEAR_AMBIENT);
		if (ret < 0) {
			log_err("privileges: becoming %s (uid %u): %s (%d)",
				pw.pw_name, (unsigned)pw.pw_uid,
				capng_change_id_strerror(ret), ret);
			return -EPERM;
		}
		ret = privdrop_no_new_privs();
		if (!ret)
			ret = privdrop_verify(pw.pw_uid, pw.pw_gid);
		if (ret)
			return ret;
		/* The uid change made the process non-dumpable (no core, no
		 * ptrace, root-owned /proc files), which suits a daemon;
		 * LeakSanitizer, though, must ptrace its own threads. */
		if (ENABLE_SANITIZERS)
			prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
		log_info("running as %s (uid %u, gid %u) with CAP_NET_ADMIN "
			 "only, no_new_privs", pw.pw_name, (unsigned)pw.pw_uid,
			 (unsigned)pw.pw_gid);
	}
	if (p->seccomp)
		return privdrop_seccomp_install();
	return 0;
}

/* Whether the current user may create files next to @path. */
static int privdrop_dir_writable(const char *path)
{
	char *copy = strdup(path);
	int ret;

	if (!copy)
		return -ENOMEM;
	ret = access(dirname(copy), W_OK | X_OK) < 0 ? -errno : 0;
	free(copy);
	return ret;
}

void privdrop_check_access(const char *conf_path,
			   const char *const *write_paths, unsigned n)
{
	int ret;

	/* access() asks with the real uid, which is the new user now */
	if (conf_path && access(conf_path, R_OK) < 0)
		log_warn("config %s: not readable by uid %u (%s): reloads "
			 "will fail", conf_path, (unsigned)getuid(),
			 strerror(errno));
	for (unsigned i = 0; i < n; i++) {
		if (!write_paths[i] || !*write_paths[i])
			continue;
		ret = privdrop_dir_writable(write_paths[i]);
		if (ret < 0)
			log_warn("%s: its directory is not writable by uid %u "
				 "(%s): writing it will fail", write_paths[i],
				 (unsigned)getuid(), strerror(-ret));
	}
}
