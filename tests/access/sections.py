"""Access lines from config text, as the config reader hands them over, for the tests."""

from __future__ import annotations

from geows.access.rules import SectionAccess, build, merge
from geows.config.access_lines import ACCESS_CONTAINERS, AccessContainer, AccessLine
from geows.config.lexer import logical_lines, split_words

FILE = "test.conf"


def lines(text: str) -> list[AccessLine]:
    """The access lines of one section's body; <RequireAll>, <Limit GET>... nest."""
    open_: list[AccessContainer] = []
    found = []
    for number, line in logical_lines(text):
        key, *args = split_words(line.rstrip(">"))
        if key.startswith("</"):
            open_.pop()
        elif key.startswith("<") and key[1:].lower() in ACCESS_CONTAINERS:
            open_.append(AccessContainer(key[1:].lower(), tuple(args), FILE, number))
        else:
            found.append(AccessLine(key.lower(), tuple(args), FILE, number, tuple(open_)))
    return found


def section(text: str, server_root: str = "/srv") -> SectionAccess:
    return build(lines(text), server_root)


def merged(*texts: str, server_root: str = "/srv") -> SectionAccess:
    """Sections merged in order, as httpd merges the ones a request matches."""
    policy = section(texts[0], server_root)
    for text in texts[1:]:
        policy = merge(policy, section(text, server_root))
    return policy
