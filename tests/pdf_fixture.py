"""Write small real PDFs (text in Helvetica, one content stream per page) for the loader tests."""
from __future__ import annotations


def _escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: list[list[str]]) -> bytes:
    """A PDF whose page i shows the lines pages[i] (an empty list: a page with no text layer)."""
    n = len(pages)
    objs: list[bytes] = []
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(n))
    objs.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objs.append(f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode())
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i, lines in enumerate(pages):
        body = "BT /F1 11 Tf 14 TL 50 780 Td " + " ".join(f"({_escape(l)}) Tj T*" for l in lines) + " ET" if lines else ""
        stream = body.encode("latin-1")
        objs.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> "
                    f"/Contents {5 + 2 * i} 0 R >>".encode())
        objs.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for k, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{k} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


FREEDONIA_HTML = """<!doctype html><html><head><title>Freedonia: a country profile</title></head><body>
<nav><a href="/">Home</a> | <a href="/news">News</a> | <a href="/about">About</a></nav>
<header><div class="menu">Subscribe to our newsletter</div></header>
<h1>Freedonia at a glance</h1>
<p>The capital of <a href="/wiki/Freedonia">Freedonia</a> is <b>Fredville</b>, a river port of about
<em>two hundred thousand</em> people, founded in <span class="year">1822</span> by <code>salt</code> merchants.</p>
<ul><li>Its parliament, the <i>Grand Assembly</i>, meets in <a href="#">Fredville</a> every spring since 1901.</li></ul>
<div>Share</div>
<footer><p>All rights reserved. Privacy policy. Terms of use.</p></footer>
</body></html>"""
