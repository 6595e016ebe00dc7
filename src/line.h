/*
 * line.h — bounded reply lines and streamed message bodies.
 *
 * linebuf assembles one CRLF- (or LF-) terminated reply line across reads;
 * a line longer than REPLY_LINE_MAX is a protocol error, never truncated.
 * body decodes a POP3/SMTP multi-line data block as it streams: removes
 * the dot-stuffing, turns CRLF into LF, and finds the terminating
 * "CRLF.CRLF", with its state kept across reads and TLS records, so memory
 * does not depend on message size or line length.
 *
 * Both are plain structures: zero them (or call line_next / body_reset)
 * before first use.  Neither allocates.
 */
#ifndef LINE_H
#define LINE_H

#include <stddef.h>
#include "tern.h"

struct linebuf {
	char buf[REPLY_LINE_MAX + 1];	/* the line, NUL-terminated, no EOL */
	size_t len;
	int ready;			/* a complete line is in buf */
	int cr;				/* a CR ended the last read */
};

/* Consume bytes from in[0..n) until a line is complete.  Returns the count
 * consumed (≥ 0), or -1 when the line exceeds REPLY_LINE_MAX (EOL not
 * counted) or holds a NUL.  The line ends at LF; one CR just before the
 * LF is dropped, any other CR is kept as data.  When lb->ready is set, buf
 * holds the line; call line_next() before feeding more (line_feed consumes
 * nothing while a line is ready). */
long line_feed(struct linebuf *lb, const char *in, size_t n);
void line_next(struct linebuf *lb);

struct body {
	int st;				/* decoder state (start of line, …) */
	int done;			/* terminator seen */
	long long bytes;		/* decoded bytes produced */
};

/* Decode in[0..n) into out (cap ≥ n); sets *outn to bytes produced and
 * returns bytes consumed.  It stops right after the terminator (a line
 * that is "." alone, with CRLF or a bare LF; the rest of in[] belongs to
 * the next reply) and then b->done is set.  A line starting with "." loses
 * that dot; CRLF and a bare LF both become LF; a CR not followed by LF is
 * data.  *outn never exceeds n: when a CR held back at the end of the
 * previous read turns out to be data, the call may stop one byte short (or
 * consume nothing, producing only that CR), so call it in a loop until
 * all of in[] is consumed or b->done is set; every call makes progress. */
size_t body_decode(struct body *b, const char *in, size_t n, char *out,
    size_t *outn);
void body_reset(struct body *b);

#endif
