/*
 * fmt.c — printf-style formatting without floating point.
 *
 * tern formats only integers, strings and characters.  musl's vfprintf
 * also carries the floating-point formatter, which on MIPS drags in the
 * soft-float routines and on aarch64 libgcc's quad-float code: 10–20 KB of
 * a 250 KB budget for conversions tern never uses.  fmt_core() is the
 * whole formatter; in the product (not in the sanitizer test build, which
 * keeps glibc's and compares against it in t_fmt) it also stands in for
 * the C library's vfprintf, vsnprintf and snprintf, so nothing links
 * musl's.  Supported: flags - 0 + space #, width and precision (numbers
 * or *), length hh h l ll j z t L, conversions d i u o x X c s p %.  An
 * unsupported conversion is copied as is.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fmt.h"

enum { F_MINUS = 1, F_ZERO = 2, F_PLUS = 4, F_SPACE = 8, F_ALT = 16 };

static void
pad(fmt_out out, void *ctx, char c, int n)
{
	char b[16];
	int k;

	memset(b, c, sizeof b);
	for (; n > 0; n -= k) {
		k = n < (int)sizeof b ? n : (int)sizeof b;
		out(ctx, b, (size_t)k);
	}
}

/* One field: prefix (sign, 0x), zeros, body, with width and flags. */
static size_t
field(fmt_out out, void *ctx, const char *pre, size_t npre, int zeros,
    const char *body, size_t nbody, int width, int flags)
{
	int len = (int)(npre + nbody) + (zeros > 0 ? zeros : 0);
	int fill = width > len ? width - len : 0;

	if (!(flags & (F_MINUS | F_ZERO)))
		pad(out, ctx, ' ', fill);
	out(ctx, pre, npre);
	if (flags & F_ZERO && !(flags & F_MINUS))
		pad(out, ctx, '0', fill);
	pad(out, ctx, '0', zeros);
	out(ctx, body, nbody);
	if (flags & F_MINUS)
		pad(out, ctx, ' ', fill);
	return (size_t)(len + fill);
}

size_t
fmt_core(fmt_out out, void *ctx, const char *f, va_list ap)
{
	static const char lo[] = "0123456789abcdef", up[] = "0123456789ABCDEF";
	char num[24], pre[2], c;
	const char *s, *p, *dig;
	uintmax_t u;
	intmax_t v;
	size_t total = 0, n;
	int flags, width, prec, len, base, i, np;

	while (*f != '\0') {
		for (p = f; *p != '\0' && *p != '%'; p++)
			;
		if (p > f) {
			out(ctx, f, (size_t)(p - f));
			total += (size_t)(p - f);
		}
		if (*p == '\0')
			break;
		s = p++;	/* the '%', for unsupported conversions */
		for (flags = 0;; p++) {
			if (*p == '-')
				flags |= F_MINUS;
			else if (*p == '0')
				flags |= F_ZERO;
			else if (*p == '+')
				flags |= F_PLUS;
			else if (*p == ' ')
				flags |= F_SPACE;
			else if (*p == '#')
				flags |= F_ALT;
			else
				break;
		}
		width = 0;
		if (*p == '*') {
			width = va_arg(ap, int);
			if (width < 0) {
				flags |= F_MINUS;
				width = -width;
			}
			p++;
		} else
			while (*p >= '0' && *p <= '9')
				width = width * 10 + (*p++ - '0');
		prec = -1;
		if (*p == '.') {
			p++;
			prec = 0;
			if (*p == '*') {
				prec = va_arg(ap, int);
				p++;
			} else
				while (*p >= '0' && *p <= '9')
					prec = prec * 10 + (*p++ - '0');
		}
		len = 0;	/* 0 int, 1 long, 2 long long, 3 size, 4 max */
		for (;; p++) {
			if (*p == 'h')
				;
			else if (*p == 'l')
				len = len == 1 ? 2 : 1;
			else if (*p == 'L' || *p == 'q')
				len = 2;
			else if (*p == 'z' || *p == 't')
				len = 3;
			else if (*p == 'j')
				len = 4;
			else
				break;
		}
		c = *p++;
		base = 10;
		dig = lo;
		np = 0;
		switch (c) {
		case '%':
			out(ctx, "%", 1);
			total++;
			break;
		case 'c':
			num[0] = (char)va_arg(ap, int);
			total += field(out, ctx, "", 0, 0, num, 1, width,
			    flags & F_MINUS);
			break;
		case 's':
			s = va_arg(ap, const char *);
			if (s == NULL)
				s = "(null)";
			n = prec >= 0 ? strnlen(s, (size_t)prec) : strlen(s);
			total += field(out, ctx, "", 0, 0, s, n, width,
			    flags & F_MINUS);
			break;
		case 'd':
		case 'i':
			v = len == 0 ? va_arg(ap, int) : len == 1 ?
			    va_arg(ap, long) : len == 2 ? va_arg(ap, long long) :
			    len == 3 ? va_arg(ap, ptrdiff_t) :
			    va_arg(ap, intmax_t);
			if (v < 0) {
				pre[np++] = '-';
				u = -(uintmax_t)v;
			} else {
				u = (uintmax_t)v;
				if (flags & F_PLUS)
					pre[np++] = '+';
				else if (flags & F_SPACE)
					pre[np++] = ' ';
			}
			goto number;
		case 'p':
			u = (uintptr_t)va_arg(ap, void *);
			base = 16;
			flags |= F_ALT;
			goto hex;
		case 'o':
			base = 8;
			goto unsig;
		case 'X':
			dig = up;
			/* FALLTHROUGH */
		case 'x':
			base = 16;
			/* FALLTHROUGH */
		case 'u':
		unsig:
			u = len == 0 ? va_arg(ap, unsigned int) : len == 1 ?
			    va_arg(ap, unsigned long) : len == 2 ?
			    va_arg(ap, unsigned long long) : len == 3 ?
			    va_arg(ap, size_t) : va_arg(ap, uintmax_t);
		hex:
			if (base == 16 && flags & F_ALT && u != 0) {
				pre[np++] = '0';
				pre[np++] = c == 'X' ? 'X' : 'x';
			}
		number:
			i = (int)sizeof num;
			while (u != 0) {
				num[--i] = dig[u % (unsigned)base];
				u /= (unsigned)base;
			}
			if (base == 8 && flags & F_ALT && prec <=
			    (int)sizeof num - i)
				num[--i] = '0';
			if (i == (int)sizeof num && prec != 0)
				num[--i] = '0';
			n = sizeof num - (size_t)i;
			if (prec >= 0)
				flags &= ~F_ZERO;
			total += field(out, ctx, pre, (size_t)np,
			    prec > (int)n ? prec - (int)n : 0, num + i, n,
			    width, flags);
			break;
		default:	/* unsupported: copy the directive */
			if (c == '\0')
				p--;
			out(ctx, s, (size_t)(p - s));
			total += (size_t)(p - s);
			break;
		}
		f = p;
	}
	return total;
}

