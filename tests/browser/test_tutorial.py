"""docs/tutorial.md, as a reader does it: in a copy of this checkout, every file it shows
written and every command it shows run (the install into a fresh .venv included, from
PyPI as the reader's would be), each output checked against the page; then its browser
step: examples/client.html in headless Chromium, talking to the plugin the page wrote."""

from __future__ import annotations

import os
import re
import shutil

from tests.browser import run_client_page
from tests.doc_commands import Reader, steps
from tests.geows_process import REPO, free_port

PAGE = REPO / "docs/tutorial.md"
# What the reader's copy of geows holds: enough to install it and serve conf/httpd.conf.
SOURCES = ("geows", "plugins", "conf", "examples", "setup.cfg", "setup.py", "pyproject.toml",
           "README.md", "LICENSE")


def test_the_tutorial_runs_as_written(node, tmp_path):
    page = PAGE.read_text()
    todo = steps(page)
    assert [step.kind for step in todo].count("server") == 2 and len(todo) > 10
    for name in SOURCES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.so"))
        else:
            shutil.copy(source, tmp_path / name)
    port = free_port()
    (tmp_path / "conf/httpd.conf").write_text(
        (tmp_path / "conf/httpd.conf").read_text().replace(":8080", f":{port}"))
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "VIRTUAL_ENV")}  # the reader's own .venv, nothing else
    reader = Reader(tmp_path, env, {":8080": f":{port}"}, port)
    try:
        for step in todo:
            reader.run(step)

        # "See it in a browser": the page's message and the answer it says the page shows
        message = re.search(r"type `([^`]+)` and\s+press \*\*Send\*\*", page)[1]
        answer = " ".join(re.search(r"the page shows `received: ([^`]+)`", page)[1].split())
        result, stderr = run_client_page(node, f"ws://127.0.0.1:{port}/lookup", message,
                                         expect=answer)
        assert result["ok"] and result["received"] == [answer], (result, stderr)
    finally:
        reader.stop_server()
