#!/bin/sh
# tests/demo.sh — `make demo`: send a message through a real MTA and fetch
# it back from a real POP3 server, all on 127.0.0.1.
#
# Starts a private Exim (tests/real/mta.sh) and Dovecot (tests/real/
# dovecot.sh) with the self-made CA of tests/real/pki.sh in a temp
# directory, writes a configuration for one account, then shows:
#   tern test                   both sides: TLS, capabilities, AUTH
#   sendmail -t < message       tern under the name sendmail (a symlink):
#                               queued, then sent at once over STARTTLS
#   (the MTA delivers it into alice's Maildir; it is copied into the
#    POP3 server's mailbox for alice)
#   tern fetch                  POP3 over implicit TLS into demo/Maildir
#   the fetched message, tern status, tern queue, and tern's log
# What tern wrote stays in demo/ (configuration, Maildir, log, state) for
# a look afterwards; the servers are stopped and their directory removed
# on any exit.  Every wait is bounded.  Needs root (the servers switch
# users) and `make deps`.
# Env: TERN (default ./tern), DEMO_PORT (first of five ports, default:
# the first free block of 16025.. in steps of 100).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
TERN=${TERN:-$top/tern}
case $TERN in /*) ;; *) TERN=$top/$TERN ;; esac
DEMO=$top/demo

if [ -t 1 ]; then
	say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
else
	say() { printf '\n%s\n' "$*"; }
fi
die() { echo "demo: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (Exim and Dovecot switch users)"
[ -x "$TERN" ] || die "no $TERN: run make first"
[ -x /usr/sbin/exim4 ] && [ -x /usr/sbin/dovecot ] ||
    die "Exim or Dovecot missing: run make deps"

# five free ports on 127.0.0.1: smtp, submission, smtps, pop3, pop3s
free_block() {
	/usr/bin/python3 - "$@" <<'EOF'
import socket, sys
for base in [int(a) for a in sys.argv[1:]]:
    ok = True
    for p in range(base, base + 5):
        s = socket.socket()
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", p))
        except OSError:
            ok = False
        finally:
            s.close()
    if ok:
        print(base)
        sys.exit(0)
sys.exit(1)
EOF
}
base=${DEMO_PORT:-$(free_block 16020 16120 16220 16320 16420)} ||
    die "no five free ports from 16020 on (set DEMO_PORT)"
SMTP_PORT=$base SUBMIT_PORT=$((base + 1)) SMTPS_PORT=$((base + 2))
POP3_PORT=$((base + 3)) POP3S_PORT=$((base + 4))
. "$top/tests/real/mta.sh"
. "$top/tests/real/dovecot.sh"

WORKDIR=$(mktemp -d /tmp/terndemo.XXXXXX)
PKIDIR=$WORKDIR/pki
export PKIDIR
cleanup() {
	mta_stop
	dv_stop
	rm -rf "$WORKDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

say "Starting Exim (SMTP $SMTP_PORT, submission $SUBMIT_PORT," \
    "smtps $SMTPS_PORT) and Dovecot (POP3 $POP3_PORT, pop3s" \
    "$POP3S_PORT) in $WORKDIR"
mta_start || die "Exim did not start"
dv_start || die "Dovecot did not start"

rm -rf "$DEMO"
mkdir -p "$DEMO" || die "cannot create $DEMO"
cat > "$DEMO/tern.conf" <<EOF
config tern 'main'
	option log '$DEMO/tern.log'
	option state_dir '$DEMO/state'
	option spool_dir '$DEMO/spool'
	option ca_file '$PKIDIR/ca.pem'
	option timeout '20'
	option deadline '60'

config account 'demo'
	option email 'alice@example.org'
	option user 'alice'
	option password 'alice-pw-1'
	option pop3_host 'localhost'
	option pop3_port '$POP3S_PORT'
	option pop3_tls 'implicit'
	option keep '0'
	option maildir '$DEMO/Maildir'
	option smtp_host 'localhost'
	option smtp_port '$SUBMIT_PORT'
	option smtp_tls 'starttls'
EOF
ln -sf "$TERN" "$DEMO/sendmail"
export TERN_CONFIG=$DEMO/tern.conf
say "The configuration, $DEMO/tern.conf:"
sed 's/^/    /' "$DEMO/tern.conf"

run() {	# show and run a tern command line, bounded
	printf '\n$ tern %s\n' "$*"
	timeout 120 "$TERN" "$@"
	rc=$?
	[ $rc -eq 0 ] || echo "(exit $rc)"
	return $rc
}

say "1. Check both sides: resolve, connect, TLS, capabilities, AUTH"
run test || die "tern test failed"

say "2. Send a message as a script would, through the sendmail name"
cat > "$DEMO/message" <<EOF
To: Alice <alice@example.org>
Bcc: bob@example.org
Subject: Hello from tern

This message went out over SMTP with STARTTLS and came back over POP3
with TLS.  The Bcc field was removed before sending.
.
A line with a single dot, and the end.
EOF
printf '\n$ sendmail -t < message\n'
timeout 120 "$DEMO/sendmail" -t < "$DEMO/message" ||
    die "sendmail failed"
mta_wait alice 1 10 || die "the MTA did not deliver the message"

say "3. The MTA delivered it to alice; it goes into her POP3 mailbox"
dv_fill alice --clear "$(mta_newest alice)" || die "cannot fill Dovecot"
echo "(copied $(mta_newest alice) to Dovecot)"

say "4. Fetch it back"
run fetch || die "tern fetch failed"
got=$(ls "$DEMO/Maildir/new" 2>/dev/null | head -1)
[ -n "$got" ] || die "nothing arrived in $DEMO/Maildir/new"

say "5. The fetched message, $DEMO/Maildir/new/$got:"
sed 's/^/    /' "$DEMO/Maildir/new/$got"

say "6. State"
run status
run queue

say "7. The log, $DEMO/tern.log:"
sed 's/^/    /' "$DEMO/tern.log"

say "Done.  tern's files are in $DEMO; the servers are stopped."
exit 0
