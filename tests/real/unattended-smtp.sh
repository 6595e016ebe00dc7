#!/bin/sh
# Auto-disable and re-enable for SMTP against the real Exim (SPEC §3):
#   auth      a wrong password: sends 1-9 fail (exit 77) and count, send 10
#             disables, send 11 makes no connection at all (Exim's log
#             shows no new AUTH) and leaves the message queued (exit 0);
#             fixing the password re-enables (config-changed) and sends.
#   connect   a closed port: max_conn_failures '3' for speed; the port
#             change re-enables.
# Ports: the first free block from 18025 (SMTP_PORT, SUBMIT_PORT,
# SMTPS_PORT = +0, +1, +2).  Honours $TERN.
. "$(dirname "$0")/../lib.sh"
. "$top/tests/real/mta.sh"

free() {	# free PORT: nothing listens on 127.0.0.1:PORT
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
base=18025
for try in 1 2 3 4 5; do
	free $base && free $((base + 1)) && free $((base + 2)) &&
	    free $((base + 3)) && break
	base=$((base + 10))
done
SMTP_PORT=$base SUBMIT_PORT=$((base + 1)) SMTPS_PORT=$((base + 2))
CLOSED=$((base + 3))
export SMTP_PORT SUBMIT_PORT SMTPS_PORT
WORKDIR=$(mktemp -d /tmp/tus.XXXXXX)
export WORKDIR
trap 'mta_stop >/dev/null 2>&1; rm -rf "$WORKDIR" "$TMP"' EXIT HUP INT TERM PIPE
if ! mta_start > "$TMP/mta.out" 2>&1; then
	fail mta-start "$(tail -3 "$TMP/mta.out" | tr '\n' '|')"
	exit 1
fi

conf() {	# conf PASSWORD PORT
	cat > "$TMP/conf" <<EOF
config tern 'main'
	option log '$TMP/log'
	option state_dir '$TMP/state'
	option spool_dir '$TMP/spool'
	option ca_file '$MTA_CA'
	option timeout '5'
config account 'a'
	option email 'alice@example.com'
	option user 'alice'
	option password '$1'
	option smtp_host 'localhost'
	option smtp_port '$2'
	option smtp_tls 'implicit'
	option retries '0'
	option max_conn_failures '3'
EOF
}
send() {	# send: one message to bob; sets RC
	printf 'Subject: alert %s\n\nbody\n' "$1" |
	    "$TERN" -c "$TMP/conf" send bob@example.com > "$TMP/out" \
	    2> "$TMP/err"
	RC=$?
}
events() { log_events "$TMP/log" | sed -E 's/ id=[0-9a-f.]+/ id=ID/;
    s/ next=[0-9T:Z-]+/ next=T/; s/ ms=[0-9]+/ ms=N/;
    s/ bytes=[0-9]+/ bytes=B/; s/ attempts=[0-9]+/ attempts=N/'; }
skey() { "$TERN" -c "$TMP/conf" status -k | sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }

# ---- authentication -------------------------------------------------
conf wrong-pw "$SMTPS_PORT"
i=1
while [ $i -le 9 ]; do
	send $i
	[ "$RC" = 77 ] || fail "auth-run-$i" "exit $RC: $(cat "$TMP/err")"
	i=$((i + 1))
done
check auth-counted "$(skey auth_failures)" 9
check auth-9-logged "$(events | grep -c '^auth account=a service=smtp result=fail failures=[1-9]/10 ')" 9
send 10
check auth-run-10 "$RC" 77
check auth-disabled-logged "$(events | grep '^disabled ')" \
    "disabled account=a service=smtp reason=auth failures=10"
check auth-state "$(skey state):$(skey reason)" "disabled:auth"
before=$(mta_auth_count)
send 11
check disabled-send-queues "$RC" 0
check disabled-no-auth "$(mta_auth_count)" "$before"
check disabled-skip-logged "$(events | grep -c '^disabled account=a service=smtp reason=auth failures=10 action=skip')" 1
check disabled-queued-logged "$(events | grep -c '^queue account=a id=ID result=queued .*reason=disabled')" 1
check all-11-queued "$(find "$TMP/spool/q" -type f ! -name '*.meta' | wc -l)" 11

conf alice-pw-1 "$SMTPS_PORT"
send 12
check fixed-password-sends "$RC" 0
check fixed-enabled-logged "$(events | grep '^enabled ')" \
    "enabled account=a service=smtp reason=config-changed"
check fixed-send-logged "$(events | grep -c '^send account=a service=smtp result=ok ')" 1
check fixed-counters "$(skey state):$(skey auth_failures)" "enabled:0"
mta_wait bob 1 10 && pass delivered-to-bob || fail delivered-to-bob \
    "$(mta_count bob) messages"

# ---- connection -----------------------------------------------------
rm -rf "$TMP/state" "$TMP/spool" "$TMP/log"
conf alice-pw-1 "$CLOSED"
for i in 1 2 3; do
	send c$i
	[ "$RC" = 0 ] || fail "conn-run-$i" "exit $RC: $(cat "$TMP/err")"
done
check conn-disabled "$(skey state):$(skey reason):$(skey conn_failures)" \
    "disabled:connect:3"
check conn-disabled-logged "$(events | grep '^disabled ')" \
    "disabled account=a service=smtp reason=connect failures=3"
conf wrong-but-new "$CLOSED"
send c4
check conn-password-change-keeps "$(skey state)" disabled
conf alice-pw-1 "$SMTPS_PORT"
send c5
check conn-port-change-sends "$RC" 0
check conn-enabled-logged "$(events | grep '^enabled ')" \
    "enabled account=a service=smtp reason=config-changed"
