#!/bin/sh
# tests/real/send.sh — `tern send`, `flush`, `queue` and `run` against the
# real, private Exim of tests/real/mta.sh (self-made CA of
# tests/real/pki.sh, 127.0.0.1 only).
#   sh tests/real/send.sh             (from the repository root)
#   TERN=build/test/tern sh tests/real/send.sh
# Env: TERN (the binary under test; may be a wrapper, e.g. qemu), and
# SMTPS_PORT (17465) / SUBMIT_PORT (17587) / SMTP_PORT (17025) for this
# suite's own Exim (default: the first free triple of those + 10*k, k < 5).
#
# Covered: implicit TLS (465-style) and STARTTLS (587-style), messages
# with LF line ends arriving byte for byte (Exim stores LF; only its three
# trace fields differ) including dot lines; -t with To, Cc and Bcc (Bcc
# removed from every copy, every recipient exactly one copy, a recipient
# named twice gets one); 8-bit and UTF-8 bodies and a UTF-8 Subject; a
# 20 MB message; the server down: send queues (exit 0, queue … result=
# deferred, listed by `tern queue`), the server back: flush delivers it
# exactly once (the deferral is made due with TERN_TEST_NOW on the
# sanitizer build build/test/tern; on other builds by removing the
# message's .meta, which queue.h defines as "never tried"); a wrong
# password (77, the auth event, the message stays queued); a recipient
# refused with 550 (69, moved to failed/); a recipient tempfailed with
# 451 (exit 0, stays queued); 554 and 451 after the data; bob plus a
# tempfailed recipient (bob gets it once, only the other stays queued and
# is retried alone: the retry needs TERN_TEST_NOW, SKIP otherwise); -f
# as the Return-path; From, Date and Message-ID added when missing; CRLF
# input and a last line without a line end; AUTH PLAIN, LOGIN, CRAM-MD5
# by name; plain SMTP (tls none) sends no credential unless
# allow_plaintext_auth; a UTF-8 address over SMTPUTF8; the right password
# after a wrong one delivers the queued message and resets the count;
# `tern run` with an account that has no POP3 server flushes its queue.
# Every wait is bounded; Exim is always stopped (EXIT trap).
. "$(dirname "$0")/../lib.sh"
PORTS_GIVEN=${SMTPS_PORT:+1}
SMTP_PORT=${SMTP_PORT:-17025}	# before mta.sh, which has defaults
SUBMIT_PORT=${SUBMIT_PORT:-17587}
SMTPS_PORT=${SMTPS_PORT:-17465}
. "$top/tests/real/mta.sh"

WORKDIR=$(mktemp -d /tmp/tsms.XXXXXX)
PKIDIR=$WORKDIR/pki
export PKIDIR
cleanup() {
	mta_stop
	rm -rf "$TMP" "$WORKDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
nfail=0
fail() { echo "FAIL ${PFX:-}$1: $2"; nfail=$((nfail + 1)); }
skip() { echo "SKIP ${PFX:-}$1: $2"; }
case $TERN in
*/build/test/tern) TESTNOW=1 ;;
*) TESTNOW= ;;
esac

# ---------------------------------------------------------------- helpers

# conf CASE [LINE...] — $TMP/CASE/conf: main section and account 'a'
# (alice over implicit TLS to localhost, SMTP only), then the extra lines
# verbatim (later options win).  Each case has its own state, log, spool.
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
		printf "\toption email 'alice@example.com'\n"
		printf "\toption user 'alice'\n"
		printf "\toption password 'alice-pw-1'\n"
		printf "\toption smtp_host 'localhost'\n"
		printf "\toption smtp_port '%s'\n" "$SMTPS_PORT"
		printf "\toption smtp_tls 'implicit'\n"
		printf "\toption retries '0'\n"
		for l_ in "$@"; do printf '%s\n' "$l_"; done
	} > "$cd_/conf"
}

# tern CASE [ARGS...] < msg — run `tern -c conf ARGS`; RC, CASE/out, err
tern() {
	cd_=$TMP/$1; shift
	"$TERN" -c "$cd_/conf" "$@" > "$cd_/out" 2> "$cd_/err"
	RC=$?
}

