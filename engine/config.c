// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The config file: inih reads the INI syntax, a table here gives every key
 * its type, bounds and place in struct nfqe_config. inih is driven through
 * ini_parse_stream() with a reader that counts lines, so that every error,
 * not only the first, carries its file:line. Unknown sections and keys are
 * errors: a typo must not silently leave a default in place.
 */
#include <errno.h>
#include <limits.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <syslog.h>

#include <ini.h>

#include "nfqe-config.h"
#include "config.h"
#include "log.h"

enum key_type {
	KT_UINT,
	KT_BOOL,
	KT_STRING,
	KT_QUEUES,
	KT_MODE,
	KT_VERDICT,
	KT_CPU_PIN,
	KT_LOG_LEVEL,
	KT_ZONE,
	KT_WD_ACTION,
	KT_LISTEN,
};

struct key_def {
	const char	*section;
	const char	*name;
	enum key_type	type;
	size_t		offset;
	unsigned long	min;
	unsigned long	max;
	bool		live;		/* applied by a reload */
	bool		test_knob;
};

#define CFG(f)	offsetof(struct nfqe_config, f)

_Static_assert(sizeof(unsigned) == sizeof(uint32_t),
	       "KT_UINT fields are written as 32 bits");

static const struct key_def keys[] = {
	{ "engine", "queues", KT_QUEUES, 0, 0, 65535, false, false },
	{ "engine", "mode", KT_MODE, CFG(mode), 0, 0, false, false },
	{ "engine", "stats_interval", KT_UINT, CFG(stats_interval), 0, 3600, true, false },
	{ "engine", "stats_json", KT_STRING, CFG(stats_json), 0, 0, true, false },
	{ "engine", "log_level", KT_LOG_LEVEL, CFG(log_level), 0, 0, true, false },
	{ "engine", "user", KT_STRING, CFG(user), 0, 0, false, false },
	{ "engine", "seccomp", KT_BOOL, CFG(seccomp), 0, 0, false, false },
	{ "queue", "cpu_pin", KT_CPU_PIN, 0, 0, 0, false, false },
	{ "queue", "copy_range", KT_UINT, CFG(copy_range), 64, 65531, false, false },
	{ "queue", "queue_maxlen", KT_UINT, CFG(queue_maxlen), 1, 1u << 24, false, false },
	{ "queue", "rcvbuf", KT_UINT, CFG(rcvbuf), 65536, 1u << 30, false, false },
	{ "queue", "fail_open", KT_BOOL, CFG(fail_open), 0, 0, false, false },
	{ "queue", "gso", KT_BOOL, CFG(gso), 0, 0, false, false },
	{ "queue", "no_enobufs", KT_BOOL, CFG(no_enobufs), 0, 0, false, false },
	{ "queue", "burst_max", KT_UINT, CFG(burst_max), 1, 1024, false, false },
	{ "queue", "batch_max", KT_UINT, CFG(batch_max), 1, 4096, true, false },
	{ "queue", "max_hold_us", KT_UINT, CFG(max_hold_us), 1, 1000000, true, false },
	{ "queue", "malformed", KT_VERDICT, CFG(malformed_drop), 0, 0, true, false },
	{ "queue", "watchdog_ms", KT_UINT, CFG(watchdog_ms), 0, 60000, true, false },
	{ "queue", "watchdog", KT_WD_ACTION, CFG(watchdog_stop), 0, 0, true, false },
	{ "control", "socket", KT_STRING, CFG(control_socket), 0, 0, false, false },
	{ "control", "group", KT_STRING, CFG(control_group), 0, 0, false, false },
	{ "control", "metrics_textfile", KT_STRING, CFG(metrics_textfile), 0, 0, true, false },
	{ "control", "metrics_interval", KT_UINT, CFG(metrics_interval), 1, 3600, true, false },
	{ "control", "metrics_listen", KT_LISTEN, CFG(metrics_listen), 0, 0, false, false },
	{ "flows", "enable", KT_BOOL, CFG(flows_enable), 0, 0, false, false },
	{ "flows", "flow_max", KT_UINT, CFG(flow_max), 1024, 1u << 30, false, false },
	{ "flows", "zone", KT_ZONE, 0, 0, 0, false, false },
	{ "flows", "tcp_new_timeout", KT_UINT, CFG(flow_timeout[FT_TCP_NEW]), 1, 86400, false, false },
	{ "flows", "tcp_established_timeout", KT_UINT, CFG(flow_timeout[FT_TCP_ESTABLISHED]), 1, 86400, false, false },
	{ "flows", "tcp_closing_timeout", KT_UINT, CFG(flow_timeout[FT_TCP_CLOSING]), 1, 86400, false, false },
	{ "flows", "udp_new_timeout", KT_UINT, CFG(flow_timeout[FT_UDP_NEW]), 1, 86400, false, false },
	{ "flows", "udp_established_timeout", KT_UINT, CFG(flow_timeout[FT_UDP_ESTABLISHED]), 1, 86400, false, false },
	{ "flows", "icmp_timeout", KT_UINT, CFG(flow_timeout[FT_ICMP]), 1, 86400, false, false },
	{ "flows", "other_timeout", KT_UINT, CFG(flow_timeout[FT_OTHER]), 1, 86400, false, false },
	{ "test", "decide_delay_us", KT_UINT, CFG(test_decide_delay_us), 0, 1000000, true, true },
};

