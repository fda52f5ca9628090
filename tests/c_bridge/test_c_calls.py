"""geows.plugin.c_calls on names, and on the undefined symbols of real plugins: which
libraries may be called on the event loop."""

from __future__ import annotations

from pathlib import Path

from geows.plugin.c_calls import NEVER_WAITS, may_wait
from geows.plugin.elf import dynamic_needs


def test_the_names_that_may_wait_in_their_order() -> None:
    names = ["malloc", "usleep", "strlen", "pthread_mutex_lock", "apr_palloc",
             "not_known_here", "ap_log_rerror_", "usleep"]
    assert may_wait(names) == ["usleep", "pthread_mutex_lock", "not_known_here", "usleep"]
    assert may_wait(iter(sorted(NEVER_WAITS))) == []
    assert may_wait([]) == []


def test_real_plugins_imports(c_build: Path) -> None:
    def waits(name: str) -> list[str]:
        return may_wait(dynamic_needs((c_build / f"{name}.so").read_bytes()).symbols)

    assert waits("echo") == []
    assert waits("sleeper") == ["usleep"]
    assert "pthread_create" in waits("test_plugins")
