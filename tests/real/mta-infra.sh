#!/bin/sh
# tests/real/mta-infra.sh — checks the test MTA of tests/real/mta.sh (Exim)
# with Python's smtplib, so tern's SMTP tests can rely on what it promises:
# TLS on both ports with the test CA's certificate, AUTH only where
# advertised, byte-exact delivery with the documented trace fields, 8-bit,
# UTF-8 and 20 MB messages, and stop/start.  Needs root and Exim
# (exim4-daemon-light).
. "$(dirname "$0")/../lib.sh"
. "$top/tests/real/mta.sh"

PY=/usr/bin/python3
nfail=0
fail() { nfail=$((nfail + 1)); echo "FAIL ${PFX:-}$1: $2"; }
WORKDIR=$(mktemp -d /tmp/tmx.XXXXXX)
trap 'mta_stop; rm -rf "$WORKDIR" "$TMP"' EXIT
trap 'exit 1' INT TERM HUP PIPE

if [ "$(id -u)" != 0 ] || [ ! -x /usr/sbin/exim4 ]; then
	fail setup "needs root and exim4-daemon-light"
	exit 1
fi

cat > "$TMP/smtpc.py" <<'EOF'
# smtpc.py CA COMMAND ARGS — one SMTP client action, one line of result.
import base64, hashlib, hmac, re, smtplib, socket, ssl, sys

CA = sys.argv[1]
cmd, args = sys.argv[2], sys.argv[3:]
HOST = "127.0.0.1"

def ctx():
    c = ssl.create_default_context(cafile=CA)
    c.check_hostname = True
    return c

class SSL(smtplib.SMTP_SSL):
    """implicit TLS to 127.0.0.1, verifying the name localhost"""
    def _get_socket(self, host, port, timeout):
        sk = socket.create_connection((host, port), timeout)
        return self.context.wrap_socket(sk, server_hostname="localhost")

def connect(port, mode):
    """mode: plain | starttls | tls; returns an SMTP after EHLO"""
    if mode == "tls":
        s = SSL(HOST, int(port), timeout=20, context=ctx())
    else:
        s = smtplib.SMTP(HOST, int(port), timeout=20)
    s.ehlo("client.test")
    if mode == "starttls":
        code, _ = s.docmd("STARTTLS")
        if code != 220:
            raise SystemExit("STARTTLS refused: %d" % code)
        s.sock = ctx().wrap_socket(s.sock, server_hostname="localhost")
        s.file = None
        s.helo_resp = s.ehlo_resp = None
        s.esmtp_features = {}
        s.does_esmtp = False
        s.ehlo("client.test")
    return s

def features(s):
    """{"AUTH": "PLAIN,LOGIN", "SIZE": "104857600", "PIPELINING": ""}"""
    return dict((k.upper(), ",".join(v.split()))
                for k, v in s.esmtp_features.items())

def auth(s, mech, user, pw):
    """returns the final reply code of one AUTH exchange"""
    b64 = lambda b: base64.b64encode(b).decode()
    if mech == "PLAIN":
        c, _ = s.docmd("AUTH PLAIN",
                       b64(b"\0" + user.encode() + b"\0" + pw.encode()))
        return c
    if mech == "PLAIN-noir":
        c, _ = s.docmd("AUTH PLAIN")
        if c != 334:
            return c
        c, _ = s.docmd(b64(b"\0" + user.encode() + b"\0" + pw.encode()))
        return c
    if mech in ("LOGIN", "LOGIN-ir"):
        if mech == "LOGIN":
            c, m = s.docmd("AUTH LOGIN")
            if c != 334 or base64.b64decode(m) != b"Username:":
                return c
            c, m = s.docmd(b64(user.encode()))
        else:
            c, m = s.docmd("AUTH LOGIN", b64(user.encode()))
        if c != 334 or base64.b64decode(m) != b"Password:":
            return c
        c, _ = s.docmd(b64(pw.encode()))
        return c
    if mech == "CRAM-MD5":
        c, m = s.docmd("AUTH CRAM-MD5")
        if c != 334:
            return c
        d = hmac.new(pw.encode(), base64.b64decode(m), "md5").hexdigest()
        c, _ = s.docmd(b64(user.encode() + b" " + d.encode()))
        return c
    return s.docmd("AUTH " + mech)[0]	# anything else, as it is

def data(s, body):
    """DATA with the bytes as they are (CRLF expected), dot-stuffed"""
    c, _ = s.docmd("DATA")
    if c != 354:
        return c
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    s.send(re.sub(rb"(?m)^\.", b"..", body) + b".\r\n")
    c, _ = s.getreply()
    return c

