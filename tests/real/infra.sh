#!/bin/sh
# tests/real/infra.sh — checks the test infrastructure itself: the PKI
# (tests/real/pki.sh), the private Dovecot (tests/real/dovecot.sh) and the
# scripted fake server (tests/dialog/fakeserver.py).  Clients are openssl
# s_client and a small Python client; tern is not used.
#   sh tests/real/infra.sh          (from the repository root)
# Env: POP3_PORT (11110) POP3S_PORT (11995).  Every wait is bounded; Dovecot
# is always stopped (EXIT trap).
. "$(dirname "$0")/../lib.sh"
. "$top/tests/real/dovecot.sh"

PY=/usr/bin/python3
FS=$top/tests/dialog/fakeserver.py
WORKDIR=$(mktemp -d /tmp/tdv.XXXXXX)
PKIDIR=$WORKDIR/pki
export PKIDIR
FS_PID=
cleanup() {
	dv_stop
	[ -z "$FS_PID" ] || kill "$FS_PID" 2>/dev/null
	rm -rf "$TMP" "$WORKDIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
CA=$PKIDIR/ca.pem
nfail=0
fail() { echo "FAIL $1: $2"; nfail=$((nfail + 1)); }
ok() { if "$@"; then echo yes; else echo no; fi; }

# ------------------------------------------------------------ the client
cat > "$TMP/c.py" <<'EOF'
import base64, hashlib, hmac, os, re, socket, ssl, sys, time

class Conn:
    def __init__(self, port, tls=False, ca=None, timeout=10):
        self.s = socket.create_connection(("127.0.0.1", port),
                                          timeout=timeout)
        self.buf = b""
        self.ca = ca
        if tls:
            self.starttls()

    def starttls(self, sni="localhost"):
        ctx = ssl.create_default_context(cafile=self.ca)
        ctx.options &= ~getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
        self.s = ctx.wrap_socket(self.s, server_hostname=sni,
                                 suppress_ragged_eofs=False)

    def line(self):
        while b"\n" not in self.buf:
            b = self.s.recv(65536)
            if not b:
                raise EOFError("eof after %r" % self.buf)
            self.buf += b
        i = self.buf.index(b"\n") + 1
        l, self.buf = self.buf[:i], self.buf[i:]
        return l

    def send(self, b):
        self.s.sendall(b)

    def cmd(self, c):
        self.send(c + b"\r\n")
        return self.line()

    def body(self):
        out = []
        while True:
            l = self.line()
            if l == b".\r\n":
                return b"".join(out)
            out.append(l[1:] if l.startswith(b".") else l)

    def eof(self):
        """read to the end; say how the stream ended"""
        try:
            while True:
                b = self.s.recv(65536)
                if not b:
                    return "close_notify" if isinstance(
                        self.s, ssl.SSLSocket) else "eof"
                self.buf += b
        except ssl.SSLError as e:
            if isinstance(e, ssl.SSLEOFError) or getattr(
                    e, "reason", "") == "UNEXPECTED_EOF_WHILE_READING":
                return "ragged"
            raise
        except ConnectionResetError:
            return "reset"

def pop3(port, mode, ca, user, pw, auth, cmds):
    c = Conn(port, mode == "tls", ca)
    g = c.line()
    print(g.decode().rstrip())
    if mode == "stls":
        r = c.cmd(b"STLS")
        if not r.startswith(b"+OK") or c.buf:
            print("STLS failed: %r %r" % (r, c.buf)); return 1
        c.starttls()
    if auth == "user":
        c.cmd(b"USER " + user); r = c.cmd(b"PASS " + pw)
    elif auth == "apop":
        ts = re.search(rb"<[^>]*>", g).group(0)
        r = c.cmd(b"APOP " + user + b" " +
                  hashlib.md5(ts + pw).hexdigest().encode())
    elif auth == "cram":
        r = c.cmd(b"AUTH CRAM-MD5")
        ch = base64.b64decode(r[2:].strip())
        r = c.cmd(base64.b64encode(
            user + b" " + hmac.new(pw, ch, hashlib.md5).hexdigest().encode()))
    elif auth == "plain":
        r = c.cmd(b"AUTH PLAIN " + base64.b64encode(b"\0" + user + b"\0" + pw))
    print("auth " + r.decode().rstrip())
    if not r.startswith(b"+OK"):
        return 1
    rc = 0
    for cmd in cmds:
        cmd, _, save = cmd.partition(">")
        r = c.cmd(cmd.encode())
        print(r.decode().rstrip())
        if not r.startswith(b"+OK"):
            rc = 1
            continue
        w = cmd.split()
        if w[0] in ("RETR", "TOP") or (w[0] in ("LIST", "UIDL", "CAPA")
                                       and len(w) == 1):
            b = c.body()
            if save:
                open(save, "wb").write(b)
            else:
                sys.stdout.write(b.decode("latin-1").replace("\r\n", "\n"))
    c.cmd(b"QUIT")
    return rc

def main():
    a = sys.argv[1:]
    what, port = a[0], int(a[1]) if len(a) > 1 else 0
    if what == "pop3":
        return pop3(port, a[2], a[3], a[4].encode(), a[5].encode(), a[6],
                    a[7:])
    if what == "listeners":       # PORT...: local address of each listener
        found = []
        for f in ("/proc/net/tcp", "/proc/net/tcp6"):
            for l in open(f).read().splitlines()[1:]:
                x = l.split()
                addr, p = x[1].rsplit(":", 1)
                if x[3] == "0A" and int(p, 16) in map(int, a[1:]):
                    found.append("%s:%d" % (addr, int(p, 16)))
        print(" ".join(sorted(found)))
        return 0
    if what == "plain":           # the dialog of fs_plain
        c = Conn(port)
        print(c.line().decode().rstrip())
        print(c.cmd(b"CAPA").decode().rstrip())
        sys.stdout.write(c.body().decode().replace("\r\n", "\n"))
        print(c.cmd(b"USER bob").decode().rstrip())
        print(c.cmd(b"QUIT").decode().rstrip())
        print(c.eof())
        return 0
    if what == "say":             # PORT LINE: send one line, read to eof
        c = Conn(port)
        c.line()
        c.send(a[2].encode() + b"\r\n")
        print(c.eof())
        return 0
    if what == "stls":            # PORT CA good|vuln
        c = Conn(port, ca=a[2])
        c.line()
        c.send(b"STLS\r\n")
        time.sleep(0.2)           # let an injected tail arrive
        r = c.line()
        if c.buf and a[3] == "good":
            print("injection detected: %r" % c.buf)
            c.s.close()
            return 0
        c.starttls()              # "vuln" keeps c.buf: a buffering client
        print("tls " + c.s.version())
        print(c.cmd(b"CAPA").decode().rstrip())
        if a[3] == "vuln":        # it took the injected line as the answer
            return 0
        c.body()
        print(c.cmd(b"QUIT").decode().rstrip())
        print(c.eof())
        return 0
    if what == "eof":             # PORT CA: implicit TLS, read to the end
        c = Conn(port, True, a[2])
        print(c.eof(), len(c.buf))
        return 0
    if what == "eofplain":
        c = Conn(port)
        print(c.eof(), len(c.buf))
        return 0
    if what == "idle":            # PORT SECS: greeting, then wait, close
        c = Conn(port)
        c.line()
        c.s.settimeout(float(a[2]))
        try:
            print("got %r" % c.s.recv(100))
        except socket.timeout:
            print("timeout")
        except OSError as e:
            print("error %s" % e)
        c.s.close()
        return 0
    if what == "count":           # PORT: bytes before the final ".\r\n"
        c = Conn(port)
        n = 0
        tail = b""
        while True:
            b = c.s.recv(65536)
            if not b:
                break
            n += len(b)
            tail = (tail + b)[-5:]
        print(n, "dotend" if tail.endswith(b"\r\n.\r\n") else "nodot")
        return 0
    if what == "early":           # PORT N: read N bytes then close
        c = Conn(port)
        n = 0
        while n < int(a[2]):
            n += len(c.s.recv(4096))
        c.s.close()
        print("closed after", n)
        return 0
    if what == "upload":          # PORT FILE: greeting, file, dot, reply
        c = Conn(port)
        c.line()
        c.send(open(a[2], "rb").read() + b".\r\n")
        print(c.line().decode().rstrip())
        return 0
    if what == "seq":             # PORT: two connections in a row
        for i in (1, 2):
            c = Conn(port)
            print(c.line().decode().rstrip())
            print(c.cmd(b"QUIT").decode().rstrip())
            c.eof()
        return 0
    raise SystemExit("bad use")

sys.exit(main())
EOF
C() { timeout 20 "$PY" "$TMP/c.py" "$@"; }

# fs_start NAME [ARGS...] — run fakeserver on $TMP/NAME.script, wait for
# its port (5 s at most); FS_PORT, FS_PID; stderr to $TMP/NAME.err
fs_start() {
	fsn=$1; shift
	rm -f "$TMP/$fsn.port"
	"$PY" "$FS" --script "$TMP/$fsn.script" --port 0 \
	    --portfile "$TMP/$fsn.port" --log "$TMP/$fsn.log" \
	    --certdir "$PKIDIR" --timeout 15 "$@" 2> "$TMP/$fsn.err" &
	FS_PID=$!
	i=0
	while [ ! -s "$TMP/$fsn.port" ] && [ $i -lt 50 ] &&
	    kill -0 "$FS_PID" 2>/dev/null; do
		sleep 0.1; i=$((i + 1))
	done
	FS_PORT=$(cat "$TMP/$fsn.port" 2>/dev/null)
}
# fs_wait — exit status of the fake server (it ends by its own timeout)
fs_wait() {
	wait "$FS_PID"
	FS_RC=$?
	FS_PID=
	return 0
}
script() { cat > "$TMP/$1.script"; }

# ================================================================= PKI
out=$(sh "$top/tests/real/pki.sh" "$PKIDIR" 2>&1); rc=$?
check pki-make "$rc:$out" "0:"
sum1=$(cat "$PKIDIR"/*.pem | sha256sum)
out=$(sh "$top/tests/real/pki.sh" "$PKIDIR" 2>&1); rc=$?
sum2=$(cat "$PKIDIR"/*.pem | sha256sum)
check pki-idempotent "$rc:$out:$(ok [ "$sum1" = "$sum2" ])" "0::yes"
out=$(sh "$top/tests/real/pki.sh" 2>&1); rc=$?
case $out in
PASS*|FAIL*) check pki-noargs "$out" "not a PASS/FAIL line" ;;
*) check pki-noargs "$rc" 0 ;;
esac

x509() { f=$1; shift; openssl x509 -in "$PKIDIR/$f" -noout "$@" 2>&1; }
# text of one certificate, shifted off its name
txt() { f=$1; shift; openssl x509 -in "$PKIDIR/$f" -noout -text 2>&1; }
# has TEXT PATTERN... — yes or no for each pattern (grep BRE)
has() {
	t_h=$1; shift
	for p_ in "$@"; do
		if printf '%s\n' "$t_h" | grep -q -- "$p_"; then printf yes
		else printf no; fi
	done
}

t_=$(txt ca.pem)
check pki-root-ca "$(has "$t_" 'CA:TRUE' 'Basic Constraints: critical')" \
    yesyes
check pki-root-ku "$(has "$t_" 'Key Usage: critical' \
    'Certificate Sign, CRL Sign')" yesyes
check pki-root-rsa2048 "$(has "$t_" 'Public-Key: (2048 bit)')" yes
check pki-root-selfsigned "$(openssl verify -CAfile "$CA" "$CA" 2>&1)" \
    "$CA: OK"
t_=$(txt int.pem)
check pki-int-p384 "$(has "$t_" 'ASN1 OID: secp384r1')" yes
check pki-int-pathlen0 "$(has "$t_" 'CA:TRUE, pathlen:0')" yes
check pki-int-verifies "$(openssl verify -CAfile "$CA" "$PKIDIR/int.pem" \
    2>&1)" "$PKIDIR/int.pem: OK"
check pki-ca-is-root-only "$(grep -c 'BEGIN CERTIFICATE' "$CA")" 1

for n in srv-rsa srv-ec; do
	check "pki-verify-$n" "$(openssl verify -CAfile "$CA" \
	    -untrusted "$PKIDIR/int.pem" -purpose sslserver \
	    -verify_hostname localhost "$PKIDIR/$n.pem" 2>&1)" \
	    "$PKIDIR/$n.pem: OK"
	check "pki-verify-ip-$n" "$(openssl verify -CAfile "$CA" \
	    -untrusted "$PKIDIR/int.pem" -verify_ip 127.0.0.1 \
	    "$PKIDIR/$n.pem" 2>&1)" "$PKIDIR/$n.pem: OK"
	t_=$(txt $n.pem)
	check "pki-san-$n" "$(has "$t_" 'DNS:localhost, IP Address:127.0.0.1' \
	    'TLS Web Server Authentication')" yesyes
	check "pki-chain-$n" "$(cat "$PKIDIR/$n.pem" "$PKIDIR/int.pem" |
	    cmp -s - "$PKIDIR/$n.chain.pem" && echo same)" same
done
check pki-srv-rsa-key "$(has "$(txt srv-rsa.pem)" 'Public-Key: (2048 bit)' \
    rsaEncryption)" yesyes
check pki-srv-ec-key "$(has "$(txt srv-ec.pem)" 'ASN1 OID: prime256v1')" yes

LEAVES="srv-rsa srv-ec expired notyet wrongname selfsigned unknown-issuer
	misordered weak"
for n in $LEAVES; do
	a=$(openssl x509 -in "$PKIDIR/$n.pem" -noout -pubkey 2>&1)
	b=$(openssl pkey -in "$PKIDIR/$n.key" -pubout 2>&1)
	check "pki-keymatch-$n" "$(ok [ "$a" = "$b" ])" yes
	fp=$(openssl x509 -in "$PKIDIR/$n.pem" -noout -fingerprint -sha256 |
	    sed 's/.*=//; s/://g' | tr 'A-F' 'a-f')
	check "pki-sha256-$n" "$(cat "$PKIDIR/$n.sha256")" "$fp"
	check "pki-chainfirst-$n" "$(sed -n '/BEGIN/,/END/p;/END/q' \
	    "$PKIDIR/$n.chain.pem" | cmp -s - "$PKIDIR/$n.pem" && echo leaf)" leaf
	check "pki-keyperm-$n" "$(stat -c %a:%G "$PKIDIR/$n.key")" 640:dovecot
done

# verr NAME [OPTS...] — "error N" of openssl verify, or OK
verr() {
	n=$1; shift
	openssl verify -CAfile "$CA" -untrusted "$PKIDIR/int.pem" "$@" \
	    "$PKIDIR/$n.pem" 2>&1 | sed -n 's/^error \([0-9]*\) at.*/error \1/p;
	    s/.*: OK$/OK/p' | head -1
}
check pki-fail-expired "$(verr expired)" "error 10"
check pki-fail-notyet "$(verr notyet)" "error 9"
check pki-fail-wrongname "$(verr wrongname -verify_hostname localhost)" \
    "error 62"
check pki-wrongname-only-name "$(verr wrongname)" OK
check pki-fail-selfsigned "$(verr selfsigned)" "error 18"
check pki-fail-unknown-issuer "$(verr unknown-issuer)" "error 20"
check pki-unknown-issuer-rogue "$(openssl verify -CAfile \
    "$PKIDIR/rogue-ca.pem" "$PKIDIR/unknown-issuer.pem" 2>&1)" \
    "$PKIDIR/unknown-issuer.pem: OK"
check pki-fail-weak "$(verr weak -auth_level 2)" "error 66"
check pki-weak-1024 "$(has "$(txt weak.pem)" 'Public-Key: (1024 bit)')" yes
check pki-misordered-verifies "$(verr misordered)" OK
check pki-misordered-order "$(openssl crl2pkcs7 -nocrl -certfile \
    "$PKIDIR/misordered.chain.pem" | openssl pkcs7 -print_certs -noout |
    sed -n 's/^subject=.*CN = //p' | tr '\n' '|')" \
    "localhost|tern test root CA|tern test intermediate CA|"
