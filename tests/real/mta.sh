#!/bin/sh
# tests/real/mta.sh — a private Exim SMTP server on 127.0.0.1 for tests.
#
# Why Exim (Debian package exim4-daemon-light): one setuid binary takes a
# whole alternative configuration with -C and runs in the foreground with
# -bdf, no systemd and no init script involved; that configuration sets the
# spool, the log files and the pid file, so every test run gets a complete
# instance inside its own temp directory and nothing under /etc/exim4 is
# read or changed.  AUTH PLAIN, LOGIN and CRAM-MD5 are built-in
# authenticators that check a password file in that directory (no Cyrus
# SASL, no Dovecot auth socket); TLS (GnuTLS), PIPELINING, 8BITMIME, SIZE,
# SMTPUTF8 and CHUNKING are built in; Maildir delivery is the appendfile
# transport, and with only "accept" routers no DNS lookup is ever made.
# Debian's package configuration listens on 127.0.0.1 and ::1 only, so
# even where no policy-rc.d stops the postinst from starting the system
# daemon, nothing listens on 0.0.0.0:25.  OpenSMTPD compiles its queue path
# in (/var/spool/smtpd) and needs its _smtpd users; Postfix needs a
# multi-instance setup (postmulti, queue owned by user postfix, master.cf,
# chroots) plus Dovecot's SASL socket for AUTH: both are far more moving
# parts for the same result.
#
# As a command:
#   WORKDIR=/tmp/tmx.XXXXXX sh tests/real/mta.sh start|stop|restart|status
#   WORKDIR=... sh tests/real/mta.sh log|maildir USER|queue
# As a library (POSIX sh; the functions return non-zero and explain on
# stderr, they never exit):
#   . tests/real/mta.sh
#   WORKDIR=$(mktemp -d /tmp/tmx.XXXXXX)
#   trap 'mta_stop; rm -rf "$WORKDIR"' EXIT
#   mta_start || exit 1
#   ... send with the client to 127.0.0.1:$SMTPS_PORT / $SUBMIT_PORT ...
#   mta_wait alice 1 && f=$(mta_newest alice) && mta_strip "$f" > got
#   mta_stop; ...; mta_start     # or mta_restart; the Maildirs survive
# The command form runs only when this file is executed under its own name;
# sourcing it only defines the functions.  Executed without a command (as
# tests/run.sh does with every tests/real/*.sh) it prints usage and exits 0.
#
# Environment (read by every function, so set it before calling):
#   WORKDIR      required, absolute, at most 60 bytes.  Everything lives in
#                $WORKDIR/mta/ ($MTA_DIR): etc/ (exim.conf, passwd, the
#                certificate), spool/, log/, run/, mail/.  So one WORKDIR
#                can hold a dovecot.sh instance as well.
#   SMTP_PORT    plain SMTP, no STARTTLS, AUTH offered in the clear
#                (default 11025): for "tls none" and "server does not
#                offer STARTTLS" tests
#   SUBMIT_PORT  submission: STARTTLS, AUTH only after it (default 11587)
#   SMTPS_PORT   implicit TLS, AUTH offered (default 11465)
#   PKIDIR       certificates from tests/real/pki.sh (default $WORKDIR/pki,
#                made on start if missing; shared with dovecot.sh).  The
#                CA for clients: $PKIDIR/ca.pem
#   CERT         rsa (default: srv-rsa), ec (srv-ec), or any pki.sh leaf
#                name such as expired or wrongname; the server sends
#                $PKIDIR/NAME.chain.pem (leaf, then the intermediate)
#   MTA_REQUIRE_AUTH  1 (default): MAIL on SUBMIT_PORT and SMTPS_PORT
#                before a successful AUTH gets "530 5.7.0 Authentication
#                required"; 0: anyone may send there.  SMTP_PORT never
#                requires AUTH.
# start rewrites the configuration from these, so e.g.
# "CERT=expired mta_restart" serves another certificate.  Every function
# sets MTA_DIR, MTA_CONF (exim.conf), MTA_LOG, MTA_PKIDIR and MTA_CA.
#
# What the server is (Exim 4.96, Debian bookworm, GnuTLS):
#   EHLO offers SIZE 104857600 (100 MiB), 8BITMIME, PIPELINING,
#   PIPECONNECT, CHUNKING, SMTPUTF8, HELP, plus STARTTLS (SUBMIT_PORT
#   before TLS only) and AUTH PLAIN LOGIN CRAM-MD5 (SMTP_PORT always,
#   SUBMIT_PORT after STARTTLS, SMTPS_PORT always).  DSN is not offered.
#   AUTH on SUBMIT_PORT before STARTTLS gets "503 AUTH command used when
#   not advertised".  Users: alice / alice-pw-1 and bob / bob-pw-2 in
#   $MTA_DIR/etc/passwd ("name: password" lines, mta_adduser adds more).
#   A wrong password or unknown user gets "535 Incorrect authentication
#   data"; the user "tempfail" (any password, any mechanism) gets "435
#   Unable to authenticate at present" (a temporary failure).
#   Magic recipients (any domain): tempfail-rcpt gets 451 4.3.0 at RCPT,
#   reject-rcpt 550 5.1.1 at RCPT; tempfail-data is accepted at RCPT but
#   the whole message gets 451 4.3.0 after the data, reject-data 554 5.6.0.
#   Clients must send CRLF lines: bare CR or LF in the data are rewritten.
#
# Delivery: every accepted recipient, whatever its domain, is delivered
# locally and nothing is ever relayed.  Local part alice -> $MTA_DIR/mail/
# alice/Maildir, bob -> mail/bob/Maildir (likewise any NAME for which
# mail/NAME exists, see mta_adduser); every other local part ->
# mail/catchall/Maildir.  One file per recipient, in new/, mode 0644, owned
# by Debian-exim, with LF line ends (CRLF from the wire becomes LF).
# Delivery runs in the background just after the final 250: use mta_wait.
# The file is the message as sent (dot-unstuffed, CRLF -> LF) with exactly
# three header fields prepended, in this order:
#   Return-path: <the MAIL FROM address>      ("<>" for a null sender)
#   Envelope-to: the RCPT TO address of this file, without <>
#   Received: from [127.0.0.1] (port=PORT helo=EHLO-NAME)
#   	by mta.tern.test with PROTO (Exim 4.96)
#   	(envelope-from <the MAIL FROM address>)
#   	id MESSAGE-ID
#   	for RCPT;                                 (one recipient only)
#   	Sun, 22 Nov 2026 03:20:17 +0000
# each one line except Received, whose continuation lines start with a TAB.
# PROTO tells what the client did: smtp (HELO), esmtp (EHLO), then "s"
# for TLS and "a" for AUTH (esmtpsa), "utf8" before it with SMTPUTF8
# (utf8esmtpsa); with TLS the "with" line goes on "(TLS1.3) tls CIPHER".
# Nothing else is added or removed (no Message-ID, Date, From or Sender is
# added, Bcc and any Return-Path/Envelope-to of the message are kept), with
# two exceptions: a message whose first line is not a header field gets a
# blank line between the added fields and its first line, and a message
# of header fields only gets a blank line at its end.  mta_strip prints a
# delivered file without the three fields.
#
# Log: $MTA_LOG ($MTA_DIR/log/mainlog), Exim's main log.  One line
# "AUTH mech=PLAIN port=11587 tls=yes" per AUTH command (any mechanism,
# even an unknown or empty one), written before the credentials are
# checked; a failed check adds "PLAIN authenticator failed for ... 535
# Incorrect authentication data (set_id=alice)".  The one exception, an
# AUTH where it is not advertised (SUBMIT_PORT before STARTTLS), is logged
# as 'SMTP protocol error in "AUTH PLAIN ..." ... AUTH command used when
# not advertised' (with the client's base64 argument).  mta_auth_count
# counts both kinds: a test that a disabled account made no AUTH attempt
# compares it before and after.  Every connection logs "SMTP connection
# from"; one that sends no MAIL logs "no MAIL in SMTP connection from ...
# C=EHLO,AUTH,QUIT" (the commands it sent); "<=" lines are received
# messages (A=plain:alice when authenticated, X=TLS version and cipher),
# "=>" deliveries.  "exim user lost privilege for using -C option" before
# each delivery is expected and harmless (deliveries run as Debian-exim).
#
# Functions:
#   mta_start            configure, start, wait at most 10 s for the ports
#   mta_stop             wait at most 10 s for pending deliveries, SIGTERM
#                        the daemon (recorded pid), wait 5 s, SIGKILL, then
#                        end what is left of its process group; waits 3 s
#                        for the ports to close.  No-op when not running,
#                        so it is safe in an EXIT trap.
#   mta_restart          mta_stop, then mta_start (mail and log are kept)
#   mta_status           "running pid N ..." (0) or "not running" (1)
#   mta_log              print the main log ($MTA_LOG)
#   mta_auth_count       number of AUTH commands in the log so far
#   mta_maildir USER     print the Maildir path that USER's mail goes to
#                        (catchall for a local part without a directory)
#   mta_count USER       number of files in that Maildir's new/
#   mta_wait USER N [S]  wait at most S (default 10) seconds until new/
#                        holds at least N files
#   mta_newest USER      path of the newest file in new/
#   mta_clear USER       empty new/, cur/ and tmp/ of that Maildir
#   mta_strip FILE       print FILE without the three trace fields (fails
#                        if the file does not start with them)
#   mta_queue            number of messages in Exim's queue (0 when all
#                        accepted mail has been delivered)
#   mta_adduser NAME PW  add a user (and give it its own Maildir)
# Needs root: Exim runs as Debian-exim and owns $MTA_DIR's spool and mail.

