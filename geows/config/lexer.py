"""httpd's config lexing: logical lines (ap_cfg_getline) and words (ap_getword_conf).

httpd's rules, as this module follows them:

- Lines. While the line read so far ends with a backslash just before a newline ("\\n"
  or "\\r\\n"), the backslash and the newline are dropped and the next physical line is
  appended; a backslash at the very end of the file (no newline) stays. The joined
  line is stripped of blanks. An empty line, or one whose first character is '#',
  is skipped: a '#' anywhere else is an ordinary character.
- Words. Blanks (C isspace) separate words. A word that starts with '"' or "'" runs to
  the same quote, or to the end of the line if it is not closed, and the next word may
  start right after it; inside it a backslash escapes that quote or a backslash. Outside
  quotes, a backslash escapes only a backslash.

Most lines have no continuation, no quote and no backslash. For them these rules come
down to splitting at blanks, which the fast paths below leave to str.split.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# C isspace(), which httpd uses; str.split() without arguments also splits at the
# PYTHON_ONLY_SPACE characters, so it is used only on text that has none of them.
SPACE = " \t\n\v\f\r"
PYTHON_ONLY_SPACE = ("\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
                     "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_BLANKS = re.compile(f"[{re.escape(SPACE)}]+")
_SKIP = re.compile(f"[{re.escape(SPACE)}]*")
_UNQUOTED = re.compile(f"[^{re.escape(SPACE)}]*")
# A quoted word runs to the same quote not escaped by a backslash, or to the end of the line.
_QUOTED = {"\"": re.compile(r'"((?:[^"\\]+|\\["\\]?)*)"?'),
           "'": re.compile(r"'((?:[^'\\]+|\\['\\]?)*)'?")}
_QUOTED_ESCAPE = {"\"": re.compile(r'\\(["\\])'), "'": re.compile(r"\\(['\\])")}


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(first physical line number, text) of each directive line of a file."""
    if "\\\n" not in text and "\\\r\n" not in text:  # no continuation: a line is a line
        return [(number, line) for number, piece in enumerate(text.split("\n"), 1)
                if (line := piece.strip(SPACE)) and line[0] != "#"]
    return list(_joined_lines(text))


def _joined_lines(text: str) -> Iterator[tuple[int, str]]:
    """ap_cfg_getline's rules in full, one physical line at a time."""
    pieces = text.split("\n")
    joined = ""  # the logical line so far
    start = 0    # its first physical line; 0 before it starts
    for number, piece in enumerate(pieces, 1):
        start = start or number
        joined += piece
        # A backslash just before the newline (and an optional "\r") joins the next line;
        # not at the end of the file, where there is no newline. httpd looks for it at the
        # end of the whole line joined so far: after an empty continued line, a backslash
        # kept from the line before ("a\\\\", newline, empty line) continues it again.
        if number < len(pieces) and joined.removesuffix("\r").endswith("\\"):
            joined = joined.removesuffix("\r")[:-1]
            continue
        line = joined.strip(SPACE)
        line_start, joined, start = start, "", 0
        # Only a leading '#' starts a comment; a '#' anywhere else is an ordinary character.
        if line and not line.startswith("#"):
            yield line_start, line


def directive_lines(text: str) -> list[tuple[int, str, str, list[str]]]:
    """Each directive line of a file: its line number, its first word, the text after
    that word (from the next word on), and the words of that text."""
    # Whether str.split() splits this file's lines exactly where httpd does, when they
    # have no quote and no backslash.
    python_split = not any(space in text for space in PYTHON_ONLY_SPACE)
    lines = []
    for number, line in logical_lines(text):
        if python_split and "\"" not in line and "'" not in line and "\\" not in line:
            parts = line.split(None, 1)  # the common case: words split at blanks
            rest = parts[1] if len(parts) == 2 else ""
            lines.append((number, parts[0], rest, rest.split()))
        else:
            first, end = read_word(line)
            rest = line[end:]
            lines.append((number, first, rest, split_words(rest)))
    return lines


def read_word(text: str, pos: int = 0) -> tuple[str, int]:
    """Read the word at `pos` (after any blanks); return it and where the next one starts."""
    pos = _SKIP.match(text, pos).end()
    quote = text[pos:pos + 1]
    if quote == "\"" or quote == "'":
        m = _QUOTED[quote].match(text, pos)
        word = m[1]
        if "\\" in word:  # inside quotes, a backslash escapes the quote or a backslash
            word = _QUOTED_ESCAPE[quote].sub(r"\1", word)
    else:
        m = _UNQUOTED.match(text, pos)
        word = m[0].replace("\\\\", "\\")  # outside quotes, it escapes only a backslash
    return word, _SKIP.match(text, m.end()).end()


def split_words(text: str) -> list[str]:
    """All the words of `text`: `"a" "b"` is two words, `*#` is one."""
    if "\"" not in text and "'" not in text and "\\" not in text:  # the common case, in C
        text = text.strip(SPACE)
        return _BLANKS.split(text) if text else []
    words = []
    pos = _SKIP.match(text).end()
    while pos < len(text):
        word, pos = read_word(text, pos)
        words.append(word)
    return words
