#!/bin/sh
# tests/durability/flush-kill.sh — SPEC §3 "an outgoing message leaves
# the queue only after the server's final 2xx to the data", under kill -9.
#   sh tests/durability/flush-kill.sh       (from the repository root)
# Env: TERN (the binary under test), SMTPS_PORT / SUBMIT_PORT / SMTP_PORT
# (default: the first free triple of 17665/17787/17225 + 10*k, k < 5).
#
# A private Exim (tests/real/mta.sh) takes mail for bob over implicit TLS.
# Rounds of 100 distinct messages (0.3-30 KB, each with its own
# Message-ID, some with dot lines) are queued with `tern send` while the
# account is disabled by hand (`queue … reason=disabled`: queued, never
# tried, so due at once with any build), then the account is enabled.
# `tern flush` is started and killed with SIGKILL after a delay from a
# fixed pseudo-random schedule (an LCG: every run kills at the same
# moments), KILLS_MAX (50) times, restarted each time (bounded: at most
# 2 * KILLS_MAX runs); when the queue is empty before the kills are done,
# the next round of 100 is queued.  After every run:
#   - nothing lost: every Message-ID is still queued or was taken by the
#     server (a "<=" line in Exim's log);
#   - the queue holds exactly the messages not acknowledged, except at
#     most the one in flight at the kill (taken, 250 not yet acted on);
#   - nothing damaged: corrupt/ and failed/ stay empty, no message was
#     deferred, and every line of tern's log is one whole event.
# Then flush runs unkilled until the queue is empty, and: every message
# is in bob's Maildir at least once and at most twice (counted by
# Message-ID), the queue directory holds no file at all, `tern queue`
# says so, and one more flush exits 0 and logs nothing.  The last line
# (a "#" comment) gives rounds, runs, kills, duplicates, seconds, delays.
# Every wait is bounded; Exim is always stopped (EXIT trap).
. "$(dirname "$0")/../lib.sh"
export LC_ALL=C		# one collation for sort and comm
PORTS_GIVEN=${SMTPS_PORT:+1}
SMTP_PORT=${SMTP_PORT:-17225}	# before mta.sh, which has defaults
SUBMIT_PORT=${SUBMIT_PORT:-17787}
SMTPS_PORT=${SMTPS_PORT:-17665}
. "$top/tests/real/mta.sh"

