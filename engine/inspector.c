// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The inspector loader and the per-packet call into plug-ins.
 *
 * Lifetime. An instance is referenced by its set (the policy that uses
 * it) and by every flow slot wrapper it made. The policy is freed after a
 * grace period, and a wrapper when its flow is freed (liburcu's call_rcu
 * thread) or when another instance takes the flow over; whichever drops
 * the last reference calls the plug-in's fini and dlclose()s it. No code
 * of the plug-in can run by then: every worker that could reach the
 * instance went through the policy (gone after the grace period) or a
 * wrapper (gone with its reference).
 *
 * Per flow, one wrapper is stored with flow_slot_set() on the flow's first
 * inspected packet: the only allocation on the data path. Its lock
 * serialises inspect calls for one flow: both directions of a flow may
 * reach different queues, and a plug-in's slot is not written to by two
 * threads at once that way.
 */
#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nfqe/inspector.h>

#include "flowtable.h"
#include "inspector.h"
#include "lastgasp.h"
#include "nfqe-config.h"
#include "log.h"
#include "worker.h"

/* meson sets it in nfqe-config.h; this default is for builds without */
#ifndef NFQE_PLUGINDIR
#define NFQE_PLUGINDIR "/usr/local/lib/x86_64-linux-gnu/nfqe"
#endif

#define INSPECTOR_NAME_MAX	64
#define ERROR_LOG_INTERVAL_NS	1000000000ull

struct inspector {
	atomic_uint		refs;
	char			name[INSPECTOR_NAME_MAX];
	char			*path;		/* as configured */
	bool			on_error_drop;
	bool			path_failed;	/* reported at the path line */
	void			*dl;
	const struct nfqe_inspector *ops;
	void			*inst;		/* NULL until init succeeded */
	struct nfqe_kv		*kv;		/* strdup()ed, for init */
	unsigned		nkv;
	unsigned		kv_cap;

	/* hot: written by every worker */
	struct {
		atomic_uint_fast64_t	packets;
		atomic_uint_fast64_t	results[INSPECT_RESULT_MAX];
		atomic_uint_fast64_t	errors;
		atomic_uint_fast64_t	cached;
		atomic_uint_fast64_t	slot_rebinds;
		atomic_uint_fast64_t	last_error_log_ns;
		atomic_uint_fast64_t	errors_logged;
	} __attribute__((aligned(64))) st;
};

struct inspector_set {
	struct inspector	**v;
	unsigned		n;
	unsigned		cap;
};

/* What the flow table's slot holds. */
struct inspector_slot {
	struct inspector	*in;		/* a reference */
	void			*pslot;		/* the plug-in's slot */
	atomic_bool		busy;
	uint32_t		inspected;
	uint8_t			final;		/* 0, or enum inspect_result + 1 */
	uint32_t		final_mark;
};

static void kv_free(struct inspector *in)
{
	for (unsigned i = 0; i < in->nkv; i++) {
		free((char *)in->kv[i].key);
		free((char *)in->kv[i].value);
	}
	free(in->kv);
	in->kv = NULL;
	in->nkv = in->kv_cap = 0;
}

static void inspector_destroy(struct inspector *in)
{
	if (in->inst && in->ops->fini)
		in->ops->fini(in->inst);
	if (in->dl)
		dlclose(in->dl);
	kv_free(in);
	free(in->path);
	free(in);
}

/*
 * Reference counting: inspector_get() takes a reference that keeps the
 * instance (and its plug-in's code) alive beyond its set, inspector_put()
 * drops it; the last one calls the plug-in's fini and dlclose()s it. Any
 * thread (the flow table's call_rcu thread too). NULL is fine for put.
 */
static struct inspector *inspector_get(struct inspector *in)
{
	atomic_fetch_add_explicit(&in->refs, 1, memory_order_relaxed);
	return in;
}

static void inspector_put(struct inspector *in)
{
	if (!in)
		return;
	if (atomic_fetch_sub_explicit(&in->refs, 1, memory_order_release) != 1)
		return;
	atomic_thread_fence(memory_order_acquire);
	inspector_destroy(in);
}

