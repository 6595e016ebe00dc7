#!/bin/sh
# tests/real/fetch.sh — `tern fetch` against the real, private Dovecot of
# tests/real/dovecot.sh (self-made CA of tests/real/pki.sh, 127.0.0.1 only).
#   sh tests/real/fetch.sh            (from the repository root)
#   TERN=build/test/tern sh tests/real/fetch.sh
# Env: TERN (the binary under test; may be a wrapper, e.g. qemu), and
# POP3_PORT (13110) / POP3S_PORT (13995) for this suite's own Dovecot.
#
# Covered: implicit TLS and STARTTLS with the RSA and the EC certificate,
# pop3_host 'localhost' (also when it resolves to ::1 first while Dovecot
# listens on 127.0.0.1 only: a private /etc/hosts in a mount namespace,
# skipped where unshare is not allowed); every auth mechanism Dovecot
# offers (auto → PLAIN, user, plain, login, cram-md5, apop), checked in
# Dovecot's own login log; a wrong password (77, the auth event); keep 1
# (UIDL tracking) and keep 0 (Dovecot's Maildir empty afterwards);
# max_messages batches; max_size (left on the server, logged once);
# a From filter into Maildir/.Folder; recent (Dovecot translates ':' in
# user names to '-', so "recent:alice" logs in as the user
# "recent-alice": the trace shows the exact USER line, Dovecot's log the
# PLAIN login); delete_after_days (needs TERN_TEST_NOW, so only with the
# sanitizer build build/test/tern; SKIP otherwise); message bodies byte
# for byte (dot lines, a 5000-byte line, 8-bit bytes, 20 MB); the exact
# fetch log line; exit codes 0, 75 (refused), 77, 78.
# Every wait is bounded; Dovecot is always stopped (EXIT trap).
. "$(dirname "$0")/../lib.sh"
# ports: given, or the first free pair of 13110/13995 + 10*k (k < 5), so
# that two runs of this suite (say, native and under qemu) can overlap
PORTS_GIVEN=${POP3_PORT:+1}
POP3_PORT=${POP3_PORT:-13110}	# before dovecot.sh, which has defaults
POP3S_PORT=${POP3S_PORT:-13995}
. "$top/tests/real/dovecot.sh"