# events CASE — the log without timestamps; ids, ms and next= masked
events() {
	[ -f "$TMP/$1/log" ] || return 0
	log_events "$TMP/$1/log" | sed -E 's/ id=[0-9a-f.]+/ id=ID/;
	    s/ ms=[0-9]+/ ms=X/; s/ next=[0-9T:Z-]+/ next=T/'
}
lastev() { events "$1" | grep "^$2 " | tail -1; }
okline() {	# RCPTS BYTES — the exact send event
	echo "send account=a service=smtp result=ok id=ID rcpts=$1 bytes=$2" \
	    "ms=X"
}
size() { cat "$@" | wc -c | tr -d ' '; }
# queued CASE — messages in the spool's q/ (not .meta), failed/
queued() { find "$TMP/$1/spool/q" -type f ! -name '*.meta' 2>/dev/null |
    wc -l | tr -d ' '; }
failed() { find "$TMP/$1/spool/failed" -type f ! -name '*.meta' \
    2>/dev/null | wc -l | tr -d ' '; }
# got USER N — wait for N files in USER's new/, then print the newest one
# stripped of Exim's trace fields into $TMP/got
got() {
	mta_wait "$1" "$2" 10 2>> "$TMP/mta.err" &&
	    mta_strip "$(mta_newest "$1")" > "$TMP/got"
}
# same NAME FILE — $TMP/got is byte for byte FILE
same() {
	if cmp -s "$TMP/got" "$2"; then pass "$1"
	else fail "$1" "$(cmp "$TMP/got" "$2" 2>&1 | head -1) $(diff \
	    "$TMP/got" "$2" 2>/dev/null | head -6 | tr '\n' '|' | cut -c1-300)"
	fi
}
# newcount USER — files in USER's new/ (catchall for unknown local parts)
nc() { mta_count "$1"; }

# ------------------------------------------------------------- messages
# every message has Date, Message-ID and From, so tern adds nothing and
# what arrives is the input exactly
M=$TMP/msgs
mkdir -p "$M"
hdr() {	# hdr NAME SUBJECT
	printf 'From: Alice <alice@example.com>\nTo: bob@example.com\n'
	printf 'Subject: %s\nDate: Sun, 22 Nov 2026 01:20:00 +0000\n' "$2"
	printf 'Message-ID: <%s@tern.test>\n' "$1"
}
{ hdr plain 'plain'; printf '\nbody\n.\n..\n.leading dot\n. x\nend\n'; } \
    > "$M/plain"
{ hdr stls 'starttls'; printf '\nover STARTTLS\n.\n'; } > "$M/stls"
{
	hdr 8bit '8-bit'
	printf 'Content-Type: text/plain; charset=latin1\n'
	printf 'Content-Transfer-Encoding: 8bit\n\n'
	printf '8bit: \200\201\237\240\251\300\337\340\351\374\376\377\n'
	printf 'tail\n'
} > "$M/8bit"
{
	printf 'From: Alice <alice@example.com>\nTo: bob@example.com\n'
	printf 'Subject: Gr\303\274\303\237e aus K\303\266ln \342\202\254 \360\237\230\200\n'
	printf 'Date: Sun, 22 Nov 2026 01:20:00 +0000\n'
	printf 'Message-ID: <utf8@tern.test>\nMIME-Version: 1.0\n'
	printf 'Content-Type: text/plain; charset=utf-8\n'
	printf 'Content-Transfer-Encoding: 8bit\n\n'
	printf 'caf\303\251 na\303\257ve \342\202\254 \346\227\245\346\234\254\350\252\236 \360\237\246\205\n'
} > "$M/utf8"
{
	hdr big 'twenty megabytes'
	printf '\n'
	yes '.x0123456789abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 012345678' |
	    head -c 20971520 | tr 'Z' '\351'
	echo
} > "$M/big"
# -t: To alice, Cc carol (catchall) and alice again, Bcc bob and a folded
# Bcc line with dave (catchall)
{
	printf 'From: Alice <alice@example.com>\n'
	printf 'To: Alice <alice@example.com>\n'
	printf 'Cc: carol@example.org, alice@example.com\n'
	printf 'Bcc: bob@example.com\n'
	printf 'Subject: with bcc\n'
	printf 'Bcc: Dave\n <dave@example.net>\n'
	printf 'Date: Sun, 22 Nov 2026 01:20:00 +0000\n'
	printf 'Message-ID: <bcc@tern.test>\n\nto three, and two blind\n'
} > "$M/bcc"
grep -v -e '^Bcc: ' -e '^ <dave' "$M/bcc" > "$M/bcc.sent"
for n in down badpw reject tempfail run; do
	{ hdr "$n" "$n"; printf '\nmessage %s\n' "$n"; } > "$M/$n"