const char *inspector_name(const struct inspector *in)
{
	return in->name;
}

const char *inspector_plugin_name(const struct inspector *in)
{
	return in->ops && in->ops->name ? in->ops->name : "?";
}

void inspector_stats_read(const struct inspector *in,
			  struct inspector_stats *ret)
{
	/* the counters are only ever added to: casting away const for the
	 * relaxed loads is harmless */
	struct inspector *w = (struct inspector *)in;

	memset(ret, 0, sizeof(*ret));
	ret->packets = atomic_load_explicit(&w->st.packets,
					    memory_order_relaxed);
	for (int i = 0; i < INSPECT_RESULT_MAX; i++)
		ret->results[i] = atomic_load_explicit(&w->st.results[i],
						       memory_order_relaxed);
	ret->errors = atomic_load_explicit(&w->st.errors, memory_order_relaxed);
	ret->cached = atomic_load_explicit(&w->st.cached, memory_order_relaxed);
	ret->slot_rebinds = atomic_load_explicit(&w->st.slot_rebinds,
						 memory_order_relaxed);
}

struct inspector_set *inspector_set_new(void)
{
	return calloc(1, sizeof(struct inspector_set));
}

void inspector_set_free(struct inspector_set *set)
{
	if (!set)
		return;
	for (unsigned i = 0; i < set->n; i++)
		inspector_put(set->v[i]);
	free(set->v);
	free(set);
}

unsigned inspector_set_count(const struct inspector_set *set)
{
	return set ? set->n : 0;
}

struct inspector *inspector_set_at(struct inspector_set *set, unsigned i)
{
	return set && i < set->n ? set->v[i] : NULL;
}

struct inspector *inspector_set_find(struct inspector_set *set,
				     const char *name)
{
	if (!set)
		return NULL;
	for (unsigned i = 0; i < set->n; i++)
		if (!strcmp(set->v[i]->name, name))
			return set->v[i];
	return NULL;
}

static bool name_valid(const char *name)
{
	size_t n = strlen(name);

	if (!n || n >= INSPECTOR_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-' ||
		      c == '.'))
			return false;
	}
	return true;
}

static struct inspector *set_instance(struct inspector_set *set,
				      const char *name, char *err,
				      size_t errlen)
{
	struct inspector *in = inspector_set_find(set, name);
	struct inspector **v;

	if (in)
		return in;
	if (!name_valid(name)) {
		snprintf(err, errlen, "[inspector %s]: a name is 1 to %d "
			 "letters, digits, '_', '-' or '.'", name,
			 INSPECTOR_NAME_MAX - 1);
		return NULL;
	}
	if (set->n == set->cap) {
		unsigned cap = set->cap ? set->cap * 2 : 4;

		v = realloc(set->v, cap * sizeof(*v));
		if (!v)
			goto err_nomem;
		set->v = v;
		set->cap = cap;
	}
	in = calloc(1, sizeof(*in));
	if (!in)
		goto err_nomem;
	atomic_init(&in->refs, 1);
	strcpy(in->name, name);
	set->v[set->n++] = in;
	return in;

err_nomem:
	snprintf(err, errlen, "out of memory");
	return NULL;
}