struct sbuf {
	char *b;
	size_t cap, len;
};

static void
to_buf(void *ctx, const char *s, size_t n)
{
	struct sbuf *sb = ctx;
	size_t room;

	if (sb->cap > 0 && sb->len < sb->cap - 1) {
		room = sb->cap - 1 - sb->len;
		memcpy(sb->b + sb->len, s, n < room ? n : room);
	}
	sb->len += n;
}

int
fmt_vsnprintf(char *buf, size_t cap, const char *f, va_list ap)
{
	struct sbuf sb = { buf, cap, 0 };

	fmt_core(to_buf, &sb, f, ap);
	if (cap > 0)
		buf[sb.len < cap ? sb.len : cap - 1] = '\0';
	return sb.len > (size_t)0x7fffffff ? -1 : (int)sb.len;
}

#ifndef TERN_TEST
/* The product: these replace the C library's, so its floating-point
 * formatter is never linked. */

static void
to_file(void *ctx, const char *s, size_t n)
{
	fwrite(s, 1, n, ctx);
}

int
vfprintf(FILE *restrict fp, const char *restrict f, va_list ap)
{
	size_t n = fmt_core(to_file, fp, f, ap);

	return ferror(fp) ? -1 : (int)n;
}

int
fprintf(FILE *restrict fp, const char *restrict f, ...)
{
	va_list ap;
	int r;

	va_start(ap, f);
	r = vfprintf(fp, f, ap);
	va_end(ap);
	return r;
}

int
vprintf(const char *restrict f, va_list ap)
{
	return vfprintf(stdout, f, ap);
}

int
printf(const char *restrict f, ...)
{
	va_list ap;
	int r;

	va_start(ap, f);
	r = vfprintf(stdout, f, ap);
	va_end(ap);
	return r;
}

int
vsnprintf(char *restrict buf, size_t cap, const char *restrict f,
    va_list ap)
{
	return fmt_vsnprintf(buf, cap, f, ap);
}

int
snprintf(char *restrict buf, size_t cap, const char *restrict f, ...)
{
	va_list ap;
	int r;

	va_start(ap, f);
	r = fmt_vsnprintf(buf, cap, f, ap);
	va_end(ap);
	return r;
}
#endif
