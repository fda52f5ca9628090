"""One config file as a tree of directives and sections, in file order, as written."""

from __future__ import annotations

from dataclasses import dataclass

from geows.config.lexer import logical_lines, read_word, split_words
from geows.errors import ConfigError


@dataclass(frozen=True)
class Node:
    name: str               # as written; httpd compares names case-insensitively
    args: tuple[str, ...]   # arguments, never lowercased
    raw: str                # argument text before word splitting, for ${VAR} substitution
    file: str
    line: int

    @property
    def key(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Directive(Node):
    """One directive line."""


@dataclass(frozen=True)
class Section(Node):
    """`<Name args>` ... `</Name>`; name without the angle bracket."""

    children: tuple[Node, ...] = ()


def parse(text: str, file: str) -> tuple[Node, ...]:
    """The nodes of one file; ConfigError at FILE:LINE for broken section syntax."""
    top: list[Node] = []
    stack: list[tuple[str, str, int, list[Node]]] = []  # open sections: name, raw, line, children
    for line, text_line in logical_lines(text):
        word, end = read_word(text_line)
        rest = text_line[end:]
        if word.startswith("</"):
            if not word.endswith(">"):
                raise ConfigError(f"{word}> directive missing closing '>'", file, line)
            name = word[2:-1]
            if not stack:
                raise ConfigError(f"{word} without matching <{name}> section", file, line)
            if name.lower() != stack[-1][0].lower():
                raise ConfigError(f"Expected </{stack[-1][0]}> but saw {word}", file, line)
            name, raw, start, children = stack.pop()
            section = Section(name, tuple(split_words(raw)), raw, file, start, tuple(children))
            (stack[-1][3] if stack else top).append(section)
        elif word.startswith("<"):
            name = word[1:].removesuffix(">")
            if word.endswith(">") and not rest:
                raw = ""
            elif ">" in rest:
                raw = rest[: rest.rindex(">")]  # httpd, too, ignores text after the last '>'
            else:
                raise ConfigError(f"<{name} directive missing closing '>'", file, line)
            stack.append((name, raw.strip(), line, []))
        else:
            directive = Directive(word, tuple(split_words(rest)), rest, file, line)
            (stack[-1][3] if stack else top).append(directive)
    if stack:
        name, raw, start, _ = stack[-1]
        raise ConfigError(f"<{' '.join(filter(None, (name, raw)))}> was not closed.", file, start)
    return tuple(top)
