#!/bin/sh
# Build musl 1.2.3 from Debian's source package with Debian's cross gcc,
# into a per-target sysroot with a musl-gcc wrapper.  Hash-pinned; never
# commit what this fetches.
#   vendor/musl.sh SRCDIR TRIPLE-PREFIX "CFLAGS" SYSROOT BUILDDIR
# SRCDIR/dl holds the download, SRCDIR/musl the unpacked source (shared by
# every target); SYSROOT gets include/, lib/ (libc.a, crt*.o) and
# bin/musl-gcc, a wrapper around TRIPLE-PREFIX-gcc with a specs file.
set -eu
VERSION=1.2.3-1
ORIG=musl_1.2.3.orig.tar.gz
ORIG_SHA256=7d5b0b6062521e4627e099e4c9dc8248d32a30285e959b7eecaa780cf8cfd4a4
src=${1:?usage}; x=${2:?usage}; cflags=$3; sysroot=${4:?usage}; build=${5:?usage}
here=$(cd "$(dirname "$0")" && pwd)

mkdir -p "$src/dl"
if [ ! -f "$src/musl/.ok" ]; then
	cd "$src/dl"
	if ! echo "$ORIG_SHA256  $ORIG" | sha256sum -c - >/dev/null 2>&1; then
		sh "$here/debsrc.sh"
		apt-get source --download-only "musl=$VERSION" >/dev/null 2>&1 ||
			apt-get source --download-only "musl=$VERSION"
	fi
	echo "$ORIG_SHA256  $ORIG" | sha256sum -c - >/dev/null || {
		echo "vendor/musl.sh: $ORIG does not match the pinned sha256" >&2
		exit 1
	}
	rm -rf "$src/musl.tmp" "$src/musl"
	mkdir "$src/musl.tmp"
	tar xzf "$ORIG" -C "$src/musl.tmp" --strip-components=1
	mv "$src/musl.tmp" "$src/musl"
	touch "$src/musl/.ok"
fi
rm -rf "$build" "$sysroot"
mkdir -p "$build"
cd "$build"
# the whole output goes to a log (musl's own warnings with gcc 12 are
# known and harmless); its end is shown when the build fails.  musl's make
# must not see our make's command-line variables (TARGET=...).
unset MAKEFLAGS MFLAGS MAKELEVEL
jobs=$(nproc 2>/dev/null || echo 2)
if ! { "$src/musl/configure" --target="$x" --prefix="$sysroot" \
	--disable-shared --enable-wrapper=gcc CROSS_COMPILE="$x-" \
	CC="$x-gcc" CFLAGS="$cflags" && make -j"$jobs" && make install; } \
	> "$build/build.log" 2>&1; then
	tail -20 "$build/build.log" >&2
	echo "vendor/musl.sh: musl build for $x failed: $build/build.log" >&2
	exit 1
fi
# musl uses init_array: crtbegin/crtend are not needed (and are hard-float
# objects on mips)
sed -i -e 's# crtbeginS.o%s##' -e 's#^crtendS.o%s ##' \
	-e 's# crtbegin.o%s##' -e 's#^crtend.o%s ##' "$sysroot/lib/musl-gcc.specs"
