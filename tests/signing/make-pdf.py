#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# make-pdf.py: small PDFs for the signing tests, written byte by byte (no PDF library).
#   make-pdf.py new OUT TEXT             a one-page PDF showing TEXT (ASCII), classic xref table
#   make-pdf.py change-text IN OUT TEXT  IN followed by an incremental update that replaces page 1's content
#                                        with TEXT: what a signature over IN must not survive
#   make-pdf.py certified OUT TEXT       as new, certified by its author with DocMDP /P 1 (no change allowed;
#                                        the certification's own signature is left empty: only /P is read)
import re
import sys


def content(text):
    esc = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    data = ("BT /F1 18 Tf 72 720 Td (%s) Tj ET\n" % esc).encode("latin-1")
    return b"<< /Length %d >>\nstream\n" % len(data) + data + b"endstream"


def new(out, text, certified=False):
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R /Perms << /DocMDP 6 0 R >> >>" if certified else
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> "
        b"/Contents 4 0 R >>",
        content(text),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Times-Roman >>",
    ]
    if certified:
        objs.append(b"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /adbe.pkcs7.detached /Reference [<< "
                    b"/Type /SigRef /TransformMethod /DocMDP /TransformParams << /Type /TransformParams /P 1 "
                    b"/V /1.2 >> >>] /ByteRange [0 0 0 0] /Contents <00> >>")
    buf = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(len(buf))
        buf += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(buf)
    buf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        buf += b"%010d 00000 n \n" % off
    buf += b"trailer\n<< /Size %d /Root 1 0 R /ID [<%s><%s>] >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objs) + 1, b"ab" * 16, b"ab" * 16, xref)
    open(out, "wb").write(buf)


def change_text(inp, out, text):
    buf = bytearray(open(inp, "rb").read())
    prev = int(re.findall(rb"startxref\s+(\d+)", bytes(buf))[-1])
    size = max(int(m) for m in re.findall(rb"/Size\s+(\d+)", bytes(buf)))
    root = re.findall(rb"/Root\s+(\d+\s+\d+\s+R)", bytes(buf))[-1]
    if not buf.endswith(b"\n"):
        buf += b"\n"
    off = len(buf)
    buf += b"4 0 obj\n" + content(text) + b"\nendobj\n"
    xref = len(buf)
    buf += b"xref\n0 1\n0000000000 65535 f \n4 1\n%010d 00000 n \n" % off
    buf += b"trailer\n<< /Size %d /Root %s /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (size, root, prev, xref)
    open(out, "wb").write(buf)


if __name__ == "__main__":
    if sys.argv[1] == "new":
        new(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "certified":
        new(sys.argv[2], sys.argv[3], certified=True)
    elif sys.argv[1] == "change-text":
        change_text(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit("usage: make-pdf.py new OUT TEXT | change-text IN OUT TEXT")
