"""The C plugin bridge in this process (geows.plugin.c_loader, c_calls, elf, c_runtime):
real test plugins (tests/c_plugins, plugins/c) built with cc once per session, loaded
through ctypes beside geows' real httpd runtime, so that a mutation run
(tests/mutation.sh) sees every call the tests make, which a CLI subprocess hides.

Each library built is kept in a cache by what went into it (its source, the headers beside
it and in plugins/c, the compiler's command): a mutation run starts a pytest session per
mutant, which would otherwise compile them all again each time."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.geows_process import missing_tool
from tests.test_c_plugins import CC, CFLAGS, SHIPPED, TEST_SOURCES, build_httpd_runtime
from tests.test_httpd_runtime import HTTPD_CFLAGS

# Each library and what its build adds to CFLAGS.
LIBRARIES = {
    "echo": (SHIPPED / "echo.c", []),
    "test_plugins": (TEST_SOURCES / "test_plugins.c", []),
    "rooms": (TEST_SOURCES / "rooms.c", []),
    "undefined": (TEST_SOURCES / "undefined.c", []),
    "sleeper": (TEST_SOURCES / "sleeper.c", []),
    "spinner": (TEST_SOURCES / "spinner.c", []),
    "waiter": (TEST_SOURCES / "waiter.c", []),
    "request_rec": (TEST_SOURCES / "request_rec.c", HTTPD_CFLAGS),
    "missing_ap": (TEST_SOURCES / "missing_ap.c", HTTPD_CFLAGS),
}


CACHE = Path(tempfile.gettempdir()) / f"geows-c-bridge-{os.getuid()}"


def _key(source: Path, command: list[str]) -> str:
    digest = hashlib.sha256("\0".join(command).encode())
    for path in [source, *sorted(SHIPPED.glob("*.h")), *sorted(source.parent.glob("*.h"))]:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def build(out: Path, libraries: dict[str, tuple[Path, list[str]]]) -> None:
    """Build each library (name: its source and what it adds to CFLAGS) at once, into
    out/NAME.so, or copy it from the cache."""
    if CC is None:
        missing_tool("no C compiler, cc (apt-get install gcc libc6-dev)")
    CACHE.mkdir(exist_ok=True)
    builds = []
    for name, (source, flags) in libraries.items():
        cached = CACHE / f"{_key(source, [CC, *CFLAGS, str(source), *flags])}.so"
        if not cached.exists():
            made = CACHE / f"{cached.stem}.{os.getpid()}.tmp"
            builds.append((name, made, cached, subprocess.Popen(
                [CC, *CFLAGS, "-o", str(made), str(source), *flags],
                stderr=subprocess.PIPE, text=True)))
    for name, made, cached, running in builds:
        _, errors = running.communicate(timeout=120)
        assert running.returncode == 0, f"cc {name} failed:\n{errors}"
        os.replace(made, cached)   # whole, or not there: another session may read it
    for name, (source, flags) in libraries.items():
        cached = CACHE / f"{_key(source, [CC, *CFLAGS, str(source), *flags])}.so"
        shutil.copyfile(cached, out / f"{name}.so.tmp")
        os.replace(out / f"{name}.so.tmp", out / f"{name}.so")


def built_once(name: str, libraries: dict[str, tuple[Path, list[str]]]) -> Path:
    """A directory of the cache holding these libraries, the same for every session that
    asks for the same: a process that runs the tests twice (mutmut's runs its statistics
    and clean run in one) loads each library from one path, once. Two copies of one
    library loaded RTLD_GLOBAL would share the first's exported symbols."""
    digest = hashlib.sha256()
    for library, (source, flags) in sorted(libraries.items()):
        digest.update(f"{library}\0{source}\0{flags}\0".encode())
        digest.update(source.read_bytes())
    out = CACHE / f"{name}-{digest.hexdigest()[:16]}"
    out.mkdir(parents=True, exist_ok=True)
    build(out, {library: how for library, how in libraries.items()
                if not (out / f"{library}.so").exists()})
    return out


@pytest.fixture(scope="session")
def c_build() -> Path:
    """geows' httpd runtime built in place, and every library above in one directory."""
    build_httpd_runtime()
    return built_once("plugins", LIBRARIES)
