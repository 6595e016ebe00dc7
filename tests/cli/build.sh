#!/bin/sh
# The product binary: static, stripped, and its size printed.
. "$(dirname "$0")/../lib.sh"
[ -n "${PFX:-}" ] && exit 0	# only for the static product
f=$(file -b "$TERN")
case $f in *"statically linked"*) pass static ;; *) fail static "$f" ;; esac
case $f in *"not stripped"*) fail stripped "$f" ;; *) pass stripped ;; esac
echo "size: $(stat -c %s "$TERN") bytes"
