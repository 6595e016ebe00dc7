#!/bin/sh
# tests/cross/fpu.sh OBJDUMP FILE — the MIPS FPU (coprocessor 1)
# instructions in FILE, an object or executable.  Prints their count; when
# there are any, shows the first five on stderr and exits 1.  The build
# runs it on every MIPS binary (OpenWrt's MIPS kernels have no FPU
# emulator: one such instruction is a SIGILL on the router).
# An FPU instruction is a coprocessor-1 load, store, move or branch, movf
# or movt, or a mnemonic with a .s, .d or .ps format part (add.d, c.eq.s,
# cvt.d.w, trunc.w.d ...); DSP mnemonics such as addq_s.w do not match.
set -u
objdump=${1:?usage: fpu.sh OBJDUMP FILE}
file=${2:?usage: fpu.sh OBJDUMP FILE}
out=$("$objdump" -d "$file") || {
	echo "fpu.sh: $objdump -d $file failed" >&2
	exit 2
}
printf '%s\n' "$out" | awk -F'\t' '
	function fpu(m) {
		if (m ~ /^(l|s)(w|d)x?c1$/ || m ~ /^(lu|su)xc1$/ ||
		    m ~ /^(mfc1|mtc1|mfhc1|mthc1|cfc1|ctc1)$/ ||
		    m ~ /^bc1[ft]l?$/ ||
		    m == "movf" || m == "movt")
			return 1
		return m ~ /\.(s|d|ps)(\.|$)/
	}
	NF >= 3 && $1 ~ /^ *[0-9a-f]+:$/ && fpu($3) {
		n++
		if (n <= 5)
			print "fpu.sh: " FILENAME_ ": " $0 > "/dev/stderr"
	}
	END { print n + 0; exit n > 0 }' FILENAME_="$file"
