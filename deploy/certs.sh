#!/bin/sh
# Makes the certificates compose.yaml needs, once, with openssl:
#
#   $OUT/ca.pem                      the internal CA (its key stays in $CA_DIR)
#   $OUT/clients-ca.pem              CAs Nginx accepts client certificates from
#   $OUT/server.pem, server-key.pem  Nginx's public certificate ($PUBLIC_HOST)
#   $OUT/proxy.pem, proxy-key.pem    the proxy tap's certificate ($PROXY_HOST)
#   $OUT/nginx-client.pem, -key.pem  Nginx's client certificate towards the
#                                    proxy: an X509-SVID whose SPIFFE ID the
#                                    proxy's policy and trusted_proxies name
#
# These are the file names demo/config/tapline.yaml and the Nginx template
# (demo/config/nginx/tapline.conf.template) use. A run finds the files and
# changes nothing; FORCE=1 makes new ones. To use certificates of your own
# PKI instead, put files under the same names into the volume and never run
# this. The public certificate in particular should come from a CA your
# clients trust.
#
# Environment (defaults in brackets):
#   OUT [/certs]  CA_DIR [/ca]  PUBLIC_HOST [localhost]
#   PROXY_HOST [tapline-proxy]  TRUST_DOMAIN [tapline.demo]  DAYS [365]
#   PROXY_UID [10001]: owner of proxy-key.pem (the tapline image's user)
set -eu

OUT=${OUT:-/certs}
CA_DIR=${CA_DIR:-/ca}
PUBLIC_HOST=${PUBLIC_HOST:-localhost}
PROXY_HOST=${PROXY_HOST:-tapline-proxy}
TRUST_DOMAIN=${TRUST_DOMAIN:-tapline.demo}
DAYS=${DAYS:-365}
PROXY_UID=${PROXY_UID:-10001}
FORCE=${FORCE:-0}

if [ "$FORCE" != 1 ] && [ -s "$OUT/ca.pem" ] && [ -s "$OUT/proxy.pem" ] &&
	[ -s "$OUT/server.pem" ] && [ -s "$OUT/nginx-client.pem" ]; then
	echo "certificates in $OUT already exist (FORCE=1 makes new ones)"
	exit 0
fi

mkdir -p "$OUT" "$CA_DIR"
umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

newkey() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

# issue NAME SUBJECT EXTENSIONS: NAME.pem and NAME-key.pem in $OUT, signed
# by the CA.
issue() {
	newkey "$tmp/$1-key.pem"
	openssl req -new -key "$tmp/$1-key.pem" -subj "$2" -out "$tmp/$1.csr"
	printf '%s\n' "[v3]" "$3" | tr ';' '\n' >"$tmp/$1.ext"
	openssl x509 -req -in "$tmp/$1.csr" -CA "$CA_DIR/ca.pem" -CAkey "$CA_DIR/ca-key.pem" \
		-set_serial "0x$(openssl rand -hex 16)" -days "$DAYS" -sha256 \
		-extfile "$tmp/$1.ext" -extensions v3 -out "$tmp/$1.pem" 2>/dev/null
	mv "$tmp/$1-key.pem" "$OUT/$1-key.pem"
	mv "$tmp/$1.pem" "$OUT/$1.pem"
	chmod 0644 "$OUT/$1.pem"
}

if [ "$FORCE" = 1 ] || [ ! -s "$CA_DIR/ca-key.pem" ]; then
	newkey "$CA_DIR/ca-key.pem"
	openssl req -x509 -new -key "$CA_DIR/ca-key.pem" -sha256 -days 3650 \
		-subj "/O=Tapline/CN=Tapline internal CA" \
		-addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-out "$CA_DIR/ca.pem"
fi
cp "$CA_DIR/ca.pem" "$OUT/ca.pem"
cp "$CA_DIR/ca.pem" "$OUT/clients-ca.pem"
chmod 0644 "$OUT/ca.pem" "$OUT/clients-ca.pem"

issue server "/O=Tapline/CN=$PUBLIC_HOST" \
	"basicConstraints=critical,CA:FALSE;keyUsage=critical,digitalSignature;extendedKeyUsage=serverAuth;subjectAltName=DNS:$PUBLIC_HOST,DNS:localhost,IP:127.0.0.1"
issue proxy "/O=Tapline/CN=$PROXY_HOST" \
	"basicConstraints=critical,CA:FALSE;keyUsage=critical,digitalSignature;extendedKeyUsage=serverAuth;subjectAltName=DNS:$PROXY_HOST"
# An X509-SVID: exactly one URI SAN, the SPIFFE ID.
issue nginx-client "/O=Tapline/CN=nginx" \
	"basicConstraints=critical,CA:FALSE;keyUsage=critical,digitalSignature;extendedKeyUsage=clientAuth;subjectAltName=URI:spiffe://$TRUST_DOMAIN/ns/edge/sa/nginx"

# Nginx's master process reads its keys as root; the proxy tap runs as
# PROXY_UID.
chmod 0400 "$OUT/server-key.pem" "$OUT/nginx-client-key.pem" "$OUT/proxy-key.pem"
if [ "$(id -u)" = 0 ]; then
	chown "$PROXY_UID" "$OUT/proxy-key.pem"
fi
echo "certificates written to $OUT (CA key in $CA_DIR)"
