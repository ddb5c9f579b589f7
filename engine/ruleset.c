/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The [rules] grammar and the matcher.
 *
 * A rule line is parsed straight into its compiled form: one fixed-size
 * struct rule (a bit per match kind present, a bit per match negated) and
 * slices of three shared pools: value ranges (protocols, ports, ifindexes,
 * queues: "value in [lo, hi]" covers them all), IPv4 prefixes and IPv6
 * prefixes, masks already applied. Matching is a linear scan of the rule
 * array, cheapest tests first; with tens of rules the whole set stays in a
 * few cache lines and beats any index structure. A rule set with hundreds
 * of address prefixes would want a trie instead; that is not this file.
 *
 * Parsing a rule either appends it whole or leaves the set as it was, so
 * that config.c can go on collecting errors from the following lines.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flowtable.h"
#include "ruleset.h"
#include "worker.h"

#define RULE_TOKENS_MAX	64

static const char *const action_names[RA_MAX] = {
	[RA_ACCEPT] = "accept",
	[RA_DROP] = "drop",
	[RA_MARK] = "mark",
	[RA_REPEAT] = "repeat",
	[RA_QUEUE] = "queue",
	[RA_INSPECT] = "inspect",
	[RA_OFFLOAD] = "offload",
};

const char *ruleset_action_name(unsigned type)
{
	return type < RA_MAX ? action_names[type] : "unknown";
}

static const struct {
	const char	*name;
	uint8_t		proto;
} proto_names[] = {
	{ "tcp", IPPROTO_TCP },
	{ "udp", IPPROTO_UDP },
	{ "icmp", IPPROTO_ICMP },
	{ "icmpv6", IPPROTO_ICMPV6 },
	{ "udplite", IPPROTO_UDPLITE },
	{ "sctp", IPPROTO_SCTP },
	{ "gre", IPPROTO_GRE },
	{ "esp", IPPROTO_ESP },
	{ "ah", IPPROTO_AH },
};

const char *ruleset_proto_name(uint8_t proto)
{
	for (size_t i = 0; i < sizeof(proto_names) / sizeof(proto_names[0]);
	     i++)
		if (proto_names[i].proto == proto)
			return proto_names[i].name;
	return NULL;
}

enum value_kind {
	VAL_PROTO,
	VAL_PORT,
	VAL_IFNAME,
	VAL_QUEUE,
	VAL_NET,
	VAL_STATE,
};

static const struct {
	const char		*word;
	enum rule_match		bit;
	enum value_kind		kind;
	int			list;		/* enum rule_list_kind or -1 */
} match_words[] = {
	{ "proto", RM_PROTO, VAL_PROTO, RL_PROTO },
	{ "src", RM_SRC, VAL_NET, -1 },
	{ "dst", RM_DST, VAL_NET, -1 },
	{ "sport", RM_SPORT, VAL_PORT, RL_SPORT },
	{ "dport", RM_DPORT, VAL_PORT, RL_DPORT },
	{ "port", RM_PORT, VAL_PORT, RL_PORT },
	{ "iif", RM_IIF, VAL_IFNAME, RL_IIF },
	{ "oif", RM_OIF, VAL_IFNAME, RL_OIF },
	{ "queue", RM_QUEUE, VAL_QUEUE, RL_QUEUE },
	{ "state", RM_STATE, VAL_STATE, -1 },
};

#define ACTIONS_HINT "accept, drop, mark N[/MASK], repeat mark N[/MASK], " \
		     "queue N, inspect NAME or offload"

static int grow(void *arrp, unsigned *cap, unsigned need, size_t elsize)
{
	void **arr = arrp;
	unsigned ncap;
	void *n;

	if (need <= *cap)
		return 0;
	if (need > RULESET_MAX)
		return -E2BIG;
	ncap = *cap ? *cap * 2 : 8;
	while (ncap < need)
		ncap *= 2;
	n = realloc(*arr, (size_t)ncap * elsize);
	if (!n)
		return -ENOMEM;
	*arr = n;
	*cap = ncap;
	return 0;
}

struct ruleset *ruleset_new(void)
{
	struct ruleset *rs = calloc(1, sizeof(*rs));

