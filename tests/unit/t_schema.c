/*
 * t_schema.c — tern(5) against the schema table: every key of conf_keys[]
 * is documented exactly once, under its section (.SS "config SECTION"),
 * with a tag line that repeats the table's type and default, and a
 * description after it; tern(5) documents no key the table lacks; every
 * type the table uses is explained under .SH VALUES.
 *
 * The tag line of a key, as tern(5) must write it:
 *	\fBKEY\fR \fITYPE\fR, default DEFAULT
 * where DEFAULT is "none" for an empty default, the default as it is for
 * a derived one (in parentheses), else \fBDEFAULT\fR; '-' is written \-.
 * Run from the top of the tree (tests/run.sh does).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "t.h"

#define PAGE		"doc/tern.5"
#define PAGE_MAX	(128 * 1024)
#define LINES_MAX	4096
#define KEYS_MAX	128
#define TAG_MAX		512

static char page[PAGE_MAX];
static char *line[LINES_MAX];
static int nline;
static int seen[KEYS_MAX];
static int good[KEYS_MAX];

/* roff escape of a literal: '-' as \-, '\' as \e */
static void
esc(char *out, size_t cap, const char *s)
{
	size_t n = 0;

	for (; *s != '\0' && n + 3 < cap; s++) {
		if (*s == '-' || *s == '\\') {
			out[n++] = '\\';
			out[n++] = *s == '-' ? '-' : 'e';
		} else
			out[n++] = *s;
	}
	out[n] = '\0';
}

static void
want_tag(char *out, size_t cap, const struct conf_key_info *k)
{
	char d[TAG_MAX / 2];

	esc(d, sizeof d, k->def);
	if (k->def[0] == '\0')
		snprintf(out, cap, "\\fB%s\\fR \\fI%s\\fR, default none",
		    k->key, k->type);
	else if (k->def[0] == '(')
		snprintf(out, cap, "\\fB%s\\fR \\fI%s\\fR, default %s",
		    k->key, k->type, d);
	else
		snprintf(out, cap, "\\fB%s\\fR \\fI%s\\fR, default \\fB%s\\fR",
		    k->key, k->type, d);
}

static int
load_page(void)
{
	FILE *f;
	size_t n;
	char *p;

	if ((f = fopen(PAGE, "r")) == NULL)
		return -1;
	n = fread(page, 1, sizeof page - 1, f);
	fclose(f);
	if (n == sizeof page - 1)
		return -1;
	page[n] = '\0';
	for (p = page; *p != '\0' && nline < LINES_MAX; ) {
		line[nline++] = p;
		if ((p = strchr(p, '\n')) == NULL)
			break;
		*p++ = '\0';
	}
	return 0;
}

/* The section a .SS line opens: "tern" for .SS "config tern", else "". */
static const char *
section_of(const char *ss)
{
	static char sec[32];
	const char *p = ss + 4;

	sec[0] = '\0';
	if (strncmp(p, "\"config ", 8) == 0) {
		p += 8;
		snprintf(sec, sizeof sec, "%.*s", (int)strcspn(p, "\""), p);
	}
	return sec;
}

static int
is_heading(const char *l)
{
	return strncmp(l, ".SH", 3) == 0 || strncmp(l, ".SS", 3) == 0 ||
	    strcmp(l, ".TP") == 0;
}

int
main(void)
{
	const struct conf_key_info *k;
	char sec[32] = "", tag[TAG_MAX], name[96], unknown[256] = "";
	int i, j, nkeys, in_values, types_ok = 1;

	for (nkeys = 0; conf_keys[nkeys].key != NULL; nkeys++)
		;
	T_OK(nkeys > 0 && nkeys <= KEYS_MAX, "schema-keys-counted");
	if (nkeys > KEYS_MAX)
		nkeys = KEYS_MAX;
	if (load_page() < 0) {
		printf("FAIL tern5-readable: cannot read %s (run from the top "
		    "of the tree)\n", PAGE);
		return 1;
	}
	printf("PASS tern5-readable\n");

	for (i = 0; i < nline; i++) {
		const char *l = line[i];
		size_t n;

		if (strncmp(l, ".SH", 3) == 0) {
			sec[0] = '\0';
			continue;
		}
		if (strncmp(l, ".SS", 3) == 0) {
			snprintf(sec, sizeof sec, "%s", section_of(l));
			continue;
		}
		if (sec[0] == '\0' || strcmp(l, ".TP") != 0 || i + 1 >= nline ||
		    strncmp(line[i + 1], "\\fB", 3) != 0)
			continue;
		l = line[++i];
		n = strcspn(l + 3, "\\");
		snprintf(name, sizeof name, "%.*s", (int)n, l + 3);
		for (j = 0; j < nkeys; j++)
			if (strcmp(conf_keys[j].section, sec) == 0 &&
			    strcmp(conf_keys[j].key, name) == 0)
				break;
		if (j == nkeys) {
			n = strlen(unknown);
			snprintf(unknown + n, sizeof unknown - n, " %s.%s",
			    sec, name);
			continue;
		}
		seen[j]++;
		want_tag(tag, sizeof tag, &conf_keys[j]);
		if (strcmp(l, tag) != 0)
			printf("# %s.%s: tag [%s], want [%s]\n", sec, name, l,
			    tag);
		else if (i + 1 >= nline || is_heading(line[i + 1]) ||
		    line[i + 1][0] == '\0')
			printf("# %s.%s: no description\n", sec, name);
		else
			good[j] = 1;
	}
	T_EQ_STR(unknown, "", "tern5-no-unknown-keys");

	for (j = 0; j < nkeys; j++) {
		k = &conf_keys[j];
		snprintf(name, sizeof name, "tern5-%s.%s", k->section, k->key);
		if (seen[j] != 1) {
			printf("FAIL %s: documented %d times, want once\n",
			    name, seen[j]);
			t_failed++;
		} else
			T_OK(good[j], name);
	}

	/* every type name appears as ".B TYPE" under .SH VALUES */
	for (j = 0; j < nkeys; j++) {
		int found = 0;

		in_values = 0;
		for (i = 0; i < nline && !found; i++) {
			if (strncmp(line[i], ".SH", 3) == 0)
				in_values = strcmp(line[i], ".SH VALUES") == 0;
			else if (in_values && strncmp(line[i], ".B ", 3) == 0 &&
			    strcmp(line[i] + 3, conf_keys[j].type) == 0)
				found = 1;
		}
		if (!found) {
			printf("# type '%s' is not explained under VALUES\n",
			    conf_keys[j].type);
			types_ok = 0;
		}
	}
	T_OK(types_ok, "tern5-types-explained");
	T_DONE();
}