done

# ================================================================ server
start_server mta-start "$TMP/mta.err" mta_start mta_ports_next

# ---- implicit TLS: byte for byte, dot lines ---------------------------
conf tls
tern tls send bob@example.com < "$M/plain"
check tls-rc "$RC" 0
check tls-event "$(events tls)" "$(okline 1 "$(size "$M/plain")")"
check tls-stdout-stderr "$(cat "$TMP/tls/out" "$TMP/tls/err")" ""
got bob 1
same tls-exact "$M/plain"
check tls-esmtpsa "$(grep -c "with esmtpsa .*(TLS1\.[23])" \
    "$(mta_newest bob)")" 1
check tls-queue-empty "$(queued tls)" 0
tern tls queue
check tls-queue-list "$RC:$(cat "$TMP/tls/out")" \
    "0:(no queued messages in $TMP/tls/spool)"

# ---- STARTTLS on the submission port ----------------------------------
conf stls "	option smtp_tls 'starttls'" "	option smtp_port '$SUBMIT_PORT'"
tern stls send bob@example.com < "$M/stls"
check stls "$RC:$(events stls)" "0:$(okline 1 "$(size "$M/stls")")"
got bob 2
same stls-exact "$M/stls"
check stls-mta-log "$(grep -c "<= alice@example.com .* P=esmtpsa X=TLS.* A=PLAIN:alice .*id=stls@tern.test" \
    "$MTA_LOG")" 1
check stls-auth-port "$(grep -c "AUTH mech=PLAIN port=$SUBMIT_PORT tls=yes" \
    "$MTA_LOG")" 1

