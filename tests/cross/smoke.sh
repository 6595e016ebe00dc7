#!/bin/sh
# tests/cross/smoke.sh — one router build under qemu-user, run through
# tests/cross/emu.sh (which sets TERN to the qemu wrapper, PFX, CROSS_BIN
# and CROSS_TARGET).  The binary: ELF class, byte order and ABI, static,
# stripped, within the 250 KB budget; on MIPS free of FPU instructions,
# soft-float, and emulated on a CPU that has no FPU.  Then tern itself:
# version, status on a sample configuration and on the shipped OpenWrt
# one, a disable/enable round trip through the state files (byte order,
# checksums, atomic replace), a torn state file, and the exit codes of
# usage and configuration errors.
. "$(dirname "$0")/../lib.sh"
tg=${CROSS_TARGET:?run through tests/cross/emu.sh}
bin=${CROSS_BIN:?run through tests/cross/emu.sh}
budget=256000

case $tg in
mipsel)	triple=mipsel-linux-musl X=mipsel-linux-gnu
	elf="ELF 32-bit LSB executable, MIPS, MIPS32 rel2" ;;
mips)	triple=mips-linux-musl X=mips-linux-gnu
	elf="ELF 32-bit MSB executable, MIPS, MIPS32 rel2" ;;
armhf)	triple=arm-linux-musleabihf X=arm-linux-gnueabihf
	elf="ELF 32-bit LSB executable, ARM, EABI5" ;;
aarch64) triple=aarch64-linux-musl X=aarch64-linux-gnu
	elf="ELF 64-bit LSB executable, ARM aarch64" ;;
esac
version=$(sed -n 's/^VERSION *= *//p' "$top/Makefile")

# ------------------------------------------------------------ the binary
f=$(file -b "$bin")
case $f in "$elf"*) pass elf ;; *) fail elf "$f" ;; esac
case $f in *"statically linked"*) pass static ;; *) fail static "$f" ;; esac
case $f in *"not stripped"*) fail stripped "$f" ;; *) pass stripped ;; esac
n=$(stat -c %s "$bin")
echo "size: $n bytes"
[ "$n" -lt "$budget" ] && pass size-budget ||
    fail size-budget "$n bytes, over the budget of $budget (250 KB)"

case $tg in
mips*)
	# the unstripped link: objdump needs the symbols to tell MIPS16e
	# functions from MIPS32 ones
	n=$(sh "$top/tests/cross/fpu.sh" "$X-objdump" "$bin.unstripped" \
	    2> "$TMP/fpu")
	check no-fpu-instructions "$n $(head -3 "$TMP/fpu")" "0 "
	check fp-abi "$("$X-readelf" -A "$bin" | sed -n 's/^FP ABI: *//p')" \
	    "Soft float"
	# the check finds hard-float code, and the emulated CPU has no FPU:
	# a freestanding hard-float program (no libc) dies there with SIGILL
	# where a CPU with an FPU would run it to exit(0)
	cat > "$TMP/hf.c" <<'EOF'
volatile double a = 1.5, b;
void
__start(void)
{
	register long v0 __asm__("$2") = 4001;	/* exit(0), o32 */
	register long a0 __asm__("$4") = 0;

	b = a * 3.0;
	__asm__ volatile ("syscall" : : "r"(v0), "r"(a0));
	for (;;)
		;
}
EOF
	if "$X-gcc" -O1 -static -nostdlib -ffreestanding -fno-pie -no-pie \
	    -o "$TMP/hf" "$TMP/hf.c" 2> "$TMP/cc"; then
		n=$(sh "$top/tests/cross/fpu.sh" "$X-objdump" "$TMP/hf" \
		    2> /dev/null)
		[ "$n" -gt 0 ] && pass fpu-check-finds-hard-float ||
		    fail fpu-check-finds-hard-float "found $n"
		qemu=$(sed -n 's/^exec \(.*\) -0 .*/\1/p' "$TERN")
		sh -c 'ulimit -c 0; "$@"' sh $qemu "$TMP/hf" > "$TMP/hf.out" 2>&1
		rc=$?
		[ "$rc" -ne 0 ] &&
		    grep -q 'Illegal instruction' "$TMP/hf.out" &&
		    pass emulated-cpu-has-no-fpu ||
		    fail emulated-cpu-has-no-fpu \
		    "rc=$rc $(head -c 200 "$TMP/hf.out")"
	else
		fail fpu-check-finds-hard-float "$(head -3 "$TMP/cc")"
	fi ;;
esac

# ------------------------------------------------------------- tern runs
"$TERN" version > "$TMP/v" 2> "$TMP/e"
check version-rc "$?" 0
check version-text "$(cat "$TMP/v" "$TMP/e")" "tern $version
TLS: BearSSL 0.6+dfsg.1-3
target: $triple"

"$TERN" --help > "$TMP/h"
check help-rc "$?" 0
grep -q '^  status \[-k\]' "$TMP/h" && pass help-lists-status ||
    fail help-lists-status "$(head -3 "$TMP/h")"

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

t disable 0 "work pop3 disabled
work smtp disabled" "" -- $C disable work
check disable-log "$(log_events "$TMP/tern.log")" \
"disabled account=work service=pop3 reason=manual
disabled account=work service=smtp reason=manual"
"$TERN" $C status -k > "$TMP/k"
check disable-status-k "$(grep -c 'state=disabled reason=manual' "$TMP/k")" 2
t enable 0 "work pop3 enabled
work smtp enabled" "" -- $C enable work
"$TERN" $C status -k > "$TMP/k"
check enable-status-k "$(grep -c 'state=enabled reason=""' "$TMP/k")" 3

# a torn state file is reported and read as empty
printf 'version=1\nauth_fail' > "$TMP/state/work.pop3"
"$TERN" $C status > "$TMP/s" 2> "$TMP/e"
check torn-state-rc "$?" 0
grep -q "work.pop3: ignored" "$TMP/e" && pass torn-state-warns ||
    fail torn-state-warns "$(cat "$TMP/e")"

t openwrt-config 0 "ACCOUNT          SERVICE STATE     AUTH   CONNECT   LAST SUCCESS
home             pop3    off       0/10   0/50      never
    off in the configuration (enabled '0')
home             smtp    off       0/10   0/50      never
    off in the configuration (enabled '0')" "" \
    -- -c "$top/openwrt/files/tern.config" status

# ------------------------------------------------------------ exit codes
printf "config account 'a'\n\toption frobnicate '1'\n" > "$TMP/unk"
t config-error 78 "" \
    "tern: $TMP/unk:2: frobnicate: unknown option in section 'account'" \
    -- -c "$TMP/unk" status
t config-missing 78 "" \
    "tern: $TMP/nope: cannot read: No such file or directory" \
    -- -c "$TMP/nope" status
TERN_CONFIG="$TMP/unk" "$TERN" status > /dev/null 2>&1
check env-config-used "$?" 78
t enable-unknown 64 "" "tern: no account 'nope' in $TMP/conf" \
    -- $C enable nope
"$TERN" frobnicate > /dev/null 2>&1
check unknown-command-rc "$?" 64
"$TERN" > /dev/null 2>&1
check no-command-rc "$?" 64

# argv[0] reaches tern: started as sendmail it is not `tern status`
ln -s "$TERN" "$TMP/sendmail"
"$TMP/sendmail" -t < /dev/null > /dev/null 2> "$TMP/e"
rc=$?
[ "$rc" -ne 0 ] && [ -s "$TMP/e" ] && pass sendmail-name ||
    fail sendmail-name "rc=$rc"