	if (!rs)
		return NULL;
	if (grow(&rs->masks, &rs->cap_masks, 1, sizeof(*rs->masks))) {
		free(rs);
		errno = ENOMEM;
		return NULL;
	}
	rs->masks[0] = 0xffffffff;
	rs->nmasks = 1;
	rs->dflt.type = RA_ACCEPT;
	rs->dflt.cacheable = true;
	return rs;
}

void ruleset_free(struct ruleset *rs)
{
	if (!rs)
		return;
	for (unsigned i = 0; i < rs->ninspectors; i++)
		free(rs->inspectors[i]);
	for (unsigned i = 0; i < rs->nrules; i++)
		free(rs->texts[i]);
	free(rs->inspectors);
	free(rs->texts);
	free(rs->rules);
	free(rs->ranges);
	free(rs->net4);
	free(rs->net6);
	free(rs->masks);
	free(rs);
}

void ruleset_set_inspector_check(struct ruleset *rs,
				 bool (*known)(void *ctx, const char *name),
				 void *ctx)
{
	rs->inspector_known = known;
	rs->inspector_ctx = ctx;
}

/* Parse state of one line; on error everything appended is rolled back. */
struct parser {
	struct ruleset	*rs;
	char		*tok[RULE_TOKENS_MAX];
	unsigned	ntok;
	char		buf[1024];
	char		*err;
	size_t		errlen;
	/* pool sizes before the line, for the rollback */
	unsigned	nranges, nnet4, nnet6, nmasks, ninspectors;
};

static int perr(struct parser *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int perr(struct parser *ps, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ps->err, ps->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int nomem(struct parser *ps, int ret)
{
	if (ret == -E2BIG)
		return perr(ps, "too many rules or list entries (at most %u)",
			    RULESET_MAX);
	return perr(ps, "out of memory");
}

/*
 * Split @text into words. Spaces around commas are dropped first, so that
 * "src 10.0.0.0/8, 10.1.0.0/16" is one list; a lone "!" stays a word.
 */
static int tokenize(struct parser *ps, const char *text)
{
	size_t len = strlen(text), o = 0;
	char *save = NULL, *w;

	if (len >= sizeof(ps->buf))
		return perr(ps, "rule too long (at most %zu characters)",
			    sizeof(ps->buf) - 1);
	for (size_t i = 0; i < len; i++) {
		char c = text[i];

		if ((c == ' ' || c == '\t') && o && ps->buf[o - 1] == ',')
			continue;
		if (c == ',')
			while (o && (ps->buf[o - 1] == ' ' ||
				     ps->buf[o - 1] == '\t'))
				o--;
		ps->buf[o++] = c;
	}
	ps->buf[o] = '\0';
	ps->ntok = 0;
	for (w = strtok_r(ps->buf, " \t", &save); w;
	     w = strtok_r(NULL, " \t", &save)) {
		if (ps->ntok == RULE_TOKENS_MAX)
			return perr(ps, "too many words (at most %d)",
				    RULE_TOKENS_MAX);
		ps->tok[ps->ntok++] = w;
	}
	return 0;
}

/* A decimal or 0x hex number of @len bytes at @s, at most @max. */
static int parse_num(const char *s, size_t len, uint32_t max, uint32_t *ret)
{
	unsigned base = 10;
	uint64_t v = 0;

	if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		len -= 2;
	}
	if (!len || len > 20)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned d;

		if (s[i] >= '0' && s[i] <= '9')
			d = (unsigned)(s[i] - '0');
		else if (base == 16 && s[i] >= 'a' && s[i] <= 'f')
			d = (unsigned)(s[i] - 'a' + 10);
		else if (base == 16 && s[i] >= 'A' && s[i] <= 'F')
			d = (unsigned)(s[i] - 'A' + 10);
		else
			return -EINVAL;
		v = v * base + d;
		if (v > max)
			return -ERANGE;
	}
	*ret = (uint32_t)v;
	return 0;
}

static int parse_num_str(const char *s, uint32_t max, uint32_t *ret)
{
	return parse_num(s, strlen(s), max, ret);
}