check pki-expired-dates "$(x509 expired.pem -enddate)" \
    "notAfter=Jan  1 00:00:00 2020 GMT"
check pki-notyet-dates "$(x509 notyet.pem -startdate)" \
    "notBefore=Jan  1 00:00:00 2099 GMT"
check pki-wrongname-san "$(x509 wrongname.pem -ext subjectAltName |
    tail -1 | tr -d ' ')" "DNS:other.example"

# ============================================================== Dovecot
printf 'From: a@example.com\nSubject: one\n\nhello\n.dot line\n..two dots\n' \
    > "$TMP/m1"
printf 'Subject: two\r\n\r\nbody\r\n' > "$TMP/m2"
printf 'Subject: bob\r\n\r\nfor bob\r\n' > "$TMP/m3"
crlf() { sed 's/$/\r/' "$1"; }

if ! dv_start 2> "$TMP/dv.err"; then
	fail dv-start "$(tr '\n' '|' < "$TMP/dv.err")"
else
	pass dv-start
fi
check dv-dovecot-reads-key "$(ok runuser -u dovecot -- test -r \
    "$PKIDIR/srv-rsa.key")" yes
check dv-listen-loopback "$(C listeners "$POP3_PORT" "$POP3S_PORT")" \
    "0100007F:$POP3_PORT 0100007F:$POP3S_PORT"