/* dlopen() the plug-in and check what it exports. */
static int plugin_open(struct inspector *in, const char *path, char *err,
		       size_t errlen)
{
	const struct nfqe_inspector *ops;
	nfqe_inspector_entry_fn entry;
	char full[4096];
	void *dl;

	if (strchr(path, '/'))
		snprintf(full, sizeof(full), "%s", path);
	else if ((size_t)snprintf(full, sizeof(full), "%s/%s", NFQE_PLUGINDIR,
				  path) >= sizeof(full))
		goto err_toolong;
	dl = dlopen(full, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		snprintf(err, errlen, "path: cannot load plug-in: %s",
			 dlerror());
		return -1;
	}
	*(void **)&entry = dlsym(dl, NFQE_INSPECTOR_ENTRY);
	if (!entry) {
		snprintf(err, errlen, "path: %s is not an nfqe inspector "
			 "plug-in (no symbol %s)", full, NFQE_INSPECTOR_ENTRY);
		goto err_close;
	}
	ops = entry();
	if (!ops) {
		snprintf(err, errlen, "path: %s: %s() returned NULL", full,
			 NFQE_INSPECTOR_ENTRY);
		goto err_close;
	}
	if (ops->abi_version != NFQE_INSPECTOR_ABI_VERSION) {
		snprintf(err, errlen, "path: %s was built for inspector ABI "
			 "version %u, this nfqe has version %u: rebuild it "
			 "against this nfqe's <nfqe/inspector.h>", full,
			 ops->abi_version, NFQE_INSPECTOR_ABI_VERSION);
		goto err_close;
	}
	if (!ops->init || !ops->inspect || !ops->name) {
		snprintf(err, errlen, "path: %s: the plug-in has no %s", full,
			 !ops->name ? "name" : !ops->init ? "init" : "inspect");
		goto err_close;
	}
	in->path = strdup(full);
	if (!in->path) {
		snprintf(err, errlen, "out of memory");
		goto err_close;
	}
	in->dl = dl;
	in->ops = ops;
	return 0;

err_close:
	dlclose(dl);
	return -1;
err_toolong:
	snprintf(err, errlen, "path: too long");
	return -1;
}

static int kv_add(struct inspector *in, const char *key, const char *value)
{
	if (in->nkv == in->kv_cap) {
		unsigned cap = in->kv_cap ? in->kv_cap * 2 : 8;
		struct nfqe_kv *kv = realloc(in->kv, cap * sizeof(*kv));

		if (!kv)
			return -1;
		in->kv = kv;
		in->kv_cap = cap;
	}
	in->kv[in->nkv].key = strdup(key);
	in->kv[in->nkv].value = strdup(value);
	if (!in->kv[in->nkv].key || !in->kv[in->nkv].value) {
		free((char *)in->kv[in->nkv].key);
		free((char *)in->kv[in->nkv].value);
		return -1;
	}
	in->nkv++;
	return 0;
}

