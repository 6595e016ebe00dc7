#!/bin/sh
# tests/dialog/run.sh [CASE...] — dialog tests of `tern fetch` (POP3) and
# `tern send`/`flush` (SMTP) against tests/dialog/fakeserver.py.  A suite:
# prints "PASS name" / "FAIL name: detail" ($PFX in front), runs $TERN
# (tests/lib.sh), never ./tern itself.
#
# Each tests/dialog/NAME.script is one case, in the style of curl's
# tests/data: the fake server plays the file's steps (README.md), and the
# lines that start with "#@" (comments to the server) say how to run tern
# and what to expect.  In order:
#
#   #@ need test-build       skip (a note line, no PASS/FAIL) unless $TERN
#                            honours TERN_TEST_NOW (the ASan build)
#   #@ need localhost-v6     skip unless localhost resolves to ::1 as well
#   #@ main UCI-LINE         added to `config tern 'main'`
#   #@ conf UCI-LINE         added to `config account 'a'` (user joe,
#                            password S3cr3t-pw, pop3_host localhost, the
#                            server's port, tls_ca_file the test CA,
#                            maildir mail/Maildir, retries 0)
#   #@ run [VAR=VALUE...] ARGS   run "$TERN -c CONF ARGS"; the checks below
#                            are about this run, until the next "run"
#   #@ rc N                  its exit code
#   #@ log LINE              the log lines this run appended, all of them
#   #@ log~ ERE              in order (timestamps stripped); log~ matches
#                            the whole line against an extended regex
#   #@ err LINE / err~ ERE   likewise, every stderr line of the run
#   #@ err-any               do not check stderr line by line
#   #@ lacks STRING          nothing tern wrote (stdout, stderr, the log,
#                            state/) contains STRING
#   #@ new N                 messages in Maildir/new (all runs so far)
#   #@ mail TEXT             their bytes, concatenated in delivery order
#                            (printf %b escapes: \r \n \t \\)
#   #@ mail-sha256 HEX       the SHA-256 of those bytes (large messages)
#   #@ status K=V...         `tern status -k`, pop3 row: each K=V holds
#   #@ ledger ERE            a record of state/a.uidl ("UIDL FIRST_SEEN
#                            FLAGS CHECK", flags 1 delivered, 4 deleted)
#                            matches ERE
#   #@ ledger-lacks ERE      no record matches ERE
#   #@ server-lacks STRING   the client never sent STRING: checked in the
#                            server's log (decrypted) once it has ended
#   #@ absent PATH           PATH (relative to the case directory) does not
#                            exist
#
# SMTP (`tern send`, `tern flush`, `tern queue`): the account also has
# smtp_host localhost and smtp_port the server's port (smtp_tls is
# implicit unless a "conf" line says otherwise), and main.spool_dir is
# spool/ in the case directory.
#
#   #@ msg TEXT              appended to the message file (printf %b
#                            escapes, no newline added: say \n); every run
#                            reads it on stdin (the runs of a case without
#                            one read /dev/null)
#   #@ spool queued=N failed=N   messages in spool/q and spool/failed
#   #@ meta ERE              a line of some .meta file (q/ and failed/)
#                            matches ERE
#   #@ queue ERE             a line of `tern queue` matches ERE
#   #@ wire TEXT             srv/wire (a step "expect-until ... save=
#                            @DIR@/srv/wire") holds exactly these bytes
#                            (printf %b), and "\r\n.\r\n" occurs in it
#                            exactly once, at its end
#
# A script that holds @DIR@ is played with @DIR@ replaced by the case
# directory (a copy in srv/script); other scripts are played as they are.
#
# In every expected text @PORT@, @PKI@, @DIR@ (the case directory) and
# @FP:NAME@ (the "sha256:AB:…" fingerprint of PKI leaf NAME, as tern
# prints it) and @HEX:NAME@ (NAME.sha256: lowercase hex) are replaced.
# Before comparing, "ms=123" becomes "ms=N", ", 123 ms" becomes ", N ms" and
# "(system clock 2026-…Z)" becomes "(system clock NOW)".
#
# After the runs: the server's verdict (every expect held; its log and
# stderr on failure) and that no file appeared in the case directory
# outside mail/Maildir, state/ and the files the runner writes.
#
# Env: $TERN, $PFX (tests/lib.sh); PKIDIR to reuse a PKI from
# tests/real/pki.sh (default: a fresh one in $TMP); DIALOG_KEEP=DIR copies
# every case directory (config, log, stderr, server log) there at the end.
# Bounded: the fake server stops itself (--timeout), tern runs under
# timeout(1).
. "$(dirname "$0")/../lib.sh"

