# tern — one static binary for POP3 fetch and SMTP send on small routers.
# make            ./tern (static, musl + BearSSL from Debian's source package)
# make check      everything: deps, the static binary, sanitizer build, tests
# make size       stripped size in bytes
# make deps       Debian packages the build and the tests need (as root)

VERSION    = 0.1.0
TARGET    ?= x86_64
B          = build/$(TARGET)
SRCDIR     = build/src
BSSL_SRC   = $(SRCDIR)/bearssl
BSSL_VER   = 0.6+dfsg.1-3

# Targets: x86_64 uses Debian's musl-gcc; the router targets build musl
# 1.2.3 from Debian's source with Debian's cross gcc (vendor/musl.sh).
# MIPS: the flags OpenWrt uses for ath79/ramips, soft-float.
MIPSF      = -mips32r2 -mtune=24kc -mno-branch-likely -msoft-float
ifeq ($(TARGET),x86_64)
  TRIPLE = x86_64-linux-musl
  CC     = musl-gcc
else
  ifeq ($(TARGET),mipsel)
    X = mipsel-linux-gnu
    TRIPLE = mipsel-linux-musl
    AF = $(MIPSF)
  else ifeq ($(TARGET),mips)
    X = mips-linux-gnu
    TRIPLE = mips-linux-musl
    AF = $(MIPSF)
  else ifeq ($(TARGET),sdk)
    # an OpenWrt SDK (openwrt/Makefile): its compiler, flags and musl
    TRIPLE = $(SDK_TRIPLE)
    AF = $(SDK_CFLAGS)
  else ifeq ($(TARGET),armhf)
    X = arm-linux-gnueabihf
    TRIPLE = arm-linux-musleabihf
  else ifeq ($(TARGET),aarch64)
    X = aarch64-linux-gnu
    TRIPLE = aarch64-linux-musl
  else
    $(error TARGET must be x86_64, mipsel, mips, armhf or aarch64)
  endif
  ifeq ($(TARGET),sdk)
    CC    = $(SDK_CC)
    BAR   = $(SDK_AR)
  else
    SYSROOT = build/sysroot/$(TARGET)
    CC      = $(SYSROOT)/bin/musl-gcc
    CCDEP   = $(SYSROOT)/.ok
    BAR     = $(X)-ar
  endif
endif
BUILD_DATE := $(or $(SOURCE_DATE_EPOCH),$(shell git log -1 --format=%ct \
	2>/dev/null || date +%s))

OPT    = $(AF) -Os -ffunction-sections -fdata-sections \
	 -fno-asynchronous-unwind-tables -fno-unwind-tables
WARN   = -Wall -Wextra -Wshadow -Wformat=2 -Wno-format-nonliteral -Werror
DEFS   = -D_GNU_SOURCE -DTERN_VERSION='"$(VERSION)"' \
	 -DTERN_TARGET='"$(TRIPLE)"' -DBEARSSL_VERSION='"$(BSSL_VER)"' \
	 -DTERN_BUILD_DATE=$(BUILD_DATE)LL
CFLAGS = -std=c11 $(OPT) $(WARN) $(DEFS) -I$(BSSL_SRC)/inc -MMD -MP
LDFLAGS= -static -Wl,--gc-sections -s