void config_defaults(struct nfqe_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->queue_first = 0;
	cfg->queue_last = 1;
	cfg->mode = MODE_FORWARD;
	cfg->log_level = LOG_INFO;
	cfg->seccomp_cli = -1;
	cfg->cpu_pin = PIN_AUTO;
	cfg->copy_range = 65531;
	cfg->queue_maxlen = 8192;
	cfg->rcvbuf = 32u << 20;
	cfg->fail_open = true;
	cfg->gso = true;
	cfg->no_enobufs = true;
	cfg->burst_max = 64;
	cfg->batch_max = 256;
	cfg->max_hold_us = 100;
	cfg->malformed_drop = false;
	cfg->watchdog_ms = 200;
	cfg->watchdog_stop = false;
	strcpy(cfg->control_socket, NFQE_DEFAULT_SOCKET);
	cfg->flows_enable = true;
	cfg->flow_max = 262144;
	cfg->flow_timeout[FT_TCP_NEW] = 30;
	cfg->flow_timeout[FT_TCP_ESTABLISHED] = 600;
	cfg->flow_timeout[FT_TCP_CLOSING] = 10;
	cfg->flow_timeout[FT_UDP_NEW] = 30;
	cfg->flow_timeout[FT_UDP_ESTABLISHED] = 120;
	cfg->flow_timeout[FT_ICMP] = 30;
	cfg->flow_timeout[FT_OTHER] = 60;
	cfg->metrics_interval = 15;
}

int config_parse_listen(const char *s, struct sockaddr_storage *ret_addr,
			socklen_t *ret_len)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	const char *port;
	char host[INET6_ADDRSTRLEN];
	size_t hlen;
	unsigned long p;
	bool v6 = *s == '[';
	char *end;

	if (v6) {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		s++;
		hlen = (size_t)(close - s);
		port = close + 2;
	} else {
		port = strchr(s, ':');
		if (!port)
			return -EINVAL;
		hlen = (size_t)(port++ - s);
	}
	if (!hlen || hlen >= sizeof(host) || *port < '0' || *port > '9')
		return -EINVAL;
	errno = 0;
	p = strtoul(port, &end, 10);
	if (*end || errno || p < 1 || p > 65535)
		return -EINVAL;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (v6) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)p);
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return -EINVAL;
		*ret_len = sizeof(*in6);
	} else {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)p);
		/* dotted quad only (inet_aton() would take "1.2.3") */
		if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
			return -EINVAL;
		*ret_len = sizeof(*in);
	}
	*ret_addr = ss;
	return 0;
}

int config_parse_queues(const char *s, unsigned *ret_first,
			unsigned *ret_last)
{
	unsigned long a, b;
	char *end;

	errno = 0;
	a = strtoul(s, &end, 10);
	if (end == s || errno || a > 65535)
		return -EINVAL;
	if (*end == ':') {
		const char *p = end + 1;

		b = strtoul(p, &end, 10);
		if (end == p || errno || b > 65535)
			return -EINVAL;
	} else {
		b = a;
	}
	if (*end || b < a || b - a + 1 > NFQE_MAX_QUEUES)
		return -EINVAL;
	*ret_first = (unsigned)a;
	*ret_last = (unsigned)b;
	return 0;
}

