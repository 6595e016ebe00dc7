#!/bin/sh
# tests/cross/suites.sh — the emulated test runs, one per line:
#   NAME TARGET SCRIPT
# For every router target the smoke test (tests/cross/smoke.sh); for
# mipsel and mips (big-endian) also every real-server suite tests/real/*.sh
# that runs tern through $TERN: it names $TERN (or ${TERN}) or calls the
# `t` helper of tests/lib.sh.  Helpers and suites that check only the test
# infrastructure mention neither and are not run again under emulation.
# tests/run.sh runs each line with tests/cross/emu.sh.
# Env: CROSS_TARGETS (default: mipsel mips armhf aarch64), REAL (the
# directory of real-server suites, default tests/real).
set -u
cd "$(dirname "$0")/../.."
real=${REAL:-tests/real}

uses_tern() {
	grep -qE -e '\$\{?TERN([^A-Za-z0-9_]|$)' \
	    -e '^[[:space:]]*t [A-Za-z0-9_.:-]+ [0-9]+ ' "$1"
}

for tg in ${CROSS_TARGETS:-mipsel mips armhf aarch64}; do
	echo "$tg-smoke $tg tests/cross/smoke.sh"
	case $tg in mipsel|mips) ;; *) continue ;; esac
	for t in "$real"/*.sh; do
		# libraries, as in tests/run.sh
		case ${t##*/} in pki.sh|dovecot.sh|mta.sh) continue ;; esac
		[ -f "$t" ] && uses_tern "$t" || continue
		echo "$tg-real-$(basename "$t" .sh) $tg $t"
	done
done
