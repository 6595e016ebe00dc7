#!/bin/sh
# tests/durability/fetch-kill.sh — SPEC §3 "Nothing lost" under kill -9.
#   sh tests/durability/fetch-kill.sh       (from the repository root)
# Env: TERN (the binary under test), POP3_PORT / POP3S_PORT (default: the
# first free pair of 13210/14095 + 10*k, k < 5).
#
# A private Dovecot (tests/real/dovecot.sh) holds 200 distinct messages
# (5 MB, 0.2-40 KB each, some with dot lines); the account has keep 0,
# implicit TLS.  tern fetch is started
# and killed with SIGKILL after a delay from a fixed pseudo-random
# schedule (an LCG, so every run kills at the same moments), at most
# KILLS_MAX times, re-running until Dovecot's mailbox is empty; then it
# runs unkilled until it is.  After every run:
#   - every original Message-Id is on the server or in Maildir/new;
#   - every file in new/ is byte for byte one of the originals (nothing
#     partial, nothing torn);
#   - every line of tern's log is one whole event.
# At the end: every original is in new/ at least once, the mailbox on the
# server is empty, duplicates (files in new/ beyond the originals) number
# at most kills x POP3_GROUP_MSGS (64: only the group in flight is
# delivered again) — and grow by at most 64 in any one run — and one more
# run exits 0 with new=0.  Whenever the mailbox is empty before KILLS_MAX
# kills have landed, the next round of 200 new messages is put on the
# server, so that all 50 kills hit a fetch in progress.  The last line
# (a "#" comment) gives rounds, runs, kills, duplicates, files left in
# tmp/ (allowed: a killed delivery's temporary file), seconds, delays.
# Every wait is bounded; Dovecot is always stopped (EXIT trap).
. "$(dirname "$0")/../lib.sh"
export LC_ALL=C		# one collation for sort, comm and join
PORTS_GIVEN=${POP3_PORT:+1}
POP3_PORT=${POP3_PORT:-13210}	# before dovecot.sh, which has defaults
POP3S_PORT=${POP3S_PORT:-14095}
. "$top/tests/real/dovecot.sh"

