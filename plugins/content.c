// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * content - drop (or mark) flows whose payload carries a byte string or
 * matches a PCRE2 regular expression: the classic IPS content rule.
 *
 *	[inspector bad]
 *	path = content.so
 *	string = GET /admin         ; several allowed, \xNN escapes
 *	regex = ^nfqe\x00\x00\x00[\x01-\x03]   ; PCRE2, several allowed
 *	depth = 4                   ; first 4 payload packets, then accept
 *	action = drop               ; or: mark 0x10
 *	match_limit = 100000        ; PCRE2 match limit per packet
 *
 * Matching is per packet: a string split over two TCP segments is not
 * seen (no reassembly). A match is final (FLOW_DROP or FLOW_MARK); after
 * depth payload-carrying packets without a match the flow is accepted for
 * good (FLOW_ACCEPT), which is what lets a later offload skip it. Packets
 * without payload (TCP handshake, bare ACKs) do not count.
 *
 * PCRE2, not Hyperscan: it is in Debian on every architecture and small,
 * its JIT is fast for the handful of patterns a rule carries, and it takes
 * the same syntax users know from Snort/Suricata pcre options. Hyperscan
 * (x86 only) pays off with thousands of patterns scanned at once.
 *
 * The per-flow count lives in the flow slot as an integer: no allocation.
 * pcre2_match() needs a match data block per concurrent caller: init
 * makes one per thread index up to MD_THREADS; a thread beyond that makes
 * a temporary one per packet.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <errno.h>
#include <pcre2.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <nfqe/inspector.h>

#define MD_THREADS		256
#define MATCH_LIMIT_DEFAULT	100000

struct pattern {
	uint8_t		*bytes;
	size_t		len;
};

struct content {
	struct pattern		*str;
	unsigned		nstr;
	pcre2_code		**re;
	unsigned		nre;
	pcre2_match_context	*mctx;
	pcre2_match_data	**md;		/* [MD_THREADS], with regexes */
	uint32_t		depth;		/* 0: every packet */
	bool			mark;
	uint32_t		mark_value;
};

/* A small index per thread for the match data array. */
static atomic_uint thread_next;
static __thread unsigned thread_index_plus1;

