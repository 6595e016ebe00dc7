#!/bin/sh
# openwrt/: the shipped /etc/config/tern parses and uses every section
# type, with state and queue on persistent storage and the log in RAM; the
# init script's cron glue, run by busybox sh with only busybox applets on a
# scratch root, adds exactly one line and removes it, keeps the rest of
# the crontab, restarts cron only when it changed the crontab, and its
# enable/disable manage the rc.d link.  Needs busybox (Debian package).
. "$(dirname "$0")/../lib.sh"
CONF=$top/openwrt/files/tern.config
INIT=$top/openwrt/files/tern.init
LINE='*/5 * * * * /usr/bin/tern run'

# ------------------------------------------------------------ the config
t config-status 0 "ACCOUNT          SERVICE STATE     AUTH   CONNECT   LAST SUCCESS
home             pop3    off       0/10   0/50      never
    off in the configuration (enabled '0')
home             smtp    off       0/10   0/50      never
    off in the configuration (enabled '0')" "" -- -c "$CONF" status
for s in tern account filter; do
	grep -q "^config $s\\b" "$CONF" && pass "config-has-$s" ||
	    fail "config-has-$s" "no 'config $s' section"
done
opt() { sed -n "s/^[[:space:]]*option $1 '\\([^']*\\)'.*/\\1/p" "$CONF"; }
case $(opt log) in /var/log/*|/tmp/*) pass config-log-in-ram ;;
*) fail config-log-in-ram "log '$(opt log)'" ;; esac
for k in state_dir spool_dir; do
	case $(opt $k) in
	/var/*|/tmp/*|'') fail "config-$k-persistent" "$k '$(opt $k)'" ;;
	/*) pass "config-$k-persistent" ;;
	*) fail "config-$k-persistent" "$k '$(opt $k)'" ;;
	esac
done

# the cron glue does not depend on the binary under test
[ -n "${PFX:-}" ] && exit 0

# -------------------------------------------------------- the cron glue
if ! command -v busybox > /dev/null; then
	fail busybox "busybox missing (make deps)"
	exit 1
fi
# only busybox applets on PATH
BB=$(command -v busybox)
mkdir -p "$TMP/bin"
for a in sh grep cp mv rm mkdir ln chmod cat echo basename; do
	ln -s "$BB" "$TMP/bin/$a"
done
R=$TMP/root
mkdir -p "$R/etc/init.d" "$R/etc/rc.d" "$R/etc/crontabs"
cp "$INIT" "$R/etc/init.d/tern"
# cron's init script, as a recorder
printf '#!/bin/sh\necho "cron $*" >> %s/cron.log\n' "$TMP" > "$TMP/cron"
chmod 755 "$TMP/cron"
# a stand-in for OpenWrt's /etc/rc.common: the default actions, then the
# init script's own, then the action
cat > "$TMP/rc.common" <<'EOF'
initscript=$1
action=$2
start() { return 0; }
stop() { return 0; }
boot() { start; }
enable() { echo "default enable" >&2; return 1; }
disable() { echo "default disable" >&2; return 1; }
. "$initscript"
$action
EOF

# rc ACTION [VAR=VALUE...]: the init script under busybox sh, live system
# (no IPKG_INSTROOT) but with the crontab and cron in the scratch root
rc() {
	a=$1; shift
	env -i PATH="$TMP/bin" CRONTAB="$R/etc/crontabs/root" \
	    CRON_INIT="$TMP/cron" "$@" \
	    "$BB" sh "$TMP/rc.common" "$R/etc/init.d/tern" "$a" \
	    2>> "$TMP/rc.err"
	echo $?
}
crontab() { cat "$R/etc/crontabs/root"; }
restarts() { cat "$TMP/cron.log" 2> /dev/null | wc -l; }

# an existing crontab whose last line has no newline; mode 600
printf '0 3 * * * /sbin/reboot' > "$R/etc/crontabs/root"
chmod 600 "$R/etc/crontabs/root"
check start-rc "$(rc start)" 0
check start-rc-twice "$(rc start)" 0
check start-crontab "$(crontab)" "0 3 * * * /sbin/reboot
$LINE"
check start-one-line "$(grep -cxF "$LINE" "$R/etc/crontabs/root")" 1
check start-mode "$(stat -c %a "$R/etc/crontabs/root")" 600
check start-cron-restarted-once "$(restarts)" 1
check start-no-temp-file "$(ls "$R/etc/crontabs")" root
check boot-keeps-one "$(rc boot; grep -cxF "$LINE" "$R/etc/crontabs/root")" \
    "0
1"

check stop-rc "$(rc stop)" 0
check stop-crontab "$(crontab)" "0 3 * * * /sbin/reboot"
check stop-no-line "$(grep -cxF "$LINE" "$R/etc/crontabs/root")" 0
check stop-cron-restarted "$(restarts)" 2
check stop-twice "$(rc stop; restarts)" "0
2"

# no crontab yet (a fresh router): created with the line, mode 600
rm -f "$R/etc/crontabs/root"
rmdir "$R/etc/crontabs"
check start-creates "$(rc start; crontab)" "0
$LINE"
check start-creates-mode "$(stat -c %a "$R/etc/crontabs/root")" 600
# a duplicated line (edited by hand) is cut back to one
echo "$LINE" >> "$R/etc/crontabs/root"
check start-dedups "$(rc start; crontab)" "0
$LINE"
check stop-after-dedup "$(rc stop; crontab)" "0"
check stderr-quiet "$(cat "$TMP/rc.err")" ""

# enable/disable in an image being built (IPKG_INSTROOT): the rc.d link
# and the crontab of that root, and no cron restart
: > "$TMP/cron.log"
check enable-rc "$(rc enable IPKG_INSTROOT="$R" CRONTAB= CRON_INIT=)" 0
check enable-link "$(readlink "$R/etc/rc.d/S99tern")" ../init.d/tern
check enable-crontab "$(crontab)" "$LINE"
check enable-no-restart "$(restarts)" 0
check disable-rc "$(rc disable IPKG_INSTROOT="$R" CRONTAB= CRON_INIT=)" 0
check disable-link "$(ls "$R/etc/rc.d")" ""
check disable-crontab "$(crontab)" ""
check disable-no-restart "$(restarts)" 0
