"""OS threads for plugin calls that block without yielding to gevent.

Monkeypatching makes sleeps, sockets and subprocesses cooperate, but code that
blocks inside C (sqlite3, a database driver's C library, heavy hashing) holds
the whole process. `run_in_thread` runs such a call in an OS thread and
suspends only the calling greenlet:

    rows = run_in_thread(cursor.execute, "SELECT ...")
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from geows import limits

if TYPE_CHECKING:
    from gevent.threadpool import ThreadPool

T = TypeVar("T")

_pool: ThreadPool | None = None


def run_in_thread(func: Callable[..., T], /, *args, **kwargs) -> T:
    """Call ``func(*args, **kwargs)`` in an OS thread; return its result or raise
    its exception in the calling greenlet. Call it from a greenlet (the hub's
    thread), not from an OS thread of your own."""
    global _pool
    if _pool is None:  # created on first use, in the hub's thread
        # gevent is imported here, in the server, so that `from geows.plugin import
        # run_in_thread` loads no gevent (docs/explanation/layout.md).
        from gevent.threadpool import ThreadPool

        _pool = ThreadPool(limits.PLUGIN_THREADS,
                           idle_task_timeout=limits.PLUGIN_THREAD_IDLE_TIMEOUT)
    return _pool.apply(func, args, kwargs)


def wait_for_threads(timeout: float) -> bool:
    """Wait up to `timeout` seconds for the calls running in threads to return (at
    shutdown, before plugins are destroyed); False if some still run."""
    if _pool is None:
        return True
    import gevent  # loaded already: a pool was made

    with gevent.Timeout(timeout, False):
        _pool.join()
        return True
    return False
