#!/bin/sh
# tests/real/dovecot.sh — a private Dovecot POP3 server on 127.0.0.1
#
# As a command:
#   WORKDIR=/tmp/tdv.XXXXXX sh tests/real/dovecot.sh start|stop|status
#   WORKDIR=... sh tests/real/dovecot.sh fill USER [--clear] [FILE...]
# As a library (POSIX sh; the functions return non-zero and explain on
# stderr, they never exit):
#   . tests/real/dovecot.sh
#   WORKDIR=$(mktemp -d /tmp/tdv.XXXXXX)
#   trap 'dv_stop; rm -rf "$WORKDIR"' EXIT
#   dv_start || exit 1
#   dv_fill alice msg1.eml msg2.eml
#   ... run the client against 127.0.0.1:$POP3_PORT / $POP3S_PORT ...
#   dv_stop
# The command form runs only when this file is executed under its own name;
# sourcing it only defines the functions.  Executed without a command (as
# tests/run.sh does with every tests/real/*.sh) it prints usage and exits 0.
#
# Environment (read by every function, so set it before calling):
#   WORKDIR      required, absolute and short (at most 60 bytes): Dovecot's
#                unix sockets live in $WORKDIR/run/ and must fit 108 bytes.
#                The caller creates and removes it; start makes it 0755 so
#                the mail user can reach the mailboxes below it.
#   POP3_PORT    plain POP3 with STLS (default 11110)
#   POP3S_PORT   implicit TLS (default 11995)
#   PKIDIR       certificates from tests/real/pki.sh (default $WORKDIR/pki;
#                made on start if missing).  The CA for clients: $PKIDIR/ca.pem
#   CERT         rsa (default: srv-rsa), ec (srv-ec), or any pki.sh leaf
#                name such as expired or wrongname; the server sends
#                $PKIDIR/NAME.chain.pem
#   DV_SECLEVEL0 1: ssl_cipher_list gets @SECLEVEL=0 (set automatically for
#                CERT=weak, whose RSA-1024 key OpenSSL refuses otherwise)
#   DV_AUTH_FAILURE_DELAY  seconds Dovecot waits before a failed-auth reply
#                (default 0 here; Dovecot's own default is 2)
#   DV_UIDVALIDITY  fill uses this UIDVALIDITY (default: a value that grows
#                by one on every fill, so UIDLs are never reused)
#   MAILUSER     system user owning the mail (default ternmail; created with
#                useradd --system if missing)
#
# What the server is:
#   users alice / alice-pw-1 and bob / bob-pw-2, each with a Maildir at
#   $WORKDIR/home/USER/Maildir owned by MAILUSER; auth_mechanisms plain
#   login cram-md5 apop (the passwd-file holds {PLAIN} passwords, which APOP
#   and CRAM-MD5 need); disable_plaintext_auth=no, so USER/PASS works on the
#   plain port — and note that Dovecot counts 127.0.0.1 as secured anyway, so
#   even =yes would not refuse plaintext logins here: a test of "the client
#   refuses to send a password in the clear" must not rely on the server.
#   ssl_min_protocol TLSv1.2; pop3_uidl_format %08Xu%08Xv (UIDLs are
#   16 hex digits: uid then uidvalidity); pop3_no_flag_updates=yes (RETR does
#   not rename files, so keep-runs are repeatable); DELE is expunged at QUIT.
#
# The log, $WORKDIR/log/dovecot.log ($DV_LOG), has one line per login with
# user=<..> method=.. and the TLS version/cipher (%k), and (auth_verbose)
# a line for every failed attempt, e.g. "Password mismatch".  After any
# dv_* call, DV_LOG, DV_CA (the CA file for clients) and DV_PKIDIR are set.
# A failed login is answered within 0.5 s: auth_failure_delay is 0 and the
# anvil auth penalty (which would grow to 15 s per attempt from 127.0.0.1)
# is switched off, so a test can fail to log in ten times quickly.
#
# fill USER FILE... copies the files, in order, into USER's Maildir/cur as
# "T.MnPpid.tern,S=size,W=vsize:2," (vsize counts LF as CRLF) after the messages already there, then
# wipes Dovecot's dovecot-uidlist and index files and writes a fresh
# dovecot-uidlist with a new UIDVALIDITY, so the next session numbers all
# messages 1..n in that order.  fill USER --clear empties the mailbox first.
#
# start waits at most 10 s for both ports; stop sends SIGTERM to the
# recorded master pid, waits at most 5 s, then SIGKILL, and waits at most
# 3 s for the ports to close.  stop is a no-op when nothing runs, so it is
# safe in an EXIT trap.  Needs root (Dovecot switches to the mail user).

