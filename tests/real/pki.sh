#!/bin/sh
# tests/real/pki.sh DIR — make a self-made test PKI in DIR (idempotent).
#
# Prints nothing on success; on failure prints the failing command and its
# output on stderr and exits 1.  A second run on a finished DIR does nothing
# (DIR/.pki-complete); concurrent runs on one DIR serialize on DIR/.lock.
# Run without arguments (as tests/run.sh does with every tests/real/*.sh) it
# prints a usage line and exits 0: it is a helper, not a suite.
#
# Layout (all certificates PEM, keys PKCS#8 PEM):
#   ca.pem ca.key          root CA, RSA-2048, CA:TRUE critical,
#                          keyUsage=critical,keyCertSign,cRLSign.  ca.pem is
#                          the root only: the trust anchor for clients.
#   int.pem int.key        intermediate CA, EC P-384, CA:TRUE pathlen:0,
#                          signed by the root
#   rogue-ca.pem .key      a second root nobody trusts (RSA-2048)
#   NAME.pem               the leaf certificate
#   NAME.key               its private key (root:dovecot 0640)
#   NAME.chain.pem         what a server sends: leaf first, then the chain
#   NAME.sha256            SHA-256 of the leaf's DER, lowercase hex, no colons
#
#   NAME            key       issuer     what is special
#   srv-rsa         RSA-2048  int        the good one (chain: leaf, int)
#   srv-ec          EC P-256  int        the good one (chain: leaf, int)
#   expired         RSA-2048  int        valid 2015-01-01 .. 2020-01-01
#   notyet          RSA-2048  int        valid 2099-01-01 .. 2100-01-01
#                                        (GeneralizedTime; "future-dated
#                                        relative to the clock")
#   wrongname       RSA-2048  int        CN and SAN DNS:other.example only
#   selfsigned      RSA-2048  itself     CN=localhost, CA:FALSE (chain: leaf)
#   unknown-issuer  RSA-2048  rogue-ca   chain: leaf only, so the issuer is
#                                        simply unknown to the client
#   misordered      RSA-2048  int        chain: leaf, ROOT, int — the issuer
#                                        does not follow the leaf.  (A file
#                                        with the intermediate before the
#                                        leaf cannot be served: OpenSSL
#                                        and Dovecot take the first
#                                        certificate as the one matching the
#                                        key, and TLS requires it first.)
#   weak            RSA-1024  int        too small a key; a server needs
#                                        @SECLEVEL=0 to load it
#
# Unless noted, a leaf has SAN DNS:localhost,IP:127.0.0.1, CN=localhost,
# EKU serverAuth, CA:FALSE, and is valid 2024-01-01 .. 2049-12-31 (fixed
# dates, so a slightly wrong test clock does not matter).  The CAs are valid
# 2024-01-01 .. 2049-12-31 too.  Only the property in the table is wrong, so
# each certificate exercises exactly one failure class.
set -eu

if [ $# -eq 0 ]; then
	echo "tests/real/pki.sh: helper, not a suite; usage: pki.sh DIR"
	exit 0
fi
[ $# -eq 1 ] || { echo "usage: pki.sh DIR" >&2; exit 2; }
dir=$1
PKI_VERSION=1
LEAVES="srv-rsa srv-ec expired notyet wrongname selfsigned unknown-issuer
	misordered weak"
GOOD_FROM=20240101000000Z
GOOD_TO=20491231235959Z

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
chmod 755 "$dir"

pki_complete() {
	[ "$(cat "$dir/.pki-complete" 2>/dev/null)" = "$PKI_VERSION" ] ||
	    return 1
	for n in $LEAVES; do
		for s in pem key chain.pem sha256; do
			[ -s "$dir/$n.$s" ] || return 1
		done
	done
	[ -s "$dir/ca.pem" ] && [ -s "$dir/int.pem" ]
}

pki_complete && exit 0

# serialize concurrent callers; re-check after getting the lock
exec 9>"$dir/.lock"
if command -v flock >/dev/null 2>&1; then
	flock -w 120 9 || { echo "pki.sh: $dir/.lock busy" >&2; exit 1; }
fi
pki_complete && exit 0

work=$(mktemp -d "$dir/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
log=$work/log

run() {
	: > "$log"
	if ! "$@" > "$log" 2>&1; then
		echo "pki.sh: failed: $*" >&2
		cat "$log" >&2
		exit 1
	fi
}

genkey() {	# TYPE OUT
	case $1 in
	rsa2048) run openssl genpkey -algorithm RSA \
	    -pkeyopt rsa_keygen_bits:2048 -out "$2" ;;
	rsa1024) run openssl genpkey -algorithm RSA \
	    -pkeyopt rsa_keygen_bits:1024 -out "$2" ;;
	p256) run openssl genpkey -algorithm EC \
	    -pkeyopt ec_paramgen_curve:P-256 \
	    -pkeyopt ec_param_enc:named_curve -out "$2" ;;
	p384) run openssl genpkey -algorithm EC \
	    -pkeyopt ec_paramgen_curve:P-384 \
	    -pkeyopt ec_param_enc:named_curve -out "$2" ;;
	*) echo "pki.sh: bad key type $1" >&2; exit 1 ;;
	esac
}

# one openssl-ca database per issuer
for ca in root int rogue self; do
	mkdir -p "$work/$ca/new"
	: > "$work/$ca/index.txt"
	echo 01 > "$work/$ca/serial"	# unused: -rand_serial
