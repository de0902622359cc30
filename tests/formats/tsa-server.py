#!/usr/bin/env python3
# tsa-server.py PKI MODE PORTFILE: an RFC 3161 time-stamp server on 127.0.0.1 for the formats/ tests, answering
# through `openssl ts -reply` with PKI/tsa.cnf. MODE: ok | reject (a TSA that refuses SHA-256 imprints) |
# wrong-imprint (answers for other data, without nonce). Writes its port to PORTFILE once listening.
import http.server
import os
import subprocess
import sys
import tempfile

pki, mode, portfile = sys.argv[1:4]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with tempfile.TemporaryDirectory() as tmp:
            query = os.path.join(tmp, "q.tsq")
            reply = os.path.join(tmp, "r.tsr")
            with open(query, "wb") as f:
                f.write(body)
            if mode == "wrong-imprint":
                subprocess.run(["openssl", "ts", "-query", "-digest", "00" * 32, "-sha256", "-cert", "-no_nonce",
                                "-out", query], check=True, capture_output=True)
            section = "tsa_reject" if mode == "reject" else "tsa_config"
            r = subprocess.run(["openssl", "ts", "-reply", "-config", os.path.join(pki, "tsa.cnf"), "-section",
                                section, "-queryfile", query, "-out", reply], capture_output=True)
            if r.returncode != 0:
                self.send_error(500, r.stderr.decode(errors="replace")[:200])
                return
            with open(reply, "rb") as f:
                data = f.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(portfile + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(portfile + ".tmp", portfile)
server.serve_forever()