static unsigned thread_index(void)
{
	if (!thread_index_plus1)
		thread_index_plus1 = atomic_fetch_add(&thread_next, 1) + 1;
	return thread_index_plus1 - 1;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode \xNN, \\, \n, \r, \t into @ret (at least strlen(@s) bytes). */
static int unescape(const char *s, uint8_t *ret, size_t *ret_len, char *err,
		    size_t errlen)
{
	size_t n = 0;

	while (*s) {
		int hi, lo;

		if (*s != '\\') {
			ret[n++] = (uint8_t)*s++;
			continue;
		}
		switch (s[1]) {
		case '\\':
			ret[n++] = '\\';
			s += 2;
			break;
		case 'n':
			ret[n++] = '\n';
			s += 2;
			break;
		case 'r':
			ret[n++] = '\r';
			s += 2;
			break;
		case 't':
			ret[n++] = '\t';
			s += 2;
			break;
		case 'x':
			hi = s[2] ? hexval(s[2]) : -1;
			lo = hi >= 0 && s[3] ? hexval(s[3]) : -1;
			if (lo < 0) {
				snprintf(err, errlen, "string: \\x needs two "
					 "hex digits");
				return -1;
			}
			ret[n++] = (uint8_t)(hi << 4 | lo);
			s += 4;
			break;
		default:
			snprintf(err, errlen, "string: unknown escape '\\%c' "
				 "(use \\xNN, \\\\, \\n, \\r or \\t)",
				 s[1] ? s[1] : ' ');
			return -1;
		}
	}
	*ret_len = n;
	return 0;
}

static void content_fini(void *instance)
{
	struct content *c = instance;

	if (!c)
		return;
	for (unsigned i = 0; i < c->nstr; i++)
		free(c->str[i].bytes);
	free(c->str);
	for (unsigned i = 0; i < c->nre; i++)
		pcre2_code_free(c->re[i]);
	free(c->re);
	if (c->md)
		for (unsigned i = 0; i < MD_THREADS; i++)
			pcre2_match_data_free(c->md[i]);
	free(c->md);
	pcre2_match_context_free(c->mctx);
	free(c);
}

static int add_string(struct content *c, const char *value, char *err,
		      size_t errlen)
{
	struct pattern *p = realloc(c->str, (c->nstr + 1) * sizeof(*p));
	uint8_t *bytes;
	size_t len;

	if (!p)
		goto err_nomem;
	c->str = p;
	bytes = malloc(strlen(value) + 1);
	if (!bytes)
		goto err_nomem;
	if (unescape(value, bytes, &len, err, errlen) < 0) {
		free(bytes);
		return -1;
	}
	if (!len) {
		free(bytes);
		snprintf(err, errlen, "string: empty");
		return -1;
	}
	c->str[c->nstr].bytes = bytes;
	c->str[c->nstr].len = len;
	c->nstr++;
	return 0;

err_nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

static int add_regex(struct content *c, const char *value, char *err,
		     size_t errlen)
{
	pcre2_code **re = realloc(c->re, (c->nre + 1) * sizeof(*re));
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE off;
	int code;

	if (!re) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	c->re = re;
	/* no UTF: a packet is bytes, and . must match any of them */
	re[c->nre] = pcre2_compile((PCRE2_SPTR)value, PCRE2_ZERO_TERMINATED,
				   0, &code, &off, NULL);
	if (!re[c->nre]) {
		pcre2_get_error_message(code, msg, sizeof(msg));
		snprintf(err, errlen, "regex: %s at offset %zu of '%s'",
			 (char *)msg, (size_t)off, value);
		return -1;
	}
	/* without JIT support pcre2_match() interprets: slower, same result */
	pcre2_jit_compile(re[c->nre], PCRE2_JIT_COMPLETE);
	c->nre++;
	return 0;
}

static int parse_u32(const char *key, const char *s, uint32_t *ret, char *err,
		     size_t errlen)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (!*s || *end || errno || *s == '-' || v > UINT32_MAX) {
		snprintf(err, errlen, "%s: '%s' is not a number below 2^32",
			 key, s);
		return -1;
	}
	*ret = (uint32_t)v;
	return 0;
}

static int parse_action(struct content *c, const char *value, char *err,
			size_t errlen)
{
	if (!strcasecmp(value, "drop")) {
		c->mark = false;
		return 0;
	}
	if (!strncasecmp(value, "mark", 4) && (value[4] == ' ' ||
					      value[4] == '\t')) {
		const char *n = value + 5;

		while (*n == ' ' || *n == '\t')
			n++;
		c->mark = true;
		return parse_u32("action mark", n, &c->mark_value, err, errlen);
	}
	snprintf(err, errlen, "action: '%s' is not drop or mark N", value);
	return -1;
}

static void *content_init(const struct nfqe_kv *kv, unsigned nkv, char *err,
			  size_t errlen)
{
	struct content *c = calloc(1, sizeof(*c));
	uint32_t match_limit = MATCH_LIMIT_DEFAULT;

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (unsigned i = 0; i < nkv; i++) {
		const char *k = kv[i].key, *v = kv[i].value;
		int r;

		if (!strcmp(k, "string"))
			r = add_string(c, v, err, errlen);
		else if (!strcmp(k, "regex"))
			r = add_regex(c, v, err, errlen);
		else if (!strcmp(k, "depth"))
			r = parse_u32(k, v, &c->depth, err, errlen);
		else if (!strcmp(k, "action"))
			r = parse_action(c, v, err, errlen);
		else if (!strcmp(k, "match_limit"))
			r = parse_u32(k, v, &match_limit, err, errlen);
		else {
			snprintf(err, errlen, "unknown key '%s' (string, "
				 "regex, depth, action, match_limit)", k);
			r = -1;
		}
		if (r < 0)
			goto err_fini;
	}
	if (!c->nstr && !c->nre) {
		snprintf(err, errlen, "needs at least one string = or "
			 "regex = key");
		goto err_fini;
	}
	if (c->nre) {
		c->mctx = pcre2_match_context_create(NULL);
		c->md = calloc(MD_THREADS, sizeof(*c->md));
		if (!c->mctx || !c->md)
			goto err_nomem;
		pcre2_set_match_limit(c->mctx, match_limit);
		for (unsigned i = 0; i < MD_THREADS; i++) {
			c->md[i] = pcre2_match_data_create(1, NULL);
			if (!c->md[i])
				goto err_nomem;
		}
	}
	return c;

err_nomem:
	snprintf(err, errlen, "out of memory");
err_fini:
	content_fini(c);
	return NULL;
}

/* 1 on a match, 0 none, -1 when PCRE2 gave up (match limit). */
static int content_match(const struct content *c, const uint8_t *p,
			 size_t len)
{
	pcre2_match_data *md, *tmp = NULL;
	unsigned t;
	int ret = 0;

	for (unsigned i = 0; i < c->nstr; i++)
		if (memmem(p, len, c->str[i].bytes, c->str[i].len))
			return 1;
	if (!c->nre)
		return 0;
	t = thread_index();
	if (t < MD_THREADS) {
		md = c->md[t];
	} else {
		md = tmp = pcre2_match_data_create(1, NULL);
		if (!md)
			return -1;
	}
	for (unsigned i = 0; i < c->nre && !ret; i++) {
		int rc = pcre2_match(c->re[i], (PCRE2_SPTR)p, len, 0, 0, md,
				     c->mctx);

		if (rc >= 0)
			ret = 1;
		else if (rc != PCRE2_ERROR_NOMATCH)
			ret = -1;
	}
	pcre2_match_data_free(tmp);
	return ret;
}

static enum nfqe_insp_verdict content_inspect(void *instance,
					      const struct nfqe_insp_packet *pkt,
					      void **flow_slot,
					      uint32_t *ret_mark)
{
	const struct content *c = instance;
	uintptr_t seen;
	int m;

	if (!pkt->payload_len)
		return flow_slot ? NFQE_INSP_NEED_MORE : NFQE_INSP_ACCEPT;
	m = content_match(c, pkt->payload, pkt->payload_len);
	if (m < 0)
		return NFQE_INSP_ERROR;
	if (m) {
		if (!c->mark)
			return NFQE_INSP_FLOW_DROP;
		*ret_mark = c->mark_value;
		return NFQE_INSP_FLOW_MARK;
	}
	if (!flow_slot)
		return NFQE_INSP_ACCEPT;	/* no flow record: no depth */
	/* the slot is a counter of payload packets, not a pointer */
	seen = (uintptr_t)*flow_slot + 1;
	*flow_slot = (void *)seen;
	if (c->depth && seen >= c->depth)
		return NFQE_INSP_FLOW_ACCEPT;
	return NFQE_INSP_NEED_MORE;
}

static const struct nfqe_inspector content_inspector = {
	.abi_version	= NFQE_INSPECTOR_ABI_VERSION,
	.name		= "content",
	.init		= content_init,
	.inspect	= content_inspect,
	.flow_free	= NULL,		/* the slot is an integer */
	.fini		= content_fini,
};

NFQE_INSPECTOR_EXPORT const struct nfqe_inspector *nfqe_inspector_entry(void)
{
	return &content_inspector;
}
