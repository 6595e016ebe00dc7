#!/bin/sh
# The manual pages: both format without a groff warning and carry the
# version of the Makefile; tern(1) documents exactly the commands and
# options that `tern --help` lists; the configuration example of tern(5)
# is accepted by tern.  (Every key of the schema in tern(5), with its type
# and default: tests/unit/t_schema.c.)
. "$(dirname "$0")/../lib.sh"
M1=$top/doc/tern.1
M5=$top/doc/tern.5
version=$(sed -n 's/^VERSION *= *//p' "$top/Makefile")

for m in "$M1" "$M5"; do
	n=$(basename "$m")
	groff -man -ww -z -Tutf8 "$m" > "$TMP/groff" 2>&1
	check "$n-groff-clean" "$?:$(head -5 "$TMP/groff")" "0:"
	v=$(sed -n 's/^\.TH .*"tern \([^"]*\)".*/\1/p' "$m")
	check "$n-version" "$v" "$version"
done

# the entries (.TP, then a .B/.BI line) of one section of tern(1): the
# first word of each
entries() {
	awk -v sec="$1" '
	/^\.SH / { in_sec = ($2 == sec); next }
	in_sec && /^\.TP$/ { tp = 1; next }
	tp && /^\.BR? |^\.BI / {
		w = $2; gsub(/"/, "", w); sub(/\\f.*/, "", w); print w
	}
	{ tp = 0 }' "$M1" | sort -u
}

"$TERN" --help > "$TMP/help"
check help-rc "$?" 0
sed -n 's/^  \([a-z][a-z]*\) .*/\1/p; s/^  \([a-z][a-z]*\)$/\1/p' \
    "$TMP/help" | sort -u > "$TMP/cmds"
echo help >> "$TMP/cmds"	# `tern help`: not listed, but a command
sort -u -o "$TMP/cmds" "$TMP/cmds"
entries COMMANDS > "$TMP/doc"
check tern.1-commands-match-help \
    "$(diff "$TMP/cmds" "$TMP/doc" | sed -n 's/^[<>] //p' | tr '\n' ' ')" ""

sed -n 's/^  \(-[a-z]\) .*/\1/p' "$TMP/help" | sort -u > "$TMP/opts"
entries OPTIONS | sed 's/\\-/-/g; s/,$//' > "$TMP/dopts"
check tern.1-options-documented \
    "$(comm -23 "$TMP/opts" "$TMP/dopts" | tr '\n' ' ')" ""

# the example configuration of tern(5), unescaped, is accepted
awk '/^\.SH EXAMPLES/ { ex = 1 } ex && /^\.EX/ { on = 1; next }
    on && /^\.EE/ { exit } on' "$M5" |
    sed 's/\\(aq/'"'"'/g; s/\\-/-/g' > "$TMP/example"
grep -q "^config account" "$TMP/example" && pass tern.5-example-found ||
    fail tern.5-example-found "no config in the EXAMPLES section"
"$TERN" -c "$TMP/example" status > /dev/null 2> "$TMP/err"
check tern.5-example-parses "$?:$(cat "$TMP/err")" "0:"
