# tern — one static binary for POP3 fetch and SMTP send on small routers.
# make            ./tern (static, musl + BearSSL from Debian's source package)
# make check      everything: deps, the static binary, sanitizer build, tests
# make demo       send a message to a local Exim, fetch it from a local Dovecot
# make size       stripped size of every target, in bytes
# make cross      build/TARGET/tern for mipsel mips armhf aarch64
# make check-cross  those under qemu-user (part of make check)
# make install    PREFIX=/usr/local DESTDIR=: binary, sendmail link, man
# make deps       Debian packages the build and the tests need (as root)

VERSION    = 0.1.0
TARGET    ?= x86_64
B          = build/$(TARGET)
SRCDIR     = build/src
BSSL_SRC   = $(SRCDIR)/bearssl
BSSL_VER   = 0.6+dfsg.1-3

# Targets: x86_64 uses Debian's musl-gcc; the router targets build musl
# 1.2.3 from Debian's source with Debian's cross gcc (vendor/musl.sh) into
# build/sysroot/TARGET, reused between builds (rebuilt when the compiler
# flags below change).  AF: code generation flags for musl, BearSSL and
# tern; XLDFLAGS: link flags.  All targets: -fno-pie, since the binary is
# a static ET_EXEC anyway and PIE code is 1-3 % larger.
# MIPS: the flags OpenWrt uses for ath79/ramips/lantiq (24Kc; the 74Kc and
# 1004Kc run the same code), soft-float, with GCC's soft-fp routines in
# place of Debian's hard-float libgcc (vendor/softfp.sh); -mplt: non-PIC
# calls in an executable, as OpenWrt's own MIPS toolchain does (-8 %).
# aarch64: 4 KB pages as OpenWrt's arm64 kernels use, not the 64 KB
# segment alignment that pads the file.  armhf: Debian's ARMv7 + VFP
# hard-float; CPUs without VFP (bcm53xx Cortex-A9) are not covered.
MIPSF      = -mips32r2 -mtune=24kc -mno-branch-likely -msoft-float \
	     -fno-pie -mplt
# CF: flags for tern and BearSSL only.  On MIPS, MIPS16e code as OpenWrt
# builds its packages (CONFIG_USE_MIPS16): -20 % size; musl stays MIPS32.
MIPS16     = -mips16 -minterlink-mips16
CROSS_TARGETS = mipsel mips armhf aarch64
TARGETS    = x86_64 $(CROSS_TARGETS)
XLDFLAGS   = -Wl,-z,noseparate-code -Wl,-z,norelro -Wl,--build-id=none
ifeq ($(TARGET),x86_64)
  TRIPLE = x86_64-linux-musl
  CC     = musl-gcc
  AF     = -fno-pie
  XSTRIP = strip
  # tern's own switches as compare chains: -450 bytes, the last that
  # x86_64 (an OpenWrt target too: x86/64) needed to stay in the budget
  TF     = -fno-jump-tables
else
  ifeq ($(TARGET),mipsel)
    X = mipsel-linux-gnu
    TRIPLE = mipsel-linux-musl
    AF = $(MIPSF)
    CF = $(MIPS16)
  else ifeq ($(TARGET),mips)
    X = mips-linux-gnu
    TRIPLE = mips-linux-musl
    AF = $(MIPSF)
    CF = $(MIPS16)
  else ifeq ($(TARGET),sdk)
    # an OpenWrt SDK (openwrt/Makefile): its compiler, flags and musl
    TRIPLE = $(SDK_TRIPLE)
    AF = $(SDK_CFLAGS)
    XLDFLAGS =
  else ifeq ($(TARGET),armhf)
    X = arm-linux-gnueabihf
    TRIPLE = arm-linux-musleabihf
    AF = -fno-pie
  else ifeq ($(TARGET),aarch64)
    X = aarch64-linux-gnu
    TRIPLE = aarch64-linux-musl
    AF = -fno-pie
    XLDFLAGS += -Wl,-z,max-page-size=4096
  else
    $(error TARGET must be x86_64, mipsel, mips, armhf or aarch64)
  endif
  ifeq ($(TARGET),sdk)
    CC    = $(SDK_CC)
    BAR   = $(SDK_AR)
  else
    XSTRIP  = $(X)-strip
    SYSROOT = build/sysroot/$(TARGET)
    CC      = $(SYSROOT)/bin/musl-gcc
    CCDEP   = $(SYSROOT)/.ok
    BAR     = $(X)-ar
  endif
endif
BUILD_DATE := $(or $(SOURCE_DATE_EPOCH),$(shell git log -1 --format=%ct \
	2>/dev/null || date +%s))

OPT    = $(AF) $(CF) $(TF) -Os -ffunction-sections -fdata-sections \
	 -fno-asynchronous-unwind-tables -fno-unwind-tables
WARN   = -Wall -Wextra -Wshadow -Wformat=2 -Wno-format-nonliteral -Werror
DEFS   = -D_GNU_SOURCE -DTERN_VERSION='"$(VERSION)"' \
	 -DTERN_TARGET='"$(TRIPLE)"' -DBEARSSL_VERSION='"$(BSSL_VER)"' \
	 -DTERN_BUILD_DATE=$(BUILD_DATE)LL
CFLAGS = -std=c11 $(OPT) $(WARN) $(DEFS) -I$(BSSL_SRC)/inc -MMD -MP
LDFLAGS= -static -Wl,--gc-sections -s $(XLDFLAGS)

