"""Streamed model text -> complete sentences (citation markers after the period included)."""
from __future__ import annotations

import re

from app.grounding.text import SENTENCE_END


class SentenceAssembler:
    """Feed streamed text; get back complete sentences (citation markers after the period included)."""

    def __init__(self):
        self.buf = ""

    def feed(self, piece: str) -> list[str]:
        self.buf += piece
        out = []
        while True:
            m = None
            for cand in SENTENCE_END.finditer(self.buf):
                rest = self.buf[cand.end():]
                if re.fullmatch(r"\s*\d{1,2}[.)]", self.buf[: cand.end()].split("\n")[-1]):
                    continue  # "1. " starts a list item; it does not end a sentence
                # complete only once the next sentence has visibly started (markers may still follow)
                if rest.strip() and not re.match(r"\s*\[\d*$", rest) and not re.match(r"\s*\[\d", rest):
                    m = cand
                    break
            if m is None:
                nl = self.buf.find("\n")
                if nl >= 0 and self.buf[:nl].strip():
                    out.append(self.buf[:nl].strip())
                    self.buf = self.buf[nl + 1:]
                    continue
                if nl >= 0:
                    self.buf = self.buf[nl + 1:]
                    continue
                return out
            out.append(self.buf[: m.end()].strip())
            self.buf = self.buf[m.end():]

    def flush(self) -> list[str]:
        rest, self.buf = self.buf.strip(), ""
        return [rest] if rest else []
