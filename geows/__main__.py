"""The `geows` command's entry point: `python -m geows`, and setup.cfg's console script.

Monkeypatching comes first, before anything imports socket or threading and before any
plugin loads, so that plugins' blocking calls cooperate.
"""

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402

from geows.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
