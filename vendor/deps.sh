#!/bin/sh
# Install the Debian packages that the build and the tests need.
# Idempotent and non-interactive; does nothing when all are present.
set -eu
PKGS="gcc make libc6-dev binutils file musl-tools musl-dev dpkg-dev xz-utils
	ca-certificates openssl dovecot-core dovecot-pop3d procps psmisc
	exim4-daemon-light python3
	gcc-mipsel-linux-gnu gcc-mips-linux-gnu gcc-arm-linux-gnueabihf
	gcc-aarch64-linux-gnu binutils-mipsel-linux-gnu binutils-mips-linux-gnu
	binutils-arm-linux-gnueabihf binutils-aarch64-linux-gnu
	qemu-user-static busybox groff-base"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
		grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
if [ "$(id -u)" != 0 ]; then
	echo "deps: run 'make deps' as root to install:$missing" >&2
	exit 1
fi
# Debian would start the system's own dovecot; tests run their own.
rcd=/usr/sbin/policy-rc.d made=""
if [ ! -e $rcd ]; then
	printf '#!/bin/sh\nexit 101\n' > $rcd && chmod 755 $rcd && made=1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends $missing >/dev/null
[ -n "$made" ] && rm -f $rcd
exit 0