# s_client CONNECT-OPTS... — talk to 127.0.0.1 with CA verification
sc() {
	printf 'CAPA\r\nQUIT\r\n' | timeout 10 openssl s_client -ign_eof \
	    -CAfile "$CA" -verify_return_error -verify_hostname localhost \
	    -servername localhost "$@" 2>&1 | tr -d '\r'
}
o=$(sc -connect "127.0.0.1:$POP3S_PORT")
check dv-pop3s-verify "$(has "$o" 'Verify return code: 0 (ok)' \
    '^+OK Dovecot')" yesyes
o=$(sc -starttls pop3 -connect "127.0.0.1:$POP3_PORT")
check dv-stls-verify "$(has "$o" 'Verify return code: 0 (ok)' '^+OK')" \
    yesyes
o=$(sc -connect "127.0.0.1:$POP3S_PORT" -tls1_1 -cipher DEFAULT:@SECLEVEL=0)
check dv-no-tls11 "$(has "$o" '^+OK')" no
o=$(sc -connect "127.0.0.1:$POP3S_PORT" -tls1_2 -cipher DEFAULT:@SECLEVEL=0)
check dv-tls12 "$(has "$o" '^+OK' 'Protocol  *: TLSv1.2')" yesyes

# the leaf the server sends is srv-rsa, followed by the intermediate
served() {	# PORT [opts] — SHA-256 of the leaf the server sends
	p=$1; shift
	timeout 10 openssl s_client -connect "127.0.0.1:$p" "$@" \
	    < /dev/null 2>/dev/null | openssl x509 -outform DER 2>/dev/null |
	    sha256sum | cut -d' ' -f1
}
check dv-serves-srv-rsa "$(served "$POP3S_PORT")" \
    "$(cat "$PKIDIR/srv-rsa.sha256")"