static int add_range(struct parser *ps, uint32_t lo, uint32_t hi)
{
	struct ruleset *rs = ps->rs;
	int ret = grow(&rs->ranges, &rs->cap_ranges, rs->nranges + 1,
		       sizeof(*rs->ranges));

	if (ret)
		return nomem(ps, ret);
	rs->ranges[rs->nranges++] = (struct rule_range){ lo, hi };
	return 0;
}

/* "P" or "P-Q" within [0, max]. */
static int parse_range(struct parser *ps, const char *word, const char *v,
		       uint32_t max)
{
	const char *dash = strchr(v, '-');
	uint32_t lo, hi;

	if (!dash) {
		if (parse_num_str(v, max, &lo))
			return perr(ps, "%s: '%s' is not a number in 0..%u",
				    word, v, max);
		return add_range(ps, lo, lo);
	}
	if (parse_num(v, (size_t)(dash - v), max, &lo) ||
	    parse_num_str(dash + 1, max, &hi))
		return perr(ps, "%s: '%s' is not a range P-Q in 0..%u", word,
			    v, max);
	if (hi < lo)
		return perr(ps, "%s: range '%s' is empty (%u > %u)", word, v,
			    lo, hi);
	return add_range(ps, lo, hi);
}

static int parse_proto(struct parser *ps, const char *v)
{
	uint32_t n;

	for (size_t i = 0; i < sizeof(proto_names) / sizeof(proto_names[0]);
	     i++)
		if (!strcmp(v, proto_names[i].name))
			return add_range(ps, proto_names[i].proto,
					 proto_names[i].proto);
	if (parse_num_str(v, 255, &n))
		return perr(ps, "proto: '%s' is not tcp, udp, icmp, icmpv6, "
			    "udplite, sctp, gre, esp, ah or 0..255", v);
	return add_range(ps, n, n);
}

static int parse_ifname(struct parser *ps, const char *word, const char *v)
{
	unsigned idx;

	if (!*v || strlen(v) >= IF_NAMESIZE)
		return perr(ps, "%s: '%s' is not an interface name", word, v);
	idx = if_nametoindex(v);
	if (!idx)
		return perr(ps, "%s: no interface '%s' (names are resolved "
			    "when the rules are loaded)", word, v);
	return add_range(ps, idx, idx);
}

/* "ADDR[/LEN]" appended to the v4 or v6 pool. */
static int parse_net(struct parser *ps, const char *word, const char *v)
{
	struct ruleset *rs = ps->rs;
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(v, '/');
	size_t alen = slash ? (size_t)(slash - v) : strlen(v);
	uint8_t bytes[16], mbytes[16];
	uint32_t plen, max;
	int family, ret;

	if (alen >= sizeof(addr))
		return perr(ps, "%s: '%s' is not an address or CIDR", word, v);
	memcpy(addr, v, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, bytes) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, addr, bytes) == 1)
		family = AF_INET6;
	else
		return perr(ps, "%s: '%s' is not an address or CIDR", word, v);
	max = family == AF_INET ? 32 : 128;
	plen = max;
	if (slash && (!slash[1] || strlen(slash + 1) > 3 ||
		      strspn(slash + 1, "0123456789") != strlen(slash + 1) ||
		      parse_num_str(slash + 1, max, &plen)))
		return perr(ps, "%s: '%s': prefix length is not 0..%u", word,
			    v, max);
	memset(mbytes, 0, sizeof(mbytes));
	for (uint32_t b = 0; b < plen; b++)
		mbytes[b / 8] |= (uint8_t)(0x80 >> (b % 8));
	for (uint32_t i = 0; i < max / 8; i++)
		if (bytes[i] & ~mbytes[i])
			return perr(ps, "%s: '%s' has bits set past the /%u "
				    "prefix", word, v, plen);
	if (family == AF_INET) {
		struct rule_net4 n;

		memcpy(&n.addr, bytes, 4);
		memcpy(&n.mask, mbytes, 4);
		ret = grow(&rs->net4, &rs->cap_net4, rs->nnet4 + 1,
			   sizeof(*rs->net4));
		if (ret)
			return nomem(ps, ret);
		rs->net4[rs->nnet4++] = n;
	} else {
		struct rule_net6 n;

		memcpy(n.addr, bytes, 16);
		memcpy(n.mask, mbytes, 16);
		ret = grow(&rs->net6, &rs->cap_net6, rs->nnet6 + 1,
			   sizeof(*rs->net6));
		if (ret)
			return nomem(ps, ret);
		rs->net6[rs->nnet6++] = n;
	}
	return 0;
}

