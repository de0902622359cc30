#!/usr/bin/env bash
# make-test-pki.sh DIR: a tiny throw-away PKI for the verifier's unit test, with what the project's fixtures
# (tests/fixtures/make-fixtures.sh) do not have: certificates made to swap into signatures byte for byte.
# root, ca, leader (RSA-2048), leader2 (ECDSA P-256), other (RSA, same CA), and the impostors.
set -euo pipefail
[[ $# -eq 1 ]] || { echo "usage: make-test-pki.sh DIR" >&2; exit 2; }
D=$1
mkdir -p "$D"
cd "$D"

cat >ext.cnf <<'X'
[ ca ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ ee ]
basicConstraints = CA:false
keyUsage = critical, digitalSignature, nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
X

q() { "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; "$@"; exit 1; }; }
rsa() { q openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:${2:-2048}" -out "$1.key"; }
ec() { q openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key"; }
# issue NAME ISSUER EXT SUBJECT SERIAL
issue() {
        q openssl req -new -key "$1.key" -subj "$4" -out "$1.csr"
        q openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -set_serial "$5" -days 365 \
                -extfile ext.cnf -extensions "$3" -out "$1.pem"
}

rsa root
q openssl req -x509 -new -key root.key -subj "/C=VN/O=Kyso Test/CN=Kyso Test Root" -days 3650 -set_serial 1 \
        -addext "keyUsage=critical,keyCertSign,cRLSign" -out root.pem
rsa ca
issue ca root ca "/C=VN/O=Kyso Test/CN=Kyso Test CA" 2
rsa leader
issue leader ca ee "/C=VN/O=Kyso Test/CN=Leader RSA" 0x1001
ec leader2
issue leader2 ca ee "/C=VN/O=Kyso Test/CN=Leader ECDSA" 0x1002
rsa other
issue other ca ee "/C=VN/O=Kyso Test/CN=Other RSA" 0x1003
# Impostors for certificate-substitution tests: a fake CA with the real CA's name, and two certificates with the
# leader's issuer, serial and subject (so the same encoded length): one over the leader's key, one over another.
rsa fakeca
q openssl req -x509 -new -key fakeca.key -subj "/C=VN/O=Kyso Test/CN=Kyso Test CA" -days 3650 -set_serial 2 -out fakeca.pem
cp leader.key impostor-samekey.key
issue impostor-samekey fakeca ee "/C=VN/O=Kyso Test/CN=Leader RSA" 0x1001
rsa impostor-newkey
issue impostor-newkey fakeca ee "/C=VN/O=Kyso Test/CN=Leader RSA" 0x1001
cat ca.pem root.pem >chain.pem
for n in leader leader2 other; do cat "$n.pem" ca.pem >"$n-chain.pem"; done

rm -f ./*.csr