check dv-serves-chain "$(timeout 10 openssl s_client -showcerts \
    -connect "127.0.0.1:$POP3S_PORT" < /dev/null 2>/dev/null |
    grep -c 'BEGIN CERTIFICATE')" 2

dv_fill alice "$TMP/m1" "$TMP/m2"
check dv-fill-names "$(ls "$WORKDIR/home/alice/Maildir/cur" |
    sed 's/^[0-9]*\.M[0-9]*P[0-9]*\.tern//' | tr '\n' ' ')" \
    ",S=61,W=67:2, ,S=22,W=22:2, "
check dv-fill-owner "$(stat -c %U "$WORKDIR/home/alice/Maildir/cur/"*)" \
    "$(printf 'ternmail\nternmail')"
o=$(C pop3 "$POP3_PORT" plain "$CA" alice alice-pw-1 user STAT LIST \
    "RETR 1>$TMP/r1" "RETR 2>$TMP/r2")
check dv-user-pass "$(printf '%s\n' "$o" | sed -n 2p)" "auth +OK Logged in."
check dv-stat "$(printf '%s\n' "$o" | sed -n 3p)" "+OK 2 89"
check dv-list "$(printf '%s\n' "$o" | sed -n '5,6p' | tr '\n' ' ')" \
    "1 67 2 22 "