try:
    if cmd == "ehlo":		# PORT MODE -> the EHLO keywords, sorted
        s = connect(*args[:2])
        f = features(s)
        print(" ".join(sorted(k + ("=" + f[k] if f[k] else "")
                              for k in f)))
        s.quit()
    elif cmd == "cert":		# PORT MODE -> sha256 of the leaf, version
        s = connect(*args[:2])
        der = s.sock.getpeercert(binary_form=True)
        print(hashlib.sha256(der).hexdigest(), s.sock.version())
        s.quit()
    elif cmd == "auth":		# PORT MODE MECH USER PASS -> reply code
        s = connect(*args[:2])
        print(auth(s, *args[2:5]))
        s.quit()
    elif cmd == "send":	# PORT MODE USER PASS FROM RCPT,.. FILE [OPT..]
        port, mode, user, pw, frm, rcpts, path = args[:7]
        opts = args[7:]
        with open(path, "rb") as fh:
            body = fh.read()
        s = connect(port, mode)
        if "SMTPUTF8" in opts:
            s.command_encoding = "utf-8"
        out = []
        if user != "-":
            out.append("auth=%d" % auth(s, "PLAIN", user, pw))
        mopts = ["SIZE=%d" % len(body)] + opts
        c, _ = s.docmd("MAIL FROM:<%s>" % frm, " ".join(mopts))
        out.append("mail=%d" % c)
        rc = []
        for r in rcpts.split(","):
            rc.append(str(s.docmd("RCPT TO:<%s>" % r)[0]))
        out.append("rcpt=" + ",".join(rc))
        if c == 250 and "250" in rc:
            out.append("data=%d" % data(s, body))
        print(" ".join(out))
        s.quit()
    elif cmd == "pipeline":	# PORT RCPT -> codes of one pipelined batch
        sk = socket.create_connection((HOST, int(args[0])), 20)
        f = sk.makefile("rb")
        def reply():
            while True:
                line = f.readline()
                if line[3:4] != b"-":
                    return line[:3].decode()
        out = [reply()]
        sk.sendall(b"EHLO client.test\r\n")
        out.append(reply())
        sk.sendall(b"MAIL FROM:<p@example.net>\r\nRCPT TO:<%s>\r\n"
                   b"RCPT TO:<%s>\r\nDATA\r\n"
                   % (args[1].encode(), args[1].encode()))
        out += [reply() for _ in range(4)]
        sk.sendall(b"Subject: pipelined\r\n\r\nbody\r\n.\r\nQUIT\r\n")
        out += [reply() for _ in range(2)]
        print(" ".join(out))
        sk.close()
    elif cmd == "connect":	# PORT -> open | refused
        try:
            socket.create_connection((HOST, int(args[0])), 5).close()
            print("open")
        except ConnectionRefusedError:
            print("refused")
    elif cmd == "gen":		# DIR: the test messages, .eml (CRLF) + .want
        d = args[0]
        def put(name, lines):
            crlf = b"".join(l + b"\r\n" for l in lines)
            with open("%s/%s.eml" % (d, name), "wb") as fh:
                fh.write(crlf)
            with open("%s/%s.want" % (d, name), "wb") as fh:
                fh.write(crlf.replace(b"\r\n", b"\n"))
        put("exact", [
            b"Return-Path: <kept@example.org>",
            b"Envelope-to: kept@example.org",
            b"Delivery-date: Sun, 1 Nov 2026 00:00:00 +0000",
            b"Received: from kept.example.org by kept.example.org;"
            b" Sun, 1 Nov 2026 00:00:00 +0000",
            b"From: Alice <alice@example.com>",
            b"To: Bob <bob@example.com>",
            b"Bcc: hidden@example.com",
            b"Subject: a folded",
            b"\tsubject line",
            b"Date: Sun, 22 Nov 2026 01:00:00 +0000",
            b"Message-ID: <exact.1@client.test>",
            b"X-Trailing-Space: x   ",
            b"X-Empty:",
            b"",
            b".",
            b"..",
            b".leading dot",
            b"From the start of a line",
            b"",
            b"",
            b"\ttab and trailing space ",
            b"x" * 5000,
            b"last line"])
        put("8bit", [
            b"From: a@example.com",
            b"Subject: eight bit",
            b"MIME-Version: 1.0",
            b"Content-Type: text/plain; charset=iso-8859-1",
            b"Content-Transfer-Encoding: 8bit",
            b""] +
            [bytes(range(i, i + 16)) for i in range(0x80, 0x100, 16)] +
            [bytes(c for c in range(1, 0x80) if c not in (10, 13)),
             b"caf\xe9 na\xefve \xa9"])
        put("utf8", [
            "From: Jörg Müller <jörg@exämple.com>".encode(),
            "To: Zoë <zoë@example.com>".encode(),
            "Subject: Grüße — 日本語 ✓".encode(),
            b"MIME-Version: 1.0",
            b"Content-Type: text/plain; charset=utf-8",
            b"Content-Transfer-Encoding: 8bit",
            b"",
            "Ünïcödé bödy: ÄÖÜ ß € 漢字 🙂".encode(),
            "Ελληνικά, русский, עברית".encode()])
        line = b"0123456789abcdefghijklmnopqrstuvwxyz" * 2  # 72 bytes
        big = [b"From: a@example.com", b"Subject: twenty MB", b""]
        n = 20 * 1024 * 1024 // 82 + 1
        big += [b"%08d %s" % (i, line) for i in range(n)]	# 82 with CRLF
        put("big", big)
    else:
        raise SystemExit("unknown command " + cmd)
