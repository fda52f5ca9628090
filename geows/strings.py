"""Strings that many connections hold alike, kept once per process."""

from __future__ import annotations

from geows import limits

_SHARED: dict[str, str] = {}


def shared(text: str) -> str:
    """The process's one copy of `text`, if it keeps one (limits.SHARED_STRINGS of at most
    limits.SHARED_STRING_MAX characters, the first seen), else `text` itself: bounded, as
    clients choose them, where sys.intern is not everywhere (CPython 3.12.0-3.12.4 never
    freed an interned string)."""
    kept = _SHARED.get(text)
    if kept is not None:
        return kept
    if len(_SHARED) < limits.SHARED_STRINGS and len(text) <= limits.SHARED_STRING_MAX:
        _SHARED[text] = text
    return text