check dv-retr-1-exact "$(crlf "$TMP/m1" | cmp -s - "$TMP/r1" && echo same)" \
    same
check dv-retr-2-exact "$(cmp -s "$TMP/m2" "$TMP/r2" && echo same)" same
check dv-log-login "$(grep -c \
    'Login: user=<alice>, method=PLAIN, rip=127.0.0.1' "$DV_LOG")" 1

DV_UIDVALIDITY=305419896 dv_fill alice --clear "$TMP/m2" "$TMP/m1"
o=$(C pop3 "$POP3_PORT" plain "$CA" alice alice-pw-1 user UIDL "RETR 1>$TMP/r1")
check dv-uidl-format "$(printf '%s\n' "$o" | sed -n '4,5p' | tr '\n' ' ')" \
    "1 0000000112345678 2 0000000212345678 "
check dv-fill-order "$(cmp -s "$TMP/m2" "$TMP/r1" && echo same)" same
check dv-no-flag-updates "$(ls "$WORKDIR/home/alice/Maildir/cur" |
    grep -c ':2,$')" 2
dv_fill alice "$TMP/m1"
o=$(C pop3 "$POP3_PORT" plain "$CA" alice alice-pw-1 user UIDL)
check dv-refill-new-uidvalidity "$(printf '%s\n' "$o" | sed -n '4p' |
    grep -c ' 00000001[0-9a-f]\{8\}$' )$(printf '%s\n' "$o" |
    grep -c '12345678$')" 10