WORKDIR=$(mktemp -d /tmp/tdvf.XXXXXX)
PKIDIR=$WORKDIR/pki
export PKIDIR
SRV=$WORKDIR/home/alice/Maildir
cleanup() {
	dv_stop
	rm -rf "$TMP" "$WORKDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
nfail=0
fail() { echo "FAIL ${PFX:-}$1: $2"; nfail=$((nfail + 1)); }
skip() { echo "SKIP ${PFX:-}$1: $2"; }

# ---------------------------------------------------------------- helpers

# conf CASE [LINE...] — $TMP/CASE/conf: main section and account 'a'
# (alice over implicit TLS to localhost), then the extra lines verbatim
# (later options win, as in UCI).  Each case has its own state, log and
# Maildir below $TMP/CASE.
conf() {
	cd_=$TMP/$1; shift
	mkdir -p "$cd_"
	{
		printf "config tern 'main'\n"
		printf "\toption log '%s/log'\n" "$cd_"
		printf "\toption state_dir '%s/state'\n" "$cd_"
		printf "\toption spool_dir '%s/spool'\n" "$cd_"
		printf "\toption ca_file '%s'\n" "$PKIDIR/ca.pem"
		printf "\toption timeout '30'\n"
		printf "\toption deadline '240'\n"
		printf "config account 'a'\n"
		printf "\toption user 'alice'\n"
		printf "\toption password 'alice-pw-1'\n"
		printf "\toption pop3_host 'localhost'\n"
		printf "\toption pop3_port '%s'\n" "$POP3S_PORT"
		printf "\toption pop3_tls 'implicit'\n"
		printf "\toption keep '1'\n"
		printf "\toption maildir '%s/md'\n" "$cd_"
		for l_ in "$@"; do printf '%s\n' "$l_"; done
	} > "$cd_/conf"
}

# fetch CASE [tern options...] — run `tern -c conf [opts] fetch`; RC,
# $TMP/CASE/out and err
fetch() {
	cd_=$TMP/$1; shift
	"$TERN" -c "$cd_/conf" "$@" fetch > "$cd_/out" 2> "$cd_/err"
	RC=$?
}

# events CASE — the log without timestamps, ms masked
events() {
	[ -f "$TMP/$1/log" ] || return 0
	log_events "$TMP/$1/log" | sed -E 's/ ms=[0-9]+/ ms=X/'
}
# lastev CASE WORD — the last event WORD, masked
lastev() { events "$1" | grep "^$2 " | tail -1; }
# nev CASE WORD — how many events WORD
nev() { events "$1" | grep -c "^$2 "; }

# sums FILE... — sorted SHA-256 of each file (a multiset of contents)
sums() {
	for f_ in "$@"; do
		[ -f "$f_" ] && sha256sum < "$f_" | cut -c1-64
	done | sort
}
# dirsums DIR — the same for every file in DIR
dirsums() {
	find "$1" -maxdepth 1 -type f -exec sha256sum {} + 2>/dev/null |
	    cut -c1-64 | sort
}
count() { find "$1" -maxdepth 1 -type f 2>/dev/null | wc -l; }
# onserver — messages in alice's Maildir at Dovecot
onserver() { find "$SRV/cur" "$SRV/new" -type f 2>/dev/null | wc -l; }
# size FILE... — total bytes
size() { cat "$@" | wc -c; }
# dvlogins USER — Dovecot's "Login:" lines for USER so far
dvlogins() { grep "pop3-login: Info: Login: user=<$1>" "$DV_LOG"; }

okline() {	# NEW BYTES DELETED [EXTRA] — the exact fetch event
	echo "fetch account=a service=pop3 result=ok new=$1 bytes=$2" \
	    "deleted=$3${4:+ $4} ms=X"
}

# ------------------------------------------------------------- messages
M=$TMP/msgs
mkdir -p "$M"
i=1
while [ $i -le 5 ]; do
	printf 'From: sender%d@example.com\nTo: alice@example.com\nSubject: m%d\nMessage-Id: <m%d@tern.test>\n\nbody %d\n' \
	    $i $i $i $i $i > "$M/s$i"
	i=$((i + 1))
done
# dot-stuffing: lines that are or start with dots, also the last line
printf 'From: dots@example.com\nSubject: dots\n\n.\n..\n...\n.leading\n..two leading\n. space\nmiddle . dot\n.\n' \
    > "$M/dots"
# a 5000-byte line without a break, and every 8-bit byte
{
	printf 'From: long@example.com\nSubject: long and 8-bit\nContent-Type: text/plain; charset=latin1\n\n'
	head -c 5000 /dev/zero | tr '\0' 'L'
	printf '\n8bit: '
	printf '\200\201\237\240\251\300\337\340\351\374\376\377\n'
	printf 'caf\303\251 na\303\257ve \342\202\254\n\n\nafter blank lines\n'
} > "$M/long"
# 20 MB: 76-byte lines with an 8-bit byte, a dot line now and then
{
	printf 'From: big@example.com\nSubject: twenty megabytes\n\n'
	yes '.x0123456789abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 012345678' |
	    head -c 20971520 | tr 'Z' '\351'
	echo
} > "$M/big"
# a 100 KB message for max_size
{
	printf 'From: large@example.com\nSubject: large\n\n'
	yes 'large message line large message line large message line' |
	    head -c 102400
} > "$M/large"
# for the filter
printf 'From: The Boss <boss@example.com>\nSubject: filtered\n\nto the folder\n' \
    > "$M/boss"

# ================================================================ server
start_server dv-start "$TMP/dv.err" dv_start dv_ports_next
DEAD_PORT=$((POP3_PORT + 1))	# nothing listens there (checked below)
# recent mode: Dovecot refuses ':' in user names, but translates it first
# (auth_username_translation), so "recent:alice" becomes "recent-alice",
# a second entry for alice's password and home.  Reload, bounded wait.
echo 'auth_username_translation = :-' >> "$WORKDIR/etc/dovecot.conf"
l=$(grep '^alice:' "$WORKDIR/etc/users")
printf 'recent-%s\n' "$l" >> "$WORKDIR/etc/users"
doveadm -c "$WORKDIR/etc/dovecot.conf" reload 2> "$TMP/reload.err"
i=0
while ! grep -q 'SIGHUP received' "$DV_LOG" && [ $i -lt 50 ]; do
	sleep 0.1; i=$((i + 1))
done
check dv-reload "$(grep -c 'SIGHUP received' "$DV_LOG")" 1
sleep 0.3	# the new login and auth processes

# ---- implicit TLS, RSA, auth auto, bodies byte for byte ---------------
dv_fill alice --clear "$M/s1" "$M/dots" "$M/long" "$M/big"
conf tls
fetch tls
B=$(size "$M/s1" "$M/dots" "$M/long" "$M/big")
check tls-rsa-rc "$RC" 0
check tls-rsa-event "$(events tls)" "$(okline 4 "$B" 0)"
check tls-rsa-stderr "$(cat "$TMP/tls/err")" ""
check tls-rsa-stdout "$(cat "$TMP/tls/out")" ""
check tls-bodies-exact "$(dirsums "$TMP/tls/md/new")" \
    "$(sums "$M/s1" "$M/dots" "$M/long" "$M/big")"
check tls-big-exact "$(for f in "$TMP/tls/md/new"/*; do
	cmp -s "$f" "$M/big" && echo same; done)" same