static int parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i])) {
			*ret = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_cpu_pin(const char *s, struct nfqe_config *cfg)
{
	char buf[256], *tok, *save = NULL;
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);

	if (!strcasecmp(s, "auto")) {
		cfg->cpu_pin = PIN_AUTO;
		return 0;
	}
	if (!strcasecmp(s, "none")) {
		cfg->cpu_pin = PIN_NONE;
		return 0;
	}
	int list[64];
	unsigned count = 0;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	for (tok = strtok_r(buf, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		char *end;
		long cpu = strtol(tok, &end, 10);

		if (*end || cpu < 0 || cpu >= ncpu || cpu >= CPU_SETSIZE ||
		    count >= 64)
			return -EINVAL;
		list[count++] = (int)cpu;
	}
	if (!count)
		return -EINVAL;
	memcpy(cfg->cpu_list, list, count * sizeof(list[0]));
	cfg->cpu_count = count;
	cfg->cpu_pin = PIN_LIST;
	return 0;
}

struct parse_ctx {
	const struct config_section_parser *parsers;
	unsigned		nparsers;
	const char		*path;
	struct nfqe_config	*cfg;
	FILE			*f;
	unsigned		line;
	char			*err;
	size_t			errlen;
	size_t			errpos;
	unsigned		nerr;
};

static void parse_error(struct parse_ctx *pc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void parse_error(struct parse_ctx *pc, const char *fmt, ...)
{
	va_list ap;
	int n;

	pc->nerr++;
	if (pc->errpos >= pc->errlen)
		return;
	n = snprintf(pc->err + pc->errpos, pc->errlen - pc->errpos,
		     "%s%s:%u: ", pc->errpos ? "\n" : "", pc->path, pc->line);
	if (n > 0)
		pc->errpos += (size_t)n;
	if (pc->errpos >= pc->errlen)
		return;
	va_start(ap, fmt);
	n = vsnprintf(pc->err + pc->errpos, pc->errlen - pc->errpos, fmt, ap);
	va_end(ap);
	if (n > 0)
		pc->errpos += (size_t)n;
	if (pc->errpos > pc->errlen)
		pc->errpos = pc->errlen;
}

static int set_key(struct parse_ctx *pc, const struct key_def *k,
		   const char *value)
{
	struct nfqe_config *cfg = pc->cfg;
	char *field = (char *)cfg + k->offset;
	unsigned long u;
	char *end;
	int lvl;

	switch (k->type) {
	case KT_UINT:
		errno = 0;
		u = strtoul(value, &end, 0);
		if (!*value || *end || errno || value[0] == '-') {
			parse_error(pc, "%s: '%s' is not a number", k->name,
				    value);
			return -1;
		}
		if (u < k->min || u > k->max) {
			parse_error(pc, "%s: %lu is out of range [%lu, %lu]",
				    k->name, u, k->min, k->max);
			return -1;
		}
		/* every KT_UINT field is 32 bits (unsigned or uint32_t) */
		*(uint32_t *)field = (uint32_t)u;
		return 0;
	case KT_BOOL:
		if (parse_bool(value, (bool *)field) < 0) {
			parse_error(pc, "%s: '%s' is not yes or no", k->name,
				    value);
			return -1;
		}
		return 0;
	case KT_STRING:
		if (strlen(value) >= sizeof(cfg->stats_json)) {
			parse_error(pc, "%s: value too long", k->name);
			return -1;
		}
		strcpy(field, value);
		return 0;
	case KT_LISTEN: {
		struct sockaddr_storage ss;
		socklen_t len;

		if (*value && (strlen(value) >= sizeof(cfg->metrics_listen) ||
			       config_parse_listen(value, &ss, &len) < 0)) {
			parse_error(pc, "%s: '%s' is not ADDRESS:PORT (e.g. "
				    "127.0.0.1:9477 or [::1]:9477), or empty "
				    "for off", k->name, value);
			return -1;
		}
		strcpy(field, value);
		return 0;
	}
	case KT_QUEUES:
		if (config_parse_queues(value, &cfg->queue_first,
					&cfg->queue_last) < 0) {
			parse_error(pc, "queues: '%s' is not a range A:B of at "
				    "most %d queues in 0..65535", value,
				    NFQE_MAX_QUEUES);
			return -1;
		}
		return 0;
	case KT_MODE:
		if (!strcasecmp(value, "forward"))
			cfg->mode = MODE_FORWARD;
		else if (!strcasecmp(value, "raw"))
			cfg->mode = MODE_RAW;
		else {
			parse_error(pc, "mode: '%s' is not forward or raw",
				    value);
			return -1;
		}
		return 0;
	case KT_VERDICT:
		if (!strcasecmp(value, "accept"))
			*(bool *)field = false;
		else if (!strcasecmp(value, "drop"))
			*(bool *)field = true;
		else {
			parse_error(pc, "%s: '%s' is not accept or drop",
				    k->name, value);
			return -1;
		}
		return 0;
	case KT_CPU_PIN:
		if (parse_cpu_pin(value, cfg) < 0) {
			parse_error(pc, "cpu_pin: '%s' is not auto, none or a "
				    "list of CPUs below %ld", value,
				    sysconf(_SC_NPROCESSORS_CONF));
			return -1;
		}
		return 0;
	case KT_LOG_LEVEL:
		lvl = log_level_parse(value);
		if (lvl < 0) {
			parse_error(pc, "log_level: '%s' is not err, warning, "
				    "notice, info or debug", value);
			return -1;
		}
		cfg->log_level = lvl;
		return 0;
	case KT_WD_ACTION:
		if (!strcasecmp(value, "accept"))
			cfg->watchdog_stop = false;
		else if (!strcasecmp(value, "stop"))
			cfg->watchdog_stop = true;
		else {
			parse_error(pc, "watchdog: '%s' is not accept or stop",
				    value);
			return -1;
		}
		return 0;
	case KT_ZONE:
		if (!strcasecmp(value, "indev")) {
			cfg->flow_zone_indev = true;
			cfg->flow_zone = 0;
			return 0;
		}
		errno = 0;
		u = strtoul(value, &end, 0);
		if (!*value || *end || errno || value[0] == '-' ||
		    u > UINT32_MAX) {
			parse_error(pc, "zone: '%s' is not a number or indev",
				    value);
			return -1;
		}
		cfg->flow_zone_indev = false;
		cfg->flow_zone = (uint32_t)u;
		return 0;
	}
	return -1;
}

static int handler(void *user, const char *section, const char *name,
		   const char *value)
{
	struct parse_ctx *pc = user;
	bool section_known = false;

	if (!name)	/* a new section header (INI_CALL_HANDLER_ON_NEW_SECTION) */
		return 1;
	for (unsigned i = 0; i < pc->nparsers; i++) {
		const struct config_section_parser *sp = &pc->parsers[i];
		size_t n = strlen(sp->section);
		char msg[512];

		if (strcmp(section, sp->section) &&
		    !(sp->prefix && !strncmp(section, sp->section, n) &&
		      section[n] == ' ' && section[n + 1]))
			continue;
		msg[0] = '\0';
		if (sp->key(sp->ctx, section, name, value, msg, sizeof(msg)))
			parse_error(pc, "%s", msg[0] ? msg : "invalid");
		return 1;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const struct key_def *k = &keys[i];

		if (strcmp(section, k->section))
			continue;
		section_known = true;
		if (strcmp(name, k->name))
			continue;
		if (k->test_knob && !ENABLE_TEST_KNOBS) {
			parse_error(pc, "[test] %s: this build has no test "
				    "knobs (meson -Dtest_knobs=true)", name);
			return 1;
		}
		set_key(pc, k, value);
		return 1;	/* errors are collected, parsing goes on */
	}
	if (!section_known)
		parse_error(pc, "unknown section [%s] (key %s)", section, name);
	else
		parse_error(pc, "unknown key '%s' in [%s]", name, section);
	return 1;
}

/* Classify a line as inih will see it: blank, comment, [section] or
 * key = value (inih also takes "key: value"). */
static bool line_is_valid(const char *line)
{
	while (*line == ' ' || *line == '\t')
		line++;
	if (!*line || *line == '\n' || *line == '\r' || *line == ';' ||
	    *line == '#')
		return true;
	if (*line == '[')
		return strchr(line, ']') != NULL;
	return strpbrk(line, "=:") != NULL;
}

/*
 * fgets() that counts lines, so errors know where they are. It also takes
 * the two errors inih would report only once, or not at all: syntax errors
 * (all of them, in order) and lines longer than inih's line buffer, which
 * inih would split in two. Such a line reaches inih as an empty line.
 */
static char *counting_reader(char *str, int num, void *stream)
{
	struct parse_ctx *pc = stream;
	bool nul = false;
	int c = EOF, n = 0;

	/* getc(), not fgets(): a NUL byte must not end the line early */
	while (n < num - 1 && (c = getc(pc->f)) != EOF) {
		if (c == '\0') {
			nul = true;
			c = ' ';
		}
		str[n++] = (char)c;
		if (c == '\n')
			break;
	}
	if (!n)
		return NULL;
	str[n] = '\0';
	pc->line++;
	/* a full buffer without its newline: the line goes on? */
	if (str[n - 1] != '\n' && n == num - 1 &&
	    (c = getc(pc->f)) != EOF && c != '\n') {
		while ((c = getc(pc->f)) != EOF && c != '\n')
			;
		parse_error(pc, "line too long (at most %d characters)",
			    num - 2);
		strcpy(str, "\n");
		return str;
	}
	if (nul) {
		parse_error(pc, "NUL byte in line");
		strcpy(str, "\n");
	} else if (!line_is_valid(str)) {
		parse_error(pc, "syntax error: expected [section] or "
			    "key = value");
		strcpy(str, "\n");
	}
	return str;
}

int config_load(const char *path, struct nfqe_config *cfg, char *err,
		size_t errlen)
{
	return config_load_ext(path, cfg, NULL, 0, err, errlen);
}

int config_load_ext(const char *path, struct nfqe_config *cfg,
		    const struct config_section_parser *parsers,
		    unsigned nparsers, char *err, size_t errlen)
{
	struct parse_ctx pc = {
		.parsers = parsers, .nparsers = nparsers,
		.path = path, .cfg = cfg, .err = err, .errlen = errlen,
	};
	int ret;

	if (errlen)
		err[0] = '\0';
	pc.f = fopen(path, "re");
	if (!pc.f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	ret = ini_parse_stream(counting_reader, &pc, handler, &pc);
	fclose(pc.f);
	if (ret > 0 && !pc.nerr) {
		/* The handler never fails and the reader passes only valid
		 * lines, so inih should find nothing; report it if it does. */
		pc.line = (unsigned)ret;
		parse_error(&pc, "syntax error: expected [section] or "
			    "key = value");
	}
	if (ret < 0) {
		snprintf(err, errlen, "%s: read error", path);
		return -1;
	}
	return pc.nerr ? -1 : 0;
}

int config_check(const struct nfqe_config *cfg, char *err, size_t errlen)
{
	if (cfg->queue_last < cfg->queue_first ||
	    cfg->queue_last - cfg->queue_first + 1 > NFQE_MAX_QUEUES) {
		snprintf(err, errlen, "queues %u:%u: not a valid range",
			 cfg->queue_first, cfg->queue_last);
		return -1;
	}
	return 0;
}

int config_queue_cpu(const struct nfqe_config *cfg, unsigned queue)
{
	unsigned idx = queue - cfg->queue_first;
	long ncpu;

	switch (cfg->cpu_pin) {
	case PIN_NONE:
		return -1;
	case PIN_LIST:
		return cfg->cpu_list[idx % cfg->cpu_count];
	case PIN_AUTO:
	default:
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		return ncpu > 0 ? (int)(idx % (unsigned)ncpu) : -1;
	}
}

/* Whether key @k has different values in @a and @b. */
static bool key_differs(const struct key_def *k, const struct nfqe_config *a,
			const struct nfqe_config *b)
{
	const char *fa = (const char *)a + k->offset;
	const char *fb = (const char *)b + k->offset;

	switch (k->type) {
	case KT_QUEUES:
		return a->queue_first != b->queue_first ||
		       a->queue_last != b->queue_last;
	case KT_ZONE:
		return a->flow_zone != b->flow_zone ||
		       a->flow_zone_indev != b->flow_zone_indev;
	case KT_CPU_PIN:
		return a->cpu_pin != b->cpu_pin ||
		       a->cpu_count != b->cpu_count ||
		       memcmp(a->cpu_list, b->cpu_list, sizeof(a->cpu_list));
	case KT_BOOL:
	case KT_VERDICT:
	case KT_WD_ACTION:
		return *(const bool *)fa != *(const bool *)fb;
	case KT_STRING:
	case KT_LISTEN:
		return strcmp(fa, fb) != 0;
	default:	/* 32-bit fields: unsigned, uint32_t, enums, int */
		return memcmp(fa, fb, sizeof(uint32_t)) != 0;
	}
}

void config_restart_keys(const struct nfqe_config *a,
			 const struct nfqe_config *b, char *ret, size_t len)
{
	size_t pos = 0;

	if (len)
		ret[0] = '\0';
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		int n;

		if (keys[i].live || !key_differs(&keys[i], a, b))
			continue;
		n = snprintf(ret + pos, len - pos, "%s%s", pos ? ", " : "",
			     keys[i].name);
		if (n < 0 || (size_t)n >= len - pos)
			break;
		pos += (size_t)n;
	}
}
