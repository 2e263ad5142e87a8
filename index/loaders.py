"""Read one file into text. Supported: .txt .md .html/.htm .pdf. Errors name the file and what to do.

- Text: UTF-8 (or cp1252); a few invalid bytes are replaced (one warning with the count), more than 1% is an error.
- HTML: inline elements (a, b, em, span, code ...) never split text; block elements (p, li, td, h1-h6, br ...)
  end a line, so the boilerplate rules (index/clean.py) judge whole blocks. Title: <title>, else the first <h1>.
- PDF: pages joined by a blank line; `page_starts` gives each page's first offset, so every chunk knows its
  page. Pages without a text layer are reported. pypdf's warnings go to the debug log.
"""
from __future__ import annotations

import codecs
import hashlib
import logging
import re
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from app.errors import DocumentError

SUPPORTED = {".txt", ".md", ".markdown", ".html", ".htm", ".pdf"}
MAX_BYTES = 50 * 1024 * 1024
MAX_BAD_SHARE = 0.01  # more invalid bytes than this share of the file: refuse it rather than guess
PAGE_SEP = "\n\n"
log = logging.getLogger("citeqa.loaders")


@dataclass
class LoadedFile:
    path: Path
    doc_id: str  # the file name: citations and evaluation sets refer to it
    text: str  # the text every offset refers to
    sha256: str
    kind: str
    title: str = ""  # from the document itself (HTML <title>/<h1>), when it has one
    page_starts: list[int] = field(default_factory=list)  # PDF: offset of each page's text
    content_lines: frozenset[int] = frozenset()  # HTML/Markdown: offsets of lines its structure says are content
                                                 # (list items and table rows that are not links), kept by the cleaner
    warnings: list[str] = field(default_factory=list)  # one line each, shown beside the file's result

    def page_at(self, offset: int) -> int:
        """1-based page of a character offset (0 when the document has no pages)."""
        import bisect

        return bisect.bisect_right(self.page_starts, offset) if self.page_starts else 0


def find_files(paths: list[Path]) -> tuple[list[Path], list[str], list[tuple[Path, str]]]:
    """Expand folders (recursively) into supported files: (files, skipped notes, failures). A path that does not
    exist, an unsupported file named explicitly and a clashing file name are failures of that path alone."""
    files: list[Path] = []
    skipped: list[str] = []
    failed: list[tuple[Path, str]] = []
    for p in paths:
        if not p.exists():
            failed.append((p, f"{p}: no such file or folder (check the path)"))
        elif p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts):
                    if f.suffix.lower() in SUPPORTED:
                        files.append(f)
                    else:
                        skipped.append(f"{f}: skipped ({f.suffix or 'no extension'} is not a document type)")
        elif p.suffix.lower() not in SUPPORTED:
            failed.append((p, f"{p}: unsupported file type '{p.suffix or 'none'}' (use one of {', '.join(sorted(SUPPORTED))})"))
        else:
            files.append(p)
    seen: dict[str, Path] = {}
    keep: list[Path] = []
    for f in dict.fromkeys(files):
        if f.name in seen and seen[f.name].resolve() != f.resolve():
            failed.append((f, f"{f}: another file has the same name ({seen[f.name]}); file names are document ids, rename one"))
            continue
        seen.setdefault(f.name, f)
        keep.append(f)
    return keep, skipped, failed