check tls-tmp-empty "$(count "$TMP/tls/md/tmp")" 0
check tls-cur-empty "$(count "$TMP/tls/md/cur")" 0
check tls-kept-on-server "$(onserver)" 4
check tls-auto-is-plain "$(dvlogins alice | grep -c \
    'method=PLAIN, .*TLS, TLSv1\.[23] with cipher')" 1
check tls-names "$(ls "$TMP/tls/md/new" | grep -cvE \
    '^[0-9]+\.M[0-9]+P[0-9]+Q[0-9]+\.[^/:]+,S=[0-9]+$')" 0
# keep 1: the second run finds nothing new (UIDL ledger): exit 0
fetch tls
check tls-again-rc "$RC" 0
check tls-again-event "$(lastev tls fetch)" "$(okline 0 0 0)"
check tls-again-nothing "$(count "$TMP/tls/md/new")" 4
check tls-again-kept "$(onserver)" 4

# ---- STARTTLS on the plain port ---------------------------------------
dv_fill alice --clear "$M/s2" "$M/dots"
conf stls "	option pop3_tls 'starttls'" "	option pop3_port '$POP3_PORT'"
fetch stls
check stls-rsa "$RC:$(events stls)" "0:$(okline 2 "$(size "$M/s2" \
    "$M/dots")" 0)"
check stls-rsa-exact "$(dirsums "$TMP/stls/md/new")" \
    "$(sums "$M/s2" "$M/dots")"
check stls-rsa-dovecot "$(dvlogins alice | tail -1 | grep -c \
    "lip=127.0.0.1, .*TLS, TLSv1\.[23] with cipher")" 1

# ---- localhost resolving to ::1 first; Dovecot is on 127.0.0.1 only ---
printf '::1 localhost\n127.0.0.1 localhost\n' > "$TMP/hosts"
if unshare -m sh -c "mount --bind '$TMP/hosts' /etc/hosts" 2>/dev/null
then
	dv_fill alice --clear "$M/s3"
	conf v6first
	unshare -m sh -c 'mount --bind "$1" /etc/hosts &&
	    exec "$2" -c "$3" -v fetch' sh "$TMP/hosts" "$TERN" \
	    "$TMP/v6first/conf" > "$TMP/v6first/out" 2> "$TMP/v6first/err"
	check v6first-race "$?:$(events v6first)" \
	    "0:$(okline 1 "$(size "$M/s3")" 0)"
	check v6first-exact "$(dirsums "$TMP/v6first/md/new")" "$(sums "$M/s3")"
	# diag shows the race: ::1 refused, then 127.0.0.1
	unshare -m sh -c 'mount --bind "$1" /etc/hosts &&
	    exec "$2" -c "$3" diag a' sh "$TMP/hosts" "$TERN" \
	    "$TMP/v6first/conf" > "$TMP/v6first/diag" 2>&1
	check v6first-diag "$?:$(grep -E '^  (\[::1\]|127\.0\.0\.1):' \
	    "$TMP/v6first/diag" | sed -E 's/ +/ /g; s/[0-9]+ ms$/X ms/')" \
	    "0: [::1]:$POP3S_PORT connection refused after X ms
 127.0.0.1:$POP3S_PORT connected after X ms"