SRCS   = $(wildcard src/*.c)
OBJS   = $(SRCS:src/%.c=$(B)/obj/%.o)
BSSL   = $(B)/bearssl/libbearssl.a
BSSL_CFLAGS = $(AF) -W -Wall -Os -ffunction-sections -fdata-sections \
	 -fno-asynchronous-unwind-tables -fno-unwind-tables

# Host test build: glibc gcc with ASan and UBSan, -DTERN_TEST hooks.
T       = build/test
TCC     = gcc
TCFLAGS = -std=c11 -g -O1 -fsanitize=address,undefined \
	  -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
	  $(WARN) $(DEFS) -DTERN_TEST -I$(BSSL_SRC)/inc -Isrc -MMD -MP
TOBJS   = $(SRCS:src/%.c=$(T)/obj/%.o)
TLIBOBJS= $(filter-out $(T)/obj/main.o,$(TOBJS))
TBSSL   = $(T)/bearssl/libbearssl.a
UNITS   = $(patsubst tests/unit/%.c,$(T)/%,$(wildcard tests/unit/t_*.c))

ifeq ($(TARGET),x86_64)
all: tern
else
all: $(B)/tern
endif

tern: $(B)/tern
	cp $(B)/tern tern

$(B)/tern: $(OBJS) $(BSSL)
	$(CC) $(CFLAGS) -o $@.tmp $(OBJS) $(BSSL) $(LDFLAGS)
ifneq ($(filter mips mipsel,$(TARGET)),)
	@n=$$($(X)-objdump -d $@.tmp | grep -cE \
	    '\s(lwc1|swc1|ldc1|sdc1|mtc1|mfc1|cfc1|ctc1|mthc1|mfhc1|add\.[sd]|sub\.[sd]|mul\.[sd]|div\.[sd]|cvt\.)\s'); \
	if [ "$$n" != 0 ]; then \
		echo "$@: $$n FPU instructions in a soft-float build" >&2; \
		rm -f $@.tmp; exit 1; fi
endif
	mv $@.tmp $@

$(SYSROOT)/.ok: vendor/musl.sh vendor/softfp.sh | build/.deps
	sh vendor/musl.sh $(abspath $(SRCDIR)) $(X) '$(AF)' \
		$(abspath $(SYSROOT)) $(abspath build/musl-$(TARGET))
	$(if $(AF),sh vendor/softfp.sh $(abspath $(SRCDIR)) $(X) '$(AF)' \
		$(abspath $(SYSROOT)) $(abspath build/softfp-$(TARGET)))
	touch $@

$(B)/obj/%.o: src/%.c | $(BSSL_SRC)/.ok $(CCDEP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

build/.deps:
	sh vendor/deps.sh
	@mkdir -p build && touch $@

$(BSSL_SRC)/.ok: vendor/bearssl.sh | build/.deps
	sh vendor/bearssl.sh $(abspath $(SRCDIR))
	touch $@

$(BSSL): $(BSSL_SRC)/.ok $(CCDEP)
	$(MAKE) -s -C $(BSSL_SRC) CONF=Unix DLL=no TOOLS=no TESTS=no \
		BUILD=$(abspath $(B)/bearssl) CC=$(if $(SYSROOT),$(abspath $(CC)),$(CC)) \
		$(if $(BAR),AR=$(BAR)) \
		CFLAGS='$(BSSL_CFLAGS)' lib

$(TBSSL): $(BSSL_SRC)/.ok
	$(MAKE) -s -C $(BSSL_SRC) CONF=Unix DLL=no TOOLS=no TESTS=no \
		BUILD=$(abspath $(T)/bearssl) CC=$(TCC) \
		CFLAGS='-W -Wall -O2 -g' lib

$(T)/obj/%.o: src/%.c | $(BSSL_SRC)/.ok
	@mkdir -p $(@D)
	$(TCC) $(TCFLAGS) -c -o $@ $<

$(T)/tern: $(TOBJS) $(TBSSL)
	$(TCC) $(TCFLAGS) -o $@ $(TOBJS) $(TBSSL)

$(T)/t_%: tests/unit/t_%.c tests/unit/t.h $(TLIBOBJS) $(TBSSL)
	$(TCC) $(TCFLAGS) -o $@ $< $(TLIBOBJS) $(TBSSL)

deps:
	sh vendor/deps.sh
	@mkdir -p build && touch build/.deps

check: build/.deps tern $(T)/tern $(UNITS)
	@sh tests/run.sh

size: all
	@echo "$(TRIPLE) $$(stat -c %s $(B)/tern) bytes (stripped, static)"

clean:
	rm -rf build/x86_64 build/test tern

distclean:
	rm -rf build tern

.PHONY: all deps check size clean distclean
-include $(OBJS:.o=.d) $(TOBJS:.o=.d)
