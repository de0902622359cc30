#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""make-pdf-attacks.py: signed PDFs and the known attacks on them, for test-pdf-verify.

  make-pdf-attacks.py --nssdir sql:DIR --nick NICK OUTDIR [SIGNED.pdf...]

Writes a small PDF prepared for shadow attacks (an unused second content stream, dead bytes holding another
version of the page content, an overlay), signs it with `pdfsig -add-signature`, makes a second, legitimate
signature on top, and derives the attacks from the signed file (and from each SIGNED.pdf given, e.g. files
made by kyso's own signer):
  usf-*      universal signature forgery: /Contents, /ByteRange missing, null, malformed (in place or by update)
  isa-*      incremental saving attacks: page text, pages, catalog changed by a later revision
  swa-*      signature wrapping: /ByteRange moved so that the gap hides other bytes
  shadow-*   hide, replace, hide-and-replace: prepared before signing, revealed by a later revision
OUTDIR/manifest.txt has one line per file: NAME EXPECTED-PROBLEM [WORDS EXPECTED IN THE CHANGE...], where
EXPECTED-PROBLEM is the pdf_signature_problem_to_string() name of the first signature's verdict.
"""
import os
import re
import subprocess
import sys

BASE_OBJECTS = {
    1: b"<< /Type /Catalog /Pages 2 0 R >>",
    2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    # /X1 is 50 0 R, which the file does not define (a null, drawn as nothing) until an update does.
    3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> "
       b"/XObject << /X1 50 0 R >> >> /Contents [5 0 R 6 0 R] >>",
    4: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
}


def stream(data):
    return b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


CONTENT = b"BT /F1 24 Tf 72 700 Td (Quyet dinh: chi 100 trieu dong) Tj ET"
SHADOW = b"BT /F1 24 Tf 72 700 Td (Quyet dinh: chi 900 trieu dong) Tj ET"
OVERLAY = b"1 1 1 rg 72 650 300 30 re f q /X1 Do Q"  # white box: hides what is under it until removed


def make_base():
    """A one-page PDF with a table xref; object 7 is an unused content stream, and dead bytes (not in the
    xref) hold another body for object 5."""
    objs = dict(BASE_OBJECTS)
    objs[5] = stream(CONTENT)
    objs[6] = stream(OVERLAY)
    objs[7] = stream(SHADOW)
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for n in sorted(objs):
        offsets[n] = len(out)
        out += b"%d 0 obj\n" % n + objs[n] + b"\nendobj\n"
    dead = len(out)
    out += b"5 0 obj\n" + stream(SHADOW) + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for n in sorted(objs):
        out += b"%010d 00000 n \n" % offsets[n]
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out), dead


def last_startxref(data):
    m = list(re.finditer(rb"startxref\s+(\d+)\s+%%EOF", data))
    return int(m[-1].group(1))


def trailer_value(data, key):
    """/Size or /Root from the last trailer or xref stream dictionary."""
    starts = [m.start() for m in re.finditer(rb"trailer|/Type\s*/XRef", data)]
    tail = data[starts[-1]:] if starts else data
    m = re.search(rb"/" + key + rb"\s+(\d+)(\s+\d+\s+R)?", tail)
    return m.group(1) + (m.group(2) or b"")


def latest_object(data, num):
    """The text of the last definition of object num (its body, without 'N G obj'/'endobj') and its generation."""
    ms = list(re.finditer(rb"(?<![0-9])%d (\d+) obj" % num, data))
    if not ms:
        raise KeyError(num)
    m = ms[-1]
    end = data.index(b"endobj", m.end())
    return data[m.end():end].strip(), int(m.group(1))


def append_update(data, objects, freed=(), xref_points=None, root=None):
    """Appends an incremental update (table xref) redefining `objects` {num: body}, freeing `freed`, and making
    xref_points {num: offset} point objects at existing bytes."""
    if not data.endswith(b"\n"):
        data += b"\n"
    out = bytearray(data)
    entries = {}
    for num, body in objects.items():
        gen = 0
        try:
            gen = latest_object(data, num)[1]
        except KeyError:
            pass
        entries[num] = (len(out), gen, b"n")
        out += b"%d %d obj\n" % (num, gen) + body + b"\nendobj\n"
    for num in freed:
        entries[num] = (0, 1, b"f")
    for num, off in (xref_points or {}).items():
        entries[num] = (off, 0, b"n")
    size = max(int(trailer_value(data, b"Size")), max(entries) + 1)
    xref = len(out)
    out += b"xref\n"
    for num in sorted(entries):
        off, gen, kind = entries[num]
        out += b"%d 1\n%010d %05d %s \n" % (num, off, gen, kind)
    out += b"trailer\n<< /Size %d /Root %s /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (
        size, root or trailer_value(data, b"Root"), last_startxref(data), xref)
    return bytes(out)


def sig_object(data):
    """The first signature dictionary: its number and the offset of its /ByteRange array."""
    br = data.index(b"/ByteRange")
    m = list(re.finditer(rb"(\d+) (\d+) obj", data[:br]))[-1]
    return int(m.group(1)), br


def byte_range(data):
    m = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", data)
    return m, [int(x) for x in m.groups()]


def replace_same_length(data, old, new):
    i = data.index(old)
    new = new.ljust(len(old))
    assert len(new) == len(old), (old, new)
    return data[:i] + new + data[i + len(old):]


def pdfsig_sign(nssdir, nick, src, dst, field):
    subprocess.run(["pdfsig", "-add-signature", "-nssdir", nssdir, "-nick", nick, "-new-signature-field-name",
                    field, "-reason", "test", src, dst], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def attacks(signed, prefix, dead=None):
    """(name, bytes, expected problem, change words) for the attacks derived from one signed file."""
    out = []
    sig_num, _ = sig_object(signed)
    sig_body, _ = latest_object(signed, sig_num)
    m, (z, a, b, c) = byte_range(signed)
    catalog_num = int(trailer_value(signed, b"Root").split()[0])

    # Universal signature forgery, by a later revision redefining the signature dictionary.
    no_contents = re.sub(rb"/Contents\s*<[0-9A-Fa-f\s]*>", b"", sig_body)
    usf = {
        "usf-contents-removed": (no_contents, "contents-missing"),
        "usf-contents-null": (no_contents[:-2] + b"/Contents null >>", "contents-missing"),
        "usf-contents-empty": (no_contents[:-2] + b"/Contents <> >>", "contents-missing"),
        "usf-contents-garbage": (no_contents[:-2] + b"/Contents <3082000130> >>", "byte-range-gap"),
        "usf-byterange-removed": (re.sub(rb"/ByteRange\s*\[[^\]]*\]", b"", sig_body), "byte-range-missing"),
        "usf-byterange-null": (re.sub(rb"/ByteRange\s*\[[^\]]*\]", b"/ByteRange null", sig_body),
                               "byte-range-missing"),
        "usf-byterange-three": (re.sub(rb"/ByteRange\s*\[[^\]]*\]", b"/ByteRange [0 %d %d]" % (a, b), sig_body),
                                "byte-range-malformed"),
        "usf-byterange-zero": (re.sub(rb"/ByteRange\s*\[[^\]]*\]", b"/ByteRange [0 0 0 0]", sig_body),
                               "byte-range-malformed"),
        "usf-byterange-negative": (re.sub(rb"/ByteRange\s*\[[^\]]*\]", b"/ByteRange [0 -1 %d %d]" % (b, c),
                                          sig_body), "byte-range-malformed"),
        "usf-byterange-names": (re.sub(rb"/ByteRange\s*\[[^\]]*\]", b"/ByteRange [/a /b /c /d]", sig_body),
                                "byte-range-malformed"),
    }
    for name, (body, problem) in usf.items():
        out.append((prefix + name, append_update(signed, {sig_num: body}), problem, []))
    # ... and in place, same length, no new revision.
    key = signed.rindex(b"/Contents", 0, a)
    out.append((prefix + "usf-inplace-contents-key", signed[:key] + b"/Contxnts" + signed[key + 9:],
                "contents-missing", []))
    out.append((prefix + "usf-inplace-byterange-start", replace_same_length(signed, m.group(0),
                b"/ByteRange [1 %d %d %d]" % (a, b, c)), "byte-range-malformed", []))
    out.append((prefix + "usf-inplace-byterange-past-end", replace_same_length(signed, m.group(0),
                b"/ByteRange [0 %d %d %d]" % (a, b, c + 100000)), "byte-range-malformed", []))

    # Incremental saving attacks.
    page_num = int(re.search(rb"/Kids\s*\[\s*(\d+)", signed).group(1))
    page_body, _ = latest_object(signed, page_num)
    catalog_body, _ = latest_object(signed, catalog_num)
    contents_ref = re.search(rb"/Contents\s*(\[[^\]]*\]|\d+ \d+ R)", page_body)
    first_content = int(re.search(rb"(\d+) \d+ R", contents_ref.group(1)).group(1))
    out.append((prefix + "isa-content-replaced", append_update(signed, {first_content: stream(SHADOW)}),
                "disallowed-change", ["object %d" % first_content, "content of page 1"]))
    out.append((prefix + "isa-page-text-added", append_update(signed, {
        page_num: page_body.replace(contents_ref.group(0), b"/Contents [%s 900 0 R]" % contents_ref.group(1)
                                    .strip(b"[]")),
        900: stream(b"BT /F1 12 Tf 72 600 Td (Da duyet them) Tj ET")}), "disallowed-change",
        ["page 1", "/Contents"]))
    pages_num = int(re.search(rb"/Pages\s+(\d+)", catalog_body).group(1))
    out.append((prefix + "isa-page-added", append_update(signed, {
        pages_num: b"<< /Type /Pages /Kids [%d 0 R 901 0 R] /Count 2 >>" % page_num,
        901: b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents 902 0 R >>" % pages_num,
        902: stream(SHADOW)}), "disallowed-change", ["object %d" % pages_num, "page tree"]))
    out.append((prefix + "isa-mediabox", append_update(signed, {
        page_num: re.sub(rb"/MediaBox\s*\[[^\]]*\]", b"/MediaBox [0 0 100 100]", page_body)}),
        "disallowed-change", ["page 1", "/MediaBox"]))
    out.append((prefix + "isa-openaction", append_update(signed, {
        catalog_num: catalog_body[:-2] + b" /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >>"}),
        "disallowed-change", ["document catalog", "/OpenAction"]))
    out.append((prefix + "isa-new-root", append_update(signed, {903: catalog_body}, root=b"903 0 R"),
                "disallowed-change", ["/Root"]))
    out.append((prefix + "isa-content-freed", append_update(signed, {}, freed=[first_content]),
                "disallowed-change", ["object %d" % first_content, "deleted"]))
    font = re.search(rb"/F1\s+(\d+) 0 R", signed)
    if font:
        fnum = int(font.group(1))
        out.append((prefix + "isa-font-replaced", append_update(signed, {
            fnum: b"<< /Type /Font /Subtype /Type1 /BaseFont /Courier >>"}), "disallowed-change",
            ["object %d" % fnum, "font"]))

    # Signature wrapping: the gap grows to hide other bytes, the second signed part is moved after them.
    inject = b" 904 0 obj (hidden) endobj "
    moved = signed[:b] + inject + signed[b:]
    new_br = b"/ByteRange [0 %d %d %d]" % (a, b + len(inject), c)
    if len(new_br) <= len(m.group(0)):
        # The offsets after the gap moved: the file no longer reads without repair.
        out.append((prefix + "swa-gap-widened", replace_same_length(moved, m.group(0), new_br),
                    "document:damaged", []))
    # The gap takes in the bytes after /Contents (the rest of the dictionary) and the file stays readable.
    taken = b"/ByteRange [0 %d %d %d]" % (a, b + 40, c - 40)
    out.append((prefix + "swa-gap-extended", replace_same_length(signed, m.group(0), taken), "byte-range-gap", []))
    shorter = b"/ByteRange [0 %d %d %d]" % (a, b, c - 20)
    out.append((prefix + "swa-range-short", replace_same_length(signed, m.group(0), shorter),
                "not-at-revision-end", []))
    shifted = b"/ByteRange [0 %d %d %d]" % (a - 10, b, c)
    out.append((prefix + "swa-gap-shifted", replace_same_length(signed, m.group(0), shifted), "byte-range-gap", []))

    # Shadow attacks, prepared before signing (make_base()), revealed by a later revision.
    if dead is not None:
        out.append((prefix + "shadow-hide", append_update(signed, {
            page_num: page_body.replace(contents_ref.group(0), b"/Contents 5 0 R")}), "disallowed-change",
            ["page 1", "/Contents"]))
        out.append((prefix + "shadow-replace", append_update(signed, {}, xref_points={5: dead}),
                    "disallowed-change", ["object 5", "content of page 1"]))
        out.append((prefix + "shadow-hide-and-replace", append_update(signed, {
            page_num: page_body.replace(contents_ref.group(0), b"/Contents [7 0 R]")}), "disallowed-change",
            ["page 1", "/Contents"]))
        overlay = latest_object(signed, 6)[0]
        out.append((prefix + "shadow-overlay-emptied", append_update(signed, {6: stream(b"")}),
                    "disallowed-change", ["object 6", "content of page 1"]))
        del overlay
        out.append((prefix + "shadow-dangling-reference", append_update(signed, {
            50: b"<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> "
                b"/Length %d >>\nstream\n" % len(SHADOW) + SHADOW + b"\nendstream"}), "disallowed-change",
            ["refers to object 50"]))
    return out


def main():
    args = sys.argv[1:]
    nssdir = nick = None
    rest = []
    while args:
        a = args.pop(0)
        if a == "--nssdir":
            nssdir = args.pop(0)
        elif a == "--nick":
            nick = args.pop(0)
        else:
            rest.append(a)
    if not nssdir or not nick or not rest:
        print(__doc__, file=sys.stderr)
        return 2
    outdir, extra = rest[0], rest[1:]
    os.makedirs(outdir, exist_ok=True)
    manifest = []

    base, dead = make_base()
    with open(os.path.join(outdir, "base.pdf"), "wb") as f:
        f.write(base)
    pdfsig_sign(nssdir, nick, os.path.join(outdir, "base.pdf"), os.path.join(outdir, "signed.pdf"), "Leader")
    pdfsig_sign(nssdir, nick, os.path.join(outdir, "signed.pdf"), os.path.join(outdir, "signed-twice.pdf"),
                "Seal")
    manifest.append("signed.pdf ok")
    manifest.append("signed-twice.pdf ok")
    with open(os.path.join(outdir, "signed.pdf"), "rb") as f:
        signed = f.read()
    todo = [(signed, "", dead)]
    for i, path in enumerate(extra):
        with open(path, "rb") as f:
            todo.append((f.read(), "x%d-" % i, None))
        name = "x%d-signed.pdf" % i
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(todo[-1][0])
        manifest.append(name + " ok")
    for data, prefix, d in todo:
        for name, body, problem, words in attacks(data, prefix, d):
            with open(os.path.join(outdir, name + ".pdf"), "wb") as f:
                f.write(body)
            manifest.append(" ".join([name + ".pdf", problem] + [w.replace(" ", "_") for w in words]))
    with open(os.path.join(outdir, "manifest.txt"), "w") as f:
        f.write("\n".join(manifest) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
