#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# make-bench-pdf.py OUT SIZE_MB [TEXT_FILE]: a PDF of about SIZE_MB MiB for tests/bench/run-pdf.sh, like a
# scanned agency document: each page holds a 1000 x 700 RGB image of incompressible bytes (a scan's noise:
# nothing for a filesystem to leave sparse or a cache to shortcut) and a few lines of the regulation's text
# (TEXT_FILE, else a fixed sentence), with a classic cross-reference table. Written byte by byte; the image
# bytes come from a seeded generator, so two runs give the same file.
import random
import sys

W, H = 1000, 700  # one page's image: 2.1 MB of samples


def main():
    out, size_mb = sys.argv[1], float(sys.argv[2])
    text = "Quy che chu ky so cua UBND phuong"
    if len(sys.argv) > 3:
        raw = open(sys.argv[3], encoding="utf-8", errors="replace").read()
        text = " ".join(raw.split())[:2000].encode("ascii", "replace").decode()
    lines = [text[i:i + 90] for i in range(0, min(len(text), 900), 90)] or [text]
    esc = [ln.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for ln in lines]
    content = ("BT /F1 11 Tf 50 800 Td 14 TL " + " ".join("(%s) '" % e for e in esc) +
               " ET q 495 0 0 347 50 380 cm /Im0 Do Q\n").encode("ascii")
    rng = random.Random(20261206)
    target = int(size_mb * 1024 * 1024)
    image_size = W * H * 3
    pages = max(1, round(target / (image_size + len(content) + 400)))
    # When a whole page is too much (the 1 MB case), the image shrinks instead.
    if pages == 1 and target < image_size:
        h = max(1, (target - 2000) // (W * 3))
    else:
        h = H

    buf = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}

    def obj(n, body, stream=None):
        offsets[n] = len(buf)
        buf.extend(b"%d 0 obj\n" % n + body)
        if stream is not None:
            buf.extend(b"\nstream\n" + stream + b"\nendstream")
        buf.extend(b"\nendobj\n")

    # 1 catalog, 2 pages, 3 font; then per page: page, content, image.
    kids = " ".join("%d 0 R" % (4 + 3 * i) for i in range(pages)).encode()
    obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    obj(2, b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages)
    obj(3, b"<< /Type /Font /Subtype /Type1 /BaseFont /Times-Roman >>")
    for i in range(pages):
        p, c, im = 4 + 3 * i, 5 + 3 * i, 6 + 3 * i
        obj(p, b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> "
            b"/XObject << /Im0 %d 0 R >> >> /Contents %d 0 R >>" % (im, c))
        obj(c, b"<< /Length %d >>" % len(content), content)
        samples = rng.randbytes(W * h * 3)
        obj(im, b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
            b"/BitsPerComponent 8 /Length %d >>" % (W, h, len(samples)), samples)
    n = 4 + 3 * pages
    xref = len(buf)
    buf.extend(b"xref\n0 %d\n0000000000 65535 f \n" % n)
    for i in range(1, n):
        buf.extend(b"%010d 00000 n \n" % offsets[i])
    buf.extend(b"trailer\n<< /Size %d /Root 1 0 R /ID [<%s><%s>] >>\nstartxref\n%d\n%%%%EOF\n" %
               (n, b"cd" * 16, b"cd" * 16, xref))
    with open(out, "wb") as f:
        f.write(buf)


main()