NMSG=100
KILLS_MAX=50
WORKDIR=$(mktemp -d /tmp/tsmk.XXXXXX)
PKIDIR=$WORKDIR/pki
export PKIDIR
SP=$TMP/spool
PID=
cleanup() {
	[ -z "$PID" ] || kill -KILL "$PID" 2>/dev/null
	mta_stop
	rm -rf "$TMP" "$WORKDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
nfail=0
fail() { echo "FAIL ${PFX:-}$1: $2"; nfail=$((nfail + 1)); }
t_start=$(date +%s)
# a private copy of an ELF binary: a rebuild of the tree during the run
# (make links in place) must not pull it away between two runs
if [ "$(head -c 4 "$TERN" | od -An -c | tr -d ' ')" = '177ELF' ]; then
	cp "$TERN" "$TMP/tern" && TERN=$TMP/tern
fi

start_server mta-start "$TMP/mta.err" mta_start mta_ports_next

cat > "$TMP/conf" <<EOF
config tern 'main'
	option log '$TMP/log'
	option state_dir '$TMP/state'
	option spool_dir '$SP'
	option ca_file '$PKIDIR/ca.pem'
	option timeout '20'
	option deadline '60'
config account 'a'
	option email 'alice@example.com'
	option user 'alice'
	option password 'alice-pw-1'
	option smtp_host 'localhost'
	option smtp_port '$SMTPS_PORT'
	option smtp_tls 'implicit'
	option retries '0'
EOF
C="-c $TMP/conf"

# ---- rounds of 100 distinct messages, queued, due at once --------------
: > "$TMP/orig.ids"
# round R — write round R's messages, queue them (account disabled, so
# none is tried), add their ids to the list of every original so far
round() {
	mkdir -p "$TMP/orig/$1"
	/usr/bin/python3 - "$TMP/orig/$1" "$NMSG" "$1" <<'PY'
import sys
d, n, r = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(1, n + 1):
    size = 300 + (i * 7919 + r * 104729) % 30000
    lines = ["line %d of %d.%d %s\n" % (k, r, i, "x" * (k % 60))
             for k in range(size // 40)]
    if i % 7 == 0:
        lines.insert(0, ".dot-stuffed line\n..two\n")
    with open("%s/%03d" % (d, i), "w") as f:
        f.write("From: alice@example.com\nTo: bob@example.com\n"
                "Subject: kill %d.%d\n"
                "Date: Sun, 22 Nov 2026 01:20:00 +0000\n"
                "Message-ID: <k%d.%d@tern.test>\n\n%s" % (r, i, r, i,
                                                        "".join(lines)))
PY
	"$TERN" $C disable a > /dev/null
	for f in "$TMP/orig/$1"/*; do
		"$TERN" $C -q send bob@example.com < "$f" ||
		    fail "queue-$1" "send exited $? for $f"
	done
	"$TERN" $C enable a > /dev/null
	grep -h -m1 '^Message-ID: ' "$TMP/orig/$1"/* | cut -d' ' -f2 \
	    >> "$TMP/orig.ids"
	sort -o "$TMP/orig.ids" "$TMP/orig.ids"
}
# the Message-IDs of the queued messages, sorted (with repeats)
qids() {
	find "$SP/q" -type f ! -name '*.meta' -exec grep -h -m1 \
	    '^Message-ID: ' {} + 2>/dev/null | cut -d' ' -f2 | sort
}
# the Message-IDs the server has taken, sorted (with repeats)
acked() {
	sed -n 's/.* <= .* id=\([^ ]*\) .*/<\1>/p' "$MTA_LOG" | sort
}
inq() { find "$SP/q" -type f ! -name '*.meta' 2>/dev/null | wc -l; }

nround=1
round 1
check setup-queued "$(inq):$(sort -u "$TMP/orig.ids" | wc -l)" \
    "$NMSG:$NMSG"

# invariants CTX — after a run, killed or not
invariants() {
	qids > "$TMP/q.ids"
	acked | uniq > "$TMP/acked.ids"
	lost=$(sort -u "$TMP/q.ids" "$TMP/acked.ids" |
	    comm -23 "$TMP/orig.ids" - | head -3 | tr '\n' ' ')
	[ -z "$lost" ] || fail "lost-$1" "neither queued nor taken: $lost"
	both=$(comm -12 "$TMP/q.ids" "$TMP/acked.ids" | tr '\n' ' ')
	nb=$(comm -12 "$TMP/q.ids" "$TMP/acked.ids" | wc -l)
	[ "$nb" -le 1 ] ||
	    fail "acked-queued-$1" "$nb taken and still queued: $both"
	rep=$(uniq -d "$TMP/q.ids" | head -3 | tr '\n' ' ')
	[ -z "$rep" ] || fail "queued-twice-$1" "$rep"
	bad=$(find "$SP/corrupt" "$SP/failed" -type f 2>/dev/null | wc -l)
	[ "$bad" -eq 0 ] || fail "damaged-$1" "$(ls -R "$SP/corrupt" \
	    "$SP/failed" 2>&1 | tr '\n' ' ')"
	dfr=$(grep -c -e 'result=deferred' -e 'result=corrupt' \
	    -e 'result=expired' "$TMP/log")
	[ "$dfr" -eq 0 ] || fail "deferred-$1" "$(grep -e 'result=deferred' \
	    -e 'result=corrupt' -e 'result=expired' "$TMP/log" | tail -1)"
	torn=$(grep -cvE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z [a-z]+ [a-z]+=.*[^ ]$' \
	    "$TMP/log" 2>/dev/null)
	[ "${torn:-0}" -eq 0 ] || fail "log-$1" "$torn torn log line(s)"
	[ -z "$lost$rep" ] && [ "$nb" -le 1 ] && [ "$bad" -eq 0 ] &&
	    [ "$dfr" -eq 0 ] && [ "${torn:-0}" -eq 0 ]
}

# ---- kill at pseudo-random moments ------------------------------------
x=20261122		# LCG state: the schedule is the same on every run
kills=0 finished=0 runs=0 broken=0 ms_list=
# 0-299 ms: startup, connect, TLS, AUTH, data, 250, queue removal
queue_empty() { [ "$(inq)" -eq 0 ]; }
kill_runs 300 queue_empty round "$TERN" $C -q flush

# ---- then unkilled until the queue is empty (bounded) ------------------
j=0
while [ "$(inq)" -gt 0 ] && [ $j -lt 3 ]; do
	j=$((j + 1))
	timeout 120 "$TERN" $C -q flush > "$TMP/out" 2> "$TMP/err"
	rc=$?
	runs=$((runs + 1))
	check "final-flush-$j" "$rc:$(cat "$TMP/err")" "0:"
	invariants "final-$j"
done
check queue-empty "$(find "$SP/q" -type f | wc -l)" 0
"$TERN" $C queue > "$TMP/out" 2> "$TMP/err"
check queue-list-empty "$?:$(cat "$TMP/out" "$TMP/err")" \
    "0:(no queued messages in $SP)"

# ---- what reached bob's Maildir, by Message-ID --------------------------
# Exim delivers in the background: wait (bounded) for its queue to empty
# and for as many files as it took messages
n_acked=$(acked | wc -l)
w=0
while [ "$(mta_queue)" != 0 ] && [ $w -lt 100 ]; do
	sleep 0.1
	w=$((w + 1))
done
mta_wait bob "$n_acked" 20 2>> "$TMP/mta.err"
find "$(mta_maildir bob)/new" -type f -exec grep -h -m1 '^Message-ID: ' \
    {} + | cut -d' ' -f2 | sort > "$TMP/got.ids"
check maildir-as-taken "$(wc -l < "$TMP/got.ids")" "$n_acked"
check every-message-delivered "$(sort -u "$TMP/got.ids" |
    comm -13 - "$TMP/orig.ids" | wc -l)" 0
check nothing-foreign "$(sort -u "$TMP/got.ids" |
    comm -23 - "$TMP/orig.ids" | wc -l)" 0
check none-thrice "$(uniq -c "$TMP/got.ids" | awk '$1 > 2' | head -3 |
    tr -s ' ' | tr '\n' ' ')" ""
total=$(wc -l < "$TMP/got.ids")
dups=$((total - $(sort -u "$TMP/got.ids" | wc -l)))
check duplicates-bounded "$( [ $dups -le $kills ] && echo yes) ($dups dups, \
$kills kills)" "yes ($dups dups, $kills kills)"

# one more flush: nothing to do, nothing logged
l0=$(wc -l < "$TMP/log")
"$TERN" $C flush > "$TMP/out" 2> "$TMP/err"
check after-all "$?:$(cat "$TMP/out" "$TMP/err"):$(($(wc -l < \
    "$TMP/log") - l0))" "0::0"

t_end=$(date +%s)
echo "# flush-kill: $nround rounds of $NMSG, $runs runs, $kills killed," \
    "$finished finished before the kill, $dups duplicates," \
    "$((t_end - t_start)) s; delays (ms):$ms_list"
[ "$nfail" -eq 0 ]
