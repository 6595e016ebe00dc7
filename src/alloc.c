/*
 * alloc.c — malloc, calloc, realloc and free as whole pages from mmap.
 *
 * tern allocates a handful of blocks per run (the poll loop's slots, the
 * UIDL ledger and its index, the trust anchors, the message list), and
 * musl's C library a few more (opendir's DIR, getaddrinfo's results).
 * musl's general-purpose allocator is 8 KB of code for that; a mapping
 * per block is enough: malloc maps it, free unmaps it, realloc lets
 * mremap move it, and calloc gets zeroed pages for free.  Each block
 * starts with its mapping's length; 16 bytes keep the pointer aligned
 * for any type.  Only the pages a block touches count in tern's memory.
 * On MIPS this file stays MIPS32 code (the Makefile leaves out
 * -mips16): musl, which is MIPS32, tail-calls free with a plain jump,
 * which cannot switch ISA.
 * The product only: the sanitizer test build keeps the C library's (and
 * ASan's) allocator.
 */
#ifndef TERN_TEST
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define HDR	16
#define PAGE	4096	/* a multiple of every target's page size */

static size_t
span(size_t n)
{
	return (n + HDR + PAGE - 1) & ~(size_t)(PAGE - 1);
}

void *
malloc(size_t n)
{
	char *p;

	if (n > SIZE_MAX / 2) {
		errno = ENOMEM;
		return NULL;
	}
	p = mmap(NULL, span(n), PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	*(size_t *)(void *)p = span(n);
	return p + HDR;
}

void *
calloc(size_t m, size_t n)
{
	if (n != 0 && m > SIZE_MAX / 2 / n) {
		errno = ENOMEM;
		return NULL;
	}
	return malloc(m * n);
}

void
free(void *p)
{
	char *b = (char *)p - HDR;

	if (p != NULL)
		munmap(b, *(size_t *)(void *)b);
}

void *
realloc(void *p, size_t n)
{
	char *b = (char *)p - HDR;

	if (p == NULL)
		return malloc(n);
	if (n > SIZE_MAX / 2) {
		errno = ENOMEM;
		return NULL;
	}
	b = mremap(b, *(size_t *)(void *)b, span(n), MREMAP_MAYMOVE);
	if (b == MAP_FAILED)
		return NULL;
	*(size_t *)(void *)b = span(n);
	return b + HDR;
}
#else
typedef int alloc_c_is_empty_in_the_test_build;
#endif