except Exception as e:
    print("error: %s: %s" % (type(e).__name__, e))
EOF
c() { "$PY" "$TMP/smtpc.py" "$MTA_CA" "$@"; }

# has NAME "WORDS" WORD... — every WORD is one of WORDS
has() {
	name=$1 words=" $2 "; shift 2
	for w; do
		case $words in
		*" $w "*) ;;
		*) fail "$name" "no $w in [$words]"; return ;;
		esac
	done
	pass "$name"
}
# hasnt NAME "WORDS" PATTERN — no word of WORDS matches PATTERN
hasnt() {
	for w in $2; do
		case $w in
		$3) fail "$1" "$w in [$2]"; return ;;
		esac
	done
	pass "$1"
}

# delivered NAME USER WANTFILE — the newest message of USER, stripped of
# the trace fields, is WANTFILE byte for byte
delivered() {
	if ! mta_wait "$2" 1 10; then
		fail "$1" "not delivered to $2"
		return
	fi
	f=$(mta_newest "$2") && mta_strip "$f" > "$TMP/got" || {
		fail "$1" "cannot strip $f"; return; }
	if cmp -s "$TMP/got" "$3"; then
		pass "$1"
	else
		fail "$1" "$(cmp "$TMP/got" "$3" 2>&1 | head -1)"
	fi
}

t0=$(date +%s)
if mta_start; then pass start; else fail start "see above"; exit 1; fi
c gen "$TMP"
S=$SMTPS_PORT U=$SUBMIT_PORT P=$SMTP_PORT

# --- TLS -----------------------------------------------------------------
check tls-465-verified "$(c cert $S tls | cut -d' ' -f1)" \
    "$(cat "$MTA_PKIDIR/srv-rsa.sha256")"
check tls-587-starttls-verified "$(c cert $U starttls | cut -d' ' -f1)" \
    "$(cat "$MTA_PKIDIR/srv-rsa.sha256")"
v=$(c cert $S tls | cut -d' ' -f2)
case $v in
TLSv1.2|TLSv1.3) pass tls-version ;;
*) fail tls-version "$v" ;;
esac
# a client that trusts only the rogue CA must fail the handshake
r=$("$PY" "$TMP/smtpc.py" "$MTA_PKIDIR/rogue-ca.pem" cert $S tls)
case $r in
*CERTIFICATE_VERIFY_FAILED*) pass tls-untrusted-ca-refused ;;
*) fail tls-untrusted-ca-refused "$r" ;;
esac

# --- capabilities --------------------------------------------------------
e465=$(c ehlo $S tls)
e587pre=$(c ehlo $U plain)
e587=$(c ehlo $U starttls)
e25=$(c ehlo $P plain)
has ehlo-465 "$e465" AUTH=PLAIN,LOGIN,CRAM-MD5 PIPELINING 8BITMIME SMTPUTF8
has ehlo-587-before-tls "$e587pre" STARTTLS PIPELINING
hasnt ehlo-587-no-auth-before-tls "$e587pre" 'AUTH*'
has ehlo-587-after-tls "$e587" AUTH=PLAIN,LOGIN,CRAM-MD5 PIPELINING \
    8BITMIME SMTPUTF8
hasnt ehlo-587-no-starttls-after-tls "$e587" STARTTLS
hasnt ehlo-465-no-starttls "$e465" STARTTLS
hasnt ehlo-25-no-starttls "$e25" STARTTLS
has ehlo-25-auth-in-clear "$e25" AUTH=PLAIN,LOGIN,CRAM-MD5
size=$(printf '%s\n' $e587 | sed -n 's/^SIZE=//p')
if [ -n "$size" ] && [ "$size" -ge 67108864 ]; then
	pass ehlo-size-64mb
