#!/bin/sh
# Configuration errors: exit 78 with "FILE:LINE: key: what", before any
# network or state access.
. "$(dirname "$0")/../lib.sh"

cat > "$TMP/bad7" <<'CONF'
config tern 'main'
	option state_dir '/nonexistent/state'

config account 'work'
	option email 'me@example.com'
	option pop3_host 'pop.example.com'
	option pop3_port '99999'
	option maildir '/tmp/none'
CONF
t bad-value-line-7 78 "" \
    "tern: $TMP/bad7:7: pop3_port: not a port number (1-65535): '99999'" \
    -- -c "$TMP/bad7" status

printf "config account 'a'\n\toption frobnicate '1'\n" > "$TMP/unk"
t unknown-option 78 "" \
    "tern: $TMP/unk:2: frobnicate: unknown option in section 'account'" \
    -- -c "$TMP/unk" status

printf "# comment\nconfig acount 'a'\n" > "$TMP/sect"
t unknown-section 78 "" \
    "tern: $TMP/sect:2: config: unknown section type 'acount'" \
    -- -c "$TMP/sect" status

cat > "$TMP/dup" <<'CONF'
config account 'work'
	option smtp_host 'smtp.example.com'
config account 'work'
	option smtp_host 'smtp.example.com'
CONF
t duplicate-account 78 "" \
    "tern: $TMP/dup:3: account: duplicate account name 'work'" \
    -- -c "$TMP/dup" status

printf "config tern\n\toption timeout 'soon'\n" > "$TMP/dur"
t bad-duration 78 "" \
    "tern: $TMP/dur:2: timeout: not a duration (like 60, 5m, 3h, 5d): 'soon'" \
    -- -c "$TMP/dur" status

# the environment names the file when -c does not
TERN_CONFIG="$TMP/dup" "$TERN" status >/dev/null 2>&1
check env-config-used "$?" 78

t missing-file 78 "" \
    "tern: $TMP/nope: cannot read: No such file or directory" \
    -- -c "$TMP/nope" status

# an error must come before touching state_dir: nothing was created
[ ! -e /nonexistent/state ] && pass no-state-on-error ||
    fail no-state-on-error "state_dir created"
