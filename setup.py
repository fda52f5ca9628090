"""The optional C parts of geows: its httpd runtime for C plugins
(geows/plugin/httpd_runtime), built against httpd 2.4's and APR's headers (Debian:
apache2-dev, libapr1-dev, libaprutil1-dev) and linked with libapr-1 and libaprutil-1.
Without them `pip install .` still installs geows, warning that the runtime was not
built; a C plugin that needs it is then refused, naming the packages (README, C plugins).
And geows.plugin._c_inline, the fast path of C plugins' calls on the event loop, and
geows.protocols._frames, RFC 6455's per-frame work in C (geows/protocols/frames.py). Both
need only a C compiler; without one, geows runs their pure-Python paths.
Everything else about the package is in setup.cfg."""

from pathlib import Path

from setuptools import Extension, setup

SOURCES = sorted(str(path) for path in Path("geows/plugin/httpd_runtime").glob("*.c"))

# A shared library geows loads with ctypes (RTLD_GLOBAL, before any plugin), not a
# Python module: built as an extension for the wheel's platform tag and pip's build.
RUNTIME = Extension(
    "geows.plugin._httpd_runtime",
    sources=SOURCES,
    depends=[str(path) for path in Path("geows/plugin/httpd_runtime").glob("*.[hd]*")],
    include_dirs=["/usr/include/apache2", "/usr/include/apr-1.0"],
    define_macros=[("LINUX", None), ("_REENTRANT", None), ("_GNU_SOURCE", None)],
    libraries=["apr-1", "aprutil-1"],
    extra_compile_args=["-pthread", "-Wall", "-Wextra"],
    optional=True,
)

# A Python module: a C plugin's on_message called on the event loop without ctypes
# (geows.plugin.c_loader); without it the same calls go through ctypes, slower.
INLINE = Extension(
    "geows.plugin._c_inline",
    sources=["geows/plugin/c_inline/c_inline.c"],
    extra_compile_args=["-Wall", "-Wextra"],
    optional=True,
)

# A Python module: the short path's frames cut, unmasked and framed in C; without it
# geows.protocols.frames does the same in Python, slower.
FRAMES = Extension(
    "geows.protocols._frames",
    sources=["geows/protocols/_frames.c"],
    extra_compile_args=["-Wall", "-Wextra"],
    optional=True,
)

setup(ext_modules=[RUNTIME, INLINE, FRAMES])