else
	fail ehlo-size-64mb "SIZE=$size"
fi

# --- AUTH ----------------------------------------------------------------
check auth-587-before-tls-503 "$(c auth $U plain PLAIN alice alice-pw-1)" 503
for m in PLAIN PLAIN-noir LOGIN LOGIN-ir CRAM-MD5; do
	check "auth-587-$m-ok" "$(c auth $U starttls $m alice alice-pw-1)" 235
	check "auth-587-$m-wrong" "$(c auth $U starttls $m alice alice-pw-2)" \
	    535
	check "auth-465-$m-ok" "$(c auth $S tls $m bob bob-pw-2)" 235
	check "auth-465-$m-wrong" "$(c auth $S tls $m bob alice-pw-1)" 535
done
check auth-unknown-user "$(c auth $S tls PLAIN mallory alice-pw-1)" 535
check auth-empty-password "$(c auth $S tls PLAIN mallory '')" 535
check auth-25-plain "$(c auth $P plain PLAIN alice alice-pw-1)" 235
for m in PLAIN LOGIN CRAM-MD5; do
	check "auth-tempfail-user-$m" "$(c auth $S tls $m tempfail x)" 435
done
mta_adduser carol carol-pw-3
check auth-added-user "$(c auth $S tls LOGIN carol carol-pw-3)" 235
n=$(grep -c 'AUTH mech=PLAIN port=11587 tls=yes' "$MTA_LOG")
[ "$n" -ge 3 ] && pass log-auth-lines || fail log-auth-lines "$n lines"
grep -q 'authenticator failed for .* 535 Incorrect authentication data' \
    "$MTA_LOG" && pass log-auth-failure ||
    fail log-auth-failure "no 'authenticator failed' line"
# mta_auth_count sees every AUTH, also a refused one; a session without
# AUTH adds none
n0=$(mta_auth_count)
c ehlo $U starttls > /dev/null
check auth-count-no-auth "$(mta_auth_count)" "$n0"
c auth $U plain PLAIN alice alice-pw-1 > /dev/null
c auth $P plain FOO alice alice-pw-1 > /dev/null
check auth-count-refused "$(mta_auth_count)" "$((n0 + 2))"

# --- sending -------------------------------------------------------------
check mail-587-needs-auth \
    "$(c send $U starttls - - s@example.net alice@example.com \
    "$TMP/exact.eml")" "mail=530 rcpt=503"
check mail-465-needs-auth \
    "$(c send $S tls - - s@example.net alice@example.com "$TMP/exact.eml")" \
    "mail=530 rcpt=503"
check too-big-refused \
    "$("$PY" - <<EOF
import smtplib
s = smtplib.SMTP("127.0.0.1", $P, timeout=20)
s.ehlo("client.test")
print(s.docmd("MAIL FROM:<s@example.net> SIZE=200000000")[0])
s.quit()
EOF
)" 552

mta_clear alice
check send-exact \
    "$(c send $U starttls alice alice-pw-1 sender@example.net \
    alice@example.com "$TMP/exact.eml")" "auth=235 mail=250 rcpt=250 data=250"
delivered delivered-byte-exact alice "$TMP/exact.want"
f=$(mta_newest alice)
check trace-return-path "$(sed -n 1p "$f")" "Return-path: <sender@example.net>"
check trace-envelope-to "$(sed -n 2p "$f")" "Envelope-to: alice@example.com"
case $(sed -n 3p "$f") in
"Received: from "*) pass trace-received ;;
*) fail trace-received "$(sed -n 3p "$f")" ;;
esac
check trace-one-received-added "$(grep -c "^Received: " "$f")" 2	# + its own
check queue-empty "$(mta_queue)" 0

mta_clear catchall
check send-8bit \
    "$(c send $S tls bob bob-pw-2 s@example.net zed@example.org \
    "$TMP/8bit.eml" BODY=8BITMIME)" "auth=235 mail=250 rcpt=250 data=250"
delivered delivered-8bit catchall "$TMP/8bit.want"

mta_clear catchall
check send-utf8 \
    "$(c send $S tls alice alice-pw-1 'jörg@exämple.com' 'zoë@example.com' \
    "$TMP/utf8.eml" SMTPUTF8 BODY=8BITMIME)" \
    "auth=235 mail=250 rcpt=250 data=250"
