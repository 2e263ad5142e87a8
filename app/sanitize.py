"""Clean what a user typed: terminal escape sequences (ANSI colours, cursor moves, OSC titles) and other
control characters are removed, so `\\x1b[31mWho ...` is the question `Who ...`."""
from __future__ import annotations

import re

# ECMA-48: CSI (ESC [ ... final byte), OSC (ESC ] ... BEL or ESC \\), other two-byte escapes, and the 8-bit CSI
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"
    r"|\x1b[ -/]*[0-~]"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)


def strip_controls(text: str) -> str:
    """`text` without escape sequences and without control characters other than newline and tab."""
    text = _ESCAPES.sub("", text or "")
    return "".join(ch for ch in text if ch.isprintable() or ch in "\n\t")