SMTP_PORT=${SMTP_PORT:-11025}
SUBMIT_PORT=${SUBMIT_PORT:-11587}
SMTPS_PORT=${SMTPS_PORT:-11465}
# the next triple to try when one is taken (tests/lib.sh start_server)
mta_ports_next() {
	SMTP_PORT=$((SMTP_PORT + 10))
	SUBMIT_PORT=$((SUBMIT_PORT + 10))
	SMTPS_PORT=$((SMTPS_PORT + 10))
}
MTA_PY=/usr/bin/python3
MTA_EXIM=/usr/sbin/exim4
MTA_USER=Debian-exim

mta__err() { echo "mta.sh: $*" >&2; }

# where pki.sh is: next to this file.  When sourced, $0 is the caller, so
# also look below $top (set by tests/lib.sh) and the current directory.
mta__here() {
	local d
	for d in ${MTA_HERE:-} "$(dirname "$0")" "${top:-.}/tests/real" \
	    ./tests/real; do
		if [ -f "$d/pki.sh" ] && [ -f "$d/mta.sh" ]; then
			echo "$d"
			return 0
		fi
	done
	mta__err "cannot find tests/real/pki.sh (set MTA_HERE)"
	return 1
}

mta__check_workdir() {
	case ${WORKDIR:-} in
	/*) ;;
	*) mta__err "WORKDIR must be set to an absolute path"; return 1 ;;
	esac
	if [ ${#WORKDIR} -gt 60 ]; then
		mta__err "WORKDIR too long (max 60): $WORKDIR"
		return 1
	fi
	MTA_DIR=$WORKDIR/mta
	MTA_CONF=$MTA_DIR/etc/exim.conf
	MTA_LOG=$MTA_DIR/log/mainlog
	MTA_PKIDIR=${PKIDIR:-$WORKDIR/pki}
	MTA_CA=$MTA_PKIDIR/ca.pem
	return 0
}

# mta__alive PID — running and not a zombie
mta__alive() {
	local st
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 1
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -n "$st" ] && [ "$st" != Z ]
}

# mta__ours PID — PID is the daemon of this instance
mta__ours() {
	mta__alive "$1" && tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null |
	    grep -q -- "-C $MTA_CONF -bdf"
}

# mta__group PG — some process of group PG is running (not a zombie)
mta__group() {
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v pg="$1" '
	    { sub(/^.*\) /, ""); if ($3 == pg && $1 != "Z") n++ }
	    END { exit n ? 0 : 1 }'
}

mta__pid() {
	[ -s "$MTA_DIR/run/exim.pid" ] && cat "$MTA_DIR/run/exim.pid"
}

# mta__ports WANT TIMEOUT PID — wait until all three ports have a listener
# on 127.0.0.1 (WANT=open) or none (WANT=closed); with PID, give up early
# when PID is gone.  Reads /proc/net/tcp{,6} instead of connecting, so the
# probes leave no "SMTP connection" lines in the log.
mta__ports() {
	"$MTA_PY" - "$1" "$2" "${3:-0}" "$SMTP_PORT" "$SUBMIT_PORT" \
	    "$SMTPS_PORT" <<'EOF'
import sys, time
want, limit, pid = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
ports = [int(p) for p in sys.argv[4:]]
# 127.0.0.1, 0.0.0.0, ::, ::ffff:127.0.0.1 as /proc/net/tcp* print them
LOCAL = {"0100007F", "00000000", "0" * 32,
         "0000000000000000FFFF00000100007F"}
def listening():
    found = set()
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(f) as fh:
                next(fh)
                for line in fh:
                    x = line.split()
                    addr, port = x[1].split(":")
                    if x[3] == "0A" and addr in LOCAL:
                        found.add(int(port, 16))
        except OSError:
            pass
    return found
def alive(p):
    try:
        with open("/proc/%d/stat" % p) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
end = time.monotonic() + limit
while True:
    ls = listening()
    st = [p in ls for p in ports]
    if all(st) if want == "open" else not any(st):
        sys.exit(0)
    if pid and not alive(pid):
        print("mta.sh: exim (pid %d) exited" % pid, file=sys.stderr)
        sys.exit(1)
    if time.monotonic() > end:
        bad = [p for p, o in zip(ports, st) if o != (want == "open")]
        print("mta.sh: port(s) %s not %s after %gs"
              % (",".join(map(str, bad)), want, limit), file=sys.stderr)
        sys.exit(1)
    time.sleep(0.05)
EOF
}

mta__configure() {
	local here leaf key chain reqauth
	here=$(mta__here) || return 1
	if [ "$(id -u)" != 0 ]; then
		mta__err "needs root (Exim delivers as $MTA_USER)"
		return 1
	fi
	if [ ! -x "$MTA_EXIM" ] || ! id "$MTA_USER" >/dev/null 2>&1; then
		mta__err "Exim is not installed (apt-get install" \
		    "exim4-daemon-light)"
		return 1
	fi
	sh "$here/pki.sh" "$MTA_PKIDIR" || return 1
	case ${CERT:-rsa} in
	rsa) leaf=srv-rsa ;;
	ec) leaf=srv-ec ;;
	*) leaf=$CERT ;;
	esac
	key=$MTA_PKIDIR/$leaf.key
	chain=$MTA_PKIDIR/$leaf.chain.pem
	if [ ! -s "$chain" ] || [ ! -s "$key" ]; then
		mta__err "no certificate ${CERT:-rsa} in $MTA_PKIDIR"
		return 1
	fi
	case ${MTA_REQUIRE_AUTH:-1} in
	0|1) reqauth=${MTA_REQUIRE_AUTH:-1} ;;
	*) mta__err "MTA_REQUIRE_AUTH must be 0 or 1"; return 1 ;;
	esac

	chmod 755 "$WORKDIR" || return 1
	mkdir -p "$MTA_DIR/etc" "$MTA_DIR/spool" "$MTA_DIR/log" \
	    "$MTA_DIR/run" "$MTA_DIR/mail/alice" "$MTA_DIR/mail/bob" \
	    "$MTA_DIR/mail/catchall" || return 1
	chmod 755 "$MTA_DIR" "$MTA_DIR/etc" || return 1
	# Exim reads key and passwords as its own user, never as root
	cp "$chain" "$MTA_DIR/etc/chain.pem" &&
	    cp "$key" "$MTA_DIR/etc/key.pem" || return 1
	if [ ! -e "$MTA_DIR/etc/passwd" ]; then
		printf 'alice: alice-pw-1\nbob: bob-pw-2\n' \
		    > "$MTA_DIR/etc/passwd" || return 1
	fi
	chown "$MTA_USER:$MTA_USER" "$MTA_DIR/etc/chain.pem" \
	    "$MTA_DIR/etc/key.pem" "$MTA_DIR/etc/passwd" &&
	    chmod 600 "$MTA_DIR/etc/key.pem" "$MTA_DIR/etc/passwd" &&
	    chown -R "$MTA_USER:$MTA_USER" "$MTA_DIR/spool" "$MTA_DIR/log" \
	    "$MTA_DIR/run" "$MTA_DIR/mail" || return 1
	if ! runuser -u "$MTA_USER" -- test -w "$MTA_DIR/mail/alice"; then
		mta__err "$MTA_DIR is not reachable by user $MTA_USER" \
		    "(is a parent directory mode 0700?)"
		return 1
	fi

	# macros first (values from the shell), then the fixed part
	cat > "$MTA_CONF" <<EOF || return 1
# written by tests/real/mta.sh; self-contained, /etc/exim4 is unused
TT_DIR = $MTA_DIR
TT_USER = $MTA_USER
TT_PLAIN = $SMTP_PORT
TT_SUBMIT = $SUBMIT_PORT
TT_SMTPS = $SMTPS_PORT
TT_REQAUTH = $reqauth
EOF
	cat >> "$MTA_CONF" <<'EOF' || return 1
keep_environment =
primary_hostname = mta.tern.test
qualify_domain = mta.tern.test
exim_user = TT_USER
exim_group = TT_USER
never_users = root
spool_directory = TT_DIR/spool
log_file_path = TT_DIR/log/%slog
pid_file_path = TT_DIR/run/exim.pid
local_interfaces = <; 127.0.0.1.TT_PLAIN ; 127.0.0.1.TT_SUBMIT ; \
	127.0.0.1.TT_SMTPS
tls_on_connect_ports = TT_SMTPS
tls_certificate = TT_DIR/etc/chain.pem
tls_privatekey = TT_DIR/etc/key.pem
tls_advertise_hosts = ${if eq{$received_port}{TT_PLAIN}{}{*}}
auth_advertise_hosts = ${if or{{eq{$received_port}{TT_PLAIN}} \
	{def:tls_in_cipher}}{*}{}}
# no DNS, no ident: nothing leaves 127.0.0.1.  helo_lookup_domains: by
# default an EHLO naming this host's own address ([127.0.0.1], as tern's
# EHLO does here) makes Exim look its name up; with no reachable DNS
# server that stalls one EHLO in a few by the resolver's 5 s timeout.
host_lookup =
helo_lookup_domains =
rfc1413_hosts =
rfc1413_query_timeout = 0s
message_size_limit = 100M
accept_8bitmime = true
pipelining_advertise_hosts = *
smtputf8_advertise_hosts = *
# deliver every message at once, however many come in one connection
smtp_accept_queue_per_connection = 0
smtp_accept_max = 50
# keep the message's own trace-like fields: the file is byte-exact
return_path_remove = false
envelope_to_remove = false
delivery_date_remove = false
log_selector = +smtp_connection +incoming_port +tls_cipher \
	+received_recipients +smtp_protocol_error +smtp_syntax_error \
	+smtp_no_mail +smtp_incomplete_transaction
acl_smtp_auth = acl_auth
acl_smtp_mail = acl_mail
acl_smtp_rcpt = acl_rcpt
acl_smtp_data = acl_data

begin acl

acl_auth:
  warn logwrite = AUTH mech=${uc:${extract{1}{ }{$smtp_command_argument}}} \
	port=$received_port tls=${if def:tls_in_cipher{yes}{no}}
  accept

acl_mail:
  deny message = 530 5.7.0 Authentication required
	condition = ${if and{{eq{TT_REQAUTH}{1}} \
		{!eq{$received_port}{TT_PLAIN}}}}
	!authenticated = *
  accept

acl_rcpt:
  defer message = 451 4.3.0 Temporary failure requested by the test
	local_parts = tempfail-rcpt
  deny message = 550 5.1.1 Recipient rejected as requested by the test
	local_parts = reject-rcpt
  warn local_parts = tempfail-data
	set acl_m_tempfail = 1
  warn local_parts = reject-data
	set acl_m_reject = 1
  accept

acl_data:
  defer message = 451 4.3.0 Temporary failure requested by the test
	condition = ${if eq{$acl_m_tempfail}{1}}
  deny message = 554 5.6.0 Message rejected as requested by the test
	condition = ${if eq{$acl_m_reject}{1}}
  accept

begin routers

# a local part with a directory mail/NAME gets mail/NAME/Maildir
user_dir:
  driver = accept
  local_parts = dsearch;TT_DIR/mail
  transport = maildir_user

catchall:
  driver = accept
  transport = maildir_catchall

begin transports

maildir_user:
  driver = appendfile
  directory = TT_DIR/mail/$local_part_data/Maildir
  maildir_format
  create_directory
  directory_mode = 0755
  mode = 0644
  user = TT_USER
  group = TT_USER
  return_path_add
  envelope_to_add
  delivery_date_add = false

maildir_catchall:
  driver = appendfile
  directory = TT_DIR/mail/catchall/Maildir
  maildir_format
  create_directory
  directory_mode = 0755
  mode = 0644
  user = TT_USER
  group = TT_USER
  return_path_add
  envelope_to_add
  delivery_date_add = false

begin authenticators

PLAIN:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = ${if eq{$auth2}{tempfail} \
	{${readfile{TT_DIR/etc/no-such-file}}} \
	{${if and{{!eq{$auth3}{}} \
	{eq{$auth3}{${lookup{$auth2}lsearch{TT_DIR/etc/passwd}}}}}}}}
  server_set_id = $auth2

LOGIN:
  driver = plaintext
  public_name = LOGIN
  server_prompts = <| Username: | Password:
  server_condition = ${if eq{$auth1}{tempfail} \
	{${readfile{TT_DIR/etc/no-such-file}}} \
	{${if and{{!eq{$auth2}{}} \
	{eq{$auth2}{${lookup{$auth1}lsearch{TT_DIR/etc/passwd}}}}}}}}
  server_set_id = $auth1

CRAM:
  driver = cram_md5
  public_name = CRAM-MD5
  server_secret = ${if eq{$auth1}{tempfail} \
	{${readfile{TT_DIR/etc/no-such-file}}} \
	{${lookup{$auth1}lsearch{TT_DIR/etc/passwd}{$value}fail}}}
  server_set_id = $auth1
EOF
	# Exim refuses a configuration that others may write to
	chmod 644 "$MTA_CONF" "$MTA_DIR/etc/chain.pem" || return 1
	if ! "$MTA_EXIM" -C "$MTA_CONF" -bV > "$MTA_DIR/log/check.out" 2>&1
	then
		mta__err "bad config:"
		cat "$MTA_DIR/log/check.out" >&2
		return 1
	fi
}

mta_start() {
	local pid i
	mta__check_workdir || return 1
	pid=$(mta__pid)
	if mta__ours "$pid"; then
		mta__err "already running (pid $pid)"
		return 1
	fi
	mta__configure || return 1
	if ! mta__ports closed 0 0 2>/dev/null; then
		mta__err "port $SMTP_PORT, $SUBMIT_PORT or $SMTPS_PORT on" \
		    "127.0.0.1 is already in use (a leftover server?)"
		return 1
	fi
	rm -f "$MTA_DIR/run/exim.pid"
	: >> "$MTA_DIR/log/exim.stdout"
	# its own session and process group, so stop can end its children;
	# -bdf: no detaching, no queue runner; the daemon writes the pid file
	setsid "$MTA_EXIM" -C "$MTA_CONF" -bdf -oP "$MTA_DIR/run/exim.pid" \
	    < /dev/null >> "$MTA_DIR/log/exim.stdout" 2>&1 &
	i=0
	while [ ! -s "$MTA_DIR/run/exim.pid" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	pid=$(mta__pid)
	if [ -z "$pid" ] || ! mta__ports open 10 "$pid"; then
		mta__err "did not start; log:"
		tail -20 "$MTA_LOG" "$MTA_DIR/log/paniclog" \
		    "$MTA_DIR/log/exim.stdout" >&2 2>/dev/null
		mta_stop
		return 1
	fi
	return 0
}

mta_stop() {
	local pid i pg
	[ -n "${WORKDIR:-}" ] && [ -d "$WORKDIR" ] || return 0
	mta__check_workdir || return 0
	pid=$(mta__pid)
	if mta__ours "$pid"; then
		# let accepted messages reach their Maildir first
		i=0
		while [ "$(mta_queue 2>/dev/null)" != 0 ] && [ $i -lt 100 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		[ $i -lt 100 ] ||
		    mta__err "messages still queued after 10 s; stopping anyway"
		pg=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null |
		    cut -d' ' -f3)
		kill -TERM "$pid" 2>/dev/null
		i=0
		while mta__alive "$pid" && [ $i -lt 50 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		if mta__alive "$pid"; then
			mta__err "pid $pid ignored SIGTERM for 5 s; SIGKILL"
			kill -KILL "$pid" 2>/dev/null
		fi
		# reap it when it is our child (library use); harmless otherwise
		wait "$pid" 2>/dev/null
		# SMTP sessions and deliveries still running in its group
		if [ "$pg" = "$pid" ]; then
			kill -TERM "-$pg" 2>/dev/null
			i=0
			while mta__group "$pg" && [ $i -lt 20 ]; do
				sleep 0.1
				i=$((i + 1))
			done
			mta__group "$pg" && kill -KILL "-$pg" 2>/dev/null
		fi
		mta__ports closed 3 0 || true
	fi
	rm -f "$MTA_DIR/run/exim.pid"
	return 0
}

mta_restart() {
	mta_stop && mta_start
}

mta_status() {
	local pid
	mta__check_workdir || return 1
	pid=$(mta__pid)
	if mta__ours "$pid"; then
		echo "running pid $pid smtp 127.0.0.1:$SMTP_PORT" \
		    "submission 127.0.0.1:$SUBMIT_PORT" \
		    "smtps 127.0.0.1:$SMTPS_PORT log $MTA_LOG"
		return 0
	fi
	echo "not running"
	return 1
}

mta_log() {
	mta__check_workdir || return 1
	cat "$MTA_LOG" 2>/dev/null
	return 0
}

mta_auth_count() {
	mta__check_workdir || return 1
	awk '/ AUTH mech=/ || /protocol error in "AUTH.*not advertised$/ \
	    { n++ } END { print n + 0 }' "$MTA_LOG" 2>/dev/null || echo 0
}

# mta__user NAME — the directory below mail/ that NAME's mail goes to
mta__user() {
	local u
	u=$(printf '%s' "$1" | tr 'A-Z' 'a-z')
	case $u in
	""|*/*|.*) mta__err "bad user name: $1"; return 1 ;;
	esac
	[ -d "$MTA_DIR/mail/$u" ] || u=catchall
	echo "$u"
}

