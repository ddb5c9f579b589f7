/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * arena-libc.c - flow records from malloc(3), used when jemalloc is not
 * built in (always under sanitizers, which replace the allocator).
 */
#include <stdlib.h>

#include "flowtable-internal.h"

/* glibc: one size_t of chunk header, 16-byte granularity */
#define FT_MALLOC_OVERHEAD	sizeof(size_t)
#define FT_MALLOC_ALIGN		16

struct ft_arena {
	size_t size;
};

struct ft_arena *ft_arena_new(size_t size, size_t count)
{
	struct ft_arena *arena = calloc(1, sizeof(*arena));

	(void)count;
	if (arena)
		arena->size = size;
	return arena;
}

void ft_arena_free(struct ft_arena *arena)
{
	free(arena);
}

void *ft_arena_get(struct ft_arena *arena)
{
	return malloc(arena->size);
}

void ft_arena_put(struct ft_arena *arena, void *ptr)
{
	free(ptr);
}

size_t ft_arena_record_bytes(const struct ft_arena *arena)
{
	size_t chunk = arena->size + FT_MALLOC_OVERHEAD;

	return (chunk + FT_MALLOC_ALIGN - 1) & ~(size_t)(FT_MALLOC_ALIGN - 1);
}
