/*
 * t_line.c — reply lines and the streamed body decoder: vectors, every
 * split point, random chunkings against a byte-at-a-time reference.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "line.h"
#include "t.h"

/* ---- line_feed ---- */

struct lvec {
	const char *name;
	const char *in;
	size_t n;
	int nlines;		/* complete lines expected, -1 = error */
	const char *lines[3];
	size_t left;		/* bytes of a partial line at the end */
};

static const struct lvec lvecs[] = {
	{ "crlf", "+OK hi\r\n", 8, 1, { "+OK hi" }, 0 },
	{ "bare lf", "+OK hi\n", 7, 1, { "+OK hi" }, 0 },
	{ "two lines", "+OK a\r\n-ERR b\n", 14, 2, { "+OK a", "-ERR b" }, 0 },
	{ "lone cr kept", "a\rb\r\n", 5, 1, { "a\rb" }, 0 },
	{ "cr cr lf", "a\r\r\n", 4, 1, { "a\r" }, 0 },
	{ "empty line", "\r\n", 2, 1, { "" }, 0 },
	{ "partial", "+OK\r\nabc", 8, 1, { "+OK" }, 3 },
	{ "partial cr", "abc\r", 4, 0, { NULL }, 4 },
	{ "nul", "+O\0K\r\n", 6, -1, { NULL }, 0 },
	{ "nul after lf is next line", "+OK\r\n\0", 6, -1, { "+OK" }, 0 },
};

/* Feed in[] in chunks cut at `cut` (0 = whole) and collect lines into
 * got[] joined by '|'; returns -1 on error. */
static int
feed_lines(const char *in, size_t n, size_t cut, char *got, size_t cap,
    int *nl)
{
	struct linebuf lb;
	size_t off = 0, end, len = 0;
	long k;
	int guard = 0;

	memset(&lb, 0, sizeof lb);
	*nl = 0;
	got[0] = '\0';
	while (off < n && guard++ < 10000) {
		end = cut > 0 && off < cut ? cut : n;
		k = line_feed(&lb, in + off, end - off);
		if (k < 0)
			return -1;
		off += (size_t)k;
		if (lb.ready) {
			len += (size_t)snprintf(got + len, cap - len, "%s%s",
			    *nl ? "|" : "", lb.buf);
			(*nl)++;
			line_next(&lb);
		}
	}
	return 0;
}

static void
test_lines(void)
{
	char got[4096], want[4096], name[128];
	size_t i, cut, len;
	int nl, r, j;

	for (i = 0; i < sizeof lvecs / sizeof lvecs[0]; i++) {
		const struct lvec *v = &lvecs[i];

		len = 0;
		want[0] = '\0';
		for (j = 0; j < v->nlines; j++)
			len += (size_t)snprintf(want + len, sizeof want - len,
			    "%s%s", j ? "|" : "", v->lines[j]);
		for (cut = 0; cut < v->n; cut++) {
			r = feed_lines(v->in, v->n, cut, got, sizeof got, &nl);
			snprintf(name, sizeof name, "line %s cut %zu", v->name,
			    cut);
			if (v->nlines < 0) {
				T_EQ_INT(r, -1, name);
				continue;
			}
			T_EQ_INT(r, 0, name);
			T_EQ_INT(nl, v->nlines, name);
			T_OK(memcmp(got, want, strlen(want) + 1) == 0, name);
		}
	}
}