/* The value list of match @m (index into match_words) into @r. */
static int parse_match(struct parser *ps, unsigned m, char *value,
		       struct rule *r)
{
	struct ruleset *rs = ps->rs;
	const char *word = match_words[m].word;
	unsigned r0 = rs->nranges, n40 = rs->nnet4, n60 = rs->nnet6;
	char *save = NULL, *v;
	int ret = 0;

	if (match_words[m].kind == VAL_STATE) {
		if (!strcmp(value, "new"))
			r->state_new = 1;
		else if (!strcmp(value, "established"))
			r->state_new = 0;
		else
			return perr(ps, "state: '%s' is not new or "
				    "established", value);
		return 0;
	}
	if (!*value || value[0] == ',' || value[strlen(value) - 1] == ',' ||
	    strstr(value, ",,"))
		return perr(ps, "%s: '%s' has an empty list entry", word,
			    value);
	for (v = strtok_r(value, ",", &save); v && !ret;
	     v = strtok_r(NULL, ",", &save)) {
		switch (match_words[m].kind) {
		case VAL_PROTO:
			ret = parse_proto(ps, v);
			break;
		case VAL_PORT:
			ret = parse_range(ps, word, v, 65535);
			break;
		case VAL_QUEUE:
			ret = parse_range(ps, word, v, 65535);
			break;
		case VAL_IFNAME:
			ret = parse_ifname(ps, word, v);
			break;
		case VAL_NET:
			ret = parse_net(ps, word, v);
			break;
		case VAL_STATE:
			break;
		}
	}
	if (ret)
		return ret;
	if (match_words[m].list >= 0) {
		r->list[match_words[m].list] = (struct rule_slice){
			(uint16_t)r0, (uint16_t)(rs->nranges - r0) };
	} else if (match_words[m].bit == RM_SRC) {
		r->src4 = (struct rule_slice){ (uint16_t)n40,
					       (uint16_t)(rs->nnet4 - n40) };
		r->src6 = (struct rule_slice){ (uint16_t)n60,
					       (uint16_t)(rs->nnet6 - n60) };
	} else {
		r->dst4 = (struct rule_slice){ (uint16_t)n40,
					       (uint16_t)(rs->nnet4 - n40) };
		r->dst6 = (struct rule_slice){ (uint16_t)n60,
					       (uint16_t)(rs->nnet6 - n60) };
	}
	return 0;
}

static int mask_index(struct parser *ps, uint32_t mask, uint16_t *ret)
{
	struct ruleset *rs = ps->rs;
	int err;

	for (unsigned i = 0; i < rs->nmasks; i++) {
		if (rs->masks[i] == mask) {
			*ret = (uint16_t)i;
			return 0;
		}
	}
	err = grow(&rs->masks, &rs->cap_masks, rs->nmasks + 1,
		   sizeof(*rs->masks));
	if (err)
		return nomem(ps, err);
	rs->masks[rs->nmasks] = mask;
	*ret = (uint16_t)rs->nmasks++;
	return 0;
}

/* "N[/MASK]" for mark and repeat mark. */
static int parse_mark(struct parser *ps, const char *word, const char *v,
		      struct rule_action *a)
{
	const char *slash = strchr(v, '/');
	uint32_t mark, mask = 0xffffffff;

	if (slash ? parse_num(v, (size_t)(slash - v), UINT32_MAX, &mark) ||
		    parse_num_str(slash + 1, UINT32_MAX, &mask) :
		    parse_num_str(v, UINT32_MAX, &mark))
		return perr(ps, "%s: '%s' is not N or N/MASK (32-bit numbers, "
			    "decimal or 0x hex)", word, v);
	if (mark & ~mask)
		return perr(ps, "%s: '%s': the mark has bits outside the mask",
			    word, v);
	a->mark = mark;
	a->mask = mask;
	return mask_index(ps, mask, &a->mask_index);
}