else
	skip v6first-race "unshare -m / mount --bind not permitted here"
fi

# ---- every auth mechanism, named (auto is above) ----------------------
dv_fill alice --clear "$M/s4"
for m in user:PLAIN plain:PLAIN login:LOGIN cram-md5:CRAM-MD5 apop:APOP; do
	n=${m%%:*}
	before=$(dvlogins alice | grep -c "method=${m#*:},")
	conf "auth-$n" "	option auth '$n'"
	fetch "auth-$n"
	check "auth-$n" "$RC:$(events "auth-$n")" \
	    "0:$(okline 1 "$(size "$M/s4")" 0)"
	check "auth-$n-dovecot" "$(dvlogins alice | grep -c \
	    "method=${m#*:},")" $((before + 1))
	check "auth-$n-exact" "$(dirsums "$TMP/auth-$n/md/new")" \
	    "$(sums "$M/s4")"
done
# STARTTLS with a challenge-response mechanism, too
conf auth-stls-cram "	option auth 'cram-md5'" \
    "	option pop3_tls 'starttls'" "	option pop3_port '$POP3_PORT'"
fetch auth-stls-cram
check auth-stls-cram "$RC:$(events auth-stls-cram)" \
    "0:$(okline 1 "$(size "$M/s4")" 0)"

# ---- a wrong password: 77, the auth event, counted; a good one resets --
conf badpw "	option password 'not-the-password'"
fetch badpw
E='error="-ERR [AUTH] Authentication failed."'
check badpw-rc "$RC" 77
check badpw-events "$(events badpw)" "auth account=a service=pop3 \
result=fail failures=1/10 $E
fetch account=a service=pop3 result=fail new=0 bytes=0 deleted=0 ms=X $E"
check badpw-stderr "$(cat "$TMP/badpw/err")" \
    "tern: a: pop3: -ERR [AUTH] Authentication failed."
check badpw-nothing "$(count "$TMP/badpw/md/new")" 0
check badpw-dovecot "$(grep -c 'passwd-file(alice,127.0.0.1,.*Password mismatch' \
    "$DV_LOG")" 1
fetch badpw
check badpw-second "$RC:$(lastev badpw auth)" "77:auth account=a \
service=pop3 result=fail failures=2/10 $E"
conf badpw "	option auth 'cram-md5'"
fetch badpw
check badpw-fixed "$RC:$(lastev badpw fetch)" \
    "0:$(okline 1 "$(size "$M/s4")" 0)"
check badpw-reset "$(grep -h '^auth_failures=' "$TMP/badpw/state/a.pop3")" \
    auth_failures=0

# ---- keep 0: fetched and deleted on the server ------------------------
dv_fill alice --clear "$M/s1" "$M/s2" "$M/s3" "$M/dots" "$M/long"
conf keep0 "	option keep '0'"
fetch keep0
B=$(size "$M/s1" "$M/s2" "$M/s3" "$M/dots" "$M/long")
check keep0 "$RC:$(events keep0)" "0:$(okline 5 "$B" 5)"
check keep0-exact "$(dirsums "$TMP/keep0/md/new")" \
    "$(sums "$M/s1" "$M/s2" "$M/s3" "$M/dots" "$M/long")"
check keep0-server-empty "$(onserver)" 0
check keep0-tmp-empty "$(count "$TMP/keep0/md/tmp")" 0
check keep0-dovecot-del "$(grep -c 'Logged out .*del=5/5' "$DV_LOG")" 1
fetch keep0
check keep0-again "$RC:$(lastev keep0 fetch)" "0:$(okline 0 0 0)"

# ---- max_messages: 5 messages, 2 a run -> 2, 2, 1, 0 -------------------
dv_fill alice --clear "$M/s1" "$M/s2" "$M/s3" "$M/s4" "$M/s5"
conf batch "	option max_messages '2'"
got=
for r in 1 2 3 4; do
	fetch batch
	got="$got$RC:$(lastev batch fetch)|"
done
check batch-runs "$got" "0:$(okline 2 "$(size "$M/s1" "$M/s2")" 0 \
later=3)|0:$(okline 2 "$(size "$M/s3" "$M/s4")" 0 later=1)|0:$(okline 1 \
"$(size "$M/s5")" 0)|0:$(okline 0 0 0)|"
check batch-exact "$(dirsums "$TMP/batch/md/new")" \
    "$(sums "$M/s1" "$M/s2" "$M/s3" "$M/s4" "$M/s5")"
check batch-kept "$(onserver)" 5
# the same with keep 0: the server shrinks by two a run
conf batch0 "	option max_messages '2'" "	option keep '0'"
dv_fill alice --clear "$M/s1" "$M/s2" "$M/s3" "$M/s4" "$M/s5"
got=
for r in 1 2 3 4; do
	fetch batch0
	got="$got$RC:$(lastev batch0 fetch):$(onserver)|"
done
check batch-keep0 "$got" "0:$(okline 2 "$(size "$M/s1" "$M/s2")" 2 \
later=3):3|0:$(okline 2 "$(size "$M/s3" "$M/s4")" 2 later=1):1|0:$(okline 1 \
"$(size "$M/s5")" 1):0|0:$(okline 0 0 0):0|"
check batch-keep0-exact "$(dirsums "$TMP/batch0/md/new")" \
    "$(sums "$M/s1" "$M/s2" "$M/s3" "$M/s4" "$M/s5")"

# ---- max_size: the large one stays on the server, logged once ----------
dv_fill alice --clear "$M/s1" "$M/large" "$M/s2"
conf maxsize "	option max_size '50k'" "	option keep '0'"
fetch maxsize
check maxsize-first "$RC:$(events maxsize)" "0:$(okline 2 "$(size \
"$M/s1" "$M/s2")" 2 toobig=1)"
check maxsize-left "$(onserver):$(sums "$SRV"/cur/*)" "1:$(sums "$M/large")"
fetch maxsize
check maxsize-once "$RC:$(lastev maxsize fetch)" "0:$(okline 0 0 0)"
check maxsize-still-left "$(onserver)" 1
check maxsize-exact "$(dirsums "$TMP/maxsize/md/new")" \
    "$(sums "$M/s1" "$M/s2")"

# ---- a From filter into Maildir/.Folder -------------------------------
dv_fill alice --clear "$M/s1" "$M/boss" "$M/s2"
conf filter "config filter" "	option account 'a'" \
    "	option header 'From'" "	option contains 'BOSS@example.com'" \
    "	option folder 'Folder'"
fetch filter
check filter "$RC:$(events filter)" "0:$(okline 3 "$(size "$M/s1" \
"$M/boss" "$M/s2")" 0)"
check filter-folder "$(dirsums "$TMP/filter/md/.Folder/new")" \
    "$(sums "$M/boss")"
check filter-inbox "$(dirsums "$TMP/filter/md/new")" \
    "$(sums "$M/s1" "$M/s2")"
check filter-maildirfolder "$( [ -f "$TMP/filter/md/.Folder/maildirfolder" ] \
    && [ -d "$TMP/filter/md/.Folder/cur" ] && echo yes)" yes
check filter-tmp-empty "$(count "$TMP/filter/md/tmp"):$(count \
    "$TMP/filter/md/.Folder/tmp")" 0:0

# ---- recent: logs in as recent:alice ---------------------------------
dv_fill alice --clear "$M/s5"
conf recent "	option recent '1'" "	option auth 'user'"
fetch recent -v
check recent-user "$RC:$(events recent)" "0:$(okline 1 "$(size "$M/s5")" 0)"
check recent-user-line "$(grep -c '^a > USER recent:alice$' \
    "$TMP/recent/err")" 1
check recent-user-dovecot "$(dvlogins recent-alice | grep -c 'method=PLAIN')" 1
conf recent-plain "	option recent '1'" "	option auth 'plain'"
fetch recent-plain
check recent-plain "$RC:$(events recent-plain)" \
    "0:$(okline 1 "$(size "$M/s5")" 0)"
check recent-plain-dovecot "$(dvlogins recent-alice | grep -c \
    'method=PLAIN')" 2

# ---- delete_after_days: the clock is TERN_TEST_NOW (sanitizer build) --
case $TERN in
*/build/test/tern)
	T0=1900000000		# 2030-03-17T17:46:40Z
	dv_fill alice --clear "$M/s1" "$M/s2"
	conf age "	option delete_after_days '2'"
	got=
	for d in 0 1 2 3; do
		TERN_TEST_NOW=$((T0 + d * 86400 + 60))
		export TERN_TEST_NOW
		fetch age
		got="$got$RC:$(lastev age fetch):$(onserver)|"
	done
	unset TERN_TEST_NOW
	B=$(size "$M/s1" "$M/s2")
	check age-runs "$got" "0:$(okline 2 "$B" 0):2|0:$(okline 0 0 0):2|\
0:$(okline 0 0 2):0|0:$(okline 0 0 0):0|"
	check age-clock "$(cut -c1-20 "$TMP/age/log" | tr '\n' ' ')" \
	    "2030-03-17T17:47:40Z 2030-03-18T17:47:40Z 2030-03-19T17:47:40Z \
2030-03-20T17:47:40Z "
	check age-exact "$(dirsums "$TMP/age/md/new")" "$(sums "$M/s1" "$M/s2")"
	;;