here=$top/tests/dialog
PY=/usr/bin/python3
FS=$here/fakeserver.py
PKI=${PKIDIR:-$TMP/pki}
TERN_LIMIT=40		# seconds for one tern run
SRV_LIMIT=30		# seconds for the whole server script
note() { echo "NOTE ${PFX:-}$*"; }

if ! sh "$top/tests/real/pki.sh" "$PKI" >"$TMP/pki.err" 2>&1; then
	fail dialog-pki "$(tr '\n' '|' < "$TMP/pki.err")"
	exit 1
fi
PKI=$(cd "$PKI" && pwd)

# "ab12…" (pki.sh) -> "sha256:AB:12:…" (tern)
fp_of() {
	tr 'a-f' 'A-F' < "$PKI/$1.sha256" | sed -E 's/(..)/\1:/g; s/:$//;
	    s/^/sha256:/'
}

# Does $TERN honour TERN_TEST_NOW?  Ask it for a stamp in a log.
test_build=0
mkdir -p "$TMP/probe"
cat > "$TMP/probe/conf" <<EOF
config tern 'main'
	option log '$TMP/probe/log'
	option state_dir '$TMP/probe/state'
config account 'p'
	option email 'p@example.com'
	option pop3_host 'localhost'
	option maildir '$TMP/probe/Maildir'
EOF
TERN_TEST_NOW=1000000000 timeout 20 "$TERN" -c "$TMP/probe/conf" \
    disable p >/dev/null 2>&1
grep -q '^2001-09-09T01:46:40Z ' "$TMP/probe/log" 2>/dev/null && test_build=1
v6=0
getent ahosts localhost 2>/dev/null | grep -q '^::1 ' && v6=1

