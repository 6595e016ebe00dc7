/*
 * line.c — bounded reply lines and the streamed POP3 body decoder.
 *
 * Both work on whatever slice of bytes a read produced: a line or a CRLF
 * may be split anywhere, so everything that matters about the bytes seen
 * so far is kept in the structure, never in the caller's buffer.  The body
 * decoder is on the path of every fetched byte: the middle of a line is
 * found with memchr and moved with memcpy, and the per-byte state machine
 * runs only at line boundaries.
 */
#include <string.h>

#include "line.h"

long
line_feed(struct linebuf *lb, const char *in, size_t n)
{
	const char *lf;
	size_t k, take;
	int cr;

	if (lb->ready)
		return 0;
	lf = memchr(in, '\n', n);
	k = lf != NULL ? (size_t)(lf - in) : n;
	if (memchr(in, '\0', k) != NULL)
		return -1;

	/* A CR that ended the previous read is data unless this read
	 * starts with the LF that completes the line. */
	if (lb->cr) {
		lb->cr = 0;
		if (k > 0) {
			if (lb->len >= REPLY_LINE_MAX)
				return -1;
			lb->buf[lb->len++] = '\r';
		}
	}
	take = k;
	cr = 0;
	if (take > 0 && in[take - 1] == '\r') {
		take--;
		cr = 1;
	}
	if (take > REPLY_LINE_MAX - lb->len)
		return -1;
	memcpy(lb->buf + lb->len, in, take);
	lb->len += take;
	lb->buf[lb->len] = '\0';
	if (lf == NULL) {
		/* Hold the CR back: the LF may start the next read. */
		lb->cr = cr;
		return (long)n;
	}
	lb->ready = 1;
	return (long)k + 1;
}

void
line_next(struct linebuf *lb)
{
	lb->len = 0;
	lb->ready = 0;
	lb->cr = 0;
	lb->buf[0] = '\0';
}

/* Decoder states: at the start of a line; inside a line; a CR seen that
 * may be the first half of CRLF; a "." at the start of a line; ".\r". */
enum { B_BOL, B_MID, B_CR, B_DOT, B_DOTCR };

size_t
body_decode(struct body *b, const char *in, size_t n, char *out,
    size_t *outn)
{
	const char *p = in, *end = in + n, *lf;
	char *o = out;
	size_t k;

	*outn = 0;
	if (b->done || n == 0)
		return 0;

	/* A CR consumed by the previous call (and not produced) is followed
	 * by something other than LF: it is data.  Producing it now adds one
	 * byte to this call's output, so leave the last input byte for the
	 * next call to keep *outn ≤ n. */
	if (*p != '\n' && (b->st == B_CR || b->st == B_DOTCR)) {
		*o++ = '\r';
		b->st = B_MID;
		end--;
	}

	while (p < end) {
		switch (b->st) {
		case B_BOL:
			if (*p == '.') {
				p++;
				b->st = B_DOT;
				break;
			}
			b->st = B_MID;
			/* FALLTHROUGH */
		case B_MID:
			lf = memchr(p, '\n', (size_t)(end - p));
			if (lf == NULL) {
				k = (size_t)(end - p);
				if (p[k - 1] == '\r') {
					k--;
					b->st = B_CR;
				}
				memcpy(o, p, k);
				o += k;
				p = end;
				break;
			}
			k = (size_t)(lf - p);
			if (k > 0 && lf[-1] == '\r')
				k--;
			memcpy(o, p, k);
			o += k;
			*o++ = '\n';
			p = lf + 1;
			b->st = B_BOL;
			break;
		case B_CR:
			/* Only reached at the start of a call with *p == LF:
			 * inside a call a held CR is always the last byte. */
			*o++ = '\n';
			p++;
			b->st = B_BOL;
			break;
		case B_DOT:
			if (*p == '\n') {
				p++;
				b->done = 1;
				goto out;
			}
			if (*p == '\r') {
				p++;
				b->st = B_DOTCR;
				break;
			}
			b->st = B_MID;		/* the stuffed dot is dropped */
			break;
		case B_DOTCR:
			if (*p == '\n') {
				p++;
				b->done = 1;
				goto out;
			}
			/* ".\rX": the dot was stuffing, the CR is data;
			 * three bytes consumed, one produced. */
			*o++ = '\r';
			b->st = B_MID;
			break;
		}
	}
out:
	*outn = (size_t)(o - out);
	b->bytes += (long long)*outn;
	return (size_t)(p - in);
}

void
body_reset(struct body *b)
{
	b->st = B_BOL;
	b->done = 0;
	b->bytes = 0;
}