*)	skip age-runs "delete_after_days needs TERN_TEST_NOW (build/test/tern)" ;;
esac

# ---- exit codes: refused 75, config error 78 --------------------------
if /usr/bin/python3 -c 'import socket, sys
sys.exit(socket.socket().connect_ex(("127.0.0.1", int(sys.argv[1]))) != 0)' \
    "$DEAD_PORT"; then
	fail down-port "something listens on 127.0.0.1:$DEAD_PORT"
else
	conf down "	option pop3_port '$DEAD_PORT'" "	option retries '0'"
	fetch down
	E="error=\"connect localhost port $DEAD_PORT: connection refused\""
	check down-rc "$RC" 75
	check down-events "$(events down)" "connect account=a service=pop3 \
result=fail failures=1/50 $E
fetch account=a service=pop3 result=fail new=0 bytes=0 deleted=0 ms=X $E"
	check down-stderr "$(cat "$TMP/down/err")" \
	    "tern: a: pop3: connect localhost port $DEAD_PORT: connection refused"
	check down-nothing "$( [ -e "$TMP/down/md/new" ] && count \
	    "$TMP/down/md/new" || echo 0)" 0
fi
conf badconf "	option pop3_port '99999'"
fetch badconf
check badconf-rc "$RC" 78
check badconf-stderr "$(cat "$TMP/badconf/err")" "tern: $TMP/badconf/conf:16: \
pop3_port: not a port number (1-65535): '99999'"
check badconf-no-log "$( [ -e "$TMP/badconf/log" ] && echo log)" ""