static int inspector_index(struct parser *ps, const char *name,
			   uint16_t *ret)
{
	struct ruleset *rs = ps->rs;
	int err;

	if (rs->inspector_known &&
	    !rs->inspector_known(rs->inspector_ctx, name))
		return perr(ps, "inspect: no [inspector %s] section", name);
	for (unsigned i = 0; i < rs->ninspectors; i++) {
		if (!strcmp(rs->inspectors[i], name)) {
			*ret = (uint16_t)i;
			return 0;
		}
	}
	err = grow(&rs->inspectors, &rs->cap_inspectors, rs->ninspectors + 1,
		   sizeof(*rs->inspectors));
	if (err)
		return nomem(ps, err);
	rs->inspectors[rs->ninspectors] = strdup(name);
	if (!rs->inspectors[rs->ninspectors])
		return nomem(ps, -ENOMEM);
	*ret = (uint16_t)rs->ninspectors++;
	return 0;
}

static bool is_action_word(const char *w)
{
	for (unsigned i = 0; i < RA_MAX; i++)
		if (i != RA_QUEUE && !strcmp(w, action_names[i]))
			return true;
	return false;
}

/*
 * The action starting at word @i; *@i moves past it. "queue" reaches here
 * only as the last two words.
 */
static int parse_action(struct parser *ps, unsigned *i, struct rule_action *a)
{
	const char *w = ps->tok[*i];
	const char *arg = *i + 1 < ps->ntok ? ps->tok[*i + 1] : NULL;
	uint32_t n;

	memset(a, 0, sizeof(*a));
	(*i)++;
	if (!strcmp(w, "accept")) {
		a->type = RA_ACCEPT;
	} else if (!strcmp(w, "drop")) {
		a->type = RA_DROP;
	} else if (!strcmp(w, "offload")) {
		a->type = RA_OFFLOAD;
	} else if (!strcmp(w, "mark")) {
		a->type = RA_MARK;
		if (!arg)
			return perr(ps, "mark needs a value N[/MASK]");
		(*i)++;
		return parse_mark(ps, "mark", arg, a);
	} else if (!strcmp(w, "repeat")) {
		a->type = RA_REPEAT;
		if (!arg || strcmp(arg, "mark") || *i + 1 >= ps->ntok)
			return perr(ps, "repeat needs 'mark N[/MASK]' (without "
				    "a new mark the packet would loop)");
		*i += 2;
		return parse_mark(ps, "repeat mark", ps->tok[*i - 1], a);
	} else if (!strcmp(w, "queue")) {
		a->type = RA_QUEUE;
		(*i)++;
		if (parse_num_str(arg, 65535, &n))
			return perr(ps, "queue: '%s' is not a queue number "
				    "0..65535", arg);
		a->queue = (uint16_t)n;
	} else if (!strcmp(w, "inspect")) {
		a->type = RA_INSPECT;
		if (!arg)
			return perr(ps, "inspect needs an inspector name");
		(*i)++;
		return inspector_index(ps, arg, &a->inspector);
	}
	return 0;
}

/* Parse a whole line: matches (unless @action_only), then one action. */
static int parse_line(struct parser *ps, const char *text, bool action_only,
		      struct rule *r)
{
	bool have_action = false;
	const char *action_word = NULL;
	unsigned i = 0, end;

