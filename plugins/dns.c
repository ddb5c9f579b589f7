// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * dns - drop DNS queries (UDP) for blocked names.
 *
 *	[inspector dnsblock]
 *	path = dns.so
 *	block = example.com          ; several allowed
 *	list = /etc/nfqe/blocked.txt ; one name per line, # comments
 *	malformed = drop             ; or accept (default drop)
 *
 * A name blocks itself and every name below it ("example.com" blocks
 * "www.example.com", not "notexample.com"); case-insensitive (ASCII).
 * The verdict is per packet: a blocked query is dropped, the next query on
 * the same 5-tuple is judged on its own. Responses (QR set), non-UDP
 * packets and packets without an L4 header are accepted: write the rule as
 * "proto udp dport 53 inspect NAME".
 *
 * Parsing is bounded by the payload at hand. Names are compared in wire
 * form (length-prefixed labels), so a label holding a '.' cannot pose as
 * two labels. Compression pointers in the question section are followed
 * only backwards: each one must point before the place the previous one
 * (or the name) started, which makes loops impossible. Malformed means:
 * shorter than the header, a name running past the payload or over 255
 * bytes, a label type other than 0 (length) or 3 (pointer), a pointer
 * that does not go backwards or into the header, or a question without its
 * type and class.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <nfqe/inspector.h>

#define DNS_HDR_LEN	12
#define DNS_NAME_MAX	255	/* wire form, root label included */
#define DNS_LABEL_MAX	63
#define DNS_LABELS_MAX	128	/* 255 bytes hold at most 127 labels */

/* An open-addressing hash set of names in lowercase wire form. */
struct name_entry {
	uint64_t	hash;
	uint8_t		*name;		/* NULL: empty */
	uint8_t		len;
};

struct dns {
	struct name_entry	*tab;
	size_t			mask;		/* size - 1 */
	size_t			count;
	bool			malformed_drop;
};

enum dns_parse {
	DNS_OK,
	DNS_MALFORMED,
};

static uint64_t name_hash(const uint8_t *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;	/* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static bool set_contains(const struct dns *d, const uint8_t *name, size_t len)
{
	uint64_t h;

	if (!d->count)
		return false;
	h = name_hash(name, len);
	for (size_t i = h & d->mask;; i = (i + 1) & d->mask) {
		const struct name_entry *e = &d->tab[i];

		if (!e->name)
			return false;
		if (e->hash == h && e->len == len && !memcmp(e->name, name, len))
			return true;
	}
}

static int set_grow(struct dns *d)
{
	size_t size = d->tab ? (d->mask + 1) * 2 : 64;
	struct name_entry *tab = calloc(size, sizeof(*tab));

	if (!tab)
		return -1;
	for (size_t i = 0; d->tab && i <= d->mask; i++) {
		size_t j;

		if (!d->tab[i].name)
			continue;
		for (j = d->tab[i].hash & (size - 1); tab[j].name;
		     j = (j + 1) & (size - 1))
			;
		tab[j] = d->tab[i];
	}
	free(d->tab);
	d->tab = tab;
	d->mask = size - 1;
	return 0;
}

static int set_add(struct dns *d, const uint8_t *name, size_t len)
{
	struct name_entry *e;
	size_t i;

	if (set_contains(d, name, len))
		return 0;
	/* keep the load factor at most 1/2 */
	if ((d->count + 1) * 2 > (d->tab ? d->mask + 1 : 0) && set_grow(d) < 0)
		return -1;
	for (i = name_hash(name, len) & d->mask; d->tab[i].name;
	     i = (i + 1) & d->mask)
		;
	e = &d->tab[i];
	e->name = malloc(len);
	if (!e->name)
		return -1;
	memcpy(e->name, name, len);
	e->len = (uint8_t)len;
	e->hash = name_hash(name, len);
	d->count++;
	return 0;
}

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/*
 * Text "www.Example.com." to lowercase wire form in @ret (DNS_NAME_MAX
 * bytes). A leading "*." is allowed (it means the same). Returns the length
 * or -1.
 */