# ---- the EC certificate: implicit TLS and STARTTLS --------------------
dv_stop
if ! CERT=ec dv_start 2> "$TMP/dv.err"; then
	fail dv-start-ec "$(tr '\n' '|' < "$TMP/dv.err")"
else
	dv_fill alice --clear "$M/s1" "$M/long"
	B=$(size "$M/s1" "$M/long")
	conf tls-ec
	fetch tls-ec
	check tls-ec "$RC:$(events tls-ec)" "0:$(okline 2 "$B" 0)"
	check tls-ec-exact "$(dirsums "$TMP/tls-ec/md/new")" \
	    "$(sums "$M/s1" "$M/long")"
	conf stls-ec "	option pop3_tls 'starttls'" \
	    "	option pop3_port '$POP3_PORT'" "	option keep '0'"
	fetch stls-ec
	check stls-ec "$RC:$(events stls-ec):$(onserver)" \
	    "0:$(okline 2 "$B" 2):0"
	check stls-ec-exact "$(dirsums "$TMP/stls-ec/md/new")" \
	    "$(sums "$M/s1" "$M/long")"
	check ec-dovecot-tls "$(dvlogins alice | grep -c \
	    'with cipher ECDHE-ECDSA-')" 2
fi
# ---- an IP address as the host: matched against the iPAddress SAN -----
# (the server certificate holds IP:127.0.0.1; the mismatch case is
# tests/dialog's cert-wrongname-ip)
dv_fill alice --clear "$M/s1"
conf ip-host "	option pop3_host '127.0.0.1'"
fetch ip-host
check ip-host "$RC:$(events ip-host)" "0:$(okline 1 "$(size "$M/s1")" 0)"

# no delivery left anything in a tmp/
check all-tmp-empty "$(find "$TMP" -type f \( -path "$TMP/*/md/tmp/*" -o \
    -path "$TMP/*/md/.*/tmp/*" \) | wc -l)" 0
[ "$nfail" -eq 0 ]