	memset(r, 0, sizeof(*r));
	if (tokenize(ps, text))
		return -1;
	/* the words before a trailing "log": "queue N" ending them is the
	 * action */
	end = ps->ntok;
	if (end > 1 && !strcmp(ps->tok[end - 1], "log"))
		end--;
	while (i < ps->ntok) {
		char *w = ps->tok[i], *value;
		unsigned m;

		/* "log" after the action: the rule's last word */
		if (have_action && !strcmp(w, "log")) {
			if (i + 1 != ps->ntok)
				return perr(ps, "'%s' after 'log': log ends "
					    "the rule", ps->tok[i + 1]);
			r->action.log = true;
			i++;
			continue;
		}
		if (is_action_word(w) || (!strcmp(w, "queue") && i + 2 == end)) {
			if (have_action)
				return perr(ps, "two actions: '%s' and '%s' "
					    "(one action ends a rule)",
					    action_word, w);
			action_word = w;
			if (parse_action(ps, &i, &r->action))
				return -1;
			have_action = true;
			continue;
		}
		for (m = 0; m < sizeof(match_words) / sizeof(match_words[0]);
		     m++)
			if (!strcmp(w, match_words[m].word))
				break;
		if (m == sizeof(match_words) / sizeof(match_words[0]))
			return perr(ps, "unknown word '%s' (matches: proto, "
				    "src, dst, sport, dport, port, iif, oif, "
				    "state, queue; actions: " ACTIONS_HINT ")",
				    w);
		if (have_action)
			return perr(ps, "'%s' after the action '%s': the "
				    "action ends the rule", w, action_word);
		if (action_only)
			return perr(ps, "'%s': default takes an action only "
				    "(" ACTIONS_HINT ")", w);
		if (r->present & match_words[m].bit)
			return perr(ps, "'%s' given twice in one rule", w);
		if (++i == ps->ntok)
			return perr(ps, "'%s' needs a value", w);
		value = ps->tok[i++];
		if (!strcmp(value, "!")) {
			if (i == ps->ntok)
				return perr(ps, "'%s !' needs a value", w);
			value = ps->tok[i++];
			r->negate |= (uint16_t)match_words[m].bit;
		} else if (value[0] == '!') {
			value++;
			r->negate |= (uint16_t)match_words[m].bit;
		}
		r->present |= (uint16_t)match_words[m].bit;
		if (parse_match(ps, m, value, r))
			return -1;
	}
	if (!have_action)
		return perr(ps, "no action: end the rule with " ACTIONS_HINT);
	return 0;
}

static void parser_init(struct parser *ps, struct ruleset *rs, char *err,
			size_t errlen)
{
	ps->rs = rs;
	ps->err = err;
	ps->errlen = errlen;
	ps->nranges = rs->nranges;
	ps->nnet4 = rs->nnet4;
	ps->nnet6 = rs->nnet6;
	ps->nmasks = rs->nmasks;
	ps->ninspectors = rs->ninspectors;
	if (errlen)
		err[0] = '\0';
}

static int parser_rollback(struct parser *ps)
{
	struct ruleset *rs = ps->rs;

	rs->nranges = ps->nranges;
	rs->nnet4 = ps->nnet4;
	rs->nnet6 = ps->nnet6;
	rs->nmasks = ps->nmasks;
	while (rs->ninspectors > ps->ninspectors)
		free(rs->inspectors[--rs->ninspectors]);
	return -1;
}

int ruleset_add(struct ruleset *rs, const char *text, char *err,
		size_t errlen)
{
	struct parser ps;
	struct rule r;
	char *copy;
	int ret;

	parser_init(&ps, rs, err, errlen);
	if (rs->compiled)
		return perr(&ps, "rule set already compiled");
	if (parse_line(&ps, text, false, &r))
		return parser_rollback(&ps);
	ret = grow(&rs->rules, &rs->cap_rules, rs->nrules + 1,
		   sizeof(*rs->rules));
	if (!ret) {
		/* texts[] grows with rules[]: same capacity */
		char **t = realloc(rs->texts, rs->cap_rules * sizeof(*t));

		if (t)
			rs->texts = t;
		else
			ret = -ENOMEM;
	}
	copy = ret ? NULL : strdup(text);
	if (!copy) {
		nomem(&ps, ret ? ret : -ENOMEM);
		return parser_rollback(&ps);
	}
	rs->texts[rs->nrules] = copy;
	rs->rules[rs->nrules++] = r;
	return 0;
}

int ruleset_default(struct ruleset *rs, const char *text, char *err,
		    size_t errlen)
{
	struct parser ps;
	struct rule r;

	parser_init(&ps, rs, err, errlen);
	if (rs->compiled)
		return perr(&ps, "rule set already compiled");
	if (rs->dflt_set)
		return perr(&ps, "default given twice");
	if (parse_line(&ps, text, true, &r))
		return parser_rollback(&ps);
	rs->dflt = r.action;
	rs->dflt_set = true;
	return 0;
}

int ruleset_compile(struct ruleset *rs)
{
	bool stateful = false;

	if (rs->compiled)
		return 0;
	for (unsigned i = 0; i < rs->nrules; i++) {
		stateful |= !!(rs->rules[i].present & RM_STATE);
		rs->rules[i].action.cacheable = !stateful;
	}
	rs->dflt.cacheable = !stateful;
	rs->compiled = true;
	return 0;
}