POP3_PORT=${POP3_PORT:-11110}
POP3S_PORT=${POP3S_PORT:-11995}
# the next pair to try when one is taken (tests/lib.sh start_server)
dv_ports_next() { POP3_PORT=$((POP3_PORT + 10)); POP3S_PORT=$((POP3S_PORT + 10)); }
DV_PY=/usr/bin/python3

dv__err() { echo "dovecot.sh: $*" >&2; }

# where pki.sh is: next to this file.  When sourced, $0 is the caller, so
# also look below $top (set by tests/lib.sh) and the current directory.
dv__here() {
	for d in ${DV_HERE:-} "$(dirname "$0")" "${top:-.}/tests/real" \
	    ./tests/real; do
		if [ -f "$d/pki.sh" ] && [ -f "$d/dovecot.sh" ]; then
			echo "$d"
			return 0
		fi
	done
	dv__err "cannot find tests/real/pki.sh (set DV_HERE)"
	return 1
}

dv__check_workdir() {
	case ${WORKDIR:-} in
	/*) ;;
	*) dv__err "WORKDIR must be set to an absolute path"; return 1 ;;
	esac
	if [ ${#WORKDIR} -gt 60 ]; then
		dv__err "WORKDIR too long for unix sockets (max 60): $WORKDIR"
		return 1
	fi
	DV_LOG=$WORKDIR/log/dovecot.log
	DV_PKIDIR=${PKIDIR:-$WORKDIR/pki}
	DV_CA=$DV_PKIDIR/ca.pem
	return 0
}

# dv__alive PID — running and not a zombie
dv__alive() {
	local st
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null || return 1
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -n "$st" ] && [ "$st" != Z ]
}

dv__pid() {
	[ -s "$WORKDIR/dovecot.pid" ] && cat "$WORKDIR/dovecot.pid"
}

# dv__ports WANT TIMEOUT PID — wait until both ports are open (WANT=open) or
# closed (WANT=closed); with PID, give up early when PID is gone
dv__ports() {
	"$DV_PY" - "$1" "$2" "${3:-0}" "$POP3_PORT" "$POP3S_PORT" <<'EOF'
import os, socket, sys, time
want, limit, pid = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
ports = [int(p) for p in sys.argv[4:]]
def is_open(p):
    s = socket.socket()
    s.settimeout(1)
    try:
        s.connect(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()
def alive(p):
    try:
        with open("/proc/%d/stat" % p) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
end = time.monotonic() + limit
while True:
    st = [is_open(p) for p in ports]
    if all(st) if want == "open" else not any(st):
        sys.exit(0)
    if pid and not alive(pid):
        print("dovecot.sh: dovecot (pid %d) exited" % pid, file=sys.stderr)
        sys.exit(1)
    if time.monotonic() > end:
        bad = [p for p, o in zip(ports, st) if o != (want == "open")]
        print("dovecot.sh: port(s) %s not %s after %gs"
              % (",".join(map(str, bad)), want, limit), file=sys.stderr)
        sys.exit(1)
    time.sleep(0.05)
EOF
}

dv__mailuser() {
	local mu
	mu=${MAILUSER:-ternmail}
	if ! id "$mu" >/dev/null 2>&1; then
		useradd --system --no-create-home --home-dir /nonexistent \
		    --shell /usr/sbin/nologin "$mu" || {
			dv__err "cannot create system user $mu"
			return 1
		}
	fi
	DV_UID=$(id -u "$mu") && DV_GID=$(id -g "$mu") || return 1
	if [ "$DV_UID" -eq 0 ]; then
		dv__err "MAILUSER must not be root"
		return 1
	fi
	DV_MAILUSER=$mu
}

dv__configure() {
	local here chain key cipher dh u
	here=$(dv__here) || return 1
	sh "$here/pki.sh" "$DV_PKIDIR" || return 1
	case ${CERT:-rsa} in
	rsa) chain=srv-rsa ;;
	ec) chain=srv-ec ;;
	*) chain=$CERT ;;
	esac
	key=$DV_PKIDIR/$chain.key
	chain=$DV_PKIDIR/$chain.chain.pem
	if [ ! -s "$chain" ] || [ ! -s "$key" ]; then
		dv__err "no certificate ${CERT:-rsa} in $DV_PKIDIR"
		return 1
	fi
	cipher=
	if [ "${DV_SECLEVEL0:-0}" = 1 ] || [ "${CERT:-}" = weak ]; then
		cipher="ssl_cipher_list = DEFAULT:@SECLEVEL=0"
	fi
	dh=
	[ -s /usr/share/dovecot/dh.pem ] &&
	    dh="ssl_dh = </usr/share/dovecot/dh.pem"

	chmod 755 "$WORKDIR" || return 1
	mkdir -p "$WORKDIR/etc" "$WORKDIR/run" "$WORKDIR/state" \
	    "$WORKDIR/log" "$WORKDIR/home" || return 1
	chmod 755 "$WORKDIR/etc" "$WORKDIR/home"
	# passdb and userdb: user:password:uid:gid:gecos:home:shell:extra
	: > "$WORKDIR/etc/users"
	chgrp dovecot "$WORKDIR/etc/users" && chmod 640 "$WORKDIR/etc/users" ||
	    return 1
	for u in alice:alice-pw-1 bob:bob-pw-2; do
		printf '%s:{PLAIN}%s:%s:%s::%s::\n' "${u%%:*}" "${u#*:}" \
		    "$DV_UID" "$DV_GID" "$WORKDIR/home/${u%%:*}" \
		    >> "$WORKDIR/etc/users"
		dv__mkmaildir "${u%%:*}" || return 1
	done
	# the auth process (user dovecot) and the mail user must reach these
	if ! runuser -u dovecot -- test -r "$WORKDIR/etc/users" ||
	    ! runuser -u "$DV_MAILUSER" -- test -w "$WORKDIR/home/alice/Maildir"
	then
		dv__err "$WORKDIR is not reachable by users dovecot and" \
		    "$DV_MAILUSER (is a parent directory mode 0700?)"
		return 1
	fi
	cat > "$WORKDIR/etc/dovecot.conf" <<EOF
# written by tests/real/dovecot.sh; self-contained, /etc/dovecot is unused
instance_name = tern-test
protocols = pop3
listen = 127.0.0.1
base_dir = $WORKDIR/run/
state_dir = $WORKDIR/state
log_path = $WORKDIR/log/dovecot.log
# %k: TLS protocol and cipher of each login
login_log_format_elements = user=<%u> method=%m rip=%r lip=%l mpid=%e %c %k session=<%{session}>
auth_verbose = yes
auth_failure_delay = ${DV_AUTH_FAILURE_DELAY:-0}
auth_mechanisms = plain login cram-md5 apop
# 127.0.0.1 counts as secured even with =yes; =no states the intent
disable_plaintext_auth = no

ssl = yes
ssl_cert = <$chain
ssl_key = <$key
ssl_min_protocol = TLSv1.2
$dh
$cipher

first_valid_uid = $DV_UID
mail_location = maildir:~/Maildir
pop3_uidl_format = %08Xu%08Xv
pop3_no_flag_updates = yes

passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $WORKDIR/etc/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $WORKDIR/etc/users
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $POP3_PORT
  }
  inet_listener pop3s {
    address = 127.0.0.1
    port = $POP3S_PORT
    ssl = yes
  }
}
# No auth penalty: anvil would delay every auth from 127.0.0.1 by up to 15 s
# after a failure (login_trusted_networks does not lift it in 2.3).  mode 0
# drops the listener, auth finds no socket and turns the penalty off.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
EOF
	if ! doveconf -c "$WORKDIR/etc/dovecot.conf" -n \
	    > "$WORKDIR/log/doveconf.out" 2>&1; then
		dv__err "bad config:"
		cat "$WORKDIR/log/doveconf.out" >&2
		return 1
	fi
}

# dv__mkmaildir USER
dv__mkmaildir() {
	local h
	h=$WORKDIR/home/$1
	mkdir -p "$h/Maildir/cur" "$h/Maildir/new" "$h/Maildir/tmp" || return 1
	chown -R "$DV_UID:$DV_GID" "$h" && chmod 700 "$h" || return 1
}

dv_start() {
	local pid
	dv__check_workdir || return 1
	pid=$(dv__pid)
	if dv__alive "$pid"; then
		dv__err "already running (pid $pid)"
		return 1
	fi
	dv__mailuser || return 1
	dv__configure || return 1
	if ! dv__ports closed 0 0 2>/dev/null; then
		dv__err "port $POP3_PORT or $POP3S_PORT on 127.0.0.1 is" \
		    "already in use (a leftover server?)"
		return 1
	fi
	: >> "$DV_LOG"
	rm -f "$WORKDIR/run/anvil-auth-penalty"
	dovecot -F -c "$WORKDIR/etc/dovecot.conf" < /dev/null \
	    >> "$WORKDIR/log/dovecot.stdout" 2>&1 &
	pid=$!
	echo "$pid" > "$WORKDIR/dovecot.pid"
	if ! dv__ports open 10 "$pid"; then
		dv__err "did not start; log:"
		tail -20 "$DV_LOG" "$WORKDIR/log/dovecot.stdout" >&2
		dv_stop
		return 1
	fi
	return 0
}

dv_stop() {
	local pid i
	[ -n "${WORKDIR:-}" ] && [ -d "$WORKDIR" ] || return 0
	dv__check_workdir || return 0
	pid=$(dv__pid)
	if [ -n "$pid" ] && dv__alive "$pid" &&
	    tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null |
	    grep -q "dovecot.*$WORKDIR/etc/dovecot.conf"; then
		kill -TERM "$pid" 2>/dev/null
		i=0
		while dv__alive "$pid" && [ $i -lt 50 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		if dv__alive "$pid"; then
			dv__err "pid $pid ignored SIGTERM for 5 s; SIGKILL"
			kill -KILL "$pid" 2>/dev/null
		fi
		# reap it when it is our child (library use); harmless otherwise
		wait "$pid" 2>/dev/null
		dv__ports closed 3 0 || true
	fi
	rm -f "$WORKDIR/dovecot.pid"
	return 0
}

dv_status() {
	local pid
	dv__check_workdir || return 1
	pid=$(dv__pid)
	if dv__alive "$pid"; then
		echo "running pid $pid pop3 127.0.0.1:$POP3_PORT" \
		    "pop3s 127.0.0.1:$POP3S_PORT log $DV_LOG"
		return 0
	fi
	echo "not running"
	return 1
}

# dv_fill USER [--clear] [FILE...]
dv_fill() {
	local user clear md uv
	dv__check_workdir || return 1
	user=${1:-}
	case $user in
	alice|bob) ;;
	*) dv__err "fill: USER must be alice or bob"; return 1 ;;
	esac
	shift
	clear=0
	if [ "${1:-}" = --clear ]; then
		clear=1
		shift
	fi
	if [ $clear = 0 ] && [ $# -eq 0 ]; then
		dv__err "usage: fill USER [--clear] [FILE...]"
		return 1
	fi
	dv__mailuser || return 1
	md=$WORKDIR/home/$user/Maildir
	[ -d "$md/cur" ] || dv__mkmaildir "$user" || return 1
	if [ -n "${DV_UIDVALIDITY:-}" ]; then
		uv=$DV_UIDVALIDITY
	else
		# strictly growing per WORKDIR, so no two fills share UIDLs
		uv=$(cat "$WORKDIR/uidvalidity" 2>/dev/null || date +%s)
		echo $((uv + 1)) > "$WORKDIR/uidvalidity"
	fi
	"$DV_PY" - "$md" "$clear" "$uv" "$DV_UID" "$DV_GID" "$@" <<'EOF'
import os, re, sys
md, clear, uv, uid, gid = sys.argv[1], sys.argv[2] == "1", \
    int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
files = sys.argv[6:]
BASE = 1600000000
msgs = []
for sub in ("cur", "new"):
    for n in os.listdir(os.path.join(md, sub)):
        msgs.append(os.path.join(md, sub, n))
if clear:
    for p in msgs:
        os.unlink(p)
    msgs = []
last = 0
for p in msgs:
    m = re.match(r"(\d+)\.", os.path.basename(p))
    if m:
        last = max(last, int(m.group(1)) - BASE)
for i, f in enumerate(files, last + 1):
    with open(f, "rb") as fh:
        data = fh.read()
    size = len(data)
    vsize = size + data.count(b"\n") - data.count(b"\r\n")
    name = "%d.M%dP%d.tern,S=%d,W=%d:2," % (BASE + i, i, os.getpid(),
                                             size, vsize)
    tmp = os.path.join(md, "tmp", name.split(":")[0])
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.chown(tmp, uid, gid)
    os.chmod(tmp, 0o600)
    os.rename(tmp, os.path.join(md, "cur", name))
for n in os.listdir(md):
    if n.startswith("dovecot"):
        os.unlink(os.path.join(md, n))
ul = os.path.join(md, "dovecot-uidlist")
with open(ul, "w") as fh:
    fh.write("3 V%d N1\n" % uv)
os.chown(ul, uid, gid)
os.chmod(ul, 0o600)
EOF
}

if [ "$(basename -- "$0")" = dovecot.sh ]; then
	cmd=${1:-}
	[ $# -gt 0 ] && shift
	case $cmd in
	start) dv_start ;;
	stop) dv_stop ;;
	status) dv_status ;;
	fill) dv_fill "$@" ;;
	"")	echo "tests/real/dovecot.sh: helper, not a suite; usage:" \
		    "WORKDIR=DIR dovecot.sh start|stop|status|fill USER" \
		    "[--clear] [FILE...]"
		exit 0 ;;
	*) dv__err "usage: start|stop|status|fill USER [--clear] [FILE...]"
		exit 2 ;;
	esac
	exit $?
fi