NMSG=200
KILLS_MAX=50
GROUP=64		# POP3_GROUP_MSGS in src/pop3.h
WORKDIR=$(mktemp -d /tmp/tdvk.XXXXXX)
PKIDIR=$WORKDIR/pki
export PKIDIR
SRV=$WORKDIR/home/alice/Maildir
MD=$TMP/md
PID=
cleanup() {
	[ -z "$PID" ] || kill -KILL "$PID" 2>/dev/null
	dv_stop
	rm -rf "$TMP" "$WORKDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
nfail=0
fail() { echo "FAIL ${PFX:-}$1: $2"; nfail=$((nfail + 1)); }
t_start=$(date +%s)

# ---- rounds of 200 distinct messages with LF endings ------------------
mkdir -p "$TMP/orig"
: > "$TMP/orig.sums"
: > "$TMP/orig.ids"
: > "$TMP/seen"		# files of new/ already checked: "name sum id"
# round R — write round R's messages to $TMP/orig/R, add their sums and
# ids to the lists of every original so far, and put them on the server
round() {
	mkdir -p "$TMP/orig/$1"
	/usr/bin/python3 - "$TMP/orig/$1" "$NMSG" "$1" <<'PY'
import sys
d, n, r = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(1, n + 1):
    size = 200 + (i * 7919 + r * 104729) % 40000
    lines = ["line %d of %d.%d %s\n" % (k, r, i, "x" * (k % 60))
             for k in range(size // 40)]
    if i % 7 == 0:
        lines.insert(0, ".dot-stuffed line\n..two\n")
    with open("%s/%03d" % (d, i), "w") as f:
        f.write("From: s%d@example.com\nSubject: kill %d.%d\n"
                "Message-Id: <k%d.%d@tern.test>\n\n%s" % (i, r, i, r, i,
                                                        "".join(lines)))
PY
	(cd "$TMP/orig/$1" && sha256sum -- *) | cut -c1-64 >> "$TMP/orig.sums"
	grep -h -m1 '^Message-Id: ' "$TMP/orig/$1"/* >> "$TMP/orig.ids"
	sort -o "$TMP/orig.sums" "$TMP/orig.sums"
	sort -o "$TMP/orig.ids" "$TMP/orig.ids"
	dv_fill alice "$TMP/orig/$1"/*
}

start_server dv-start "$TMP/dv.err" dv_start dv_ports_next
srvcount() { find "$SRV/cur" "$SRV/new" -type f 2>/dev/null | wc -l; }
nround=1
round 1
check setup-distinct "$(sort -u "$TMP/orig.sums" | wc -l):$(sort -u \
    "$TMP/orig.ids" | wc -l)" "$NMSG:$NMSG"
check setup-server "$(srvcount)" "$NMSG"

cat > "$TMP/conf" <<EOF
config tern 'main'
	option log '$TMP/log'
	option state_dir '$TMP/state'
	option spool_dir '$TMP/spool'
	option ca_file '$PKIDIR/ca.pem'
	option timeout '20'
	option deadline '60'
config account 'a'
	option user 'alice'
	option password 'alice-pw-1'
	option pop3_host 'localhost'
	option pop3_port '$POP3S_PORT'
	option pop3_tls 'implicit'
	option keep '0'
	option retries '0'
	option maildir '$MD'
EOF

# invariants CTX — after a run (killed or not).  Files in new/ never
# change once there, so each is hashed once ($TMP/seen).
invariants() {
	ls "$MD/new" 2>/dev/null | sort > "$TMP/names"
	cut -d' ' -f1 "$TMP/seen" | sort | comm -13 - "$TMP/names" \
	    > "$TMP/fresh"
	if [ -s "$TMP/fresh" ]; then
		(cd "$MD/new" && xargs sha256sum -- < "$TMP/fresh") |
		    awk '{ print $2, $1 }' | sort > "$TMP/f.sum"
		(cd "$MD/new" && xargs grep -H -m1 '^Message-Id: ' -- \
		    < "$TMP/fresh") | sed 's/:Message-Id: / /' |
		    sort > "$TMP/f.id"
		join -a1 -e none -o 0,1.2,2.2 "$TMP/f.sum" "$TMP/f.id" \
		    >> "$TMP/seen"
		sort -o "$TMP/seen" "$TMP/seen"
	fi
	# what new/ holds now (a file that went away counts as gone)
	join -o 0,1.2,1.3 "$TMP/seen" "$TMP/names" > "$TMP/now"
	# every file in new/ is one of the originals
	bad=$(cut -d' ' -f2 "$TMP/now" | sort -u |
	    comm -23 - "$TMP/orig.sums" | head -3 | tr '\n' ' ')
	[ -z "$bad" ] || fail "partial-$1" "not an original: $bad"
	# every id on the server or in new/
	lost=$( { find "$SRV/cur" "$SRV/new" -type f \
	    -exec grep -h -m1 '^Message-Id: ' {} + 2>/dev/null
	    cut -d' ' -f3 "$TMP/now" | sed 's/^/Message-Id: /'; } |
	    sort -u | comm -23 "$TMP/orig.ids" - | head -3 | tr '\n' ' ')
	[ -z "$lost" ] || fail "lost-$1" "on neither side: $lost"
	# a run delivers again at most the group the run before had in
	# flight: duplicates grow by at most GROUP a run
	d=$(( $(wc -l < "$TMP/now") - $(cut -d' ' -f3 "$TMP/now" |
	    sort -u | wc -l) ))
	[ $((d - dups_before)) -le $GROUP ] ||
	    fail "dups-$1" "$((d - dups_before)) more duplicates in one run"
	bad="$bad$( [ $((d - dups_before)) -le $GROUP ] || echo dups)"
	dups_before=$d
	# every log line one whole event
	torn=$(grep -cvE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z [a-z]+ account=a service=pop3 .*[^ ]$' \
	    "$TMP/log" 2>/dev/null)
	[ "${torn:-0}" -eq 0 ] || fail "log-$1" "$torn torn log line(s)"
	[ -z "$lost$bad" ] && [ "${torn:-0}" -eq 0 ]
}

dups_before=0
# ---- how long one round takes, unkilled: the kills fall inside it -----
t0=$(date +%s%N)
timeout 120 "$TERN" -c "$TMP/conf" -q fetch > "$TMP/out" 2> "$TMP/err"
rc=$?
span=$(( ($(date +%s%N) - t0) / 1000000 ))
check calibrate-run "$rc:$(cat "$TMP/err")" "0:"
invariants calibrate
[ "$span" -ge 30 ] || span=30
# ---- kill at pseudo-random moments ------------------------------------
x=20261122		# LCG state: the schedule is the same on every run
kills=0 finished=0 runs=0 broken=0 ms_list=
# within one unkilled round: startup, handshake, listing, bodies,
# commits, DELE, QUIT
mailbox_empty() { [ "$(srvcount)" -eq 0 ]; }
kill_runs "$span" mailbox_empty round "$TERN" -c "$TMP/conf" -q fetch

# ---- then unkilled until the mailbox is empty (bounded) ---------------
j=0
while [ "$(srvcount)" -gt 0 ] && [ $j -lt 3 ]; do
	j=$((j + 1))
	timeout 120 "$TERN" -c "$TMP/conf" -q fetch > "$TMP/out" 2> "$TMP/err"
	rc=$?
	runs=$((runs + 1))
	check "final-run-$j" "$rc:$(cat "$TMP/err")" "0:"
	invariants "final-$j"
done
check server-empty "$(srvcount)" 0

# ---- what the Maildir holds -------------------------------------------
# hashed afresh: the per-run checks hash each file once, when it appears
(cd "$MD/new" && find . -type f -exec sha256sum {} +) | cut -c1-64 | sort \
    > "$TMP/got.sums"
check every-original-delivered "$(sort -u "$TMP/got.sums" |
    comm -13 - "$TMP/orig.sums" | wc -l)" 0
check nothing-foreign "$(sort -u "$TMP/got.sums" |
    comm -23 - "$TMP/orig.sums" | wc -l)" 0
total=$(wc -l < "$TMP/got.sums")
dups=$((total - NMSG * nround))
check duplicates-bounded "$( [ $dups -ge 0 ] &&
    [ $dups -le $((kills * GROUP)) ] && echo yes) ($dups dups, $kills kills)" \
    "yes ($dups dups, $kills kills)"
check cur-empty "$(find "$MD/cur" -type f | wc -l)" 0

# one more run: nothing to do
"$TERN" -c "$TMP/conf" fetch > "$TMP/out" 2> "$TMP/err"
rc=$?
check after-all "$rc:$(log_events "$TMP/log" | tail -1 |
    sed -E 's/ ms=[0-9]+/ ms=X/')" "0:fetch account=a service=pop3 \
result=ok new=0 bytes=0 deleted=0 ms=X"

t_end=$(date +%s)
echo "# fetch-kill: $nround rounds of $NMSG, $runs runs, $kills killed," \
    "$finished finished before the kill, $dups duplicates, $(find "$MD/tmp" -type f | wc -l) files" \
    "left in tmp/, $((t_end - t_start)) s; one round ${span} ms; delays" \
    "(ms):$ms_list"
[ "$nfail" -eq 0 ]
