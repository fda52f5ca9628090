"""The PidFile, as httpd keeps it, and what the master notes beside it for `geows -t`
(its generation's worker slots that cannot start): a geows running on a config is found
through the files the config names."""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

logger = logging.getLogger("geows.main")


def write(path: str) -> tuple[bool, str | None]:
    """Write this process' pid to the PidFile at `path`: whether it was written, and why
    geows must not start (it names a geows still running, or cannot be written). One that
    names another live program (Apache, on a config both read) is left alone, with a
    warning: `apachectl` must not signal geows."""
    try:
        with open(path) as file:
            old = int(file.read().strip() or 0)
    except (OSError, ValueError):
        old = 0
    if old and old != os.getpid() and _alive(old):
        if is_geows(old):
            return False, f"PidFile {path} names geows pid {old}, still running"
        logger.warning("PidFile %s names pid %d (%s), still running: not overwriting it, "
                       "so geows -k cannot find this geows", path, old, _program(old))
        return False, None
    if old:
        logger.warning("PidFile %s overwritten -- unclean shutdown of previous run?", path)
    try:
        with open(path, "w") as file:
            file.write(f"{os.getpid()}\n")
    except OSError as exc:
        return False, f"could not write PidFile {path}: {exc.strerror}"
    return True, None


def remove(path: str) -> None:
    """Remove the PidFile and the notes beside it if it still names this process (Apache,
    on a config both read, may have written its own since)."""
    try:
        with open(path) as file:
            if file.read().strip() == str(os.getpid()):
                os.unlink(path)
                os.unlink(_slots_file(path))
    except OSError:
        pass  # never written, or removed by someone else: nothing to clean


def note_empty_slots(path: str, slots: list[dict[str, Any]]) -> None:
    """Note the serving generation's empty slots beside the PidFile at `path`, replacing
    the last note whole."""
    notes = _slots_file(path)
    try:
        with open(notes + ".new", "w") as file:
            json.dump(slots, file)
        os.replace(notes + ".new", notes)
    except OSError as exc:
        logger.warning("could not write %s: %s", notes, exc.strerror)


def empty_slots_of(path: str) -> tuple[int, list[dict[str, Any]]]:
    """The pid of the geows the PidFile at `path` names, and its generation's empty slots;
    (0, []) when no geows runs with it."""
    try:
        with open(path) as file:
            pid = int(file.read().strip())
        if not is_geows(pid):
            return 0, []
        with open(_slots_file(path)) as file:
            return pid, json.load(file)
    except (OSError, ValueError):
        return 0, []


def is_geows(pid: int) -> bool:
    """Whether the process is a geows master: this Python, running geows (not a worker)."""
    try:
        same_python = os.path.realpath(f"/proc/{pid}/exe") == os.path.realpath(sys.executable)
        with open(f"/proc/{pid}/cmdline", "rb") as file:
            words = file.read().split(b"\0")
    except OSError:
        return False
    return same_python and any(word.endswith((b"geows", b"geows.cli")) for word in words[1:3])


def _slots_file(path: str) -> str:
    return path + ".slots"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _program(pid: int) -> str:
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return "?"
