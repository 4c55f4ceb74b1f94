#!/bin/sh
# Generate the TLS test certificates into directory $1 (never committed):
#   ca.crt/key           the test CA
#   other-ca.crt/key     an unrelated CA (the "wrong CA" case)
#   server.crt/key       signed by ca, SAN localhost + 127.0.0.1
#   wronghost.crt/key    signed by ca, SAN wrong.example only
#   expired.crt/key      signed by ca, SAN localhost + 127.0.0.1, expired
# EC P-256 keys: generated in milliseconds.  Exit 0 on success.
set -e
cd "$1"

key() {
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
}

ca() {
    key "$1.key"
    openssl req -x509 -new -key "$1.key" -out "$1.crt" -subj "/CN=$1" -days 2 2>/dev/null
}

# leaf NAME CN SAN DAYS
leaf() {
    key "$1.key"
    openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
    printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\n' "$3" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" \
        -days "$4" -extfile "$1.ext" 2>/dev/null
}

ca ca
ca other-ca
leaf server localhost "DNS:localhost,IP:127.0.0.1" 2
leaf wronghost wrong.example "DNS:wrong.example" 2
# -days -1: notAfter is a day in the past, so the certificate has expired.
leaf expired localhost "DNS:localhost,IP:127.0.0.1" -1
