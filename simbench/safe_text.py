"""Text that came from outside (a board, a file) made safe to print and to write into reports.

A board's error text or facts could carry ANSI escape sequences (recolouring or clearing the
terminal, faking a line), other control characters, or megabytes. :func:`printable` keeps one line
of visible text: control characters become visible escapes (``\\x1b``), and the length is bounded.
"""

from __future__ import annotations

import unicodedata

MAX_TEXT = 300
"""Characters kept of one piece of outside text (an error message is one line)."""


def _visible(ch: str) -> str:
    """``ch`` itself when printable, else its escape (C0/C1 controls, DEL, bidi overrides, ...)."""
    if ch == " " or (ch.isprintable() and unicodedata.category(ch) not in ("Cf", "Zl", "Zp")):
        return ch
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def printable(value: object, limit: int = MAX_TEXT) -> str:
    """``str(value)`` as one line of visible characters, at most ``limit`` of them (then ``...``)."""
    text = "".join(_visible(ch) for ch in str(value)[: limit * 2])
    return text if len(text) <= limit else text[: limit - 3] + "..."


__all__ = ["MAX_TEXT", "printable"]