def _decode(path: Path, raw: bytes, notes: list[str]) -> str:
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # UTF-16 with its byte-order mark: what Windows Notepad ("Unicode") and PowerShell's `>` write
        try:
            raw = raw.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError:
            raise DocumentError(f"{path}: starts like UTF-16 text but does not decode as UTF-16; save it as UTF-8") from None
    if b"\x00" in raw[:8192]:
        raise DocumentError(f"{path}: looks like a binary file, not text (give a .txt, .md, .html or .pdf document)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("utf-8-sig", errors="replace")
        bad = text.count("\ufffd") - raw.count("\ufffd".encode())
        if bad <= MAX_BAD_SHARE * len(raw):
            notes.append(f"{path}: {bad} invalid byte{'s' if bad != 1 else ''} replaced with \ufffd (not UTF-8)")
        else:
            try:  # a legacy single-byte encoding decodes cleanly
                text = raw.decode("cp1252")
            except UnicodeDecodeError:
                raise DocumentError(f"{path}: cannot decode the text ({bad} invalid bytes, "
                                    f"{100 * bad / len(raw):.1f}% of the file); save it as UTF-8") from None
    bad = sum(1 for ch in text[:4096] if ord(ch) < 32 and ch not in "\n\r\t\f")
    if bad > 8:
        raise DocumentError(f"{path}: looks like a binary file, not text (give a .txt, .md, .html or .pdf document)")
    return text.replace("\r\n", "\n").replace("\r", "\n")


_DROP = ["script", "style", "noscript", "nav", "header", "footer", "aside", "form", "iframe", "svg", "template",
         "head", "button", "select"]
_BLOCKS = {"p", "li", "ul", "ol", "dl", "dt", "dd", "td", "th", "tr", "table", "thead", "tbody", "tfoot", "caption",
           "h1", "h2", "h3", "h4", "h5", "h6", "div", "section", "article", "main", "blockquote", "pre", "figure",
           "figcaption", "address", "hr", "details", "summary", "body", "html", "center", "fieldset", "legend"}


def _markdown_text(path: Path, raw: bytes, notes: list[str]) -> tuple[str, str, frozenset[int]]:
    """(text with one block per line, title): Markdown rendered by markdown-it-py (CommonMark, with tables) and
    read like HTML, so that quotes and titles carry no markup ("# Title", "**five hours**", "- item", links'
    URLs); the title is the first heading."""
    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark").enable("table").render(_decode(path, raw, notes))
    text, _, content = _html_text(path, html.encode("utf-8"), [])
    h1 = re.search(r"<h[1-6][^>]*>(.*?)</h[1-6]>", html, re.S)
    title = " ".join(re.sub(r"<[^>]+>", " ", h1.group(1)).split()) if h1 else ""
    return text, title, content


LINK_SHARE = 0.5  # a list item or table row with at least this share of its text in links is navigation


def _structured(soup) -> set[int]:
    """The list items and table rows that are content, not navigation: less than LINK_SHARE of their text in
    links. A data table's row (its cells hold no blocks) becomes one line, its cells joined by " | " ("Laptop |
    replaced every 3 years"); the ids of the tags whose line is content are returned (the cleaner keeps those
    lines, however short)."""
    from bs4.element import NavigableString

    def linked(tag) -> int:
        return sum(len(" ".join(a.get_text(" ").split())) for a in tag.find_all("a"))

    keep: set[int] = set()
    for tr in soup.find_all("tr"):
        if tr.find(lambda t: t.name in _BLOCKS and t.name not in ("td", "th")):
            continue  # a table that lays out a page (headings, paragraphs, menus in its cells): read block by block
        cells = [" ".join(c.get_text(" ").split()) for c in tr.find_all(["td", "th"], recursive=False)]
        cells = [c for c in cells if c]
        if not cells:
            continue
        links, row = linked(tr), " | ".join(cells)
        tr.clear()
        tr.append(NavigableString(row))
        if links < LINK_SHARE * len(row):
            keep.add(id(tr))
    for li in soup.find_all("li"):
        text = " ".join(li.get_text(" ").split())
        if text and linked(li) < LINK_SHARE * len(text):
            keep.add(id(li))
    return keep


def _html_text(path: Path, raw: bytes, notes: list[str]) -> tuple[str, str, frozenset[int]]:
    """(text with one block per line, title, offsets of the lines that are content by structure)."""
    from bs4 import BeautifulSoup
    from bs4.element import NavigableString, PreformattedString, Tag

    soup = BeautifulSoup(_decode(path, raw, notes), "html.parser")
    title_tag = soup.find("title")
    h1 = soup.find("h1")
    title = " ".join(title_tag.get_text(" ").split()) if title_tag is not None else ""
    if not title and h1 is not None:
        title = " ".join(h1.get_text(" ").split())
    for tag in soup(_DROP):
        tag.decompose()
    structured = _structured(soup)
    lines: list[str] = []
    content: set[int] = set()  # indexes into lines
    buf: list[str] = []
    inside: list[int] = []  # the structured tags the walk is in

    def flush() -> None:
        line = " ".join("".join(buf).split())
        if line:
            if inside:
                content.add(len(lines))
            lines.append(line)
        buf.clear()

    stack: list = [soup]
    while stack:  # depth-first without recursion: deeply nested pages are common
        node = stack.pop()
        if isinstance(node, tuple):  # (the block's id,): leaving that block
            flush()
            if node[0] in structured:
                inside.pop()
        elif isinstance(node, PreformattedString):  # comments, doctype, CDATA
            continue
        elif isinstance(node, NavigableString):
            buf.append(str(node))
        elif isinstance(node, Tag):
            if node.name == "br":
                flush()
                continue
            if node.name in _BLOCKS:
                flush()
                stack.append((id(node),))
                if id(node) in structured:
                    inside.append(id(node))
            stack.extend(reversed(node.contents))
    flush()
    starts, pos = [], 0
    for line in lines:
        starts.append(pos)
        pos += len(line) + 1
    return "\n".join(lines), title, frozenset(starts[i] for i in content)


@contextmanager
def _pypdf_quiet():
    """pypdf's warnings (logging and `warnings`) go to the debug log instead of the terminal."""
    pdf_log = logging.getLogger("pypdf")

    class ToDebug(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            log.debug("pypdf: %s", record.getMessage())

    handler, before = ToDebug(), pdf_log.propagate
    pdf_log.addHandler(handler)
    pdf_log.propagate = False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
        for w in caught:
            log.debug("pypdf: %s", w.message)
    finally:
        pdf_log.removeHandler(handler)
        pdf_log.propagate = before


def _pdf_text(path: Path, raw: bytes, notes: list[str]) -> tuple[str, list[int]]:
    """(pages joined by a blank line, each page's first offset)."""
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError, PyPdfError

    try:
        with _pypdf_quiet():
            reader = PdfReader(io.BytesIO(raw))
            if reader.is_encrypted:
                raise DocumentError(f"{path}: the PDF is encrypted (save an unprotected copy)")
            pages = []
            for page in reader.pages:
                try:
                    pages.append((page.extract_text() or "").strip())
                except (PyPdfError, ValueError, KeyError, TypeError) as e:
                    log.debug("pypdf: %s: page %d: %s", path, len(pages) + 1, e)
                    pages.append("")
    except (PdfReadError, PyPdfError, ValueError, KeyError) as e:
        raise DocumentError(f"{path}: cannot read the PDF ({e}); check the file is a valid PDF") from None
    empty = [i + 1 for i, t in enumerate(pages) if not t]
    if empty and len(empty) < len(pages):
        which = ", ".join(map(str, empty[:10])) + (f" (+{len(empty) - 10} more)" if len(empty) > 10 else "")
        notes.append(f"{path}: page{'s' if len(empty) > 1 else ''} {which} ha{'ve' if len(empty) > 1 else 's'} no text: "
                     f"scanned image? (run OCR on it to index those pages)")
    elif empty:
        raise DocumentError(f"{path}: no page has a text layer ({len(pages)} pages): scanned images? run OCR on it first")
    starts, pos = [], 0
    for t in pages:
        starts.append(pos)
        pos += len(t) + len(PAGE_SEP)
    return PAGE_SEP.join(pages), starts


def load_file(path: Path) -> LoadedFile:
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise DocumentError(f"{path}: {size // 1_000_000} MB is too large (limit {MAX_BYTES // 1_000_000} MB); split it")
        raw = path.read_bytes()
    except OSError as e:
        raise DocumentError(f"{path}: cannot read ({e.strerror or e})") from None
    kind = path.suffix.lower().lstrip(".")
    notes: list[str] = []
    title, page_starts, content = "", [], frozenset()
    if kind in ("html", "htm"):
        text, title, content = _html_text(path, raw, notes)
    elif kind in ("md", "markdown"):
        text, title, content = _markdown_text(path, raw, notes)
    elif kind == "pdf":
        if not raw.startswith(b"%PDF"):
            raise DocumentError(f"{path}: not a PDF file (it does not start with %PDF)")
        text, page_starts = _pdf_text(path, raw, notes)
    else:
        text = _decode(path, raw, notes)
    if not text.strip():
        raise DocumentError(f"{path}: the document is empty (no text to index)")
    if len(text.split()) < 3:
        raise DocumentError(f"{path}: the document has almost no text ({len(text.split())} words); nothing to index")
    return LoadedFile(path=path, doc_id=path.name, text=text, sha256=hashlib.sha256(raw).hexdigest(), kind=kind,
                      title=title, page_starts=page_starts, content_lines=content, warnings=notes)