SRCS   = $(wildcard src/*.c)
OBJS   = $(SRCS:src/%.c=$(B)/obj/%.o)
BSSL   = $(B)/bearssl/libbearssl.a
BSSL_CFLAGS = $(AF) $(CF) -W -Wall -Os -ffunction-sections -fdata-sections \
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
ifneq ($(filter mips mipsel,$(TARGET)),)
	@# checked before stripping: objdump needs the symbols to tell
	@# MIPS16e functions from MIPS32 ones
	$(CC) $(CFLAGS) -o $@.tmp $(OBJS) $(BSSL) $(filter-out -s,$(LDFLAGS))
	@n=$$(sh tests/cross/fpu.sh $(X)-objdump $@.tmp) || { \
		echo "$@: $$n FPU instructions in a soft-float build" >&2; \
		rm -f $@.tmp; exit 1; }
	cp $@.tmp $@.unstripped
	$(X)-strip $@.tmp
else
	$(CC) $(CFLAGS) -o $@.tmp $(OBJS) $(BSSL) $(LDFLAGS)
endif
	@# the compilers' version strings: 200 bytes of nothing
	$(if $(XSTRIP),$(XSTRIP) -R .comment $@.tmp)
	mv $@.tmp $@

# The code generation flags musl, BearSSL and the objects were built with;
# when they change, BearSSL and the objects are rebuilt, and so is the
# sysroot of a cross target.
$(B)/.flags: FORCE
	@mkdir -p $(@D); f='$(X) $(CC) $(AF) $(CF) $(TF)'; \
	if [ "$$(cat $@ 2>/dev/null)" != "$$f" ]; then \
		rm -rf $(B)/bearssl $(B)/obj; echo "$$f" > $@; fi
$(OBJS) $(BSSL): $(B)/.flags

$(SYSROOT)/.ok: vendor/musl.sh vendor/softfp.sh $(B)/.flags | build/.deps
	sh vendor/musl.sh $(abspath $(SRCDIR)) $(X) '$(AF)' \
		$(abspath $(SYSROOT)) $(abspath build/musl-$(TARGET))
	$(if $(filter mips mipsel,$(TARGET)),sh vendor/softfp.sh \
		$(abspath $(SRCDIR)) $(X) '$(AF)' \
		$(abspath $(SYSROOT)) $(abspath build/softfp-$(TARGET)))
	touch $@

# musl (MIPS32) tail-calls free with a jump that cannot switch ISA
$(B)/obj/alloc.o: CF =

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

check: build/.deps tern $(T)/tern $(UNITS) cross
	@sh tests/run.sh

# Send a message through a private Exim and fetch it back from a private
# Dovecot, on 127.0.0.1 (tests/demo.sh; as root).  What tern wrote stays
# in demo/; the servers are stopped at the end.
demo: build/.deps tern
	@sh tests/demo.sh

# The router builds, and their tests under qemu-user (tests/cross/).
cross: build/.deps $(BSSL_SRC)/.ok
	@for t in $(CROSS_TARGETS); do \
		$(MAKE) --no-print-directory TARGET=$$t all || exit 1; done

check-cross: cross
	@sh tests/run.sh cross

# Every target, built (the build's output in build/TARGET.log), one line
# each: "TARGET TRIPLE N bytes".  Fails when a build fails or a binary is
# over the budget of 250 KB.
SIZE_BUDGET = 256000
size: build/.deps $(BSSL_SRC)/.ok
	@rc=0; for t in $(TARGETS); do \
		if ! $(MAKE) --no-print-directory TARGET=$$t all \
		    > build/$$t.log 2>&1; then \
			tail -20 build/$$t.log; rc=1; \
			echo "$$t: build failed (build/$$t.log)" >&2; continue; \
		fi; \
		l=$$($(MAKE) -s --no-print-directory TARGET=$$t size-line); \
		echo "$$l"; set -- $$l; \
		if [ "$$3" -ge $(SIZE_BUDGET) ]; then rc=1; \
			echo "$$t: over the budget of $(SIZE_BUDGET) bytes" >&2; \
		fi; done; exit $$rc

size-line:
	@echo "$(TARGET) $(TRIPLE) $$(stat -c %s $(B)/tern) bytes"

# make install [PREFIX=/usr/local] [DESTDIR=]: the binary of TARGET, the
# sendmail link and the manual pages.
PREFIX  = /usr/local
BINDIR  = $(PREFIX)/bin
SBINDIR = $(PREFIX)/sbin
MANDIR  = $(PREFIX)/share/man
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5
	install -m 755 $(B)/tern $(DESTDIR)$(BINDIR)/tern
	ln -sf $$(realpath -m --relative-to=$(SBINDIR) $(BINDIR))/tern \
		$(DESTDIR)$(SBINDIR)/sendmail
	install -m 644 doc/tern.1 $(DESTDIR)$(MANDIR)/man1/tern.1
	install -m 644 doc/tern.5 $(DESTDIR)$(MANDIR)/man5/tern.5

clean:
	rm -rf build/x86_64 build/test tern

distclean:
	rm -rf build tern

.PHONY: all deps check demo size size-line cross check-cross install \
	clean distclean FORCE
-include $(OBJS:.o=.d) $(TOBJS:.o=.d)
