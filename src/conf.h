/*
 * conf.h — the configuration of SPEC §2: a UCI-syntax file read into fixed
 * structures (no allocation).  conf.c owns the tokenizer and the schema
 * table (section, key, type, offset, default, check); every key of SPEC §2
 * is in that table.  Any error — unknown section type or key, bad value,
 * duplicate account, an account without a server — fails the whole load
 * with EX_CONFIG and the message "FILE:LINE: key: what is wrong".
 */
#ifndef CONF_H
#define CONF_H

#include "tern.h"

enum tls_mode { TLS_IMPLICIT, TLS_STARTTLS, TLS_NONE };

enum auth_mech {
	AUTH_AUTO, AUTH_USER, AUTH_APOP, AUTH_PLAIN, AUTH_LOGIN,
	AUTH_CRAM_MD5, AUTH_XOAUTH2
};

struct conf_main {
	int line;			/* line of `config tern`, 0 if absent */
	char log[CONF_STR_MAX];		/* '' = no log file */
	long long log_max_size;		/* bytes */
	int syslog;
	char state_dir[CONF_STR_MAX];
	char spool_dir[CONF_STR_MAX];
	char ca_file[CONF_STR_MAX];
	int timeout;			/* seconds */
	int deadline;			/* seconds */
	int parallel;
	long long queue_lifetime;	/* seconds */
};

/* Credentials and server settings of one service (pop3 or smtp).  For
 * smtp, conf_load copies unset credential fields from the account's pop3
 * ones (SPEC: smtp_user defaults to user, likewise smtp_password…). */
struct server {
	char host[CONF_STR_MAX];	/* '' = service not configured */
	int port;			/* resolved: 995/110, 465/587/25 */
	int tls;			/* enum tls_mode */
	char user[CONF_STR_MAX];	/* resolved: user, else email */
	char password[CONF_STR_MAX];
	char password_file[CONF_STR_MAX];
	char password_cmd[CONF_STR_MAX];
	int auth;			/* enum auth_mech */
	char oauth_token_cmd[CONF_STR_MAX];
	char oauth_token_file[CONF_STR_MAX];
};

struct account {
	char name[CONF_NAME_MAX];
	int line;			/* line of its `config account` */
	int enabled;
	char email[CONF_STR_MAX];
	struct server pop3;
	struct server smtp;
	int keep;
	int delete_after_days;
	int recent;
	int max_messages;
	long long max_size;		/* bytes, 0 = no limit */
	char maildir[CONF_STR_MAX];
	char mda[CONF_STR_MAX];
	char from[CONF_STR_MAX];	/* resolved: from, else email */
	unsigned char pin[CONF_PINS_MAX][32];	/* SHA-256 of server certs */
	int npin;
	char tls_ca_file[CONF_STR_MAX];	/* resolved: else main.ca_file */
	int max_auth_failures;
	int max_conn_failures;
	int retries;
	int allow_plaintext_auth;
};

struct filter {
	int line;
	char account[CONF_NAME_MAX];	/* '' = every account */
	char header[CONF_STR_MAX];
	char contains[CONF_STR_MAX];
	char folder[CONF_STR_MAX];
};

struct conf {
	char path[CONF_STR_MAX];
	struct conf_main main;
	struct account acct[CONF_ACCOUNTS_MAX];
	int nacct;
	struct filter filter[CONF_FILTERS_MAX];
	int nfilter;
};

/* Read and check `path` into c (which it clears first).  0, or -1 with
 * e->ex = EX_CONFIG ("FILE:LINE: key: what") or, when the file cannot be
 * read, EX_CONFIG with the path and strerror. */
int conf_load(struct conf *c, const char *path, struct err *e);

/* The account named `name`, or NULL. */
struct account *conf_account(struct conf *c, const char *name);

/* Pure parsers, exported for tests and for other modules. */
int conf_parse_size(const char *s, long long *out);	/* 256k, 1M, 12 */
int conf_parse_duration(const char *s, long long *out);	/* 60, 5m, 3h, 5d, 1w */
int conf_parse_bool(const char *s, int *out);	/* 0/1/yes/no/on/off/true/false */

/* The schema, for tern(5) and its test: key names per section type. */
struct conf_key_info {
	const char *section;		/* "tern", "account", "filter" */
	const char *key;
	const char *type;		/* "string", "bool", "size", … */
	const char *def;		/* default, as the user writes it */
};
extern const struct conf_key_info conf_keys[];	/* ends with key == NULL */

const char *conf_tls_name(int tls);
const char *conf_auth_name(int auth);

#endif