done
cat > "$work/ca.cnf" <<EOF
[ca]
default_ca = root
[root]
dir = $work/root
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
default_md = sha256
policy = anything
unique_subject = no
email_in_dn = no
copy_extensions = none
[int]
dir = $work/int
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
default_md = sha256
policy = anything
unique_subject = no
email_in_dn = no
copy_extensions = none
[rogue]
dir = $work/rogue
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
default_md = sha256
policy = anything
unique_subject = no
email_in_dn = no
copy_extensions = none
[self]
dir = $work/self
database = \$dir/index.txt
new_certs_dir = \$dir/new
serial = \$dir/serial
default_md = sha256
policy = anything
unique_subject = no
email_in_dn = no
copy_extensions = none
[anything]
commonName = supplied
organizationName = optional
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
EOF

# extfile KIND SAN — extensions for a certificate, to $work/ext
extfile() {
	case $1 in
	root) cat <<EOF ;;
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
EOF
	int) cat <<EOF ;;
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
EOF
	rsa|ec)
		if [ "$1" = rsa ]; then
			ku=digitalSignature,keyEncipherment
		else
			ku=digitalSignature
		fi
		cat <<EOF ;;
basicConstraints = critical,CA:FALSE
keyUsage = critical,$ku
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
subjectAltName = $2
EOF
	esac > "$work/ext"
}

# cert NAME KEYTYPE ISSUER(root|int|rogue|self) EXTKIND SUBJECT SAN FROM TO
# writes $work/NAME.pem and $work/NAME.key
cert() {
	n=$1
	genkey "$2" "$work/$n.key"
	run openssl req -new -config "$work/ca.cnf" -key "$work/$n.key" \
	    -subj "$5" -out "$work/$n.csr"
	extfile "$4" "$6"
	case $3 in
	self)
		run openssl ca -batch -notext -config "$work/ca.cnf" -name self -preserveDN \
		    -selfsign -keyfile "$work/$n.key" -rand_serial \
		    -startdate "$7" -enddate "$8" -extfile "$work/ext" \
		    -in "$work/$n.csr" -out "$work/$n.pem" ;;
	*)
		case $3 in
		root) ic=ca ;;
		int) ic=int ;;
		rogue) ic=rogue-ca ;;
		esac
		run openssl ca -batch -notext -config "$work/ca.cnf" -name "$3" -preserveDN \
		    -cert "$work/$ic.pem" -keyfile "$work/$ic.key" -rand_serial \
		    -startdate "$7" -enddate "$8" -extfile "$work/ext" \
		    -in "$work/$n.csr" -out "$work/$n.pem" ;;
	esac
	rm -f "$work/$n.csr"
}

good_san=DNS:localhost,IP:127.0.0.1
good() { cert "$@" "$GOOD_FROM" "$GOOD_TO"; }	# valid 2024..2049

# the CAs (roots are self-signed through openssl ca -selfsign)
good ca rsa2048 self root "/O=tern tests/CN=tern test root CA" ""
good int p384 root int "/O=tern tests/CN=tern test intermediate CA" ""
good rogue-ca rsa2048 self root "/O=rogue/CN=rogue test root CA" ""
L=/CN=localhost
good srv-rsa rsa2048 int rsa "$L" "$good_san"
good srv-ec p256 int ec "$L" "$good_san"
cert expired rsa2048 int rsa "$L" "$good_san" \
    20150101000000Z 20200101000000Z
cert notyet rsa2048 int rsa "$L" "$good_san" \
    20990101000000Z 21000101000000Z
good wrongname rsa2048 int rsa /CN=other.example DNS:other.example
good selfsigned rsa2048 self rsa "$L" "$good_san"
good unknown-issuer rsa2048 rogue rsa "$L" "$good_san"
good misordered rsa2048 int rsa "$L" "$good_san"
good weak rsa1024 int rsa "$L" "$good_san"

# chains: what the server sends
for n in srv-rsa srv-ec expired notyet wrongname weak; do
	cat "$work/$n.pem" "$work/int.pem" > "$work/$n.chain.pem"
done
cp "$work/selfsigned.pem" "$work/selfsigned.chain.pem"
cp "$work/unknown-issuer.pem" "$work/unknown-issuer.chain.pem"
cat "$work/misordered.pem" "$work/ca.pem" "$work/int.pem" \
    > "$work/misordered.chain.pem"

for n in $LEAVES; do
	run openssl x509 -in "$work/$n.pem" -outform DER -out "$work/$n.der"
	sha256sum < "$work/$n.der" | cut -d' ' -f1 > "$work/$n.sha256"
	rm -f "$work/$n.der"
done

# sanity: every good leaf verifies, before anything is published
for n in srv-rsa srv-ec; do
	run openssl verify -CAfile "$work/ca.pem" -untrusted "$work/int.pem" \
	    -purpose sslserver -verify_hostname localhost "$work/$n.pem"
done

# publish: certificates world-readable, leaf keys readable by group dovecot
# (Dovecot reads ssl_key as root, but its helpers may not), CA keys root only
grp=
getent group dovecot >/dev/null 2>&1 && grp=dovecot
for f in "$work"/*.pem "$work"/*.sha256; do
	chmod 644 "$f"
done
for f in "$work"/*.key; do
	case ${f##*/} in
	ca.key|int.key|rogue-ca.key) chmod 600 "$f" ;;
	*)	chmod 640 "$f"
		[ -z "$grp" ] || chgrp "$grp" "$f" ;;
	esac
	mv -f "$f" "$dir/"
done
for f in "$work"/*.pem "$work"/*.sha256; do
	mv -f "$f" "$dir/"
done
echo "$PKI_VERSION" > "$dir/.pki-complete"
