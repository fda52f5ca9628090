"""One config file as a tree of directives and sections, in file order, as written."""

from __future__ import annotations

from dataclasses import dataclass

from geows.config.lexer import directive_lines, split_words
from geows.errors import ConfigError


# Not frozen, for speed (a frozen dataclass costs several times as much to build, and a big
# config has tens of thousands of nodes); nothing changes a node after parse() returns it.
@dataclass(slots=True, eq=False)
class Node:
    name: str               # as written
    key: str                # name.lower(): httpd compares names case-insensitively
    args: tuple[str, ...]   # arguments, never lowercased
    raw: str                # argument text before word splitting, for ${VAR} substitution
    file: str
    line: int


@dataclass(slots=True, eq=False)
class Directive(Node):
    """One directive line."""


@dataclass(slots=True, eq=False)
class Section(Node):
    """`<Name args>` ... `</Name>`; name without the angle bracket."""

    children: tuple[Node, ...] = ()


def parse(text: str, file: str) -> tuple[Node, ...]:
    """The nodes of one file; ConfigError at FILE:LINE for broken section syntax."""
    top: list[Node] = []
    children = top  # where the next node goes: the innermost open section's children
    stack: list[tuple[str, str, int, list[Node]]] = []  # open sections: name, raw, line, children
    for line, word, rest, words in directive_lines(text):
        if not word.startswith("<"):
            children.append(Directive(word, word.lower(), tuple(words), rest, file, line))
        elif word.startswith("</"):
            if not word.endswith(">"):
                raise ConfigError(f"{word}> directive missing closing '>'", file, line)
            name = word[2:-1]
            if not stack:
                raise ConfigError(f"{word} without matching <{name}> section", file, line)
            if name.lower() != stack[-1][0].lower():
                raise ConfigError(f"Expected </{stack[-1][0]}> but saw {word}", file, line)
            name, raw, start, closed = stack.pop()
            children = stack[-1][3] if stack else top
            children.append(Section(name, name.lower(), tuple(split_words(raw)), raw, file,
                                    start, tuple(closed)))
        else:
            name = word[1:].removesuffix(">")
            if word.endswith(">") and not rest:
                raw = ""
            elif ">" in rest:
                raw = rest[: rest.rindex(">")]  # httpd, too, ignores text after the last '>'
            else:
                raise ConfigError(f"<{name} directive missing closing '>'", file, line)
            children = []
            stack.append((name, raw.strip(), line, children))
    if stack:
        name, raw, start, _ = stack[-1]
        raise ConfigError(f"<{' '.join(filter(None, (name, raw)))}> was not closed.", file, start)
    return tuple(top)