for f in "$PKI"/*.sha256; do
	n=$(basename "$f" .sha256)
	echo "s|@FP:$n@|$(fp_of "$n")|g; s|@HEX:$n@|$(cat "$f")|g"
done > "$TMP/fp.sed"

# subst FILE: the placeholders of the expected texts
subst() {
	sed -e "s|@PORT@|$port|g; s|@PKI@|$PKI|g; s|@DIR@|$C|g" \
	    -f "$TMP/fp.sed" "$1"
}

# the variable parts of what tern printed
normalize() {
	sed -E 's/ms=[0-9]+/ms=N/g; s/, [0-9]+ ms/, N ms/g;
	    s/\(system clock [0-9T:-]+Z\)/(system clock NOW)/g'
}

# compare NAME EXPECTED GOT: EXPECTED lines are "= text" or "~ ERE"
compare() {
	if awk -v want="$2" '
	    { got[NR] = $0 }
	    END {
		n = 0
		while ((getline l < want) > 0) {
			n++
			k = substr(l, 1, 1); x = substr(l, 3)
			if (n > NR) { print "missing line " n ": " x; exit 1 }
			g = "line " n ": got [" got[n] "]"
			if (k == "=" && got[n] != x) {
				print g " want [" x "]"
				exit 1
			}
			if (k == "~" && got[n] !~ ("^" x "$")) {
				print g " want /" x "/"
				exit 1
			}
		}
		if (NR > n) {
			print "extra line " n + 1 ": " got[n + 1]
			exit 1
		}
	    }' "$3" > "$TMP/cmp" 2>&1; then
		pass "$1"
	else
		fail "$1" "$(head -c 600 "$TMP/cmp" | tr '\n' '|')"
	fi
}

# finish the checks of run number $nrun
end_run() {
	[ "$nrun" -gt 0 ] || return 0
	r=$name-$nrun
	[ -z "$want_rc" ] || check "$r-rc" "$got_rc" "$want_rc"
	if [ "$log_checked" = 1 ]; then
		tail -n +"$((log_from + 1))" "$C/tern.log" 2>/dev/null |
		    log_events /dev/stdin | normalize > "$TMP/got.log"
		subst "$C/want.log" > "$TMP/want.log"
		compare "$r-log" "$TMP/want.log" "$TMP/got.log"
	fi
	if [ "$err_any" = 0 ]; then
		normalize < "$C/err.$nrun" > "$TMP/got.err"
		subst "$C/want.err" > "$TMP/want.err"
		compare "$r-stderr" "$TMP/want.err" "$TMP/got.err"
	fi
}

# the directives that follow a "run" start afresh
begin_run() {
	want_rc= log_checked=0 err_any=0
	: > "$C/want.log"
	: > "$C/want.err"
	log_from=$(cat "$C/tern.log" 2>/dev/null | wc -l)
}

write_conf() {
	{
		echo "config tern 'main'"
		printf "\toption log '%s'\n" "$C/tern.log"
		printf "\toption state_dir '%s'\n" "$C/state"
		printf "\toption spool_dir '%s'\n" "$C/spool"
		printf "\toption timeout '5'\n"
		printf "\toption deadline '30'\n"
		subst "$C/main.conf"
		echo
		echo "config account 'a'"
		printf "\toption user 'joe'\n"
		printf "\toption password 'S3cr3t-pw'\n"
		printf "\toption pop3_host 'localhost'\n"
		printf "\toption pop3_port '%s'\n" "$port"
		printf "\toption tls_ca_file '%s'\n" "$PKI/ca.pem"
		printf "\toption maildir '%s'\n" "$C/mail/Maildir"
		printf "\toption retries '0'\n"
		printf "\toption smtp_host 'localhost'\n"
		printf "\toption smtp_port '%s'\n" "$port"
		subst "$C/acct.conf"
	} > "$C/conf"
}

# one_run ARGS...: "VAR=VALUE" words first become the environment
one_run() {
	[ -s "$C/conf" ] || write_conf
	nrun=$((nrun + 1))
	begin_run
	set -- $(printf '%s\n' "$*" | subst /dev/stdin)
	envs=
	while [ $# -gt 0 ]; do
		case $1 in
		*=*) envs="$envs $1"; shift ;;
		*) break ;;
		esac
	done
	in=/dev/null
	[ ! -f "$C/msg" ] || in=$C/msg
	env $envs timeout -k 5 "$TERN_LIMIT" "$TERN" -c "$C/conf" "$@" \
	    < "$in" > "$C/out.$nrun" 2> "$C/err.$nrun"
	got_rc=$?
	echo "$got_rc" > "$C/rc.$nrun"
}

# the messages in new/ in delivery order: by the Maildir name
# "SECONDS.MUSECSPpidQn.host", numerically
mail_bytes() {
	ls "$C/mail/Maildir/new" 2>/dev/null |
	    sed -E 's/^([0-9]+)\.M([0-9]+)P[0-9]+Q([0-9]+)/\1 \2 \3 &/' |
	    sort -n -k1,1 -k2,2 -k3,3 | while read -r _ _ _ f; do
		cat "$C/mail/Maildir/new/$f"
	done
}

# count_spool DIR: messages (not .meta files) in spool/DIR
count_spool() {
	ls "$C/spool/$1" 2>/dev/null | grep -vc '\.meta$'
}

# check_wire NAME TEXT: the bytes the server saved after DATA
check_wire() {
	"$PY" - "$C/srv/wire" "$2" <<'EOF' > "$TMP/wire" 2>&1
import sys, subprocess
got = open(sys.argv[1], "rb").read()
want = subprocess.run(["printf", "%b", sys.argv[2]],
    stdout=subprocess.PIPE).stdout
n = got.count(b"\r\n.\r\n")
if n != 1 or not got.endswith(b"\r\n.\r\n"):
    print("CRLF.CRLF %d times, at the end: %s" % (n,
        got.endswith(b"\r\n.\r\n")))
if got != want:
    print("got %r want %r" % (got, want))
EOF
	if [ ! -s "$TMP/wire" ]; then pass "$1"
	else fail "$1" "$(head -c 600 "$TMP/wire" | tr '\n' '|')"; fi
}

count_new() {
	ls "$C/mail/Maildir/new" 2>/dev/null | wc -l | tr -d ' '
}

run_case() {
	script=$1
	name=$(basename "$script" .script)
	C=$TMP/$name
	mkdir -p "$C/srv"
	: > "$C/main.conf"
	: > "$C/acct.conf"
	: > "$C/srv.lacks"
	rm -f "$C/msg"
	# needs come first: a skipped case starts no server
	while IFS= read -r line; do
		case $line in
		"#@ need test-build")
			if [ "$test_build" = 0 ]; then
				note "$name: skipped: needs the test build" \
				    "(TERN_TEST_NOW)"
				return
			fi ;;
		"#@ need localhost-v6")
			if [ "$v6" = 0 ]; then
				note "$name: skipped: localhost does not" \
				    "resolve to ::1 here"
				return
			fi ;;
		esac
	done < "$script"
	play=$script
	if grep -q '@DIR@' "$script"; then
		play=$C/srv/script
		sed "s|@DIR@|$C|g" "$script" > "$play"
	fi
	"$PY" "$FS" --script "$play" --port 0 --portfile "$C/srv/port" \
	    --log "$C/srv/log" --raw "$C/srv/raw" --certdir "$PKI" \
	    --timeout "$SRV_LIMIT" --step-timeout 10 2> "$C/srv/err" &
	spid=$!
	i=0
	while [ ! -s "$C/srv/port" ] && [ $i -lt 100 ] &&
	    kill -0 "$spid" 2>/dev/null; do
		sleep 0.05
		i=$((i + 1))
	done
	port=$(cat "$C/srv/port" 2>/dev/null)
	if [ -z "$port" ]; then
		kill "$spid" 2>/dev/null
		wait "$spid"
		fail "$name-server" "did not start: $(tr '\n' '|' < \
		    "$C/srv/err")"
		return
	fi
	nrun=0
	while IFS= read -r line; do
		case $line in
		"#@ "*) ;;
		*) continue ;;
		esac
		line=${line#"#@ "}
		key=${line%% *}
		arg=${line#"$key"}
		arg=${arg# }
		case $key in
		need) ;;
		main) printf '\t%s\n' "$arg" >> "$C/main.conf" ;;
		conf) printf '\t%s\n' "$arg" >> "$C/acct.conf" ;;
		run) end_run; one_run $arg ;;
		rc) want_rc=$arg ;;
		log) log_checked=1; printf '= %s\n' "$arg" >> "$C/want.log" ;;
		log~) log_checked=1; printf '~ %s\n' "$arg" >> "$C/want.log" ;;
		err) printf '= %s\n' "$arg" >> "$C/want.err" ;;
		err~) printf '~ %s\n' "$arg" >> "$C/want.err" ;;
		err-any) err_any=1 ;;
		lacks)
			if grep -rlF -e "$arg" "$C/err.$nrun" "$C/out.$nrun" \
			    "$C/tern.log" "$C/state" 2>/dev/null |
			    grep -q .; then
				fail "$name-$nrun-lacks" "[$arg] is there"
			else
				pass "$name-$nrun-lacks"
			fi ;;
		new) check "$name-$nrun-new" "$(count_new)" "$arg" ;;
		mail)
			got=$(mail_bytes | od -An -c | tr -s ' \n' ' ')
			want=$(printf '%b' "$arg" | od -An -c |
			    tr -s ' \n' ' ')
			check "$name-$nrun-mail" "$got" "$want" ;;
		mail-sha256)
			got=$(mail_bytes | sha256sum | cut -d' ' -f1)
			check "$name-$nrun-mail-sha256" "$got" "$arg" ;;
		status)
			timeout -k 5 "$TERN_LIMIT" "$TERN" -c "$C/conf" \
			    status -k 2>&1 |
			    grep '^account=a service=pop3 ' > "$TMP/st"
			bad=
			for kv in $arg; do
				grep -q " $kv\( \|$\)" "$TMP/st" ||
				    bad="$bad $kv"
			done
			if [ -z "$bad" ]; then pass "$name-$nrun-status"
			else fail "$name-$nrun-status" \
			    "want$bad in [$(cat "$TMP/st")]"; fi ;;
		ledger|ledger-lacks)
			if grep -qE -e "$arg" "$C/state/a.uidl" 2>/dev/null
			then got=has; else got=lacks; fi
			want=has
			[ "$key" = ledger ] || want=lacks
			if [ "$got" = "$want" ]; then pass "$name-$nrun-$key"
			else fail "$name-$nrun-$key" "/$arg/ in [$(cat \
			    "$C/state/a.uidl" 2>/dev/null | tr '\n' '|')]"
			fi ;;
		server-lacks) printf '%s\n' "$arg" >> "$C/srv.lacks" ;;
		msg) printf '%b' "$arg" >> "$C/msg" ;;
		spool)
			check "$name-$nrun-spool" "queued=$(count_spool q)\
 failed=$(count_spool failed)" "$arg" ;;
		meta)
			if cat "$C"/spool/q/*.meta "$C"/spool/failed/*.meta \
			    2>/dev/null | grep -qE -e "$arg"; then
				pass "$name-$nrun-meta"
			else fail "$name-$nrun-meta" "/$arg/ in [$(cat \
			    "$C"/spool/q/*.meta "$C"/spool/failed/*.meta \
			    2>/dev/null | tr '\n' '|')]"; fi ;;
		queue)
			timeout -k 5 "$TERN_LIMIT" "$TERN" -c "$C/conf" queue \
			    > "$TMP/q" 2>&1
			if grep -qE -e "$arg" "$TMP/q"; then
				pass "$name-$nrun-queue"
			else fail "$name-$nrun-queue" \
			    "/$arg/ in [$(tr '\n' '|' < "$TMP/q")]"; fi ;;
		wire) check_wire "$name-$nrun-wire" "$arg" ;;
		absent)
			if [ -e "$C/$arg" ] || [ -L "$C/$arg" ]; then
				fail "$name-$nrun-absent" "$arg exists"
			else pass "$name-$nrun-absent"; fi ;;
		*) fail "$name-script" "unknown directive [#@ $line]" ;;
		esac
	done < "$script"
	end_run
	wait "$spid"
	src=$?
	if [ "$src" = 0 ]; then
		pass "$name-server"
	else
		fail "$name-server" "exit $src: $(tr '\n' '|' < "$C/srv/err") \
log: $(tail -8 "$C/srv/log" | tr '\n' '|')"
	fi
	k=0
	while IFS= read -r x; do
		k=$((k + 1))
		if grep '^C: ' "$C/srv/log" | grep -qF -e "$x"; then
			fail "$name-server-lacks-$k" "the client sent [$x]"
		else pass "$name-server-lacks-$k"; fi
	done < "$C/srv.lacks"
	stray=$(cd "$C" && find . ! -type d ! -path './srv/*' \
	    ! -path './mail/Maildir/*' ! -path './state/*' ! -name conf \
	    ! -path './spool/*' ! -name msg \
	    ! -name tern.log ! -name '*.conf' ! -name 'want.*' \
	    ! -name 'out.*' ! -name 'err.*' ! -name 'rc.*' \
	    ! -name srv.lacks | tr '\n' ' ')
	check "$name-no-stray-files" "$stray" ""
}

if [ $# -gt 0 ]; then
	for n in "$@"; do run_case "$here/${n%.script}.script"; done
else
	for f in "$here"/*.script; do
		[ -f "$f" ] && run_case "$f"
	done
fi
# for debugging: keep every case directory
[ -z "${DIALOG_KEEP:-}" ] || cp -r "$TMP"/. "$DIALOG_KEEP"/
exit 0
