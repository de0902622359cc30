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
  stamp-*    (with --key) a text stamp annotation added with a signature in its revision, as kyso's issue does
  isa-stamp-* the same stamp without that signature, or with an action or popup
OUTDIR/manifest.txt has one line per file: NAME EXPECTED-PROBLEM [WORDS EXPECTED IN THE CHANGE...], where
EXPECTED-PROBLEM is the pdf_signature_problem_to_string() name of the first signature's verdict; for "ok",
the words are expected in its noted (allowed, told) change.
"""
import argparse
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


def make_base(page=None, catalog=None):
    """A one-page PDF with a table xref; object 7 is an unused content stream, and dead bytes (not in the
    xref) hold another body for object 5. page, catalog: other bodies for the page (3) and the catalog (1)."""
    objs = dict(BASE_OBJECTS)
    if page:
        objs[3] = page
    if catalog:
        objs[1] = catalog
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


def append_update_xref_stream(data, objects):
    """Appends an incremental update whose cross-reference section is a stream (/W [1 4 2], no filter)."""
    if not data.endswith(b"\n"):
        data += b"\n"
    out = bytearray(data)
    entries = {}
    for num, body in objects.items():
        entries[num] = (1, len(out), 0)
        out += b"%d 0 obj\n" % num + body + b"\nendobj\n"
    size = max(int(trailer_value(data, b"Size")), max(entries) + 1)
    xnum = size
    size += 1
    xref = len(out)
    entries[xnum] = (1, xref, 0)
    rows = b"".join(bytes([t]) + off.to_bytes(4, "big") + gen.to_bytes(2, "big")
                    for t, off, gen in (entries[n] for n in sorted(entries)))
    index = b" ".join(b"%d 1" % n for n in sorted(entries))
    out += b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Index [%s] /Root %s /Prev %d /Length %d >>\nstream\n" % (
        xnum, size, index, trailer_value(data, b"Root"), last_startxref(data), len(rows))
    out += rows + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def append_hidden_section(data, objects):
    """Redefines `objects` in a cross-reference section that no startxref/%%EOF ends, then appends an innocent
    update whose /Prev leads to it: a reader following /Prev sees the hidden objects."""
    if not data.endswith(b"\n"):
        data += b"\n"
    out = bytearray(data)
    size = int(trailer_value(data, b"Size"))
    root = trailer_value(data, b"Root")
    offsets = {}
    for num, body in objects.items():
        offsets[num] = len(out)
        out += b"%d 0 obj\n" % num + body + b"\nendobj\n"
    hidden = len(out)
    out += b"xref\n"
    for num in sorted(offsets):
        out += b"%d 1\n%010d 00000 n \n" % (num, offsets[num])
    out += b"trailer\n<< /Size %d /Root %s /Prev %d >>\n" % (size, root, last_startxref(data))
    innocent = len(out)
    out += b"%d 0 obj\n<< /Innocent true >>\nendobj\n" % size
    xref = len(out)
    out += b"xref\n%d 1\n%010d 00000 n \ntrailer\n<< /Size %d /Root %s /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (
        size, innocent, size + 1, root, hidden, xref)
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
    """Replaces old by new in place; new may take the blanks that follow old (fixed-width placeholders)."""
    i = data.index(old)
    while len(new) > len(old) and data[i + len(old):i + len(old) + 1] == b" ":
        old += b" "
    new = new.ljust(len(old))
    assert len(new) == len(old), (old, new)
    return data[:i] + new + data[i + len(old):]


PLACEHOLDER = b"/ByteRange [0 0000000000 0000000000 0000000000]"
CONTENTS_HEX = 16384


def openssl_sign(content, key, cert, chain, cades):
    """A detached CMS over content by `openssl cms` (the other tool whose signatures we must accept)."""
    args = ["openssl", "cms", "-sign", "-binary", "-md", "sha256", "-signer", cert, "-inkey", key, "-outform",
            "DER", "-nosmimecap"]
    if chain:
        args += ["-certfile", chain]
    if cades:
        args.append("-cades")
    return subprocess.run(args, input=content, check=True, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL).stdout


def make_tsa(ca_dir, work):
    """A time-stamping authority under ca_dir's CA (ca.pem, ca.key) for `openssl ts -reply`."""
    os.makedirs(work, exist_ok=True)
    run = lambda *a: subprocess.run(list(a), check=True, cwd=work, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
    with open(os.path.join(work, "ext.cnf"), "w") as f:
        f.write("[tsa]\nbasicConstraints = CA:false\nkeyUsage = critical, digitalSignature\n"
                "extendedKeyUsage = critical, timeStamping\n")
    run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "tsa.key")
    run("openssl", "req", "-new", "-key", "tsa.key", "-subj", "/C=VN/O=Kyso Test/CN=Test TSA", "-out", "tsa.csr")
    run("openssl", "x509", "-req", "-in", "tsa.csr", "-CA", os.path.join(ca_dir, "ca.pem"), "-CAkey",
        os.path.join(ca_dir, "ca.key"), "-set_serial", "0x7001", "-days", "30", "-extfile", "ext.cnf",
        "-extensions", "tsa", "-out", "tsa.pem")
    with open(os.path.join(work, "tsa.cnf"), "w") as f:
        f.write("[tsa]\ndefault_tsa = t\n[t]\nserial = %s/serial\ncrypto_device = builtin\n"
                "signer_cert = %s/tsa.pem\ncerts = %s/ca.pem\nsigner_key = %s/tsa.key\nsigner_digest = sha256\n"
                "default_policy = 1.2.3.4.1\ndigests = sha256\naccuracy = secs:1\ness_cert_id_alg = sha256\n"
                % (work, work, ca_dir, work))
    with open(os.path.join(work, "serial"), "w") as f:
        f.write("01\n")
    return work