/* The REPLY_LINE_MAX boundary, with the CRLF split at every place. */
static void
test_line_max(void)
{
	static char in[REPLY_LINE_MAX + 8];
	struct linebuf lb;
	size_t cut, n;
	long k, k2;

	memset(in, 'x', sizeof in);
	memcpy(in + REPLY_LINE_MAX, "\r\n", 2);
	n = REPLY_LINE_MAX + 2;
	for (cut = REPLY_LINE_MAX - 1; cut <= n; cut++) {
		memset(&lb, 0, sizeof lb);
		k = line_feed(&lb, in, cut);
		k2 = cut < n ? line_feed(&lb, in + cut, n - cut) : 0;
		if (cut == n)
			T_OK(k == (long)n && lb.ready, "line max exact");
		else
			T_OK(k == (long)cut && k2 == (long)(n - cut) &&
			    lb.ready, "line max split");
		T_EQ_INT(lb.len, REPLY_LINE_MAX, "line max len");
	}
	/* one byte more is an error, however it is split */
	in[REPLY_LINE_MAX] = 'x';
	memcpy(in + REPLY_LINE_MAX + 1, "\r\n", 2);
	n = REPLY_LINE_MAX + 3;
	for (cut = 1; cut < n; cut += 97) {
		memset(&lb, 0, sizeof lb);
		k = line_feed(&lb, in, cut);
		if (k >= 0)
			k = line_feed(&lb, in + cut, n - cut);
		T_EQ_INT(k, -1, "line over max");
	}
	/* a held CR that turns out to be data counts against the limit */
	memset(&lb, 0, sizeof lb);
	memset(in, 'y', sizeof in);
	in[REPLY_LINE_MAX] = '\r';
	k = line_feed(&lb, in, REPLY_LINE_MAX + 1);
	T_EQ_INT(k, REPLY_LINE_MAX + 1, "held cr consumed");
	T_EQ_INT(line_feed(&lb, "z\n", 2), -1, "held cr over max");
	/* nothing is consumed while a line is ready */
	memset(&lb, 0, sizeof lb);
	T_EQ_INT(line_feed(&lb, "a\nb\n", 4), 2, "ready first");
	T_EQ_INT(line_feed(&lb, "b\n", 2), 0, "ready blocks");
	line_next(&lb);
	T_EQ_INT(line_feed(&lb, "b\n", 2), 2, "after next");
	T_EQ_STR(lb.buf, "b", "after next line");
}

/* ---- body_decode ---- */

/* Byte-at-a-time reference: what the decoder must produce. */
static void
ref_decode(const char *in, size_t n, char *out, size_t *outn,
    size_t *consumed, int *done)
{
	size_t i = 0, o = 0;
	int bol = 1;

	*done = 0;
	while (i < n) {
		if (bol && in[i] == '.') {
			if (i + 1 < n && in[i + 1] == '\n') {
				i += 2;
				*done = 1;
				break;
			}
			if (i + 2 < n && in[i + 1] == '\r' &&
			    in[i + 2] == '\n') {
				i += 3;
				*done = 1;
				break;
			}
			i++;
			bol = 0;
			continue;
		}
		if (in[i] == '\r' && i + 1 < n && in[i + 1] == '\n') {
			out[o++] = '\n';
			i += 2;
			bol = 1;
		} else if (in[i] == '\n') {
			out[o++] = '\n';
			i++;
			bol = 1;
		} else {
			out[o++] = in[i++];
			bol = 0;
		}
	}
	*outn = o;
	*consumed = i;
}

/* Decode in[] fed as chunks of the given sizes (cycled); checks the
 * per-call output bound.  Returns 0, or -1 when a call broke a rule. */
static int
chunked(const char *in, size_t n, const size_t *sizes, size_t nsizes,
    char *out, size_t *outn, size_t *consumed, int *done)
{
	static char tmp[1 << 16];
	struct body b;
	size_t off = 0, o = 0, end, k, got, si = 0, guard = 0;
	int st;

	memset(&b, 0, sizeof b);
	body_reset(&b);
	while (off < n && !b.done) {
		end = off + sizes[si++ % nsizes];
		if (end > n)
			end = n;
		while (off < end && !b.done) {
			st = b.st;
			k = body_decode(&b, in + off, end - off, tmp, &got);
			if (got > end - off)
				return -1;	/* produced more than n */
			if (k == 0 && got == 0 && b.st == st)
				return -1;	/* no progress */
			if (++guard > 4 * n + 16)
				return -1;
			memcpy(out + o, tmp, got);
			o += got;
			off += k;
		}
	}
	if (b.bytes != (long long)o)
		return -1;
	*outn = o;
	*consumed = off;
	*done = b.done;
	return 0;
}

struct bvec {
	const char *name;
	const char *in;
	const char *out;
	int done;
	size_t left;		/* bytes after the terminator */
};

static const struct bvec bvecs[] = {
	{ "simple", "a\r\nb\r\n.\r\n", "a\nb\n", 1, 0 },
	{ "empty body", ".\r\n", "", 1, 0 },
	{ "bare lf", "a\nb\n.\n", "a\nb\n", 1, 0 },
	{ "stuffed", "..x\r\n..\r\n.\r\n", ".x\n.\n", 1, 0 },
	{ "dot mid line", "a.b\r\n.\r\n", "a.b\n", 1, 0 },
	{ "lone cr", "a\rb\r\n.\r\n", "a\rb\n", 1, 0 },
	{ "cr cr lf", "a\r\r\n.\r\n", "a\r\n", 1, 0 },
	{ "dot cr x", ".\rX\r\n.\r\n", "\rX\n", 1, 0 },
	{ "dot cr cr lf", ".\r\r\n.\r\n", "\r\n", 1, 0 },
	{ "cr at bol", "\r.\r\n.\r\n", "\r.\n", 1, 0 },
	{ "empty lines", "\r\n\r\n.\r\n", "\n\n", 1, 0 },
	{ "rest kept", "a\r\n.\r\n+OK next\r\n", "a\n", 1, 10 },
	{ "no terminator", "a\r\n.x", "a\nx", 0, 0 },
	{ "dot space", ". \r\n.\r\n", " \n", 1, 0 },
};