static int name_to_wire(const char *s, uint8_t *ret)
{
	size_t n = 0, len = strlen(s);

	if (len >= 2 && s[0] == '*' && s[1] == '.') {
		s += 2;
		len -= 2;
	}
	if (len && s[len - 1] == '.')
		len--;
	if (!len)
		return -1;
	while (len) {
		const char *dot = memchr(s, '.', len);
		size_t l = dot ? (size_t)(dot - s) : len;

		if (!l || l > DNS_LABEL_MAX || n + 1 + l + 1 > DNS_NAME_MAX)
			return -1;
		ret[n++] = (uint8_t)l;
		for (size_t i = 0; i < l; i++) {
			uint8_t c = (uint8_t)s[i];

			if (c <= ' ' || c >= 0x7f || c == '\\')
				return -1;
			ret[n++] = lower(c);
		}
		s += l;
		len -= l;
		if (dot) {
			s++;
			len--;
			if (!len)	/* "a..": caught by !l next round */
				return -1;
		}
	}
	ret[n++] = 0;
	return (int)n;
}

static int block_name(struct dns *d, const char *key, const char *name,
		      char *err, size_t errlen)
{
	uint8_t wire[DNS_NAME_MAX];
	int len = name_to_wire(name, wire);

	if (len < 0) {
		snprintf(err, errlen, "%s: '%s' is not a domain name", key,
			 name);
		return -1;
	}
	if (set_add(d, wire, (size_t)len) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* One name per line; "#" starts a comment; hosts format "0.0.0.0 name"
 * is taken too. */
static int block_file(struct dns *d, const char *path, char *err,
		      size_t errlen)
{
	FILE *f = fopen(path, "re");
	size_t cap = 0;
	char *line = NULL;
	unsigned lineno = 0;
	int ret = 0;

	if (!f) {
		snprintf(err, errlen, "list: %s: %s", path, strerror(errno));
		return -1;
	}
	while (getline(&line, &cap, f) >= 0) {
		char *tok, *next, *save = NULL;
		char ipbuf[sizeof(struct in6_addr)];

		lineno++;
		line[strcspn(line, "#\r\n")] = '\0';
		tok = strtok_r(line, " \t", &save);
		if (!tok)
			continue;
		next = strtok_r(NULL, " \t", &save);
		if (next && (inet_pton(AF_INET, tok, ipbuf) == 1 ||
			     inet_pton(AF_INET6, tok, ipbuf) == 1))
			tok = next;
		else if (next) {
			snprintf(err, errlen, "list: %s:%u: one name per line",
				 path, lineno);
			ret = -1;
			break;
		}
		if (block_name(d, "list", tok, err, errlen) < 0) {
			char msg[256];

			snprintf(msg, sizeof(msg), "%s", err);
			snprintf(err, errlen, "%s:%u: %s", path, lineno, msg);
			ret = -1;
			break;
		}
	}
	free(line);
	fclose(f);
	return ret;
}

static void dns_fini(void *instance)
{
	struct dns *d = instance;

	if (!d)
		return;
	for (size_t i = 0; d->tab && i <= d->mask; i++)
		free(d->tab[i].name);
	free(d->tab);
	free(d);
}

static void *dns_init(const struct nfqe_kv *kv, unsigned nkv, char *err,
		      size_t errlen)
{
	struct dns *d = calloc(1, sizeof(*d));
	bool have_list = false;

	if (!d) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->malformed_drop = true;
	for (unsigned i = 0; i < nkv; i++) {
		const char *k = kv[i].key, *v = kv[i].value;

		if (!strcmp(k, "block")) {
			if (block_name(d, k, v, err, errlen) < 0)
				goto err_fini;
		} else if (!strcmp(k, "list")) {
			if (have_list) {
				snprintf(err, errlen, "list: only one list "
					 "file (use block = for more names)");
				goto err_fini;
			}
			have_list = true;
			if (block_file(d, v, err, errlen) < 0)
				goto err_fini;
		} else if (!strcmp(k, "malformed")) {
			if (!strcasecmp(v, "accept"))
				d->malformed_drop = false;
			else if (!strcasecmp(v, "drop"))
				d->malformed_drop = true;
			else {
				snprintf(err, errlen, "malformed: '%s' is not "
					 "accept or drop", v);
				goto err_fini;
			}
		} else {
			snprintf(err, errlen, "unknown key '%s' (block, list, "
				 "malformed)", k);
			goto err_fini;
		}
	}
	if (!d->count && !have_list) {
		snprintf(err, errlen, "needs block = NAME or list = FILE");
		goto err_fini;
	}
	return d;

err_fini:
	dns_fini(d);
	return NULL;
}

/*
 * Read the name at *@off of the @len bytes at @p into @wire (lowercase)
 * and the offset of each label in @wire into @labels. *@off moves past the
 * name as it sits in the question (past the first pointer, if any).
 */
static enum dns_parse read_name(const uint8_t *p, size_t len, size_t *off,
				uint8_t *wire, size_t *ret_wlen,
				uint8_t *labels, unsigned *ret_nlabels)
{
	size_t pos = *off, limit = *off, wlen = 0, end = 0;
	unsigned nlabels = 0;

	for (;;) {
		uint8_t l;

		if (pos >= len)
			return DNS_MALFORMED;
		l = p[pos];
		if ((l & 0xc0) == 0xc0) {
			size_t target;

			if (pos + 1 >= len)
				return DNS_MALFORMED;
			target = (size_t)(l & 0x3f) << 8 | p[pos + 1];
			if (target < DNS_HDR_LEN || target >= limit)
				return DNS_MALFORMED;
			if (!end)
				end = pos + 2;
			limit = target;
			pos = target;
			continue;
		}
		if (l & 0xc0)		/* 0x40 extended, 0x80 reserved */
			return DNS_MALFORMED;
		/* this label and, after it, at least the root label */
		if (wlen + 1 + l + (l ? 1 : 0) > DNS_NAME_MAX)
			return DNS_MALFORMED;
		if (!l) {
			wire[wlen++] = 0;
			if (!end)
				end = pos + 1;
			break;
		}
		if (pos + 1 + l > len)
			return DNS_MALFORMED;
		labels[nlabels++] = (uint8_t)wlen;
		wire[wlen++] = l;
		for (unsigned i = 0; i < l; i++)
			wire[wlen++] = lower(p[pos + 1 + i]);
		pos += 1 + l;
	}
	*off = end;
	*ret_wlen = wlen;
	*ret_nlabels = nlabels;
	return DNS_OK;
}

/* The name or one of the names above it is in the set. */
static bool name_blocked(const struct dns *d, const uint8_t *wire,
			 size_t wlen, const uint8_t *labels, unsigned nlabels)
{
	for (unsigned i = 0; i < nlabels; i++)
		if (set_contains(d, wire + labels[i], wlen - labels[i]))
			return true;
	return false;
}

static enum nfqe_insp_verdict dns_inspect(void *instance,
					  const struct nfqe_insp_packet *pkt,
					  void **flow_slot, uint32_t *ret_mark)
{
	const struct dns *d = instance;
	const enum nfqe_insp_verdict malformed = d->malformed_drop ?
		NFQE_INSP_DROP : NFQE_INSP_ACCEPT;
	const uint8_t *p = pkt->payload;
	size_t len = pkt->payload_len, off = DNS_HDR_LEN;
	unsigned qdcount;

	if (pkt->l4proto != IPPROTO_UDP || !(pkt->flags & NFQE_INSP_F_L4))
		return NFQE_INSP_ACCEPT;
	if (len < DNS_HDR_LEN)
		return malformed;
	if (p[2] & 0x80)	/* QR: a response */
		return NFQE_INSP_ACCEPT;
	qdcount = (unsigned)p[4] << 8 | p[5];
	/* each question takes at least 5 bytes: the loop ends with the
	 * payload whatever qdcount claims */
	for (unsigned q = 0; q < qdcount; q++) {
		uint8_t wire[DNS_NAME_MAX], labels[DNS_LABELS_MAX];
		unsigned nlabels;
		size_t wlen;

		if (read_name(p, len, &off, wire, &wlen, labels,
			      &nlabels) != DNS_OK)
			return malformed;
		if (off + 4 > len)	/* QTYPE, QCLASS */
			return malformed;
		off += 4;
		if (name_blocked(d, wire, wlen, labels, nlabels))
			return NFQE_INSP_DROP;
	}
	return NFQE_INSP_ACCEPT;
}

static const struct nfqe_inspector dns_inspector = {
	.abi_version	= NFQE_INSPECTOR_ABI_VERSION,
	.name		= "dns",
	.init		= dns_init,
	.inspect	= dns_inspect,
	.fini		= dns_fini,
};

NFQE_INSPECTOR_EXPORT const struct nfqe_inspector *nfqe_inspector_entry(void)
{
	return &dns_inspector;
}