mta_maildir() {
	local u
	mta__check_workdir || return 1
	u=$(mta__user "${1:-}") || return 1
	echo "$MTA_DIR/mail/$u/Maildir"
}

mta_count() {
	local md
	md=$(mta_maildir "${1:-}") || return 1
	if [ -d "$md/new" ]; then
		ls -A "$md/new" | wc -l | tr -d ' '
	else
		echo 0
	fi
}

mta_wait() {
	local want secs i n
	want=${2:-1}
	secs=${3:-10}
	i=0
	while :; do
		n=$(mta_count "${1:-}") || return 1
		[ "$n" -ge "$want" ] && return 0
		if [ $i -ge $((secs * 20)) ]; then
			mta__err "$1: $n message(s) in new/ after ${secs}s," \
			    "want $want"
			return 1
		fi
		sleep 0.05
		i=$((i + 1))
	done
}

mta_newest() {
	local md f
	md=$(mta_maildir "${1:-}") || return 1
	f=$(ls -t "$md/new" 2>/dev/null | head -1)
	if [ -z "$f" ]; then
		mta__err "no message in $md/new"
		return 1
	fi
	echo "$md/new/$f"
}

mta_clear() {
	local md
	md=$(mta_maildir "${1:-}") || return 1
	[ -d "$md" ] || return 0
	find "$md/new" "$md/cur" "$md/tmp" -mindepth 1 -maxdepth 1 \
	    -type f -exec rm -f {} + 2>/dev/null
	return 0
}