check dv-refill-appends "$(printf '%s\n' "$o" | grep -c '^[0-9] ')" 3

o=$(C pop3 "$POP3_PORT" plain "$CA" alice alice-pw-1 user "DELE 1" STAT)
o=$(C pop3 "$POP3_PORT" plain "$CA" alice alice-pw-1 user STAT)
check dv-dele-at-quit "$(printf '%s\n' "$o" | sed -n 3p | cut -d' ' -f1,2)" \
    "+OK 2"
dv_fill alice --clear
o=$(C pop3 "$POP3_PORT" plain "$CA" alice alice-pw-1 user STAT)
check dv-fill-clear "$(printf '%s\n' "$o" | sed -n 3p)" "+OK 0 0"

dv_fill bob "$TMP/m3"
o=$(C pop3 "$POP3S_PORT" tls "$CA" bob bob-pw-2 plain STAT)
check dv-bob-pop3s-auth-plain "$(printf '%s\n' "$o" | sed -n '2,3p' |
    tr '\n' ' ')" "auth +OK Logged in. +OK 1 25 "
check dv-log-tls "$(grep 'Login: user=<bob>, method=PLAIN' "$DV_LOG" |
    grep -c 'TLSv1\.[23] with cipher')" 1
o=$(C pop3 "$POP3_PORT" stls "$CA" bob bob-pw-2 cram STAT)
check dv-stls-cram-md5 "$(printf '%s\n' "$o" | sed -n '2,3p' |
    tr '\n' ' ')" "auth +OK Logged in. +OK 1 25 "
check dv-log-cram "$(grep -c 'Login: user=<bob>, method=CRAM-MD5' \
    "$DV_LOG")" 1
o=$(C pop3 "$POP3_PORT" plain "$CA" alice alice-pw-1 apop STAT)
check dv-apop "$(printf '%s\n' "$o" | sed -n '2,3p' | tr '\n' ' ')" \
    "auth +OK Logged in. +OK 0 0 "
t0=$(date +%s)
o=$(C pop3 "$POP3_PORT" plain "$CA" alice wrong user STAT)
o2=$(C pop3 "$POP3_PORT" plain "$CA" alice wrong user STAT)
t1=$(date +%s)
check dv-wrong-pass "$(printf '%s\n' "$o2" | sed -n 2p)" \
    "auth -ERR [AUTH] Authentication failed."
check dv-wrong-pass-fast "$(ok [ $((t1 - t0)) -le 3 ])" yes
check dv-log-mismatch "$(grep -c \
    'passwd-file(alice,127.0.0.1,.*Password mismatch' "$DV_LOG")" 2

dv_stop
check dv-stop-ports "$(C listeners "$POP3_PORT" "$POP3S_PORT")" ""
check dv-stop-pidfile "$(ok [ -e "$WORKDIR/dovecot.pid" ])" no
check dv-stop-twice "$(dv_stop; echo $?)" 0
check dv-status-stopped "$(dv_status; echo $?)" "not running
1"

# the command form, with the EC certificate
o=$(CERT=ec WORKDIR=$WORKDIR sh "$top/tests/real/dovecot.sh" start 2>&1)
check dv-cli-start-ec "$o:$(WORKDIR=$WORKDIR sh "$top/tests/real/dovecot.sh" \
    status | cut -d' ' -f1)" ":running"
check dv-serves-srv-ec "$(served "$POP3S_PORT")" \
    "$(cat "$PKIDIR/srv-ec.sha256")"
check dv-ec-stls-served "$(served "$POP3_PORT" -starttls pop3)" \
    "$(cat "$PKIDIR/srv-ec.sha256")"
o=$(WORKDIR=$WORKDIR sh "$top/tests/real/dovecot.sh" stop 2>&1; echo $?)
check dv-cli-stop "$o:$(C listeners "$POP3_PORT" "$POP3S_PORT")" "0:"
o=$(sh "$top/tests/real/dovecot.sh" 2>&1); rc=$?
check dv-cli-noargs "$rc" 0

# a failure-class certificate in Dovecot
o=$(CERT=expired WORKDIR=$WORKDIR sh "$top/tests/real/dovecot.sh" start 2>&1)
check dv-cert-expired-start "$o" ""
o=$(sc -connect "127.0.0.1:$POP3S_PORT")
check dv-cert-expired-fails "$(has "$o" \
    'verify error:num=10:certificate has expired')" yes
