#!/bin/sh
# make install with PREFIX and DESTDIR: the binary, the sendmail link and
# the two manual pages, nothing else, with the right modes.  Installs the
# binary already built (make -o: nothing is rebuilt here).
. "$(dirname "$0")/../lib.sh"
[ -n "${PFX:-}" ] && exit 0	# only for the static product

# inst NAME [PREFIX=...]: install into $TMP/NAME; the tree, with modes,
# in $TMP/NAME.tree
inst() {
	name=$1 d=$TMP/$1
	shift
	if make -s -C "$top" -o tern -o build/x86_64/tern TARGET=x86_64 \
	    install DESTDIR="$d" "$@" > "$TMP/make.out" 2>&1; then
		pass "$name-make"
	else
		fail "$name-make" "$(tail -5 "$TMP/make.out" | tr '\n' '|')"
	fi
	(cd "$d" 2> /dev/null && find . -mindepth 1 | sort |
	while read -r f; do
		if [ -L "$f" ]; then echo "$f -> $(readlink "$f")"
		elif [ -d "$f" ]; then echo "$f/"
		else echo "$f $(stat -c %a "$f")"; fi
	done) > "$TMP/$name.tree"
}

inst usr PREFIX=/usr
check usr-tree "$(cat "$TMP/usr.tree")" "./usr/
./usr/bin/
./usr/bin/tern 755
./usr/sbin/
./usr/sbin/sendmail -> ../bin/tern
./usr/share/
./usr/share/man/
./usr/share/man/man1/
./usr/share/man/man1/tern.1 644
./usr/share/man/man5/
./usr/share/man/man5/tern.5 644"
cmp -s "$TMP/usr/usr/bin/tern" "$top/build/x86_64/tern" &&
    pass usr-binary || fail usr-binary "not build/x86_64/tern"
cmp -s "$TMP/usr/usr/share/man/man5/tern.5" "$top/doc/tern.5" &&
    pass usr-man5 || fail usr-man5 "differs from doc/tern.5"
# the link resolves, and starts tern as sendmail
check usr-sendmail-target \
    "$(readlink -f "$TMP/usr/usr/sbin/sendmail")" "$TMP/usr/usr/bin/tern"

inst local	# the default PREFIX
check local-tree "$(grep -c -e '^\./usr/local/bin/tern 755$' \
    -e '^\./usr/local/sbin/sendmail -> \.\./bin/tern$' \
    -e '^\./usr/local/share/man/man1/tern\.1 644$' "$TMP/local.tree")" 3
