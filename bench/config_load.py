"""Time geows' config reader on a config with 10,000 <Location> sections, beside
apacheconfig's own time for the same files.

Usage: python bench/config_load.py [--sections N] [--runs R]
The config: plain and regex sections, a quarter of them in nested Include files
(conf.d/*.conf, each including a file of its own), with WebSocket handlers on some.
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from geows.config import load_config
from geows.config.model import location_matcher

TARGET = 0.3  # seconds, issue 4


def section(n: int, regex: bool = True) -> str:
    if n % 3 == 0 and regex:
        return (f'<LocationMatch "^/m{n}/(?<room>[a-z]+)$">\n  SetHandler websocket-handler\n'
                f"  WebSocketHandler plugins/echo.py echo_init\n  MaxMessageSize {n + 1}\n"
                "</LocationMatch>\n")
    if n % 3 == 1 or not regex:
        return (f"<Location /p{n}>\n  SetHandler websocket-handler\n"
                f"  WebSocketHandler plugins/echo.py echo_init\n</Location>\n")
    return f'<Location ~ "^/r{n}/x">\n  Header set X-N {n}\n  SetHandler None\n</Location>\n'


def write_config(root: Path, sections: int, regex: bool = True) -> Path:
    """Three quarters in httpd.conf, the rest in conf.d/NNN.conf, each of which includes
    a nested file of its own."""
    inline = sections * 3 // 4
    files = 50
    (root / "conf.d" / "nested").mkdir(parents=True)
    main = ["Listen 127.0.0.1:8080", "ServerName bench.test",
            "LoadModule headers_module modules/mod_headers.so", "Include conf.d/*.conf"]
    main += [section(n, regex) for n in range(inline)]
    (root / "httpd.conf").write_text("\n".join(main))
    rest = list(range(inline, sections))
    for f in range(files):
        mine = rest[f::files]
        half = len(mine) // 2
        (root / "conf.d" / f"{f:03}.conf").write_text(
            f"Include conf.d/nested/{f:03}.inc\n" + "".join(section(n, regex) for n in mine[:half]))
        (root / "conf.d" / "nested" / f"{f:03}.inc").write_text(
            "".join(section(n, regex) for n in mine[half:]))
    return root / "httpd.conf"


def cold_load(conf: Path, root: Path) -> object:
    """load_config as a fresh process runs it: without the compiled patterns of a run before."""
    location_matcher.cache_clear()
    return load_config(conf, server_root=root)


def compile_regexes(patterns: list[str]) -> None:
    """What compiling the config's regexes costs alone: the floor of a cold load, since a
    bad regex must be refused at load time, as httpd -t does."""
    re.purge()
    for pattern in patterns:
        location_matcher.__wrapped__(pattern, True)


def best_of(runs: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def apacheconfig_load(root: Path) -> Callable[[], object] | None:
    try:
        from apacheconfig import flavors, make_loader
    except ImportError:
        return None

    def work() -> object:
        options = dict(flavors.NATIVE_APACHE, configroot=str(root), includerelative=True)
        with make_loader(writable=True, **options) as loader:
            return loader.load(str(root / "httpd.conf"))
    return work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--plain", action="store_true",
                        help="plain <Location> sections only, to see what regexes cost")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        conf = write_config(root, args.sections, regex=not args.plain)
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
        config = load_config(conf, server_root=root)
        assert len(config.locations) == args.sections, len(config.locations)
        geows = best_of(args.runs, lambda: cold_load(conf, root))
        patterns = sorted({s.pattern for s in config.locations if s.regex})
        regexes = best_of(args.runs, lambda: compile_regexes(patterns))
        other = apacheconfig_load(root)
        theirs = best_of(max(1, args.runs // 2), other) if other else None
    kind = "plain" if args.plain else "2/3 regex"
    print(f"{args.sections} sections ({kind}), {size / 1e6:.1f} MB in {1 + 2 * 50} files, "
          f"best of {args.runs} (Python {os.sys.version.split()[0]})")
    print(f"| reader | seconds | target {TARGET} s |")
    print("|---|---|---|")
    print(f"| geows load_config | {geows:.3f} | {'met' if geows <= TARGET else 'MISSED'} |")
    if patterns:
        print(f"| (of which compiling its {len(patterns)} regexes alone) | {regexes:.3f} | |")
    if theirs is not None:
        print(f"| apacheconfig (NATIVE_APACHE, writable) | {theirs:.3f} | |")


if __name__ == "__main__":
    main()