WORKDIR=$WORKDIR sh "$top/tests/real/dovecot.sh" stop

# =========================================================== fakeserver
script plain <<'EOF'
# a tiny POP3 dialog
listen plain
send "+OK ready\r\n"
expect "CAPA\r\n"
send "+OK\r\nUSER\r\n.\r\n"
expect-re "^USER [a-z]+\r\n$"
send "+OK\r\n"
expect "QUIT\r\n"
send "+OK bye\r\n"
EOF
fs_start plain
o=$(C plain "$FS_PORT"); fs_wait
check fs-plain "$FS_RC:$(echo $o)" "0:+OK ready +OK USER +OK +OK bye eof"
check fs-plain-log "$(grep -c '^C: CAPA\\r\\n$' "$TMP/plain.log")$(grep -c \
    '^S: +OK bye\\r\\n$' "$TMP/plain.log")" 11

fs_start plain
o=$(C say "$FS_PORT" NOOP); fs_wait
check fs-mismatch "$FS_RC:$(cat "$TMP/plain.err")" \
    "1:fakeserver: FAIL at line 4 (expect \"CAPA\\r\\n\"): \
got \"NOOP\\r\\n\", want \"CAPA\\r\\n\""

script tls <<'EOF'
listen tls cert=srv-ec
expect-sni localhost
send "+OK tls ready\r\n"
expect "CAPA\r\n"
send "+OK\r\n.\r\n"
expect "QUIT\r\n"
send "+OK bye\r\n"
EOF
fs_start tls
o=$(sc -connect "127.0.0.1:$FS_PORT"); fs_wait
check fs-tls "$FS_RC:$(has "$o" 'Verify return code: 0 (ok)')$(has "$o" \
    '^+OK tls ready')" 0:yesyes
check fs-tls-log "$(grep -c '^\* tls TLSv1\.3 .* sni=localhost$' \
    "$TMP/tls.log")" 1

script stls <<'EOF'
listen plain
send "+OK ready\r\n"
expect "STLS\r\n"
send "+OK begin TLS\r\n"
starttls cert=srv-rsa
expect "CAPA\r\n"
send "+OK\r\nSTLS\r\n.\r\n"
expect "QUIT\r\n"
send "+OK bye\r\n"
close-tls
EOF
fs_start stls
o=$(C stls "$FS_PORT" "$CA" good); fs_wait
check fs-stls "$FS_RC:$(echo $o)" "0:tls TLSv1.3 +OK +OK bye close_notify"

script inject <<'EOF'
listen plain
send "+OK ready\r\n"
expect "STLS\r\n"
send-raw-then-starttls "+OK begin TLS\r\n+OK injected\r\n"
expect-close
EOF
fs_start inject
o=$(C stls "$FS_PORT" "$CA" good); fs_wait
check fs-inject-good-client "$FS_RC:$o" \
    "0:injection detected: b'+OK injected\\r\\n'"
fs_start inject
o=$(C stls "$FS_PORT" "$CA" vuln 2>/dev/null); fs_wait
check fs-inject-vuln-client "$FS_RC:$(cat "$TMP/inject.err"):$(echo $o)" \
    "1:fakeserver: FAIL at line 5 (expect-close): \
client sent \"CAPA\\r\\n\", want it to close:tls TLSv1.3 +OK injected"

