#!/bin/sh
# tests/cross/emu.sh TARGET SCRIPT [ARGS] — run a test suite against the
# TARGET build (build/TARGET/tern) under qemu-user: TERN points to a small
# wrapper that execs qemu with the binary, and PFX="TARGET:" keeps the test
# names apart from the native run's.  MIPS runs on a 24Kc, which has no
# FPU (the default CPU model, 24Kf, would hide a hard-float instruction);
# ARM on a Cortex-A7 and aarch64 on a Cortex-A53, as in most routers.
# The wrapper passes its own name as argv[0] (qemu -0), so a symlink to
# it named sendmail starts tern as sendmail.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
tg=${1:?usage: emu.sh TARGET SCRIPT [ARGS]}
script=${2:?usage: emu.sh TARGET SCRIPT [ARGS]}
shift 2
case $tg in
mipsel)	qemu="qemu-mipsel-static -cpu 24Kc" ;;
mips)	qemu="qemu-mips-static -cpu 24Kc" ;;
armhf)	qemu="qemu-arm-static -cpu cortex-a7" ;;
aarch64) qemu="qemu-aarch64-static -cpu cortex-a53" ;;
*)	echo "FAIL $tg:target: unknown target (mipsel mips armhf aarch64)"
	exit 1 ;;
esac
bin=$top/build/$tg/tern
if [ ! -x "$bin" ]; then
	echo "FAIL $tg:binary: $bin missing (make cross)"
	exit 1
fi
if ! command -v "${qemu%% *}" > /dev/null; then
	echo "FAIL $tg:qemu: ${qemu%% *} missing (make deps)"
	exit 1
fi
w=$top/build/test/cross/$tg
mkdir -p "$w"
printf '#!/bin/sh\nexec %s -0 "$0" '"'%s'"' "$@"\n' "$qemu" "$bin" \
    > "$w/tern.tmp"
chmod 755 "$w/tern.tmp"
mv "$w/tern.tmp" "$w/tern"
TERN=$w/tern PFX="$tg:" CROSS_BIN=$bin CROSS_TARGET=$tg exec sh "$script" "$@"
