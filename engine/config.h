/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * config.h - nfqe.conf: an INI file read with inih.
 *
 * Every key has a built-in default, so nfqe runs with no file at all.
 * Errors name the file and line ("nfqe.conf:12: batch_max: ...").
 */
#ifndef NFQE_CONFIG_H
#define NFQE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define NFQE_DEFAULT_CONF	"/etc/nfqe/nfqe.conf"
#define NFQE_DEFAULT_SOCKET	"/run/nfqe/nfqe.sock"
#define NFQE_MAX_QUEUES		256

enum nfqe_mode {
	MODE_FORWARD,	/* queue in filter FORWARD, after conntrack */
	MODE_RAW,	/* queue in raw PREROUTING/OUTPUT, before conntrack */
};

enum cpu_pin_mode {
	PIN_AUTO,	/* queue - queue_first mod ncpu */
	PIN_NONE,
	PIN_LIST,	/* cpu_list[queue - queue_first mod cpu_count] */
};

/* Idle timeouts of the flow table, in [flows]. */
enum flow_timeout {
	FT_TCP_NEW,
	FT_TCP_ESTABLISHED,
	FT_TCP_CLOSING,
	FT_UDP_NEW,
	FT_UDP_ESTABLISHED,
	FT_ICMP,
	FT_OTHER,
};

struct nfqe_config {
	/* [engine] */
	unsigned	queue_first;
	unsigned	queue_last;
	enum nfqe_mode	mode;
	unsigned	stats_interval;		/* s, 0: off */
	char		stats_json[256];	/* path, "" off */
	int		log_level;
	char		user[256];	/* "" nfqe, else nobody; "root" */
	bool		seccomp;
	int		seccomp_cli;	/* -1, or --seccomp: 0/1 over the file */

	/* [queue] */
	enum cpu_pin_mode cpu_pin;
	unsigned	cpu_count;
	int		cpu_list[64];
	uint32_t	copy_range;
	uint32_t	queue_maxlen;
	uint32_t	rcvbuf;
	bool		fail_open;
	bool		gso;
	bool		no_enobufs;
	unsigned	burst_max;
	unsigned	batch_max;
	unsigned	max_hold_us;
	bool		malformed_drop;
	unsigned	watchdog_ms;		/* 0: off */
	bool		watchdog_stop;		/* else accept what is queued */

	/* [control] */
	char		control_socket[256];	/* path, "" off */
	char		control_group[256];	/* "" root only */
	char		metrics_textfile[256];	/* path, "" off */
	unsigned	metrics_interval;	/* s */
	char		metrics_listen[64];	/* ADDRESS:PORT, "" off */

	/* [flows] */
	bool		flows_enable;
	uint32_t	flow_max;
	uint32_t	flow_zone;
	bool		flow_zone_indev;	/* zone = indev */
	unsigned	flow_timeout[7];	/* enum flow_timeout, seconds */

	/* [test] (only with the test_knobs build option) */
	unsigned	test_decide_delay_us;
};

void config_defaults(struct nfqe_config *cfg);

/*
 * A parser for sections that config.c does not know itself ([rules],
 * [inspector NAME], [offload]...): config_load() hands it every key of a
 * section whose name is @section, or starts with @section followed by a
 * space when @prefix is set. It returns 0, or -1 with a message (no
 * file:line, config.c adds it) in @err.
 */
struct config_section_parser {
	const char	*section;
	bool		prefix;
	int		(*key)(void *ctx, const char *section, const char *name,
			       const char *value, char *err, size_t errlen);
	void		*ctx;
};

/*
 * config_load_ext - config_load() with parsers for further sections, tried
 * in order before the built-in keys.
 */
int config_load_ext(const char *path, struct nfqe_config *cfg,
		    const struct config_section_parser *parsers,
		    unsigned nparsers, char *err, size_t errlen);

/*
 * config_load - read @path over the values already in @cfg.
 * Returns 0, or -1 with every problem found written to @err (one
 * "file:line: message" per line, at most @errlen bytes).
 */
int config_load(const char *path, struct nfqe_config *cfg, char *err,
		size_t errlen);

/* Parse "A:B" or "A" into a queue range. 0 or -EINVAL. */
int config_parse_queues(const char *s, unsigned *ret_first,
			unsigned *ret_last);

/* Parse "ADDRESS:PORT" (IPv4) or "[ADDRESS]:PORT" (IPv6), numeric, port
 * 1..65535, into a socket address and its length. 0 or -EINVAL. */
int config_parse_listen(const char *s, struct sockaddr_storage *ret_addr,
			socklen_t *ret_len);

/* Cross-key checks after loading and command-line overrides. 0 or -1
 * with a message in @err. */
int config_check(const struct nfqe_config *cfg, char *err, size_t errlen);

/* The CPU a queue's worker is pinned to, -1 for none. */
int config_queue_cpu(const struct nfqe_config *cfg, unsigned queue);

/* Names of keys that differ between @a and @b and need a restart
 * (comma separated in @ret, "" if none). */
void config_restart_keys(const struct nfqe_config *a,
			 const struct nfqe_config *b, char *ret, size_t len);

#endif
