#!/bin/sh
# status, status -k, enable, disable, version, help, usage errors.
. "$(dirname "$0")/../lib.sh"

cat > "$TMP/conf" <<CONF
config tern 'main'
	option log '$TMP/tern.log'
	option state_dir '$TMP/state'

config account 'work'
	option email 'me@example.com'
	option password 'secret'
	option pop3_host 'pop.example.com'
	option maildir '$TMP/Maildir'
	option smtp_host 'smtp.example.com'

config account 'alerts'
	option email 'router@example.com'
	option smtp_host 'smtp.example.com'
	option smtp_port '587'
	option max_auth_failures '3'
CONF
C="-c $TMP/conf"

t status-fresh 0 "ACCOUNT          SERVICE STATE     AUTH   CONNECT   LAST SUCCESS
work             pop3    enabled   0/10   0/50      never
work             smtp    enabled   0/10   0/50      never
alerts           smtp    enabled   0/3    0/50      never" "" -- $C status
[ ! -e "$TMP/state" ] && pass status-writes-nothing ||
    fail status-writes-nothing "state_dir created by status"

t status-k 0 "account=work service=pop3 state=enabled reason=\"\" disabled_since=\"\" auth_failures=0 max_auth_failures=10 conn_failures=0 max_conn_failures=50 last_success=\"\" last_error_time=\"\" last_error=\"\"
account=work service=smtp state=enabled reason=\"\" disabled_since=\"\" auth_failures=0 max_auth_failures=10 conn_failures=0 max_conn_failures=50 last_success=\"\" last_error_time=\"\" queued=0 last_error=\"\"
account=alerts service=smtp state=enabled reason=\"\" disabled_since=\"\" auth_failures=0 max_auth_failures=3 conn_failures=0 max_conn_failures=50 last_success=\"\" last_error_time=\"\" queued=0 last_error=\"\"" "" -- $C status -k

t disable 0 "work pop3 disabled
work smtp disabled" "" -- $C disable work
check disable-log "$(log_events "$TMP/tern.log")" \
"disabled account=work service=pop3 reason=manual
disabled account=work service=smtp reason=manual"
"$TERN" $C status -k > "$TMP/k"
check disable-status-k "$(grep -c 'state=disabled reason=manual' "$TMP/k")" 2
"$TERN" $C status > "$TMP/s"
check disable-status-row "$(sed -n 2p "$TMP/s")" \
    "work             pop3    disabled  0/10   0/50      never"
check disable-status-note "$(sed -n 3p "$TMP/s" | sed -E 's/[0-9T:-]+Z/TIME/')" \
    "    disabled by hand since TIME (tern enable work)"

t enable 0 "work pop3 enabled
work smtp enabled" "" -- $C enable work
check enable-log "$(log_events "$TMP/tern.log" | tail -2)" \
"enabled account=work service=pop3 reason=manual
enabled account=work service=smtp reason=manual"
"$TERN" $C status -k > "$TMP/k"
check enable-status-k "$(grep -c 'state=enabled reason=""' "$TMP/k")" 3

# a torn state file is reported and treated as empty, never a crash
printf 'version=1\nauth_fail' > "$TMP/state/work.pop3"
"$TERN" $C status > "$TMP/s" 2> "$TMP/e"
check torn-state-rc "$?" 0
check torn-state-row "$(sed -n 2p "$TMP/s")" \
    "work             pop3    enabled   0/10   0/50      never"
grep -q "work.pop3: ignored" "$TMP/e" && pass torn-state-warns ||
    fail torn-state-warns "$(cat "$TMP/e")"

t enable-unknown 64 "" "tern: no account 'nope' in $TMP/conf" \
    -- $C enable nope
t enable-usage 64 "" "tern: usage: tern enable ACCOUNT" -- $C enable
t status-usage 64 "" "tern: usage: tern status [-k]" -- $C status -x
"$TERN" frobnicate > /dev/null 2> "$TMP/e"
check unknown-command-rc "$?" 64
check unknown-command-msg "$(head -1 "$TMP/e")" \
    "tern: unknown command 'frobnicate'"
"$TERN" > /dev/null 2>&1
check no-command-rc "$?" 64

"$TERN" version > "$TMP/v"
check version-rc "$?" 0
check version-text "$(cat "$TMP/v")" "tern 0.1.0
TLS: BearSSL 0.6+dfsg.1-3
target: x86_64-linux-musl"

"$TERN" --help > "$TMP/h"
check help-rc "$?" 0
grep -q '^  status \[-k\]' "$TMP/h" && pass help-lists-status ||
    fail help-lists-status "$(cat "$TMP/h")"
awk 'length > 80 { bad = 1 } END { exit bad }' "$TMP/h" "$TMP/s" &&
    pass fits-80-columns || fail fits-80-columns "a line over 80 columns"

# invoked as sendmail before sending exists: a clear error, not a crash
ln -s "$TERN" "$TMP/sendmail"
"$TMP/sendmail" -t < /dev/null > /dev/null 2> "$TMP/e"
rc=$?
[ "$rc" -ne 0 ] && [ -s "$TMP/e" ] && pass sendmail-name ||
    fail sendmail-name "rc=$rc"
