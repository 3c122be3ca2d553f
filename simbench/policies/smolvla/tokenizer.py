"""The instruction tokenizer shipped with the package (``vocab.json``): words, then bytes.

Lower-cased text is split into words and punctuation; a word in the vocabulary is one token, any
other word is spelled as its UTF-8 bytes (256 byte tokens), so every text has an encoding and
nothing is downloaded. Pure Python: it runs on the board.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

VOCAB_PATH = Path(__file__).with_name("vocab.json")
PAD, UNK, BOS = 0, 1, 2
N_SPECIAL = 3
N_BYTES = 256
_WORD = re.compile(r"[a-z0-9]+|[^\sa-z0-9]")


@lru_cache(maxsize=1)
def _words() -> dict[str, int]:
    words = json.loads(VOCAB_PATH.read_text())["words"]
    return {w: N_SPECIAL + N_BYTES + i for i, w in enumerate(words)}


def vocab_size() -> int:
    return N_SPECIAL + N_BYTES + len(_words())


def encode(text: str) -> list[int]:
    """``[BOS, ...]``: one id per known word, one per byte of an unknown one."""
    ids = [BOS]
    words = _words()
    for piece in _WORD.findall(text.lower()):
        if piece in words:
            ids.append(words[piece])
        else:
            ids.extend(N_SPECIAL + b for b in piece.encode("utf-8"))
    return ids


def decode(ids: list[int]) -> str:
    """Inverse of :func:`encode` up to case and spacing (for reports and tests)."""
    inverse = {i: w for w, i in _words().items()}
    out: list[str] = []
    pending = bytearray()
    for i in ids:
        if N_SPECIAL <= i < N_SPECIAL + N_BYTES:
            pending.append(i - N_SPECIAL)
            continue
        if pending:
            out.append(pending.decode("utf-8", errors="replace"))
            pending.clear()
        if i in inverse:
            out.append(inverse[i])
    if pending:
        out.append(pending.decode("utf-8", errors="replace"))
    return " ".join(out)


__all__ = ["BOS", "PAD", "UNK", "decode", "encode", "vocab_size"]