# ---- -t: Bcc removed from every copy, one copy per recipient ----------
mta_clear alice
mta_clear bob
mta_clear catchall
conf bcc
tern bcc send -t -i < "$M/bcc"
check bcc "$RC:$(events bcc)" "0:$(okline 4 "$(size "$M/bcc.sent")")"
mta_wait alice 1 2>> "$TMP/mta.err"
mta_wait bob 1 2>> "$TMP/mta.err"
mta_wait catchall 2 2>> "$TMP/mta.err"
sleep 0.3	# a stray second copy would be late
check bcc-copies "$(nc alice):$(nc bob):$(nc catchall)" 1:1:2
n=0
for u in alice bob catchall; do
	for f in "$(mta_maildir $u)"/new/*; do
		mta_strip "$f" | cmp -s - "$M/bcc.sent" && n=$((n + 1))
	done
done
check bcc-removed-exact "$n" 4
check bcc-envelope "$(cat "$(mta_maildir catchall)"/new/* |
    grep '^Envelope-to: ' | sort | tr '\n' ' ')" \
    "Envelope-to: carol@example.org Envelope-to: dave@example.net "

# ---- 8-bit and UTF-8 ---------------------------------------------------
conf 8bit
mta_clear bob
tern 8bit send bob@example.com < "$M/8bit"
check 8bit "$RC:$(events 8bit)" "0:$(okline 1 "$(size "$M/8bit")")"
got bob 1
same 8bit-exact "$M/8bit"
tern 8bit send bob@example.com < "$M/utf8"
check utf8 "$RC:$(lastev 8bit send)" "0:$(okline 1 "$(size "$M/utf8")")"
got bob 2
same utf8-exact "$M/utf8"

# ---- 20 MB -------------------------------------------------------------
conf big
mta_clear bob
tern big send bob@example.com < "$M/big"
check big "$RC:$(events big)" "0:$(okline 1 "$(size "$M/big")")"
mta_wait bob 1 30 2>> "$TMP/mta.err" &&
    mta_strip "$(mta_newest bob)" > "$TMP/got"
same big-exact "$M/big"
rm -f "$TMP/got" "$(mta_newest bob)"
check big-queue-empty "$(queued big)" 0

# ---- the server down: queued; back up: flush delivers exactly once -----
conf down
mta_clear bob
mta_stop
E="error=\"connect localhost port $SMTPS_PORT: connection refused\""
tern down send bob@example.com < "$M/down"
check down-rc "$RC" 0
check down-events "$(events down)" "connect account=a service=smtp \
result=fail failures=1/50 $E
queue account=a id=ID result=deferred attempts=1 next=T $E
send account=a service=smtp result=fail sent=0 deferred=1 failed=0 ms=X $E"
check down-queued "$(queued down)" 1
tern down queue
check down-queue-list "$RC:$(sed -n 3p "$TMP/down/out")" \
    "0:    to: bob@example.com"
check down-queue-tries "$(sed -n 2p "$TMP/down/out" |
    awk '{ print $2, $4 - 0 == '"$(size "$M/down")"' ? "size" : $4, $5, $6 }')" \
    "a size 1 1"
# not yet due: flush does nothing
tern down flush
check down-not-due "$RC:$(lastev down send)" "0:send account=a service=smtp \
result=fail sent=0 deferred=1 failed=0 ms=X $E"
if ! mta_start 2> "$TMP/mta.err"; then
	fail mta-restart "$(tr '\n' '|' < "$TMP/mta.err")"
	exit 1
fi
if [ -n "$TESTNOW" ]; then
	TERN_TEST_NOW=$(($(date +%s) + 310)) tern down flush
else
	# a message without .meta has never been tried: due now
	rm -f "$TMP/down/spool/q/"*.meta
	tern down flush
fi
check down-flush "$RC:$(lastev down send)" "0:$(okline 1 "$(size "$M/down")")"
got bob 1
same down-exact "$M/down"
check down-queue-empty "$(queued down)" 0
tern down flush
sleep 0.3
check down-once "$RC:$(nc bob):$(grep -c 'id=down@tern.test' "$MTA_LOG")" \
    "0:1:1"

# ---- a wrong password: 77, counted, the message stays queued ----------
conf badpw "	option password 'not-the-password'"
mta_clear bob
A0=$(mta_auth_count)
tern badpw send bob@example.com < "$M/badpw"
E='error="AUTH PLAIN refused: 535 Incorrect authentication data"'
check badpw-rc "$RC" 77
check badpw-events "$(events badpw)" "auth account=a service=smtp \
result=fail failures=1/10 $E
queue account=a id=ID result=deferred attempts=1 next=T $E
send account=a service=smtp result=fail sent=0 deferred=1 failed=0 ms=X $E"
check badpw-queued "$(queued badpw):$(failed badpw)" 1:0
check badpw-mta "$(($(mta_auth_count) - A0)):$(nc bob)" 1:0
check badpw-stderr "$(sed -E 's/[0-9]{6,}\.[0-9]+\.[0-9]+\.[0-9a-f]{8}/ID/;
    s/try [0-9T:Z-]+/try T/' "$TMP/badpw/err")" "tern: a: smtp: message ID \
stays queued (next try T): AUTH PLAIN refused: 535 Incorrect authentication data
tern: a: smtp: AUTH PLAIN refused: 535 Incorrect authentication data"

# the right password again: the queued message goes out, the count resets
conf badpw
if [ -n "$TESTNOW" ]; then
	TERN_TEST_NOW=$(($(date +%s) + 310)) tern badpw flush
else
	rm -f "$TMP/badpw/spool/q/"*.meta
	tern badpw flush
fi
check badpw-fixed "$RC:$(lastev badpw send):$(queued badpw)" \
    "0:$(okline 1 "$(size "$M/badpw")"):0"
got bob 1
same badpw-fixed-exact "$M/badpw"
check badpw-reset "$(grep -h '^auth_failures=' "$TMP/badpw/state/a.smtp")" \
    auth_failures=0

# ---- 550 to the recipient: 69, moved to failed/ ------------------------
conf reject
tern reject send reject-rcpt@example.com < "$M/reject"
check reject-rc "$RC" 69
check reject-event "$(lastev reject send)" "send account=a service=smtp \
result=fail id=ID rcpts=0 failed=1 bytes=$(size "$M/reject") ms=X \
error=\"550 5.1.1 Recipient rejected as requested by the test\""
check reject-moved "$(queued reject):$(failed reject)" 0:1

# ---- 451 to the recipient: exit 0, stays queued ------------------------
conf tempfail
tern tempfail send tempfail-rcpt@example.com < "$M/tempfail"
check tempfail-rc "$RC" 0
check tempfail-event "$(lastev tempfail queue)" "queue account=a id=ID \
result=deferred attempts=1 next=T \
error=\"451 4.3.0 Temporary failure requested by the test\""
check tempfail-queued "$(queued tempfail):$(failed tempfail)" 1:0

# ---- 554 / 451 after the data: failed/ (69), queued (0) ----------------
conf afterdata
tern afterdata send reject-data@example.com < "$M/reject"
check reject-data "$RC:$(queued afterdata):$(failed afterdata):$(lastev \
afterdata send)" "69:0:1:send account=a service=smtp result=fail id=ID \
rcpts=0 failed=1 bytes=$(size "$M/reject") ms=X \
error=\"554 5.6.0 Message rejected as requested by the test\""
tern afterdata send tempfail-data@example.com < "$M/tempfail"
check tempfail-data "$RC:$(queued afterdata):$(failed afterdata):$(lastev \
afterdata queue)" "0:1:1:queue account=a id=ID result=deferred attempts=1 \
next=T error=\"451 4.3.0 Temporary failure requested by the test\""

# ---- bob and tempfail-rcpt: bob gets it once, the other stays queued ---
conf mixed
mta_clear bob
tern mixed send -f sender@example.org bob@example.com \
    tempfail-rcpt@example.com < "$M/tempfail"
check mixed "$RC:$(queued mixed):$(lastev mixed queue)" "0:1:queue \
account=a id=ID result=deferred attempts=1 next=T \
error=\"451 4.3.0 Temporary failure requested by the test\""
got bob 1
same mixed-exact "$M/tempfail"
check mixed-return-path "$(head -1 "$(mta_newest bob)")" \
    "Return-path: <sender@example.org>"
tern mixed queue
check mixed-queue-rcpt "$(sed -n 3p "$TMP/mixed/out"):$(grep -c 'bob@' \
    "$TMP/mixed/out")" \
    "    to: tempfail-rcpt@example.com (1 delivered, 0 refused):0"
if [ -n "$TESTNOW" ]; then
	TERN_TEST_NOW=$(($(date +%s) + 310)) tern mixed flush
	sleep 0.3
	check mixed-retry "$RC:$(queued mixed):$(nc bob):$(lastev mixed \
queue)" "75:1:1:queue account=a id=ID result=deferred attempts=2 next=T \
error=\"451 4.3.0 Temporary failure requested by the test\""
	check mixed-retry-rcpt "$(grep -c \
	    'F=<sender@example.org> .*rejected RCPT <tempfail-rcpt@' \
	    "$MTA_LOG"):$(grep -c '<= sender@example.org ' "$MTA_LOG")" 2:1
else
	skip mixed-retry "a retry needs TERN_TEST_NOW (build/test/tern)"
fi

# ---- no From, Date, Message-ID: tern adds them, the rest as given ------
conf bare
mta_clear bob
printf 'To: bob@example.com\nSubject: bare\n\nno header fields added\n' \
    > "$M/bare"
tern bare send bob@example.com < "$M/bare"
got bob 1
check bare "$RC:$(sed -n '1,3s/:.*//p' "$TMP/got" | tr '\n' ' ')" \
    "0:Date Message-ID From "