int inspector_set_key(void *ctx, const char *section, const char *name,
		      const char *value, char *err, size_t errlen)
{
	struct inspector_set *set = ctx;
	const char *iname = section;
	struct inspector *in;

	if (!strncmp(iname, "inspector ", 10))
		iname += 10;
	in = set_instance(set, iname, err, errlen);
	if (!in)
		return -1;
	if (!strcmp(name, "path")) {
		if (in->ops || in->path_failed) {
			snprintf(err, errlen, "path: given twice in "
				 "[inspector %s]", in->name);
			return -1;
		}
		if (plugin_open(in, value, err, errlen) < 0) {
			in->path_failed = true;
			return -1;
		}
		return 0;
	}
	if (!strcmp(name, "on_error")) {
		if (!strcasecmp(value, "accept"))
			in->on_error_drop = false;
		else if (!strcasecmp(value, "drop"))
			in->on_error_drop = true;
		else {
			snprintf(err, errlen, "on_error: '%s' is not accept "
				 "or drop", value);
			return -1;
		}
		return 0;
	}
	if (kv_add(in, name, value) < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

int inspector_set_load(struct inspector_set *set, char *err, size_t errlen)
{
	for (unsigned i = 0; i < set->n; i++) {
		struct inspector *in = set->v[i];
		char msg[512];

		if (in->inst)
			continue;
		if (!in->ops) {
			snprintf(err, errlen, "[inspector %s]: %s", in->name,
				 in->path_failed ? "the plug-in did not load" :
				 "no path = key");
			return -1;
		}
		msg[0] = '\0';
		in->inst = in->ops->init(in->kv, in->nkv, msg, sizeof(msg));
		if (!in->inst) {
			snprintf(err, errlen, "[inspector %s] (%s): %s",
				 in->name, in->ops->name,
				 msg[0] ? msg : "init failed");
			return -1;
		}
		/* the plug-in copied what it keeps */
		kv_free(in);
	}
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Count an error; log it at most once a second per instance. */
static void inspector_error(struct inspector *in, int verdict)
{
	uint64_t errors = atomic_fetch_add_explicit(&in->st.errors, 1,
						    memory_order_relaxed) + 1;
	uint64_t last = atomic_load_explicit(&in->st.last_error_log_ns,
					     memory_order_relaxed);
	uint64_t now = now_ns();
	uint64_t logged;

	if (last && now - last < ERROR_LOG_INTERVAL_NS)
		return;
	if (!atomic_compare_exchange_strong_explicit(&in->st.last_error_log_ns,
						     &last, now,
						     memory_order_relaxed,
						     memory_order_relaxed))
		return;
	logged = atomic_exchange_explicit(&in->st.errors_logged, errors,
					  memory_order_relaxed);
	log_warn("inspector %s (%s): %s (%d), packet %s; %llu errors since "
		 "the last message", in->name, in->ops->name,
		 verdict == NFQE_INSP_ERROR ? "plug-in error" :
		 "invalid verdict", verdict,
		 in->on_error_drop ? "dropped" : "accepted",
		 (unsigned long long)(errors - logged));
}

static enum inspect_result map_verdict(struct inspector *in, int v)
{
	switch (v) {
	case NFQE_INSP_ACCEPT:
		return INSPECT_ACCEPT;
	case NFQE_INSP_DROP:
		return INSPECT_DROP;
	case NFQE_INSP_MARK:
		return INSPECT_MARK;
	case NFQE_INSP_NEED_MORE:
		return INSPECT_MORE;
	case NFQE_INSP_FLOW_ACCEPT:
		return INSPECT_FLOW_ACCEPT;
	case NFQE_INSP_FLOW_DROP:
		return INSPECT_FLOW_DROP;
	case NFQE_INSP_FLOW_MARK:
		return INSPECT_FLOW_MARK;
	default:
		inspector_error(in, v);
		return in->on_error_drop ? INSPECT_DROP : INSPECT_ACCEPT;
	}
}

static bool result_is_final(enum inspect_result r)
{
	return r == INSPECT_FLOW_ACCEPT || r == INSPECT_FLOW_DROP ||
	       r == INSPECT_FLOW_MARK;
}

static void packet_view(struct nfqe_insp_packet *v, const struct nfqe_pkt *pkt)
{
	const struct pkt_info *pi = pkt->info;
	uint8_t f = 0;

	if (pi->flags & PKT_F_L4)
		f |= NFQE_INSP_F_L4;
	if (pi->flags & PKT_F_FRAGMENT)
		f |= NFQE_INSP_F_FRAGMENT;
	if (pi->flags & PKT_F_TRUNCATED)
		f |= NFQE_INSP_F_TRUNCATED;
	if (pkt->flow && pkt->flow_new)
		f |= NFQE_INSP_F_FLOW_NEW;
	v->family = pi->family;
	v->l4proto = pi->l4proto;
	v->dir = pkt->flow && pkt->dir == FLOW_DIR_REPLY ?
		 NFQE_INSP_DIR_REPLY : NFQE_INSP_DIR_ORIG;
	v->flags = f;
	v->sport = f & NFQE_INSP_F_L4 ? pi->sport : 0;
	v->dport = f & NFQE_INSP_F_L4 ? pi->dport : 0;
	v->saddr = (const uint8_t *)&pi->src;
	v->daddr = (const uint8_t *)&pi->dst;
	/* the parser guarantees payload_off + payload_len <= len */
	v->payload = pkt->data + pi->payload_off;
	v->payload_len = pi->payload_len;
	v->packet = pkt->data;
	v->packet_len = pkt->len;
	v->queue = pkt->queue;
	v->mark = pkt->mark;
	v->indev = pkt->indev;
	v->outdev = pkt->outdev;
	v->flow_packets = 0;
	v->flow_inspected = 0;
}

static void slot_lock(struct inspector_slot *w)
{
	while (atomic_exchange_explicit(&w->busy, true, memory_order_acquire))
		sched_yield();
}

static void slot_unlock(struct inspector_slot *w)
{
	atomic_store_explicit(&w->busy, false, memory_order_release);
}

/* Free what the instance holding @w keeps for the flow. */
static void slot_release(struct inspector_slot *w)
{
	struct inspector *in = w->in;

	if (w->pslot && in->ops->flow_free)
		in->ops->flow_free(in->inst, w->pslot);
	w->pslot = NULL;
	w->in = NULL;
	inspector_put(in);
}

/* The flow's wrapper, made on its first inspected packet; NULL when out
 * of memory (the packet is then inspected without a slot). */
static struct inspector_slot *slot_get(struct inspector *in, struct flow *flow)
{
	struct inspector_slot *w = flow_slot_get(flow);

	if (w)
		return w;
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->in = inspector_get(in);
	atomic_init(&w->busy, false);
	if (flow_slot_set(flow, w) == 0)
		return w;
	/* another worker won the race */
	inspector_put(in);
	free(w);
	return flow_slot_get(flow);
}

static enum inspect_result call_plugin(struct inspector *in,
				       const struct nfqe_insp_packet *v,
				       void **pslot, uint32_t *ret_mark)
{
	uint32_t mark = 0;
	enum inspect_result r;

	r = map_verdict(in, in->ops->inspect(in->inst, v, pslot, &mark));
	if (r == INSPECT_MARK || r == INSPECT_FLOW_MARK)
		*ret_mark = mark;
	return r;
}

enum inspect_result inspector_inspect(struct inspector *in,
				      const struct nfqe_pkt *pkt,
				      uint32_t *ret_mark)
{
	struct nfqe_insp_packet v;
	struct inspector_slot *w = NULL;
	struct flow_counters fc;
	enum inspect_result r;

	atomic_fetch_add_explicit(&in->st.packets, 1, memory_order_relaxed);
	packet_view(&v, pkt);
	if (pkt->flow)
		w = slot_get(in, pkt->flow);
	if (!w) {
		r = call_plugin(in, &v, NULL, ret_mark);
		goto out;
	}

	slot_lock(w);
	if (w->in != in) {
		/* a reload, or another rule's instance: start afresh */
		slot_release(w);
		w->in = inspector_get(in);
		w->inspected = 0;
		w->final = 0;
		atomic_fetch_add_explicit(&in->st.slot_rebinds, 1,
					  memory_order_relaxed);
	}
	if (w->final) {
		r = (enum inspect_result)(w->final - 1);
		if (r == INSPECT_FLOW_MARK)
			*ret_mark = w->final_mark;
		slot_unlock(w);
		atomic_fetch_add_explicit(&in->st.cached, 1,
					  memory_order_relaxed);
		goto out;
	}
	flow_counters_get(pkt->flow, &fc);
	v.flags |= NFQE_INSP_F_FLOW;
	v.flow_packets = fc.packets[0] + fc.packets[1];
	v.flow_inspected = w->inspected;
	r = call_plugin(in, &v, &w->pslot, ret_mark);
	if (w->inspected < UINT32_MAX)
		w->inspected++;
	if (result_is_final(r)) {
		w->final = (uint8_t)(r + 1);
		w->final_mark = r == INSPECT_FLOW_MARK ? *ret_mark : 0;
	}
	slot_unlock(w);
out:
	atomic_fetch_add_explicit(&in->st.results[r], 1, memory_order_relaxed);
	return r;
}

void inspector_slot_free(void *slot, void *arg)
{
	struct inspector_slot *w = slot;

	if (!w)
		return;
	/* liburcu's call_rcu thread, about to run a plug-in's flow_free: a
	 * crash there must reach the fatal-signal handler too */
	lastgasp_thread_adopt();
	/* the flow is gone: no worker can hold the lock any more */
	if (w->in)
		slot_release(w);
	free(w);
}
