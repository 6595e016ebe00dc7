/*
 * t_fmt.c — fmt.c's formatter against the C library's, format by format.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fmt.h"
#include "t.h"

static void
cmp(const char *name, const char *f, ...)
{
	char want[256], got[256], small[5];
	va_list ap, aq, ar, as;
	int rw, rg, rs;

	va_start(ap, f);
	va_copy(aq, ap);
	va_copy(ar, ap);
	va_copy(as, ap);
	rw = vsnprintf(want, sizeof want, f, ap);
	rg = fmt_vsnprintf(got, sizeof got, f, aq);
	rs = fmt_vsnprintf(small, sizeof small, f, ar);
	va_end(ap);
	va_end(aq);
	va_end(ar);
	va_end(as);
	if (rw == rg && strcmp(want, got) == 0 && rs == rw &&
	    strncmp(small, want, sizeof small - 1) == 0 &&
	    strlen(small) == (rw < 4 ? (size_t)rw : 4))
		printf("PASS %s\n", name);
	else {
		printf("FAIL %s: [%s] %d, want [%s] %d (small [%s] %d)\n",
		    name, got, rg, want, rw, small, rs);
		t_failed++;
	}
}

int
main(void)
{
	cmp("plain", "hello, world");
	cmp("percent", "100%% sure");
	cmp("d", "%d %d %d", 0, -1, 2147483647);
	cmp("d min", "%d", (int)-2147483647 - 1);
	cmp("i", "%i", 42);
	cmp("u", "%u", 4294967295u);
	cmp("ld", "%ld %lu", -123456789L, 123456789UL);
	cmp("lld", "%lld %llu", -9223372036854775807LL - 1,
	    18446744073709551615ULL);
	cmp("zu", "%zu %zd", (size_t)12345, (ptrdiff_t)-5);
	cmp("jd", "%jd", (intmax_t)-77);
	cmp("x", "%x %X %#x %#X %#x", 255u, 255u, 255u, 255u, 0u);
	cmp("o", "%o", 8u);
	cmp("02x", "%02x:%02X", 5u, 0xabu);
	cmp("width", "[%5d] [%-5d] [%05d] [%+d] [% d]", 42, 42, 42, 42, 42);
	cmp("neg zero pad", "[%06d]", -42);
	cmp("prec", "[%.3d] [%8.3d] [%-8.3d] [%.0d]", 7, 7, 7, 0);
	cmp("star", "[%*d] [%-*d] [%*d]", 6, 1, 6, 1, -6, 1);
	cmp("s", "[%s] [%10s] [%-10s] [%.2s] [%.*s]", "abc", "abc", "abc",
	    "abc", 1, "xyz");
	cmp("s empty", "[%s]", "");
	cmp("c", "[%c%c] [%3c] [%-3c]", 'o', 'k', 'x', 'y');
	cmp("mix", "%s:%d: %s: %s", "/etc/config/tern", 7, "pop3_port",
	    "not a port number (1-65535): '99999'");
	cmp("long", "%s%s%s%s", "0123456789012345678901234567890123456789",
	    "0123456789012345678901234567890123456789",
	    "0123456789012345678901234567890123456789",
	    "0123456789012345678901234567890123456789");
	cmp("hh h", "%hhu %hd", 300 & 0xff, (short)-3);
	T_DONE();
}
