# tests/lib.sh — helpers for shell test suites (sourced).
# A suite prints "PASS name" / "FAIL name: detail"; $TERN is the binary
# under test (default ./tern), $TMP a private scratch directory removed at
# exit.  Every wait is bounded.
top=$(cd "$(dirname "$0")/../.." && pwd)
TERN=${TERN:-$top/tern}
case $TERN in /*) ;; *) TERN=$top/$TERN ;; esac
TMP=$(mktemp -d /tmp/tern-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
# the sanitizer build must not fail on leaks of a process that exits
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
unset TERN_CONFIG

pass() { echo "PASS ${PFX:-}$1"; }
fail() { echo "FAIL ${PFX:-}$1: $2"; }

# check NAME GOT WANT — exact comparison of two strings
check() {
	if [ "$2" = "$3" ]; then pass "$1"
	else fail "$1" "got [$2] want [$3]"; fi
}

# check_file NAME FILE EXPECTED-TEXT — exact bytes of a file
check_file() {
	if printf '%s' "$3" | cmp -s - "$2"; then pass "$1"
	else fail "$1" "$(printf '%s' "$3" | diff - "$2" | head -10 | tr '\n' '|')"; fi
}

# t NAME WANT_RC WANT_STDOUT WANT_STDERR -- args...: run $TERN, compare all
t() {
	name=$1 want_rc=$2 want_out=$3 want_err=$4; shift 5
	"$TERN" "$@" > "$TMP/out" 2> "$TMP/err"
	rc=$?
	got_out=$(cat "$TMP/out"); got_err=$(cat "$TMP/err")
	if [ "$rc" = "$want_rc" ] && [ "$got_out" = "$want_out" ] &&
	    [ "$got_err" = "$want_err" ]; then
		pass "$name"
	else
		fail "$name" "rc=$rc (want $want_rc) out=[$got_out] err=[$got_err]"
	fi
}

# strip the timestamps from a log file: "2026-…Z event k=v" -> "event k=v"
log_events() { sed -E 's/^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z //' "$1"; }

# start_server NAME ERRFILE START BUMP: call START (a function that starts
# a server on the current ports, explaining on stderr) until it works;
# when a port was taken, BUMP moves the ports and it tries again (at most
# 5 tries, and only when the caller did not choose them: PORTS_GIVEN
# empty); otherwise FAIL NAME with START's stderr and exit 1.
start_server() {
	_k=0
	until "$3" 2> "$2"; do
		_k=$((_k + 1))
		if [ -n "${PORTS_GIVEN:-}" ] || [ $_k -ge 5 ] ||
		    ! grep -q 'already in use' "$2"; then
			fail "$1" "$(tr '\n' '|' < "$2")"
			exit 1
		fi
		"$4"
	done
}

# kill_runs SPAN EMPTY REFILL CMD...: the kill -9 schedule of
# tests/durability/.  Until KILLS_MAX runs were killed (at most twice
# as many runs): when the function EMPTY succeeds, REFILL N adds round N
# (nround counts them); then CMD runs in the background, stdout and
# stderr in $TMP/out and $TMP/err, and gets SIGKILL after 0..SPAN-1 ms
# from the LCG in $x (so every run kills at the same moments); then the
# caller's `invariants kill-I`.  Counts kills, finished, runs, broken
# and lists the delays in ms_list; PID is the run in flight (for an EXIT
# trap).  Ends with the checks kills-landed and
# invariants-after-each-kill.
kill_runs() {
	_span=$1 _empty=$2 _refill=$3
	shift 3
	_i=0
	while [ "$kills" -lt "$KILLS_MAX" ] && [ $_i -lt $((KILLS_MAX * 2)) ]
	do
		_i=$((_i + 1))
		if "$_empty"; then
			nround=$((nround + 1))
			"$_refill" "$nround"
		fi
		x=$(( (x * 1103515245 + 12345) % 2147483648 ))
		_ms=$(( (x / 65536) % _span ))
		ms_list="$ms_list $_ms"
		"$@" > "$TMP/out" 2> "$TMP/err" &
		PID=$!
		sleep "$(printf '%d.%03d' $((_ms / 1000)) $((_ms % 1000)))"
		kill -KILL "$PID" 2>/dev/null
		{ wait "$PID"; } 2>/dev/null
		_rc=$?
		PID=
		runs=$((runs + 1))
		case $_rc in
		137) kills=$((kills + 1)) ;;
		0) finished=$((finished + 1)) ;;
		*) fail "run-$_i" "exit $_rc after $_ms ms: $(head -c 300 \
		    "$TMP/err" | tr '\n' '|')" ;;
		esac
		invariants "kill-$_i" || broken=$((broken + 1))
	done
	check kills-landed "$kills" "$KILLS_MAX"
	check invariants-after-each-kill "$broken" 0
}