check bare-from "$(sed -n 3p "$TMP/got")" "From: alice@example.com"
tail -n +4 "$TMP/got" > "$TMP/got.rest"
mv "$TMP/got.rest" "$TMP/got"
same bare-rest "$M/bare"

# ---- CRLF input, and no line end at the end of the message -------------
conf eol
mta_clear bob
sed 's/$/\r/' "$M/plain" > "$M/crlf"
tern eol send bob@example.com < "$M/crlf"
got bob 1
check crlf "$RC:$(lastev eol send)" "0:$(okline 1 "$(size "$M/crlf")")"
same crlf-as-lf "$M/plain"
printf '%s' "$(cat "$M/stls")" > "$M/noeol"
tern eol send bob@example.com < "$M/noeol"
got bob 2
check noeol "$RC:$(lastev eol send | sed 's/ bytes=[0-9]* / /')" \
    "0:$(okline 1 X | sed 's/ bytes=X / /')"
same noeol-ended "$M/stls"

# ---- every AUTH mechanism by name --------------------------------------
for m in plain:PLAIN login:LOGIN cram-md5:CRAM-MD5; do
	n=${m%%:*}
	conf "auth-$n" "	option auth '$n'"
	mta_clear bob
	a0=$(grep -c "AUTH mech=${m#*:} port=$SMTPS_PORT tls=yes" "$MTA_LOG")
	tern "auth-$n" send bob@example.com < "$M/plain"
	got bob 1
	check "auth-$n" "$RC:$(events "auth-$n"):$(($(grep -c \
	    "AUTH mech=${m#*:} port=$SMTPS_PORT tls=yes" "$MTA_LOG") - a0))" \
	    "0:$(okline 1 "$(size "$M/plain")"):1"
	same "auth-$n-exact" "$M/plain"
done

# ---- plain SMTP (tls none): no credential unless allowed ---------------
conf none "	option smtp_tls 'none'" "	option smtp_port '$SMTP_PORT'"
mta_clear bob
A0=$(mta_auth_count)
tern none send bob@example.com < "$M/plain"
got bob 1
check none-no-auth "$RC:$(lastev none send):$(($(mta_auth_count) - A0))" \
    "0:$(okline 1 "$(size "$M/plain")"):0"
same none-exact "$M/plain"
check none-esmtp "$(grep -c ' with esmtp ' "$(mta_newest bob)")" 1
conf none-auth "	option smtp_tls 'none'" "	option smtp_port '$SMTP_PORT'" \
    "	option allow_plaintext_auth '1'"
tern none-auth send bob@example.com < "$M/plain"
check none-auth "$RC:$(lastev none-auth send):$(($(mta_auth_count) - A0))" \
    "0:$(okline 1 "$(size "$M/plain")"):1"

# ---- a UTF-8 address: SMTPUTF8 ----------------------------------------
conf smtputf8
mta_clear catchall
printf 'From: alice@example.com\nTo: j\303\266rg@b\303\274cher.example\nSubject: utf8 address\nDate: Sun, 22 Nov 2026 01:20:00 +0000\nMessage-ID: <smtputf8@tern.test>\n\nhallo\n' \
    > "$M/smtputf8"
tern smtputf8 send -t < "$M/smtputf8"
got catchall 1
check smtputf8 "$RC:$(lastev smtputf8 send)" \
    "0:$(okline 1 "$(size "$M/smtputf8")")"
same smtputf8-exact "$M/smtputf8"
check smtputf8-envelope "$(grep -c -e "^Envelope-to: $(printf \
    'j\303\266rg@b\303\274cher.example')\$" -e ' with utf8esmtpsa ' \
    "$(mta_newest catchall)")" 2

# ---- tern run: an account without POP3 flushes its queue ---------------
conf run
tern run disable a
tern run send bob@example.com < "$M/run"
check run-queued "$RC:$(queued run):$(lastev run queue)" "0:1:queue \
account=a id=ID result=queued rcpts=1 bytes=$(size "$M/run") reason=disabled"
tern run enable a
mta_clear bob
tern run run
check run "$RC:$(lastev run send)" "0:$(okline 1 "$(size "$M/run")")"
got bob 1
same run-exact "$M/run"
check run-queue-empty "$(queued run)" 0

[ "$nfail" -eq 0 ]
