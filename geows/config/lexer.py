"""httpd's config lexing: logical lines (ap_cfg_getline) and words (ap_getword_conf)."""

from __future__ import annotations

import re
from collections.abc import Iterator

# C isspace(), which httpd uses; str.isspace() would also split on Unicode spaces.
SPACE = " \t\n\v\f\r"
_BLANKS = re.compile(f"[{re.escape(SPACE)}]+")
_UNQUOTED = re.compile(f"[^{re.escape(SPACE)}\\\\]*")  # up to a blank or a backslash
_SKIP = re.compile(f"[{re.escape(SPACE)}]*")
_PLAIN = re.compile(r"[^\"'\\]*")  # no quote or backslash: words are just blank-separated


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Yield (first physical line number, text) of each directive line of a file."""
    pieces = text.split("\n")
    pending: list[str] = []
    start = 1
    for number, piece in enumerate(pieces, 1):
        if not pending:
            start = number
        piece = piece.removesuffix("\r")
        # A backslash just before the newline joins the next line (not at EOF: no newline).
        if piece.endswith("\\") and number < len(pieces):
            pending.append(piece[:-1])
            continue
        line = ("".join(pending) + piece).strip(SPACE)
        pending = []
        # Only a leading '#' starts a comment; a '#' anywhere else is an ordinary character.
        if line and not line.startswith("#"):
            yield start, line


def read_word(text: str, pos: int = 0) -> tuple[str, int]:
    """Read the word at `pos` (after any blanks); return it and where the next one starts."""
    pos = _SKIP.match(text, pos).end()
    if text[pos:pos + 1] not in ("\"", "'"):  # the common case, in C: no quote, no escape
        word_end = _UNQUOTED.match(text, pos).end()
        if text[word_end:word_end + 1] != "\\":
            return text[pos:word_end], _SKIP.match(text, word_end).end()
    end = len(text)
    while pos < end and text[pos] in SPACE:
        pos += 1
    quote = text[pos] if pos < end and text[pos] in "\"'" else ""
    if quote:
        pos += 1
    out = []
    while pos < end and (text[pos] != quote if quote else text[pos] not in SPACE):
        # httpd unescapes only "\\" and, inside quotes, a backslash before the quote.
        if text[pos] == "\\" and pos + 1 < end and text[pos + 1] in {"\\", quote or "\\"}:
            pos += 1
        out.append(text[pos])
        pos += 1
    if quote and pos < end:
        pos += 1  # the closing quote; an unclosed quote runs to the end of the line
    while pos < end and text[pos] in SPACE:
        pos += 1
    return "".join(out), pos


def split_words(text: str) -> list[str]:
    """All the words of `text`: `"a" "b"` is two words, `*#` is one."""
    if _PLAIN.fullmatch(text):  # the common case, in C
        return _BLANKS.split(text.strip(SPACE)) if text.strip(SPACE) else []
    words = []
    pos = len(text) - len(text.lstrip(SPACE))
    while pos < len(text):
        word, pos = read_word(text, pos)
        words.append(word)
    return words