static void
test_body_vectors(void)
{
	char out[256], rout[256], name[128];
	size_t i, cut, cut2, n, on, c, ron, rc;
	size_t sizes[3];
	int done, rdone, bad;

	for (i = 0; i < sizeof bvecs / sizeof bvecs[0]; i++) {
		const struct bvec *v = &bvecs[i];

		n = strlen(v->in);
		ref_decode(v->in, n, rout, &ron, &rc, &rdone);
		snprintf(name, sizeof name, "body ref %s", v->name);
		T_OK(ron == strlen(v->out) && memcmp(rout, v->out, ron) == 0 &&
		    rdone == v->done && n - rc == v->left, name);
		/* every two-way and three-way split */
		bad = 0;
		for (cut = 1; cut <= n; cut++)
			for (cut2 = 1; cut2 <= n; cut2++) {
				sizes[0] = cut;
				sizes[1] = cut2;
				sizes[2] = n;
				snprintf(name, sizeof name, "body %s split "
				    "%zu,%zu", v->name, cut, cut2);
				if (chunked(v->in, n, sizes, 3, out, &on, &c,
				    &done) < 0 || on != strlen(v->out) ||
				    memcmp(out, v->out, on) != 0 ||
				    done != v->done ||
				    (v->done && n - c != v->left)) {
					if (bad++ == 0)
						printf("FAIL %s\n", name);
				}
			}
		snprintf(name, sizeof name, "body %s splits", v->name);
		T_EQ_INT(bad, 0, name);
	}
}

static void
test_body_random(void)
{
	static char in[8192], out[8192], rout[8192];
	static const char alpha[] = "..\r\r\n\nab";
	size_t sizes[8], n, i, j, on, c, ron, rc;
	int done, rdone, round, bad = 0;

	srand(12345);
	for (round = 0; round < 3000; round++) {
		n = (size_t)(rand() % 200) + 1;
		if (round % 10 == 0)
			n = (size_t)(rand() % 4000) + 1;
		for (i = 0; i < n; i++)
			in[i] = alpha[rand() % (sizeof alpha - 1)];
		memcpy(in + n, "\r\n.\r\nTAIL", 9);
		n += 9;
		for (j = 0; j < 8; j++)
			sizes[j] = (size_t)(rand() % (j < 4 ? 4 : 64)) + 1;
		ref_decode(in, n, rout, &ron, &rc, &rdone);
		if (chunked(in, n, sizes, 8, out, &on, &c, &done) < 0 ||
		    on != ron || memcmp(out, rout, on) != 0 || c != rc ||
		    done != rdone || !done) {
			if (bad++ < 3)
				printf("FAIL body random round %d\n", round);
		}
	}
	T_EQ_INT(bad, 0, "body random chunkings");
}

/* A long line and a large body in one call: output bound and bytes. */
static void
test_body_long(void)
{
	static char in[100000], out[100000];
	struct body b;
	size_t n, k, on;

	memset(in, 'z', sizeof in);
	n = sizeof in;
	memcpy(in + n - 7, "\r\n.\r\n", 5);
	in[n - 2] = '+';
	in[n - 1] = 'O';
	memset(&b, 0, sizeof b);
	k = body_decode(&b, in, n, out, &on);
	T_EQ_INT(k, n - 2, "long consumed");
	T_EQ_INT(on, n - 7 + 1, "long produced");
	T_OK(b.done && b.bytes == (long long)on, "long done");
	T_EQ_INT(body_decode(&b, in, n, out, &on), 0, "after done");
	T_EQ_INT(on, 0, "after done produces nothing");
	body_reset(&b);
	T_OK(!b.done && b.bytes == 0, "reset");
}

int
main(void)
{
	test_lines();
	test_line_max();
	test_body_vectors();
	test_body_random();
	test_body_long();
	T_DONE();
}
