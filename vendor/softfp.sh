#!/bin/sh
# MIPS soft-float: Debian's mips libgcc is hard-float, and OpenWrt's MIPS
# kernels have no FPU emulator.  Build GCC's own soft-fp routines from
# Debian's gcc-12 source package (hash-pinned) into libsoftfp.a and link it
# ahead of libgcc through the sysroot's musl-gcc specs.
#   vendor/softfp.sh SRCDIR TRIPLE-PREFIX "CFLAGS" SYSROOT BUILDDIR
set -eu
VERSION=12.2.0-14+deb12u1
ORIG=gcc-12_12.2.0.orig.tar.gz
ORIG_SHA256=b8298be16aeeb96a889c6afed0a8e2241b47452e89cc81fe65ea849d5c740fcb
src=${1:?usage}; x=${2:?usage}; cflags=$3; sysroot=${4:?usage}; build=${5:?usage}
here=$(cd "$(dirname "$0")" && pwd)

mkdir -p "$src/dl"
if [ ! -f "$src/softfp/.ok" ]; then
	cd "$src/dl"
	if ! echo "$ORIG_SHA256  $ORIG" | sha256sum -c - >/dev/null 2>&1; then
		sh "$here/debsrc.sh"
		apt-get source --download-only "gcc-12=$VERSION" >/dev/null 2>&1 ||
			apt-get source --download-only "gcc-12=$VERSION"
	fi
	echo "$ORIG_SHA256  $ORIG" | sha256sum -c - >/dev/null || {
		echo "vendor/softfp.sh: $ORIG does not match the pinned sha256" >&2
		exit 1
	}
	rm -rf "$src/softfp.tmp" "$src/softfp"
	mkdir "$src/softfp.tmp"
	tar xzf "$ORIG" --wildcards '*/gcc-*-dfsg.tar.xz' -O |
		tar xJf - -C "$src/softfp.tmp" --strip-components=1 --wildcards \
		'gcc-*/libgcc/soft-fp/*' 'gcc-*/libgcc/config/mips/sfp-machine.h' \
		'gcc-*/include/longlong.h'
	mv "$src/softfp.tmp" "$src/softfp"
	touch "$src/softfp/.ok"
	# the 87 MB tarball is no longer needed
	rm -f "$src/dl/$ORIG" "$src/dl"/gcc-12_*
fi
lg=$src/softfp/libgcc
rm -rf "$build"
mkdir -p "$build"
fns="extendsfdf2 truncdfsf2"
for m in sf df; do
	fns="$fns add${m}3 sub${m}3 mul${m}3 div${m}3 neg${m}2 eq${m}2 ge${m}2"
	fns="$fns le${m}2 unord${m}2"
	for i in si di; do
		fns="$fns fix${m}${i} fixuns${m}${i} float${i}${m} floatun${i}${m}"
	done
done
for f in $fns; do
	s=$lg/soft-fp/$f.c
	[ -f "$s" ] || s=$lg/soft-fp/$(echo "$f" | sed 's/floatun/floatuns/').c
	"$x-gcc" -Os $cflags -ffunction-sections -fno-asynchronous-unwind-tables \
		-I"$lg/soft-fp" -I"$lg/config/mips" -I"$lg/../include" \
		-c -o "$build/$f.o" "$s"
done
"$x-ar" rcs "$sysroot/lib/libsoftfp.a" "$build"/*.o
grep -q libsoftfp.a "$sysroot/lib/musl-gcc.specs" ||
	sed -i "s#^libgcc.a%s#$sysroot/lib/libsoftfp.a libgcc.a%s#" \
		"$sysroot/lib/musl-gcc.specs"
grep -q libsoftfp.a "$sysroot/lib/musl-gcc.specs" || {
	echo "vendor/softfp.sh: libgcc.a not found in musl-gcc.specs" >&2
	exit 1
}