static inline bool in_ranges(const struct rule_range *r, struct rule_slice s,
			     uint32_t v)
{
	for (unsigned i = s.off; i < (unsigned)s.off + s.n; i++)
		if (v >= r[i].lo && v <= r[i].hi)
			return true;
	return false;
}

static inline bool in_net4(const struct rule_net4 *n, struct rule_slice s,
			   uint32_t a)
{
	for (unsigned i = s.off; i < (unsigned)s.off + s.n; i++)
		if ((a & n[i].mask) == n[i].addr)
			return true;
	return false;
}

static inline bool in_net6(const struct rule_net6 *n, struct rule_slice s,
			   const uint64_t a[2])
{
	for (unsigned i = s.off; i < (unsigned)s.off + s.n; i++)
		if ((a[0] & n[i].mask[0]) == n[i].addr[0] &&
		    (a[1] & n[i].mask[1]) == n[i].addr[1])
			return true;
	return false;
}

/* Does the test of match @bit pass, given whether the value was in the
 * list? */
#define PASS(r, bit, hit)	((hit) != !!((r)->negate & (bit)))

int ruleset_match(const struct ruleset *rs, const struct nfqe_pkt *pkt)
{
	const struct pkt_info *in = pkt->info;
	const bool v6 = in->family == AF_INET6;
	const bool ports = pkt_has_ports(in);
	uint64_t s6[2], d6[2];
	int is_new = -1;	/* read from the flow when first needed */

	if (v6) {
		memcpy(s6, &in->src.v6, 16);
		memcpy(d6, &in->dst.v6, 16);
	}
	for (unsigned i = 0; i < rs->nrules; i++) {
		const struct rule *r = &rs->rules[i];
		const unsigned pr = r->present;

		if (!pr)
			return (int)i;
		if ((pr & RM_PROTO) &&
		    !PASS(r, RM_PROTO, in_ranges(rs->ranges, r->list[RL_PROTO],
						 in->l4proto)))
			continue;
		if ((pr & RM_QUEUE) &&
		    !PASS(r, RM_QUEUE, in_ranges(rs->ranges, r->list[RL_QUEUE],
						 pkt->queue)))
			continue;
		if ((pr & RM_IIF) &&
		    !PASS(r, RM_IIF, in_ranges(rs->ranges, r->list[RL_IIF],
					       pkt->indev)))
			continue;
		if ((pr & RM_OIF) &&
		    !PASS(r, RM_OIF, in_ranges(rs->ranges, r->list[RL_OIF],
					       pkt->outdev)))
			continue;
		if (pr & (RM_SPORT | RM_DPORT | RM_PORT)) {
			if (!ports)
				continue;
			if ((pr & RM_SPORT) &&
			    !PASS(r, RM_SPORT,
				  in_ranges(rs->ranges, r->list[RL_SPORT],
					    in->sport)))
				continue;
			if ((pr & RM_DPORT) &&
			    !PASS(r, RM_DPORT,
				  in_ranges(rs->ranges, r->list[RL_DPORT],
					    in->dport)))
				continue;
			if ((pr & RM_PORT) &&
			    !PASS(r, RM_PORT,
				  in_ranges(rs->ranges, r->list[RL_PORT],
					    in->sport) ||
				  in_ranges(rs->ranges, r->list[RL_PORT],
					    in->dport)))
				continue;
		}
		if ((pr & RM_SRC) &&
		    !PASS(r, RM_SRC, v6 ? in_net6(rs->net6, r->src6, s6) :
			  in_net4(rs->net4, r->src4, in->src.v4.s_addr)))
			continue;
		if ((pr & RM_DST) &&
		    !PASS(r, RM_DST, v6 ? in_net6(rs->net6, r->dst6, d6) :
			  in_net4(rs->net4, r->dst4, in->dst.v4.s_addr)))
			continue;
		if (pr & RM_STATE) {
			if (is_new < 0)
				is_new = !pkt->flow || flow_state_get(pkt->flow)
						       == FLOW_STATE_NEW;
			if (!PASS(r, RM_STATE, is_new == r->state_new))
				continue;
		}
		return (int)i;
	}
	return -1;
}