# every failure-class certificate, served: the client rejects it
for c in expired:10 notyet:9 wrongname:62 selfsigned:18 \
    unknown-issuer:20 weak:66; do
	n=${c%:*}
	printf 'listen tls cert=%s\nexpect-close\n' "$n" > "$TMP/c-$n.script"
	fs_start "c-$n"
	o=$(sc -connect "127.0.0.1:$FS_PORT" -auth_level 2); fs_wait
	check "fs-cert-$n" "$FS_RC:$(printf '%s\n' "$o" |
	    sed -n 's/^verify error:num=\([0-9]*\):.*/\1/p' | head -1)" "0:${c#*:}"
	check "fs-cert-$n-log" "$(grep -c '^\* client gone: TLS handshake failed' \
	    "$TMP/c-$n.log")" 1
done
printf 'listen tls cert=misordered\nsend "+OK\\r\\n"\n' > "$TMP/c-mis.script"
fs_start c-mis
o=$(timeout 10 openssl s_client -showcerts -connect "127.0.0.1:$FS_PORT" \
    < /dev/null 2>/dev/null | sed -n 's/^ *[0-9] s:.*CN = //p' |
    tr '\n' '|'); fs_wait
check fs-cert-misordered-served "$FS_RC:$o" \
    "0:localhost|tern test root CA|tern test intermediate CA|"

printf 'listen tls\nsend "x"\nclose\n' > "$TMP/noclose.script"
fs_start noclose
o=$(C eof "$FS_PORT" "$CA"); fs_wait
check fs-close-no-notify "$FS_RC:$o" "0:ragged 1"
printf 'listen tls\nsend "x"\nclose-tls\n' > "$TMP/notify.script"
fs_start notify
o=$(C eof "$FS_PORT" "$CA"); fs_wait
check fs-close-tls-notify "$FS_RC:$o" "0:close_notify 1"
printf 'listen plain\nsend "xy"\nsleep 0.3\nreset\n' > "$TMP/reset.script"
fs_start reset
o=$(C eofplain "$FS_PORT"); fs_wait
check fs-reset "$FS_RC:$o" "0:reset 2"

printf 'listen plain\nsend "+OK\\r\\n"\nstall 5\n' > "$TMP/stall.script"
fs_start stall
o=$(C idle "$FS_PORT" 1); fs_wait
check fs-stall-client-timeout "$FS_RC:$o" "0:timeout"
printf 'listen plain\nsend "+OK\\r\\n"\nstall 1\n' > "$TMP/stall1.script"
fs_start stall1
o=$(C idle "$FS_PORT" 3); fs_wait
check fs-stall-client-hangs "$FS_RC:$(cat "$TMP/stall1.err")" \
    "1:fakeserver: FAIL at line 3 (stall 1): \
client still connected after stalling 1s"

script gen <<'EOF'
listen plain
send-gen 3000000 "0123456789abcdef\r\n"
send "\r\n.\r\n"
EOF
fs_start gen
o=$(C count "$FS_PORT"); fs_wait
check fs-send-gen "$FS_RC:$o" "0:3000005 dotend"
head -c 100000 /dev/zero | tr '\0' 'z' > "$TMP/big"
printf 'listen plain\nsend-file big\n' > "$TMP/sendfile.script"
fs_start sendfile
o=$(C count "$FS_PORT"); fs_wait
check fs-send-file "$FS_RC:$o" "0:100000 nodot"

script early <<'EOF'
listen plain
send-gen 200000000 "x"
expect-close
EOF
t0=$(date +%s)
fs_start early
o=$(C early "$FS_PORT" 1000); fs_wait
t1=$(date +%s)
check fs-client-closes-early "$FS_RC:$(ok [ $((t1 - t0)) -le 5 ])" "0:yes"

printf 'Subject: up\r\n\r\n.. stuffed\r\nline\r\n' > "$TMP/up"
script upload <<'EOF'
listen plain
send "220 go\r\n"
expect-until "\r\n.\r\n" save=upload.got
send "250 ok\r\n"
EOF
fs_start upload
o=$(C upload "$FS_PORT" "$TMP/up"); fs_wait
check fs-expect-until "$FS_RC:$o:$( (cat "$TMP/up"; printf '.\r\n') |
    cmp -s - "$TMP/upload.got" && echo same)" "0:250 ok:same"

script seq <<'EOF'
listen plain
send "+OK one\r\n"
expect "QUIT\r\n"
send "+OK\r\n"
accept
send "+OK two\r\n"
expect "QUIT\r\n"
send "+OK\r\n"
EOF
fs_start seq
o=$(C seq "$FS_PORT"); fs_wait
check fs-accept "$FS_RC:$(echo $o)" "0:+OK one +OK +OK two +OK"

printf 'listen plain\nexpect "x"\n' > "$TMP/noclient.script"
t0=$(date +%s)
fs_start noclient --timeout 2
fs_wait
t1=$(date +%s)
check fs-overall-timeout \
    "$FS_RC:$(cat "$TMP/noclient.err"):$(ok [ $((t1 - t0)) -le 4 ])" \
    "1:fakeserver: FAIL at line 1 (listen plain): no client connected:yes"

printf 'listen plain\nfrobnicate\n' > "$TMP/bad.script"
fs_start bad
fs_wait
check fs-bad-script "$FS_RC:$(cat "$TMP/bad.err")" \
    "2:fakeserver: bad script: $TMP/bad.script:2: unknown command 'frobnicate'"
[ "$nfail" -eq 0 ]
