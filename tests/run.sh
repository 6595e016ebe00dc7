#!/bin/sh
# Run every test suite and end with one line: "N passed, N failed".
# Each suite prints "PASS name" / "FAIL name: detail" lines; a suite that
# exits non-zero without a FAIL line counts as one failure.
#   tests/run.sh [SUITE...]   suites: unit cli real cross dialog durability
#                             (default: all)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
out=build/test/results
mkdir -p "$out"
: > "$out/all.log"
suites=${*:-"unit cli real cross dialog durability"}

run() {	# name command...
	name=$1; shift
	"$@" > "$out/$name.log" 2>&1
	rc=$?
	grep -aE '^(PASS|FAIL) ' "$out/$name.log" >> "$out/all.log"
	grep -aE '^FAIL ' "$out/$name.log"
	if [ $rc -ne 0 ] && ! grep -aq '^FAIL ' "$out/$name.log"; then
		echo "FAIL $name: exited $rc" | tee -a "$out/all.log"
		tail -20 "$out/$name.log"
	fi
}

for s in $suites; do
	case $s in
	unit)
		for t in build/test/t_*; do
			[ -x "$t" ] || continue
			run "unit-$(basename "$t")" "$t"
		done ;;
	cli)	# the static product, then the sanitizer build
		for t in tests/cli/*.sh; do
			n=$(basename "$t" .sh)
			run "cli-$n" env TERN=tern sh "$t"
			run "cli-asan-$n" env TERN=build/test/tern PFX=asan: sh "$t"
		done ;;
	real)	# pki.sh, dovecot.sh and mta.sh are libraries, not suites
		for t in tests/$s/*.sh; do
			case ${t##*/} in pki.sh|dovecot.sh|mta.sh) continue ;; esac
			[ -f "$t" ] || continue
			run "$s-$(basename "$t" .sh)" sh "$t"
			# the fetch suite also under the sanitizer build, which
			# alone honours TERN_TEST_NOW (delete_after_days)
			case ${t##*/} in fetch.sh|send.sh)
				run "$s-asan-${t##*/}" \
				    env TERN=build/test/tern PFX=asan: sh "$t" ;;
			esac
		done ;;
	dialog)	# tests/dialog/*.script, the product, then the sanitizer build
		run dialog env TERN=tern sh tests/dialog/run.sh
		run dialog-asan env TERN=build/test/tern PFX=asan: \
		    sh tests/dialog/run.sh ;;
	cross)	# the router builds under qemu-user: tests/cross/suites.sh
		sh tests/cross/suites.sh > "$out/cross.list"
		while read -r n tg t; do
			run "cross-$n" sh tests/cross/emu.sh "$tg" "$t" < /dev/null
		done < "$out/cross.list" ;;
	durability)	# kill -9 and the like: tests/durability/*.sh
		for t in tests/durability/*.sh; do
			[ -f "$t" ] || continue
			run "durability-$(basename "$t" .sh)" sh "$t"
		done ;;
	esac
done

p=$(grep -ac '^PASS ' "$out/all.log")
f=$(grep -ac '^FAIL ' "$out/all.log")
echo "$p passed, $f failed"
[ "$f" -eq 0 ]
