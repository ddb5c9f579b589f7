/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * arena-jemalloc.c - flow records from a dedicated jemalloc arena.
 *
 * Built only when jemalloc is found (arena-libc.c otherwise). The thread
 * cache is bypassed: with an automatic tcache jemalloc serves MALLOCX_ARENA
 * requests from the cache, i.e. from whatever arena filled it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <jemalloc/jemalloc.h>

#include "flowtable-internal.h"

struct ft_arena {
	unsigned int index;
	int flags;
	size_t size;
	size_t usable;
};

struct ft_arena *ft_arena_new(size_t size, size_t count)
{
	struct ft_arena *arena = calloc(1, sizeof(*arena));
	size_t len = sizeof(arena->index);
	int err;

	(void)count;	/* the table bounds the records; jemalloc sizes itself */
	if (!arena)
		return NULL;
	err = mallctl("arenas.create", &arena->index, &len, NULL, 0);
	if (err) {
		free(arena);
		errno = err;
		return NULL;
	}
	arena->flags = MALLOCX_ARENA(arena->index) | MALLOCX_TCACHE_NONE;
	arena->size = size;
	arena->usable = nallocx(size, arena->flags);
	return arena;
}

void ft_arena_free(struct ft_arena *arena)
{
	char name[64];

	if (!arena)
		return;
	snprintf(name, sizeof(name), "arena.%u.destroy", arena->index);
	mallctl(name, NULL, NULL, NULL, 0);
	free(arena);
}

void *ft_arena_get(struct ft_arena *arena)
{
	return mallocx(arena->size, arena->flags);
}

void ft_arena_put(struct ft_arena *arena, void *ptr)
{
	sdallocx(ptr, arena->size, MALLOCX_TCACHE_NONE);
}

size_t ft_arena_record_bytes(const struct ft_arena *arena)
{
	return arena->usable;
}
