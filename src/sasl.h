/*
 * sasl.h — pure encoders for authentication, into caller buffers, and the
 * secret source (password, password_file, password_cmd, oauth token).
 * Nothing here touches the network.  Secrets are wiped by the caller with
 * explicit_bzero once sent.
 */
#ifndef SASL_H
#define SASL_H

#include <stddef.h>
#include "tern.h"

struct server;

/* base64 of in[0..n) into out (NUL-terminated); -1 when cap too small. */
long b64_encode(const void *in, size_t n, char *out, size_t cap);
/* decode; -1 on bad input or cap too small; returns bytes written. */
long b64_decode(const char *in, size_t n, void *out, size_t cap);

/* AUTH PLAIN initial response: b64("\0" user "\0" pass). */
long sasl_plain(const char *user, const char *pass, char *out, size_t cap);
/* XOAUTH2: b64("user=" user "\1auth=Bearer " token "\1\1"). */
long sasl_xoauth2(const char *user, const char *token, char *out,
    size_t cap);
/* CRAM-MD5 response to a base64 challenge: b64(user " " hex(hmac-md5)). */
long sasl_cram_md5(const char *user, const char *pass, const char *chal_b64,
    char *out, size_t cap);
/* APOP digest: hex(md5(timestamp pass)) into hex[33]; timestamp is the
 * <...> part of the greeting including the brackets. */
int apop_digest(const char *timestamp, const char *pass, char hex[33]);

/* The password (or, when `token` is set, the OAuth token) of a server:
 * the literal option, the first line of *_file, or the first line of the
 * stdout of *_cmd run through /bin/sh -c (exit status checked, bounded by
 * timeout_s).  Errors: EX_CONFIG (none set / unreadable file), EX_TEMPFAIL
 * (command failed or timed out).  The secret never appears in e->msg. */
int secret_get(const struct server *s, int token, char *out, size_t cap,
    int timeout_s, struct err *e);

#endif
