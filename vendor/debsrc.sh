#!/bin/sh
# Make sure apt knows a deb-src entry: mirror the machine's own Debian entry
# (same URIs, suites and key) when there is none, then refresh the lists.
set -eu
if grep -Eqs '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list \
	/etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; then
	apt-cache showsrc bearssl 2>/dev/null | grep -q '^Version:' && exit 0
else
	src=/etc/apt/sources.list.d/debian.sources
	if [ -f "$src" ]; then
		sed 's/^Types: deb$/Types: deb-src/' "$src" \
			> /etc/apt/sources.list.d/tern-deb-src.sources
	elif [ -f /etc/apt/sources.list ]; then
		sed -n 's/^deb /deb-src /p' /etc/apt/sources.list \
			> /etc/apt/sources.list.d/tern-deb-src.list
	else
		echo "vendor/debsrc.sh: no Debian apt source to mirror" >&2
		exit 1
	fi
fi
apt-get update -q >/dev/null
