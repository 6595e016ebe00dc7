#!/bin/sh
# send, flush, queue, run, test/diag (SMTP side): smoke checks without a
# server — usage errors, a refused connection that leaves the message
# queued, the queue listing, a disabled or off service, a damaged queue
# file.  The dialog with real servers is tests/real's.
. "$(dirname "$0")/../lib.sh"

# a port on 127.0.0.1 where nothing listens
PORT=$(/usr/bin/python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

conf() {	# conf FILE [EXTRA-LINE...]: account a (smtp), p (pop3 only)
	f_=$1; shift
	{
		printf "config tern 'main'\n"
		printf "\toption log '%s/log'\n" "$TMP"
		printf "\toption state_dir '%s/state'\n" "$TMP"
		printf "\toption spool_dir '%s/spool'\n" "$TMP"
		printf "\toption timeout '5'\n"
		printf "config account 'a'\n"
		printf "\toption email 'me@example.com'\n"
		printf "\toption password 'secret'\n"
		printf "\toption smtp_host '127.0.0.1'\n"
		printf "\toption smtp_port '%s'\n" "$PORT"
		printf "\toption smtp_tls 'none'\n"
		printf "\toption retries '0'\n"
		for l_ in "$@"; do printf '%s\n' "$l_"; done
		printf "config account 'p'\n"
		printf "\toption email 'p@example.com'\n"
		printf "\toption pop3_host '127.0.0.1'\n"
		printf "\toption pop3_port '%s'\n" "$PORT"
		printf "\toption maildir '%s/Maildir'\n" "$TMP"
	} > "$f_"
}
conf "$TMP/conf"
C="-c $TMP/conf"
REFUSED="connect 127.0.0.1 port $PORT: connection refused"

# the log's new lines since the last call, stamps, IDs, times and the
# size masked (the Message-ID tern adds holds the process ID)
# (the count read so far is kept in a file: callers use $(newlog))
echo 0 > "$TMP/seen"
newlog() {
	log_events "$TMP/log" 2>/dev/null | tail -n +$(($(cat "$TMP/seen") + 1)) |
	    sed -E 's/ id=[0-9a-f.]+/ id=ID/; s/ next=[0-9T:Z-]+/ next=T/;
	    s/ ms=[0-9]+/ ms=N/; s/ bytes=1[0-9][0-9] / bytes=1NN /'
	wc -l < "$TMP/log" > "$TMP/seen" 2>/dev/null || echo 0 > "$TMP/seen"
}
ID_RE='[0-9]{6,}\.[0-9]+\.[0-9]+\.[0-9a-f]{8}'
inq() { find "$TMP/spool/q" -type f ! -name '*.meta' 2>/dev/null | wc -l; }
msg='Subject: hi

body
'

"$TERN" --help > "$TMP/h"
check help-lists-smtp-commands \
    "$(grep -cE '^  (send|flush|run|queue) ' "$TMP/h")" 4

t send-no-rcpt 64 "" "tern: send: no recipients (give them as arguments, or -t to take them from the message)" -- $C send
t send-bad-option 64 "" "tern: send: unknown option -x" -- $C send -x a@example.com
t send-no-account 64 "" "tern: send: no account 'nosuch' in $TMP/conf" -- $C send -a nosuch a@example.com
t send-no-smtp-host 64 "" "tern: send: account 'p' has no smtp_host" -- $C send -a p a@example.com
printf '%s' "$msg" | "$TERN" $C send 'a b@example.com' > /dev/null 2>&1
check send-bad-address "$?:$(inq)" "65:0"
t flush-no-account 64 "" "tern: no account 'nosuch' in $TMP/conf" -- $C flush nosuch
t flush-no-smtp-host 64 "" "tern: account 'p' has no smtp_host" -- $C flush p
t queue-usage 64 "" "tern: usage: tern queue" -- $C queue x
t run-usage 64 "" "tern: usage: tern run" -- $C run x
t diag-usage 64 "" "tern: usage: tern diag ACCOUNT" -- $C diag
t queue-empty 0 "(no queued messages in $TMP/spool)" "" -- $C queue

# a refused connection: queued, deferred, exit 0
printf '%s' "$msg" | "$TERN" $C send you@example.com > "$TMP/out" 2> "$TMP/err"
check send-refused-rc "$?" 0
check send-refused-queued "$(inq)" 1
check send-refused-log "$(newlog)" \
"connect account=a service=smtp result=fail failures=1/50 error=\"$REFUSED\"
queue account=a id=ID result=deferred attempts=1 next=T error=\"$REFUSED\"
send account=a service=smtp result=fail sent=0 deferred=1 failed=0 ms=N error=\"$REFUSED\""
check send-refused-stderr "$(sed -E "s/$ID_RE/ID/;
    s/try [0-9T:Z-]+/try T/" "$TMP/err")" \
"tern: a: smtp: message ID stays queued (next try T): $REFUSED
tern: a: smtp: $REFUSED"

"$TERN" $C queue > "$TMP/q"
check queue-rc "$?" 0
check queue-list "$(sed -E "s/^$ID_RE /ID /; s/ [0-9]+s +1[0-9][0-9] / AGE 1NN /;
    3q" \
    "$TMP/q" | tr -s ' ')" \
"ID ACCOUNT AGE SIZE RCPT TRIES NEXT
ID a AGE 1NN 1 1 5m
 to: you@example.com"
check queue-list-error "$(sed -n 4p "$TMP/q" | cut -c1-15)" "    last error "
awk 'length > 80 { bad = 1 } END { exit bad }' "$TMP/q" &&
    pass queue-fits-80-columns || fail queue-fits-80-columns "$(cat "$TMP/q")"

# not due yet: flush does nothing, says nothing
t flush-not-due 0 "" "" -- $C flush
check flush-not-due-log "$(newlog)" ""

t test-refused 75 "a smtp FAILED: $REFUSED" "" -- $C test a

# a disabled service: queued without a try, exit 0
"$TERN" $C disable a > /dev/null
newlog > /dev/null
printf '%s' "$msg" | "$TERN" $C send you@example.com > /dev/null 2> "$TMP/err"
check send-disabled-rc "$?" 0
check send-disabled-log "$(newlog)" \
"disabled account=a service=smtp reason=manual action=skip
queue account=a id=ID result=queued rcpts=1 bytes=1NN reason=disabled"
check send-disabled-queued "$(inq)" 2
"$TERN" $C enable a > /dev/null
newlog > /dev/null

# an account that is off
conf "$TMP/conf-off" "	option enabled '0'"
printf '%s' "$msg" | "$TERN" -c "$TMP/conf-off" send you@example.com \
    > /dev/null 2>&1
check send-off "$?:$(newlog)" \
    "0:queue account=a id=ID result=queued rcpts=1 bytes=1NN reason=off"

# under the name sendmail (a symlink), with -t
if [ "$(head -c 4 "$TERN" | od -An -c | tr -d ' ')" = '177ELF' ]; then
	mkdir -p "$TMP/bin"
	ln -s "$TERN" "$TMP/bin/sendmail"
	printf 'To: You <you@example.com>\nBcc: them@example.com\n\nx\n' |
	    TERN_CONFIG=$TMP/conf "$TMP/bin/sendmail" -t -i > /dev/null 2>&1
	check sendmail-name "$?:$(newlog | grep -c 'result=deferred')" "0:1"
else
	echo "SKIP ${PFX:-}sendmail-name: \$TERN is not an ELF binary"
fi

# a damaged queue file: listed, then moved to corrupt/ by flush
mkdir -p "$TMP/spool/q"
printf 'garbage' > "$TMP/spool/q/1000.1.0.deadbeef"
"$TERN" $C queue > "$TMP/q"
check queue-damaged "$(grep '^1000\.' "$TMP/q")" \
    "1000.1.0.deadbeef            (damaged: moved aside by the next flush)"
"$TERN" $C flush > /dev/null 2>&1
check flush-damaged-rc "$?" 74
check flush-damaged-log "$(newlog | grep corrupt | sed 's/ error=.*//')" \
    "queue id=ID result=corrupt"
[ -f "$TMP/spool/corrupt/1000.1.0.deadbeef" ] &&
    [ ! -e "$TMP/spool/q/1000.1.0.deadbeef" ] && pass flush-damaged-moved ||
    fail flush-damaged-moved "$(ls -R "$TMP/spool")"

# the backoff, with the test build's clock: due after 5 minutes, then 10
now=$(date +%s)
if TERN_TEST_NOW=1000000000 "$TERN" $C status > /dev/null 2>&1 &&
    TERN_TEST_NOW=1000000000 "$TERN" $C disable p > /dev/null &&
    tail -1 "$TMP/log" | grep -q '^2001-09-09T01:46:40Z '; then
	"$TERN" $C enable p > /dev/null
	newlog > /dev/null
	TERN_TEST_NOW=$((now + 310)) "$TERN" $C flush > /dev/null 2>&1
	# all four were tried once (the last two by the flush above)
	check flush-backoff "$?:$(newlog | grep -c 'result=deferred attempts=2')" \
	    "75:4"
	TERN_TEST_NOW=$((now + 320)) "$TERN" $C flush > /dev/null 2>&1
	check flush-backoff-not-due "$?:$(newlog)" "0:"
else
	echo "SKIP ${PFX:-}flush-backoff: needs the test build (TERN_TEST_NOW)"
	"$TERN" $C enable p > /dev/null 2>&1
fi
