#!/bin/sh
# tests/real/unattended.sh — unattended running, POP3 side (SPEC §3
# "Auto-disable", "Bounded"): what a cron job on a router does to a
# mailbox and to its own flash over many runs, against the private Dovecot
# of tests/real/dovecot.sh and the scripted server of tests/dialog.
#   sh tests/real/unattended.sh          (from the repository root)
#   TERN=build/test/tern sh tests/real/unattended.sh
# Env: TERN (the binary under test; may be a qemu wrapper), POP3_PORT
# (14110) / POP3S_PORT (14995) for this suite's own Dovecot (the first
# free pair of those + 10*k, k < 5, unless given).
#
# Covered, every run cheap (timeout '2', retries '0' unless retries are
# the point):
#   auth      a wrong password: runs 1-9 exit 77 and count (log
#             failures=N/10, status -k auth_failures=N), run 10 disables,
#             run 11 exits 69 without a connection (Dovecot's log does not
#             grow) and writes nothing under state_dir; `status` and
#             `status -k` after the disable (timestamps masked); the fixed
#             password re-enables (reason=config-changed) and fetches.
#   manual    `tern disable` (kept over a config change), `tern enable`
#             (clears the counters).
#   conn      a closed port: 50 runs disable (once per run), run 51
#             skips, a new port re-enables; `retries 2`: 3 attempts in one
#             run (backoff 1 s, 2 s), counted once.
#   offline   DNS failing temporarily (a private resolv.conf in a mount
#             namespace: the nameserver 127.0.0.1, where nothing listens,
#             with `timeout:1` for the first run, then `timeout:0` — musl
#             then answers EAI_AGAIN at once — so 60 runs stay fast), and
#             no route (an empty network namespace): 60 runs each, exit
#             75, never disabled, conn_failures 0, the state file written
#             once (not on every run).  SKIP where unshare is refused.
#   notyet    a certificate valid from 2099 (Dovecot with CERT=notyet):
#             60 runs, exit 75, never disabled, conn_failures 0.
#   lock      two `tern run` started together on one account (50
#             messages, keep 0), 3 rounds: no message twice, none lost,
#             and the loser logs `lock … result=busy`.
#   deadline  four accounts, parallel 4, one behind a server that never
#             greets, deadline 5, timeout 30: the three finish, the run
#             ends at the deadline (exit 75, 4.5 s <= wall < 15 s),
#             nothing lost, the stalled account not counted.
#   idle      a run with nothing new leaves every file and directory under
#             state_dir byte-identical with the same mtime.
# Every wait is bounded; Dovecot and the fake server are always stopped.
. "$(dirname "$0")/../lib.sh"
PORTS_GIVEN=${POP3_PORT:+1}
POP3_PORT=${POP3_PORT:-14110}	# before dovecot.sh, which has defaults
POP3S_PORT=${POP3S_PORT:-14995}
. "$top/tests/real/dovecot.sh"
PY=/usr/bin/python3

