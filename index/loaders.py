"""Read one file into text. Supported: .txt .md .html/.htm .pdf. Errors name the file and what to do."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from app.errors import DocumentError

SUPPORTED = {".txt", ".md", ".markdown", ".html", ".htm", ".pdf"}
MAX_BYTES = 50 * 1024 * 1024


@dataclass
class LoadedFile:
    path: Path
    doc_id: str  # the file name: citations and evaluation sets refer to it
    text: str  # the text every offset refers to
    sha256: str
    kind: str


def find_files(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """Expand folders (recursively) into supported files; return (files, skipped notes)."""
    files: list[Path] = []
    skipped: list[str] = []
    for p in paths:
        if not p.exists():
            raise DocumentError(f"{p}: no such file or folder (check the path)")
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts):
                    if f.suffix.lower() in SUPPORTED:
                        files.append(f)
                    else:
                        skipped.append(f"{f}: skipped ({f.suffix or 'no extension'} is not a document type)")
        else:
            if p.suffix.lower() not in SUPPORTED:
                raise DocumentError(
                    f"{p}: unsupported file type '{p.suffix or 'none'}' (use one of {', '.join(sorted(SUPPORTED))})"
                )
            files.append(p)
    seen: dict[str, Path] = {}
    for f in files:
        if f.name in seen and seen[f.name].resolve() != f.resolve():
            raise DocumentError(f"{f}: another file has the same name ({seen[f.name]}); file names are document ids, rename one")
        seen[f.name] = f
    return list(dict.fromkeys(files)), skipped


def _decode(path: Path, raw: bytes) -> str:
    if b"\x00" in raw[:8192]:
        raise DocumentError(f"{path}: looks like a binary file, not text (give a .txt, .md, .html or .pdf document)")
    for enc in ("utf-8-sig", "cp1252"):
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1252 rarely fails
        raise DocumentError(f"{path}: cannot decode the text (save it as UTF-8)")
    bad = sum(1 for ch in text[:4096] if ord(ch) < 32 and ch not in "\n\r\t\f")
    if bad > 8:
        raise DocumentError(f"{path}: looks like a binary file, not text (give a .txt, .md, .html or .pdf document)")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _html_text(path: Path, raw: bytes) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(_decode(path, raw), "html.parser")
    for tag in soup(["script", "style", "noscript", "nav", "header", "footer", "aside", "form", "iframe", "svg"]):
        tag.decompose()
    lines = [" ".join(line.split()) for line in soup.get_text("\n").split("\n")]
    return "\n".join(line for line in lines if line)


def _pdf_text(path: Path, raw: bytes) -> str:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(raw))
        if reader.is_encrypted:
            raise DocumentError(f"{path}: the PDF is encrypted (save an unprotected copy)")
        return "\n\n".join((page.extract_text() or "").strip() for page in reader.pages)
    except (PdfReadError, ValueError, KeyError) as e:
        raise DocumentError(f"{path}: cannot read the PDF ({e}); check the file is a valid PDF") from None


def load_file(path: Path) -> LoadedFile:
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise DocumentError(f"{path}: {size // 1_000_000} MB is too large (limit {MAX_BYTES // 1_000_000} MB); split it")
        raw = path.read_bytes()
    except OSError as e:
        raise DocumentError(f"{path}: cannot read ({e.strerror or e})") from None
    kind = path.suffix.lower().lstrip(".")
    if kind in ("html", "htm"):
        text = _html_text(path, raw)
    elif kind == "pdf":
        if not raw.startswith(b"%PDF"):
            raise DocumentError(f"{path}: not a PDF file (it does not start with %PDF)")
        text = _pdf_text(path, raw)
    else:
        text = _decode(path, raw)
    if not text.strip():
        raise DocumentError(f"{path}: the document is empty (no text to index)")
    if len(text.split()) < 3:
        raise DocumentError(f"{path}: the document has almost no text ({len(text.split())} words); nothing to index")
    return LoadedFile(path=path, doc_id=path.name, text=text, sha256=hashlib.sha256(raw).hexdigest(), kind=kind)
