#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# pdf-dss.py PDF CERT.pem...: what the PDF's /DSS holds for each certificate, read with qpdf --json and
# openssl (not with kyso): one line per certificate, "NAME cert=yes|no revocation=ocsp|crl|none", where
# ocsp means an OCSP response in /OCSPs names the certificate's serial and crl a CRL in /CRLs is from the
# certificate's issuer. "no-dss" when the catalog has no /DSS.
import base64
import json
import os
import subprocess
import sys
import tempfile


def openssl(*args, data=None):
    return subprocess.run(["openssl", *args], input=data, capture_output=True, check=True).stdout


def main():
    pdf, certs = sys.argv[1], sys.argv[2:]
    doc = json.loads(subprocess.run(
        ["qpdf", "--json=2", "--json-key=qpdf", "--json-stream-data=inline", pdf],
        capture_output=True, check=True).stdout)["qpdf"][1]

    def get(ref):
        return doc.get("obj:" + ref, {}) if isinstance(ref, str) and ref.endswith(" R") else ref

    root = get(doc["trailer"]["value"]["/Root"])["value"]
    dss = get(root.get("/DSS"))
    if not dss:
        print("no-dss")
        return
    dss = dss.get("value", dss)

    def streams(key):
        items = get(dss.get(key, []))
        items = items.get("value", items) if isinstance(items, dict) else items
        return [base64.b64decode(get(i)["stream"]["data"]) for i in items]

    dss_certs, ocsps, crls = streams("/Certs"), streams("/OCSPs"), streams("/CRLs")
    ocsp_texts = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, der in enumerate(ocsps):
            path = os.path.join(tmp, "%d.der" % n)
            with open(path, "wb") as f:
                f.write(der)
            ocsp_texts.append(openssl("ocsp", "-respin", path, "-resp_text", "-noverify").decode())
    crl_issuers = [openssl("crl", "-inform", "DER", "-noout", "-issuer", data=der).decode().strip()
                   for der in crls]
    for path in certs:
        der = openssl("x509", "-in", path, "-outform", "DER")
        serial = openssl("x509", "-in", path, "-noout", "-serial").decode().strip().split("=", 1)[1]
        issuer = openssl("x509", "-in", path, "-noout", "-issuer").decode().strip()
        revocation = "none"
        if any(("SERIAL NUMBER: " + serial).upper() in t.upper() for t in ocsp_texts):
            revocation = "ocsp"
        elif issuer in crl_issuers:
            revocation = "crl"
        print("%s cert=%s revocation=%s" % (os.path.basename(path).rsplit(".", 1)[0],
                                            "yes" if der in dss_certs else "no", revocation))


if __name__ == "__main__":
    main()
