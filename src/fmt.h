/*
 * fmt.h — printf-style formatting of integers, strings and characters,
 * without floating point (see fmt.c for why).  In the product it also
 * replaces the C library's printf family.
 */
#ifndef FMT_H
#define FMT_H

#include <stdarg.h>
#include <stddef.h>

typedef void (*fmt_out)(void *ctx, const char *s, size_t n);

/* Format f with ap, handing the pieces to out; returns the total length. */
size_t fmt_core(fmt_out out, void *ctx, const char *f, va_list ap);

/* vsnprintf semantics: NUL-terminated when cap > 0, returns the length
 * the whole output would have. */
int fmt_vsnprintf(char *buf, size_t cap, const char *f, va_list ap);

#endif
