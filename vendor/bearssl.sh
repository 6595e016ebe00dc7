#!/bin/sh
# Fetch BearSSL from Debian's source package, check its pinned hash and
# unpack it into build/src/. Never commit what this fetches.
#   vendor/bearssl.sh SRCDIR     -> SRCDIR/bearssl (unpacked tree)
set -eu
VERSION=0.6+dfsg.1-3
ORIG=bearssl_0.6+dfsg.1.orig.tar.xz
ORIG_SHA256=102a625bd8f6155260867a50c508df8d8c3f796985dd744df1a68e5cd1a79004
out=${1:?usage: vendor/bearssl.sh SRCDIR}
here=$(cd "$(dirname "$0")" && pwd)

mkdir -p "$out/dl"
cd "$out/dl"
if ! echo "$ORIG_SHA256  $ORIG" | sha256sum -c - >/dev/null 2>&1; then
	sh "$here/debsrc.sh"
	apt-get source --download-only "bearssl=$VERSION" >/dev/null 2>&1 ||
		apt-get source --download-only "bearssl=$VERSION"
fi
echo "$ORIG_SHA256  $ORIG" | sha256sum -c - >/dev/null || {
	echo "vendor/bearssl.sh: $ORIG does not match the pinned sha256" >&2
	exit 1
}
rm -rf "$out/bearssl.tmp" "$out/bearssl"
mkdir "$out/bearssl.tmp"
tar xJf "$ORIG" -C "$out/bearssl.tmp" --strip-components=1
mv "$out/bearssl.tmp" "$out/bearssl"
echo "$VERSION" > "$out/bearssl/VERSION.debian"