WORKDIR=$(mktemp -d /tmp/tdvu.XXXXXX)
PKIDIR=$WORKDIR/pki
export PKIDIR
SRV_A=$WORKDIR/home/alice/Maildir
SRV_B=$WORKDIR/home/bob/Maildir
FS_PID=
cleanup() {
	[ -n "$FS_PID" ] && kill "$FS_PID" 2>/dev/null
	dv_stop
	# the per-state_dir lock files tern made in /var/lock (policy.c)
	for d_ in "$TMP"/*/state; do
		[ -d "$d_" ] || continue
		h_=$("$PY" -c 'import sys
h = 2166136261
for b in sys.argv[1].encode():
    h = ((h ^ b) * 16777619) & 0xffffffff
print("%08x" % h)' "$d_")
		rm -f /var/lock/tern-"$h_"-*.lock
	done
	rm -rf "$TMP" "$WORKDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE
T0=$(date +%s)

# ---------------------------------------------------------------- helpers

# conf CASE [LINE...] — $TMP/CASE/conf: main section and account 'a'
# (alice over implicit TLS to localhost, keep 1), then the extra lines
# verbatim into account 'a' (later options win, as in UCI).  $MAINX: extra
# lines for the main section.  Each case has its own state, log, Maildir.
conf() {
	cd_=$TMP/$1; shift
	mkdir -p "$cd_"
	{
		printf "config tern 'main'\n"
		printf "\toption log '%s/log'\n" "$cd_"
		printf "\toption state_dir '%s/state'\n" "$cd_"
		printf "\toption spool_dir '%s/spool'\n" "$cd_"
		printf "\toption ca_file '%s'\n" "$PKIDIR/ca.pem"
		printf "\toption timeout '2'\n"
		printf "\toption deadline '60'\n"
		[ -n "${MAINX:-}" ] && printf '%s\n' "$MAINX"
		printf "config account 'a'\n"
		printf "\toption user 'alice'\n"
		printf "\toption password 'alice-pw-1'\n"
		printf "\toption pop3_host 'localhost'\n"
		printf "\toption pop3_port '%s'\n" "$POP3S_PORT"
		printf "\toption pop3_tls 'implicit'\n"
		printf "\toption keep '1'\n"
		printf "\toption retries '0'\n"
		printf "\toption maildir '%s/md'\n" "$cd_"
		for l_ in "$@"; do printf '%s\n' "$l_"; done
	} > "$cd_/conf"
}

# fetch CASE [tern options...] — `tern -c conf [opts] fetch`: RC, and
# $TMP/CASE/out, err.  WRAP: a command line to run tern under (unshare).
fetch() {
	cd_=$TMP/$1; shift
	${WRAP:-} "$TERN" -c "$cd_/conf" "$@" fetch > "$cd_/out" \
	    2> "$cd_/err"
	RC=$?
}

# tern_ CASE ARGS... — any other command: RC, out, err
tern_() {
	cd_=$TMP/$1; shift
	"$TERN" -c "$cd_/conf" "$@" > "$cd_/out" 2> "$cd_/err"
	RC=$?
}

# events CASE — the log without timestamps, ms masked
events() {
	[ -f "$TMP/$1/log" ] || return 0
	log_events "$TMP/$1/log" | sed -E 's/ ms=[0-9]+/ ms=X/'
}
lastev() { events "$1" | grep "^$2 " | tail -1; }
nev() { events "$1" | grep -c "^$2 "; }

# mask — timestamps in text become T
mask() { sed -E 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z/T/g'; }
# statusk CASE — `tern status -k`, timestamps masked
statusk() {
	"$TERN" -c "$TMP/$1/conf" status -k 2>&1 | mask
}
# skey CASE KEY — one key of the (single) status -k line
skey() {
	"$TERN" -c "$TMP/$1/conf" status -k 2>/dev/null | tr ' ' '\n' |
	    sed -n "s/^$2=//p" | head -1
}

# snap DIR — every file and directory below DIR: name, type, size, mtime
# to the nanosecond, and the SHA-256 of each file
snap() {
	(cd "$1" && find . -exec stat -c '%n %F %s %y' {} + | sort &&
	    find . -type f -exec sha256sum {} + | sort)
}

count() { find "$1" -maxdepth 1 -type f 2>/dev/null | wc -l; }
onserver() { find "$1/cur" "$1/new" -type f 2>/dev/null | wc -l; }
# distinct DIR — how many different contents among the files in DIR
distinct() {
	find "$1" -maxdepth 1 -type f -exec sha256sum {} + 2>/dev/null |
	    cut -c1-64 | sort -u | wc -l
}
# dvlines — lines in Dovecot's log so far
dvlines() { wc -l < "$DV_LOG"; }
# dvsettle — wait (at most 2 s) until Dovecot's log stops growing
dvsettle() {
	n1_=-1; i_=0
	while [ $i_ -lt 20 ]; do
		n2_=$(dvlines)
		[ "$n2_" = "$n1_" ] && return 0
		n1_=$n2_
		sleep 0.1
		i_=$((i_ + 1))
	done
}
# closed PORT — true when nothing listens on 127.0.0.1:PORT
closed() {
	"$PY" -c 'import socket, sys
s = socket.socket()
s.settimeout(1)
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(0)
sys.exit(1)' "$1"
}
# seqof WORD N — WORD N times, space-separated (for per-run results)
seqof() {
	s_= ; i_=0
	while [ $i_ -lt "$2" ]; do s_="$s_ $1"; i_=$((i_ + 1)); done
	echo "${s_# }"
}
skip() { echo "SKIP ${PFX:-}$1: $2"; }
# check_re NAME GOT ERE — GOT matches the extended regular expression
check_re() {
	if printf '%s\n' "$2" | grep -Eqx -e "$3"; then pass "$1"
	else fail "$1" "got [$2] want /$3/"; fi
}
# note TEXT — TEXT as `tern status` prints a continuation line: cut to 76
# columns with "..." (time stamps are 20 bytes, masked afterwards)
note() {
	printf '%s\n' "$1" | awk '{ if (length($0) > 76) $0 = substr($0, 1, 73) "..."
	    print "    " $0 }' | mask
}
# start Dovecot and make sure it is ours: dv_start can be fooled by a
# concurrent start on the same ports (its own dovecot dies on bind, the
# other one answers); that shows as a dead master or a Fatal line
dvstart() {
	dv_start || return 1
	sleep 0.3
	if ! dv_status > /dev/null || grep -q 'Fatal' "$DV_LOG"; then
		grep 'Fatal' "$DV_LOG" | tail -2 >&2
		dv_stop
		echo "dovecot.sh: already in use (lost a start race)" >&2
		return 1
	fi
}
# What a refused connection reads as (net.c asks connect() again rather
# than SO_ERROR, which qemu-user 7.2 passes through untranslated on MIPS).
REFUSED="connection refused"

# ------------------------------------------------------------- messages
M=$TMP/msgs
mkdir -p "$M"
i=1
while [ $i -le 50 ]; do
	{
		printf 'From: sender%d@example.com\nTo: alice@example.com\n' $i
		printf 'Subject: m%d\nMessage-Id: <m%d@tern.test>\n\n' $i $i
		# 8 KB of body, so that a 50-message fetch takes a while
		j=0
		while [ $j -lt 100 ]; do
			printf 'message %d line %d ..........................................................................\n' $i $j
			j=$((j + 1))
		done
	} > "$M/m$i"
	i=$((i + 1))
done

# ================================================================ server
start_server dv-start "$TMP/dv.err" dvstart dv_ports_next
DEAD_PORT=$((POP3_PORT + 1))	# nothing listens there (checked below)
DEAD_PORT2=$((POP3_PORT + 2))

# ================================================= auth: 10 wrong passwords
# one UIDVALIDITY for both fills of this case, so that the messages
# already fetched keep their UIDLs when two are added
DV_UIDVALIDITY=4242
dv_fill alice --clear "$M/m1" "$M/m2" "$M/m3"
DV_UIDVALIDITY=
conf auth
fetch auth
check auth-run0-ok "$RC $(lastev auth fetch)" \
    "0 fetch account=a service=pop3 result=ok new=3 bytes=$(cat "$M/m1" "$M/m2" "$M/m3" | wc -c) deleted=0 ms=X"
conf auth "	option password 'wrong-pw'"
dvsettle
mis0=$(grep -c 'Password mismatch' "$DV_LOG")
rcs= fl= sk=
n=1
while [ $n -le 9 ]; do
	fetch auth
	rcs="$rcs $RC"
	fl="$fl $(lastev auth auth | sed -n 's/.* failures=\([0-9/]*\) .*/\1/p')"
	sk="$sk $(skey auth auth_failures)"
	n=$((n + 1))
done
check auth-runs1-9-exit "${rcs# }" "$(seqof 77 9)"
check auth-runs1-9-log-counts "${fl# }" "1/10 2/10 3/10 4/10 5/10 6/10 7/10 8/10 9/10"
check auth-runs1-9-status-counts "${sk# }" "1 2 3 4 5 6 7 8 9"
check auth-runs1-9-not-disabled "$(nev auth disabled) $(skey auth state)" \
    "0 enabled"
ERR=$(lastev auth auth | sed -n 's/.* error=//p')
check auth-error-text "$ERR" '"-ERR [AUTH] Authentication failed."'
fetch auth
check auth-run10-exit "$RC" 77
check auth-run10-log "$(events auth | tail -3)" \
"auth account=a service=pop3 result=fail failures=10/10 error=$ERR
disabled account=a service=pop3 reason=auth failures=10
fetch account=a service=pop3 result=fail new=0 bytes=0 deleted=0 ms=X error=$ERR"
check auth-run10-stderr "$(cat "$TMP/auth/err")" \
"tern: a pop3: disabled after 10 authentication failures in a row
tern: a: pop3: -ERR [AUTH] Authentication failed."
dvsettle
check auth-dovecot-saw-10 "$(($(grep -c 'Password mismatch' "$DV_LOG") - mis0))" 10
check auth-status-k "$(statusk auth)" \
    "account=a service=pop3 state=disabled reason=auth disabled_since=T auth_failures=10 max_auth_failures=10 conn_failures=0 max_conn_failures=50 last_success=T last_error_time=T last_error=\"-ERR [AUTH] Authentication failed.\""
# the times themselves: disabled_since and last_error_time are the time of
# the last failure, last_success the time of run 0 (before it)
st=$("$TERN" -c "$TMP/auth/conf" status -k)
ds=$(echo "$st" | tr ' ' '\n' | sed -n 's/^disabled_since=//p')
le=$(echo "$st" | tr ' ' '\n' | sed -n 's/^last_error_time=//p')
ls_=$(echo "$st" | tr ' ' '\n' | sed -n 's/^last_success=//p')
lastdis=$(grep ' disabled account=a ' "$TMP/auth/log" | tail -1 | cut -c1-20)
firstok=$(grep ' fetch account=a service=pop3 result=ok' "$TMP/auth/log" |
    head -1 | cut -c1-20)
check auth-status-k-times "$ds $le $ls_" "$lastdis $lastdis $firstok"
check auth-status "$("$TERN" -c "$TMP/auth/conf" status 2>&1 | mask)" \
"ACCOUNT          SERVICE STATE     AUTH   CONNECT   LAST SUCCESS
a                pop3    disabled  10/10  0/50      T
    disabled since T: 10 authentication failures in a row
    last error T: -ERR [AUTH] Authentication failed."

# run 11: skipped, no connection, nothing written under state_dir
before=$(snap "$TMP/auth/state")
lines=$(dvlines)
fetch auth
check auth-run11-exit "$RC" 69
check auth-run11-log "$(events auth | tail -1)" \
    "disabled account=a service=pop3 reason=auth failures=10 action=skip"
check auth-run11-stderr "$(cat "$TMP/auth/err")" \
    "tern: a pop3: disabled (auth); \`tern enable a\` or fix the settings"
sleep 0.3
check auth-run11-no-connection "$(dvlines)" "$lines"
check auth-run11-state-untouched "$(snap "$TMP/auth/state")" "$before"
fetch auth
check auth-run12-still-skipped "$RC $(nev auth auth)" "69 10"
check auth-run12-no-connection "$(dvlines)" "$lines"

# the password fixed in the configuration: enabled again, and it fetches
DV_UIDVALIDITY=4242
dv_fill alice "$M/m4" "$M/m5"
DV_UIDVALIDITY=
conf auth
fetch auth
check auth-fixed-exit "$RC" 0
check auth-fixed-log "$(events auth | tail -2)" \
"enabled account=a service=pop3 reason=config-changed
fetch account=a service=pop3 result=ok new=2 bytes=$(cat "$M/m4" "$M/m5" | wc -c) deleted=0 ms=X"
check auth-fixed-status "$(skey auth state) $(skey auth auth_failures)" \
    "enabled 0"
check auth-fixed-maildir "$(count "$TMP/auth/md/new")" 5

# ============================================= manual disable and enable
conf man "	option password 'wrong-pw'"
for n in 1 2 3; do fetch man; done
check manual-counted "$RC $(skey man auth_failures)" "77 3"
tern_ man disable a
check manual-disable "$RC $(cat "$TMP/man/out")" "0 a pop3 disabled"
check manual-disable-log "$(events man | tail -1)" \
    "disabled account=a service=pop3 reason=manual"
lines=$(dvlines)
fetch man
check manual-skip "$RC $(events man | tail -1)" \
    "69 disabled account=a service=pop3 reason=manual action=skip"
# a config change does not lift a disable by hand
conf man
fetch man
check manual-kept-over-config-change "$RC $(events man | tail -1)" \
    "69 disabled account=a service=pop3 reason=manual action=skip"
sleep 0.3
check manual-no-connection "$(dvlines)" "$lines"
check manual-status-k "$(statusk man)" \
    "account=a service=pop3 state=disabled reason=manual disabled_since=T auth_failures=3 max_auth_failures=10 conn_failures=0 max_conn_failures=50 last_success=\"\" last_error_time=T last_error=\"-ERR [AUTH] Authentication failed.\""
check manual-status "$("$TERN" -c "$TMP/man/conf" status 2>&1 | mask)" \
"ACCOUNT          SERVICE STATE     AUTH   CONNECT   LAST SUCCESS
a                pop3    disabled  3/10   0/50      never
    disabled by hand since T (tern enable a)
    last error T: -ERR [AUTH] Authentication failed."
tern_ man enable a
check manual-enable "$RC $(cat "$TMP/man/out")" "0 a pop3 enabled"
check manual-enable-log "$(events man | tail -1)" \
    "enabled account=a service=pop3 reason=manual"
check manual-enable-clears "$(skey man state) $(skey man auth_failures)" \
    "enabled 0"
# counting starts again from zero
conf man "	option password 'wrong-pw'"
fetch man
check manual-recount "$RC $(lastev man auth | sed 's/ error=.*//')" \
    "77 auth account=a service=pop3 result=fail failures=1/10"
conf man
fetch man
check manual-fetches "$RC $(lastev man fetch | sed 's/ bytes=.*//')" \
    "0 fetch account=a service=pop3 result=ok new=5"
check manual-reset "$(skey man auth_failures)" 0

# ================================================== conn: a closed port
if ! closed "$DEAD_PORT" || ! closed "$DEAD_PORT2"; then
	fail conn-port "something listens on 127.0.0.1:$DEAD_PORT or $DEAD_PORT2"
else
	conf conn "	option pop3_port '$DEAD_PORT'"
	rcs= fl= sk=
	n=1
	while [ $n -le 49 ]; do
		fetch conn
		rcs="$rcs $RC"
		fl="$fl $(lastev conn connect | sed -n 's/.* failures=\([0-9]*\)\/50 .*/\1/p')"
		sk="$sk $(skey conn conn_failures)"
		n=$((n + 1))
	done
	want=$(i=1; while [ $i -le 49 ]; do printf ' %d' $i; i=$((i + 1)); done)
	check conn-runs1-49-exit "${rcs# }" "$(seqof 75 49)"
	check conn-runs1-49-log-counts "${fl# }" "${want# }"
	check conn-runs1-49-status-counts "${sk# }" "${want# }"
	check conn-runs1-49-once-per-run "$(nev conn connect) $(nev conn disabled)" \
	    "49 0"
	E="error=\"connect localhost port $DEAD_PORT: $REFUSED\""
	check conn-error "$(lastev conn connect)" \
	    "connect account=a service=pop3 result=fail failures=49/50 $E"
	fetch conn
	check conn-run50-exit "$RC" 75
	check conn-run50-log "$(events conn | tail -3)" \
"connect account=a service=pop3 result=fail failures=50/50 $E
disabled account=a service=pop3 reason=connect failures=50
fetch account=a service=pop3 result=fail new=0 bytes=0 deleted=0 ms=X $E"
	check conn-status-k "$(statusk conn)" \
	    "account=a service=pop3 state=disabled reason=connect disabled_since=T auth_failures=0 max_auth_failures=10 conn_failures=50 max_conn_failures=50 last_success=\"\" last_error_time=T last_error=\"connect localhost port $DEAD_PORT: $REFUSED\""
	# the table is cut to 80 columns (with the real time stamp)
	check conn-status "$("$TERN" -c "$TMP/conn/conf" status 2>&1 | mask)" \
"ACCOUNT          SERVICE STATE     AUTH   CONNECT   LAST SUCCESS
a                pop3    disabled  0/10   50/50     never
    disabled since T: 50 runs in a row could not connect
$(note "last error 0000-00-00T00:00:00Z: connect localhost port $DEAD_PORT: $REFUSED")"
	before=$(snap "$TMP/conn/state")
	fetch conn
	check conn-run51-skip "$RC $(events conn | tail -1)" \
	    "69 disabled account=a service=pop3 reason=connect failures=50 action=skip"
	check conn-run51-no-attempt "$(nev conn connect)" 50
	check conn-run51-state-untouched "$(snap "$TMP/conn/state")" "$before"
	# a credential change is not what was wrong: still disabled
	conf conn "	option pop3_port '$DEAD_PORT'" \
	    "	option password 'other-pw'"
	fetch conn
	check conn-auth-change-keeps-disabled "$RC" 69
	# the port fixed: enabled again, and it fetches
	conf conn
	fetch conn
	check conn-fixed "$RC $(events conn | tail -2 | sed 's/ bytes=.*//')" \
"0 enabled account=a service=pop3 reason=config-changed
fetch account=a service=pop3 result=ok new=5"
	check conn-fixed-status "$(skey conn state) $(skey conn conn_failures)" \
	    "enabled 0"

	# retries 2: three attempts in one run, one failure counted
	conf retry "	option pop3_port '$DEAD_PORT2'" "	option retries '2'"
	s0=$(date +%s%N)
	fetch retry
	ms=$((($(date +%s%N) - s0) / 1000000))
	E="error=\"connect localhost port $DEAD_PORT2: $REFUSED\""
	check retry-exit "$RC" 75
	check retry-log "$(events retry)" \
"connect account=a service=pop3 result=retry attempt=2 in_ms=1000 $E
connect account=a service=pop3 result=retry attempt=3 in_ms=2000 $E
connect account=a service=pop3 result=fail failures=1/50 $E
fetch account=a service=pop3 result=fail new=0 bytes=0 deleted=0 ms=X $E"
	check retry-counted-once "$(skey retry conn_failures)" 1
	if [ $ms -ge 2900 ] && [ $ms -lt 10000 ]; then
		pass retry-backoff-time
	else
		fail retry-backoff-time "$ms ms, want about 3000"
	fi
fi

# ======================================================= offline: no DNS
# A private /etc/resolv.conf in a mount namespace.  Nothing listens on
# 127.0.0.1:53 (checked); the first run waits for it (timeout:1), the
# others use timeout:0 — musl's resolver then returns EAI_AGAIN without
# waiting, the same answer as after a timeout, so 60 runs stay fast.
offline_runs() {	# CASE ERE — the 60 runs, and the checks; ERE: the error
	rcs=
	n=1
	while [ $n -le 60 ]; do
		[ $n = 2 ] && [ -n "${RC2:-}" ] && cp "$RC2" "$TMP/$1/resolv.conf"
		fetch "$1"
		rcs="$rcs $RC"
		[ $n = 2 ] && after2=$(snap "$TMP/$1/state")
		n=$((n + 1))
	done
	check "$1-exit" "${rcs# }" "$(seqof 75 60)"
	check "$1-never-counted" \
	    "$(nev "$1" connect) $(nev "$1" auth) $(nev "$1" disabled) $(nev "$1" fetch)" \
	    "0 0 0 60"
	err_=$(lastev "$1" fetch | sed -n 's/.* error="\(.*\)"$/\1/p')
	check_re "$1-error" "$err_" "$2"
	check "$1-fetch-log" "$(events "$1" | sort -u)" \
	    "fetch account=a service=pop3 result=fail new=0 bytes=0 deleted=0 ms=X error=\"$err_\""
	check "$1-status-k" "$(statusk "$1")" \
	    "account=a service=pop3 state=enabled reason=\"\" disabled_since=\"\" auth_failures=0 max_auth_failures=10 conn_failures=0 max_conn_failures=50 last_success=\"\" last_error_time=T last_error=\"$err_\""
	# the same temporary error is not written again on every run
	check "$1-state-written-once" "$(snap "$TMP/$1/state")" "$after2"
}
udp53=$("$PY" -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.bind(("127.0.0.1", 53))
    print("free")
except OSError as e:
    print(e)')
if ! unshare -m true 2>/dev/null; then
	skip offline-dns "unshare -m not allowed here"
elif [ "$udp53" != free ]; then
	skip offline-dns "something uses 127.0.0.1:53 ($udp53)"
else
	conf dns "	option pop3_host 'pop.example.invalid'" \
	    "	option pop3_port '995'"
	printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' \
	    > "$TMP/dns/resolv.conf"
	printf 'nameserver 127.0.0.1\noptions timeout:0 attempts:1\n' \
	    > "$TMP/resolv0.conf"
	cat > "$TMP/dns/wrap" <<EOF
#!/bin/sh
exec unshare -m sh -c 'mount --bind "\$0" /etc/resolv.conf && exec "\$@"' \\
    "$TMP/dns/resolv.conf" "\$@"
EOF
	chmod 755 "$TMP/dns/wrap"
	WRAP=$TMP/dns/wrap RC2=$TMP/resolv0.conf
	# musl says "Try again", glibc (the sanitizer build) more
	offline_runs dns \
	    'pop\.example\.invalid: cannot resolve now \((Try again|Temporary failure in name resolution)\): offline\?'
	WRAP= RC2=
fi

# ==================================================== offline: no route
# An empty network namespace: no interface up, no route; 192.0.2.1
# (TEST-NET-1) is never reached — nothing leaves the namespace.
if ! unshare -n true 2>/dev/null; then
	skip offline-noroute "unshare -n not allowed here"
else
	conf noroute "	option pop3_host '192.0.2.1'" "	option pop3_port '995'"
	WRAP="unshare -n"
	offline_runs noroute \
	    'connect 192\.0\.2\.1 port 995: Network (is )?unreachable \(offline\?\)'
	WRAP=
fi

# ====================================== four accounts, one stalled, deadline
cat > "$TMP/stall.script" <<'EOF'
# a server that completes TLS and never greets
listen tls
stall 20
EOF
"$PY" "$top/tests/dialog/fakeserver.py" --script "$TMP/stall.script" \
    --port 0 --portfile "$TMP/fs.port" --log "$TMP/fs.log" \
    --certdir "$PKIDIR" --timeout 40 2> "$TMP/fs.err" &
FS_PID=$!
i=0
while [ ! -s "$TMP/fs.port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
FS_PORT=$(cat "$TMP/fs.port" 2>/dev/null)
dv_fill alice --clear "$M/m1" "$M/m2" "$M/m3"
dv_fill bob --clear "$M/m4" "$M/m5"
mkdir -p "$TMP/dl"
cat > "$TMP/dl/conf" <<EOF
config tern 'main'
	option log '$TMP/dl/log'
	option state_dir '$TMP/dl/state'
	option spool_dir '$TMP/dl/spool'
	option ca_file '$PKIDIR/ca.pem'
	option timeout '30'
	option deadline '5'
	option parallel '4'
config account 'a'
	option user 'alice'
	option password 'alice-pw-1'
	option pop3_host 'localhost'
	option pop3_port '$POP3S_PORT'
	option keep '1'
	option retries '0'
	option maildir '$TMP/dl/md-a'
config account 'b'
	option user 'bob'
	option password 'bob-pw-2'
	option pop3_host 'localhost'
	option pop3_port '$POP3S_PORT'
	option keep '0'
	option retries '0'
	option maildir '$TMP/dl/md-b'
config account 'c'
	option user 'alice'
	option password 'alice-pw-1'
	option pop3_host 'localhost'
	option pop3_port '$POP3_PORT'
	option pop3_tls 'starttls'
	option keep '1'
	option retries '0'
	option maildir '$TMP/dl/md-c'
config account 'd'
	option user 'dave'
	option password 'dave-pw'
	option pop3_host 'localhost'
	option pop3_port '${FS_PORT:-1}'
	option keep '0'
	option retries '0'
	option maildir '$TMP/dl/md-d'
EOF
s0=$(date +%s%N)
fetch dl
ms=$((($(date +%s%N) - s0) / 1000000))
check deadline-exit "$RC" 75
if [ $ms -ge 4500 ] && [ $ms -lt 15000 ]; then
	pass deadline-wall-time
else
	fail deadline-wall-time "$ms ms, want about 5000"
fi
ba=$(cat "$M/m1" "$M/m2" "$M/m3" | wc -c)
bb=$(cat "$M/m4" "$M/m5" | wc -c)
check deadline-log "$(events dl | grep '^fetch ' | sort)" \
"fetch account=a service=pop3 result=ok new=3 bytes=$ba deleted=0 ms=X
fetch account=b service=pop3 result=ok new=2 bytes=$bb deleted=2 ms=X
fetch account=c service=pop3 result=ok new=3 bytes=$ba deleted=0 ms=X
fetch account=d service=pop3 result=fail new=0 bytes=0 deleted=0 ms=X error=\"deadline of 5 s reached\""
check deadline-event "$(events dl | grep '^deadline ')" \
    "deadline result=reached seconds=5 unstarted=0"
check deadline-delivered \
    "$(count "$TMP/dl/md-a/new") $(count "$TMP/dl/md-b/new") $(count "$TMP/dl/md-c/new") $(count "$TMP/dl/md-d/new")" \
    "3 2 3 0"
check deadline-server "$(onserver "$SRV_A") $(onserver "$SRV_B")" "3 0"
check deadline-stalled-not-counted \
    "$("$TERN" -c "$TMP/dl/conf" status -k | grep 'account=d ' | tr ' ' '\n' | grep -E '^(state|conn_failures|auth_failures)=' | tr '\n' ' ')" \
    "state=enabled auth_failures=0 conn_failures=0 "
wait "$FS_PID"
fsrc=$?
FS_PID=
check deadline-fakeserver "$fsrc $(grep -c 'client closed after' "$TMP/fs.log")" \
    "0 1"

# ===================================== two runs at once on one account
conf lock "	option keep '0'"
set --
i=1
while [ $i -le 50 ]; do set -- "$@" "$M/m$i"; i=$((i + 1)); done
busy=0
for round in 1 2 3; do
	dv_fill alice --clear "$@"
	rm -rf "$TMP/lock/md"
	: > "$TMP/lock/log"
	"$TERN" -c "$TMP/lock/conf" run > "$TMP/lock/out1" 2>&1 &
	p1=$!
	"$TERN" -c "$TMP/lock/conf" run > "$TMP/lock/out2" 2>&1 &
	p2=$!
	wait $p1; r1=$?
	wait $p2; r2=$?
	check "lock-round$round" \
	    "$r1 $r2 $(count "$TMP/lock/md/new") $(distinct "$TMP/lock/md/new") $(onserver "$SRV_A")" \
	    "0 0 50 50 0"
	if [ "$(nev lock lock)" -ge 1 ]; then
		# one of the two skipped; the other fetched all 50
		busy=$((busy + 1))
		check "lock-round$round-busy" "$(events lock | sed 's/ bytes=.*//')" \
"lock account=a service=pop3 result=busy error=\"another tern run holds the lock; skipped\"
fetch account=a service=pop3 result=ok new=50"
	else
		# no overlap this time: the second found the mailbox empty
		check "lock-round$round-serial" \
		    "$(events lock | sed 's/ bytes=.*//' | sort)" \
"fetch account=a service=pop3 result=ok new=0
fetch account=a service=pop3 result=ok new=50"
	fi
done
if [ $busy -ge 1 ]; then
	pass lock-busy-seen
else
	fail lock-busy-seen "3 rounds, the two runs never overlapped"
fi

# ========================================== an idle run writes nothing
dv_fill alice --clear "$M/m1" "$M/m2" "$M/m3"
conf idle
fetch idle
check idle-first "$RC $(lastev idle fetch | sed 's/ bytes=.*//')" \
    "0 fetch account=a service=pop3 result=ok new=3"
before=$(snap "$TMP/idle/state")
sleep 1.1
fetch idle
check idle-second "$RC $(lastev idle fetch | sed 's/ bytes=.*//')" \
    "0 fetch account=a service=pop3 result=ok new=0"
check idle-state-untouched "$(snap "$TMP/idle/state")" "$before"
# not vacuous: the state file, the UIDL ledger and the TLS memo (the
# second run's handshake used it: nothing new to remember) are there
check idle-state-files "$(cd "$TMP/idle/state" && find . -type f | grep -c .)
$(cd "$TMP/idle/state" && ls a.pop3 tls-memo)" "3
a.pop3
tls-memo"

# ================================= notyet: a certificate from the future
dv_stop
CERT=notyet
if ! dvstart 2> "$TMP/dv.err"; then
	fail notyet-start "$(tr '\n' '|' < "$TMP/dv.err")"
else
	conf notyet
	rcs=
	n=1
	while [ $n -le 60 ]; do
		fetch notyet
		rcs="$rcs $RC"
		n=$((n + 1))
	done
	check notyet-exit "${rcs# }" "$(seqof 75 60)"
	check notyet-never-counted \
	    "$(nev notyet connect) $(nev notyet auth) $(nev notyet disabled) $(nev notyet tls) $(nev notyet fetch)" \
	    "0 0 0 60 60"
	check notyet-tls-log "$(lastev notyet tls | mask)" \
	    "tls account=a service=pop3 result=fail error=\"certificate not valid before T (system clock T)\" fingerprint=sha256:$(sed 's/../&:/g; s/:$//' "$PKIDIR/notyet.sha256" | tr a-f A-F)"
	check notyet-status "$(skey notyet state) $(skey notyet conn_failures) $(skey notyet auth_failures)" \
	    "enabled 0 0"
fi

echo "# unattended.sh: $(($(date +%s) - T0)) s"