mta_strip() {
	"$MTA_PY" - "${1:-}" <<'EOF'
import sys
want = [b"return-path:", b"envelope-to:", b"received:"]
try:
    with open(sys.argv[1], "rb") as f:
        data = f.read()
except OSError as e:
    print("mta.sh: strip: %s" % e, file=sys.stderr)
    sys.exit(1)
pos = 0
for name in want:
    if not data[pos:pos + len(name)].lower() == name:
        print("mta.sh: strip: %s: no %s field where expected"
              % (sys.argv[1], name.decode()), file=sys.stderr)
        sys.exit(1)
    while True:
        nl = data.find(b"\n", pos)
        if nl < 0:
            print("mta.sh: strip: %s: truncated" % sys.argv[1],
                  file=sys.stderr)
            sys.exit(1)
        pos = nl + 1
        if data[pos:pos + 1] not in (b" ", b"\t"):
            break
sys.stdout.buffer.write(data[pos:])
EOF
}

mta_queue() {
	mta__check_workdir || return 1
	"$MTA_EXIM" -C "$MTA_CONF" -bpc 2>/dev/null
}

mta_adduser() {
	local name pw
	mta__check_workdir || return 1
	name=$(printf '%s' "${1:-}" | tr 'A-Z' 'a-z')
	pw=${2:-}
	case $name in
	""|*/*|.*|*:*|*" "*|catchall)
		mta__err "adduser: bad name: ${1:-}"; return 1 ;;
	esac
	if [ -z "$pw" ]; then
		mta__err "usage: mta_adduser NAME PASSWORD"
		return 1
	fi
	mkdir -p "$MTA_DIR/etc" "$MTA_DIR/mail/$name" || return 1
	[ -e "$MTA_DIR/etc/passwd" ] ||
	    printf 'alice: alice-pw-1\nbob: bob-pw-2\n' > "$MTA_DIR/etc/passwd"
	printf '%s: %s\n' "$name" "$pw" >> "$MTA_DIR/etc/passwd" || return 1
	chown "$MTA_USER:$MTA_USER" "$MTA_DIR/etc/passwd" \
	    "$MTA_DIR/mail" "$MTA_DIR/mail/$name" &&
	    chmod 600 "$MTA_DIR/etc/passwd"
}

if [ "$(basename -- "$0")" = mta.sh ]; then
	cmd=${1:-}
	[ $# -gt 0 ] && shift
	case $cmd in
	start) mta_start ;;
	stop) mta_stop ;;
	restart) mta_restart ;;
	status) mta_status ;;
	log) mta_log ;;
	maildir) mta_maildir "$@" ;;
	queue) mta_queue ;;
	"")	echo "tests/real/mta.sh: helper, not a suite;" \
		    "usage: WORKDIR=DIR mta.sh" \
		    "start|stop|restart|status|log|maildir USER|queue"
		exit 0 ;;
	*) mta__err "usage: start|stop|restart|status|log|maildir USER|queue"
		exit 2 ;;
	esac
	exit $?
fi