def openssl_timestamp(content, tsa):
    """An RFC 3161 token (ContentInfo) over content from the local TSA."""
    q = subprocess.run(["openssl", "ts", "-query", "-sha256", "-cert"], input=content, check=True,
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
    qf = os.path.join(tsa, "q.tsq")
    with open(qf, "wb") as f:
        f.write(q)
    return subprocess.run(["openssl", "ts", "-reply", "-config", os.path.join(tsa, "tsa.cnf"), "-queryfile", qf,
                           "-token_out"], check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout


def sign_update(data, key, cert, chain, field, sub_filter, docmdp=None, cades=False, tsa=None, direct_v=False):
    """Signs a document without a form (base.pdf) the way other tools do: an incremental update with the
    signature dictionary, its widget-field, the AcroForm, the page's /Annots and, for a certification,
    /Perms /DocMDP with /P docmdp. direct_v: the signature dictionary written inside the field's /V."""
    size = int(trailer_value(data, b"Size"))
    catalog_num = int(trailer_value(data, b"Root").split()[0])
    catalog, _ = latest_object(data, catalog_num)
    page_num = int(re.search(rb"/Kids\s*\[\s*(\d+)", data).group(1))
    page, _ = latest_object(data, page_num)
    sig_num, widget_num = size, size + 1
    reference = b""
    if docmdp:
        reference = (b" /Reference [<< /Type /SigRef /TransformMethod /DocMDP /TransformParams "
                     b"<< /Type /TransformParams /P %d /V /1.2 >> >>]" % docmdp)
        catalog = catalog[:-2] + b" /Perms << /DocMDP %d 0 R >> >>" % sig_num
    catalog = catalog[:-2] + b" /AcroForm << /Fields [%d 0 R] /SigFlags 3 >> >>" % widget_num
    annots = re.search(rb"/Annots\s*\[", page)
    if annots:
        page = page[:annots.end()] + b"%d 0 R " % widget_num + page[annots.end():]
    else:
        page = page[:-2] + b" /Annots [%d 0 R] >>" % widget_num
    sig_type = b"/DocTimeStamp" if tsa else b"/Sig"
    sig = (b"<< /Type " + sig_type + b" /Filter /Adobe.PPKLite /SubFilter /" + sub_filter + b" " + PLACEHOLDER +
           b" /Contents <" + b"0" * CONTENTS_HEX + b"> /M (D:20260101120000+07'00')" + reference + b" >>")
    widget = (b"<< /Type /Annot /Subtype /Widget /FT /Sig /T (%s) /V %d 0 R /Rect [0 0 0 0] /F 132 /P %d 0 R >>"
              % (field.encode(), sig_num, page_num))
    objects = {sig_num: sig, widget_num: widget, catalog_num: catalog, page_num: page}
    if direct_v:
        objects[widget_num] = widget.replace(b"/V %d 0 R" % sig_num, b"/V " + sig)
        del objects[sig_num]
    return fill_signature(append_update(data, objects),
                          lambda signed: openssl_timestamp(signed, tsa) if tsa
                          else openssl_sign(signed, key, cert, chain, cades))


def fill_signature(update, sign):
    """The last PLACEHOLDER of update given its /ByteRange (to the end of the file) and /Contents, sign(bytes
    covered) hex-encoded."""
    out = bytearray(update)
    br = out.rindex(PLACEHOLDER)
    a = out.index(b"/Contents <" + b"0" * 16, br) + len(b"/Contents ")
    b = a + CONTENTS_HEX + 2
    c = len(out) - b
    out[br:br + len(PLACEHOLDER)] = b"/ByteRange [0 %010d %010d %010d]" % (a, b, c)
    cms = sign(bytes(out[:a] + out[b:])).hex().encode()
    assert len(cms) <= CONTENTS_HEX
    out[a + 1:a + 1 + len(cms)] = cms
    return bytes(out)


STAMP_AP = b"BT /F1 10 Tf 2 6 Td (So: 7/QD-UBND) Tj ET"


def add_field(body, num):
    """body with num 0 R after the items of its direct /Fields array (the signed items keep their places)."""
    return re.sub(rb"/Fields\s*\[([^\]]*)\]", lambda m: b"/Fields [%s %d 0 R]" % (m.group(1), num), body, count=1)


# A signature dictionary to be filled by fill_signature().
CADES_SIG = (b"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached " + PLACEHOLDER +
             b" /Contents <" + b"0" * CONTENTS_HEX + b"> /M (D:20261206120000+07'00') >>")


def add_form_field(data, objects, catalog_num, catalog, num):
    """objects (an update) gains the form's field list with num after its items."""
    acroform = re.search(rb"/AcroForm\s+(\d+) 0 R", catalog)
    if acroform:
        anum = int(acroform.group(1))
        abody, _ = latest_object(data, anum)
        objects[anum] = add_field(abody, num)
    else:
        objects[catalog_num] = add_field(catalog, num)


def add_stamp(data, extra=b"", sign=None):
    """An update adding to page 1 a text stamp annotation as kyso's issue writes it (/AP, /F 708, /Contents,
    /NM; extra: more keys) and, with sign, a signature field in the same revision (sign(bytes) gives its
    CMS): what the difference analysis must accept after the first signature only in that form."""
    size = int(trailer_value(data, b"Size"))
    catalog_num = int(trailer_value(data, b"Root").split()[0])
    catalog, _ = latest_object(data, catalog_num)
    page_num = int(re.search(rb"/Kids\s*\[\s*(\d+)", data).group(1))
    page, _ = latest_object(data, page_num)
    sig_num, widget_num, stamp_num, ap_num = size, size + 1, size + 2, size + 3
    objects = {
        ap_num: b"<< /Type /XObject /Subtype /Form /BBox [0 0 200 20] /Resources << /Font << /F1 4 0 R >> >> "
                b"/Length %d >>\nstream\n" % len(STAMP_AP) + STAMP_AP + b"\nendstream",
        stamp_num: b"<< /Type /Annot /Subtype /Stamp /F 708 /Rect [60 760 260 780] /AP << /N %d 0 R >> /P %d 0 R "
                   b"/Contents (So: 7/QD-UBND) /NM (kyso-Seal-page-1)%s >>" % (ap_num, page_num, extra),
    }
    new_annots = [stamp_num]
    if sign:
        objects[sig_num] = CADES_SIG
        objects[widget_num] = (b"<< /Type /Annot /Subtype /Widget /FT /Sig /T (Seal) /V %d 0 R /Rect [0 0 0 0] "
                               b"/F 132 /P %d 0 R >>" % (sig_num, page_num))
        new_annots.insert(0, widget_num)
        add_form_field(data, objects, catalog_num, catalog, widget_num)
    refs = b" ".join(b"%d 0 R" % n for n in new_annots)
    annots_ref = re.search(rb"/Annots\s+(\d+) 0 R", page)
    if annots_ref:
        arr_num = int(annots_ref.group(1))
        arr, _ = latest_object(data, arr_num)
        objects[arr_num] = arr.strip()[:-1] + b" " + refs + b"]"
    elif re.search(rb"/Annots\s*\[", page):
        objects[page_num] = re.sub(rb"/Annots\s*\[([^\]]*)\]", lambda m: b"/Annots [" + m.group(1) + b" " + refs + b"]",
                                   page, count=1)
    else:
        objects[page_num] = page.rstrip()[:-2] + b" /Annots [" + refs + b"] >>"
    update = append_update(data, objects)
    return fill_signature(update, sign) if sign else update


# Drawn in the widget's /Rect [72 690 472 730]: a white box over the signed sentence, and another sentence.
SNEAKY_AP = b"1 1 1 rg 0 0 400 40 re f 0 g BT /F1 24 Tf 0 10 Td (Quyet dinh: chi 900 trieu dong) Tj ET"


def add_sig_field(data, ap=None, rect=b"[72 690 472 730]", flags=b"4", sign=None, extra=b""):
    """An update adding to page 1 a new signature field and its widget, as a later signer prepares one (no
    /AP, or ap as its /AP /N stream) or as the Sneaky Signature Attack writes one (ap drawing over the signed
    text, unsigned or with a signature sign(bytes) that need not verify)."""
    size = int(trailer_value(data, b"Size"))
    catalog_num = int(trailer_value(data, b"Root").split()[0])
    catalog, _ = latest_object(data, catalog_num)
    page_num = int(re.search(rb"/Kids\s*\[\s*(\d+)", data).group(1))
    page, _ = latest_object(data, page_num)
    sig_num, widget_num, ap_num = size, size + 1, size + 2
    widget = b"<< /Type /Annot /Subtype /Widget /FT /Sig /T (Next%d) /Rect %s /F %s /P %d 0 R%s" % (
        size, rect, flags, page_num, extra)
    objects = {}
    if ap is not None:
        objects[ap_num] = (b"<< /Type /XObject /Subtype /Form /BBox [0 0 400 40] /Resources << /Font << /F1 4 0 R "
                           b">> >> /Length %d >>\nstream\n" % len(ap) + ap + b"\nendstream")
        widget += b" /AP << /N %d 0 R >>" % ap_num
    if sign:
        objects[sig_num] = CADES_SIG
        widget += b" /V %d 0 R" % sig_num
    objects[widget_num] = widget + b" >>"
    add_form_field(data, objects, catalog_num, catalog, widget_num)
    annots_ref = re.search(rb"/Annots\s+(\d+) 0 R", page)
    if annots_ref:
        arr_num = int(annots_ref.group(1))
        arr, _ = latest_object(data, arr_num)
        objects[arr_num] = arr.strip()[:-1] + b" %d 0 R]" % widget_num
    elif re.search(rb"/Annots\s*\[", page):
        objects[page_num] = re.sub(rb"/Annots\s*\[([^\]]*)\]",
                                   lambda m: b"/Annots [" + m.group(1) + b" %d 0 R]" % widget_num, page, count=1)
    else:
        objects[page_num] = page.rstrip()[:-2] + b" /Annots [%d 0 R] >>" % widget_num
    update = append_update(data, objects)
    return fill_signature(update, sign) if sign else update


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
    out.append((prefix + "isa-content-replaced-xref-stream",
                append_update_xref_stream(signed, {first_content: stream(SHADOW)}), "disallowed-change",
                ["object %d" % first_content, "content of page 1"]))
    # Updates a reader sees but that no "startxref N %%EOF" ends: a section reached only through a later
    # /Prev, and a last update whose %%EOF was left off (qpdf takes the last startxref alone).
    out.append((prefix + "isa-hidden-xref-section", append_hidden_section(signed, {first_content: stream(SHADOW)}),
                "disallowed-change", ["/Prev"]))
    out.append((prefix + "isa-update-without-eof",
                append_update(signed, {first_content: stream(SHADOW)})[:-len(b"%%EOF\n")], "disallowed-change",
                ["object %d" % first_content, "content of page 1"]))
    # What a later revision may add: validation data (B-LT), metadata. The signature still counts.
    out.append((prefix + "lt-dss-added", append_update(signed, {
        catalog_num: catalog_body[:-2] + b" /DSS 910 0 R >>",
        910: b"<< /Certs [911 0 R] /OCSPs [] /CRLs [] >>",
        911: stream(b"0" * 64)}), "ok-partial", []))
    out.append((prefix + "lt-dss-xref-stream", append_update_xref_stream(signed, {
        catalog_num: catalog_body[:-2] + b" /DSS 910 0 R >>",
        910: b"<< /Certs [911 0 R] >>",
        911: stream(b"1" * 64)}), "ok-partial", []))
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
    # An annotation that is not a signature widget drawn over the page (a FreeText with new text).
    annots = re.search(rb"/Annots\s*\[([^\]]*)\]", page_body)
    if annots:
        out.append((prefix + "isa-overlay-annotation", append_update(signed, {
            page_num: page_body.replace(annots.group(0), b"/Annots [%s 905 0 R]" % annots.group(1).strip()),
            905: b"<< /Type /Annot /Subtype /FreeText /Rect [72 690 400 720] /Contents (chi 900 trieu dong) "
                 b"/DA (/Helv 24 Tf 0 g) >>"}), "disallowed-change",
            ["page 1", "gained annotations other than signature widgets"]))
    annots_ref = re.search(rb"/Annots\s+(\d+) 0 R", page_body)
    if annots_ref:
        arr_num = int(annots_ref.group(1))
        arr, _ = latest_object(signed, arr_num)
        out.append((prefix + "isa-overlay-annotation", append_update(signed, {
            arr_num: arr.strip()[:-1] + b" 905 0 R]",
            905: b"<< /Type /Annot /Subtype /FreeText /Rect [72 690 400 720] /Contents (chi 900 trieu dong) "
                 b"/DA (/Helv 24 Tf 0 g) >>"}), "disallowed-change",
            ["object %d" % arr_num, "annotations of page 1", "gained annotations other than signature widgets"]))
    acroform = re.search(rb"/AcroForm\s+(\d+) 0 R", catalog_body)
    if acroform:
        anum = int(acroform.group(1))
        abody, _ = latest_object(signed, anum)
        out.append((prefix + "isa-need-appearances", append_update(signed, {
            anum: abody[:-2] + b" /NeedAppearances true >>"}), "disallowed-change",
            ["object %d" % anum, "/NeedAppearances"]))
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
        # Only while the signed page still names 50 0 R (a writer going through qpdf drops the dangling
        # reference when it rewrites the page, which defuses this one).
        if b"/X1 50 0 R" in page_body:
            out.append((prefix + "shadow-dangling-reference", append_update(signed, {
                50: b"<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> "
                    b"/Length %d >>\nstream\n" % len(SHADOW) + SHADOW + b"\nendstream"}), "disallowed-change",
                ["refers to object 50"]))
    return out


def main():
    ap = argparse.ArgumentParser(description="Signed PDFs and the known attacks on them.")
    ap.add_argument("--nssdir", required=True, help="sql:DIR, the NSS database pdfsig signs with")
    ap.add_argument("--nick", required=True, help="the signing certificate's nickname in it")
    ap.add_argument("--key", help="key for signatures made by openssl cms (with --cert)")
    ap.add_argument("--cert")
    ap.add_argument("--chain")
    ap.add_argument("--tsa-ca", dest="ca_dir", help="folder with ca.pem and ca.key: document time-stamps")
    ap.add_argument("outdir")
    ap.add_argument("signed", nargs="*", help="more signed PDFs to attack")
    o = ap.parse_args()
    nssdir, nick, key, cert, chain, ca_dir = o.nssdir, o.nick, o.key, o.cert, o.chain, o.ca_dir
    outdir, extra = o.outdir, o.signed
    os.makedirs(outdir, exist_ok=True)
    manifest = []

    base, dead = make_base()
    with open(os.path.join(outdir, "base.pdf"), "wb") as f:
        f.write(base)
    # A page whose /Annots holds an annotation written in place (a direct dictionary), as some writers do.
    direct, _ = make_base(BASE_OBJECTS[3][:-2] + b"/Annots [<< /Type /Annot /Subtype /Text /Rect [10 10 30 30] "
                          b"/Contents (Ghi chu) >>] >>")
    with open(os.path.join(outdir, "base-direct-annot.pdf"), "wb") as f:
        f.write(direct)
    # A catalog with a key of its own naming page 1 (PDFium's hello_world_2_pages_custom_object.pdf does).
    page_ref, _ = make_base(catalog=BASE_OBJECTS[1][:-2] + b"/CustomField 3 0 R >>")
    with open(os.path.join(outdir, "base-catalog-page-ref.pdf"), "wb") as f:
        f.write(page_ref)
    pdfsig_sign(nssdir, nick, os.path.join(outdir, "base.pdf"), os.path.join(outdir, "signed.pdf"), "Leader")
    pdfsig_sign(nssdir, nick, os.path.join(outdir, "signed.pdf"), os.path.join(outdir, "signed-twice.pdf"),
                "Seal")
    manifest.append("signed.pdf ok")
    manifest.append("signed-twice.pdf ok")
    with open(os.path.join(outdir, "signed.pdf"), "rb") as f:
        signed = f.read()

    # Signatures other tools make (openssl cms here), certifications, and what is refused.
    if key and cert:
        def put(name, body, verdict):
            with open(os.path.join(outdir, name), "wb") as f:
                f.write(body)
            manifest.append(name + " " + verdict)

        put("cades-openssl.pdf", sign_update(base, key, cert, chain, "Leader", b"ETSI.CAdES.detached", cades=True),
            "ok")
        # An annotation written inside the page's /Annots: a later change of it is a change of the page.
        signed_direct = sign_update(direct, key, cert, chain, "Leader", b"ETSI.CAdES.detached", cades=True)
        put("direct-annot-signed.pdf", signed_direct, "ok")
        page_body, _ = latest_object(signed_direct, 3)
        put("direct-annot-changed.pdf",
            append_update(signed_direct, {3: page_body.replace(b"(Ghi chu)", b"(Da duyet 900 trieu)")}),
            "disallowed-change page_1")
        # Shadow attack through /DSS: the prepared document lists its page content among the DSS
        # certificates, which a later revision may change; the change is still a change of the page.
        prepared = append_update(base, {1: BASE_OBJECTS[1][:-2] + b" /DSS 20 0 R >>",
                                        20: b"<< /Certs [5 0 R] >>"})
        dss_signed = sign_update(prepared, key, cert, chain, "Leader", b"ETSI.CAdES.detached", cades=True)
        put("shadow-dss-signed.pdf", dss_signed, "ok")
        put("shadow-dss-content.pdf", append_update(dss_signed, {5: stream(SHADOW)}),
            "disallowed-change object_5 content_of_page_1")
        # The same through the catalog's /Metadata, which a later revision may change too.
        prepared = append_update(base, {1: BASE_OBJECTS[1][:-2] + b" /Metadata 5 0 R >>"})
        put("shadow-metadata-content.pdf", append_update(sign_update(
            prepared, key, cert, chain, "Leader", b"ETSI.CAdES.detached", cades=True), {5: stream(SHADOW)}),
            "disallowed-change object_5 content_of_page_1")
        # The DSS itself gaining a certificate is what a later B-LT update does.
        put("shadow-dss-more-certs.pdf", append_update(dss_signed, {20: b"<< /Certs [5 0 R 40 0 R] >>",
                                                                    40: stream(b"2" * 64)}), "ok-partial")
        # A signature dictionary written inside its field's /V (no object of its own): one signature.
        put("direct-v.pdf", sign_update(base, key, cert, chain, "Leader", b"ETSI.CAdES.detached", cades=True,
                                        direct_v=True), "ok")
        put("pkcs7-sha1.pdf", sign_update(base, key, cert, chain, "Leader", b"adbe.pkcs7.sha1"),
            "unsupported-subfilter")
        for p in (1, 2):
            name = "certified-p%d.pdf" % p
            put(name, sign_update(base, key, cert, chain, "Author", b"adbe.pkcs7.detached", docmdp=p), "ok")
            pdfsig_sign(nssdir, nick, os.path.join(outdir, name), os.path.join(outdir, "certified-p%d-signed.pdf" % p),
                        "Leader")
            manifest.append("certified-p%d-signed.pdf %s" % (p, "docmdp-violation" if p == 1 else "ok"))
        # A text stamp with its signature (kyso's issue) creates an annotation: /P 3 allows that, /P 2 only
        # form filling and signing (ISO 32000-1, table 254).
        for p in (2, 3):
            certified = sign_update(base, key, cert, chain, "Author", b"adbe.pkcs7.detached", docmdp=p)
            put("certified-p%d-stamp.pdf" % p,
                add_stamp(certified, sign=lambda b: openssl_sign(b, key, cert, chain, True)),
                "disallowed-change page_1 annotations" if p == 2 else "ok text_stamp_was_added_on_page_1")
    # Document time-stamps (ETSI.RFC3161) from openssl ts: alone, after a signature, tampered.
    if ca_dir:
        tsa = make_tsa(os.path.abspath(ca_dir), os.path.join(outdir, "tsa"))
        stamped = sign_update(base, None, None, None, "Stamp", b"ETSI.RFC3161", tsa=tsa)
        with open(os.path.join(outdir, "timestamped.pdf"), "wb") as f:
            f.write(stamped)
        manifest.append("timestamped.pdf ok")
        m, (z, a, b, c) = byte_range(stamped)
        broken = stamped[:b + 10] + b"X" + stamped[b + 11:]
        with open(os.path.join(outdir, "timestamped-tampered.pdf"), "wb") as f:
            f.write(broken)
        manifest.append("timestamped-tampered.pdf cms-invalid")
    # An empty signature field that a later signature (Seal) covers, then given an appearance that draws over
    # the page without being signed: for the Seal, a change of its empty field it may not make.
    empty_num = int(trailer_value(signed, b"Size")) + 1
    with open(os.path.join(outdir, "empty-field.pdf"), "wb") as f:
        f.write(add_sig_field(signed))
    pdfsig_sign(nssdir, nick, os.path.join(outdir, "empty-field.pdf"), os.path.join(outdir, "empty-field-sealed.pdf"),
                "Seal")
    with open(os.path.join(outdir, "empty-field-sealed.pdf"), "rb") as f:
        sealed = f.read()
    manifest.append("empty-field-sealed.pdf ok")
    widget, _ = latest_object(sealed, empty_num)
    ap_num = int(trailer_value(sealed, b"Size"))
    with open(os.path.join(outdir, "isa-sneaky-fill-empty.pdf"), "wb") as f:
        f.write(append_update(sealed, {
            ap_num: stream(SNEAKY_AP).replace(b"<< ", b"<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] ", 1),
            empty_num: widget.strip()[:-2] + b" /AP << /N %d 0 R >> >>" % ap_num}))
    manifest.append("isa-sneaky-fill-empty.pdf disallowed-change signature_field is_not_signed draws")
    # More form fields than the verifier walks (65536): refused as a document it cannot read, not an error.
    catalog, _ = latest_object(signed, 1)
    acroform = re.search(rb"/AcroForm\s+(\d+) 0 R", catalog)
    if acroform:
        anum = int(acroform.group(1))
        abody, _ = latest_object(signed, anum)
        many = re.sub(rb"/Fields\s*\[([^\]]*)\]", lambda m: b"/Fields [" + m.group(1) + b" 930 0 R" * 70000 + b"]",
                      abody, count=1)
        with open(os.path.join(outdir, "many-fields.pdf"), "wb") as f:
            f.write(append_update(signed, {anum: many, 930: b"<< /FT /Tx /T (x) >>"}))
        manifest.append("many-fields.pdf document:damaged")
    todo = [(signed, "", dead)]
    for i, path in enumerate(extra):
        with open(path, "rb") as f:
            data = f.read()
        # A file signed from base.pdf keeps its prepared shadows: the shadow attacks apply to it too.
        todo.append((data, "x%d-" % i, dead if data.startswith(base) else None))
        name = "x%d-signed.pdf" % i
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(todo[-1][0])
        manifest.append(name + " ok")
    for data, prefix, d in todo:
        cases = attacks(data, prefix, d)
        if key and cert:
            sign = lambda b: openssl_sign(b, key, cert, chain, True)
            # A text stamp (an issue's number on page 1) with the signature of its revision: allowed, and
            # told ("ok" with words: they are in the noted change). Without it, or with an action: refused.
            cases += [
                (prefix + "stamp-signed", add_stamp(data, sign=sign), "ok", ["text stamp was added on page 1"]),
                (prefix + "isa-stamp-unsigned", add_stamp(data), "disallowed-change",
                 ["gained annotations other than signature widgets"]),
                (prefix + "isa-stamp-action", add_stamp(
                    data, b" /A << /S /JavaScript /JS (app.alert(1)) >>", sign=sign), "disallowed-change",
                 ["gained annotations other than signature widgets"]),
                (prefix + "isa-stamp-additional-action", add_stamp(
                    data, b" /AA << /PO << /S /URI /URI (http://example.invalid/) >> >>", sign=sign),
                 "disallowed-change", ["gained annotations other than signature widgets"]),
                (prefix + "isa-stamp-popup", add_stamp(data, b" /Popup << /Type /Annot /Subtype /Popup >>",
                                                        sign=sign), "disallowed-change",
                 ["gained annotations other than signature widgets"]),
                # The signature of the stamp's revision is there but does not verify (it signs other bytes):
                # a stamp is allowed only with a signature that vouches for it.
                (prefix + "isa-stamp-bad-signature", add_stamp(data, sign=lambda b: sign(b + b"x")),
                 "disallowed-change", ["text stamp", "does not verify"]),
                # Sneaky Signature Attack (Mainka et al., 2021): a new signature field whose widget draws over
                # the signed text, unsigned or with a signature that does not verify. A field for the next
                # signer that draws nothing, or one whose own signature covers it, is what signers add.
                (prefix + "isa-sneaky-unsigned", add_sig_field(data, SNEAKY_AP), "disallowed-change",
                 ["signature field", "is not signed", "draws"]),
                (prefix + "isa-sneaky-bad-signature", add_sig_field(data, SNEAKY_AP, sign=lambda b: sign(b + b"x")),
                 "disallowed-change", ["signature field", "does not verify"]),
                (prefix + "sig-field-signed-visible", add_sig_field(data, SNEAKY_AP, sign=sign), "ok", []),
                (prefix + "sig-field-empty-no-ap", add_sig_field(data), "ok-partial", []),
                # No /AP, but a background colour a viewer draws the field with (poppler does): a white box.
                (prefix + "isa-sneaky-background", add_sig_field(data, extra=b" /MK << /BG [1 1 1] >>"),
                 "disallowed-change", ["signature field", "is not signed", "draws"]),
                (prefix + "sig-field-empty-blank-ap", add_sig_field(data, b" q 0.5 w Q \n"), "ok-partial", []),
                (prefix + "sig-field-empty-zero-rect", add_sig_field(data, SNEAKY_AP, rect=b"[0 0 0 0]"),
                 "ok-partial", []),
                (prefix + "sig-field-empty-hidden", add_sig_field(data, SNEAKY_AP, flags=b"2"), "ok-partial", []),
            ]
        for name, body, problem, words in cases:
            with open(os.path.join(outdir, name + ".pdf"), "wb") as f:
                f.write(body)
            manifest.append(" ".join([name + ".pdf", problem] + [w.replace(" ", "_") for w in words]))
    with open(os.path.join(outdir, "manifest.txt"), "w") as f:
        f.write("\n".join(manifest) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