delivered delivered-utf8 catchall "$TMP/utf8.want"
f=$(mta_newest catchall)
check utf8-envelope "$(sed -n 1,2p "$f")" \
    "$(printf 'Return-path: <%s>\nEnvelope-to: %s' 'jörg@exämple.com' \
    'zoë@example.com')"

mta_clear alice
tb=$(date +%s)
check send-20mb \
    "$(c send $S tls alice alice-pw-1 s@example.net alice@example.com \
    "$TMP/big.eml")" "auth=235 mail=250 rcpt=250 data=250"
delivered delivered-20mb alice "$TMP/big.want"
echo "# 20 MB: $(($(date +%s) - tb)) s"

# routing: per local part, any domain, case-insensitive; one file each
mta_clear alice; mta_clear bob; mta_clear catchall
check send-3-rcpts \
    "$(c send $P plain - - s@example.net \
    'ALICE@Example.ORG,bob@b.test,nobody@nowhere.invalid' "$TMP/exact.eml")" \
    "mail=250 rcpt=250,250,250 data=250"
mta_wait alice 1 && mta_wait bob 1 && mta_wait catchall 1
check route-counts "$(mta_count alice) $(mta_count bob) $(mta_count catchall)" \
    "1 1 1"
check route-catchall-dir "$(mta_maildir nobody)" \
    "$MTA_DIR/mail/catchall/Maildir"
check route-no-dns "$(/usr/sbin/exim4 -C "$MTA_CONF" -bt x@gmail.com 2>&1 |
    grep -c 'router = catchall, transport = maildir_catchall')" 1

# magic failures for the client's error paths; nothing is delivered
mta_clear catchall
check rcpt-tempfail \
    "$(c send $P plain - - s@example.net tempfail-rcpt@example.com \
    "$TMP/exact.eml")" "mail=250 rcpt=451"
check rcpt-reject \
    "$(c send $P plain - - s@example.net reject-rcpt@example.com \
    "$TMP/exact.eml")" "mail=250 rcpt=550"
check data-tempfail \
    "$(c send $P plain - - s@example.net tempfail-data@example.com \
    "$TMP/exact.eml")" "mail=250 rcpt=250 data=451"
check data-reject \
    "$(c send $P plain - - s@example.net reject-data@example.com \
    "$TMP/exact.eml")" "mail=250 rcpt=250 data=554"
check pipelining "$(c pipeline $P pipe@example.com)" \
    "220 250 250 250 250 354 250 221"
mta_wait catchall 1 2 || true
check failures-not-delivered "$(mta_count catchall)" 1	# the pipelined one

# --- stop and start ------------------------------------------------------
mta_clear alice
c send $P plain - - s@example.net alice@example.com "$TMP/exact.eml" \
    > /dev/null
mta_stop
check stop-delivered-first "$(mta_count alice)" 1
check stop-refused "$(c connect $P) $(c connect $U) $(c connect $S)" \
    "refused refused refused"
check stop-status "$(mta_status)" "not running"
mta_stop && pass stop-twice || fail stop-twice "rc=$?"
left=
for d in /proc/[0-9]*; do
	a=$(tr '\0' ' ' 2>/dev/null < "$d/cmdline") || continue
	case $a in
	*" -C $MTA_CONF "*) left="$left ${d#/proc/}: $a;" ;;
	esac
done
check stop-no-process-left "$left" ""
if mta_start; then pass restart; else fail restart "see above"; fi
check restart-sends \
    "$(c send $S tls alice alice-pw-1 s@example.net alice@example.com \
    "$TMP/exact.eml")" "auth=235 mail=250 rcpt=250 data=250"
mta_wait alice 2 && pass restart-delivered ||
    fail restart-delivered "$(mta_count alice) messages"
if CERT=ec MTA_REQUIRE_AUTH=0 mta_restart; then
	pass restart-ec
else
	fail restart-ec "see above"
fi
check tls-ec-cert "$(c cert $S tls | cut -d' ' -f1)" \
    "$(cat "$MTA_PKIDIR/srv-ec.sha256")"
check mail-kept-over-restart "$(mta_count alice)" 2
check no-require-auth-465 \
    "$(c send $S tls - - s@example.net alice@example.com "$TMP/exact.eml")" \
    "mail=250 rcpt=250 data=250"
mta_wait alice 3 && pass no-require-auth-delivered ||
    fail no-require-auth-delivered "$(mta_count alice) messages"
mta_stop
echo "# mta-infra: $(($(date +%s) - t0)) s"
[ "$nfail" -eq 0 ]
